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
	"github.com/zinc-edu/orchestrator/workflows"
)

// Recorder is the part of the store the core activity writes.
type Recorder interface {
	RecordBatchOutcome(ctx context.Context, id string, status grading.BatchStatus, summary grading.Summary) error
	SetBatchProgress(ctx context.Context, id string, progress json.RawMessage) error
}

// Publisher sends asynchronous events.
type Publisher interface {
	Publish(ctx context.Context, subject string, v any, opts ...events.PublishOption) error
}

// Activities are ZINC core's activities, run by the core worker.
type Activities struct {
	store  Recorder
	events Publisher
	log    *slog.Logger
}

// NewActivities returns the core activities.
func NewActivities(s Recorder, events Publisher, log *slog.Logger) *Activities {
	return &Activities{store: s, events: events, log: log}
}

// RecordBatchOutcome stores a batch's final status and summary and
// announces it.
func (a *Activities) RecordBatchOutcome(ctx context.Context, in workflows.RecordBatchOutcomeInput) error {
	err := a.store.RecordBatchOutcome(ctx, in.BatchID, in.Status, in.Summary)
	if errors.Is(err, grading.ErrNotFound) {
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeInvalidInput, err)
	} else if err != nil {
		return fmt.Errorf("record batch %s outcome: %w", in.BatchID, err)
	}
	// The row is the source of truth; a lost notification is logged only.
	if err := a.events.Publish(ctx, events.SubjectBatchCompleted, in, events.WithMsgID("batch:"+in.BatchID)); err != nil {
		a.log.WarnContext(ctx, "batch event not published", "batch_id", in.BatchID, "err", err)
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
