package temporal_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// startTemporal starts an embedded Temporal server (no Web UI) for one
// test and stops it afterwards.
func startTemporal(t *testing.T, ctx context.Context) *devstack.Temporal {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	srv, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{UIPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Stop()) })
	return srv
}
