package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// CreateConfig stores cfg — Source verbatim, Parsed as JSON text — and
// returns it with its ID (assigned when empty) and CreatedAt set. Parsed
// must be valid JSON or nil. A duplicate ID is a grading.ErrConflict.
func (s *Store) CreateConfig(ctx context.Context, cfg grading.Config) (grading.Config, error) {
	if cfg.Parsed != nil && !json.Valid(cfg.Parsed) {
		return grading.Config{}, errors.New("create config: parsed form is not valid JSON")
	}
	id, err := ensureID(cfg.ID)
	if err != nil {
		return grading.Config{}, fmt.Errorf("create config: %w", err)
	}
	cfg.ID = id
	cfg.CreatedAt = now()
	parsed := sql.NullString{String: string(cfg.Parsed), Valid: cfg.Parsed != nil}
	if cfg.Course == "" {
		cfg.Course = grading.DefaultCourseID
	}
	if err := s.requireCourses(ctx, cfg.Course); err != nil {
		return grading.Config{}, fmt.Errorf("create config: %w", err)
	}
	err = s.writeAudited(ctx, cfg.ID, cfg.Course, func(db execer) error {
		_, err := db.ExecContext(ctx,
			`INSERT INTO grading_config (id, name, source, parsed, created_at, course_id) VALUES ($1, $2, $3, $4, $5, $6)`,
			cfg.ID, cfg.Name, cfg.Source, parsed, micros(cfg.CreatedAt), cfg.Course)
		return err
	})
	if violated(err) == constraintUnique {
		return grading.Config{}, fmt.Errorf("create config %s: %w", cfg.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.Config{}, fmt.Errorf("create config: %w", err)
	}
	return cfg, nil
}

// Config returns the grading config with the given id.
func (s *Store) Config(ctx context.Context, id string) (grading.Config, error) {
	var (
		cfg       grading.Config
		parsed    sql.NullString
		createdAt int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, source, parsed, created_at, course_id FROM grading_config WHERE id = $1`, id).
		Scan(&cfg.ID, &cfg.Name, &cfg.Source, &parsed, &createdAt, &cfg.Course)
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Config{}, fmt.Errorf("config %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Config{}, fmt.Errorf("get config %s: %w", id, err)
	}
	if parsed.Valid {
		cfg.Parsed = []byte(parsed.String)
	}
	cfg.CreatedAt = fromMicros(createdAt)
	return cfg, nil
}
