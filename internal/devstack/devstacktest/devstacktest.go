// Package devstacktest gives other packages' tests real servers from devstack:
// a Temporal server per test, a fresh namespace per use, and a NATS URL. Every
// helper takes a testing.TB, fails the test on error and registers its own
// cleanup.
package devstacktest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// startTimeout bounds a server start; a cold Temporal start on a busy
// two-core machine takes several seconds.
const startTimeout = 2 * time.Minute

// Temporal starts an in-memory Temporal server without UI for the calling
// test and stops it when the test ends. configure may adjust those defaults.
// Each call costs a few seconds and roughly 100 MB, so start one per test (or
// per top-level test with subtests) and isolate work with Namespace. Server
// errors go to stderr.
func Temporal(tb testing.TB, configure ...func(*devstack.TemporalOptions)) *devstack.Temporal {
	tb.Helper()
	o := devstack.TemporalOptions{
		UIPort: -1,
		// Errors only: warnings are routine at start-up and shutdown. Stderr,
		// not tb.Log, because server goroutines can outlive the test.
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
		LogLevel: slog.LevelError,
	}
	for _, c := range configure {
		c(&o)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	srv, err := devstack.StartTemporal(ctx, o)
	if err != nil {
		tb.Fatalf("start temporal: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			tb.Errorf("stop temporal: %v", err)
		}
	})
	return srv
}

// Namespace registers a namespace with a unique name on srv and returns the
// name once workflows can start in it. Namespaces are not deleted: they
// vanish with the in-memory server.
func Namespace(tb testing.TB, srv *devstack.Temporal) string {
	tb.Helper()
	name := "test-" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	if err := srv.RegisterNamespace(ctx, name); err != nil {
		tb.Fatalf("register namespace: %v", err)
	}
	return name
}

// NATSURL returns $NATS_URL when set (CI points it at the machine's server)
// and otherwise starts an embedded NATS with JetStream for the calling test,
// stopped when the test ends. Tests sharing a server must use subjects and
// stream names of their own.
func NATSURL(tb testing.TB) string {
	tb.Helper()
	if url := os.Getenv("NATS_URL"); url != "" {
		return url
	}
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	srv, err := devstack.StartNATS(ctx, devstack.NATSOptions{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			tb.Errorf("stop nats: %v", err)
		}
	})
	return srv.URL()
}
