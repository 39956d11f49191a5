package pipeline

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeat reports an activity alive on a ticker, so one long stage does not
// look like a lost worker, and lets the server deliver cancellation.
type heartbeat struct {
	ctx     context.Context
	details func() any
	done    chan struct{}
	wg      sync.WaitGroup
}

// startHeartbeat beats every heartbeatEvery until stop; details, when not
// nil, gives what each beat records.
func startHeartbeat(ctx context.Context, details func() any) *heartbeat {
	h := &heartbeat{ctx: ctx, details: details, done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.beat()
			}
		}
	}()
	return h
}

func (h *heartbeat) beat() {
	if h.details == nil {
		activity.RecordHeartbeat(h.ctx)
		return
	}
	activity.RecordHeartbeat(h.ctx, h.details())
}

// stop ends the ticker and waits for it.
func (h *heartbeat) stop() {
	close(h.done)
	h.wg.Wait()
}
