package workflows

import (
	"time"

	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// progressRowVersion introduced the progress row: batches started before it
// never record their progress, so their histories replay unchanged and the
// API keeps querying them.
const (
	progressRowChange  = "progress-row"
	progressRowVersion = 1
)

// progressSettleChange makes a run wait for its last progress write before
// it ends, so that no write outlives the run or lands after the batch's final
// record. Runs that ended before it replay as they were.
const (
	progressSettleChange  = "progress-settle"
	progressSettleVersion = 1
)

// progressPausedChange makes a paused batch write its row once nothing runs
// any more, so that the row never shows deliveries in flight while none are.
const (
	progressPausedChange  = "progress-paused"
	progressPausedVersion = 1
)

// progressTrailingChange makes a batch write the outcomes a throttled (or
// still running) write held back once progressEvery has passed, instead of
// only when the next outcome arrives: a delivery that takes minutes left
// the row showing nothing done for as long, however many had finished just
// before it. Runs recorded before it start no such timer and replay as they
// were.
const (
	progressTrailingChange  = "progress-trailing"
	progressTrailingVersion = 1
)

// progressEvery is how often, at most, a batch writes its progress row while
// outcomes arrive: a handful of history events every few seconds, whatever
// the batch's rate.
const progressEvery = 2 * time.Second

// RecordBatchProgressInput is the progress of a running batch, stored by
// core so that reading it never reaches the workflow.
type RecordBatchProgressInput struct {
	BatchID  string   `json:"batch_id"`
	Progress Progress `json:"progress"`
}

// progressOptions: a progress write is best effort — the next one follows
// within seconds — so it is tried once and never holds the batch.
func progressOptions(queue string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           queue,
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &sdktemporal.RetryPolicy{MaximumAttempts: 1},
	}
}

// recordProgress writes the progress row when it is due: the state changed
// through an update, or progressEvery has passed since the last write. One
// write runs at a time; a failed write is dropped and the next one catches
// up. The write is not waited for: only its result is looked at, on a later
// call, once it is ready.
func (b *batch) recordProgress(ctx workflow.Context) {
	if !b.progressRow || ctx.Err() != nil {
		return
	}
	if b.recording != nil {
		if !b.recording.IsReady() {
			b.holdProgress(ctx, progressEvery)
			return
		}
		if err := b.recording.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("batch progress not recorded", "batch_id", b.in.BatchID, "err", err)
		}
		b.recording = nil
	}
	now := workflow.Now(ctx)
	if !b.progressDirty && now.Sub(b.recordedAt) < progressEvery {
		b.holdProgress(ctx, progressEvery-now.Sub(b.recordedAt))
		return
	}
	b.progressDirty, b.recordedAt, b.unwritten = false, now, false
	actx := workflow.WithActivityOptions(ctx, progressOptions(b.in.Queues.Core))
	b.recording = workflow.ExecuteActivity(actx, RecordBatchProgressName, RecordBatchProgressInput{
		BatchID: b.in.BatchID, Progress: b.progress(ctx),
	})
}

// holdProgress makes sure outcomes that arrived since the last write are
// written within wait even if no other outcome follows: a timer wakes the
// run loop, which calls recordProgress again. At most one such timer runs,
// and none while everything is written.
func (b *batch) holdProgress(ctx workflow.Context, wait time.Duration) {
	if !b.unwritten || b.trailing {
		return
	}
	if !b.trailingAsked {
		b.trailingVersion = workflow.GetVersion(ctx, progressTrailingChange, workflow.DefaultVersion, progressTrailingVersion)
		b.trailingAsked = true
	}
	if b.trailingVersion < progressTrailingVersion {
		return
	}
	b.trailing = true
	b.selector.AddFuture(workflow.NewTimer(ctx, wait), func(workflow.Future) { b.trailing = false })
}

// settleProgress waits for a progress write that is still running. The
// write's own failure was already tolerated: progress is best effort.
func (b *batch) settleProgress(ctx workflow.Context) {
	if b.recording == nil ||
		workflow.GetVersion(ctx, progressSettleChange, workflow.DefaultVersion, progressSettleVersion) < progressSettleVersion {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := b.recording.Get(dctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("batch progress not recorded", "batch_id", b.in.BatchID, "err", err)
	}
	b.recording = nil
}

// recordPausedProgress writes the row of a batch that is paused and has
// nothing in flight, before it waits for resume: the last write may predate
// the outcomes of the deliveries that were in flight at pause time.
func (b *batch) recordPausedProgress(ctx workflow.Context) {
	if b.progressRow &&
		workflow.GetVersion(ctx, progressPausedChange, workflow.DefaultVersion, progressPausedVersion) >= progressPausedVersion {
		b.settleProgress(ctx)
		b.progressDirty = true
	}
	b.recordProgress(ctx)
}
