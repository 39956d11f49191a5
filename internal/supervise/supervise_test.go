package supervise_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zinc-edu/orchestrator/internal/supervise"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// The test binary doubles as the child program: with helperEnv set it runs
// one helper mode instead of the tests.
const (
	helperEnv   = "SUPERVISE_HELPER"
	portEnv     = "HELPER_PORT"
	pidFileEnv  = "HELPER_PIDFILE"
	counterEnv  = "HELPER_COUNTER"
	longLineLen = 70_000
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	goleak.VerifyTestMain(m)
}

func helper(mode string) int {
	switch mode {
	case "print":
		fmt.Println("hello")
		fmt.Fprintln(os.Stderr, "oops")
		fmt.Println(strings.Repeat("x", longLineLen))
		fmt.Print("tail")
		return 0
	case "exit3":
		fmt.Println("giving up")
		return 3
	case "serve":
		return serve(false)
	case "stubborn":
		return serve(true)
	case "flaky":
		return flaky()
	case "parent":
		return parent()
	}
	return 2
}

// serve answers /readyz with 503 three times and then 200. It exits 0 on
// SIGTERM, or, when stubborn, ignores SIGTERM and first starts a grandchild
// (in its process group) whose pid it writes to $HELPER_PIDFILE.
func serve(stubborn bool) int {
	if stubborn {
		signal.Ignore(syscall.SIGTERM)
		sleep := exec.Command("sleep", "300")
		if err := sleep.Start(); err != nil {
			return 4
		}
		if err := os.WriteFile(os.Getenv(pidFileEnv), []byte(strconv.Itoa(sleep.Process.Pid)), 0o600); err != nil {
			return 5
		}
	}
	terms := make(chan os.Signal, 1)
	if !stubborn {
		signal.Notify(terms, syscall.SIGTERM)
	}
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 3 {
			fmt.Println("not ready")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Println("ready")
	})
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv(portEnv))
	if err != nil {
		return 6
	}
	go func() { _ = http.Serve(l, mux) }()
	<-terms
	fmt.Println("bye")
	return 0
}

func helperCommand(t *testing.T, name, mode string, env ...string) supervise.Command {
	t.Helper()
	return supervise.Command{
		Name: name,
		Path: os.Args[0],
		// Under -race a child would otherwise sleep a second before exiting.
		Env: append(os.Environ(), append([]string{helperEnv + "=" + mode, "GORACE=atexit_sleep_ms=0"}, env...)...),
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	return port
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newGroup returns a group whose children are stopped when the test ends.
func newGroup(t *testing.T, out *syncio.Buffer, log *syncio.Buffer) *supervise.Group {
	t.Helper()
	g := supervise.New(out, slog.New(slog.NewTextHandler(log, nil)))
	t.Cleanup(func() { assert.NoError(t, g.Stop(testContext(t, 10*time.Second))) })
	return g
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func TestOutputIsPrefixedPerLine(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)

	p, err := g.Start(t.Context(), helperCommand(t, "printer", "print"))
	require.NoError(t, err)
	<-p.Done()

	require.NoError(t, p.Err())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, line := range lines {
		assert.True(t, strings.HasPrefix(line, "[printer] "), "unprefixed line %.40q", line)
	}
	assert.Contains(t, lines, "[printer] hello")
	assert.Contains(t, lines, "[printer] oops")
	assert.Contains(t, lines, "[printer] tail", "a last line without newline is still written whole")
	xs := 0
	for _, line := range lines {
		xs += strings.Count(line, "x")
	}
	assert.Equal(t, longLineLen, xs, "a long line is split, never truncated")
	assert.Len(t, lines, 5, "hello, oops, the long line in two parts, tail")
}

func TestWaitHTTPAndGracefulStop(t *testing.T) {
	var out, log syncio.Buffer
	g := supervise.New(&out, slog.New(slog.NewTextHandler(&log, nil)))
	port := freePort(t)

	p, err := g.Start(t.Context(), helperCommand(t, "server", "serve", portEnv+"="+port))
	require.NoError(t, err)
	require.NoError(t, p.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+port+"/readyz"))
	assert.Contains(t, out.String(), "[server] not ready\n", "readiness waited through 503s")

	require.NoError(t, g.Stop(testContext(t, 10*time.Second)))
	assert.NoError(t, p.Err(), "the child exited 0 on SIGTERM")
	assert.True(t, strings.HasSuffix(out.String(), "[server] bye\n"), out.String())
	assert.False(t, running(p.Pid()))
	assert.NotContains(t, log.String(), "killing")
	select {
	case <-g.Exited():
		t.Fatal("a stop requested by the group is not an unexpected exit")
	default:
	}
}

func TestWaitHTTPFailsWhenProcessExits(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)

	p, err := g.Start(t.Context(), helperCommand(t, "quitter", "exit3"))
	require.NoError(t, err)
	err = p.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+freePort(t)+"/readyz")
	require.ErrorIs(t, err, supervise.ErrExited)
	assert.ErrorContains(t, err, "exit status 3")

	<-g.Exited()
	assert.ErrorIs(t, g.Cause(), supervise.ErrExited)
	assert.ErrorContains(t, g.Cause(), "quitter")
	assert.Contains(t, out.String(), "[quitter] giving up\n")
}

func TestWaitHTTPFailsWhenContextEnds(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)

	p, err := g.Start(t.Context(), supervise.Command{Name: "sleeper", Path: "sleep", Args: []string{"300"}})
	require.NoError(t, err)
	err = p.WaitHTTP(testContext(t, 300*time.Millisecond), "http://127.0.0.1:"+freePort(t)+"/readyz")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, running(p.Pid()), "a failed wait leaves the process to Stop")
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	var out, log syncio.Buffer
	g := supervise.New(&out, slog.New(slog.NewTextHandler(&log, nil)))
	port := freePort(t)
	pidFile := filepath.Join(t.TempDir(), "grandchild")

	p, err := g.Start(t.Context(), helperCommand(t, "stubborn", "stubborn", portEnv+"="+port, pidFileEnv+"="+pidFile))
	require.NoError(t, err)
	require.NoError(t, p.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+port+"/readyz"))
	raw, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	grandchild, err := strconv.Atoi(string(raw))
	require.NoError(t, err)
	require.True(t, running(grandchild))

	start := time.Now()
	require.NoError(t, g.Stop(testContext(t, 300*time.Millisecond)))
	assert.Less(t, time.Since(start), 5*time.Second, "SIGKILL follows the grace period")
	assert.ErrorContains(t, p.Err(), "killed")
	assert.False(t, running(p.Pid()))
	// The grandchild was killed with its group; its reaping is up to init.
	require.Eventually(t, func() bool { return !running(grandchild) }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, log.String(), "process ignored sigterm, killing")
	assert.NotContains(t, out.String(), "bye")
}

func TestStartFailures(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)

	t.Run("missing program", func(t *testing.T) {
		_, err := g.Start(t.Context(), supervise.Command{Name: "ghost", Path: filepath.Join(t.TempDir(), "nope")})
		assert.ErrorContains(t, err, "start ghost")
	})

	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := g.Start(ctx, supervise.Command{Name: "late", Path: "true"})
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("after stop", func(t *testing.T) {
		require.NoError(t, g.Stop(t.Context()))
		_, err := g.Start(t.Context(), supervise.Command{Name: "late", Path: "true"})
		assert.ErrorContains(t, err, "group is stopping")
	})
}
