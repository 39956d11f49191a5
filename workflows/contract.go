package workflows

import (
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Task-queue suffixes, one per component. The full name is
// "{prefix}-{suffix}", built by temporal.Client.FormatTaskQueue.
const (
	CoreTaskQueue       = "core-default"
	SubmissionTaskQueue = "submission-default"
	PipelineTaskQueue   = "pipeline-default"
)

// Pipeline lanes: separate queues so exam, interactive and regrade work
// each get their own worker concurrency and rate limits.
const (
	PipelineExamQueue        = "pipeline-exam"
	PipelineInteractiveQueue = "pipeline-interactive"
	PipelineRegradeQueue     = "pipeline-regrade"
)

// PipelineQueues are every pipeline queue a pipeline worker polls by default.
var PipelineQueues = []string{PipelineTaskQueue, PipelineExamQueue, PipelineInteractiveQueue, PipelineRegradeQueue}

// Registered names. They are constants so renaming a Go function never
// breaks a running execution.
const (
	BatchGradingName = "BatchGradingWorkflow"

	GetCollectionLatestDeliveriesName = "GetCollectionLatestDeliveries"
	GetGradingConfigName              = "GetGradingConfig"
	ExecutePipelineName               = "ExecutePipeline"
	ExecutePipelinesName              = "ExecutePipelines"
	RecordBatchOutcomeName            = "RecordBatchOutcome"
	RecordBatchProgressName           = "RecordBatchProgress"

	ProgressQuery        = "progress"
	PauseUpdate          = "pause"
	ResumeUpdate         = "resume"
	SetConcurrencyUpdate = "set_concurrency"
)

// Application error types shared by activities and workflows. Activities
// return them non-retryable; workflows branch on them with errors.As.
const (
	ErrTypeInvalidInput       = "InvalidInput"
	ErrTypeCollectionNotFound = "CollectionNotFound"
	ErrTypeConfigNotFound     = "ConfigNotFound"
	ErrTypeDeliveryNotFound   = "DeliveryNotFound"
	ErrTypeInvalidConfig      = "InvalidConfig"
	ErrTypeMissingFiles       = "MissingFiles"
	ErrTypeTransient          = "Transient"
)

// Batch limits.
const (
	DefaultConcurrency = 50
	MaxConcurrency     = 500
)

// CheckConcurrency refuses a window outside 1..MaxConcurrency. It is the one
// home of that rule: the workflow, the batch service and the bench ask it.
func CheckConcurrency(n int) error {
	if n < 1 || n > MaxConcurrency {
		return fmt.Errorf("concurrency %d: want 1..%d", n, MaxConcurrency)
	}
	return nil
}

// BatchWorkflowID is the workflow id of the batch grading a config over a
// collection. One id per pair is what makes a second concurrent batch fail.
func BatchWorkflowID(collectionID, configID string) string {
	return fmt.Sprintf("batch-grading:%s:%s", collectionID, configID)
}

// LatestDeliveriesInput asks for one page of a collection's latest
// deliveries, ordered by user, starting after AfterUser. With FailedInBatch
// set, only the deliveries that batch failed to grade are listed.
//
// With Deliveries set to grading.DeliveriesAll, every delivery of every
// user is listed, ordered by user and then delivery id; AfterDelivery, when
// set, resumes after that delivery of AfterUser rather than after all of
// AfterUser's.
type LatestDeliveriesInput struct {
	CollectionID  string `json:"collection_id"`
	AfterUser     string `json:"after_user,omitempty"`
	Limit         int    `json:"limit"`
	FailedInBatch string `json:"failed_in_batch,omitempty"`
	Deliveries    string `json:"deliveries,omitempty"`
	AfterDelivery string `json:"after_delivery,omitempty"`
}

// DeliveryRef identifies one delivery to grade; it is all the workflow keeps.
type DeliveryRef struct {
	ID   string `json:"id"`
	User string `json:"user"`
}

// LatestDeliveriesResult is one page of latest deliveries. Done is true on
// the last page; Total counts all pages.
type LatestDeliveriesResult struct {
	Deliveries []DeliveryRef `json:"deliveries"`
	Done       bool          `json:"done"`
	Total      int           `json:"total"`
}

// GradingConfigInput names the config to check before a batch starts.
type GradingConfigInput struct {
	ConfigID string `json:"config_id"`
}

// GradingConfigResult describes a config that exists and parses.
type GradingConfigResult struct {
	ConfigID string  `json:"config_id"`
	Name     string  `json:"name"`
	MaxScore float64 `json:"max_score"`
}

// ExecutePipelineInput grades one delivery under one config for a batch.
type ExecutePipelineInput struct {
	BatchID  string      `json:"batch_id"`
	ConfigID string      `json:"config_id"`
	Delivery DeliveryRef `json:"delivery"`
}

// ExecutePipelinesInput grades several deliveries in one activity, trading
// per-delivery retries for fewer round trips through the server.
type ExecutePipelinesInput struct {
	BatchID    string        `json:"batch_id"`
	ConfigID   string        `json:"config_id"`
	Deliveries []DeliveryRef `json:"deliveries"`
}

// ExecutePipelinesResult holds one outcome per input delivery, in order.
// ExecutePipelines also heartbeats one, holding the outcomes of the leading
// deliveries already done: a retry skips them, and a chunk that times out
// for good still reports them.
type ExecutePipelinesResult struct {
	Outcomes []grading.Outcome `json:"outcomes"`
}

// RecordBatchOutcomeInput is the final state of a batch, stored by core.
type RecordBatchOutcomeInput struct {
	BatchID string              `json:"batch_id"`
	Status  grading.BatchStatus `json:"status"`
	Summary grading.Summary     `json:"summary"`
}
