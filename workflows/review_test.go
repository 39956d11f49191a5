package workflows

import (
	"context"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	sdktemporal "go.temporal.io/sdk/temporal"

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
