package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Infrastructure retry inside one activity attempt. A database, bucket or
// NATS outage lasts seconds to minutes; retrying its calls here, while the
// heartbeat keeps the attempt alive, means an outage never spends the
// activity attempts meant for genuine grading failures. The bound stays
// well inside the default 10-minute attempt timeout.
const (
	DefaultInfraRetry = 5 * time.Minute
	// DefaultInfraRuns is how many times a pipeline is run in all while
	// the worker fails one of its steps (sandbox, scratch area); the waits
	// between runs start at defaultInfraRunDelay and double.
	DefaultInfraRuns     = 3
	defaultInfraRunDelay = 2 * time.Second
	infraInitialInterval = 250 * time.Millisecond
	infraMaxInterval     = 10 * time.Second
)

// permanentErrors are the outcomes of an infrastructure call that retrying
// cannot change: the thing asked for does not exist or is unusable.
var permanentErrors = []error{
	errConfigNotFound, errDeliveryNotFound, errInvalidConfig, errMissingFiles, errInvalidInput, grading.ErrNotFound,
}

func isPermanent(err error) bool {
	for _, target := range permanentErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// infra runs one call to the database or the bucket, retrying any failure
// but a permanent one with exponential backoff until it succeeds, ctx ends,
// or g.infraRetry has passed. Only store and bucket calls go through it:
// errors of the pipeline itself keep Temporal's retry policy.
func infra[T any](ctx context.Context, g *Grader, what string, call func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = infraInitialInterval, infraMaxInterval
	failures := 0
	return backoff.Retry(ctx, func() (T, error) {
		v, err := call()
		if err != nil && isPermanent(err) {
			return v, backoff.Permanent(err)
		}
		return v, err
	},
		backoff.WithBackOff(b),
		backoff.WithMaxElapsedTime(g.infraRetry),
		backoff.WithNotify(func(err error, next time.Duration) {
			failures++
			// The first failure and then every tenth: an outage of minutes
			// should not flood the log.
			if failures == 1 || failures%10 == 0 {
				g.log.WarnContext(ctx, "infrastructure call failed, retrying",
					"call", what, "failures", failures, "retry_in", next, "err", err)
			}
		}),
	)
}

// infraDo is infra for calls without a result.
func infraDo(ctx context.Context, g *Grader, what string, call func() error) error {
	_, err := infra(ctx, g, what, func() (struct{}, error) { return struct{}{}, call() })
	return err
}
