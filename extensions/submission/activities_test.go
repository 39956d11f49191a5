package submission

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

// fakeStore serves users u0..u(n-1) of collection "c"; batch "b" failed u1.
type fakeStore struct {
	n      int
	counts int
}

func (f *fakeStore) LatestDeliveries(_ context.Context, col, after string, limit int) ([]grading.Delivery, error) {
	if col != "c" {
		return nil, fmt.Errorf("collection %s: %w", col, grading.ErrNotFound)
	}
	var out []grading.Delivery
	for i := 0; i < f.n && len(out) < limit; i++ {
		if u := fmt.Sprintf("u%d", i); u > after {
			out = append(out, grading.Delivery{ID: "d" + u, User: u})
		}
	}
	return out, nil
}

func (f *fakeStore) CountLatestDeliveries(context.Context, string) (int, error) {
	f.counts++
	return f.n, nil
}

// AllDeliveries serves two versions of each user, dXa and dXb.
func (f *fakeStore) AllDeliveries(_ context.Context, col, after, afterID string, limit int) ([]grading.Delivery, error) {
	if col != "c" {
		return nil, fmt.Errorf("collection %s: %w", col, grading.ErrNotFound)
	}
	var out []grading.Delivery
	for i := 0; i < f.n; i++ {
		u := fmt.Sprintf("u%d", i)
		for _, v := range []string{"a", "b"} {
			id := "d" + u + v
			if len(out) < limit && (u > after || (u == after && afterID != "" && id > afterID)) {
				out = append(out, grading.Delivery{ID: id, User: u})
			}
		}
	}
	return out, nil
}

func (f *fakeStore) CountAllDeliveries(context.Context, string) (int, error) {
	f.counts++
	return 2 * f.n, nil
}

func (f *fakeStore) FailedDeliveries(_ context.Context, batch, after, _ string, limit int) ([]grading.Delivery, error) {
	if batch == "b" && after < "u1" && limit > 0 {
		return []grading.Delivery{{ID: "du1", User: "u1"}}, nil
	}
	return nil, nil
}

func (f *fakeStore) CountFailedDeliveries(context.Context, string) (int, error) { return 1, nil }

func activityEnv(t *testing.T, a *Activities) *testsuite.TestActivityEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

func TestPagesLatestDeliveries(t *testing.T) {
	fs := &fakeStore{n: 5}
	env := activityEnv(t, NewActivities(fs))

	var res workflows.LatestDeliveriesResult
	v, err := env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName, workflows.LatestDeliveriesInput{CollectionID: "c", Limit: 2})
	require.NoError(t, err)
	require.NoError(t, v.Get(&res))
	require.Equal(t, []workflows.DeliveryRef{{ID: "du0", User: "u0"}, {ID: "du1", User: "u1"}}, res.Deliveries)
	require.False(t, res.Done)
	require.Equal(t, 5, res.Total)

	v, err = env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName, workflows.LatestDeliveriesInput{CollectionID: "c", AfterUser: "u2", Limit: 2})
	require.NoError(t, err)
	require.NoError(t, v.Get(&res))
	require.Equal(t, []workflows.DeliveryRef{{ID: "du3", User: "u3"}, {ID: "du4", User: "u4"}}, res.Deliveries)
	require.True(t, res.Done, "exactly the last rows")
	require.Equal(t, 1, fs.counts, "total is counted on the first page only")
}

// TestPagesAllDeliveries: with "all", every version is listed and a page
// may end, and the next resume, in the middle of a user's versions.
func TestPagesAllDeliveries(t *testing.T) {
	fs := &fakeStore{n: 2}
	env := activityEnv(t, NewActivities(fs))
	var (
		got []workflows.DeliveryRef
		res workflows.LatestDeliveriesResult
	)
	in := workflows.LatestDeliveriesInput{CollectionID: "c", Limit: 3, Deliveries: grading.DeliveriesAll}
	for !res.Done {
		v, err := env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName, in)
		require.NoError(t, err)
		require.NoError(t, v.Get(&res))
		if in.AfterUser == "" {
			require.Equal(t, 4, res.Total)
		}
		got = append(got, res.Deliveries...)
		last := res.Deliveries[len(res.Deliveries)-1]
		in.AfterUser, in.AfterDelivery = last.User, last.ID
	}
	require.Equal(t, []workflows.DeliveryRef{
		{ID: "du0a", User: "u0"}, {ID: "du0b", User: "u0"}, {ID: "du1a", User: "u1"}, {ID: "du1b", User: "u1"},
	}, got)
	require.Equal(t, 1, fs.counts, "total is counted on the first page only")

	_, err := env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName,
		workflows.LatestDeliveriesInput{CollectionID: "c", Limit: 3, Deliveries: "every"})
	var app *sdktemporal.ApplicationError
	require.True(t, errors.As(err, &app), "got %v", err)
	require.Equal(t, workflows.ErrTypeInvalidInput, app.Type())
}

func TestListsFailedDeliveriesForARegrade(t *testing.T) {
	env := activityEnv(t, NewActivities(&fakeStore{n: 5}))
	var res workflows.LatestDeliveriesResult
	v, err := env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName, workflows.LatestDeliveriesInput{CollectionID: "c", FailedInBatch: "b", Limit: 10})
	require.NoError(t, err)
	require.NoError(t, v.Get(&res))
	require.Equal(t, []workflows.DeliveryRef{{ID: "du1", User: "u1"}}, res.Deliveries)
	require.True(t, res.Done)
	require.Equal(t, 1, res.Total)
}

func TestErrorsAreTranslated(t *testing.T) {
	tests := []struct {
		name          string
		give          workflows.LatestDeliveriesInput
		wantType      string
		wantRetryable bool
	}{
		{"unknown collection", workflows.LatestDeliveriesInput{CollectionID: "nope", Limit: 1}, workflows.ErrTypeCollectionNotFound, false},
		{"bad limit", workflows.LatestDeliveriesInput{CollectionID: "c", Limit: 0}, workflows.ErrTypeInvalidInput, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := activityEnv(t, NewActivities(&fakeStore{n: 1}))
			_, err := env.ExecuteActivity(workflows.GetCollectionLatestDeliveriesName, tt.give)
			var app *sdktemporal.ApplicationError
			require.True(t, errors.As(err, &app), "got %v", err)
			require.Equal(t, tt.wantType, app.Type())
			require.Equal(t, tt.wantRetryable, !app.NonRetryable())
		})
	}
	err := toApplicationError(errors.New("connection refused"))
	var app *sdktemporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, workflows.ErrTypeTransient, app.Type())
	require.False(t, app.NonRetryable())
}
