package workflows

import (
	"context"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// TestFetchFailureWaitsForDeliveriesInFlight: when a later page cannot be
// listed, the batch fails, but the deliveries already being graded finish
// first and are counted in the summary it records, as their results are
// stored.
func (s *batchSuite) TestFetchFailureWaitsForDeliveriesInFlight() {
	refs := users(4)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in LatestDeliveriesInput) (LatestDeliveriesResult, error) {
			if in.AfterUser != "" {
				return LatestDeliveriesResult{}, sdktemporal.NewNonRetryableApplicationError("collection c1 not found", ErrTypeCollectionNotFound, nil)
			}
			return pager(refs)(ctx, in)
		})
	var mu sync.Mutex
	graded := 0
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
			mu.Lock()
			graded++
			mu.Unlock()
			return grading.Outcome{DeliveryID: in.Delivery.ID, User: in.Delivery.User, Status: grading.StatusGraded, Score: 1, MaxScore: 1}, nil
		}).After(time.Minute)
	recorded := s.expectRecord(grading.BatchFailed)

	in := input("c1")
	in.PageSize = 2
	in.Concurrency = 4
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().Error(s.env.GetWorkflowError())
	mu.Lock()
	defer mu.Unlock()
	s.Equal(2, graded, "the first page's deliveries were graded")
	s.Equal(2, recorded.Summary.Total, "the recorded summary counts the deliveries graded before the batch failed")
	s.Equal(2, recorded.Summary.Counts.Graded)
}

// TestPauseWhilePartitionStartsReachesIt: a pause accepted while a
// partition is being started (its child workflow not started yet) still
// pauses that partition: nothing is graded until the batch is resumed.
func (s *batchSuite) TestPauseWhilePartitionStartsReachesIt() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(users(3)))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1))
	s.expectRecord(grading.BatchCompleted)
	var (
		mu       sync.Mutex
		startsAt []time.Duration
		paused   bool
	)
	begin := s.env.Now()
	s.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == ExecutePipelineName {
			mu.Lock()
			startsAt = append(startsAt, s.env.Now().Sub(begin))
			mu.Unlock()
		}
	})
	s.env.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, converter.EncodedValues) {
		if !paused {
			paused = true
			s.env.UpdateWorkflow(PauseUpdate, "p1", &updateCallback{s: &s.Suite})
		}
	})
	var whilePaused Progress
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(ProgressQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&whilePaused))
		s.env.UpdateWorkflow(ResumeUpdate, "r1", &updateCallback{s: &s.Suite})
	}, time.Hour)

	in := input("c1")
	in.PartitionSize = 5
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.True(paused)
	s.True(whilePaused.Paused)
	mu.Lock()
	defer mu.Unlock()
	s.Require().Len(startsAt, 3)
	for _, at := range startsAt {
		s.GreaterOrEqual(at, time.Hour, "a delivery was graded while the batch was paused")
	}
}

// TestChunkLostForGoodKeepsItsHeartbeatedOutcomes: a chunk whose every
// attempt lost its worker (heartbeat timeout) after grading its first
// delivery counts that delivery as graded, as its stored result says, and
// only the others as errors.
func (s *batchSuite) TestChunkLostForGoodKeepsItsHeartbeatedOutcomes() {
	refs := users(3)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	done := grading.Outcome{DeliveryID: refs[0].ID, User: refs[0].User, Status: grading.StatusGraded, Score: 4, MaxScore: 10, DurationMS: 20}
	s.env.OnActivity(ExecutePipelinesName, mock.Anything, mock.Anything).Return(
		ExecutePipelinesResult{}, sdktemporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil, ExecutePipelinesResult{Outcomes: []grading.Outcome{done}}))
	recorded := s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.ChunkSize = 3
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(3, recorded.Summary.Total)
	s.Equal(grading.Counts{Graded: 1, Error: 2}, recorded.Summary.Counts)
	s.Equal(4.0, recorded.Summary.ScoreSum)
	s.Require().Len(recorded.Summary.Failures, 2)
	for _, f := range recorded.Summary.Failures {
		s.NotEqual(refs[0].ID, f.DeliveryID)
	}
}
