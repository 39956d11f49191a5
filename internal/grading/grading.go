// Package grading holds ZINC's grading domain: collections, deliveries,
// grading configs, results and batches, with the pure rules that act on them.
// It does no I/O, so every layer above it can share these types.
package grading

import (
	"errors"
	"time"
)

// ErrNotFound reports that a collection, delivery, config, result or batch
// does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that an operation collides with existing state, such as
// a second running batch for the same collection and config.
var ErrConflict = errors.New("conflict")

// Collection is a set of student deliveries, such as one assignment.
// A nil time means "not set".
type Collection struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Course    string     `json:"course"`
	StartAt   *time.Time `json:"start_at,omitempty"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	StopAt    *time.Time `json:"stop_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Delivery is one submission of files by one user to a collection. Its files
// are one archive in object storage under ObjectKey.
type Delivery struct {
	ID           string    `json:"id"`
	CollectionID string    `json:"collection_id"`
	User         string    `json:"user"`
	SubmittedAt  time.Time `json:"submitted_at"`
	ObjectKey    string    `json:"object_key"`
	Size         int64     `json:"size"`
	Checksum     string    `json:"checksum"`
}

// Config is a grading configuration: the pipeline definition exactly as it
// was uploaded (Source) and its parsed form as JSON (Parsed).
type Config struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Course    string    `json:"course"`
	Source    string    `json:"source"`
	Parsed    []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// ResultStatus is the outcome class of grading one delivery.
type ResultStatus string

// Result statuses. Ungraded means the pipeline ran but no score could be
// given; it is never the same as a score of 0.
const (
	StatusGraded   ResultStatus = "graded"
	StatusUngraded ResultStatus = "ungraded"
	StatusError    ResultStatus = "error"
)

// StepState is the outcome of one stage or scenario of a pipeline.
type StepState string

// Step states. Error outranks failed: it means the step could not be judged
// (timeout, limit, infrastructure), not that the student's work was wrong.
const (
	StepSuccess StepState = "success"
	StepFailed  StepState = "failed"
	StepError   StepState = "error"
	StepSkipped StepState = "skipped"
)

// Step is the recorded outcome of one stage, or of one scenario of a stage.
type Step struct {
	Stage      string    `json:"stage"`
	Scenario   string    `json:"scenario,omitempty"`
	State      StepState `json:"state"`
	ExitCode   *int      `json:"exit_code,omitempty"`
	Signal     string    `json:"signal,omitempty"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	LimitHit   string    `json:"limit_hit,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Points     float64   `json:"points"`
	MaxPoints  float64   `json:"max_points"`
	Message    string    `json:"message,omitempty"`
	Stdout     string    `json:"stdout,omitempty"`
	Stderr     string    `json:"stderr,omitempty"`
	Truncated  bool      `json:"truncated,omitempty"`
	Visibility string    `json:"visibility,omitempty"`
	// Infrastructure marks a step in error because the worker failed it
	// (sandbox, storage), not the student or the definition.
	Infrastructure bool `json:"infrastructure,omitempty"`
	// Diff is, for staff, where a failed comparison parted from the
	// expected output; it may quote hidden expected output.
	Diff string `json:"diff,omitempty"`
	// Command is the command line a compile step ran.
	Command []string `json:"command,omitempty"`
}

// Component is the score of one rubric component.
type Component struct {
	Name     string  `json:"name"`
	Score    float64 `json:"score"`
	MaxScore float64 `json:"max_score"`
}

// Result is the grade of one delivery under one config. There is at most one
// per (DeliveryID, ConfigID): grading again overwrites it and bumps Attempt.
type Result struct {
	DeliveryID string       `json:"delivery_id"`
	ConfigID   string       `json:"config_id"`
	BatchID    string       `json:"batch_id,omitempty"`
	User       string       `json:"user,omitempty"`
	Status     ResultStatus `json:"status"`
	Score      float64      `json:"score"`
	MaxScore   float64      `json:"max_score"`
	Components []Component  `json:"components,omitempty"`
	Steps      []Step       `json:"steps"`
	Diagnostic string       `json:"diagnostic,omitempty"`
	ObjectKey  string       `json:"object_key,omitempty"`
	Attempt    int          `json:"attempt"`
	GradedAt   time.Time    `json:"graded_at"`
}

// BatchStatus is the lifecycle state of a batch.
type BatchStatus string

// Batch statuses.
const (
	BatchRunning   BatchStatus = "running"
	BatchCompleted BatchStatus = "completed"
	BatchFailed    BatchStatus = "failed"
	BatchCancelled BatchStatus = "cancelled"
)

// Batch is one grading run of a config over a collection's latest
// deliveries, or all of them.
type Batch struct {
	ID           string      `json:"id"`
	WorkflowID   string      `json:"workflow_id"`
	RunID        string      `json:"run_id,omitempty"`
	CollectionID string      `json:"collection_id"`
	ConfigID     string      `json:"config_id"`
	Status       BatchStatus `json:"status"`
	Summary      *Summary    `json:"summary,omitempty"`
	// RegradeOf is the batch whose failed deliveries this one grades again.
	RegradeOf string `json:"regrade_of,omitempty"`
	// Deliveries is which deliveries of the collection the batch grades:
	// DeliveriesLatest (the default) or DeliveriesAll.
	Deliveries string    `json:"deliveries,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Which deliveries of a collection a batch grades.
const (
	// DeliveriesLatest grades the newest delivery of each user.
	DeliveriesLatest = "latest"
	// DeliveriesAll grades every delivery (every version) of every user.
	DeliveriesAll = "all"
)

// ValidDeliveries reports whether s names a delivery selection; "" is the
// default, DeliveriesLatest.
func ValidDeliveries(s string) bool {
	return s == "" || s == DeliveriesLatest || s == DeliveriesAll
}
