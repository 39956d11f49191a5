package batches

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/zinc-edu/orchestrator/workflows"
)

// ErrUnavailable reports that Temporal could not be reached: the request may
// succeed if retried later (the API answers 503 with Retry-After).
var ErrUnavailable = errors.New("temporal is unavailable")

// temporalCallTimeout bounds one Temporal call made while serving a read:
// the SDK retries an unreachable server until its context ends.
const temporalCallTimeout = 10 * time.Second

// staleAfter is how old a running batch's progress row may be before the
// batch is checked with Temporal: a workflow writes it every few seconds
// while outcomes arrive, and a terminated one never writes again.
const staleAfter = 30 * time.Second

// startingProgress stores the progress row of a batch about to start, so
// that readers polling it right away are served from the store until the
// workflow writes its own, rather than each asking Temporal. Partitioned
// batches keep rows of another shape and are left to their workflow. The
// row is best effort: without it reads fall back to Temporal.
func (s *Service) startingProgress(ctx context.Context, id string, in workflows.BatchGradingInput) {
	if in.PartitionSize > 0 {
		return
	}
	concurrency := in.Concurrency
	if concurrency == 0 {
		concurrency = workflows.DefaultConcurrency
	}
	s.storeProgress(ctx, id, workflows.Progress{Concurrency: concurrency}, "starting progress not recorded")
}

// storeProgress writes p as the batch's progress row, best effort: a
// failure is logged as what and reads fall back to Temporal.
func (s *Service) storeProgress(ctx context.Context, id string, p workflows.Progress, what string) {
	doc, err := json.Marshal(p)
	if err == nil {
		err = s.store.SetBatchProgress(ctx, id, doc)
	}
	if err != nil {
		s.log.WarnContext(ctx, what, "batch_id", id, "err", err)
	}
}

// keptProgress returns the progress row of a running batch when there is a
// fresh one. A partitioned batch's row counts finished partitions only, so
// it is completed by querying the running partition (progress).
func (s *Service) keptProgress(ctx context.Context, id string) (workflows.Progress, bool) {
	doc, at, err := s.store.BatchProgress(ctx, id)
	if err != nil || time.Since(at) > staleAfter {
		return workflows.Progress{}, false
	}
	var p workflows.Progress
	if err := json.Unmarshal(doc, &p); err != nil {
		s.log.WarnContext(ctx, "unreadable batch progress row", "batch_id", id, "err", err)
		return workflows.Progress{}, false
	}
	if p.Partition != "" {
		return workflows.Progress{}, false
	}
	return p, true
}

// unavailable marks err as ErrUnavailable when it says Temporal could not
// be reached in time, rather than that it refused the call.
func unavailable(err error) error {
	var (
		down     *serviceerror.Unavailable
		deadline *serviceerror.DeadlineExceeded
	)
	if errors.As(err, &down) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return errors.Join(ErrUnavailable, err)
	}
	return err
}
