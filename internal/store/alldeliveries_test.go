package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

func ids(ds []grading.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestAllDeliveriesPagesEveryVersion: every version of every user within
// the cut-off, ordered by user then id, paged with a cursor that resumes in
// the middle of a user's versions, whatever the page size.
func TestAllDeliveriesPagesEveryVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, ptr(at(10)))
		other := newCollection(t, s, nil)
		// Inserted out of user order, so ordering must come from the query.
		bob1 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(1)})
		alice1 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(2)})
		bob2 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(3)})
		alice2 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(4)})
		bob3 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(5)})
		carol := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "carol", SubmittedAt: at(10)}) // exactly at stop_at
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(11)})          // after stop_at
		newDelivery(t, s, grading.Delivery{CollectionID: other.ID, User: "alice", SubmittedAt: at(1)})
		want := []string{alice1.ID, alice2.ID, bob1.ID, bob2.ID, bob3.ID, carol.ID}

		got, err := s.AllDeliveries(ctx, c.ID, "", "", 100)
		require.NoError(t, err)
		assert.Equal(t, want, ids(got))
		assert.Equal(t, []grading.Delivery{alice1, alice2, bob1, bob2, bob3, carol}, got)
		n, err := s.CountAllDeliveries(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, 6, n)

		for _, size := range []int{1, 2, 4} {
			var (
				seen           []string
				after, afterID string
			)
			for range 10 {
				page, err := s.AllDeliveries(ctx, c.ID, after, afterID, size)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), size)
				if len(page) == 0 {
					break
				}
				seen = append(seen, ids(page)...)
				after, afterID = page[len(page)-1].User, page[len(page)-1].ID
			}
			assert.Equal(t, want, seen, "page size %d", size)
		}

		// A cursor of a user alone skips every version of that user, as
		// the cursor of latest deliveries always has.
		rest, err := s.AllDeliveries(ctx, c.ID, "alice", "", 100)
		require.NoError(t, err)
		assert.Equal(t, []string{bob1.ID, bob2.ID, bob3.ID, carol.ID}, ids(rest))
	})
}

func TestAllDeliveriesUnknownOrEmpty(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		got, err := s.AllDeliveries(ctx, c.ID, "", "", 10)
		require.NoError(t, err)
		assert.Empty(t, got)
		n, err := s.CountAllDeliveries(ctx, c.ID)
		require.NoError(t, err)
		assert.Zero(t, n)

		_, err = s.AllDeliveries(ctx, "missing", "", "", 10)
		require.ErrorIs(t, err, grading.ErrNotFound)
		_, err = s.CountAllDeliveries(ctx, "missing")
		require.ErrorIs(t, err, grading.ErrNotFound)
		_, err = s.AllDeliveries(ctx, c.ID, "", "", 0)
		require.ErrorContains(t, err, "limit")
	})
}

// TestFailedDeliveriesOfABatchOfAll: regrading a batch that graded every
// version covers each failed version, not only users' latest, paged by
// (user, id); a batch of latest deliveries keeps to the latest.
func TestFailedDeliveriesOfABatchOfAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		alice1 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(1)})
		alice2 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(2)})
		alice3 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(3)})
		bob1 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(1)})
		bob2 := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(2)})

		all, err := s.CreateBatch(ctx, grading.Batch{WorkflowID: "w1", CollectionID: c.ID, ConfigID: cfg.ID, Deliveries: grading.DeliveriesAll})
		require.NoError(t, err)
		assert.Equal(t, grading.DeliveriesAll, all.Deliveries)
		got, err := s.Batch(ctx, all.ID)
		require.NoError(t, err)
		assert.Equal(t, grading.DeliveriesAll, got.Deliveries)

		for _, r := range []grading.Result{
			{DeliveryID: alice1.ID, Status: grading.StatusError, Diagnostic: "sandbox"},
			{DeliveryID: alice2.ID, Status: grading.StatusGraded, Score: 1, MaxScore: 1},
			{DeliveryID: bob1.ID, Status: grading.StatusGraded, Score: 1, MaxScore: 1},
			{DeliveryID: bob2.ID, Status: grading.StatusUngraded},
		} {
			r.ConfigID, r.BatchID = cfg.ID, all.ID
			_, err := s.SaveResult(ctx, r)
			require.NoError(t, err)
		}
		// alice3 has no row: its attempts failed on infrastructure.
		failed, err := s.FailedDeliveries(ctx, all.ID, "", "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{alice1.ID, alice3.ID, bob2.ID}, ids(failed))
		page, err := s.FailedDeliveries(ctx, all.ID, "alice", alice1.ID, 1)
		require.NoError(t, err)
		assert.Equal(t, []string{alice3.ID}, ids(page))
		n, err := s.CountFailedDeliveries(ctx, all.ID)
		require.NoError(t, err)
		assert.Equal(t, 3, n)

		latest := newBatch(t, s, c.ID, cfg.ID)
		assert.Equal(t, grading.DeliveriesLatest, latest.Deliveries, "the default")
		failed, err = s.FailedDeliveries(ctx, latest.ID, "", "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{alice3.ID, bob2.ID}, ids(failed), "latest of each user only")

		_, err = s.CreateBatch(ctx, grading.Batch{WorkflowID: "w2", CollectionID: c.ID, ConfigID: cfg.ID, Deliveries: "some"})
		require.ErrorContains(t, err, "deliveries")
	})
}
