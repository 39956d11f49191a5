package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// TestFailedDeliveriesCoverRowlessFailures: a regrade covers every delivery
// of the batch without a graded result — one with an error row, one whose
// attempts all failed before any row was written — and nothing graded,
// superseded, outside the collection or submitted after the batch began.
func TestFailedDeliveriesCoverRowlessFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		c := newCollection(t, s, nil)
		other := newCollection(t, s, nil)
		cfg := newConfig(t, s)
		alice := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "alice", SubmittedAt: at(1)})
		bob := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "bob", SubmittedAt: at(1)})
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "carol", SubmittedAt: at(0)}) // superseded
		carol := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "carol", SubmittedAt: at(2)})
		dave := newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "dave", SubmittedAt: at(3)})
		newDelivery(t, s, grading.Delivery{CollectionID: other.ID, User: "erin", SubmittedAt: at(1)})
		b := newBatch(t, s, c.ID, cfg.ID)
		// After the batch began: not one of its deliveries.
		newDelivery(t, s, grading.Delivery{CollectionID: c.ID, User: "frank"})

		for _, r := range []grading.Result{
			{DeliveryID: alice.ID, Status: grading.StatusGraded, Score: 5, MaxScore: 10},
			{DeliveryID: bob.ID, Status: grading.StatusError, Diagnostic: "files missing"},
			{DeliveryID: dave.ID, Status: grading.StatusUngraded},
		} {
			r.ConfigID, r.BatchID = cfg.ID, b.ID
			_, err := s.SaveResult(ctx, r)
			require.NoError(t, err)
		}
		// carol has no row at all: her attempts failed on infrastructure.

		got, err := s.FailedDeliveries(ctx, b.ID, "", "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"bob", "carol", "dave"}, users(got))
		assert.Equal(t, carol.ID, got[1].ID, "the latest delivery of the user")

		page, err := s.FailedDeliveries(ctx, b.ID, "bob", "", 1)
		require.NoError(t, err)
		assert.Equal(t, []string{"carol"}, users(page))

		n, err := s.CountFailedDeliveries(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, 3, n)

		none, err := s.FailedDeliveries(ctx, "no-such-batch", "", "", 10)
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}
