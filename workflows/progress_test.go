package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// TestRecordsProgressWhileGrading: the batch writes its progress row with
// core as outcomes arrive, throttled, and the last write before the end
// counts what was done by then.
func (s *batchSuite) TestRecordsProgressWhileGrading() {
	refs := users(6)
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(refs))
	// Each delivery takes three seconds: more than progressEvery.
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(4)).After(3 * time.Second)
	// The activity runs on its own goroutine: record under a lock and
	// assert on the test's goroutine.
	var mu sync.Mutex
	var writes []RecordBatchProgressInput
	s.env.OnActivity(RecordBatchProgressName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in RecordBatchProgressInput) error {
			mu.Lock()
			defer mu.Unlock()
			writes = append(writes, in)
			return nil
		})
	s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.Concurrency = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	mu.Lock()
	defer mu.Unlock()
	s.Require().GreaterOrEqual(len(writes), 2, "a write once dispatching began, more as outcomes arrive")
	s.Equal(Progress{Total: 6, InFlight: 2, Concurrency: 2, Runs: 1}, writes[0].Progress, "the first write, once dispatching began")
	done := 0
	for _, w := range writes {
		s.Equal("b1", w.BatchID)
		s.Equal(6, w.Progress.Total)
		s.Equal(2, w.Progress.Concurrency)
		s.GreaterOrEqual(w.Progress.Done, done, "progress never goes back")
		done = w.Progress.Done
	}
	s.Positive(done, "a later write counts the outcomes that arrived by then")
}

// TestRecordsOutcomesHeldBackByTheThrottle: outcomes that arrive within
// progressEvery of a write are written once it has passed, not only when
// the next outcome arrives — a delivery that takes minutes must not leave
// the row showing nothing done while the others are.
func (s *batchSuite) TestRecordsOutcomesHeldBackByTheThrottle() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(users(3)))
	slow := mock.MatchedBy(func(in ExecutePipelineInput) bool { return in.Delivery.ID == "d002" })
	s.env.OnActivity(ExecutePipelineName, mock.Anything, slow).Return(graded(4)).After(10 * time.Minute)
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(4)).After(100 * time.Millisecond)
	var mu sync.Mutex
	var writes []Progress
	s.env.OnActivity(RecordBatchProgressName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in RecordBatchProgressInput) error {
			mu.Lock()
			defer mu.Unlock()
			writes = append(writes, in.Progress)
			return nil
		})
	s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.Concurrency = 3
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	mu.Lock()
	defer mu.Unlock()
	s.Require().NotEmpty(writes)
	held := false
	for _, w := range writes {
		held = held || (w.Done == 2 && w.InFlight == 1)
	}
	s.True(held, "the two quick outcomes are written while the slow delivery runs: %+v", writes)
	s.LessOrEqual(len(writes), 3, "no write, and no timer, while nothing new has arrived")
}

// TestPausedBatchRecordsSettledProgress: once the deliveries in flight at
// pause time finish, the row says paused with nothing in flight.
func (s *batchSuite) TestPausedBatchRecordsSettledProgress() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(users(4)))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1)).After(time.Minute)
	var mu sync.Mutex
	var last Progress
	s.env.OnActivity(RecordBatchProgressName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in RecordBatchProgressInput) error {
			mu.Lock()
			defer mu.Unlock()
			last = in.Progress
			return nil
		})
	s.expectRecord(grading.BatchCompleted)

	var whilePaused Progress
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(PauseUpdate, "p1", &updateCallback{s: &s.Suite})
	}, 30*time.Second)
	s.env.RegisterDelayedCallback(func() {
		mu.Lock()
		whilePaused = last
		mu.Unlock()
		s.env.UpdateWorkflow(ResumeUpdate, "r1", &updateCallback{s: &s.Suite})
	}, 10*time.Minute)

	in := input("c1")
	in.Concurrency = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.True(whilePaused.Paused)
	s.Equal(2, whilePaused.Done)
	s.Equal(0, whilePaused.InFlight)
}

// TestProgressWriteFailureDoesNotHoldTheBatch: progress is best effort.
func (s *batchSuite) TestProgressWriteFailureDoesNotHoldTheBatch() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(users(3)))
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(4)).After(3 * time.Second)
	s.env.OnActivity(RecordBatchProgressName, mock.Anything, mock.Anything).Return(errors.New("database unreachable"))
	recorded := s.expectRecord(grading.BatchCompleted)

	s.env.ExecuteWorkflow(BatchGradingName, input("c1"))

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(3, recorded.Summary.Counts.Graded)
}

// TestFailureReasonsAreShort: an activity that fails for good leaves its own
// message as the reason, without the error chain repeated after it.
func (s *batchSuite) TestFailureReasonsAreShort() {
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(pager(users(1)))
	chain := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	msg := "save result of delivery d000: " + strings.Repeat("failed to connect: ", 40) + chain.Error()
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(
		grading.Outcome{}, sdktemporal.NewNonRetryableApplicationError(msg, ErrTypeTransient, chain))
	recorded := s.expectRecord(grading.BatchCompleted)

	s.env.ExecuteWorkflow(BatchGradingName, input("c1"))

	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().Len(recorded.Summary.Failures, 1)
	reason := recorded.Summary.Failures[0].Reason
	s.LessOrEqual(len(reason), grading.MaxReasonLen)
	s.True(strings.HasPrefix(reason, "save result of delivery d000: failed to connect"), reason)
	s.NotContains(reason, "type: Transient")
}
