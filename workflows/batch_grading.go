package workflows

import (
	"errors"
	"fmt"
	"time"

	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// memoVersion introduced the memo: batches started before it never upsert
// one, so their histories replay unchanged.
const (
	memoChange  = "progress-memo"
	memoVersion = 1
)

// BatchGrading is BatchGradingWorkflow: it fetches a collection's latest
// deliveries page by page on the submission queue, grades them with a
// sliding window of ExecutePipeline activities on the pipeline queue, folds
// every outcome into a summary, and continues as new when its history grows.
// A failing delivery is recorded in the summary; the batch goes on.
func BatchGrading(ctx workflow.Context, in BatchGradingInput) (BatchGradingResult, error) {
	if err := in.Validate(); err != nil {
		return BatchGradingResult{}, sdktemporal.NewNonRetryableApplicationError(
			"invalid batch input: "+err.Error(), ErrTypeInvalidInput, err)
	}
	b := newBatch(ctx, in.withDefaults())
	if err := b.registerHandlers(ctx); err != nil {
		return BatchGradingResult{}, err
	}
	b.memo = workflow.GetVersion(ctx, memoChange, workflow.DefaultVersion, memoVersion) >= memoVersion
	// Partitions grade part of a batch: the batch itself records progress.
	b.progressRow = b.in.Partition == 0 &&
		workflow.GetVersion(ctx, progressRowChange, workflow.DefaultVersion, progressRowVersion) >= progressRowVersion

	var err error
	switch {
	case b.in.Partition > 0:
		return b.runPartition(ctx)
	case b.in.PartitionSize > 0:
		err = b.runPartitions(ctx)
	default:
		err = b.run(ctx)
	}
	b.settleProgress(ctx)
	var can *workflow.ContinueAsNewError
	if errors.As(err, &can) {
		return BatchGradingResult{}, err
	}
	status := grading.BatchCompleted
	switch {
	case sdktemporal.IsCanceledError(err):
		status = grading.BatchCancelled
	case err != nil:
		status = grading.BatchFailed
	}
	result := BatchGradingResult{BatchID: b.in.BatchID, Status: status, Summary: b.carry.Summary}
	// The final figures travel in the recorded summary; computing them
	// issues no command, so replay is unaffected.
	result.Summary.Rate = b.progress(ctx).Rate()
	if recErr := b.record(ctx, result); recErr != nil && err == nil {
		err = recErr
	}
	if err != nil {
		return result, err
	}
	return result, nil
}

// batch is the state of one run of BatchGrading.
type batch struct {
	in          BatchGradingInput
	carry       BatchCarry
	concurrency int

	queue    []DeliveryRef // fetched, not yet dispatched
	lastPage bool          // the page in queue is the collection's last
	fetched  bool          // at least one page fetched in this run
	inFlight int           // deliveries in running activities
	running  int           // running activities
	doneRun  int           // deliveries finished in this run
	draining bool          // stop dispatching, then continue as new

	wake     workflow.Channel
	selector workflow.Selector
	memo     bool // upsert the progress memo (workflow version ≥ memoVersion)
	// progressRow: record progress with core (version ≥ progressRowVersion);
	// recording while one write runs, progressDirty after an update.
	progressRow   bool
	recording     workflow.Future
	progressDirty bool
	recordedAt    time.Time
	// unwritten: outcomes arrived since the last progress write; trailing:
	// a timer will wake the loop to write them (progress-trailing), whose
	// version is trailingVersion once trailingAsked.
	unwritten       bool
	trailing        bool
	trailingAsked   bool
	trailingVersion workflow.Version
	full            bool // a partition has started all the deliveries it may
	child           string
}

func newBatch(ctx workflow.Context, in BatchGradingInput) *batch {
	b := &batch{in: in, concurrency: in.Concurrency, wake: workflow.NewBufferedChannel(ctx, 1)}
	if in.Carry != nil {
		b.carry = *in.Carry
	} else {
		b.carry.StartedAt = workflow.Now(ctx)
	}
	b.carry.Runs++
	if b.carry.Summary.Failures == nil {
		// An empty list, not null, in every summary shown to people.
		b.carry.Summary.Failures = []grading.Failure{}
	}
	b.selector = workflow.NewSelector(ctx)
	// Updates change what may be dispatched; the wake channel lets them
	// interrupt a Select that is waiting for activities.
	b.selector.AddReceive(b.wake, func(c workflow.ReceiveChannel, _ bool) { c.ReceiveAsync(nil) })
	return b
}

// run grades until the collection is exhausted, the batch is cancelled, or
// the run is long enough to continue as new.
func (b *batch) run(ctx workflow.Context) error {
	if b.in.Carry == nil && b.in.Partition == 0 {
		if err := b.checkConfig(ctx); err != nil {
			return err
		}
	}
	for {
		if err := b.dispatch(ctx); err != nil {
			return b.settleInFlight(ctx, err)
		}
		if b.running == 0 {
			switch {
			case ctx.Err() != nil:
				return sdktemporal.NewCanceledError()
			case b.lastPage && len(b.queue) == 0, b.full:
				return nil
			case b.draining:
				return b.continueAsNew(ctx)
			case b.carry.Paused:
				b.recordPausedProgress(ctx)
				// Nothing runs while paused: wait for resume or cancellation.
				if err := workflow.Await(ctx, func() bool { return !b.carry.Paused }); err != nil {
					return sdktemporal.NewCanceledError()
				}
				continue
			}
		}
		b.recordProgress(ctx)
		b.selector.Select(ctx)
	}
}

// settleInFlight ends a run that failed (a page could not be listed) once
// the activities still running have reported: their deliveries are graded
// and stored whatever happens to the batch, so the summary it records counts
// them, and no activity outlives the batch. Runs that failed before this
// change closed at once and replay as they did.
func (b *batch) settleInFlight(ctx workflow.Context, err error) error {
	if b.running == 0 ||
		workflow.GetVersion(ctx, settleInFlightChange, workflow.DefaultVersion, settleInFlightVersion) < settleInFlightVersion {
		return err
	}
	for b.running > 0 {
		b.selector.Select(ctx)
	}
	return err
}

// settleInFlightChange makes a failing run wait for its running activities.
const (
	settleInFlightChange  = "settle-in-flight"
	settleInFlightVersion = 1
)

// dispatch starts activities until the window is full, fetching pages as
// needed.
func (b *batch) dispatch(ctx workflow.Context) error {
	for ctx.Err() == nil && !b.carry.Paused && !b.draining && b.running < b.concurrency {
		if len(b.queue) == 0 {
			if b.lastPage {
				return nil
			}
			if err := b.fetchPage(ctx); err != nil {
				return err
			}
			continue
		}
		if b.doneRun+b.inFlight >= b.in.MaxPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			b.draining = true
			return nil
		}
		budget := len(b.queue)
		if b.in.Partition > 0 {
			if budget = b.in.PartitionSize - b.carry.Dispatched; budget <= 0 {
				b.full = true
				return nil
			}
		}
		n := min(b.in.ChunkSize, len(b.queue), budget)
		chunk := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.start(ctx, chunk)
	}
	return nil
}

func (b *batch) fetchPage(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, submissionOptions(b.in.Queues.Submission))
	var page LatestDeliveriesResult
	err := workflow.ExecuteActivity(ctx, GetCollectionLatestDeliveriesName, LatestDeliveriesInput{
		CollectionID:  b.in.CollectionID,
		AfterUser:     b.carry.Cursor,
		Limit:         b.in.PageSize,
		FailedInBatch: b.in.RegradeOf,
		Deliveries:    b.in.Deliveries,
		AfterDelivery: b.carry.CursorDelivery,
	}).Get(ctx, &page)
	if err != nil {
		return keepType(fmt.Sprintf("get latest deliveries of collection %s", b.in.CollectionID), err)
	}
	if !b.fetched && b.in.Carry == nil {
		b.carry.Total = page.Total
	}
	b.fetched = true
	b.queue = page.Deliveries
	b.lastPage = page.Done || len(page.Deliveries) == 0
	return b.upsertMemo(ctx)
}

// upsertMemo shows the batch and its progress in the Temporal UI's memo,
// refreshed once per page so it costs a handful of events per run.
func (b *batch) upsertMemo(ctx workflow.Context) error {
	if !b.memo {
		return nil
	}
	err := workflow.UpsertMemo(ctx, map[string]any{
		"batch_id":      b.in.BatchID,
		"collection_id": b.in.CollectionID,
		"config_id":     b.in.ConfigID,
		"total":         b.carry.Total,
		"done":          b.carry.Summary.Total,
		"failed":        b.carry.Summary.Failed(),
	})
	if err != nil {
		return fmt.Errorf("upsert batch memo: %w", err)
	}
	return nil
}

func (b *batch) checkConfig(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, pipelineOptions(b.in.Queues.Pipeline, time.Minute))
	var cfg GradingConfigResult
	err := workflow.ExecuteActivity(ctx, GetGradingConfigName, GradingConfigInput{ConfigID: b.in.ConfigID}).Get(ctx, &cfg)
	if err != nil {
		return keepType(fmt.Sprintf("get grading config %s", b.in.ConfigID), err)
	}
	return nil
}

// start runs one activity for a chunk of deliveries. The cursor moves when
// an activity starts, so continue-as-new (which waits for running
// activities) never skips or repeats a delivery.
func (b *batch) start(ctx workflow.Context, chunk []DeliveryRef) {
	b.carry.Cursor = chunk[len(chunk)-1].User
	if b.in.Deliveries == grading.DeliveriesAll {
		b.carry.CursorDelivery = chunk[len(chunk)-1].ID
	}
	b.carry.Dispatched += len(chunk)
	b.inFlight += len(chunk)
	b.running++
	// A chunk grades its deliveries one after another: its time bound grows
	// with it.
	opts := pipelineOptions(b.in.Queues.Pipeline, b.in.PipelineTimeout*time.Duration(len(chunk)))
	// The Temporal UI shows it on the activity's bar. User metadata only:
	// the commands stay the same, so recorded histories still replay.
	opts.Summary = chunkSummary(chunk)
	actx := workflow.WithActivityOptions(ctx, opts)

	var fut workflow.Future
	if b.in.ChunkSize == 1 {
		fut = workflow.ExecuteActivity(actx, ExecutePipelineName, ExecutePipelineInput{
			BatchID: b.in.BatchID, ConfigID: b.in.ConfigID, Delivery: chunk[0],
		})
	} else {
		fut = workflow.ExecuteActivity(actx, ExecutePipelinesName, ExecutePipelinesInput{
			BatchID: b.in.BatchID, ConfigID: b.in.ConfigID, Deliveries: chunk,
		})
	}
	b.selector.AddFuture(fut, func(f workflow.Future) {
		b.running--
		b.inFlight -= len(chunk)
		b.doneRun += len(chunk)
		b.unwritten = true
		for _, o := range b.outcomes(ctx, f, chunk) {
			b.carry.Summary.Add(o)
			if o.Status != grading.StatusError || o.DurationMS > 0 {
				b.carry.Durations.Observe(o.DurationMS)
				b.carry.QueueWaits.Observe(o.QueueWaitMS)
			}
		}
	})
}

// outcomes turns a finished activity into one outcome per delivery; an
// activity that failed for good marks its deliveries as errors.
func (b *batch) outcomes(ctx workflow.Context, f workflow.Future, chunk []DeliveryRef) []grading.Outcome {
	var (
		err  error
		outs []grading.Outcome
	)
	if b.in.ChunkSize == 1 {
		var o grading.Outcome
		err = f.Get(ctx, &o)
		outs = []grading.Outcome{o}
	} else {
		var res ExecutePipelinesResult
		err = f.Get(ctx, &res)
		outs = res.Outcomes
	}
	if err == nil && len(outs) == len(chunk) {
		return outs
	}
	reason := "activity returned wrong number of outcomes"
	if err != nil {
		reason = failureReason(err)
	}
	// The deliveries a chunk reported done before its last attempt timed
	// out are graded and stored: they keep their own outcomes.
	done := b.heartbeated(err, chunk)
	outs = make([]grading.Outcome, len(chunk))
	for i, d := range chunk {
		if i < len(done) {
			outs[i] = done[i]
			continue
		}
		outs[i] = grading.Outcome{DeliveryID: d.ID, User: d.User, Status: grading.StatusError, Reason: reason}
	}
	return outs
}

// heartbeated returns the outcomes an ExecutePipelines activity that timed
// out for good had heartbeated, when they match the leading deliveries of
// chunk; nil otherwise.
func (b *batch) heartbeated(err error, chunk []DeliveryRef) []grading.Outcome {
	var timeout *sdktemporal.TimeoutError
	if b.in.ChunkSize == 1 || !errors.As(err, &timeout) || !timeout.HasLastHeartbeatDetails() {
		return nil
	}
	var prog ExecutePipelinesResult
	if timeout.LastHeartbeatDetails(&prog) != nil || len(prog.Outcomes) > len(chunk) {
		return nil
	}
	for i, o := range prog.Outcomes {
		if o.DeliveryID != chunk[i].ID {
			return nil
		}
	}
	return prog.Outcomes
}

// keepType adds context to an activity failure while keeping its
// application error type, so the batch fails with the same type (say,
// CollectionNotFound) that callers branch on.
func keepType(action string, err error) error {
	var app *sdktemporal.ApplicationError
	if errors.As(err, &app) {
		return sdktemporal.NewNonRetryableApplicationError(action+": "+app.Error(), app.Type(), err)
	}
	return fmt.Errorf("%s: %w", action, err)
}

// failureReason is the application error's own message, without the SDK's
// activity-error wrapping or the cause chain it repeats, kept short.
func failureReason(err error) string {
	var app *sdktemporal.ApplicationError
	if errors.As(err, &app) {
		return grading.ShortReason(app.Message())
	}
	var canceled *sdktemporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	var timeout *sdktemporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + timeout.TimeoutType().String() + ")"
	}
	return grading.ShortReason(err.Error())
}

func (b *batch) continueAsNew(ctx workflow.Context) error {
	// Updates accepted in this run must finish before its history closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return sdktemporal.NewCanceledError()
	}
	next := b.in
	carry := b.carry
	next.Concurrency = b.concurrency
	next.Carry = &carry
	return workflow.NewContinueAsNewError(ctx, BatchGradingName, next)
}

// record stores the final state of the batch with core. It runs on a
// disconnected context so a cancelled batch is still recorded as such.
func (b *batch) record(ctx workflow.Context, res BatchGradingResult) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, coreOptions(b.in.Queues.Core))
	err := workflow.ExecuteActivity(dctx, RecordBatchOutcomeName, RecordBatchOutcomeInput{
		BatchID: res.BatchID, Status: res.Status, Summary: res.Summary,
	}).Get(dctx, nil)
	if err != nil {
		return fmt.Errorf("record batch outcome: %w", err)
	}
	return nil
}

func (b *batch) progress(ctx workflow.Context) Progress {
	s := b.carry.Summary
	p := Progress{
		Total:          max(b.carry.Total, s.Total+b.inFlight),
		Done:           s.Total,
		Failed:         s.Failed(),
		InFlight:       b.inFlight,
		Paused:         b.carry.Paused,
		Concurrency:    b.concurrency,
		Runs:           b.carry.Runs,
		DurationP50MS:  b.carry.Durations.Quantile(0.50),
		DurationP95MS:  b.carry.Durations.Quantile(0.95),
		QueueWaitP50MS: b.carry.QueueWaits.Quantile(0.50),
		QueueWaitP95MS: b.carry.QueueWaits.Quantile(0.95),
		Partition:      b.child,
	}
	if elapsed := workflow.Now(ctx).Sub(b.carry.StartedAt).Seconds(); elapsed > 0 && p.Done > 0 {
		p.PerSecond = float64(p.Done) / elapsed
		p.ETASeconds = float64(p.Total-p.Done) / p.PerSecond
	}
	return p
}
