package workflows

import (
	"fmt"
	"strings"
	"time"

	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Queues are the full task-queue names a batch sends activities to. The
// starter resolves them with its client's prefix and they travel in the
// input, so a later change of prefix never alters a running batch's history.
type Queues struct {
	Core       string `json:"core"`
	Submission string `json:"submission"`
	Pipeline   string `json:"pipeline"`
}

// QueuesFor resolves the queue names with format (temporal.Client's
// FormatTaskQueue). lane selects a pipeline queue; empty means the default.
func QueuesFor(format func(suffix string) string, lane string) Queues {
	if lane == "" {
		lane = PipelineTaskQueue
	}
	return Queues{
		Core:       format(CoreTaskQueue),
		Submission: format(SubmissionTaskQueue),
		Pipeline:   format(lane),
	}
}

// businessErrors are failures that retrying cannot fix.
var businessErrors = []string{
	ErrTypeInvalidInput, ErrTypeCollectionNotFound, ErrTypeConfigNotFound,
	ErrTypeDeliveryNotFound, ErrTypeInvalidConfig, ErrTypeMissingFiles,
}

// submissionOptions: listing deliveries is a quick query; a failure that is
// not a business error is the database being away, retried for as long as
// an outage plausibly lasts (the retry policy is not part of the history's
// determinism: changing it is replay-safe).
func submissionOptions(queue string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              queue,
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &sdktemporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: businessErrors,
		},
	}
}

// pipelineOptions: grading runs student code for up to timeout and
// heartbeats, so a lost worker is noticed within the heartbeat timeout and
// cancellation reaches the running processes. Waiting for cancellation lets
// the activity kill its processes and remove its scratch directory before
// the batch closes. A grading's own failures are business errors and never
// retried, and infrastructure outages are retried inside the attempt, so
// attempts are spent by workers lost mid-grading (a crash, a rolling
// restart): ten allow several such losses of one delivery in a row. The
// retry policy is not part of what replay compares.
func pipelineOptions(queue string, timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           queue,
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    30 * time.Second,
		WaitForCancellation: true,
		RetryPolicy: &sdktemporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: businessErrors,
		},
	}
}

// coreOptions: recording the outcome must eventually succeed; retry long.
func coreOptions(queue string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           queue,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &sdktemporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    20,
		},
	}
}

// chunkSummary names the students and deliveries an ExecutePipeline(s)
// activity grades, for its summary in the Temporal UI.
func chunkSummary(chunk []DeliveryRef) string {
	if len(chunk) == 1 {
		return fmt.Sprintf("%s · delivery %s", chunk[0].User, chunk[0].ID)
	}
	users := make([]string, 0, min(len(chunk), maxSummaryUsers))
	for _, d := range chunk[:min(len(chunk), maxSummaryUsers)] {
		users = append(users, d.User)
	}
	more := ""
	if len(chunk) > maxSummaryUsers {
		more = fmt.Sprintf(" and %d more", len(chunk)-maxSummaryUsers)
	}
	return fmt.Sprintf("%d deliveries: %s%s", len(chunk), strings.Join(users, ", "), more)
}

// maxSummaryUsers keeps a chunk's summary to one readable line.
const maxSummaryUsers = 5
