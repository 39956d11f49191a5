package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the schema, one set of SQL files valid on both engines.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migration lock polling: goose's minimum period is one second; a waiting
// process gives up after five minutes, far beyond any of our migrations.
const (
	lockPollSeconds = 1
	lockPollTries   = 300
)

// Migrate brings the schema up to date. It is idempotent. On PostgreSQL a
// session advisory lock, scoped to the current database and schema, makes
// concurrent callers apply each migration once. SQLite has no such lock
// (goose offers none): the write lock serialises each migration, but two
// callers may both find one pending and the second then fails on it (an
// ALTER TABLE cannot be made conditional). A caller that fails after the
// schema moved on reads the applied versions again and goes on; one that
// fails without progress reports the error.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	// The global registry holds Go migrations registered by init functions;
	// this store has none and must not pick up another package's.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.dialect == dialectPostgres {
		dialect = goose.DialectPostgres
		locker, err := s.postgresLocker(ctx)
		if err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// The provider is not closed: its Close closes the store's *sql.DB.
	provider, err := goose.NewProvider(dialect, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	applied, seen := 0, int64(-1)
	for {
		results, err := provider.Up(ctx)
		applied += len(results)
		version, verr := provider.GetDBVersion(ctx)
		if err != nil {
			err = fmt.Errorf("migrate store: %w", err)
		}
		switch {
		case verr != nil:
			return errors.Join(err, fmt.Errorf("read schema version: %w", verr))
		case err == nil:
			s.log.InfoContext(ctx, "store migrated", "engine", string(s.dialect), "applied", applied, "schema_version", version)
			return nil
		case s.dialect != dialectSQLite || version <= seen:
			return err
		}
		// Another caller applied what this one tried: read the versions again.
		seen = version
	}
}

// postgresLocker returns goose's advisory-lock locker with a lock id derived
// from the current database and schema, so stores in different schemas (one
// per test, or per environment) migrate without waiting on each other.
func (s *Store) postgresLocker(ctx context.Context) (lock.SessionLocker, error) {
	var scope string
	err := s.db.QueryRowContext(ctx, "SELECT current_database() || '.' || COALESCE(current_schema(), '')").Scan(&scope)
	if err != nil {
		return nil, fmt.Errorf("read schema scope: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("zinc-migrate:" + scope))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(lockPollSeconds, lockPollTries),
	)
	if err != nil {
		return nil, fmt.Errorf("create migration locker: %w", err)
	}
	return locker, nil
}
