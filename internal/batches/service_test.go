package batches_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// TestStartRefusesARegradeOfAnotherCollectionOrConfig: a regrade grades the
// failed deliveries of the batch it names, and its results are listed with
// that batch's; naming a batch of another collection or config would mix
// two gradings. The request is refused before anything is recorded or
// started (the service has no Temporal client here: asking it would panic).
func TestStartRefusesARegradeOfAnotherCollectionOrConfig(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	newCollection := func(name string) grading.Collection {
		c, err := st.CreateCollection(ctx, grading.Collection{Name: name})
		require.NoError(t, err)
		return c
	}
	newConfig := func(name string) grading.Config {
		c, err := st.CreateConfig(ctx, grading.Config{Name: name, Source: "version: 1\n", Parsed: []byte(`{"version":1}`)})
		require.NoError(t, err)
		return c
	}
	col, other := newCollection("lab 1"), newCollection("lab 2")
	cfg, otherCfg := newConfig("lab 1"), newConfig("lab 2")
	done, err := st.CreateBatch(ctx, grading.Batch{WorkflowID: "w", CollectionID: col.ID, ConfigID: cfg.ID, Status: grading.BatchCompleted})
	require.NoError(t, err)
	svc := batches.NewService(st, nil, slog.New(slog.DiscardHandler))

	for name, req := range map[string]batches.StartRequest{
		"another collection": {CollectionID: other.ID, ConfigID: cfg.ID, RegradeOf: done.ID},
		"another config":     {CollectionID: col.ID, ConfigID: otherCfg.ID, RegradeOf: done.ID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.Start(ctx, req)
			require.ErrorIs(t, err, batches.ErrInvalid)
			require.ErrorContains(t, err, "regrade_of "+done.ID)
			bs, _, err := st.Batches(ctx, "", nil, "", 10)
			require.NoError(t, err)
			require.Len(t, bs, 1, "no batch recorded")
		})
	}
	_, err = svc.Start(ctx, batches.StartRequest{CollectionID: col.ID, ConfigID: cfg.ID, RegradeOf: "no-such-batch"})
	require.ErrorIs(t, err, grading.ErrNotFound)
}
