package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// SetBatchProgress stores the latest progress document of a running batch,
// replacing the previous one. An unknown batch is a grading.ErrNotFound.
func (s *Store) SetBatchProgress(ctx context.Context, batchID string, progress json.RawMessage) error {
	if !json.Valid(progress) {
		return fmt.Errorf("set progress of batch %s: progress is not JSON", batchID)
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO batch_progress (batch_id, progress, updated_at) VALUES ($1, $2, $3)
		 ON CONFLICT (batch_id) DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at`,
		batchID, string(progress), micros(now()))
	if violated(err) == constraintForeignKey {
		return fmt.Errorf("set progress of batch %s: batch %s: %w", batchID, batchID, grading.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set progress of batch %s: %w", batchID, err)
	}
	return nil
}

// BatchProgress returns the progress document stored for a batch and when
// it was written; a batch without one is a grading.ErrNotFound.
func (s *Store) BatchProgress(ctx context.Context, batchID string) (json.RawMessage, time.Time, error) {
	var (
		doc string
		at  int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT progress, updated_at FROM batch_progress WHERE batch_id = $1`, batchID).Scan(&doc, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("progress of batch %s: %w", batchID, grading.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get progress of batch %s: %w", batchID, err)
	}
	return json.RawMessage(doc), fromMicros(at), nil
}
