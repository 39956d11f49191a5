package devstack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zinc-edu/orchestrator/internal/supervise"
)

const (
	// pollInterval paces readiness probes: short, because every tick is
	// start-up latency for a developer or a test.
	pollInterval = 50 * time.Millisecond
	// probeTimeout bounds one probe so a hung RPC cannot eat the caller's
	// whole deadline.
	probeTimeout = 2 * time.Second
)

// permanentError marks a probe failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// permanent makes poll give up at once with err.
func permanent(err error) error { return permanentError{err: err} }

// poll calls probe until it succeeds, fails permanently, or ctx ends; on ctx's
// end it reports the last probe error too, since that is what a developer
// needs to see.
func poll(ctx context.Context, probe func(context.Context) error) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		var p permanentError
		if errors.As(err, &p) {
			return p.err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %w)", context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// getOK is a probe that succeeds when url answers 200.
func getOK(url string) func(context.Context) error {
	return func(ctx context.Context) error { return supervise.ProbeHTTP(ctx, url) }
}
