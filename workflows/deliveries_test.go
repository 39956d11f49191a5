package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// versions returns v deliveries for each of n users: u000/d000a, d000b, …
func versions(n, v int) []DeliveryRef {
	var refs []DeliveryRef
	for i := range n {
		for j := range v {
			refs = append(refs, DeliveryRef{ID: fmt.Sprintf("d%03d%c", i, 'a'+j), User: fmt.Sprintf("u%03d", i)})
		}
	}
	return refs
}

// allPager serves refs (ordered by user, then id) as the submission store
// does for "all": after (AfterUser, AfterDelivery), where an empty
// AfterDelivery skips every version of AfterUser. It keeps every input.
type allPager struct {
	refs []DeliveryRef
	mu   sync.Mutex
	ins  []LatestDeliveriesInput
}

func (p *allPager) page(_ context.Context, in LatestDeliveriesInput) (LatestDeliveriesResult, error) {
	p.mu.Lock()
	p.ins = append(p.ins, in)
	p.mu.Unlock()
	start := 0
	for start < len(p.refs) {
		r := p.refs[start]
		if r.User > in.AfterUser || (r.User == in.AfterUser && in.AfterDelivery != "" && r.ID > in.AfterDelivery) {
			break
		}
		start++
	}
	end := min(start+in.Limit, len(p.refs))
	return LatestDeliveriesResult{Deliveries: p.refs[start:end], Done: end == len(p.refs), Total: len(p.refs)}, nil
}

// gradedOnce grades every delivery and counts how often each was graded.
func gradedOnce(mu *sync.Mutex, seen map[string]int) func(context.Context, ExecutePipelineInput) (grading.Outcome, error) {
	return func(ctx context.Context, in ExecutePipelineInput) (grading.Outcome, error) {
		mu.Lock()
		seen[in.Delivery.ID]++
		mu.Unlock()
		return graded(1)(ctx, in)
	}
}

// TestAllGradesEveryVersionOnce: with deliveries "all", each version of
// each user is graded exactly once, though pages end in the middle of a
// user's versions, and every page asks for all deliveries.
func (s *batchSuite) TestAllGradesEveryVersionOnce() {
	refs := versions(3, 3)
	p := &allPager{refs: refs}
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(p.page)
	var mu sync.Mutex
	seen := map[string]int{}
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(gradedOnce(&mu, seen))
	recorded := s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.Deliveries = grading.DeliveriesAll
	in.PageSize = 2
	in.Concurrency = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(9, recorded.Summary.Total)
	s.Equal(9, recorded.Summary.Counts.Graded)
	s.eachGradedOnce(seen, 9)
	s.Require().NotEmpty(p.ins)
	for _, got := range p.ins {
		s.Equal(grading.DeliveriesAll, got.Deliveries)
	}
	s.Contains(p.ins, LatestDeliveriesInput{CollectionID: "c1", AfterUser: "u000", AfterDelivery: "d000b", Limit: 2, Deliveries: grading.DeliveriesAll},
		"the second page resumes inside u000's versions")
}

// TestAllCarriesTheDeliveryCursorAcrossContinueAsNew: the next run resumes
// after the last started version, not after its user.
func (s *batchSuite) TestAllCarriesTheDeliveryCursorAcrossContinueAsNew() {
	p := &allPager{refs: versions(2, 3)}
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(p.page)
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1))

	in := input("c1")
	in.Deliveries = grading.DeliveriesAll
	in.MaxPerRun = 4
	in.Concurrency = 1
	s.env.ExecuteWorkflow(BatchGradingName, in)

	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	var next BatchGradingInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.Carry)
	s.Equal(grading.DeliveriesAll, next.Deliveries)
	s.Equal("u001", next.Carry.Cursor)
	s.Equal("d001a", next.Carry.CursorDelivery)
	s.Equal(4, next.Carry.Summary.Total)
	s.Equal(6, next.Carry.Total)
}

// TestAllPartitionsGradeEveryVersionOnce: partitions hand the delivery
// cursor on, so a partition boundary inside a user's versions loses none.
func (s *batchSuite) TestAllPartitionsGradeEveryVersionOnce() {
	p := &allPager{refs: versions(3, 2)}
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(p.page)
	var mu sync.Mutex
	seen := map[string]int{}
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(gradedOnce(&mu, seen))
	recorded := s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.Deliveries = grading.DeliveriesAll
	in.PartitionSize = 3
	in.PageSize = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(6, recorded.Summary.Counts.Graded)
	s.eachGradedOnce(seen, 6)
}

// TestLatestAsksAsBefore: a batch of latest deliveries sends the page
// inputs it always has (no deliveries, no delivery cursor), so recorded
// histories and running batches see the same activity inputs.
func (s *batchSuite) TestLatestAsksAsBefore() {
	p := &allPager{refs: users(5)}
	s.expectConfig()
	s.env.OnActivity(GetCollectionLatestDeliveriesName, mock.Anything, mock.Anything).Return(p.page)
	s.env.OnActivity(ExecutePipelineName, mock.Anything, mock.Anything).Return(graded(1))
	s.expectRecord(grading.BatchCompleted)

	in := input("c1")
	in.PageSize = 2
	s.env.ExecuteWorkflow(BatchGradingName, in)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().Len(p.ins, 3)
	for _, got := range p.ins {
		s.Empty(got.Deliveries)
		s.Empty(got.AfterDelivery)
	}
}

func (s *batchSuite) TestUnknownDeliveriesIsRefused() {
	in := input("c1")
	in.Deliveries = "every"
	s.env.ExecuteWorkflow(BatchGradingName, in)
	s.Require().Error(s.env.GetWorkflowError())
	s.Contains(s.env.GetWorkflowError().Error(), `deliveries "every"`)
}

// eachGradedOnce: want distinct deliveries were graded, each exactly once.
func (s *batchSuite) eachGradedOnce(seen map[string]int, want int) {
	s.Len(seen, want)
	for id, n := range seen {
		s.Equal(1, n, "delivery %s graded %d times", id, n)
	}
}
