package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// pageAll reads every page of a list limit items at a time and returns the
// keys of the items in the order the pages gave them.
func pageAll[T any](t *testing.T, limit int, list func(after string, limit int) ([]T, string, error), key func(T) string) []string {
	t.Helper()
	var (
		got   []string
		after string
	)
	for range 1000 {
		items, next, err := list(after, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), limit)
		for _, it := range items {
			got = append(got, key(it))
		}
		if next == "" {
			return got
		}
		require.NotEmpty(t, items, "a page with a next cursor holds items")
		after = next
	}
	t.Fatal("pages never ended")
	return nil
}

// descending returns keys sorted newest first by (at, key).
func descending(at map[string]int64) []string {
	keys := make([]string, 0, len(at))
	for k := range at {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if at[a] != at[b] {
			if at[a] > at[b] {
				return -1
			}
			return 1
		}
		if a > b {
			return -1
		}
		if a < b {
			return 1
		}
		return 0
	})
	return keys
}

func TestListsPageThroughEqualTimestamps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		db := s.DB()
		// Two groups sharing a time each, and one item alone between them.
		times := []int64{micro(t0), micro(t0), micro(t0), micro(t0) + 1, micro(t0) + 2, micro(t0) + 2, micro(t0) + 2}

		collections := map[string]int64{}
		cfg := newConfig(t, s)
		batches := map[string]int64{}
		envs := map[string]int64{}
		names := []string{"a-z", "ab", "a.b", "a_b", "a0", "b", "a"}
		for i, at := range times {
			c := newCollection(t, s, nil)
			_, err := db.ExecContext(ctx, `UPDATE collection SET created_at = $1 WHERE id = $2`, at, c.ID)
			require.NoError(t, err)
			collections[c.ID] = at

			b := newBatch(t, s, c.ID, cfg.ID)
			_, err = db.ExecContext(ctx, `UPDATE batch SET created_at = $1 WHERE id = $2`, at, b.ID)
			require.NoError(t, err)
			batches[b.ID] = at

			e, err := s.CreateEnvironment(ctx, environment(names[i], fmt.Sprint(i)))
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, `UPDATE environment SET created_at = $1 WHERE name = $2`, at, e.Name)
			require.NoError(t, err)
			envs[e.Name] = at
		}

		for _, limit := range []int{1, 2, 3, 7, 8} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				got := pageAll(t, limit, func(after string, limit int) ([]grading.Collection, string, error) {
					return s.Collections(ctx, nil, after, limit)
				}, func(c grading.Collection) string { return c.ID })
				assert.Equal(t, descending(collections), got, "collections")

				got = pageAll(t, limit, func(after string, limit int) ([]grading.Batch, string, error) {
					return s.Batches(ctx, "", nil, after, limit)
				}, func(b grading.Batch) string { return b.ID })
				assert.Equal(t, descending(batches), got, "batches")

				got = pageAll(t, limit, func(after string, limit int) ([]grading.Environment, string, error) {
					return s.Environments(ctx, after, limit)
				}, func(e grading.Environment) string { return e.Name })
				assert.Equal(t, descending(envs), got, "environments")
			})
		}
	})
}

func TestListDeliveriesEqualTimestamps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		when := map[string]int64{}
		latest := map[string]string{}
		// Every user's versions share one time; the higher id is the latest.
		for _, user := range []string{"ada", "bob", "cy"} {
			for range 3 {
				d := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: user, SubmittedAt: t0})
				when[d.ID] = micro(t0)
				latest[user] = max(latest[user], d.ID)
			}
		}
		late := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "ada", SubmittedAt: at(1)})
		when[late.ID] = micro(at(1))
		latest["ada"] = late.ID

		for _, limit := range []int{1, 2, 4, 10, 11} {
			var marked []string
			got := pageAll(t, limit, func(after string, limit int) ([]store.ListedDelivery, string, error) {
				return s.CollectionDeliveries(ctx, c.ID, after, limit)
			}, func(d store.ListedDelivery) string {
				if d.Latest {
					marked = append(marked, d.ID)
				}
				return d.ID
			})
			assert.Equal(t, descending(when), got, "limit %d", limit)
			want := []string{latest["ada"], latest["bob"], latest["cy"]}
			assert.ElementsMatch(t, want, marked, "limit %d", limit)
		}
	})
}

// The list's latest is the version a batch of the latest deliveries grades:
// a version after the collection's stop_at is marked after_stop instead.
func TestListDeliveriesLatestWithinStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		stop := at(10)
		c := newCollection(t, s, &stop)
		onTime := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "ada", SubmittedAt: at(5)})
		late := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "ada", SubmittedAt: at(11)})
		onlyLate := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(12)})

		listed, _, err := s.CollectionDeliveries(ctx, c.ID, "", 10)
		require.NoError(t, err)
		type mark struct{ latest, afterStop bool }
		got := map[string]mark{}
		for _, d := range listed {
			got[d.ID] = mark{d.Latest, d.AfterStop}
		}
		assert.Equal(t, map[string]mark{
			onTime.ID:   {latest: true},
			late.ID:     {afterStop: true},
			onlyLate.ID: {afterStop: true},
		}, got)

		graded, err := s.LatestDeliveries(ctx, c.ID, "", 10)
		require.NoError(t, err)
		require.Len(t, graded, 1)
		assert.Equal(t, onTime.ID, graded[0].ID, "the batch grades the version the list marks latest")
	})
}

// TestListCursorSurvivesInsert checks that an item written between two
// page requests, at the time of the cursor, is neither repeated nor the
// cause of a skip.
func TestListCursorSurvivesInsert(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		var ids []string
		for range 4 {
			ids = append(ids, newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "u", SubmittedAt: t0}).ID)
		}
		first, next, err := s.CollectionDeliveries(ctx, c.ID, "", 2)
		require.NoError(t, err)
		require.NotEmpty(t, next)
		newer := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "u", SubmittedAt: t0})
		rest, next, err := s.CollectionDeliveries(ctx, c.ID, next, 10)
		require.NoError(t, err)
		assert.Empty(t, next)
		var got []string
		for _, d := range append(first, rest...) {
			got = append(got, d.ID)
		}
		slices.Reverse(ids)
		assert.Equal(t, ids, got, "the older items each once, the newer one (higher id) not in this walk")
		assert.NotContains(t, got, newer.ID)
	})
}

func TestListRejectsForeignCursors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, bad := range []string{"garbage!", "Zm9v", "LTEu", "MTIz", "MTIzLgA", "/w", "OTk5OTk5OTk5OTk5OTk5OTk5OTkuYQ"} {
			_, _, err := s.Collections(ctx, nil, bad, 10)
			assert.ErrorIs(t, err, store.ErrInvalidCursor, "cursor %q", bad)
			_, _, err = s.Environments(ctx, bad, 10)
			assert.ErrorIs(t, err, store.ErrInvalidCursor, "cursor %q", bad)
		}
	})
}

func micro(t time.Time) int64 { return t.UnixMicro() }

// TestListOrderIgnoresDatabaseCollation pins ties to byte order on every
// engine: a PostgreSQL database created with a language locale (the usual
// default) would otherwise order "ab" before "a-z", unlike SQLite.
func TestListOrderIgnoresDatabaseCollation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		db := s.DB()
		if strings.HasSuffix(t.Name(), "/postgres") {
			_, err := db.ExecContext(ctx, `ALTER TABLE environment ALTER COLUMN name TYPE TEXT COLLATE "en-x-icu"`)
			require.NoError(t, err)
		}
		names := []string{"ab", "a-z", "a.b", "a_b", "a0", "b", "a"}
		for i, name := range names {
			_, err := s.CreateEnvironment(ctx, environment(name, fmt.Sprint(i)))
			require.NoError(t, err)
		}
		_, err := db.ExecContext(ctx, `UPDATE environment SET created_at = $1`, micro(t0))
		require.NoError(t, err)

		want := slices.Clone(names)
		slices.Sort(want)
		slices.Reverse(want)
		for _, limit := range []int{1, 3, 7} {
			got := pageAll(t, limit, func(after string, limit int) ([]grading.Environment, string, error) {
				return s.Environments(ctx, after, limit)
			}, func(e grading.Environment) string { return e.Name })
			assert.Equal(t, want, got, "limit %d", limit)
		}
	})
}
