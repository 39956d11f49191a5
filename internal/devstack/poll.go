package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
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
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		// No idle connection outlives the probe, so none outlives the server.
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("get %s: %w", url, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}
