package workflows

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// runPartitions grades a very large batch as a sequence of child
// workflows, each a partition of at most PartitionSize deliveries after the
// previous one's cursor. The batch's own history then holds a few events
// per partition; it still continues as new if that grows too long.
func (b *batch) runPartitions(ctx workflow.Context) error {
	if b.in.Carry == nil {
		if err := b.checkConfig(ctx); err != nil {
			return err
		}
		// One row is enough to learn the total.
		page := b.in.PageSize
		b.in.PageSize = 1
		err := b.fetchPage(ctx)
		b.in.PageSize, b.queue = page, nil
		if err != nil {
			return err
		}
		if b.lastPage && b.carry.Total == 0 {
			return nil
		}
	}
	for {
		if ctx.Err() != nil {
			return sdktemporal.NewCanceledError()
		}
		if b.carry.Partitions > 0 && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return b.continueAsNew(ctx)
		}
		res, err := b.runChild(ctx, b.carry.Partitions+1)
		if err != nil {
			return err
		}
		b.carry.Partitions++
		b.carry.Summary.Merge(res.Summary)
		if res.Carry != nil {
			b.carry.Cursor, b.carry.CursorDelivery = res.Carry.Cursor, res.Carry.CursorDelivery
			b.carry.Durations.Merge(res.Carry.Durations)
			b.carry.QueueWaits.Merge(res.Carry.QueueWaits)
		}
		if res.Done {
			return nil
		}
	}
}

// runChild runs partition idx and waits for it. While it runs, the batch's
// pause, resume and concurrency updates are forwarded to it.
func (b *batch) runChild(ctx workflow.Context, idx int) (BatchGradingResult, error) {
	in := b.in
	in.Partition = idx
	in.Concurrency = b.concurrency
	in.Carry = &BatchCarry{Cursor: b.carry.Cursor, CursorDelivery: b.carry.CursorDelivery, Paused: b.carry.Paused, StartedAt: workflow.Now(ctx)}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		// Named from the input, not the running execution, so replay (which
		// runs under another id) names it the same.
		WorkflowID: fmt.Sprintf("%s/partition-%d", BatchWorkflowID(b.in.CollectionID, b.in.ConfigID), idx),
		// Cancelling the batch cancels the partition, which cancels its
		// pipelines and waits for them.
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
	})
	fut := workflow.ExecuteChildWorkflow(cctx, BatchGradingName, in)
	var exec workflow.Execution
	if err := fut.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		return BatchGradingResult{}, fmt.Errorf("start partition %d: %w", idx, err)
	}
	b.child = exec.ID
	defer func() { b.child = "" }()
	b.syncChild(ctx, in)
	var res BatchGradingResult
	if err := fut.Get(ctx, &res); err != nil {
		if sdktemporal.IsCanceledError(err) {
			return BatchGradingResult{}, sdktemporal.NewCanceledError()
		}
		return BatchGradingResult{}, keepType(fmt.Sprintf("partition %d", idx), err)
	}
	return res, nil
}

// partitionSyncChange makes the batch forward to a partition the controls
// it accepted while that partition was being started, when it had no child
// to forward them to. The version is asked only when such a control came,
// so other histories replay unchanged.
const (
	partitionSyncChange  = "partition-sync"
	partitionSyncVersion = 1
)

// syncChild forwards to the partition just started, with input in, the
// pause state and concurrency the batch took on since in was built.
func (b *batch) syncChild(ctx workflow.Context, in BatchGradingInput) {
	paused := b.carry.Paused != in.Carry.Paused
	concurrency := b.concurrency != in.Concurrency
	if !paused && !concurrency ||
		workflow.GetVersion(ctx, partitionSyncChange, workflow.DefaultVersion, partitionSyncVersion) < partitionSyncVersion {
		return
	}
	if paused {
		name := ResumeUpdate
		if b.carry.Paused {
			name = PauseUpdate
		}
		b.forward(ctx, name, nil)
	}
	if concurrency {
		b.forward(ctx, SetConcurrencyUpdate, b.concurrency)
	}
}

// runPartition is the body of a partition: grade, then hand the state back.
func (b *batch) runPartition(ctx workflow.Context) (BatchGradingResult, error) {
	b.listenToParent(ctx)
	if err := b.run(ctx); err != nil {
		return BatchGradingResult{}, err
	}
	carry := b.carry
	return BatchGradingResult{
		BatchID: b.in.BatchID,
		Status:  grading.BatchCompleted,
		Summary: carry.Summary,
		Carry:   &carry,
		Done:    b.lastPage && len(b.queue) == 0,
	}, nil
}
