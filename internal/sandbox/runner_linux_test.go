//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestRunner builds a runner with whatever this host offers.
func newTestRunner(t *testing.T) *Runner {
	t.Helper()
	r, err := New(Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return r
}

// degradedRunner is a runner restricted to what an unprivileged worker on a
// host without namespaces or cgroups has: a process group, rlimits and the
// timeout.
func degradedRunner(t *testing.T) *Runner {
	t.Helper()
	r := newTestRunner(t)
	r.caps = Capabilities{Rlimits: true}
	r.cgroups = cgroupSet{}
	r.uid, r.gid = os.Getuid(), os.Getgid()
	return r
}

func requireCaps(t *testing.T, r *Runner, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Skipf("this host cannot enforce %s (capabilities %+v); run as root on Linux with namespaces and cgroups", what, r.Capabilities())
	}
}

// scratch makes a scratch directory the way the engine does: directly under
// os.TempDir().
func scratch(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sandbox-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "zincmark" + hex.EncodeToString(b)
}

// processesWith lists the pids whose command line contains s.
func processesWith(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func run(t *testing.T, r *Runner, spec Spec) Result {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = scratch(t)
	}
	if spec.Timeout == 0 {
		spec.Timeout = 20 * time.Second
	}
	res, err := r.Run(t.Context(), spec)
	require.NoError(t, err)
	return res
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestRunReportsExitStatus(t *testing.T) {
	r := newTestRunner(t)
	tests := []struct {
		name       string
		giveScript string
		wantExit   int
		wantSignal string
	}{
		{name: "success", giveScript: "exit 0", wantExit: 0},
		{name: "failure", giveScript: "exit 3", wantExit: 3},
		{name: "segfault", giveScript: "kill -SEGV $$", wantExit: -1, wantSignal: "SIGSEGV"},
		{name: "abort", giveScript: "kill -ABRT $$", wantExit: -1, wantSignal: "SIGABRT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, r, Spec{Argv: sh(tt.giveScript)})
			assert.Equal(t, tt.wantExit, res.ExitCode)
			assert.Equal(t, tt.wantSignal, res.Signal)
			assert.False(t, res.TimedOut)
			assert.Empty(t, res.LimitHit)
		})
	}
}

func TestRunReportsMissingProgram(t *testing.T) {
	res := run(t, newTestRunner(t), Spec{Argv: []string{"./no-such-program"}})
	assert.Equal(t, 127, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "no-such-program")
}

func TestRunFeedsStdin(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: []string{"cat"}, Stdin: []byte("hello\nworld\n")})
	assert.Equal(t, "hello\nworld\n", string(res.Stdout))

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	res = run(t, r, Spec{Argv: []string{"wc", "-c"}, Stdin: big})
	assert.Equal(t, strconv.Itoa(len(big)), strings.TrimSpace(string(res.Stdout)))

	res = run(t, r, Spec{Argv: []string{"wc", "-c"}})
	assert.Equal(t, "0", strings.TrimSpace(string(res.Stdout)), "nil stdin is empty")
}

func TestRunIgnoresUnreadStdin(t *testing.T) {
	res := run(t, newTestRunner(t), Spec{Argv: sh("exit 4"), Stdin: bytes.Repeat([]byte("x"), 1<<20)})
	assert.Equal(t, 4, res.ExitCode)
}

func TestRunScrubsEnvironment(t *testing.T) {
	t.Setenv("ZINC_TEST_SECRET", "database-password")
	res := run(t, newTestRunner(t), Spec{
		Argv: []string{"env"},
		Env:  []string{"LANG=C", "GREETING=hello world"},
	})
	assert.Equal(t, "LANG=C\nGREETING=hello world\n", string(res.Stdout))
}

func TestRunUsesWorkingDirectory(t *testing.T) {
	r := newTestRunner(t)
	dir := scratch(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "input.txt"), []byte("given"), 0o600))
	res := run(t, r, Spec{Argv: sh("pwd; cat input.txt; echo made > output.txt"), Dir: dir})
	require.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, real+"\ngiven", string(res.Stdout))
	got, err := os.ReadFile(filepath.Join(dir, "output.txt"))
	require.NoError(t, err)
	assert.Equal(t, "made\n", string(got))
}

func TestRunTimeoutKillsDetachedProcesses(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.PIDNamespace || r.caps.CgroupPids || r.caps.CgroupMemory, "containment of detached processes")
	mark := marker(t)
	start := time.Now()
	res := run(t, r, Spec{
		// A setsid'd daemon, a double-forked one, and a foreground sleep.
		Argv: sh(`setsid sh -c "sleep 100; : ` + mark + `" &
			(sh -c "sleep 100; : ` + mark + `" &)
			sleep 100`),
		Timeout: 500 * time.Millisecond,
	})
	assert.True(t, res.TimedOut)
	assert.Equal(t, -1, res.ExitCode)
	assert.Equal(t, "SIGKILL", res.Signal)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Empty(t, processesWith(t, mark), "a process outlived its stage")
}

func TestRunKillsProcessesLeftBehind(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.PIDNamespace || r.caps.CgroupPids || r.caps.CgroupMemory, "containment of detached processes")
	mark := marker(t)
	dir := scratch(t)
	res := run(t, r, Spec{
		Argv: sh(`setsid sh -c "sleep 100; : ` + mark + `" >/dev/null 2>&1 &
			(sh -c "sleep 100; : ` + mark + `" &)
			echo parent done`),
		Dir: dir,
	})
	assert.Equal(t, 0, res.ExitCode)
	assert.False(t, res.TimedOut)
	assert.Equal(t, "parent done\n", string(res.Stdout))
	assert.Empty(t, processesWith(t, mark), "a process outlived its stage")
	assert.Empty(t, processesWith(t, dir), "a helper of the sandbox outlived its stage")
}

func TestRunContainsForkBomb(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.CgroupPids, "a per-stage process limit (pids cgroup)")
	mark := marker(t)
	res := run(t, r, Spec{
		Argv:    sh(`: ` + mark + `; bomb() { bomb | bomb; }; bomb`),
		Timeout: 3 * time.Second,
		Limits:  Limits{MaxProcesses: 20},
	})
	assert.Equal(t, LimitProcesses, res.LimitHit)
	assert.Empty(t, processesWith(t, mark), "a process outlived its stage")
}

func TestRunKillsMemoryHog(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.CgroupMemory, "a memory limit with kill detection (memory cgroup)")
	res := run(t, r, Spec{
		// tail keeps a line that never ends in memory.
		Argv:   sh("head -c 1000000000 /dev/zero | tail -n 1 >/dev/null"),
		Limits: Limits{MemoryMB: 32},
	})
	assert.Equal(t, LimitMemory, res.LimitHit)
	assert.NotEqual(t, 0, res.ExitCode)
}

func TestRunKillsMemoryHogDirectly(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.CgroupMemory, "a memory limit with kill detection (memory cgroup)")
	res := run(t, r, Spec{
		Argv:   []string{"tail", "-n", "1", "/dev/zero"},
		Limits: Limits{MemoryMB: 32},
	})
	assert.Equal(t, LimitMemory, res.LimitHit)
	assert.Equal(t, "SIGKILL", res.Signal)
}

func TestRunTruncatesOutput(t *testing.T) {
	res := run(t, newTestRunner(t), Spec{
		Argv:   sh("head -c 3000 /dev/zero; head -c 10 /dev/zero >&2"),
		Limits: Limits{OutputLimitBytes: 1000},
	})
	assert.Equal(t, 0, res.ExitCode, "a little too much output does not kill the command")
	assert.Len(t, res.Stdout, 1000)
	assert.True(t, res.StdoutTruncated)
	assert.Len(t, res.Stderr, 10)
	assert.False(t, res.StderrTruncated)
	assert.Equal(t, LimitOutput, res.LimitHit)
}

func TestRunStopsOutputFlood(t *testing.T) {
	r := newTestRunner(t)
	tests := []struct {
		name string
		give []string
	}{
		{name: "stdout", give: []string{"yes"}},
		{name: "stderr", give: sh("yes >&2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, r, Spec{Argv: tt.give, Limits: Limits{OutputLimitBytes: 1000}, Timeout: time.Minute})
			assert.Equal(t, LimitOutput, res.LimitHit)
			assert.False(t, res.TimedOut, "the flood, not the timeout, stopped it")
			assert.True(t, res.StdoutTruncated || res.StderrTruncated)
			assert.LessOrEqual(t, len(res.Stdout), 1000)
			assert.LessOrEqual(t, len(res.Stderr), 1000)
		})
	}
}

func TestRunStopsHugeFile(t *testing.T) {
	r := newTestRunner(t)
	tests := []struct {
		name       string
		giveScript string
		wantSignal string
	}{
		{name: "the command itself", giveScript: "exec head -c 10000000 /dev/zero > big", wantSignal: "SIGXFSZ"},
		{name: "a child, the shell goes on", giveScript: "head -c 10000000 /dev/zero > big; echo after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := scratch(t)
			res := run(t, r, Spec{Argv: sh(tt.giveScript), Dir: dir, Limits: Limits{MaxFileMB: 1}})
			assert.Equal(t, LimitFileSize, res.LimitHit)
			assert.Equal(t, tt.wantSignal, res.Signal)
			info, err := os.Stat(filepath.Join(dir, "big"))
			require.NoError(t, err)
			assert.Equal(t, int64(1<<20), info.Size())
		})
	}
}

func TestRunLimitsCPU(t *testing.T) {
	res := run(t, newTestRunner(t), Spec{
		Argv:    sh("while :; do :; done"),
		Limits:  Limits{CPUSeconds: 1},
		Timeout: time.Minute,
	})
	assert.Equal(t, LimitCPU, res.LimitHit)
	assert.Equal(t, "SIGXCPU", res.Signal)
	assert.False(t, res.TimedOut)
}

func TestRunLimitsOpenFiles(t *testing.T) {
	res := run(t, newTestRunner(t), Spec{Argv: sh("ulimit -n"), Limits: Limits{OpenFiles: 17}})
	assert.Equal(t, "17\n", string(res.Stdout))
}

func TestRunBlocksNetwork(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.NetworkNamespace, "network isolation (network namespace)")
	res := run(t, r, Spec{Argv: []string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5432 && echo connected"}})
	assert.NotEqual(t, 0, res.ExitCode)
	assert.NotContains(t, string(res.Stdout), "connected")
}

func TestRunAllowsNetworkWhenAsked(t *testing.T) {
	r := newTestRunner(t)
	conn, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if err != nil {
		t.Skipf("nothing listens on 127.0.0.1:5432 to connect to: %v", err)
	}
	_ = conn.Close()
	res := run(t, r, Spec{
		Argv:   []string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5432 && echo connected"},
		Limits: Limits{Network: true},
	})
	assert.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	assert.Equal(t, "connected\n", string(res.Stdout))
}

func TestRunDropsPrivileges(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.PrivilegeDrop, "a privilege drop (the worker is not root)")
	dir := scratch(t)
	res := run(t, r, Spec{Argv: sh("id -u; id -g; touch mine"), Dir: dir})
	assert.Equal(t, "65534\n65534\n", string(res.Stdout))
	info, err := os.Stat(filepath.Join(dir, "mine"))
	require.NoError(t, err)
	assert.Equal(t, uint32(65534), info.Sys().(*syscall.Stat_t).Uid)

	mark := marker(t)
	for _, target := range []string{"/etc/" + mark, "/root/" + mark, "/" + mark} {
		res := run(t, r, Spec{Argv: sh("echo x > " + target)})
		assert.NotEqual(t, 0, res.ExitCode, "wrote %s", target)
		assert.NoFileExists(t, target)
	}
}

func TestRunCannotReadWorkerEnvironment(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.PrivilegeDrop && r.caps.PIDNamespace, "hiding the worker's processes")
	res := run(t, r, Spec{Argv: sh("cat /proc/" + strconv.Itoa(os.Getpid()) + "/environ; cat /proc/1/environ")})
	assert.NotEqual(t, 0, res.ExitCode)
	assert.Empty(t, res.Stdout)
}

func TestRunGivesPrivateTemporaryDirectories(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.MountNamespace, "private temporary directories (mount namespace)")
	mark := marker(t)
	res := run(t, r, Spec{Argv: sh("echo x > /tmp/" + mark + " && echo x > /var/tmp/" + mark + " && ls /tmp")})
	require.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	assert.NoFileExists(t, "/tmp/"+mark)
	assert.NoFileExists(t, "/var/tmp/"+mark)

	// Other scratch directories under /tmp are invisible.
	other := scratch(t)
	res = run(t, r, Spec{Argv: sh("ls -d " + other)})
	assert.NotEqual(t, 0, res.ExitCode)
}

func TestRunCancelledContextKillsCommand(t *testing.T) {
	r := newTestRunner(t)
	mark := marker(t)
	dir := scratch(t)
	fifo := filepath.Join(dir, "started")
	require.NoError(t, syscall.Mkfifo(fifo, 0o666))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.Run(ctx, Spec{Argv: sh("echo started > started; sleep 100; : " + mark), Dir: dir, Timeout: time.Minute})
		// Had the command never opened the fifo, this unblocks the reader.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = f.Close()
		}
		done <- outcome{res, err}
	}()
	// Opening the fifo blocks until the command opens it for writing.
	started, err := os.ReadFile(fifo)
	require.NoError(t, err)
	require.Equal(t, "started\n", string(started))
	cancel()
	got := <-done
	require.ErrorIs(t, got.err, context.Canceled)
	assert.Equal(t, "SIGKILL", got.res.Signal)
	assert.False(t, got.res.TimedOut)
	assert.Empty(t, processesWith(t, mark))
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := newTestRunner(t).Run(ctx, Spec{Argv: sh("exit 0"), Dir: scratch(t)})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRunRejectsInvalidSpec(t *testing.T) {
	r := newTestRunner(t)
	file := filepath.Join(scratch(t), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name string
		give Spec
	}{
		{name: "no argv", give: Spec{Dir: scratch(t)}},
		{name: "relative dir", give: Spec{Argv: []string{"true"}, Dir: "scratch"}},
		{name: "missing dir", give: Spec{Argv: []string{"true"}, Dir: "/nonexistent/zinc"}},
		{name: "dir is a file", give: Spec{Argv: []string{"true"}, Dir: file}},
		{name: "negative limit", give: Spec{Argv: []string{"true"}, Dir: scratch(t), Limits: Limits{CPUSeconds: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Run(t.Context(), tt.give)
			assert.ErrorIs(t, err, ErrInvalidSpec)
		})
	}
}

func TestRunLeavesNoCgroups(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.CgroupMemory || r.caps.CgroupPids, "cgroups")
	run(t, r, Spec{Argv: sh("exit 0")})
	prefix := "w" + strconv.Itoa(os.Getpid()) + "-" + r.id + "-"
	for _, c := range []*controller{r.cgroups.memory, r.cgroups.pids} {
		if c == nil {
			continue
		}
		entries, err := os.ReadDir(c.base)
		require.NoError(t, err)
		for _, e := range entries {
			assert.False(t, strings.HasPrefix(e.Name(), prefix), "cgroup %s left behind", e.Name())
		}
	}
}

func TestRunConcurrently(t *testing.T) {
	r := newTestRunner(t)
	var wg sync.WaitGroup
	results := make([]Result, 4)
	errs := make([]error, 4)
	for i := range results {
		dir := scratch(t)
		wg.Go(func() {
			results[i], errs[i] = r.Run(t.Context(), Spec{
				Argv: sh("echo $N; exit $N"), Env: []string{"N=" + strconv.Itoa(i)}, Dir: dir, Timeout: 20 * time.Second,
			})
		})
	}
	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i])
		assert.Equal(t, i, results[i].ExitCode)
		assert.Equal(t, strconv.Itoa(i)+"\n", string(results[i].Stdout))
	}
}

func TestNewRequireIsolation(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, len(r.Capabilities().Missing()) == 0, "full isolation")
	_, err := New(Config{RequireIsolation: true}, slog.New(slog.DiscardHandler))
	assert.NoError(t, err)
}

func TestNewRequireIsolationRefusesDegradedHost(t *testing.T) {
	r := newTestRunner(t)
	if len(r.Capabilities().Missing()) == 0 {
		t.Skip("this host isolates fully; nothing to refuse")
	}
	_, err := New(Config{RequireIsolation: true}, slog.New(slog.DiscardHandler))
	assert.ErrorIs(t, err, ErrIsolation)
}

func TestNewLogsOnce(t *testing.T) {
	var records []slog.Record
	var mu sync.Mutex
	h := recordHandler{add: func(r slog.Record) { mu.Lock(); records = append(records, r); mu.Unlock() }}
	r, err := New(Config{}, slog.New(h))
	require.NoError(t, err)
	require.Len(t, records, 1)
	if len(r.Capabilities().Missing()) > 0 {
		assert.Equal(t, slog.LevelWarn, records[0].Level)
	} else {
		assert.Equal(t, slog.LevelInfo, records[0].Level)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(Config{DefaultLimits: Limits{MemoryMB: -5}}, slog.New(slog.DiscardHandler))
	assert.ErrorIs(t, err, ErrInvalidSpec)
	_, err = New(Config{}, nil)
	assert.Error(t, err)
}

func TestDegradedRunnerStillLimits(t *testing.T) {
	r := degradedRunner(t)
	mark := marker(t)

	res := run(t, r, Spec{Argv: sh("sleep 100 & sleep 100; : " + mark), Timeout: 300 * time.Millisecond})
	assert.True(t, res.TimedOut)
	assert.Empty(t, processesWith(t, mark), "the process group outlived the timeout")

	res = run(t, r, Spec{Argv: []string{"env"}, Env: []string{"ONLY=this"}})
	assert.Equal(t, "ONLY=this\n", string(res.Stdout))

	res = run(t, r, Spec{Argv: sh("while :; do :; done"), Limits: Limits{CPUSeconds: 1}})
	assert.Equal(t, LimitCPU, res.LimitHit)

	res = run(t, r, Spec{Argv: sh("ulimit -v"), Limits: Limits{MemoryMB: 100}})
	assert.Equal(t, strconv.Itoa(100<<10)+"\n", string(res.Stdout), "RLIMIT_AS stands in for the memory cgroup")
}

func TestCgroupOnlyRunnerKillsDetachedProcesses(t *testing.T) {
	r := newTestRunner(t)
	requireCaps(t, r, r.caps.CgroupPids || r.caps.CgroupMemory, "cgroups")
	// Without namespaces the cgroup is what finds a process that left its
	// process group.
	r.caps.PIDNamespace, r.caps.MountNamespace = false, false
	mark := marker(t)
	res := run(t, r, Spec{
		Argv: sh(`setsid sh -c "sleep 100; : ` + mark + `" >/dev/null 2>&1 &
			(sh -c "sleep 100; : ` + mark + `" >/dev/null 2>&1 &)
			echo parent done`),
	})
	assert.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	assert.Equal(t, "parent done\n", string(res.Stdout))
	assert.Empty(t, processesWith(t, mark), "a process outlived its stage")
}

func TestLimitHit(t *testing.T) {
	never := func() bool { return false }
	tests := []struct {
		name string
		give hitFacts
		want string
	}{
		{name: "nothing", give: hitFacts{fileAtCap: never}},
		{name: "flood wins", give: hitFacts{flooded: true, oomKills: 1, fileAtCap: never}, want: LimitOutput},
		{name: "oom", give: hitFacts{oomKills: 1, signal: "SIGKILL", fileAtCap: never}, want: LimitMemory},
		{name: "sigxcpu", give: hitFacts{signal: "SIGXCPU", fileAtCap: never}, want: LimitCPU},
		{name: "cpu hard limit", give: hitFacts{signal: "SIGKILL", cpuUsed: 2 * time.Second, cpuLimit: time.Second, fileAtCap: never}, want: LimitCPU},
		{name: "timeout kill is not cpu", give: hitFacts{signal: "SIGKILL", killedByUs: true, cpuUsed: 2 * time.Second, cpuLimit: time.Second, fileAtCap: never}},
		{name: "shell saw sigxcpu", give: hitFacts{exitCode: 152, cpuUsed: time.Second, cpuLimit: time.Second, fileAtCap: never}, want: LimitCPU},
		{name: "sigxfsz", give: hitFacts{signal: "SIGXFSZ", fileAtCap: never}, want: LimitFileSize},
		{name: "file at cap", give: hitFacts{fileAtCap: func() bool { return true }}, want: LimitFileSize},
		{name: "pids", give: hitFacts{pidsMax: 3, fileAtCap: never}, want: LimitProcesses},
		{name: "truncated", give: hitFacts{truncated: true, fileAtCap: never}, want: LimitOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, limitHit(tt.give))
		})
	}
}

func TestResolveUser(t *testing.T) {
	uid, gid, err := resolveUser("1234:5678")
	require.NoError(t, err)
	assert.Equal(t, []int{1234, 5678}, []int{uid, gid})

	uid, gid, err = resolveUser("4321")
	require.NoError(t, err)
	assert.Equal(t, []int{4321, 4321}, []int{uid, gid})

	uid, _, err = resolveUser("")
	require.NoError(t, err)
	assert.NotZero(t, uid)

	_, _, err = resolveUser("root")
	assert.ErrorIs(t, err, ErrInvalidSpec)
	_, _, err = resolveUser("no-such-user-zinc")
	assert.Error(t, err)
}

func TestUnescapeMount(t *testing.T) {
	assert.Equal(t, "/sys/fs/cgroup/my dir", unescapeMount(`/sys/fs/cgroup/my\040dir`))
	assert.Equal(t, "/plain", unescapeMount("/plain"))
}

func TestFileAtLimitIgnoresOldFiles(t *testing.T) {
	dir := scratch(t)
	path := filepath.Join(dir, "provided")
	require.NoError(t, os.WriteFile(path, make([]byte, 100), 0o600))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))
	assert.False(t, fileAtLimit(dir, 100, time.Now().Add(-time.Minute)))
	require.NoError(t, os.Chtimes(path, time.Now(), time.Now()))
	assert.True(t, fileAtLimit(dir, 100, time.Now().Add(-time.Minute)))
}

// recordHandler collects log records.
type recordHandler struct{ add func(slog.Record) }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.add(r)
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }
