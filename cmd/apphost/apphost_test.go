package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/supervise"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// These tests run apphost with real embedded servers and fake service
// binaries: symlinks to this test binary, which, with fakeChildEnv set, acts
// as the process its link is named after. No goleak: the embedded Temporal
// server keeps process-wide goroutines after Stop.

const (
	fakeChildEnv = "APPHOST_FAKE_CHILD"
	fakeEnvDir   = "APPHOST_FAKE_ENV_DIR"
	fakeCrash    = "APPHOST_FAKE_CRASH"
)

// childVars are the variables a fake child reports back.
var childVars = []string{
	"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "ZINC_TASK_QUEUE_PREFIX", "NATS_URL", "DATABASE_URL",
	"BLOB_URL", "ZINC_API_ADDR", "OTEL_SERVICE_NAME", "ZINC_HEALTH_ADDR", "LOG_FORMAT",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "ZINC_ADMIN_KEY",
}

func TestMain(m *testing.M) {
	if os.Getenv(fakeChildEnv) != "" {
		os.Exit(fakeChild(filepath.Base(os.Args[0])))
	}
	os.Exit(m.Run())
}

// childReport is what a fake child writes to <fakeEnvDir>/<name>.json.
type childReport struct {
	PID int
	Env map[string]string
}

// fakeChild serves readiness on ZINC_HEALTH_ADDR (and, as the api, the fake
// API on ZINC_API_ADDR) until SIGTERM.
func fakeChild(name string) int {
	report := childReport{PID: os.Getpid(), Env: map[string]string{}}
	for _, k := range childVars {
		if v, ok := os.LookupEnv(k); ok {
			report.Env[k] = v
		}
	}
	b, err := json.Marshal(report)
	if err != nil {
		return 3
	}
	if err := os.WriteFile(filepath.Join(os.Getenv(fakeEnvDir), name+".json"), b, 0o600); err != nil {
		return 3
	}
	if os.Getenv(fakeCrash) == name {
		fmt.Println("crashing on purpose")
		return 1
	}
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	health := http.NewServeMux()
	health.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {})
	if err := serveOn(os.Getenv("ZINC_HEALTH_ADDR"), health); err != nil {
		return 4
	}
	if name == apiName {
		if err := serveOn(os.Getenv("ZINC_API_ADDR"), (&fakeAPI{runningPolls: 1}).handler()); err != nil {
			return 5
		}
	}
	fmt.Printf("fake %s ready\n", name)
	<-terms
	fmt.Printf("fake %s stopping\n", name)
	return 0
}

func serveOn(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(l, h) }()
	return nil
}

// fakeStack prepares fake binaries and the environment they need, and
// returns apphost's arguments (free ports everywhere) and the report dir.
func fakeStack(t *testing.T, extra ...string) (args []string, reports string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	binDir := t.TempDir()
	for _, name := range []string{apiName, submissionName, pipelineName} {
		require.NoError(t, os.Symlink(self, filepath.Join(binDir, name)))
	}
	reports = t.TempDir()
	t.Setenv(fakeChildEnv, "1")
	t.Setenv(fakeEnvDir, reports)
	// Under -race a child would otherwise sleep a second before exiting.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	args = append([]string{
		"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--bin-dir", binDir,
		"--api-addr", "127.0.0.1:0",
		"--temporal-addr", "127.0.0.1:0",
		"--ui-addr", "127.0.0.1:0",
	}, extra...)
	return args, reports
}

func readReport(t *testing.T, dir, name string) childReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	require.NoError(t, err)
	var r childReport
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

var endpointLines = []*regexp.Regexp{
	regexp.MustCompile(`^API: http://(127\.0\.0\.1:\d+)$`),
	regexp.MustCompile(`^Temporal: (127\.0\.0\.1:\d+)$`),
	regexp.MustCompile(`^Temporal UI: http://(127\.0\.0\.1:\d+)$`),
	regexp.MustCompile(`^NATS: (nats://127\.0\.0\.1:\d+)$`),
	regexp.MustCompile(`^Token: (zinc_[A-Za-z0-9_-]{43})$`),
}

// endpoints checks the first five stdout lines and returns the addresses
// they name, in endpointLines order.
func endpoints(t *testing.T, lines []string) []string {
	t.Helper()
	require.GreaterOrEqual(t, len(lines), len(endpointLines), lines)
	out := make([]string, len(endpointLines))
	for i, re := range endpointLines {
		m := re.FindStringSubmatch(lines[i])
		require.NotNil(t, m, "line %d: %q", i, lines[i])
		out[i] = m[1]
	}
	return out
}

func TestRunDemoExit(t *testing.T) {
	args, reports := fakeStack(t, "--demo", "--exit")
	for _, k := range []string{"DATABASE_URL", "BLOB_URL", "ZINC_API_ADDR", "TEMPORAL_NAMESPACE", "LOG_FORMAT"} {
		t.Setenv(k, "")
	}
	t.Setenv("ZINC_TASK_QUEUE_PREFIX", "restored-after-test")
	require.NoError(t, os.Unsetenv("ZINC_TASK_QUEUE_PREFIX"))
	dataDir := args[1]
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var stdout, stderr syncio.Buffer

	err := runWith(ctx, args, &stdout, &stderr, stubContent)
	require.NoError(t, err, stderr.String())

	lines := strings.Split(stdout.String(), "\n")
	addrs := endpoints(t, lines)
	for _, re := range endpointLines {
		n := 0
		for _, l := range lines {
			if re.MatchString(l) {
				n++
			}
		}
		assert.Equal(t, 1, n, "exactly one line for %s", re)
	}
	assert.Contains(t, stdout.String(), "Scores as expected: 8/8\n")
	assert.Contains(t, stdout.String(), "Batch: completed\n")
	for _, name := range []string{apiName, submissionName, pipelineName} {
		assert.Contains(t, stderr.String(), "["+name+"] fake "+name+" ready\n")
		assert.Contains(t, stderr.String(), "["+name+"] fake "+name+" stopping\n", "stopped with SIGTERM")
	}

	api := readReport(t, reports, apiName)
	sub := readReport(t, reports, submissionName)
	pipe := readReport(t, reports, pipelineName)
	assert.Equal(t, addrs[0], api.Env["ZINC_API_ADDR"])
	assert.Empty(t, sub.Env["ZINC_API_ADDR"])
	// The printed token is the admin key the API creates, kept in the data dir.
	assert.Equal(t, addrs[4], api.Env["ZINC_ADMIN_KEY"])
	assert.Empty(t, sub.Env["ZINC_ADMIN_KEY"], "workers do not get the admin key")
	kept, err := localAdminKey(dataDir)
	require.NoError(t, err)
	assert.Equal(t, addrs[4], kept, "a restart keeps the key")
	healths := map[string]bool{}
	for name, r := range map[string]childReport{apiName: api, submissionName: sub, pipelineName: pipe} {
		assert.Equal(t, addrs[1], r.Env["TEMPORAL_ADDRESS"], name)
		assert.Equal(t, "default", r.Env["TEMPORAL_NAMESPACE"], name)
		assert.Equal(t, "zinc", r.Env["ZINC_TASK_QUEUE_PREFIX"], name)
		assert.Equal(t, addrs[3], r.Env["NATS_URL"], name)
		assert.Equal(t, "sqlite://"+filepath.Join(dataDir, "zinc.db"), r.Env["DATABASE_URL"], name)
		assert.Equal(t, "file://"+filepath.Join(dataDir, "blobs"), r.Env["BLOB_URL"], name)
		assert.Equal(t, "zinc-"+name, r.Env["OTEL_SERVICE_NAME"], name)
		assert.Equal(t, "text", r.Env["LOG_FORMAT"], name)
		assert.Regexp(t, `^127\.0\.0\.1:\d+$`, r.Env["ZINC_HEALTH_ADDR"], name)
		healths[r.Env["ZINC_HEALTH_ADDR"]] = true
		assert.False(t, running(r.PID), "%s left running", name)
	}
	assert.Len(t, healths, 3, "each process has its own health port")
	assert.FileExists(t, filepath.Join(dataDir, "temporal.db"))
	assert.DirExists(t, filepath.Join(dataDir, "blobs"))
	for _, addr := range addrs[:3] {
		assert.False(t, listening(addr), "%s still listening", addr)
	}
}

func TestRunStopsEverythingOnCancel(t *testing.T) {
	args, reports := fakeStack(t)
	t.Setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
	t.Setenv("BLOB_URL", "s3://zinc-blobs?region=eu-west-1")
	t.Setenv("ZINC_TASK_QUEUE_PREFIX", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("LOG_FORMAT", "json")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	pr, pw := io.Pipe()
	var stderr syncio.Buffer
	done := make(chan error, 1)
	go func() {
		err := runWith(runCtx, args, pw, &stderr, stubContent)
		_ = pw.CloseWithError(errors.Join(err, io.EOF))
		done <- err
	}()

	var lines []string
	sc := bufio.NewScanner(pr)
	for len(lines) < len(endpointLines) && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	addrs := endpoints(t, lines)
	require.True(t, listening(addrs[2]), "the UI serves while running")
	api := readReport(t, reports, apiName)
	require.True(t, running(api.PID))

	interrupt()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.NoError(t, <-done, stderr.String())

	for _, name := range []string{apiName, submissionName, pipelineName} {
		r := readReport(t, reports, name)
		assert.False(t, running(r.PID), "%s left running", name)
		assert.Equal(t, "postgres://postgres@127.0.0.1:5432/test", r.Env["DATABASE_URL"], "passed through")
		assert.Equal(t, "s3://zinc-blobs?region=eu-west-1", r.Env["BLOB_URL"], "passed through")
		assert.Empty(t, r.Env["ZINC_TASK_QUEUE_PREFIX"], "an empty prefix is kept")
		assert.Equal(t, "http://127.0.0.1:4318", r.Env["OTEL_EXPORTER_OTLP_ENDPOINT"], "OTEL_* passed through")
		assert.Equal(t, "json", r.Env["LOG_FORMAT"])
	}
	for _, addr := range addrs[:3] {
		assert.False(t, listening(addr), "%s still listening", addr)
	}
}

func TestRunFailsWhenAProcessKeepsCrashing(t *testing.T) {
	args, reports := fakeStack(t, "--restart-backoff", "1ms", "--restart-limit", "2")
	t.Setenv(fakeCrash, apiName)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var stdout, stderr syncio.Buffer

	err := runWith(ctx, args, &stdout, &stderr, stubContent)
	require.ErrorIs(t, err, supervise.ErrExited)
	assert.ErrorContains(t, err, "wait for api ready")
	assert.Contains(t, stderr.String(), `msg="process exited unexpectedly, restarting" process=api`)
	assert.Contains(t, stderr.String(), `msg="process keeps crashing, giving up" process=api`)
	assert.Contains(t, stderr.String(), `exit_status="exit status 1"`)
	assert.Empty(t, stdout.String(), "no endpoint lines before everything is ready")
	assert.Contains(t, stderr.String(), "[api] crashing on purpose\n")
	assert.NoFileExists(t, filepath.Join(reports, submissionName+".json"), "workers wait for the API")
}

func TestRunFailsBeforeStartingAnything(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{name: "missing binaries", give: []string{"--bin-dir", "/nonexistent"}, wantErr: "check binaries"},
		{name: "bad flag", give: []string{"--api-addr"}, wantErr: "flag needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", t.TempDir()}, tt.give...)
			err := runWith(t.Context(), args, io.Discard, io.Discard, stubContent)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestRunRejectsHostNameForTemporal(t *testing.T) {
	args, _ := fakeStack(t, "--temporal-addr", "localhost:7233")
	err := runWith(t.Context(), args, io.Discard, io.Discard, stubContent)
	assert.ErrorContains(t, err, "parse --temporal-addr: want IP:PORT")
}

func TestRunDemoContentFailureStopsEarly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	noContent := func() (string, []delivery, error) { return "", nil, errors.New("no demo here") }
	err := runWith(t.Context(), []string{"--demo", "--data-dir", dir}, io.Discard, io.Discard, noContent)
	assert.ErrorContains(t, err, "no demo here")
	assert.NoDirExists(t, dir, "nothing was prepared")
}

func TestDemoContentComesFromInternalDemo(t *testing.T) {
	configYAML, deliveries, err := demoContent()
	require.NoError(t, err)
	assert.Contains(t, configYAML, "version: 1")
	assert.GreaterOrEqual(t, len(deliveries), 8)
	for _, d := range deliveries {
		assert.NotEmpty(t, d.User)
		assert.NotEmpty(t, d.Files, d.User)
	}
}

func TestModuleRootFindsThisModule(t *testing.T) {
	root, err := moduleRoot(t.Context())
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "go.mod"))
	assert.DirExists(t, filepath.Join(root, "cmd", "apphost"))
}
