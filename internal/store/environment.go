package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

const environmentColumns = `name, digest, manifest_digest, size, object_key, created_by, created_at`

// CreateEnvironment stores env with CreatedAt set and returns it. A name
// already taken, whatever its content, is a grading.ErrConflict: the
// caller compares digests to tell a repeated upload from a clash.
func (s *Store) CreateEnvironment(ctx context.Context, env grading.Environment) (grading.Environment, error) {
	if !grading.ValidEnvironmentName(env.Name) {
		return grading.Environment{}, fmt.Errorf("create environment: invalid name %q", env.Name)
	}
	env.CreatedAt = now()
	err := s.writeAudited(ctx, env.Name, "", func(db execer) error {
		_, err := db.ExecContext(ctx,
			`INSERT INTO environment (`+environmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			env.Name, env.Digest, env.ManifestDigest, env.Size, env.ObjectKey, env.CreatedBy, micros(env.CreatedAt))
		return err
	})
	if violated(err) == constraintUnique {
		return grading.Environment{}, fmt.Errorf("create environment %s: %w", env.Name, grading.ErrConflict)
	}
	if err != nil {
		return grading.Environment{}, fmt.Errorf("create environment %s: %w", env.Name, err)
	}
	return env, nil
}

// Environment returns the environment with the given name.
func (s *Store) Environment(ctx context.Context, name string) (grading.Environment, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+environmentColumns+` FROM environment WHERE name = $1`, name)
	env, _, err := scanEnvironment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Environment{}, fmt.Errorf("environment %s: %w", name, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Environment{}, fmt.Errorf("get environment %s: %w", name, err)
	}
	return env, nil
}

// EnvironmentDigestInUse reports whether an environment of the given image
// digest exists: environments of equal bytes share one object.
func (s *Store) EnvironmentDigestInUse(ctx context.Context, digest string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM environment WHERE digest = $1 LIMIT 1`, digest).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up environments of %s: %w", digest, err)
	}
	return true, nil
}

// Environments lists environments newest first, paginated as Collections.
func (s *Store) Environments(ctx context.Context, after string, limit int) ([]grading.Environment, string, error) {
	items, next, err := page(ctx, s, `SELECT `+environmentColumns+` FROM environment WHERE 1 = 1`,
		"created_at", "name", nil, after, limit,
		func(rows *sql.Rows) (grading.Environment, cursor, error) {
			env, createdAt, err := scanEnvironment(rows)
			return env, cursor{at: createdAt, id: env.Name}, err
		})
	if err != nil {
		return nil, "", fmt.Errorf("list environments: %w", err)
	}
	return items, next, nil
}

// scanEnvironment reads one row of environmentColumns and returns its
// creation time as stored, for cursors.
func scanEnvironment(row interface{ Scan(...any) error }) (grading.Environment, int64, error) {
	var (
		env       grading.Environment
		createdAt int64
	)
	if err := row.Scan(&env.Name, &env.Digest, &env.ManifestDigest, &env.Size, &env.ObjectKey, &env.CreatedBy, &createdAt); err != nil {
		return grading.Environment{}, 0, err
	}
	env.CreatedAt = fromMicros(createdAt)
	return env, createdAt, nil
}
