package events

import (
	"strconv"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Version is the version of every event payload below. A change that a
// consumer could misread (a field renamed, removed or given a new meaning)
// bumps it; new optional fields do not. Each version has a JSON Schema under
// schema/ named after its subject.
const Version = 1

// DeliveryCreated is the payload of SubjectDeliveryCreated: a delivery was
// stored with its files.
type DeliveryCreated struct {
	// ID is unique per event and is also its Nats-Msg-Id, so the stream
	// stores the event once however often it is published.
	ID           string    `json:"id"`
	Version      int       `json:"version"`
	DeliveryID   string    `json:"delivery_id"`
	CollectionID string    `json:"collection_id"`
	User         string    `json:"user"`
	SubmittedAt  time.Time `json:"submitted_at"`
	Size         int64     `json:"size"`
	Checksum     string    `json:"checksum"`
}

// NewDeliveryCreated returns the event announcing d. Its id is the
// delivery's, which is created once.
func NewDeliveryCreated(d grading.Delivery) DeliveryCreated {
	return DeliveryCreated{
		ID:           "delivery-created:" + d.ID,
		Version:      Version,
		DeliveryID:   d.ID,
		CollectionID: d.CollectionID,
		User:         d.User,
		SubmittedAt:  d.SubmittedAt,
		Size:         d.Size,
		Checksum:     d.Checksum,
	}
}

// ResultGraded is the payload of SubjectResultGraded: a delivery's result
// was stored. Grading the same delivery again under the same config gives a
// new Attempt and a new event.
type ResultGraded struct {
	// ID is unique per event and is also its Nats-Msg-Id, so the stream
	// stores the event once however often it is published.
	ID         string               `json:"id"`
	Version    int                  `json:"version"`
	DeliveryID string               `json:"delivery_id"`
	ConfigID   string               `json:"config_id"`
	BatchID    string               `json:"batch_id,omitempty"`
	User       string               `json:"user"`
	Status     grading.ResultStatus `json:"status"`
	Score      float64              `json:"score"`
	MaxScore   float64              `json:"max_score"`
	Attempt    int                  `json:"attempt"`
	GradedAt   time.Time            `json:"graded_at"`
}

// NewResultGraded returns the event announcing the stored result r; r's
// Attempt must be the stored one, since it makes the id unique.
func NewResultGraded(r grading.Result) ResultGraded {
	return ResultGraded{
		ID:         "result-graded:" + r.DeliveryID + ":" + r.ConfigID + ":" + strconv.Itoa(r.Attempt),
		Version:    Version,
		DeliveryID: r.DeliveryID,
		ConfigID:   r.ConfigID,
		BatchID:    r.BatchID,
		User:       r.User,
		Status:     r.Status,
		Score:      r.Score,
		MaxScore:   r.MaxScore,
		Attempt:    r.Attempt,
		GradedAt:   r.GradedAt,
	}
}

// BatchCompleted is the payload of SubjectBatchCompleted: a batch reached
// its final status.
type BatchCompleted struct {
	// ID is unique per event and is also its Nats-Msg-Id, so the stream
	// stores the event once however often it is published.
	ID      string              `json:"id"`
	Version int                 `json:"version"`
	BatchID string              `json:"batch_id"`
	Status  grading.BatchStatus `json:"status"`
	Summary grading.Summary     `json:"summary"`
}

// NewBatchCompleted returns the event announcing the end of a batch. A batch
// ends once, so its id is the batch's.
func NewBatchCompleted(batchID string, status grading.BatchStatus, summary grading.Summary) BatchCompleted {
	return BatchCompleted{
		ID:      "batch-completed:" + batchID,
		Version: Version,
		BatchID: batchID,
		Status:  status,
		Summary: summary,
	}
}

// Event is a payload that names its id, its subject and the key whose
// events must reach the stream in the order they were written.
type Event interface {
	EventID() string
	EventSubject() string
	OrderKey() string
}

var (
	_ Event = DeliveryCreated{}
	_ Event = ResultGraded{}
	_ Event = BatchCompleted{}
)

// EventID implements Event.
func (e DeliveryCreated) EventID() string { return e.ID }

// EventSubject implements Event.
func (DeliveryCreated) EventSubject() string { return SubjectDeliveryCreated }

// OrderKey implements Event: a delivery belongs to no batch yet.
func (e DeliveryCreated) OrderKey() string { return "collection:" + e.CollectionID }

// EventID implements Event.
func (e ResultGraded) EventID() string { return e.ID }

// EventSubject implements Event.
func (ResultGraded) EventSubject() string { return SubjectResultGraded }

// OrderKey implements Event.
func (e ResultGraded) OrderKey() string { return batchKey(e.BatchID) }

// EventID implements Event.
func (e BatchCompleted) EventID() string { return e.ID }

// EventSubject implements Event.
func (BatchCompleted) EventSubject() string { return SubjectBatchCompleted }

// OrderKey implements Event.
func (e BatchCompleted) OrderKey() string { return batchKey(e.BatchID) }

// batchKey orders a batch's events; a result graded outside any batch has
// no order to keep.
func batchKey(id string) string {
	if id == "" {
		return ""
	}
	return "batch:" + id
}
