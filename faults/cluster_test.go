package faults

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
	"github.com/zinc-edu/orchestrator/internal/supervise"
)

// TestClusterFrontendThenHistoryKilled runs the cluster topology (apphost
// --temporal-db: one process per Temporal service on PostgreSQL) and kills
// the Temporal frontend, then the history service, with SIGKILL mid-batch.
// The apphost restarts each; the batch loses and duplicates nothing.
func TestClusterFrontendThenHistoryKilled(t *testing.T) {
	skipUnlessStack(t)
	base := os.Getenv(storetest.EnvDatabaseURL)
	if !strings.HasPrefix(base, "postgres") {
		ci.SkipUnlessCI(t, "%s names no PostgreSQL server", storetest.EnvDatabaseURL)
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/temporal_faults_" + strings.ToLower(rand.Text()[:10])
	temporalDB := u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, devstack.DropPostgres(ctx, temporalDB))
	})
	sz := runSize()
	s, a := startApphost(t, "--temporal-db", temporalDB, "--history-shards", "2")

	r := seed(t, s, sz.copies, false)
	r.start(t)
	var faults []fault
	for _, name := range []string{"temporal-frontend", "temporal-history"} {
		if r.status() != "running" {
			break // the batch outran the faults: verify checks it all the same
		}
		r.waitDone(t, r.done()+1)
		a.killChild(name)
		faults = append(faults, fault{what: "SIGKILL " + name, recovery: r.recovery(t)})
	}
	r.verify(t, sz.timeout)
	r.checkEvents(t, a.natsURL())

	a.stop()
	s.checkNothingLeft()
	for _, f := range faults {
		t.Logf("figure: case=%q deliveries=%d fault=%q recovery=%s lost=0 duplicated=0 batch=%s",
			"cluster: frontend then history SIGKILL", len(r.want), f.what, f.recovery.Round(100*time.Millisecond),
			r.elapsed().Round(time.Second))
	}
}

// killChild SIGKILLs one of the apphost's children and waits until the
// apphost has restarted it.
func (a *apphost) killChild(name string) {
	a.t.Helper()
	dir := filepath.Join(a.dataDir, "processes")
	before, err := supervise.ReadStatus(dir, name)
	require.NoError(a.t, err)
	require.NoError(a.t, syscall.Kill(before.PID, syscall.SIGKILL))
	require.EventuallyWithT(a.t, func(c *assert.CollectT) {
		st, err := supervise.ReadStatus(dir, name)
		require.NoError(c, err)
		assert.Equal(c, before.Restarts+1, st.Restarts)
		assert.Equal(c, "running", st.State)
	}, 2*time.Minute, 100*time.Millisecond, "apphost restarts %s", name)
}
