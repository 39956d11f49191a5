package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Placeholders with the contract signatures, registered under the contract
// names so OnActivity can mock them.
func getLatest(context.Context, LatestDeliveriesInput) (LatestDeliveriesResult, error) {
	return LatestDeliveriesResult{}, nil
}
func getConfig(context.Context, GradingConfigInput) (GradingConfigResult, error) {
	return GradingConfigResult{}, nil
}
func executePipeline(context.Context, ExecutePipelineInput) (grading.Outcome, error) {
	return grading.Outcome{}, nil
}
func executePipelines(context.Context, ExecutePipelinesInput) (ExecutePipelinesResult, error) {
	return ExecutePipelinesResult{}, nil
}
func recordOutcome(context.Context, RecordBatchOutcomeInput) error   { return nil }
func recordProgress(context.Context, RecordBatchProgressInput) error { return nil }

type batchSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
}

func TestBatchGrading(t *testing.T) { suite.Run(t, new(batchSuite)) }

func (s *batchSuite) SetupTest() {
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(BatchGrading, workflow.RegisterOptions{Name: BatchGradingName})
	for name, fn := range map[string]any{
		GetCollectionLatestDeliveriesName: getLatest,
		GetGradingConfigName:              getConfig,
		ExecutePipelineName:               executePipeline,
		ExecutePipelinesName:              executePipelines,
		RecordBatchOutcomeName:            recordOutcome,
		RecordBatchProgressName:           recordProgress,
	} {
		s.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

func (s *batchSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func input(collection string) BatchGradingInput {
	return BatchGradingInput{
		BatchID: "b1", CollectionID: collection, ConfigID: "cfg",
		Queues: QueuesFor(func(s string) string { return "zinc-" + s }, ""),
	}
}

// users returns n deliveries of users u000, u001, ...
func users(n int) []DeliveryRef {
	refs := make([]DeliveryRef, n)
	for i := range refs {
		refs[i] = DeliveryRef{ID: fmt.Sprintf("d%03d", i), User: fmt.Sprintf("u%03d", i)}
	}
	return refs
}

// pager serves refs in pages after the cursor, as the submission store does.
func pager(refs []DeliveryRef) func(context.Context, LatestDeliveriesInput) (LatestDeliveriesResult, error) {
	return func(_ context.Context, in LatestDeliveriesInput) (LatestDeliveriesResult, error) {
		start := 0
		for start < len(refs) && refs[start].User <= in.AfterUser {
			start++
		}
		end := min(start+in.Limit, len(refs))
		return LatestDeliveriesResult{Deliveries: refs[start:end], Done: end == len(refs), Total: len(refs)}, nil
	}
}

func graded(score float64) func(context.Context, ExecutePipelineInput) (grading.Outcome, error) {
	return func(_ context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
		return grading.Outcome{DeliveryID: in.Delivery.ID, User: in.Delivery.User, Status: grading.StatusGraded, Score: score, MaxScore: 10, DurationMS: 20}, nil
	}
}

func (s *batchSuite) expectConfig() {
	s.env.OnActivity(GetGradingConfigName, mock.Anything, GradingConfigInput{ConfigID: "cfg"}).
		Return(GradingConfigResult{ConfigID: "cfg", MaxScore: 10}, nil).Once()
}

func (s *batchSuite) expectRecord(status grading.BatchStatus) *RecordBatchOutcomeInput {
	var got RecordBatchOutcomeInput
	s.env.OnActivity(RecordBatchOutcomeName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in RecordBatchOutcomeInput) error {
			got = in
			s.Equal(status, in.Status)
			return nil
		}).Once()
	return &got
}

func (s *batchSuite) TestGradesEveryDeliveryAndSummarises() {
	refs := users(7)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	scores := map[string]float64{"u000": 10, "u001": 4, "u002": 7}
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
			switch in.Delivery.User {
			case "u003":
				return grading.Outcome{DeliveryID: in.Delivery.ID, User: in.Delivery.User, Status: grading.StatusUngraded, Reason: "rubric: stage tests timed out"}, nil
			case "u004":
				return grading.Outcome{}, sdktemporal.NewNonRetryableApplicationError("delivery d004 has no files", ErrTypeMissingFiles, nil)
			}
			sc, ok := scores[in.Delivery.User]
			if !ok {
				sc = 5
			}
			return grading.Outcome{DeliveryID: in.Delivery.ID, User: in.Delivery.User, Status: grading.StatusGraded, Score: sc, MaxScore: 10}, nil
		})
	recorded := s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.PageSize = 3
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res BatchGradingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	sum := res.Summary
	s.Equal(7, sum.Total)
	s.Equal(grading.Counts{Graded: 5, Ungraded: 1, Error: 1}, sum.Counts)
	s.InDelta(31.0/5, sum.MeanScore, 1e-9)
	s.Equal(4.0, sum.MinScore)
	s.Equal(10.0, sum.MaxScore)
	// Failures come in completion order, which concurrency leaves open.
	s.Require().Len(sum.Failures, 2)
	reasons := map[string]string{}
	for _, f := range sum.Failures {
		reasons[f.User] = f.Reason
	}
	s.Contains(reasons["u003"], "timed out")
	s.Contains(reasons["u004"], "has no files")
	s.Equal(sum, recorded.Summary)
}

func (s *batchSuite) TestNeverExceedsConcurrency() {
	refs := users(30)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	// The first deliveries hold their slot until the window is full (or a
	// deadline passes), so a window stuck below the limit shows as a peak
	// below it instead of passing unnoticed.
	const limit = 4
	var mu sync.Mutex
	running, peak := 0, 0
	full := make(chan struct{})
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
			mu.Lock()
			running++
			if running > peak {
				peak = running
				if peak == limit {
					close(full)
				}
			}
			mu.Unlock()
			defer func() { mu.Lock(); running--; mu.Unlock() }()
			select {
			case <-full:
			case <-time.After(5 * time.Second):
			}
			return graded(1)(ctx, in)
		})
	s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.Concurrency = limit
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(limit, peak, "the window opens up to the limit and never beyond")
	var res BatchGradingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(30, res.Summary.Counts.Graded)
}

func (s *batchSuite) TestUnknownCollectionFailsWithoutRetry() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).
		Return(LatestDeliveriesResult{}, sdktemporal.NewNonRetryableApplicationError("collection c404 not found", ErrTypeCollectionNotFound, nil)).Once()
	s.expectRecord(grading.BatchFailed)

	s.env.ExecuteWorkflow(BatchGradingName, input("c404"))

	err := s.env.GetWorkflowError()
	var app *sdktemporal.ApplicationError
	s.Require().True(errors.As(err, &app), "got %v", err)
	s.Equal(ErrTypeCollectionNotFound, app.Type())
	s.Contains(err.Error(), "collection c404 not found")
}

func (s *batchSuite) TestUnknownConfigFailsBeforeGrading() {
	s.env.OnActivity(GetGradingConfigName, mock.Anything, mock.Anything).
		Return(GradingConfigResult{}, sdktemporal.NewNonRetryableApplicationError("grading config cfg not found", ErrTypeConfigNotFound, nil)).Once()
	s.expectRecord(grading.BatchFailed)

	s.env.ExecuteWorkflow(BatchGradingName, input("c1"))

	var app *sdktemporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &app))
	s.Equal(ErrTypeConfigNotFound, app.Type())
}

func (s *batchSuite) TestInvalidInputIsRefused() {
	in := input("")
	in.Concurrency = 501
	s.env.ExecuteWorkflow(BatchGradingName, in)

	var app *sdktemporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &app))
	s.Equal(ErrTypeInvalidInput, app.Type())
	s.Contains(app.Error(), "collection_id is required")
	s.Contains(app.Error(), "concurrency 501")
}

func (s *batchSuite) TestContinuesAsNewWithCursorAndAggregate() {
	refs := users(10)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(3))

	in := input("c1")
	in.MaxPerRun = 4
	in.Concurrency = 3
	s.env.ExecuteWorkflow(BatchGradingName, in)

	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can))
	var next BatchGradingInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.Carry)
	s.Equal(4, next.Carry.Summary.Total)
	s.Equal("u003", next.Carry.Cursor)
	s.Equal(10, next.Carry.Total)
	s.Equal(1, next.Carry.Runs)
}

func (s *batchSuite) TestChunksHandSeveralDeliveriesToOneActivity() {
	refs := users(5)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	var sizes []int
	s.env.OnActivity(ExecutePipelinesName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ExecutePipelinesInput) (ExecutePipelinesResult, error) {
			sizes = append(sizes, len(in.Deliveries))
			var res ExecutePipelinesResult
			for _, d := range in.Deliveries {
				res.Outcomes = append(res.Outcomes, grading.Outcome{DeliveryID: d.ID, User: d.User, Status: grading.StatusGraded, Score: 2, MaxScore: 2})
			}
			return res, nil
		})
	s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.ChunkSize = 2
	in.Concurrency = 1
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal([]int{2, 2, 1}, sizes)
	var res BatchGradingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(5, res.Summary.Counts.Graded)
}

func (s *batchSuite) TestPauseResumeAndConcurrencyUpdates() {
	refs := users(6)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1)).After(time.Minute)
	s.expectRecord(grading.BatchCompleted)

	var progressWhilePaused Progress
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(PauseUpdate, "p1", &updateCallback{s: &s.Suite})
		s.env.UpdateWorkflow(PauseUpdate, "p2", &updateCallback{s: &s.Suite, wantErr: "already paused"})
		s.env.UpdateWorkflow(SetConcurrencyUpdate, "c0", &updateCallback{s: &s.Suite, wantErr: "want 1..500"}, 0)
		s.env.UpdateWorkflow(SetConcurrencyUpdate, "c1", &updateCallback{s: &s.Suite}, 3)
	}, 30*time.Second)
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(ProgressQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&progressWhilePaused))
		s.env.UpdateWorkflow(ResumeUpdate, "r1", &updateCallback{s: &s.Suite})
		s.env.UpdateWorkflow(ResumeUpdate, "r2", &updateCallback{s: &s.Suite, wantErr: "not paused"})
	}, 10*time.Minute)

	in := input("c1")
	in.Concurrency = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	// The two activities running at pause time finished; nothing new started.
	s.True(progressWhilePaused.Paused)
	s.Equal(2, progressWhilePaused.Done)
	s.Equal(0, progressWhilePaused.InFlight)
	s.Equal(3, progressWhilePaused.Concurrency)
	s.Equal(6, progressWhilePaused.Total)
	s.Greater(progressWhilePaused.DurationP50MS, 0.0)
	var res BatchGradingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(6, res.Summary.Counts.Graded)
}

func (s *batchSuite) TestCancelRecordsCancelled() {
	refs := users(4)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1)).After(time.Hour)
	recorded := s.expectRecord(grading.BatchCancelled)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)

	s.env.ExecuteWorkflow(BatchGradingName, input("c1"))

	s.Require().True(sdktemporal.IsCanceledError(s.env.GetWorkflowError()), "got %v", s.env.GetWorkflowError())
	s.Equal(grading.BatchCancelled, recorded.Status)
}

type updateCallback struct {
	s       *suite.Suite
	wantErr string
}

func (u *updateCallback) Accept() {
	if u.wantErr != "" {
		u.s.Fail("update accepted, want rejection " + u.wantErr)
	}
}

func (u *updateCallback) Reject(err error) {
	if u.wantErr == "" {
		u.s.Fail("update rejected: " + err.Error())
		return
	}
	u.s.Contains(err.Error(), u.wantErr)
}

func (u *updateCallback) Complete(_ any, err error) {
	if u.wantErr == "" {
		u.s.NoError(err)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	err := BatchGradingInput{Concurrency: -1, ChunkSize: 501}.Validate()
	require.Error(t, err)
	for _, want := range []string{"collection_id", "config_id", "concurrency -1", "chunk_size 501", "queues.core"} {
		require.Contains(t, err.Error(), want)
	}
}

func (s *batchSuite) TestPartitionsGradeEveryDeliveryOnce() {
	refs := users(7)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	var mu sync.Mutex
	seen := map[string]int{}
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
			mu.Lock()
			seen[in.Delivery.User]++
			mu.Unlock()
			return graded(2)(ctx, in)
		})
	recorded := s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.PartitionSize = 3
	in.PageSize = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	var res BatchGradingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(7, res.Summary.Total)
	s.Equal(7, res.Summary.Counts.Graded)
	s.Equal(14.0, res.Summary.ScoreSum)
	s.Len(seen, 7)
	for u, n := range seen {
		s.Equal(1, n, "user %s graded %d times", u, n)
	}
	s.Equal(res.Summary, recorded.Summary, "only the batch records, once")
}
