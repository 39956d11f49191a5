package batches_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// TestGetServesKeptProgressAndSays503WhenTemporalIsDown: a running batch's
// progress comes from its row without asking Temporal, even while
// Temporal is down; a batch without a fresh row needs Temporal, and its
// being unreachable is ErrUnavailable, within the call's time bound.
func TestGetServesKeptProgressAndSays503WhenTemporalIsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	c, stopTemporal := stoppableTemporal(ctx, t, log)
	st, col, cfg := storeWithPair(ctx, t)
	newRunning := func() grading.Batch {
		b, err := st.CreateBatch(ctx, grading.Batch{WorkflowID: "batch-grading:" + col.ID + ":" + cfg.ID, CollectionID: col.ID, ConfigID: cfg.ID})
		require.NoError(t, err)
		return b
	}
	kept, bare := newRunning(), newRunning()
	want := workflows.Progress{Total: 10, Done: 4, Failed: 1, InFlight: 2, Concurrency: 2, PerSecond: 1.5}
	doc, err := json.Marshal(want)
	require.NoError(t, err)
	require.NoError(t, st.SetBatchProgress(ctx, kept.ID, doc))

	svc := batches.NewService(st, c, log)
	stopTemporal()

	v, err := svc.Get(ctx, kept.ID)
	require.NoError(t, err)
	require.Equal(t, grading.BatchRunning, v.Status)
	require.Equal(t, want, v.Progress)

	began := time.Now()
	_, err = svc.Get(ctx, bare.ID)
	require.ErrorIs(t, err, batches.ErrUnavailable)
	require.Less(t, time.Since(began), 10*time.Second, "bounded, not hanging on a dead server")
}

var _ batches.Store = (*store.Store)(nil)

// TestStartSays503WhenTemporalIsDown: a batch started while Temporal cannot
// be reached was answered 500 "internal error" (the start's error was not
// marked unavailable), and its row stayed behind as a running batch. It is
// ErrUnavailable (503 with Retry-After), and nothing is left.
func TestStartSays503WhenTemporalIsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	c, stopTemporal := stoppableTemporal(ctx, t, log)
	st, col, cfg := storeWithPair(ctx, t)
	svc := batches.NewService(st, c, log)
	stopTemporal()

	_, err := svc.Start(ctx, batches.StartRequest{CollectionID: col.ID, ConfigID: cfg.ID})

	require.ErrorIs(t, err, batches.ErrUnavailable)
	left, _, err := st.Batches(ctx, col.ID, nil, "", store.MaxPageSize)
	require.NoError(t, err)
	require.Empty(t, left, "the batch that did not start is not kept")
}

// stoppableTemporal starts a Temporal dev server and a client of it; stop
// takes the server away (cleanup stops it otherwise).
func stoppableTemporal(ctx context.Context, t *testing.T, log *slog.Logger) (c *temporal.Client, stop func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	srv, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{IP: "127.0.0.1", UIPort: -1})
	require.NoError(t, err)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			require.NoError(t, srv.Stop())
		}
	}
	t.Cleanup(stop)
	c, err = temporal.Dial(ctx, temporal.Config{HostPort: srv.Address(), Namespace: "default"}, log, tracenoop.NewTracerProvider(), noop.NewMeterProvider())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, stop
}

// storeWithPair opens a store holding one collection and one config.
func storeWithPair(ctx context.Context, t *testing.T) (*store.Store, grading.Collection, grading.Config) {
	t.Helper()
	st := storetest.Open(t)
	col, err := st.CreateCollection(ctx, grading.Collection{Name: "c"})
	require.NoError(t, err)
	cfg, err := st.CreateConfig(ctx, grading.Config{Name: "c", Source: "version: 1\n", Parsed: []byte(`{"version":1}`)})
	require.NoError(t, err)
	return st, col, cfg
}
