// Package storetest gives tests a fresh, migrated store of their own: a
// SQLite file in a temporary directory always, and a PostgreSQL schema when
// DATABASE_URL is set. Everything it creates is removed in t.Cleanup.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zinc-edu/orchestrator/internal/store"
)

// EnvDatabaseURL names the variable holding the PostgreSQL URL to test
// against; tests that need PostgreSQL skip when it is unset.
const EnvDatabaseURL = "DATABASE_URL"

// setupTimeout bounds creating and dropping a test schema, so a stuck
// database fails the test instead of hanging it.
const setupTimeout = 30 * time.Second

// SQLiteURL returns the URL of a new SQLite file in a temporary directory
// that is removed after the test. Nothing is created until a store opens it.
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite://" + (&url.URL{Path: filepath.Join(tb.TempDir(), "zinc.db")}).EscapedPath()
}

// PostgresURL creates an empty schema zinc_test_<random> in the database
// named by DATABASE_URL and returns that URL with search_path set to the
// schema, which is dropped after the test. It skips the test when
// DATABASE_URL is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		tb.Skipf("%s is not set", EnvDatabaseURL)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", EnvDatabaseURL)
	}
	schema := fmt.Sprintf("zinc_test_%016x", rand.Uint64())
	// The schema name is made here from hex digits, so it is safe to splice.
	admin(tb, base, "CREATE SCHEMA "+schema)
	tb.Cleanup(func() { admin(tb, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs one statement on its own connection to the base database.
func admin(tb testing.TB, dbURL, stmt string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvDatabaseURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		tb.Fatalf("run %q: %v", stmt, err)
	}
}

// Open returns a migrated store on a new SQLite file, closed after the test.
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	return openMigrated(tb, SQLiteURL(tb))
}

// OpenPostgres returns a migrated store in a new PostgreSQL schema, closed
// and dropped after the test. It skips the test when DATABASE_URL is unset.
func OpenPostgres(tb testing.TB) *store.Store {
	tb.Helper()
	return openMigrated(tb, PostgresURL(tb))
}

// Each runs fn as a subtest on every engine: "sqlite" always and "postgres",
// which skips when DATABASE_URL is unset. Each subtest gets its own store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, Open(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// openMigrated opens the store at dbURL, applies migrations and closes it
// after the test.
func openMigrated(tb testing.TB, dbURL string) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	// Registered after PostgresURL's DROP SCHEMA, so it runs before it
	// (cleanups run last-in first-out) and no pooled session is left behind.
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate store: %v", err)
	}
	return s
}
