package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
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
// of a collection (or every delivery, see Deliveries) with one grading config.
type BatchGradingInput struct {
	BatchID      string `json:"batch_id"`
	CollectionID string `json:"collection_id"`
	ConfigID     string `json:"config_id"`
	// Deliveries is grading.DeliveriesAll to grade every delivery of every
	// user; "" or grading.DeliveriesLatest grades each user's latest.
	Deliveries string `json:"deliveries,omitempty"`
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
	// CursorDelivery is the last started delivery of the Cursor user, kept
	// when grading all deliveries, where a user has several.
	CursorDelivery string `json:"cursor_delivery,omitempty"`
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
	if !grading.ValidDeliveries(in.Deliveries) {
		errs = append(errs, fmt.Errorf("deliveries %q: want %q or %q", in.Deliveries, grading.DeliveriesLatest, grading.DeliveriesAll))
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
