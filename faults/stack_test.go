package faults

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// The service binaries, as an operator runs them.
const (
	apiName        = "api"
	submissionName = "submission-worker"
	pipelineName   = "pipeline-worker"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse() // testing.Short reads the flags
	if !testing.Short() {
		dir, err := buildBinaries()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(dir) }()
		binDir = dir
	}
	return m.Run()
}

// buildBinaries compiles apphost, the three services and the Temporal
// service into a new temporary directory.
func buildBinaries() (string, error) {
	dir, err := os.MkdirTemp("", "zinc-faults-bin-")
	if err != nil {
		return "", fmt.Errorf("create bin dir: %w", err)
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/apphost", "./cmd/api", "./cmd/submission-worker", "./cmd/pipeline-worker", "./cmd/temporal-service")
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	return dir, nil
}

// stack is the multi-process stack of one test: Temporal and NATS embedded
// in the test process, the database (PostgreSQL schema when DATABASE_URL is
// set, else a SQLite file) and NATS behind proxies the test controls, and
// the three service processes started, killed and restarted by the test as
// a supervisor would.
type stack struct {
	t        *testing.T
	env      []string
	api      *client
	apiAddr  string
	logDir   string
	scratch  string
	blobDir  string
	db       *proxy // nil on SQLite
	nats     *proxy
	natsURL  string // the NATS server itself, not its proxy
	postgres bool

	mu    sync.Mutex
	procs map[string]*process
}

// process is one running service binary.
type process struct {
	name   string
	cmd    *exec.Cmd
	health string
	exited chan struct{}
}

func skipUnlessStack(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the whole multi-process stack")
	}
}

// startStack starts everything and waits until the three processes are
// ready. wantPostgres skips the test when no PostgreSQL is configured.
func startStack(t *testing.T, wantPostgres bool) *stack {
	t.Helper()
	skipUnlessStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	tmp := t.TempDir()
	s := &stack{t: t, logDir: filepath.Join(tmp, "logs"), scratch: filepath.Join(tmp, "scratch"),
		blobDir: filepath.Join(tmp, "blobs"), procs: map[string]*process{}}
	for _, d := range []string{s.logDir, s.scratch, s.blobDir} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}

	tmprl, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		IP: "127.0.0.1", UIPort: -1, DatabaseFile: filepath.Join(tmp, "temporal.db"), Logger: quiet,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tmprl.Stop() })
	nats, err := devstack.StartNATS(ctx, devstack.NATSOptions{StoreDir: filepath.Join(tmp, "nats"), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = nats.Stop() })
	natsURL, err := url.Parse(nats.URL())
	require.NoError(t, err)
	s.nats = startProxy(t, natsURL.Host)
	s.natsURL = nats.URL()

	dbURL := storetest.SQLiteURL(t)
	if os.Getenv(storetest.EnvDatabaseURL) != "" {
		u, err := url.Parse(storetest.PostgresURL(t))
		require.NoError(t, err)
		s.db = startProxy(t, u.Host)
		u.Host = s.db.Addr()
		dbURL, s.postgres = u.String(), true
	} else if wantPostgres {
		ci.SkipUnlessCI(t, "%s is not set", storetest.EnvDatabaseURL)
	}

	port, err := devstack.FreePort("127.0.0.1")
	require.NoError(t, err)
	s.apiAddr = fmt.Sprintf("127.0.0.1:%d", port)
	s.api = newClient("http://" + s.apiAddr)
	s.api.token = faultsAdminKey
	s.env = append(withoutVars(os.Environ(), "DATABASE_URL", "NATS_URL", "BLOB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "ZINC_HEALTH_ADDR"),
		"TEMPORAL_ADDRESS="+tmprl.Address(),
		"TEMPORAL_NAMESPACE=default",
		"ZINC_TASK_QUEUE_PREFIX=zinc",
		"NATS_URL=nats://"+s.nats.Addr(),
		"DATABASE_URL="+dbURL,
		"BLOB_URL="+(&url.URL{Scheme: "file", Path: filepath.ToSlash(s.blobDir)}).String(),
		"ZINC_SCRATCH_DIR="+s.scratch,
		"LOG_FORMAT=text",
	)
	t.Cleanup(s.stop)

	// The API first: it migrates the store before the workers open it.
	s.start(ctx, apiName)
	s.start(ctx, submissionName)
	s.start(ctx, pipelineName)
	return s
}

// start launches a service binary and waits until it is ready.
func (s *stack) start(ctx context.Context, name string) {
	s.t.Helper()
	port, err := devstack.FreePort("127.0.0.1")
	require.NoError(s.t, err)
	p := &process{name: name, health: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{})}
	log, err := os.OpenFile(filepath.Join(s.logDir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(s.t, err)
	p.cmd = exec.Command(filepath.Join(binDir, name))
	p.cmd.Env = append(slices.Clone(s.env), "ZINC_HEALTH_ADDR="+p.health, "OTEL_SERVICE_NAME=zinc-"+name)
	if name == apiName {
		p.cmd.Env = append(p.cmd.Env, "ZINC_API_ADDR="+s.apiAddr, "ZINC_ADMIN_KEY="+faultsAdminKey)
	}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	require.NoError(s.t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		_ = log.Close()
		close(p.exited)
	}()
	s.mu.Lock()
	s.procs[name] = p
	s.mu.Unlock()

	urls := []string{"http://" + p.health + "/readyz"}
	if name == apiName {
		urls = append(urls, "http://"+s.apiAddr+"/readyz")
	}
	for _, u := range urls {
		require.EventuallyWithT(s.t, func(c *assert.CollectT) {
			select {
			case <-p.exited:
				require.FailNow(c, name+" exited", s.logTail(name))
			default:
			}
			status, _, err := s.api.get(ctx, u)
			require.NoError(c, err)
			require.Equal(c, http.StatusOK, status)
		}, 2*time.Minute, 100*time.Millisecond, "%s ready", name)
	}
}

// kill sends SIGKILL to a process and waits until it is gone.
func (s *stack) kill(name string) {
	s.t.Helper()
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	require.NoError(s.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
}

// stop ends every process politely, then by force.
func (s *stack) stop() {
	s.mu.Lock()
	procs := make([]*process, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if s.t.Failed() {
		for _, n := range []string{apiName, submissionName, pipelineName} {
			s.t.Logf("%s log:\n%s", n, s.logTail(n))
		}
	}
}

func (s *stack) logTail(name string) string {
	b, err := os.ReadFile(filepath.Join(s.logDir, name+".log"))
	if err != nil {
		return err.Error()
	}
	return tail(string(b), 6000)
}

// checkNothingLeft stops the stack and checks that no service process and
// no scratch directory (student code) outlived it.
func (s *stack) checkNothingLeft() {
	s.t.Helper()
	s.stop()
	assert.Empty(s.t, servicePIDs(), "processes left behind")
	entries, err := os.ReadDir(s.scratch)
	require.NoError(s.t, err)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.Empty(s.t, left, "scratch directories left behind")
}

// servicePIDs lists running processes whose executable lies in binDir.
func servicePIDs() []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != binDir {
			continue
		}
		pids = append(pids, e.Name()+":"+filepath.Base(exe))
	}
	return pids
}

func withoutVars(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(kv, n+"=") })
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// faultsAdminKey is the admin API key the API creates at start and the
// suite's client sends.
const faultsAdminKey = "zinc_faults-suite-admin-key"
