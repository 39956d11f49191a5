package batches

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/workflows"
)

// Recorder is the part of the store the core activity writes.
type Recorder interface {
	RecordBatchOutcomeAnnounced(ctx context.Context, id string, status grading.BatchStatus, summary grading.Summary, ev *store.Event) error
	SetBatchProgress(ctx context.Context, id string, progress json.RawMessage) error
}

// Announcer turns an event into the outbox entry stored with its row.
// *outbox.Encoder implements it.
type Announcer interface {
	Encode(ctx context.Context, ev events.Event) (store.Event, error)
}

// Activities are ZINC core's activities, run by the core worker.
type Activities struct {
	store  Recorder
	events Announcer
	log    *slog.Logger
}

// NewActivities returns the core activities.
func NewActivities(s Recorder, events Announcer, log *slog.Logger) *Activities {
	return &Activities{store: s, events: events, log: log}
}

// RecordBatchOutcome stores a batch's final status and summary together
// with the event announcing it, which the outbox relay publishes.
func (a *Activities) RecordBatchOutcome(ctx context.Context, in workflows.RecordBatchOutcomeInput) error {
	ev, err := a.events.Encode(ctx, events.NewBatchCompleted(in.BatchID, in.Status, in.Summary))
	if err != nil {
		return fmt.Errorf("record batch %s outcome: %w", in.BatchID, err)
	}
	err = a.store.RecordBatchOutcomeAnnounced(ctx, in.BatchID, in.Status, in.Summary, &ev)
	if errors.Is(err, grading.ErrNotFound) {
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeInvalidInput, err)
	} else if err != nil {
		return fmt.Errorf("record batch %s outcome: %w", in.BatchID, err)
	}
	return nil
}

// RecordBatchProgress stores a running batch's progress, which is what
// GET /v1/batches/{id} serves.
func (a *Activities) RecordBatchProgress(ctx context.Context, in workflows.RecordBatchProgressInput) error {
	doc, err := json.Marshal(in.Progress)
	if err != nil {
		return sdktemporal.NewNonRetryableApplicationError("encode batch progress: "+err.Error(), workflows.ErrTypeInvalidInput, nil)
	}
	if err := a.store.SetBatchProgress(ctx, in.BatchID, doc); err != nil {
		return fmt.Errorf("record batch %s progress: %w", in.BatchID, err)
	}
	return nil
}
