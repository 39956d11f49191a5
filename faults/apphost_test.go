package faults

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// apphost is the apphost binary running the whole stack on one data
// directory, as an operator runs it.
type apphost struct {
	t       *testing.T
	dataDir string
	args    []string
	env     []string
	log     string
	cmd     *exec.Cmd
	exited  chan struct{}
}

func (a *apphost) start(s *stack) {
	a.t.Helper()
	log, err := os.OpenFile(a.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(a.t, err)
	a.cmd = exec.Command(filepath.Join(binDir, "apphost"), a.args...)
	a.cmd.Env = a.env
	a.cmd.Stdout, a.cmd.Stderr = log, log
	require.NoError(a.t, a.cmd.Start())
	a.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		_ = log.Close()
		close(exited)
	}(a.cmd, a.exited)
	require.EventuallyWithT(a.t, func(c *assert.CollectT) {
		status, _, err := s.api.get(context.Background(), "/readyz")
		require.NoError(c, err)
		require.Equal(c, http.StatusOK, status)
	}, 5*time.Minute, 200*time.Millisecond, "apphost serves the API")
	// The apphost keeps its local admin key in the data directory.
	key, err := os.ReadFile(filepath.Join(a.dataDir, "admin.key"))
	require.NoError(a.t, err)
	s.api.token = strings.TrimSpace(string(key))
}

// startApphost runs the apphost binary on a fresh data directory with the
// newcomer's defaults (embedded NATS, SQLite, file blobs) and args, and
// waits until it serves the API.
func startApphost(t *testing.T, args ...string) (*stack, *apphost) {
	t.Helper()
	skipUnlessStack(t)
	tmp := t.TempDir()
	port := func() string {
		p, err := devstack.FreePort("127.0.0.1")
		require.NoError(t, err)
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	apiAddr := port()
	data := filepath.Join(tmp, "data")
	s := &stack{t: t, api: newClient("http://" + apiAddr), scratch: filepath.Join(tmp, "scratch"),
		blobDir: filepath.Join(data, "blobs"), procs: map[string]*process{}}
	require.NoError(t, os.MkdirAll(s.scratch, 0o755))
	a := &apphost{
		t:       t,
		dataDir: data,
		args: append([]string{"--data-dir", data, "--bin-dir", binDir, "--api-addr", apiAddr,
			"--temporal-addr", port(), "--ui-addr", port()}, args...),
		env: append(withoutVars(os.Environ(), "DATABASE_URL", "NATS_URL", "BLOB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "ZINC_HEALTH_ADDR"),
			"ZINC_SCRATCH_DIR="+s.scratch),
		log: filepath.Join(tmp, "apphost.log"),
	}
	t.Cleanup(func() {
		if a.cmd != nil {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.exited:
			case <-time.After(time.Minute):
				_ = a.cmd.Process.Kill()
			}
		}
		killServices()
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			t.Logf("apphost log:\n%s", tail(string(b), 8000))
		}
	})
	a.start(s)
	return s, a
}

// stop ends the apphost with SIGTERM, as Ctrl-C would.
func (a *apphost) stop() {
	a.t.Helper()
	require.NoError(a.t, a.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-a.exited:
	case <-time.After(time.Minute):
		a.t.Fatal("apphost did not stop within a minute of SIGTERM")
	}
	a.cmd = nil
}

// natsURL is the embedded NATS server the apphost printed last.
func (a *apphost) natsURL() string {
	a.t.Helper()
	b, err := os.ReadFile(a.log)
	require.NoError(a.t, err)
	url := ""
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NATS: "); ok {
			url = strings.TrimSpace(v)
		}
	}
	require.NotEmpty(a.t, url, "apphost printed no NATS: line")
	return url
}

// TestApphostSIGKILLThenRestart kills the apphost with SIGKILL mid-batch
// and starts it again on the same data directory: the batch resumes from
// Temporal's and ZINC's state on disk and loses nothing.
func TestApphostSIGKILLThenRestart(t *testing.T) {
	sz := runSize()
	s, a := startApphost(t)

	r := seed(t, s, sz.copies, false)
	r.start(t)
	r.waitDone(t, 1)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	<-a.exited
	// The children die with the apphost (parent-death signal); any that
	// did not are counted and stopped as an operator would.
	orphans := killServices()
	a.start(s)
	recovery := r.recovery(t)
	r.verify(t, sz.timeout)
	r.checkEvents(t, a.natsURL())

	a.stop()
	s.checkNothingLeft()
	t.Logf("figure: case=%q deliveries=%d fault=%q recovery=%s orphans=%d lost=0 duplicated=0 batch=%s",
		"apphost SIGKILL then restart", len(r.want), "SIGKILL apphost", recovery.Round(100*time.Millisecond), orphans,
		r.elapsed().Round(time.Second))
}

// killServices SIGKILLs every running service process built by TestMain
// and returns how many there were.
func killServices() int {
	pids := servicePIDs()
	for _, p := range pids {
		pid, err := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
		if err == nil && !strings.HasSuffix(p, ":apphost") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(servicePIDs()) > 0 {
		time.Sleep(50 * time.Millisecond) // a killed process leaves /proc within moments
	}
	return len(pids)
}
