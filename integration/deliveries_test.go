package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

// TestAllDeliveriesGradeEveryVersion: through Temporal and the workers, a
// user with two versions gets one result row with "latest" and two with
// "all"; regrading the batch of all regrades the failed older version,
// which a batch of the latest never graded.
func TestAllDeliveriesGradeEveryVersion(t *testing.T) {
	st := startStack(t, "", &harness.NoopEngine{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// ada's first version fails the first time it is graded.
	seeded, err := st.Seed(ctx, noopConfig, []harness.Delivery{
		{User: "ada", Files: map[string][]byte{"main.c": []byte("int main(){}"), "fail-once": []byte("ada-v1-" + t.Name())}},
		{User: "bob", Files: map[string][]byte{"main.c": []byte("int main(){}")}},
	})
	require.NoError(t, err)
	ada1 := seeded.DeliveryIDs["ada"]
	ada2, err := st.AddDelivery(ctx, seeded.CollectionID, harness.Delivery{User: "ada", Files: map[string][]byte{"main.c": []byte("int main(){return 0;}")}})
	require.NoError(t, err)
	bob := seeded.DeliveryIDs["bob"]
	byUser := func(rows []grading.Result) map[string][]string {
		out := map[string][]string{}
		for _, r := range rows {
			out[r.User] = append(out[r.User], r.DeliveryID)
		}
		return out
	}

	latest, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID})
	require.NoError(t, err)
	require.Equal(t, grading.DeliveriesLatest, latest.Deliveries)
	res, err := st.Wait(ctx, latest)
	require.NoError(t, err)
	require.Equal(t, grading.Counts{Graded: 2}, res.Summary.Counts)
	rows, err := st.Store.BatchResults(ctx, latest.ID)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"ada": {ada2}, "bob": {bob}}, byUser(rows))

	all, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Deliveries: grading.DeliveriesAll})
	require.NoError(t, err)
	res, err = st.Wait(ctx, all)
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Total)
	require.Equal(t, grading.Counts{Graded: 2, Ungraded: 1}, res.Summary.Counts)
	rows, err = st.Store.BatchResults(ctx, all.ID)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	got := byUser(rows)
	require.ElementsMatch(t, []string{ada1, ada2}, got["ada"], "one row per version")
	require.Equal(t, []string{bob}, got["bob"])
	stored, err := st.Store.Batch(ctx, all.ID)
	require.NoError(t, err)
	require.Equal(t, grading.DeliveriesAll, stored.Deliveries)

	regrade, err := st.Batches.RegradeFailed(ctx, all.ID)
	require.NoError(t, err)
	require.Equal(t, grading.DeliveriesAll, regrade.Deliveries)
	res, err = st.Wait(ctx, regrade)
	require.NoError(t, err)
	require.Equal(t, 1, res.Summary.Total, "only the failed version")
	require.Equal(t, grading.Counts{Graded: 1}, res.Summary.Counts)
	rows, err = st.Store.BatchResults(ctx, regrade.ID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, ada1, rows[0].DeliveryID)

	view, err := st.Batches.Get(ctx, all.ID)
	require.NoError(t, err)
	require.Equal(t, grading.Counts{Graded: 3}, view.Summary.Counts, "the batch's view merges its regrade")
}
