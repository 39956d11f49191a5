package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/supervise"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// clusterProcesses are the Temporal services apphost --temporal-db runs.
var clusterProcesses = []string{"temporal-frontend", "temporal-history", "temporal-matching", "temporal-worker"}

// TestApphostClusterOnPostgres runs the stack with Temporal as a cluster of
// four processes on a fresh PostgreSQL database, two workers of each kind
// and a third pipeline worker started by hand from <data-dir>/stack.env;
// kills the frontend with SIGKILL and waits for its restart; grades the demo
// batch; and checks that SIGTERM leaves nothing running.
func TestApphostClusterOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	base := os.Getenv("DATABASE_URL")
	if !strings.HasPrefix(base, "postgres") {
		ci.SkipUnlessCI(t, "DATABASE_URL names no PostgreSQL server")
	}
	temporalDB := databaseURL(t, base, "temporal_"+strings.ToLower(rand.Text()[:10]))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, devstack.DropPostgres(ctx, temporalDB))
	})
	bin := buildBinaries(t)
	data := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a := startApphost(t, bin, "--data-dir", data, "--temporal-db", temporalDB, "--history-shards", "2",
		"--pipeline-workers", "2", "--submission-workers", "2")
	endpoints := a.endpoints
	api := endpoints["API"]
	processes := endpoints["Processes"]
	require.Equal(t, filepath.Join(data, "processes"), processes)
	status, _ := get(t, ctx, endpoints["Temporal UI"]+"/")
	require.Equal(t, http.StatusOK, status, "Temporal UI")
	for _, name := range append(clusterProcesses, "api", "submission-worker", "submission-worker-2", "pipeline-worker", "pipeline-worker-2") {
		st, err := supervise.ReadStatus(processes, name)
		require.NoError(t, err)
		assert.Equal(t, "running", st.State, name)
		assert.True(t, alive(st.PID), "%s pid %d", name, st.PID)
	}

	extra := startFromStackEnv(t, ctx, bin, data)

	// The frontend dies; the supervisor brings it back on the same port.
	front, err := supervise.ReadStatus(processes, "temporal-frontend")
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(front.PID, syscall.SIGKILL))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		st, err := supervise.ReadStatus(processes, "temporal-frontend")
		if assert.NoError(c, err) {
			assert.Equal(c, 1, st.Restarts)
			assert.Equal(c, "running", st.State)
		}
	}, time.Minute, 50*time.Millisecond)
	assert.Contains(t, a.stderr.String(), `msg="process exited unexpectedly, restarting" process=temporal-frontend`)

	ctx = withToken(ctx, endpoints["Token"])
	gradeDemoBatch(t, ctx, api)

	require.NoError(t, extra.Process.Signal(syscall.SIGTERM))
	require.NoError(t, extra.Wait(), "hand-started worker exit status")
	children := childPIDs(bin)
	require.Len(t, children, 9, "four temporal services, the api, two workers of each kind: %v", children)
	a.stop()
	require.Empty(t, childPIDs(bin), "processes left after apphost stopped")
}

// startFromStackEnv starts one more pipeline worker the way the README says
// (set -a; . <data-dir>/stack.env) and returns once its own health endpoint,
// on a free port, reports ready.
func startFromStackEnv(t *testing.T, ctx context.Context, bin, data string) *exec.Cmd {
	t.Helper()
	worker := exec.Command("sh", "-c", `set -a; . "$1"; set +a; exec "$2"`, "sh",
		filepath.Join(data, "stack.env"), filepath.Join(bin, "pipeline-worker"))
	worker.Env = withoutVars(os.Environ(), "DATABASE_URL", "NATS_URL", "BLOB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "ZINC_HEALTH_ADDR")
	out, err := worker.StderrPipe()
	require.NoError(t, err)
	worker.Stdout = worker.Stderr
	require.NoError(t, worker.Start())
	t.Cleanup(func() { _ = worker.Process.Kill() })
	healthRe := regexp.MustCompile(`health server started.*addr=(127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	var log syncio.Buffer
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			_, _ = log.Write(append(sc.Bytes(), '\n'))
			if m := healthRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var health string
	select {
	case health = <-found:
	case <-time.After(2 * time.Minute):
		t.Fatalf("hand-started worker logged no health address:\n%s", log.String())
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, supervise.ProbeHTTP(ctx, "http://"+health+"/readyz"))
	}, time.Minute, 100*time.Millisecond, "hand-started worker:\n%s", log.String())
	return worker
}

func databaseURL(t *testing.T, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
