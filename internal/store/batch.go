package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// validBatchStatus reports whether st is one of the grading.Batch* statuses.
func validBatchStatus(st grading.BatchStatus) bool {
	switch st {
	case grading.BatchRunning, grading.BatchCompleted, grading.BatchFailed, grading.BatchCancelled:
		return true
	}
	return false
}

// batchDeliveries reads the batch's delivery selection; batches made before
// the column have NULL, which was the only selection then.
const batchDeliveries = `COALESCE(deliveries, '` + grading.DeliveriesLatest + `')`

// CreateBatch stores b and returns it with its ID (assigned when empty),
// Status (running when empty), Deliveries (latest when empty), CreatedAt
// and UpdatedAt set. An unknown collection or config is a
// grading.ErrNotFound; a duplicate ID is a grading.ErrConflict.
func (s *Store) CreateBatch(ctx context.Context, b grading.Batch) (grading.Batch, error) {
	if b.Status == "" {
		b.Status = grading.BatchRunning
	}
	if !validBatchStatus(b.Status) {
		return grading.Batch{}, fmt.Errorf("create batch: unknown status %q", b.Status)
	}
	if b.Deliveries == "" {
		b.Deliveries = grading.DeliveriesLatest
	}
	if !grading.ValidDeliveries(b.Deliveries) {
		return grading.Batch{}, fmt.Errorf("create batch: unknown deliveries %q", b.Deliveries)
	}
	summary, err := summaryJSON(b.Summary)
	if err != nil {
		return grading.Batch{}, fmt.Errorf("create batch: %w", err)
	}
	id, err := ensureID(b.ID)
	if err != nil {
		return grading.Batch{}, fmt.Errorf("create batch: %w", err)
	}
	b.ID = id
	b.CreatedAt = now()
	b.UpdatedAt = b.CreatedAt
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO batch (id, workflow_id, run_id, collection_id, config_id, status, summary, created_at, updated_at, regrade_of, deliveries)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		b.ID, b.WorkflowID, b.RunID, b.CollectionID, b.ConfigID, string(b.Status), summary,
		micros(b.CreatedAt), micros(b.UpdatedAt), nullString(b.RegradeOf), b.Deliveries)
	switch violated(err) {
	case constraintForeignKey:
		return grading.Batch{}, fmt.Errorf("create batch: %w", s.missing(ctx,
			ref{table: "collection", what: "collection", id: b.CollectionID},
			ref{table: "grading_config", what: "config", id: b.ConfigID}))
	case constraintUnique:
		return grading.Batch{}, fmt.Errorf("create batch %s: %w", b.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.Batch{}, fmt.Errorf("create batch: %w", err)
	}
	return b, nil
}

// Batch returns the batch with the given id.
func (s *Store) Batch(ctx context.Context, id string) (grading.Batch, error) {
	var (
		b                    grading.Batch
		status               string
		summary              sql.NullString
		createdAt, updatedAt int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, workflow_id, run_id, collection_id, config_id, status, summary, created_at, updated_at, `+batchDeliveries+`
		 FROM batch WHERE id = $1`, id).
		Scan(&b.ID, &b.WorkflowID, &b.RunID, &b.CollectionID, &b.ConfigID, &status, &summary, &createdAt, &updatedAt, &b.Deliveries)
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Batch{}, fmt.Errorf("batch %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Batch{}, fmt.Errorf("get batch %s: %w", id, err)
	}
	b.Status = grading.BatchStatus(status)
	if summary.Valid {
		b.Summary = new(grading.Summary)
		if err := json.Unmarshal([]byte(summary.String), b.Summary); err != nil {
			return grading.Batch{}, fmt.Errorf("decode summary of batch %s: %w", id, err)
		}
	}
	b.CreatedAt, b.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return b, nil
}

// SetBatchRun records the run id of the workflow execution grading the
// batch, once the workflow has started.
func (s *Store) SetBatchRun(ctx context.Context, id, runID string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE batch SET run_id = $2, updated_at = $3 WHERE id = $1`, id, runID, micros(now()))
	if err != nil {
		return fmt.Errorf("set run of batch %s: %w", id, err)
	}
	return requireAffected(res, "batch", id)
}

// RecordBatchOutcome sets the batch's status and summary.
func (s *Store) RecordBatchOutcome(ctx context.Context, id string, status grading.BatchStatus, summary grading.Summary) error {
	return s.RecordBatchOutcomeAnnounced(ctx, id, status, summary, nil)
}

// RecordBatchOutcomeAnnounced is RecordBatchOutcome that also writes ev to
// the outbox in the same transaction; a nil ev writes no event.
func (s *Store) RecordBatchOutcomeAnnounced(ctx context.Context, id string, status grading.BatchStatus, summary grading.Summary, ev *Event) error {
	if !validBatchStatus(status) {
		return fmt.Errorf("record outcome of batch %s: unknown status %q", id, status)
	}
	encoded, err := summaryJSON(&summary)
	if err != nil {
		return fmt.Errorf("record outcome of batch %s: %w", id, err)
	}
	if ev != nil {
		s.announced()
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE batch SET status = $2, summary = $3, updated_at = $4 WHERE id = $1`,
			id, string(status), encoded, micros(now()))
		if err != nil {
			return err
		}
		if err := requireAffected(res, "batch", id); err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		return addEvent(ctx, tx, *ev)
	})
	if err != nil {
		return fmt.Errorf("record outcome of batch %s: %w", id, err)
	}
	return nil
}

// summaryJSON encodes an optional summary; nil becomes NULL.
func summaryJSON(sum *grading.Summary) (sql.NullString, error) {
	if sum == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode summary: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// requireAffected turns an update that matched no row into a
// grading.ErrNotFound error.
func requireAffected(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("count updated rows: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, id, grading.ErrNotFound)
	}
	return nil
}

// DeleteBatch removes a batch that never started (its workflow was refused)
// and its starting progress row: a batch that graded anything is kept.
func (s *Store) DeleteBatch(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// The progress row written before the workflow starts goes too;
		// its foreign key would otherwise refuse the delete.
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM batch_progress WHERE batch_id = $1 AND NOT EXISTS (SELECT 1 FROM batch_member m WHERE m.batch_id = $1)`, id); err != nil {
			return fmt.Errorf("delete progress of batch %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx,
			`DELETE FROM batch WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM batch_member m WHERE m.batch_id = $1)`, id)
		if err != nil {
			return fmt.Errorf("delete batch %s: %w", id, err)
		}
		return requireAffected(res, "batch", id)
	})
}
