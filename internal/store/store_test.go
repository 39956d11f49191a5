package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// TestMain checks that closing a store leaves no connection goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is a fixed instant the tests place deliveries around.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func newCollection(t *testing.T, s *store.Store, stopAt *time.Time) grading.Collection {
	t.Helper()
	c, err := s.CreateCollection(t.Context(), grading.Collection{Name: "lab 1", StopAt: stopAt})
	require.NoError(t, err)
	return c
}

func newDelivery(t *testing.T, s *store.Store, d grading.Delivery) grading.Delivery {
	t.Helper()
	d, err := s.CreateDelivery(t.Context(), d)
	require.NoError(t, err)
	return d
}

func newConfig(t *testing.T, s *store.Store) grading.Config {
	t.Helper()
	cfg, err := s.CreateConfig(t.Context(), grading.Config{Name: "c", Source: "version: 1\n", Parsed: []byte(`{"version":1}`)})
	require.NoError(t, err)
	return cfg
}

func newBatch(t *testing.T, s *store.Store, collectionID, configID string) grading.Batch {
	t.Helper()
	b, err := s.CreateBatch(t.Context(), grading.Batch{
		WorkflowID: "batch-grading:" + collectionID + ":" + configID, CollectionID: collectionID, ConfigID: configID,
	})
	require.NoError(t, err)
	return b
}

func users(ds []grading.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.User
	}
	return out
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		giveURL  string
		wantFile string
	}{
		{name: "sqlite absolute", giveURL: "sqlite://" + filepath.Join(dir, "abs.db"), wantFile: filepath.Join(dir, "abs.db")},
		{name: "file URI", giveURL: "file:" + filepath.Join(dir, "uri.db"), wantFile: filepath.Join(dir, "uri.db")},
		{name: "file URI with own pragma", giveURL: "file:" + filepath.Join(dir, "own.db") + "?_pragma=busy_timeout(1000)", wantFile: filepath.Join(dir, "own.db")},
		{name: "escaped path", giveURL: "sqlite://" + filepath.Join(dir, "a%3Fb#c%2520 d.db"), wantFile: filepath.Join(dir, "a?b#c%20 d.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tt.giveURL, nil)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			require.NoError(t, s.Migrate(t.Context()))
			require.NoError(t, s.Ping(t.Context()))
			_, err = s.CreateCollection(t.Context(), grading.Collection{Name: "x"})
			require.NoError(t, err)

			assert.FileExists(t, tt.wantFile)
			// A -wal file beside the database shows WAL mode is on.
			assert.FileExists(t, tt.wantFile+"-wal")
		})
	}
}

func TestOpenRelativeSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := store.Open(t.Context(), "sqlite:relative.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))

	assert.FileExists(t, filepath.Join(dir, "relative.db"))
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name      string
		giveURL   string
		wantError string
	}{
		{name: "unknown scheme", giveURL: "mysql://root:secret@localhost/zinc", wantError: `unsupported database URL scheme "mysql"`},
		{name: "no scheme", giveURL: "/var/lib/zinc.db", wantError: "unsupported database URL scheme"},
		{name: "empty", giveURL: "", wantError: "unsupported database URL scheme"},
		{name: "sqlite without path", giveURL: "sqlite://", wantError: "no file path"},
		{name: "missing sqlite directory", giveURL: "sqlite:///nonexistent-zinc-dir/x/zinc.db", wantError: "open sqlite store"},
		{name: "bad sqlite pragma", giveURL: "sqlite://" + filepath.Join(t.TempDir(), "x.db") + "?_txlock=sometimes", wantError: "_txlock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tt.giveURL, nil)

			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.wantError)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)

		require.NoError(t, s.Migrate(t.Context()))

		got, err := s.Collection(t.Context(), c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
}

func TestConcurrentMigrate(t *testing.T) {
	tests := []struct {
		name   string
		giveDB func(testing.TB) string
	}{
		{name: "sqlite", giveDB: storetest.SQLiteURL},
		{name: "postgres", giveDB: storetest.PostgresURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbURL := tt.giveDB(t)
			const n = 4
			stores := make([]*store.Store, n)
			for i := range stores {
				s, err := store.Open(t.Context(), dbURL, nil)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, s.Close()) })
				stores[i] = s
			}

			errs := make(chan error, n) // buffered so no migrating goroutine blocks on a failed test
			for _, s := range stores {
				go func() { errs <- s.Migrate(t.Context()) }()
			}
			for range n {
				require.NoError(t, <-errs)
			}

			c := newCollection(t, stores[0], nil)
			got, err := stores[n-1].Collection(t.Context(), c.ID)
			require.NoError(t, err)
			assert.Equal(t, c, got)
		})
	}
}

func TestConcurrentMigrateAppliesOncePostgres(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	const n = 3
	errs := make(chan error, n)
	for range n {
		s, err := store.Open(t.Context(), dbURL, nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		go func() { errs <- s.Migrate(t.Context()) }()
	}
	for range n {
		require.NoError(t, <-errs)
	}

	// goose records each applied migration once; a second application of
	// version 1 would have failed or left two rows.
	assert.Equal(t, 1, countRows(t, dbURL, "SELECT count(*) FROM goose_db_version WHERE version_id = 1"))
}

func TestCollectionRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		paris := time.FixedZone("CET", 3600)
		start := time.Date(2026, 2, 1, 9, 0, 0, 123456789, paris)
		c, err := s.CreateCollection(t.Context(), grading.Collection{Name: "lab 1", StartAt: &start, DueAt: ptr(at(60))})
		require.NoError(t, err)

		got, err := s.Collection(t.Context(), c.ID)
		require.NoError(t, err)

		assert.Equal(t, c, got)
		assert.NotEmpty(t, got.ID)
		assert.False(t, got.CreatedAt.IsZero())
		assert.Equal(t, time.Date(2026, 2, 1, 8, 0, 0, 123456000, time.UTC), *got.StartAt)
		assert.Equal(t, at(60), *got.DueAt)
		assert.Nil(t, got.StopAt)
	})
}

func TestDeliveryRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)
		d := newDelivery(t, s, grading.Delivery{
			CollectionID: c.ID, User: "alice", ObjectKey: "deliveries/x.tar.gz", Size: 1 << 40, Checksum: "sha256:ab",
		})

		got, err := s.Delivery(t.Context(), d.ID)
		require.NoError(t, err)

		assert.Equal(t, d, got)
		assert.False(t, got.SubmittedAt.IsZero(), "SubmittedAt defaults to now")
	})
}

func TestLatestDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, ptr(at(10)))
		other := newCollection(t, s, nil)

		// Inserted out of user order, so ordering must come from the query.
		dave := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "dave", SubmittedAt: at(10)}) // exactly at stop_at
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "carol", SubmittedAt: at(11)})        // only after stop_at
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(0)})
		alice := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(5)})
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(20)}) // after stop_at
		newDelivery(t, s, grading.Delivery{CollectionID: other.ID, User: "alice", SubmittedAt: at(7)})

		// Same timestamp: the higher id wins even when it was inserted first.
		lowID, err := store.NewID()
		require.NoError(t, err)
		highID, err := store.NewID()
		require.NoError(t, err)
		require.Less(t, lowID, highID)
		bob := newDelivery(t, s, grading.Delivery{ID: highID, CollectionID: c.ID, User: "bob", SubmittedAt: at(3)})
		newDelivery(t, s, grading.Delivery{ID: lowID, CollectionID: c.ID, User: "bob", SubmittedAt: at(3)})

		got, err := s.LatestDeliveries(ctx, c.ID, "", 100)
		require.NoError(t, err)
		assert.Equal(t, []grading.Delivery{alice, bob, dave}, got)

		n, err := s.CountLatestDeliveries(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
	})
}

func TestLatestDeliveriesWithoutStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(5)})
		late := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(500)})

		got, err := s.LatestDeliveries(t.Context(), c.ID, "", 10)
		require.NoError(t, err)
		assert.Equal(t, []grading.Delivery{late}, got)
	})
}

func TestLatestDeliveriesPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		for _, u := range []string{"erin", "bob", "dave", "alice", "carol"} {
			newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: u, SubmittedAt: at(1)})
			newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: u, SubmittedAt: at(2)})
		}

		var pages [][]string
		after := ""
		for {
			page, err := s.LatestDeliveries(ctx, c.ID, after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 2)
			pages = append(pages, users(page))
			after = page[len(page)-1].User
		}

		assert.Equal(t, [][]string{{"alice", "bob"}, {"carol", "dave"}, {"erin"}}, pages)
	})
}

func TestLatestDeliveriesEmptyCollection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)

		got, err := s.LatestDeliveries(t.Context(), c.ID, "", 10)
		require.NoError(t, err)
		assert.Empty(t, got)
		n, err := s.CountLatestDeliveries(t.Context(), c.ID)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

func TestLatestDeliveriesRejectsLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)

		_, err := s.LatestDeliveries(t.Context(), c.ID, "", 0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "limit")
	})
}

func TestNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice"})
		b := newBatch(t, s, c.ID, cfg.ID)
		result := func(deliveryID, configID, batchID string) grading.Result {
			return grading.Result{DeliveryID: deliveryID, ConfigID: configID, BatchID: batchID, Status: grading.StatusGraded}
		}

		tests := []struct {
			name     string
			giveCall func(ctx context.Context) error
			wantIn   string
		}{
			{name: "collection", giveCall: func(ctx context.Context) error { _, err := s.Collection(ctx, "missing"); return err }, wantIn: "collection missing"},
			{name: "delivery", giveCall: func(ctx context.Context) error { _, err := s.Delivery(ctx, "missing"); return err }, wantIn: "delivery missing"},
			{name: "config", giveCall: func(ctx context.Context) error { _, err := s.Config(ctx, "missing"); return err }, wantIn: "config missing"},
			{name: "batch", giveCall: func(ctx context.Context) error { _, err := s.Batch(ctx, "missing"); return err }, wantIn: "batch missing"},
			{name: "result", giveCall: func(ctx context.Context) error { _, err := s.Result(ctx, d.ID, cfg.ID); return err }, wantIn: "result"},
			{name: "delivery in unknown collection", giveCall: func(ctx context.Context) error {
				_, err := s.CreateDelivery(ctx, grading.Delivery{CollectionID: "missing", User: "bob"})
				return err
			}, wantIn: "collection missing"},
			{name: "batch of unknown collection", giveCall: func(ctx context.Context) error {
				_, err := s.CreateBatch(ctx, grading.Batch{CollectionID: "missing", ConfigID: cfg.ID})
				return err
			}, wantIn: "collection missing"},
			{name: "batch of unknown config", giveCall: func(ctx context.Context) error {
				_, err := s.CreateBatch(ctx, grading.Batch{CollectionID: c.ID, ConfigID: "missing"})
				return err
			}, wantIn: "config missing"},
			{name: "set run of unknown batch", giveCall: func(ctx context.Context) error { return s.SetBatchRun(ctx, "missing", "run") }, wantIn: "batch missing"},
			{name: "outcome of unknown batch", giveCall: func(ctx context.Context) error {
				return s.RecordBatchOutcome(ctx, "missing", grading.BatchCompleted, grading.Summary{})
			}, wantIn: "batch missing"},
			{name: "result of unknown delivery", giveCall: func(ctx context.Context) error {
				_, err := s.SaveResult(ctx, result("missing", cfg.ID, b.ID))
				return err
			}, wantIn: "delivery missing"},
			{name: "result of unknown config", giveCall: func(ctx context.Context) error {
				_, err := s.SaveResult(ctx, result(d.ID, "missing", b.ID))
				return err
			}, wantIn: "config missing"},
			{name: "result of unknown batch", giveCall: func(ctx context.Context) error {
				_, err := s.SaveResult(ctx, result(d.ID, cfg.ID, "missing"))
				return err
			}, wantIn: "batch missing"},
			{name: "results with unknown delivery", giveCall: func(ctx context.Context) error {
				return s.SaveResults(ctx, []grading.Result{result(d.ID, cfg.ID, b.ID), result("missing", cfg.ID, b.ID)})
			}, wantIn: "row 1: delivery missing"},
			{name: "latest deliveries of unknown collection", giveCall: func(ctx context.Context) error {
				_, err := s.LatestDeliveries(ctx, "missing", "", 10)
				return err
			}, wantIn: "collection missing"},
			{name: "count of unknown collection", giveCall: func(ctx context.Context) error {
				_, err := s.CountLatestDeliveries(ctx, "missing")
				return err
			}, wantIn: "collection missing"},
			{name: "results of unknown batch", giveCall: func(ctx context.Context) error {
				_, err := s.BatchResults(ctx, "missing")
				return err
			}, wantIn: "batch missing"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.giveCall(t.Context())

				require.ErrorIs(t, err, grading.ErrNotFound)
				assert.Contains(t, err.Error(), tt.wantIn)
			})
		}

		// The failed SaveResults saved nothing, not even its valid first row.
		_, err := s.Result(t.Context(), d.ID, cfg.ID)
		assert.ErrorIs(t, err, grading.ErrNotFound)
	})
}

func TestDuplicateIDConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice"})
		b := newBatch(t, s, c.ID, cfg.ID)

		_, err := s.CreateCollection(ctx, grading.Collection{ID: c.ID, Name: "again"})
		assert.ErrorIs(t, err, grading.ErrConflict)
		_, err = s.CreateDelivery(ctx, grading.Delivery{ID: d.ID, CollectionID: c.ID, User: "bob"})
		assert.ErrorIs(t, err, grading.ErrConflict)
		_, err = s.CreateConfig(ctx, grading.Config{ID: cfg.ID, Name: "again"})
		assert.ErrorIs(t, err, grading.ErrConflict)
		_, err = s.CreateBatch(ctx, grading.Batch{ID: b.ID, CollectionID: c.ID, ConfigID: cfg.ID})
		assert.ErrorIs(t, err, grading.ErrConflict)
	})
}

func TestConfigRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		source := "version: 1\nname: ünïcode  \r\nstages:\n  - name: build   \n\n"
		c, err := s.CreateConfig(t.Context(), grading.Config{Name: "lab", Source: source, Parsed: []byte(`{"version": 1, "stages": []}`)})
		require.NoError(t, err)

		got, err := s.Config(t.Context(), c.ID)
		require.NoError(t, err)

		assert.Equal(t, c, got)
		assert.Equal(t, source, got.Source, "source is kept verbatim")
		assert.JSONEq(t, `{"version": 1, "stages": []}`, string(got.Parsed))
	})
}

func TestConfigRejectsInvalidParsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		_, err := s.CreateConfig(t.Context(), grading.Config{Name: "lab", Source: "x", Parsed: []byte(`{"version":`)})

		require.Error(t, err)
		assert.Contains(t, err.Error(), "not valid JSON")
	})
}

func TestBatchOutcomeRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		b := newBatch(t, s, c.ID, cfg.ID)
		assert.Equal(t, grading.BatchRunning, b.Status)
		assert.Nil(t, b.Summary)
		got, err := s.Batch(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, b, got)

		require.NoError(t, s.SetBatchRun(ctx, b.ID, "run-1"))
		var sum grading.Summary
		sum.Add(grading.Outcome{DeliveryID: "d1", User: "alice", Status: grading.StatusGraded, Score: 7.5, MaxScore: 10})
		sum.Add(grading.Outcome{DeliveryID: "d2", User: "bob", Status: grading.StatusError, Reason: "compile: exit 1"})
		require.NoError(t, s.RecordBatchOutcome(ctx, b.ID, grading.BatchCompleted, sum))

		got, err = s.Batch(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, "run-1", got.RunID)
		assert.Equal(t, grading.BatchCompleted, got.Status)
		require.NotNil(t, got.Summary)
		assert.Equal(t, sum, *got.Summary)
		assert.Equal(t, b.CreatedAt, got.CreatedAt)
		assert.False(t, got.UpdatedAt.Before(got.CreatedAt))
	})
}

// A batch whose workflow did not start is deleted, but the batch service
// writes its starting progress first, and the progress row's foreign key
// made the delete fail: every "already running" 409 (and every start
// Temporal refused) left a batch "running" for good. The delete now takes
// the progress row with it.
func TestDeleteBatchTakesItsProgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		b := newBatch(t, s, c.ID, cfg.ID)
		require.NoError(t, s.SetBatchProgress(ctx, b.ID, []byte(`{"concurrency":50}`)))

		require.NoError(t, s.DeleteBatch(ctx, b.ID))

		_, err := s.Batch(ctx, b.ID)
		require.ErrorIs(t, err, grading.ErrNotFound)
		_, _, err = s.BatchProgress(ctx, b.ID)
		require.ErrorIs(t, err, grading.ErrNotFound)
	})
}

func TestBatchRejectsUnknownStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		b := newBatch(t, s, c.ID, cfg.ID)

		err := s.RecordBatchOutcome(t.Context(), b.ID, "done", grading.Summary{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `unknown status "done"`)
		_, err = s.CreateBatch(t.Context(), grading.Batch{CollectionID: c.ID, ConfigID: cfg.ID, Status: "paused"})
		require.Error(t, err)

		got, err := s.Batch(t.Context(), b.ID)
		require.NoError(t, err)
		assert.Equal(t, grading.BatchRunning, got.Status)
	})
}

func TestSaveResultUpsert(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice"})
		b1 := newBatch(t, s, c.ID, cfg.ID)
		b2 := newBatch(t, s, c.ID, cfg.ID)

		first, err := s.SaveResult(ctx, grading.Result{
			DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b1.ID, Status: grading.StatusError, Diagnostic: "sandbox down",
		})
		require.NoError(t, err)
		assert.Equal(t, 1, first.Attempt)
		assert.False(t, first.GradedAt.IsZero())

		exit0 := 0
		retry := grading.Result{
			DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b2.ID, Status: grading.StatusGraded, Score: 7.5, MaxScore: 10,
			Components: []grading.Component{{Name: "tests", Score: 7.5, MaxScore: 10}},
			Steps: []grading.Step{
				{Stage: "compile", State: grading.StepSuccess, ExitCode: &exit0, DurationMS: 120, MaxPoints: 0},
				{Stage: "run", Scenario: "big", State: grading.StepFailed, TimedOut: true, Points: 0, MaxPoints: 2.5, Stdout: "42\n"},
			},
			ObjectKey: "results/x.json", GradedAt: at(30),
		}
		second, err := s.SaveResult(ctx, retry)
		require.NoError(t, err)
		assert.Equal(t, 2, second.Attempt)
		// The same grading saved again (its commit's answer lost) is not a
		// new attempt.
		again, err := s.SaveResult(ctx, retry)
		require.NoError(t, err)
		assert.Equal(t, 2, again.Attempt)
		retry.GradedAt = at(31)
		third, err := s.SaveResult(ctx, retry)
		require.NoError(t, err)
		assert.Equal(t, 3, third.Attempt)

		got, err := s.Result(ctx, d.ID, cfg.ID)
		require.NoError(t, err)
		want := retry
		want.User = "alice"
		want.Attempt = 3
		assert.Equal(t, want, got)

		// One row, now owned by the batch that saved it last; the batch
		// that saved it first still lists it, pointing at the newer batch.
		inB2, err := s.BatchResults(ctx, b2.ID)
		require.NoError(t, err)
		assert.Equal(t, []grading.Result{want}, inB2)
		inB1, err := s.BatchResults(ctx, b1.ID)
		require.NoError(t, err)
		assert.Equal(t, []grading.Result{want}, inB1)

		// A batch of another config over the same delivery lists only its own.
		other := grading.Result{DeliveryID: d.ID, ConfigID: newConfig(t, s).ID, BatchID: b1.ID, Status: grading.StatusGraded}
		_, err = s.SaveResult(ctx, other)
		require.NoError(t, err)
		inB1, err = s.BatchResults(ctx, b1.ID)
		require.NoError(t, err)
		assert.Equal(t, []grading.Result{want}, inB1, "b1's config only")
		b3 := newBatch(t, s, c.ID, cfg.ID)
		inB3, err := s.BatchResults(ctx, b3.ID)
		require.NoError(t, err)
		assert.Empty(t, inB3, "a batch that graded nothing lists nothing")
	})
}

// A diagnostic may quote what a student printed: NUL and invalid UTF-8,
// which a PostgreSQL text column refuses, must not cost the result.
func TestSaveResultStoresAnyOutputText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice"})
		give := grading.Result{
			DeliveryID: d.ID, ConfigID: cfg.ID, Status: grading.StatusUngraded,
			Diagnostic: "checker exited with status 3: a\x00b\xffc",
			Steps:      []grading.Step{{Stage: "run", State: grading.StepError, Message: "m\x00", Stdout: "o\x00\xff"}},
		}
		saved, err := s.SaveResult(ctx, give)
		require.NoError(t, err)
		require.NoError(t, s.SaveResults(ctx, []grading.Result{give}))

		got, err := s.Result(ctx, d.ID, cfg.ID)
		require.NoError(t, err)
		assert.Equal(t, "checker exited with status 3: a\uFFFDb\uFFFDc", got.Diagnostic)
		assert.Equal(t, saved.Diagnostic, got.Diagnostic)
		assert.Equal(t, "m\x00", got.Steps[0].Message)
		assert.Equal(t, "o\x00\uFFFD", got.Steps[0].Stdout)
	})
}

func TestSaveResultRejectsInvalid(t *testing.T) {
	tests := []struct {
		name      string
		give      grading.Result
		wantError string
	}{
		{name: "unknown status", give: grading.Result{DeliveryID: "d", ConfigID: "c", Status: "passed"}, wantError: `unknown result status "passed"`},
		{name: "no delivery", give: grading.Result{ConfigID: "c", Status: grading.StatusGraded}, wantError: "delivery id"},
		{name: "no config", give: grading.Result{DeliveryID: "d", Status: grading.StatusGraded}, wantError: "config id"},
	}
	s := storetest.Open(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SaveResult(t.Context(), tt.give)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantError)

			err = s.SaveResults(t.Context(), []grading.Result{tt.give})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantError)
		})
	}
}

func TestSaveResults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		b := newBatch(t, s, c.ID, cfg.ID)
		var results []grading.Result
		for i, u := range []string{"carol", "alice", "bob"} {
			d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: u})
			results = append(results, grading.Result{
				DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusGraded,
				Score: float64(i), MaxScore: 10, Steps: []grading.Step{}, GradedAt: at(i),
			})
		}

		require.NoError(t, s.SaveResults(ctx, results))
		regraded := slices.Clone(results)
		for i := range regraded {
			regraded[i].GradedAt = at(10 + i)
		}
		require.NoError(t, s.SaveResults(ctx, regraded))
		require.NoError(t, s.SaveResults(ctx, regraded), "the same gradings again are no new attempts")
		require.NoError(t, s.SaveResults(ctx, nil))

		got, err := s.BatchResults(ctx, b.ID)
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, []string{"alice", "bob", "carol"}, []string{got[0].User, got[1].User, got[2].User})
		for _, r := range got {
			assert.Equal(t, 2, r.Attempt, "user %s", r.User)
			assert.Equal(t, []grading.Step{}, r.Steps)
		}
		assert.Equal(t, 1.0, got[0].Score) // alice was second in the input
		assert.Equal(t, at(11), got[0].GradedAt)
		assert.Equal(t, 0, results[0].Attempt, "the caller's slice is left alone")
	})
}

// TestTwoStoresShareSQLiteFile stands in for the API and two workers writing
// to one SQLite file: separate pools writing at once must wait for the write
// lock, never fail with "database is locked".
func TestTwoStoresShareSQLiteFile(t *testing.T) {
	dbURL := storetest.SQLiteURL(t)
	open := func() *store.Store {
		s, err := store.Open(t.Context(), dbURL, nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		require.NoError(t, s.Migrate(t.Context()))
		return s
	}
	a, b := open(), open()
	c := newCollection(t, a, nil)
	cfg := newConfig(t, b)

	const writers, perWriter = 4, 25
	errs := make(chan error, 2*writers) // one report per writer, none left blocked
	for i := range 2 * writers {
		s := a
		if i%2 == 1 {
			s = b
		}
		go func() {
			errs <- writeDeliveries(t.Context(), s, c.ID, cfg.ID, i, perWriter)
		}()
	}
	for range 2 * writers {
		require.NoError(t, <-errs)
	}

	n, err := b.CountLatestDeliveries(t.Context(), c.ID)
	require.NoError(t, err)
	assert.Equal(t, 2*writers, n)
	all, err := a.LatestDeliveries(t.Context(), c.ID, "", 100)
	require.NoError(t, err)
	for _, d := range all {
		r, err := b.Result(t.Context(), d.ID, cfg.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, r.Attempt)
	}
}

// writeDeliveries creates n deliveries for one user, saving a result for
// each alone and then all of them again in one transaction.
func writeDeliveries(ctx context.Context, s *store.Store, collectionID, configID string, writer, n int) error {
	user := fmt.Sprintf("user%02d", writer)
	var results []grading.Result
	for i := range n {
		d, err := s.CreateDelivery(ctx, grading.Delivery{CollectionID: collectionID, User: user, SubmittedAt: at(i)})
		if err != nil {
			return err
		}
		r := grading.Result{DeliveryID: d.ID, ConfigID: configID, Status: grading.StatusGraded, Score: 1, MaxScore: 1}
		if _, err := s.SaveResult(ctx, r); err != nil {
			return err
		}
		results = append(results, r)
	}
	// A second pass in one transaction contends for the lock at BEGIN rather
	// than per statement. It skips the newest delivery, which keeps attempt 1.
	if err := s.SaveResults(ctx, results[:n-1]); err != nil {
		return err
	}
	return nil
}

// countRows runs a count query on its own connection.
func countRows(t *testing.T, dbURL, query string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), query).Scan(&n))
	return n
}

func TestBatchResultsFollowRegrades(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		ada := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "ada"})
		bob := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob"})
		orig := newBatch(t, s, c.ID, cfg.ID)
		regrade, err := s.CreateBatch(ctx, grading.Batch{WorkflowID: "w2", CollectionID: c.ID, ConfigID: cfg.ID, RegradeOf: orig.ID})
		require.NoError(t, err)
		again, err := s.CreateBatch(ctx, grading.Batch{WorkflowID: "w3", CollectionID: c.ID, ConfigID: cfg.ID, RegradeOf: regrade.ID})
		require.NoError(t, err)
		other := newBatch(t, s, c.ID, cfg.ID)

		save := func(d grading.Delivery, batchID string, status grading.ResultStatus) {
			_, err := s.SaveResult(ctx, grading.Result{DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: batchID, Status: status})
			require.NoError(t, err)
		}
		save(ada, orig.ID, grading.StatusGraded)
		save(bob, orig.ID, grading.StatusError)
		save(bob, regrade.ID, grading.StatusError)
		save(bob, again.ID, grading.StatusGraded)

		got, err := s.BatchResults(ctx, orig.ID)
		require.NoError(t, err)
		require.Len(t, got, 2, "the original batch keeps every delivery")
		assert.Equal(t, orig.ID, got[0].BatchID)
		assert.Equal(t, again.ID, got[1].BatchID, "bob's newest result comes from the second regrade")
		assert.Equal(t, grading.StatusGraded, got[1].Status)

		inRegrade, err := s.BatchResults(ctx, regrade.ID)
		require.NoError(t, err)
		require.Len(t, inRegrade, 1)
		inOther, err := s.BatchResults(ctx, other.ID)
		require.NoError(t, err)
		assert.Empty(t, inOther, "an unrelated batch does not see them")
	})
}

// A save retried because its commit's answer was lost (the fault tests cut
// the database mid-commit) must not announce the grading twice.
func TestSaveResultAgainAnnouncesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice"})
		announce := func(r grading.Result) (store.Event, error) {
			return store.Event{ID: fmt.Sprintf("graded:%s:%d", r.DeliveryID, r.Attempt), Subject: "results.graded", Payload: []byte(`{}`)}, nil
		}
		res := grading.Result{DeliveryID: d.ID, ConfigID: cfg.ID, Status: grading.StatusGraded, Score: 1, MaxScore: 1, GradedAt: at(1)}
		for range 2 {
			saved, err := s.SaveResultAnnounced(ctx, res, announce)
			require.NoError(t, err)
			assert.Equal(t, 1, saved.Attempt)
		}
		res.GradedAt = at(2)
		regraded, err := s.SaveResultAnnounced(ctx, res, announce)
		require.NoError(t, err)
		assert.Equal(t, 2, regraded.Attempt)

		pending, err := s.PendingEvents(ctx, 10)
		require.NoError(t, err)
		var ids []string
		for _, ev := range pending {
			ids = append(ids, ev.ID)
		}
		assert.Equal(t, []string{"graded:" + d.ID + ":1", "graded:" + d.ID + ":2"}, ids)
	})
}
