package integration

import (
	"context"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/fixtures"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// TestFixturesGradeThroughTemporal grades every fixture assignment as a
// batch through the real Temporal path — workflow, submission and pipeline
// workers, engine and sandbox — and checks each stored result against the
// fixture's expected.json.
func TestFixturesGradeThroughTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs untrusted fixture code for about a minute")
	}
	// The expected outcomes assume the sandbox contains the hostile
	// deliveries; on a host that cannot isolate they grade differently.
	sb, err := sandbox.New(sandbox.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	if missing := sb.Capabilities().Missing(); len(missing) > 0 {
		ci.SkipUnlessCI(t, "the fixtures assume full isolation; this host lacks %v", missing)
	}
	dbURL := ""
	if os.Getenv(storetest.EnvDatabaseURL) != "" {
		dbURL = storetest.PostgresURL(t)
	}
	st := startStack(t, dbURL, nil)
	assignments, err := fixtures.Assignments()
	require.NoError(t, err)
	marker := strconv.Itoa(100_000_000 + rand.IntN(900_000_000))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Both batches run at once: most of a hostile delivery's time is spent
	// waiting for its timeout, not computing.
	started := make([]grading.Batch, len(assignments))
	for i, a := range assignments {
		deliveries := make([]harness.Delivery, len(a.Deliveries))
		for j, d := range a.Deliveries {
			deliveries[j] = harness.Delivery{User: d.User, Files: d.WithMarker(marker).Files}
		}
		// The files the definition uploads travel with the config, as the
		// API stores them.
		seeded, err := st.SeedWithAssets(ctx, a.ConfigYAML, a.Assets, deliveries)
		require.NoError(t, err)
		started[i], err = st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 4})
		require.NoError(t, err)
	}

	for i, a := range assignments {
		t.Run(a.Name, func(t *testing.T) {
			b := started[i]
			res, err := st.Wait(ctx, b)
			require.NoError(t, err)
			require.Equal(t, grading.BatchCompleted, res.Status)

			rows, err := st.Store.BatchResults(ctx, b.ID)
			require.NoError(t, err)
			byUser := map[string]grading.Result{}
			for _, r := range rows {
				byUser[r.User] = r
			}
			var want grading.Counts
			for _, d := range a.Deliveries {
				r, ok := byUser[d.User]
				if !assert.True(t, ok, "no result for %s", d.User) {
					continue
				}
				steps := map[string]grading.StepState{}
				for _, s := range r.Steps {
					steps[fixtures.StepKey(s.Stage, s.Scenario)] = s.State
				}
				assert.Equal(t, d.WantSteps, steps, "%s: step states (%s)", d.User, d.Note)
				assert.Equal(t, d.WantStatus, r.Status, "%s: status (%s): %s", d.User, d.Note, r.Diagnostic)
				assert.Equal(t, d.WantScore, r.Score, "%s: score (%s)", d.User, d.Note)
				assert.Equal(t, a.WantMaxScore, r.MaxScore, "%s: max score", d.User)
				assert.Equal(t, 1, r.Attempt, "%s: graded once", d.User)
				switch d.WantStatus {
				case grading.StatusGraded:
					want.Graded++
				case grading.StatusUngraded:
					want.Ungraded++
				case grading.StatusError:
					want.Error++
				}
			}
			assert.Len(t, rows, len(a.Deliveries))
			assert.Equal(t, want, res.Summary.Counts)
		})
	}

	// Once every batch is over, the hostile deliveries left nothing on the
	// host.
	assert.Empty(t, processesWith("sleep", marker), "detached processes survived")
	for _, dir := range []string{os.TempDir(), "/tmp", "/var/tmp", "/dev/shm", "/etc", "/"} {
		_, err := os.Lstat(filepath.Join(dir, "zinc-escape-"+marker))
		assert.ErrorIs(t, err, fs.ErrNotExist, "stray file in %s", dir)
	}
}
