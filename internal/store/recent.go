package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// RecentCollections returns up to limit collections, newest first, for the
// instructor pages' overview.
func (s *Store) RecentCollections(ctx context.Context, limit int) ([]grading.Collection, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list recent collections: limit %d is not positive", limit)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, name, start_at, due_at, stop_at, created_at FROM collection
		 ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list recent collections: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []grading.Collection{}
	for rows.Next() {
		var (
			c                      grading.Collection
			startAt, dueAt, stopAt sql.NullInt64
			createdAt              int64
		)
		if err := rows.Scan(&c.ID, &c.Name, &startAt, &dueAt, &stopAt, &createdAt); err != nil {
			return nil, fmt.Errorf("list recent collections: %w", err)
		}
		c.StartAt, c.DueAt, c.StopAt = fromNullMicros(startAt), fromNullMicros(dueAt), fromNullMicros(stopAt)
		c.CreatedAt = fromMicros(createdAt)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recent collections: %w", err)
	}
	return out, nil
}

// CollectionBatches returns up to limit batches of a collection, newest
// first. An unknown collection yields no batches.
func (s *Store) CollectionBatches(ctx context.Context, collectionID string, limit int) ([]grading.Batch, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list batches of collection %s: limit %d is not positive", collectionID, limit)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, workflow_id, run_id, collection_id, config_id, status, summary, created_at, updated_at, `+batchDeliveries+`
		 FROM batch WHERE collection_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, collectionID, limit)
	if err != nil {
		return nil, fmt.Errorf("list batches of collection %s: %w", collectionID, err)
	}
	defer func() { _ = rows.Close() }()
	out := []grading.Batch{}
	for rows.Next() {
		var (
			b                    grading.Batch
			status               string
			summary              sql.NullString
			createdAt, updatedAt int64
		)
		if err := rows.Scan(&b.ID, &b.WorkflowID, &b.RunID, &b.CollectionID, &b.ConfigID, &status, &summary, &createdAt, &updatedAt, &b.Deliveries); err != nil {
			return nil, fmt.Errorf("list batches of collection %s: %w", collectionID, err)
		}
		b.Status = grading.BatchStatus(status)
		if summary.Valid {
			b.Summary = new(grading.Summary)
			if err := json.Unmarshal([]byte(summary.String), b.Summary); err != nil {
				return nil, fmt.Errorf("decode summary of batch %s: %w", b.ID, err)
			}
		}
		b.CreatedAt, b.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches of collection %s: %w", collectionID, err)
	}
	return out, nil
}
