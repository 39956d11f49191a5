package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/workflows"
)

const oneStage = "version: 1\nname: t\nstages:\n  - {name: run, command: [\"true\"], points: 2}\n"

type fakeStore struct {
	mu      sync.Mutex
	configs map[string]grading.Config
	saved   []grading.Result
}

func (f *fakeStore) Config(_ context.Context, id string) (grading.Config, error) {
	c, ok := f.configs[id]
	if !ok {
		return grading.Config{}, fmt.Errorf("config %s: %w", id, grading.ErrNotFound)
	}
	return c, nil
}

func (f *fakeStore) Delivery(_ context.Context, id string) (grading.Delivery, error) {
	if id == "gone" {
		return grading.Delivery{}, fmt.Errorf("delivery %s: %w", id, grading.ErrNotFound)
	}
	return grading.Delivery{ID: id, User: "user-" + id, ObjectKey: "deliveries/" + id}, nil
}

func (f *fakeStore) SaveResultAnnounced(_ context.Context, r grading.Result, _ store.Announce[grading.Result]) (grading.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, r)
	r.Attempt = 1
	return r, nil
}

// Result is the last result saved for the pair.
func (f *fakeStore) Result(_ context.Context, deliveryID, configID string) (grading.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.saved) - 1; i >= 0; i-- {
		if r := f.saved[i]; r.DeliveryID == deliveryID && r.ConfigID == configID {
			return r, nil
		}
	}
	return grading.Result{}, fmt.Errorf("result of %s: %w", deliveryID, grading.ErrNotFound)
}

type countingEngine struct {
	mu    sync.Mutex
	calls int
}

func (c *countingEngine) Run(context.Context, *definition.Definition, engine.Input) (engine.Report, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 2, MaxScore: 2}}, nil
}

func newTestActivities(t *testing.T, ids ...string) (*Activities, *fakeStore, *countingEngine) {
	t.Helper()
	ctx := context.Background()
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bucket.Close() })
	for _, id := range ids {
		var buf bytes.Buffer
		_, err := archive.Pack(&buf, []archive.File{{Name: "main.c", Data: []byte("int main(){}")}}, archive.Limits{})
		require.NoError(t, err)
		require.NoError(t, bucket.WriteAll(ctx, "deliveries/"+id, buf.Bytes(), &blob.WriterOptions{}))
	}
	fs := &fakeStore{configs: map[string]grading.Config{"cfg": {ID: "cfg", Name: "t", Source: oneStage}, "bad": {ID: "bad", Source: "version: 9"}}}
	r := &countingEngine{}
	log := slog.New(slog.DiscardHandler)
	return NewActivities(NewGrader(fs, bucket, r, outbox.NewEncoder(propagation.TraceContext{}), log), log), fs, r
}

func TestExecutePipelinesResumesAfterHeartbeatedDeliveries(t *testing.T) {
	a, fs, r := newTestActivities(t, "d1", "d2", "d3")
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	done := grading.Outcome{DeliveryID: "d1", User: "user-d1", Status: grading.StatusGraded, Score: 2, MaxScore: 2}
	env.SetHeartbeatDetails(chunkProgress{Outcomes: []grading.Outcome{done}})

	v, err := env.ExecuteActivity(workflows.ExecutePipelinesName, workflows.ExecutePipelinesInput{
		BatchID: "b", ConfigID: "cfg",
		Deliveries: []workflows.DeliveryRef{{ID: "d1", User: "user-d1"}, {ID: "d2", User: "user-d2"}, {ID: "d3", User: "user-d3"}},
	})
	require.NoError(t, err)
	var res workflows.ExecutePipelinesResult
	require.NoError(t, v.Get(&res))
	require.Len(t, res.Outcomes, 3)
	require.Equal(t, done, res.Outcomes[0])
	require.Equal(t, 2, r.calls, "the heartbeated delivery is not graded again")
	require.Len(t, fs.saved, 2)
	for _, o := range res.Outcomes {
		require.Equal(t, grading.StatusGraded, o.Status)
	}
}

// TestResultSavedByTheBatchIsNotGradedAgain: a worker that died after
// saving a result and before completing its activity leaves the retry
// nothing to grade and nothing to announce; another batch grades again.
func TestResultSavedByTheBatchIsNotGradedAgain(t *testing.T) {
	a, fs, r := newTestActivities(t, "d1")
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	grade := func(batch string) grading.Outcome {
		v, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{
			BatchID: batch, ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "d1", User: "user-d1"},
		})
		require.NoError(t, err)
		var out grading.Outcome
		require.NoError(t, v.Get(&out))
		return out
	}

	first := grade("b1")
	again := grade("b1")
	require.Equal(t, 1, r.calls, "graded once for the batch")
	require.Len(t, fs.saved, 1, "saved and announced once")
	require.Equal(t, grading.StatusGraded, again.Status)
	require.Equal(t, first.Score, again.Score)

	grade("b2")
	require.Equal(t, 2, r.calls, "another batch grades again")
	require.Len(t, fs.saved, 2)
}

func TestBusinessFailuresAreNotRetried(t *testing.T) {
	tests := []struct {
		name     string
		give     workflows.ExecutePipelineInput
		wantType string
	}{
		{"unknown config", workflows.ExecutePipelineInput{ConfigID: "nope", Delivery: workflows.DeliveryRef{ID: "d1"}}, workflows.ErrTypeConfigNotFound},
		{"invalid config", workflows.ExecutePipelineInput{ConfigID: "bad", Delivery: workflows.DeliveryRef{ID: "d1"}}, workflows.ErrTypeInvalidConfig},
		{"unknown delivery", workflows.ExecutePipelineInput{ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "gone"}}, workflows.ErrTypeDeliveryNotFound},
		{"missing files", workflows.ExecutePipelineInput{ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "nofiles"}}, workflows.ErrTypeMissingFiles},
		{"no ids", workflows.ExecutePipelineInput{}, workflows.ErrTypeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := newTestActivities(t, "d1")
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(workflows.ExecutePipelineName, tt.give)
			var app *sdktemporal.ApplicationError
			require.True(t, errors.As(err, &app), "got %v", err)
			require.Equal(t, tt.wantType, app.Type())
			require.True(t, app.NonRetryable())
		})
	}
}

func TestMissingFilesLeaveAnErrorRow(t *testing.T) {
	a, fs, _ := newTestActivities(t)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{BatchID: "b", ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "d9"}})
	require.Error(t, err)
	require.Len(t, fs.saved, 1)
	require.Equal(t, grading.StatusError, fs.saved[0].Status)
	require.Contains(t, fs.saved[0].Diagnostic, "not found")
	require.Equal(t, 2.0, fs.saved[0].MaxScore)
}

// inputEngine records the input it is run with.
type inputEngine struct{ in engine.Input }

func (e *inputEngine) Run(_ context.Context, _ *definition.Definition, in engine.Input) (engine.Report, error) {
	e.in = in
	return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 2, MaxScore: 2}}, nil
}

// TestHiddenFilesStayInTheWorkersScratch: hidden files and checker inputs
// are prepared under the worker's scratch area, never the system's
// temporary directory, and removed with the grading.
func TestHiddenFilesStayInTheWorkersScratch(t *testing.T) {
	_, fs, _ := newTestActivities(t, "d1")
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bucket.Close() })
	var buf bytes.Buffer
	_, err := archive.Pack(&buf, []archive.File{{Name: "main.c", Data: []byte("int main(){}")}}, archive.Limits{})
	require.NoError(t, err)
	require.NoError(t, bucket.WriteAll(t.Context(), "deliveries/d1", buf.Bytes(), nil))
	scratch := t.TempDir()
	e := &inputEngine{}
	g := NewGrader(fs, bucket, e, outbox.NewEncoder(propagation.TraceContext{}), slog.New(slog.DiscardHandler)).WithScratch(scratch)

	_, err = g.Grade(t.Context(), "b1", "cfg", workflows.DeliveryRef{ID: "d1", User: "user-d1"})
	require.NoError(t, err)
	require.NotEmpty(t, e.in.PrivateDir)
	assert.Equal(t, scratch, filepath.Dir(e.in.PrivateDir))
	assert.NoDirExists(t, e.in.PrivateDir)
}

// faultyEngine fails a step for the worker's own fault (the sandbox) in
// its first `faults` runs, then grades.
type faultyEngine struct {
	mu     sync.Mutex
	faults int
	calls  int
}

func (f *faultyEngine) Run(context.Context, *definition.Definition, engine.Input) (engine.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.faults {
		return engine.Report{Result: grading.Result{Status: grading.StatusError, MaxScore: 2, Steps: []grading.Step{
			{Stage: "run", State: grading.StepError, Message: "run command: cgroup vanished", Infrastructure: true},
		}}}, nil
	}
	return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 2, MaxScore: 2, Steps: []grading.Step{
		{Stage: "run", State: grading.StepSuccess, Points: 2, MaxPoints: 2},
	}}}, nil
}

// A step the worker failed (sandbox, scratch area) is not the student's
// result: the activity grades the delivery again, and only a fault that
// persists through every run leaves an error result.
func TestInfrastructureFaultsAreGradedAgain(t *testing.T) {
	tests := []struct {
		name       string
		faults     int
		wantStatus grading.ResultStatus
		wantCalls  int
	}{
		{name: "a passing fault", faults: 1, wantStatus: grading.StatusGraded, wantCalls: 2},
		{name: "a fault that persists", faults: 100, wantStatus: grading.StatusError, wantCalls: DefaultInfraRuns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, fs, _ := newTestActivities(t, "d1")
			eng := &faultyEngine{faults: tt.faults}
			a.grader.engine = eng
			a.grader.infraRunDelay = time.Millisecond
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			v, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{
				BatchID: "b", ConfigID: "cfg", Delivery: workflows.DeliveryRef{ID: "d1", User: "user-d1"},
			})
			require.NoError(t, err)
			var out grading.Outcome
			require.NoError(t, v.Get(&out))
			assert.Equal(t, tt.wantStatus, out.Status)
			assert.Equal(t, tt.wantCalls, eng.calls)
			require.Len(t, fs.saved, 1, "one result, saved once")
			assert.Equal(t, tt.wantStatus, fs.saved[0].Status)
		})
	}
}
