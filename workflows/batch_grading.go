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

// Batch sizing defaults.
const (
	DefaultPageSize = 500
	// DefaultMaxPerRun caps deliveries per run even when the server does not
	// suggest continue-as-new yet, keeping each run's history small.
	DefaultMaxPerRun = 2000
	MaxChunkSize     = 500
)

// BatchGradingInput starts a batch: grade the latest delivery of every user
// of a collection with one grading config.
type BatchGradingInput struct {
	BatchID      string `json:"batch_id"`
	CollectionID string `json:"collection_id"`
	ConfigID     string `json:"config_id"`
	// Concurrency is how many pipeline activities run at once (1..500).
	Concurrency int `json:"concurrency,omitempty"`
	// ChunkSize > 1 hands that many deliveries to one ExecutePipelines
	// activity: far fewer server round trips, but a retry re-runs the
	// deliveries of the chunk that had not reported done.
	ChunkSize int `json:"chunk_size,omitempty"`
	PageSize  int `json:"page_size,omitempty"`
	MaxPerRun int `json:"max_per_run,omitempty"`
	// Queues are the full task-queue names of the activities (QueuesFor).
	Queues Queues `json:"queues"`
	// RegradeOf, when set, grades only the deliveries that batch failed.
	RegradeOf string `json:"regrade_of,omitempty"`
	// PartitionSize > 0 grades the batch as child workflows of at most that
	// many deliveries each, one after another, so no run's history holds
	// more than a partition's work.
	PartitionSize int `json:"partition_size,omitempty"`
	// Partition is set (1, 2, …) on those children: a partition grades
	// PartitionSize deliveries after its cursor and records no outcome.
	Partition int `json:"partition,omitempty"`
	// PipelineTimeout bounds one ExecutePipeline attempt; zero means 10 min.
	PipelineTimeout time.Duration `json:"pipeline_timeout,omitempty"`
	// Carry is the state handed from one run to the next by continue-as-new.
	Carry *BatchCarry `json:"carry,omitempty"`
}

// BatchCarry is what a batch remembers across continue-as-new: a cursor and
// running aggregates, never per-delivery data.
type BatchCarry struct {
	Cursor     string            `json:"cursor"`
	Total      int               `json:"total"`
	Summary    grading.Summary   `json:"summary"`
	Durations  grading.Histogram `json:"durations"`
	QueueWaits grading.Histogram `json:"queue_waits"`
	StartedAt  time.Time         `json:"started_at"`
	Paused     bool              `json:"paused,omitempty"`
	Runs       int               `json:"runs"`
	// Dispatched counts the deliveries a partition has started.
	Dispatched int `json:"dispatched,omitempty"`
	// Partitions counts the partitions a partitioned batch has finished.
	Partitions int `json:"partitions,omitempty"`
}

// BatchGradingResult is the final state of a batch. A partition also hands
// back its state, so the batch continues after it.
type BatchGradingResult struct {
	BatchID string              `json:"batch_id"`
	Status  grading.BatchStatus `json:"status"`
	Summary grading.Summary     `json:"summary"`
	// Carry and Done are set by partitions only: Done means the collection
	// has no delivery after Carry.Cursor.
	Carry *BatchCarry `json:"carry,omitempty"`
	Done  bool        `json:"done,omitempty"`
}

// Progress answers the progress query.
type Progress struct {
	Total          int     `json:"total"`
	Done           int     `json:"done"`
	Failed         int     `json:"failed"`
	InFlight       int     `json:"in_flight"`
	Paused         bool    `json:"paused"`
	Concurrency    int     `json:"concurrency"`
	Runs           int     `json:"runs"`
	PerSecond      float64 `json:"per_second"`
	ETASeconds     float64 `json:"eta_seconds"`
	DurationP50MS  float64 `json:"duration_p50_ms"`
	DurationP95MS  float64 `json:"duration_p95_ms"`
	QueueWaitP50MS float64 `json:"queue_wait_p50_ms"`
	QueueWaitP95MS float64 `json:"queue_wait_p95_ms"`
	// Partition is the workflow id of the running partition of a
	// partitioned batch; its own progress query covers the work in flight.
	Partition string `json:"partition,omitempty"`
}

// Rate returns the throughput and latency figures of p.
func (p Progress) Rate() *grading.Rate {
	return &grading.Rate{
		PerSecond: p.PerSecond, DurationP50MS: p.DurationP50MS, DurationP95MS: p.DurationP95MS,
		QueueWaitP50MS: p.QueueWaitP50MS, QueueWaitP95MS: p.QueueWaitP95MS,
	}
}

// WithPartition adds the progress of the running partition c to that of
// its batch p, whose counts cover finished partitions only.
func (p Progress) WithPartition(c Progress) Progress {
	if p.Done > 0 && p.PerSecond > 0 {
		p.PerSecond *= float64(p.Done+c.Done) / float64(p.Done)
	} else {
		p.PerSecond = c.PerSecond
	}
	p.Done += c.Done
	p.Failed += c.Failed
	p.InFlight = c.InFlight
	if p.DurationP50MS == 0 {
		p.DurationP50MS, p.DurationP95MS = c.DurationP50MS, c.DurationP95MS
		p.QueueWaitP50MS, p.QueueWaitP95MS = c.QueueWaitP50MS, c.QueueWaitP95MS
	}
	p.ETASeconds = 0
	if p.PerSecond > 0 {
		p.ETASeconds = float64(p.Total-p.Done) / p.PerSecond
	}
	return p
}

// Validate reports every input problem at once.
func (in BatchGradingInput) Validate() error {
	var errs []error
	if in.CollectionID == "" {
		errs = append(errs, errors.New("collection_id is required"))
	}
	if in.ConfigID == "" {
		errs = append(errs, errors.New("config_id is required"))
	}
	// Zero asks for the default window.
	if in.Concurrency != 0 {
		if err := CheckConcurrency(in.Concurrency); err != nil {
			errs = append(errs, err)
		}
	}
	if in.ChunkSize < 0 || in.ChunkSize > MaxChunkSize {
		errs = append(errs, fmt.Errorf("chunk_size %d: want 1..%d", in.ChunkSize, MaxChunkSize))
	}
	if in.Queues.Core == "" || in.Queues.Submission == "" || in.Queues.Pipeline == "" {
		errs = append(errs, errors.New("queues.core, queues.submission and queues.pipeline are required"))
	}
	if in.PartitionSize < 0 || in.Partition < 0 || (in.Partition > 0 && in.PartitionSize == 0) {
		errs = append(errs, errors.New("partition_size must not be negative, and a partition needs a partition_size"))
	}
	if in.PageSize < 0 || in.MaxPerRun < 0 || in.PipelineTimeout < 0 {
		errs = append(errs, errors.New("page_size, max_per_run and pipeline_timeout must not be negative"))
	}
	return errors.Join(errs...)
}

func (in BatchGradingInput) withDefaults() BatchGradingInput {
	if in.Concurrency == 0 {
		in.Concurrency = DefaultConcurrency
	}
	if in.ChunkSize == 0 {
		in.ChunkSize = 1
	}
	if in.PageSize == 0 {
		in.PageSize = DefaultPageSize
	}
	if in.MaxPerRun == 0 {
		in.MaxPerRun = DefaultMaxPerRun
	}
	if in.PipelineTimeout == 0 {
		in.PipelineTimeout = 10 * time.Minute
	}
	return in
}

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
	full          bool // a partition has started all the deliveries it may
	child         string
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

func (b *batch) poke() {
	b.progressDirty = true
	b.wake.SendAsync(struct{}{})
}

func (b *batch) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) {
		return b.progress(ctx), nil
	}); err != nil {
		return fmt.Errorf("set progress query: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, PauseUpdate,
		func(ctx workflow.Context) error {
			b.carry.Paused = true
			b.forward(ctx, PauseUpdate, nil)
			b.poke()
			return nil
		},
		workflow.UpdateHandlerOptions{Validator: func() error {
			if b.carry.Paused {
				return errors.New("batch is already paused")
			}
			return nil
		}},
	); err != nil {
		return fmt.Errorf("set pause update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, ResumeUpdate,
		func(ctx workflow.Context) error {
			b.carry.Paused = false
			b.forward(ctx, ResumeUpdate, nil)
			b.poke()
			return nil
		},
		workflow.UpdateHandlerOptions{Validator: func() error {
			if !b.carry.Paused {
				return errors.New("batch is not paused")
			}
			return nil
		}},
	); err != nil {
		return fmt.Errorf("set resume update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, SetConcurrencyUpdate,
		func(ctx workflow.Context, n int) (int, error) {
			b.concurrency = n
			b.forward(ctx, SetConcurrencyUpdate, n)
			b.poke()
			return n, nil
		},
		workflow.UpdateHandlerOptions{Validator: CheckConcurrency},
	); err != nil {
		return fmt.Errorf("set concurrency update: %w", err)
	}
	return nil
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
			return err
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
				b.recordProgress(ctx)
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
	outs = make([]grading.Outcome, len(chunk))
	for i, d := range chunk {
		outs[i] = grading.Outcome{DeliveryID: d.ID, User: d.User, Status: grading.StatusError, Reason: reason}
	}
	return outs
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
