package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/workflows"
)

// outageStore is a fakeStore whose calls fail as a database outage does
// until the outage is over.
type outageStore struct {
	*fakeStore
	mu       sync.Mutex
	failures int // calls still to fail
	calls    int
}

var errConnRefused = errors.New("failed to connect to `host=127.0.0.1`: dial tcp 127.0.0.1:5432: connect: connection refused")

func (o *outageStore) down() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.failures > 0 {
		o.failures--
		return errConnRefused
	}
	return nil
}

func (o *outageStore) Delivery(ctx context.Context, id string) (grading.Delivery, error) {
	if err := o.down(); err != nil {
		return grading.Delivery{}, err
	}
	return o.fakeStore.Delivery(ctx, id)
}

func (o *outageStore) SaveResultAnnounced(ctx context.Context, r grading.Result, announce store.Announce[grading.Result]) (grading.Result, error) {
	if err := o.down(); err != nil {
		return grading.Result{}, fmt.Errorf("save result: %w", err)
	}
	return o.fakeStore.SaveResultAnnounced(ctx, r, announce)
}

func outageActivities(t *testing.T, failures int, retryFor time.Duration) (*Activities, *outageStore, *countingEngine) {
	t.Helper()
	a, fs, r := newTestActivities(t, "d1")
	st := &outageStore{fakeStore: fs, failures: failures}
	a.grader.store = st
	a.grader.infraRetry = retryFor
	return a, st, r
}

// TestDatabaseOutageIsRetriedInsideTheAttempt: store calls failing for a
// while are retried within one activity attempt, so the delivery is graded
// once, by the first attempt, with one result row.
func TestDatabaseOutageIsRetriedInsideTheAttempt(t *testing.T) {
	a, st, r := outageActivities(t, 4, time.Minute)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	v, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{
		BatchID: "b", ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "d1"},
	})
	require.NoError(t, err)
	var out grading.Outcome
	require.NoError(t, v.Get(&out))
	require.Equal(t, grading.StatusGraded, out.Status)
	require.Equal(t, 1, r.calls, "the pipeline ran once")
	require.Len(t, st.saved, 1, "one result row")
	require.Equal(t, 6, st.calls, "four failed calls, then the delivery and the save")
}

// TestOutageLongerThanTheRetryIsTransient: an outage outlasting the retry
// fails the attempt as retryable, with a short reason naming the call.
func TestOutageLongerThanTheRetryIsTransient(t *testing.T) {
	a, _, r := outageActivities(t, 1000, 700*time.Millisecond)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	_, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{
		BatchID: "b", ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "d1"},
	})
	var app *sdktemporal.ApplicationError
	require.True(t, errors.As(err, &app), "got %v", err)
	require.Equal(t, workflows.ErrTypeTransient, app.Type())
	require.False(t, app.NonRetryable())
	require.Equal(t, "get delivery d1: "+errConnRefused.Error(), app.Message())
	require.Zero(t, r.calls)
}
