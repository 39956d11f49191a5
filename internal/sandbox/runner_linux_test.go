//go:build linux

package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/ci"
)

// newTestRunner builds a container runner. Where the host cannot run
// containers the test is skipped, except under CI=true, where isolation
// tests must never silently pass.
func newTestRunner(t *testing.T) *Runner {
	t.Helper()
	// ZINC_SANDBOX_CELLS=off runs the suite with a container per command,
	// ZINC_SANDBOX_RUNTIME=runc with runc.
	r, err := New(Config{Cells: os.Getenv("ZINC_SANDBOX_CELLS"), Runtime: os.Getenv("ZINC_SANDBOX_RUNTIME")}, slog.New(slog.DiscardHandler))
	if err != nil {
		ci.SkipUnlessCI(t, "no usable OCI runtime on this host: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// scratch makes a scratch directory the way the pipeline does.
func scratch(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sandbox-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func run(t *testing.T, r *Runner, spec Spec) Result {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = scratch(t)
	}
	res, err := r.Run(context.Background(), spec)
	require.NoError(t, err)
	return res
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

const python = "/usr/bin/python3"

func TestRunReportsExitStatusAndOutput(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh("echo out; echo err >&2; exit 3")})
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "out\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
	assert.False(t, res.Unsandboxed)

	res = run(t, r, Spec{Argv: sh("kill -SEGV $$")})
	assert.Equal(t, -1, res.ExitCode)
	assert.Equal(t, "SIGSEGV", res.Signal)
	assert.Empty(t, res.Stderr, "the init's job notices stay out of the command's stderr")

	// PID 1 would ignore a raised SIGPIPE or SIGABRT; the command is not PID 1.
	res = run(t, r, Spec{Argv: []string{python, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"}})
	assert.Equal(t, "SIGABRT", res.Signal)
}

func TestRunFeedsStdinAndScrubsEnvironment(t *testing.T) {
	r := newTestRunner(t)
	t.Setenv("ZINC_SECRET", "worker secret")
	res := run(t, r, Spec{Argv: sh("cat; env | grep -v -e ^PWD= -e ^HOME= | sort"), Stdin: []byte("hello\n"), Env: []string{"A=1", "PATH=/usr/bin:/bin"}})
	assert.Equal(t, "hello\nA=1\nPATH=/usr/bin:/bin\n", string(res.Stdout))
}

func TestRunShowsOnlyToolchainAndScratch(t *testing.T) {
	r := newTestRunner(t)
	dir := scratch(t)
	res := run(t, r, Spec{Dir: dir, Argv: sh(`
		for d in /run /var /home /root /srv /opt /mnt /sys; do [ -e $d ] && echo "visible: $d"; done
		ls /tmp | grep -v -x "$(basename ` + dir + `)" && echo "tmp not empty"
		touch /usr/x /etc/x /x 2>/dev/null && echo "wrote outside scratch"
		touch ` + dir + `/ok && echo scratch writable
		id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
		cat /proc/kcore 2>/dev/null | head -c 1 | wc -c
		hostname`)})
	assert.Equal(t, "scratch writable\n65534\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n0\nsandbox\n", string(res.Stdout))
}

// The seccomp filter crun loads precompiled is in force: new namespaces,
// keyrings and 32-bit calls are refused, while ordinary programs run.
func TestRunAppliesTheSeccompProfile(t *testing.T) {
	r := newTestRunner(t)
	if filepath.Base(r.host.runtime) == "crun" {
		require.NotEmpty(t, r.seccompBPF, "crun gets the precompiled filter")
	}
	res := run(t, r, Spec{Dir: scratch(t), Env: []string{"PATH=/usr/bin:/bin"}, Argv: sh(`
		unshare --user true 2>/dev/null || echo "unshare refused"
		unshare --net true 2>/dev/null || echo "unshare net refused"
		python3 -c 'import ctypes; print("keyctl", ctypes.CDLL(None, use_errno=True).syscall(250, 0, 0, 0, 0, 0), ctypes.get_errno())'
		echo 'int main(void){return 3;}' | cc -x c -o /tmp/a - && /tmp/a; echo "compiled $?"`)})
	assert.Equal(t, "unshare refused\nunshare net refused\nkeyctl -1 1\ncompiled 3\n", string(res.Stdout), "%s", res.Stderr)
}

// An attack from the issue: a host Unix socket (such as PostgreSQL's in
// /var/run/postgresql) reached through the shared /run.
func TestRunCannotReachHostUnixSockets(t *testing.T) {
	r := newTestRunner(t)
	for _, dir := range []string{"/run", "/var/run", os.TempDir()} {
		path := filepath.Join(dir, "zinc-test-"+randomName(t)+".sock")
		l, err := net.Listen("unix", path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		res := run(t, r, Spec{Argv: []string{python, "-c", fmt.Sprintf(
			"import socket; s = socket.socket(socket.AF_UNIX); s.connect(%q); print('connected')", path)}})
		assert.NotContains(t, string(res.Stdout), "connected", path)
		assert.NotEqual(t, 0, res.ExitCode, path)
	}
}

// listen starts a TCP server on addr that answers "hi" to anyone.
func listen(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hi"))
			_ = c.Close()
		}
	})
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

const connectScript = `import socket, sys
for host in sys.argv[2:]:
    try:
        s = socket.create_connection((host, int(sys.argv[1])), timeout=2)
        print("reached", host, s.recv(2))
    except OSError as e:
        print("refused", host)
`

// An attack from the issue: the worker's own loopback services (API,
// Temporal, NATS, PostgreSQL) reached from a stage, with or without
// network access.
func TestRunCannotReachHostLoopbackServices(t *testing.T) {
	r := newTestRunner(t)
	port := listen(t, "0.0.0.0:0")
	targets := append([]string{"127.0.0.1", "10.0.2.2"}, hostIPs()...)
	for _, network := range []bool{false, true} {
		res := run(t, r, Spec{Argv: append([]string{python, "-c", connectScript, port}, targets...), Limits: Limits{Network: network}})
		assert.NotContains(t, string(res.Stdout), "reached", "network %v: %s %s", network, res.Stdout, res.Stderr)
		assert.Equal(t, len(targets), strings.Count(string(res.Stdout), "refused"), "network %v: %s %s", network, res.Stdout, res.Stderr)
	}
}

func hostIPs() []string {
	var out []string
	for _, a := range hostAddresses() {
		out = append(out, strings.TrimSuffix(a, "/32"))
	}
	return out
}

func TestRunLoopbackWorksInsideTheStage(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: []string{python, "-c", `import socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
def serve():
    c, _ = srv.accept(); c.sendall(b"pong"); c.close()
threading.Thread(target=serve).start()
c = socket.create_connection(srv.getsockname()); print(c.recv(4).decode())`}})
	assert.Equal(t, "pong\n", string(res.Stdout), string(res.Stderr))
}

// An attack from the issue: SysV shared memory left behind by one stage
// and read by the next, pinning host memory outside any cgroup.
func TestRunIPCDoesNotSurviveTheStage(t *testing.T) {
	r := newTestRunner(t)
	before := hostSegments(t)
	res := run(t, r, Spec{Argv: sh("ipcmk -M 4096 >/dev/null && ipcs -m | grep -c 4096")})
	assert.Equal(t, "1\n", string(res.Stdout), string(res.Stderr))
	res = run(t, r, Spec{Argv: sh("ipcs -m | grep -c 4096")})
	assert.Equal(t, "0\n", string(res.Stdout))
	assert.Equal(t, before, hostSegments(t), "no segment appears on the host")
}

// hostSegments lists the host's shared memory segments by key, id, owner
// and size: their attach counts change with the host's own processes.
func hostSegments(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ipcs", "-m").Output()
	require.NoError(t, err)
	var segs []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(f[0], "0x") {
			segs = append(segs, strings.Join(f[:5], " "))
		}
	}
	return segs
}

func TestRunLimitsMemory(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: []string{python, "-c", "x = bytearray(200 << 20); print('survived')"}, Limits: Limits{MemoryMB: 64}})
	assert.Equal(t, LimitMemory, res.LimitHit, "%+v %s", res, res.Stderr)
	assert.NotContains(t, string(res.Stdout), "survived")
}

func TestRunLimitsProcesses(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh("for i in $(seq 40); do sleep 3 & done 2>/dev/null; kill $(jobs -p) 2>/dev/null; exit 0"), Limits: Limits{MaxProcesses: 8}})
	assert.Equal(t, LimitProcesses, res.LimitHit, "%+v", res)
}

// An issue weakness: without a CPU quota, 4 busy processes got 4 CPU
// seconds per wall second.
func TestRunLimitsCPUBandwidth(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh(`for i in 1 2 3 4; do timeout 1 sh -c 'while :; do :; done' & done; wait
		set -- $(cut -d' ' -f16,17 /proc/$$/stat); echo $(( $1 + $2 ))`), Limits: Limits{CPUs: 0.5}})
	ticks, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	require.NoError(t, err, "%s %s", res.Stdout, res.Stderr)
	// 0.5 CPU for about one second is 50 ticks; allow scheduling slack.
	assert.Less(t, ticks, 80, "CPU ticks used by 4 busy processes in 1 s")
}

func TestRunLimitsCPUSeconds(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh("while :; do :; done"), Limits: Limits{CPUSeconds: 1}, Timeout: 10 * time.Second})
	assert.Equal(t, LimitCPU, res.LimitHit, "%+v", res)
}

// A program that ignores SIGXFSZ gets EFBIG and goes on: still file_size.
func TestRunReportsFileSizeWhenSIGXFSZIsCaught(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh("trap '' XFSZ; head -c 3M /dev/zero > big; exit 0"), Limits: Limits{MaxFileMB: 1}})
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, LimitFileSize, res.LimitHit)
	res = run(t, r, Spec{Argv: sh("head -c 3M /dev/zero > big"), Limits: Limits{MaxFileMB: 1}})
	assert.Equal(t, LimitFileSize, res.LimitHit)
	res = run(t, r, Spec{Argv: sh("head -c 3M /dev/zero > /dev/shm/big"), Limits: Limits{MaxFileMB: 1}})
	assert.Equal(t, LimitFileSize, res.LimitHit, "in /dev/shm too")
}

// A student who wants a delivery left ungraded (where an instructor chose
// limit_errors: ungraded) fakes a limit hit: a signal raised on itself or
// the exit status a shell gives a signalled child. Without the CPU time or
// the file at the cap, no limit is named.
func TestRunLimitHitCannotBeFaked(t *testing.T) {
	r := newTestRunner(t)
	for _, script := range []string{
		"kill -XCPU $$", "exit 152", "kill -XFSZ $$", "exit 153", "kill -KILL $$", "exit 137",
		"head -c 1000 /dev/zero > small; kill -XFSZ $$",
	} {
		res := run(t, r, Spec{Argv: sh(script), Limits: Limits{CPUSeconds: 1, MaxFileMB: 1}})
		assert.Empty(t, res.LimitHit, "%s: %+v", script, res)
	}
	// The real thing still counts, caught or not.
	res := run(t, r, Spec{Argv: sh("trap '' XCPU; while :; do :; done"), Limits: Limits{CPUSeconds: 1}, Timeout: 10 * time.Second})
	assert.Equal(t, LimitCPU, res.LimitHit, "%+v", res)
}

// An issue weakness: no disk or inode limit.
func TestRunLimitsDisk(t *testing.T) {
	r := newTestRunner(t)
	dir := scratch(t)
	res := run(t, r, Spec{Dir: dir, Argv: sh("for i in 1 2 3 4 5 6; do head -c 3M /dev/zero > f$i || exit 1; done"), Limits: Limits{DiskMB: 8, MaxFileMB: 4}})
	assert.Equal(t, LimitDisk, res.LimitHit, "%+v %s", res, res.Stderr)
	res = run(t, r, Spec{Dir: dir, Argv: sh("i=0; while : 2>/dev/null > /tmp/f$i; do i=$((i+1)); done; echo $i"), Limits: Limits{DiskMB: 8}})
	assert.Equal(t, LimitDisk, res.LimitHit, "%+v", res)
	res = run(t, r, Spec{Dir: dir, Argv: sh("head -c 3M /dev/zero > /tmp/x"), Limits: Limits{DiskMB: 8, MaxFileMB: 4}})
	assert.Empty(t, res.LimitHit, "a later command starts with its own allowance")
}

func TestRunTruncatesAndStopsOutputFloods(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: sh("head -c 5000 /dev/zero"), Limits: Limits{OutputLimitBytes: 1000}})
	assert.Len(t, res.Stdout, 1000)
	assert.True(t, res.StdoutTruncated)
	assert.Equal(t, LimitOutput, res.LimitHit)
	res = run(t, r, Spec{Argv: sh("yes"), Limits: Limits{OutputLimitBytes: 1000}, Timeout: 20 * time.Second})
	assert.Equal(t, LimitOutput, res.LimitHit)
	assert.False(t, res.TimedOut)
}

func TestRunTimeoutKillsEverythingAndDeletesTheContainer(t *testing.T) {
	r := newTestRunner(t)
	start := time.Now()
	res := run(t, r, Spec{Argv: sh("setsid sleep 60 & (trap '' TERM; sleep 60) & sleep 60"), Timeout: 500 * time.Millisecond})
	assert.True(t, res.TimedOut)
	assert.Equal(t, "SIGKILL", res.Signal)
	assert.Less(t, time.Since(start), 10*time.Second)
	// The dead container is deleted after the result is returned; a cell
	// lives on with its loop alone.
	r.retiring.Wait()
	out, err := exec.Command(r.host.runtime, r.runtimeArgs("list", "-q")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, id := range strings.Fields(string(out)) {
		assert.Contains(t, id, "-cell", "no container of a command is left")
		procs, err := os.ReadFile(r.host.cgroupFile("/"+cgroupParent+"/"+r.id+"/"+id, "pids", "cgroup.procs"))
		require.NoError(t, err)
		assert.Len(t, strings.Fields(string(procs)), 1, "only the cell's loop is left: %s", procs)
	}
}

func TestRunCancelledContextKillsCommand(t *testing.T) {
	r := newTestRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, Spec{Argv: sh("sleep 60"), Dir: scratch(t)})
		done <- err
	}()
	time.AfterFunc(300*time.Millisecond, cancel)
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("cancelled command still running")
	}
}

func TestRunBlocksNetworkByDefault(t *testing.T) {
	r := newTestRunner(t)
	res := run(t, r, Spec{Argv: []string{python, "-c", connectScript, "80", "192.0.2.1", "8.8.8.8"}})
	assert.Equal(t, 2, strings.Count(string(res.Stdout), "refused"), "%s %s", res.Stdout, res.Stderr)
}

func TestRunCommitsChangesUnlessEphemeral(t *testing.T) {
	r := newTestRunner(t)
	dir := scratch(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old"), []byte("old"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "d/e"), 0o755))
	run(t, r, Spec{Dir: dir, Argv: sh("echo new > new && rm old && rm -r d && mkdir d && echo x > d/x && ln -s /etc/passwd link")})
	b, err := os.ReadFile(filepath.Join(dir, "new"))
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(b))
	assert.NoFileExists(t, filepath.Join(dir, "old"))
	assert.NoDirExists(t, filepath.Join(dir, "d/e"))
	assert.FileExists(t, filepath.Join(dir, "d/x"))
	target, err := os.Readlink(filepath.Join(dir, "link"))
	require.NoError(t, err)
	assert.Equal(t, "/etc/passwd", target)

	res := run(t, r, Spec{Dir: dir, Ephemeral: true, Argv: sh("echo secret > leaked; rm new; cat d/x")})
	assert.Equal(t, "x\n", string(res.Stdout))
	assert.NoFileExists(t, filepath.Join(dir, "leaked"))
	assert.FileExists(t, filepath.Join(dir, "new"))
}

func TestRunMountsFilesReadOnlyForOneCommand(t *testing.T) {
	r := newTestRunner(t)
	dir, private := scratch(t), t.TempDir()
	hidden := filepath.Join(private, "expected.txt")
	require.NoError(t, os.WriteFile(hidden, []byte("42\n"), 0o644))
	target := filepath.Join(dir, "tests/expected.txt")
	res := run(t, r, Spec{Dir: dir, Mounts: []Mount{{Source: hidden, Target: target}}, Argv: sh(
		"cat tests/expected.txt; echo 0 > tests/expected.txt 2>/dev/null && echo overwritten; rm -f tests/expected.txt 2>/dev/null && echo removed; " +
			"chmod 666 tests/expected.txt 2>/dev/null && echo changed; ls -ln tests | tail -1 | cut -d' ' -f5")})
	// Root owns it (a cell's user namespace shows the unmapped owner as nobody).
	assert.Equal(t, "42\n3\n", string(res.Stdout), string(res.Stderr))
	assert.NoFileExists(t, target, "the mount point does not stay behind")
	b, err := os.ReadFile(hidden)
	require.NoError(t, err)
	assert.Equal(t, "42\n", string(b))
}

// A scratch area reached through a symbolic link (ZINC_SCRATCH_DIR on a
// linked path): the container sees the real path, and so must the mounts.
func TestRunMountsThroughALinkedScratchPath(t *testing.T) {
	r := newTestRunner(t)
	real, private := scratch(t), t.TempDir()
	link := filepath.Join(t.TempDir(), "scratch")
	require.NoError(t, os.Symlink(real, link))
	hidden := filepath.Join(private, "input.txt")
	require.NoError(t, os.WriteFile(hidden, []byte("7\n"), 0o644))
	res := run(t, r, Spec{Dir: link, Mounts: []Mount{{Source: hidden, Target: filepath.Join(link, "tests/input.txt")}},
		Argv: sh("cat tests/input.txt")})
	assert.Equal(t, "7\n", string(res.Stdout), string(res.Stderr))
}

// An issue weakness: a worker removed other workers' cgroups as stale,
// failing their running stages.
func TestRunnersOnOneHostLeaveEachOtherAlone(t *testing.T) {
	a := newTestRunner(t)
	done := make(chan Result, 1)
	go func() {
		res, err := a.Run(context.Background(), Spec{Argv: sh("sleep 2; echo done"), Dir: scratch(t)})
		assert.NoError(t, err)
		done <- res
	}()
	b := newTestRunner(t)
	assert.Equal(t, "b\n", string(run(t, b, Spec{Argv: sh("echo b")}).Stdout))
	require.NoError(t, b.Close())
	res := <-done
	assert.Equal(t, "done\n", string(res.Stdout), "%+v %s", res, res.Stderr)
}

func TestRunConcurrently(t *testing.T) {
	r := newTestRunner(t)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			res, err := r.Run(context.Background(), Spec{Argv: sh("echo " + strconv.Itoa(i)), Dir: scratch(t)})
			assert.NoError(t, err)
			assert.Equal(t, strconv.Itoa(i)+"\n", string(res.Stdout))
		})
	}
	wg.Wait()
}

func TestRunRejectsInvalidSpec(t *testing.T) {
	r := newTestRunner(t)
	for _, spec := range []Spec{
		{Argv: nil, Dir: scratch(t)},
		{Argv: []string{"true"}, Dir: "relative"},
		{Argv: []string{"true"}, Dir: "/nonexistent-zinc"},
		{Argv: []string{"true"}, Dir: "/usr/bin"},
		{Argv: []string{"true"}, Dir: scratch(t), Mounts: []Mount{{Source: "x", Target: "/y"}}},
	} {
		_, err := r.Run(context.Background(), spec)
		assert.ErrorIs(t, err, ErrInvalidSpec, "%+v", spec)
	}
}

func TestNewRefusesWithoutRuntime(t *testing.T) {
	_, err := New(Config{Runtime: "zinc-no-such-runtime"}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrNoRuntime)
}

func TestUnsafeLocalModeMarksResults(t *testing.T) {
	r, err := New(Config{Mode: ModeUnsafeLocal, Runtime: "zinc-no-such-runtime"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	res, err := r.Run(context.Background(), Spec{Argv: sh("echo hi"), Dir: scratch(t)})
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(res.Stdout))
	assert.True(t, res.Unsandboxed)
	assert.Equal(t, []string{"containers", "user_network"}, r.Capabilities().Missing())
}

func TestRuncRunsThroughTheSameCode(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		ci.SkipUnlessCI(t, "runc is not installed")
	}
	r, err := New(Config{Runtime: "runc"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	res := run(t, r, Spec{Argv: sh("id -u; cat"), Stdin: []byte("x")})
	assert.Equal(t, "65534\nx", string(res.Stdout), string(res.Stderr))
	if os.Getenv("ZINC_SANDBOX_CELLS") != CellsOff {
		assert.NotNil(t, r.cells, "runc runs cells too")
	}
}

func randomName(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestSlotsQueueCommandsBeforeTheirTimeoutStarts: with one slot, two
// commands that each need most of their timeout both finish in time, one
// after the other; a command still waiting for its slot when ctx ends is
// cancelled.
func TestSlotsQueueCommandsBeforeTheirTimeoutStarts(t *testing.T) {
	r, err := New(Config{Mode: ModeUnsafeLocal, Slots: 1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	spec := Spec{Argv: sh("sleep 0.4"), Timeout: 700 * time.Millisecond}
	var wg sync.WaitGroup
	results := make([]Result, 2)
	errs := make([]error, 2)
	start := time.Now()
	for i := range results {
		s := spec
		s.Dir = scratch(t)
		wg.Go(func() { results[i], errs[i] = r.Run(context.Background(), s) })
	}
	wg.Wait()
	assert.GreaterOrEqual(t, time.Since(start), 800*time.Millisecond, "the commands ran one at a time")
	for i := range results {
		require.NoError(t, errs[i])
		assert.False(t, results[i].TimedOut, "command %d timed out while another held the slot", i)
		assert.Zero(t, results[i].ExitCode)
	}

	// Hold the only slot, then ask for it with a context that ends.
	require.NoError(t, r.slots.Acquire(context.Background(), 1))
	defer r.slots.Release(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s := spec
	s.Dir = scratch(t)
	_, err = r.Run(ctx, s)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNewRefusesNegativeSlots(t *testing.T) {
	_, err := New(Config{Mode: ModeUnsafeLocal, Slots: -1}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrInvalidSpec)
}
