package submission

import (
	"context"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

// DefaultTaskQueue is this extension's task-queue suffix.
const DefaultTaskQueue = workflows.SubmissionTaskQueue

// maxPageSize bounds one page so its payload stays small in history.
const maxPageSize = 1000

// Store is the part of the delivery store the activities use.
type Store interface {
	LatestDeliveries(ctx context.Context, collectionID, afterUser string, limit int) ([]grading.Delivery, error)
	CountLatestDeliveries(ctx context.Context, collectionID string) (int, error)
	AllDeliveries(ctx context.Context, collectionID, afterUser, afterID string, limit int) ([]grading.Delivery, error)
	CountAllDeliveries(ctx context.Context, collectionID string) (int, error)
	FailedDeliveries(ctx context.Context, batchID, afterUser, afterID string, limit int) ([]grading.Delivery, error)
	CountFailedDeliveries(ctx context.Context, batchID string) (int, error)
}

// Activities are the submission extension's activities.
type Activities struct {
	store Store
}

// NewActivities returns the activities over a delivery store.
func NewActivities(s Store) *Activities { return &Activities{store: s} }

// GetCollectionLatestDeliveries returns one page of the newest delivery of
// each user in a collection, ordered by user, or of every delivery when
// Deliveries is "all" (ordered by user, then id), or, for a regrade, of the
// deliveries a batch failed. The first page also carries the total count.
func (a *Activities) GetCollectionLatestDeliveries(ctx context.Context, in workflows.LatestDeliveriesInput) (workflows.LatestDeliveriesResult, error) {
	if in.CollectionID == "" || in.Limit < 1 || in.Limit > maxPageSize {
		return workflows.LatestDeliveriesResult{}, toApplicationError(fmt.Errorf(
			"get latest deliveries: collection_id required and limit %d must be 1..%d: %w", in.Limit, maxPageSize, errInvalidInput))
	}
	if !grading.ValidDeliveries(in.Deliveries) {
		return workflows.LatestDeliveriesResult{}, toApplicationError(fmt.Errorf(
			"get deliveries: deliveries %q is not %q or %q: %w", in.Deliveries, grading.DeliveriesLatest, grading.DeliveriesAll, errInvalidInput))
	}
	// Each source pages after (user, id); the latest deliveries have one
	// row per user, so their cursor is the user alone.
	key := in.CollectionID
	list := func(ctx context.Context, key, afterUser, _ string, limit int) ([]grading.Delivery, error) {
		return a.store.LatestDeliveries(ctx, key, afterUser, limit)
	}
	count := a.store.CountLatestDeliveries
	switch {
	case in.FailedInBatch != "":
		// The batch row knows whether it graded all deliveries or the latest.
		list, count, key = a.store.FailedDeliveries, a.store.CountFailedDeliveries, in.FailedInBatch
	case in.Deliveries == grading.DeliveriesAll:
		list, count = a.store.AllDeliveries, a.store.CountAllDeliveries
	}
	// One row more than asked tells whether another page follows.
	rows, err := list(ctx, key, in.AfterUser, in.AfterDelivery, in.Limit+1)
	if err != nil {
		return workflows.LatestDeliveriesResult{}, toApplicationError(fmt.Errorf("get latest deliveries of collection %s: %w", in.CollectionID, err))
	}
	res := workflows.LatestDeliveriesResult{Done: len(rows) <= in.Limit}
	rows = rows[:min(len(rows), in.Limit)]
	res.Deliveries = make([]workflows.DeliveryRef, len(rows))
	for i, d := range rows {
		res.Deliveries[i] = workflows.DeliveryRef{ID: d.ID, User: d.User}
	}
	if in.AfterUser == "" && in.AfterDelivery == "" {
		if res.Total, err = count(ctx, key); err != nil {
			return workflows.LatestDeliveriesResult{}, toApplicationError(fmt.Errorf("count latest deliveries of collection %s: %w", in.CollectionID, err))
		}
	}
	return res, nil
}
