package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
	"github.com/zinc-edu/orchestrator/workflows"
)

// endlessEngine grades at once every delivery but one holding a file named
// "endless": that one's commands all run to their time limits, so its
// grading outlasts any bound, as a student whose every test loops forever
// makes it do when the config has many long tests.
type endlessEngine struct {
	mu      sync.Mutex
	endless int
}

func (e *endlessEngine) Run(ctx context.Context, _ *definition.Definition, in engine.Input) (engine.Report, error) {
	if _, err := os.Stat(filepath.Join(in.ScratchDir, "endless")); errors.Is(err, fs.ErrNotExist) {
		return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 2, MaxScore: 2}}, nil
	}
	e.mu.Lock()
	e.endless++
	e.mu.Unlock()
	<-ctx.Done()
	return engine.Report{}, ctx.Err()
}

func (e *endlessEngine) runs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.endless
}

// TestHostileEndlessDeliveryCostsOnlyItsOwnGrade: a delivery whose grading
// outlasts its time bound must end with an error result of its own, be
// graded once (every retry would only spend the same time again), and
// leave the deliveries sharing its chunk graded.
func TestHostileEndlessDeliveryCostsOnlyItsOwnGrade(t *testing.T) {
	for _, chunk := range []int{1, 3} {
		t.Run(map[int]string{1: "one per activity", 3: "chunked"}[chunk], func(t *testing.T) {
			ctx := context.Background()
			bucket := memblob.OpenBucket(nil)
			t.Cleanup(func() { _ = bucket.Close() })
			refs := []workflows.DeliveryRef{{ID: "d1", User: "user-d1"}, {ID: "d2", User: "user-d2"}, {ID: "d3", User: "user-d3"}}
			for _, d := range refs {
				name := "main.c"
				if d.ID == "d2" {
					name = "endless"
				}
				var buf bytes.Buffer
				_, err := archive.Pack(&buf, []archive.File{{Name: name, Data: []byte("x")}}, archive.Limits{})
				require.NoError(t, err)
				require.NoError(t, bucket.WriteAll(ctx, "deliveries/"+d.ID, buf.Bytes(), &blob.WriterOptions{}))
			}
			st := &fakeStore{configs: map[string]grading.Config{"cfg": {ID: "cfg", Name: "t", Source: oneStage}}}
			eng := &endlessEngine{}
			log := slog.New(slog.DiscardHandler)
			acts := NewActivities(NewGrader(st, bucket, eng, outbox.NewEncoder(propagation.TraceContext{}), log).WithScratch(t.TempDir()), log)

			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.SetTestTimeout(2 * time.Minute)
			env.RegisterWorkflowWithOptions(workflows.BatchGrading, workflow.RegisterOptions{Name: workflows.BatchGradingName})
			env.RegisterActivity(acts)
			env.RegisterActivityWithOptions(func(context.Context, workflows.LatestDeliveriesInput) (workflows.LatestDeliveriesResult, error) {
				return workflows.LatestDeliveriesResult{Deliveries: refs, Done: true, Total: len(refs)}, nil
			}, activity.RegisterOptions{Name: workflows.GetCollectionLatestDeliveriesName})
			env.RegisterActivityWithOptions(func(context.Context, workflows.RecordBatchOutcomeInput) error { return nil },
				activity.RegisterOptions{Name: workflows.RecordBatchOutcomeName})
			env.RegisterActivityWithOptions(func(context.Context, workflows.RecordBatchProgressInput) error { return nil },
				activity.RegisterOptions{Name: workflows.RecordBatchProgressName})
			env.OnActivity(workflows.RecordBatchProgressName, mock.Anything, mock.Anything).Return(nil).Maybe()

			env.ExecuteWorkflow(workflows.BatchGradingName, workflows.BatchGradingInput{
				BatchID: "b", CollectionID: "c", ConfigID: "cfg", ChunkSize: chunk, Concurrency: 1,
				PipelineTimeout: 3 * time.Second,
				Queues:          workflows.QueuesFor(func(s string) string { return "zinc-" + s }, ""),
			})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var res workflows.BatchGradingResult
			require.NoError(t, env.GetWorkflowResult(&res))

			assert.Equal(t, 1, eng.runs(), "the endless delivery is graded once, not once per attempt")
			assert.Equal(t, grading.Counts{Graded: 2, Error: 1}, res.Summary.Counts, "%+v", res.Summary)
			if assert.Len(t, res.Summary.Failures, 1) {
				assert.Equal(t, "d2", res.Summary.Failures[0].DeliveryID)
				assert.Contains(t, res.Summary.Failures[0].Reason, "longer than")
			}
			r, err := st.Result(ctx, "d2", "cfg")
			if assert.NoError(t, err, "the endless delivery has a result row saying why it has no grade") {
				assert.Equal(t, grading.StatusError, r.Status)
				assert.Contains(t, r.Diagnostic, "longer than")
			}
		})
	}
}

// TestStepOutputsReachObjectStorageAsTheyAreJudged: outputs handed over by
// the engine during the run are stored under the step keys.
func TestStepOutputsReachObjectStorageAsTheyAreJudged(t *testing.T) {
	ctx := context.Background()
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bucket.Close() })
	var buf bytes.Buffer
	_, err := archive.Pack(&buf, []archive.File{{Name: "main.c", Data: []byte("x")}}, archive.Limits{})
	require.NoError(t, err)
	require.NoError(t, bucket.WriteAll(ctx, "deliveries/d1", buf.Bytes(), nil))
	st := &fakeStore{configs: map[string]grading.Config{"cfg": {ID: "cfg", Name: "t", Source: oneStage}}}
	eng := engine.New(sandboxFunc(func(context.Context, sandbox.Spec) (sandbox.Result, error) {
		return sandbox.Result{Stdout: []byte("out"), Stderr: []byte("err")}, nil
	}), slog.New(slog.DiscardHandler))
	g := NewGrader(st, bucket, eng, outbox.NewEncoder(propagation.TraceContext{}), slog.New(slog.DiscardHandler)).WithScratch(t.TempDir())

	out, err := g.Grade(ctx, "b", "cfg", workflows.DeliveryRef{ID: "d1", User: "u"})
	require.NoError(t, err)
	require.Equal(t, grading.StatusGraded, out.Status)
	for stream, want := range map[string]string{"stdout": "out", "stderr": "err"} {
		got, err := bucket.ReadAll(ctx, objectstore.StepKey("d1", "b", "run", "", stream))
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
}

type sandboxFunc func(context.Context, sandbox.Spec) (sandbox.Result, error)

func (f sandboxFunc) Run(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error) {
	return f(ctx, spec)
}
