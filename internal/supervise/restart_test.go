package supervise_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/supervise"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// fastRestarts restarts quickly so tests wait milliseconds, not seconds.
var fastRestarts = supervise.RestartPolicy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

// flaky counts its runs in $HELPER_COUNTER: the first two exit with status 3,
// later ones serve like "serve".
func flaky() int {
	path := os.Getenv(counterEnv)
	raw, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(string(raw))
	n++
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)), 0o600); err != nil {
		return 5
	}
	if n <= 2 {
		fmt.Printf("run %d crashing\n", n)
		return 3
	}
	return serve(false)
}

// parent supervises a "serve" child, writes the child's pid to
// $HELPER_PIDFILE and waits to be killed.
func parent() int {
	g := supervise.New(os.Stdout, nil)
	env := append(os.Environ(), helperEnv+"=serve")
	c, err := g.Supervise(context.Background(), supervise.Command{Name: "child", Path: os.Args[0], Env: env}, supervise.RestartPolicy{})
	if err != nil {
		return 4
	}
	if err := c.WaitHTTP(context.Background(), "http://127.0.0.1:"+os.Getenv(portEnv)+"/readyz"); err != nil {
		return 5
	}
	if err := os.WriteFile(os.Getenv(pidFileEnv), []byte(strconv.Itoa(c.Process().Pid())), 0o600); err != nil {
		return 6
	}
	select {}
}

func TestSupervisedChildIsRestartedAfterCrashes(t *testing.T) {
	var out, log syncio.Buffer
	statusDir := t.TempDir()
	g := supervise.New(&out, slog.New(slog.NewTextHandler(&log, nil)), supervise.WithStatusDir(statusDir))
	t.Cleanup(func() { assert.NoError(t, g.Stop(testContext(t, 10*time.Second))) })
	sibling, err := g.Supervise(t.Context(), supervise.Command{Name: "sibling", Path: "sleep", Args: []string{"300"}}, fastRestarts)
	require.NoError(t, err)
	siblingPID := sibling.Process().Pid()
	port := freePort(t)

	c, err := g.Supervise(t.Context(), helperCommand(t, "flaky", "flaky",
		portEnv+"="+port, counterEnv+"="+filepath.Join(t.TempDir(), "runs")), fastRestarts)
	require.NoError(t, err)
	require.NoError(t, c.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+port+"/readyz"))

	assert.Equal(t, 2, c.Restarts())
	assert.Contains(t, out.String(), "[flaky] run 1 crashing\n")
	assert.Contains(t, out.String(), "[flaky] run 2 crashing\n")
	assert.Contains(t, log.String(), `msg="process exited unexpectedly, restarting" process=flaky`)
	assert.Contains(t, log.String(), `exit_status="exit status 3" restart=2`)
	assert.Equal(t, siblingPID, sibling.Process().Pid(), "the sibling kept running")
	assert.True(t, running(siblingPID))
	st, err := supervise.ReadStatus(statusDir, "flaky")
	require.NoError(t, err)
	assert.Equal(t, supervise.Status{Name: "flaky", PID: c.Process().Pid(), Restarts: 2, State: "running", Updated: st.Updated}, st)
	select {
	case <-g.Exited():
		t.Fatal("restarted crashes do not end the group")
	default:
	}
}

func TestKilledChildIsRestarted(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)
	port := freePort(t)
	url := "http://127.0.0.1:" + port + "/readyz"
	c, err := g.Supervise(t.Context(), helperCommand(t, "server", "serve", portEnv+"="+port), fastRestarts)
	require.NoError(t, err)
	require.NoError(t, c.WaitHTTP(testContext(t, 10*time.Second), url))
	first := c.Process()

	require.NoError(t, syscall.Kill(first.Pid(), syscall.SIGKILL))
	<-first.Done()
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		assert.NotEqual(t, first.Pid(), c.Process().Pid())
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, c.WaitHTTP(testContext(t, 10*time.Second), url))
	assert.Equal(t, 1, c.Restarts())
	assert.Contains(t, log.String(), `exit_status="signal: killed"`)
}

func TestCrashLoopEndsTheGroup(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)
	sibling, err := g.Supervise(t.Context(), supervise.Command{Name: "sibling", Path: "sleep", Args: []string{"300"}}, fastRestarts)
	require.NoError(t, err)
	policy := fastRestarts
	policy.MaxRestarts = 2

	c, err := g.Supervise(t.Context(), helperCommand(t, "quitter", "exit3"), policy)
	require.NoError(t, err)
	<-g.Exited()
	<-c.Gone()

	assert.ErrorIs(t, g.Cause(), supervise.ErrCrashLoop)
	assert.ErrorIs(t, g.Cause(), supervise.ErrExited)
	assert.EqualError(t, g.Cause(), "quitter: restarted too often (2 times in 1m0s): process exited: exit status 3")
	assert.Equal(t, 2, c.Restarts())
	assert.Contains(t, log.String(), `msg="process keeps crashing, giving up" process=quitter`)
	assert.True(t, running(sibling.Process().Pid()), "the group's owner decides when the others stop")
	err = c.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+freePort(t)+"/readyz")
	assert.ErrorIs(t, err, supervise.ErrExited)
}

func TestStopEndsARestartBackoff(t *testing.T) {
	var out, log syncio.Buffer
	g := supervise.New(&out, slog.New(slog.NewTextHandler(&log, nil)))
	slow := supervise.RestartPolicy{InitialBackoff: time.Hour, MaxBackoff: time.Hour}
	c, err := g.Supervise(t.Context(), helperCommand(t, "quitter", "exit3"), slow)
	require.NoError(t, err)
	<-c.Process().Done()
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		assert.Contains(t, log.String(), "restarting")
	}, 10*time.Second, 10*time.Millisecond)

	start := time.Now()
	require.NoError(t, g.Stop(testContext(t, 10*time.Second)))
	<-c.Gone()
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 0, c.Restarts())
}

// TestChildOutlivesTheThreadThatStartedIt starts a child from a goroutine
// whose OS thread then ends: the parent-death signal is bound to that
// thread, so the group must not have forked from it.
func TestChildOutlivesTheThreadThatStartedIt(t *testing.T) {
	var out, log syncio.Buffer
	g := newGroup(t, &out, &log)
	port := freePort(t)
	started := make(chan *supervise.Child)
	go func() {
		// Exiting while locked ends the thread.
		runtime.LockOSThread()
		c, err := g.Supervise(t.Context(), helperCommand(t, "server", "serve", portEnv+"="+port), fastRestarts)
		assert.NoError(t, err)
		started <- c
	}()
	c := <-started
	require.NotNil(t, c)
	require.NoError(t, c.WaitHTTP(testContext(t, 10*time.Second), "http://127.0.0.1:"+port+"/readyz"))
	assert.Equal(t, 0, c.Restarts(), "never killed by the parent-death signal")
	assert.True(t, running(c.Process().Pid()))
}

func TestChildDiesWithKilledParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux only")
	}
	pidFile := filepath.Join(t.TempDir(), "child")
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), helperEnv+"=parent", "GORACE=atexit_sleep_ms=0",
		portEnv+"="+freePort(t), pidFileEnv+"="+pidFile)
	require.NoError(t, parent.Start())
	waited := make(chan error, 1)
	go func() { waited <- parent.Wait() }()
	t.Cleanup(func() { _ = parent.Process.Kill() })

	var child int
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		raw, err := os.ReadFile(pidFile)
		if !assert.NoError(t, err) {
			return
		}
		child, err = strconv.Atoi(string(raw))
		assert.NoError(t, err)
	}, 20*time.Second, 20*time.Millisecond)
	require.True(t, running(child))

	require.NoError(t, parent.Process.Signal(syscall.SIGKILL))
	require.Error(t, <-waited, "the parent dies of the signal")
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		assert.False(t, running(child), "child %d outlived its killed parent", child)
	}, 10*time.Second, 10*time.Millisecond)
}
