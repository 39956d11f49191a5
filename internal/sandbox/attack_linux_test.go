//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zinc-edu/orchestrator/internal/ci"
)

// unpinInit clears the parent-death signal of PID 1 of the command's PID
// namespace (bwrap's init, the same user as the command, and dumpable) by
// injecting prctl(PR_SET_PDEATHSIG, 0) into it with ptrace, then lets it
// go back to waiting for its children.
const unpinInit = `#define _GNU_SOURCE
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

int main(void) {
	struct user_regs_struct saved, r;
	int st;
	if (ptrace(PTRACE_SEIZE, 1, 0, 0) < 0 || ptrace(PTRACE_INTERRUPT, 1, 0, 0) < 0) { perror("ptrace"); return 1; }
	waitpid(1, &st, __WALL);
	ptrace(PTRACE_SYSCALL, 1, 0, 0); /* to the entry of its restarted wait */
	waitpid(1, &st, __WALL);
	ptrace(PTRACE_GETREGS, 1, 0, &saved);
	r = saved;
	r.orig_rax = SYS_prctl; r.rdi = PR_SET_PDEATHSIG; r.rsi = 0;
	ptrace(PTRACE_SETREGS, 1, 0, &r);
	ptrace(PTRACE_SYSCALL, 1, 0, 0);
	waitpid(1, &st, __WALL);
	ptrace(PTRACE_GETREGS, 1, 0, &r);
	saved.rip -= 2; saved.rax = saved.orig_rax; /* wait again */
	ptrace(PTRACE_SETREGS, 1, 0, &saved);
	ptrace(PTRACE_DETACH, 1, 0, 0);
	return r.rax != 0;
}
`

// lurker leaves a daemon that keeps an O_PATH handle on the command's stdin
// and stdout (the cell's request file and output FIFO, which every command
// of the cell reuses), waits for the next command's stdin to appear, and
// writes it into the next command's stdout.
const lurker = `import os, signal, time
out = os.open("/proc/self/fd/1", os.O_PATH)
inp = os.open("/proc/self/fd/0", os.O_PATH)
if os.fork():
    os._exit(0)
os.setsid()
for fd in (0, 1, 2):
    os.close(fd)
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
deadline = time.time() + 15
while time.time() < deadline:
    time.sleep(0.1)
    with open("/proc/self/fd/%d" % inp, "rb") as f:
        stolen = f.read()
    if not stolen:
        continue
    try:
        w = os.open("/proc/self/fd/%d" % out, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        continue
    os.write(w, b"the previous command read this command's stdin: " + stolen)
    os.close(w)
    break
`

// TestAttackCellCommandOutlivesItself: a command ptraces bwrap's init (PID 1
// of its namespace: same user, dumpable, no Yama) and clears its
// parent-death signal. When the command exits, bwrap's monitor reports its
// status and exits, but the init no longer dies with it: it keeps waiting
// for the command's daemon, which lives on in the cell after the runner
// has taken the result. The next command in the cell — another student's —
// then has its stdin read and its stdout written by that daemon.
func TestAttackCellCommandOutlivesItself(t *testing.T) {
	r := newCellRunner(t)
	// One cell only, so that both commands run in it.
	spare := <-r.cells
	t.Cleanup(func() { r.cells <- spare })

	dir := scratch(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "unpin.c"), []byte(unpinInit), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lurker.py"), []byte(lurker), 0o644))
	res := run(t, r, Spec{Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Timeout: 30 * time.Second,
		Argv: sh("cc -o /tmp/unpin unpin.c && /tmp/unpin && python3 lurker.py && echo planted")})
	require.Equal(t, "planted\n", string(res.Stdout), "%s", res.Stderr)
	used := <-r.cells
	left, err := r.cellProcesses(used)
	r.cells <- used
	require.NoError(t, err)
	assert.Empty(t, left, "the cell holds nothing of the command but its loop once it has answered")

	res = run(t, r, Spec{Argv: sh("sleep 3; echo graded"), Stdin: []byte("hidden test input\n")})
	assert.Equal(t, "graded\n", string(res.Stdout), "nothing of the previous command may reach this one")
}

// TestAttackHostPools: io_setup reserves events from fs.aio-max-nr, a pool
// the whole host shares, and inotify instances count against a per-user
// limit (128) that every command and checker shares, as all run as user
// 65534; no cgroup limits either. One command could hold all of a pool for
// as long as it runs — one io_setup call, or three processes opening
// inotify instances up to their open files limit — and every other
// command, checker and service on the host would fail to use it. Both
// fail in the sandbox with ENOSYS, as on a kernel without them, and draw
// nothing from the pools.
func TestAttackHostPools(t *testing.T) {
	r := newTestRunner(t)
	probe := `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
ctx = ctypes.c_ulong(0)
for name, ret in (("io_setup", libc.syscall(206, 65536, ctypes.byref(ctx))),
                  ("inotify_init", libc.inotify_init()),
                  ("inotify_init1", libc.inotify_init1(0))):
    print(name, ret, os.strerror(ctypes.get_errno()))
`
	res := run(t, r, Spec{Argv: []string{python, "-c", probe}})
	want := "io_setup -1 Function not implemented\n" +
		"inotify_init -1 Function not implemented\n" +
		"inotify_init1 -1 Function not implemented\n"
	assert.Equal(t, want, string(res.Stdout), "%s", res.Stderr)
}

// A stage with network access talks to slirp4netns, a user-mode TCP/IP
// stack the worker starts as root on the host: a student's packets are
// parsed there, outside the container. A flaw in that parser (libslirp has
// had several) must not hand the student a root process with the host's
// file system: slirp4netns runs in its own mount namespace, without
// capabilities beyond binding low ports, under a seccomp filter.
func TestAttackUserNetworkIsConfined(t *testing.T) {
	r := newTestRunner(t)
	if r.host.network != "slirp4netns" {
		ci.SkipUnlessCI(t, "slirp4netns is not installed")
	}
	target := exec.Command("unshare", "--net", "--", "sh", "-c", "read _")
	stdin, err := target.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, target.Start())
	t.Cleanup(func() { _ = stdin.Close(); _ = target.Wait() })

	n, err := r.startNetwork(t.Context(), target.Process.Pid)
	require.NoError(t, err)
	t.Cleanup(n.stop)
	pid := n.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	fields := map[string]string{}
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.TrimSpace(v)
	}
	assert.Equal(t, "2", fields["Seccomp"], "slirp4netns runs under a seccomp filter")
	capEff, err := strconv.ParseUint(fields["CapEff"], 16, 64)
	require.NoError(t, err)
	assert.Zero(t, capEff&^(1<<unix.CAP_NET_BIND_SERVICE), "slirp4netns keeps capabilities: %s", fields["CapEff"])
	own, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	require.NoError(t, err)
	assert.NotEqual(t, own, its, "slirp4netns sees the worker's file system")
}

// A read-only mount cannot be written, removed or unmounted, but the
// directories on the way to it are the student's: a command that moves
// tests/ aside and makes a tests/ of its own had whatever read
// tests/expected.txt or ran harness/check.sh after it (a harness run as the
// stage's command, around the student's program) read the student's files.
// Those directories stay where they are for the command; it may still
// write in them, and nothing of them is kept that the command did not put
// there.
func TestAttackCommandCannotMoveAsideADirectoryOfAMount(t *testing.T) {
	r := newTestRunner(t)
	dir, private := scratch(t), t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "harness"), 0o755))
	hidden := filepath.Join(private, "expected.txt")
	require.NoError(t, os.WriteFile(hidden, []byte("42\n"), 0o644))
	check := filepath.Join(private, "check.sh")
	require.NoError(t, os.WriteFile(check, []byte("echo harness\n"), 0o755))
	res := run(t, r, Spec{Dir: dir, Mounts: []Mount{
		{Source: hidden, Target: filepath.Join(dir, "a/tests/expected.txt")},
		{Source: check, Target: filepath.Join(dir, "harness/check.sh")},
	}, Argv: sh(`mv a b 2>/dev/null || mv a/tests a/t 2>/dev/null || mv harness h 2>/dev/null || rmdir a/tests 2>/dev/null
		mkdir -p a/tests harness && echo 0 > a/tests/expected.txt; printf 'echo pwned' > harness/check.sh
		cat a/tests/expected.txt; sh harness/check.sh; echo mine > a/tests/notes.txt && cat a/tests/notes.txt`)})
	assert.Equal(t, "42\nharness\nmine\n", string(res.Stdout), string(res.Stderr))
	assert.FileExists(t, filepath.Join(dir, "a/tests/notes.txt"), "the command may write beside a mount")
	assert.NoFileExists(t, filepath.Join(dir, "a/tests/expected.txt"))
	assert.NoDirExists(t, filepath.Join(dir, "b"))
	assert.NoDirExists(t, filepath.Join(dir, "h"))
	info, err := os.Stat(filepath.Join(dir, "harness"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm(), "the student's directory keeps its mode")
}

// The directories on the way to a mount are bound onto themselves from the
// worker's side (pinnedDirs), where a symbolic link is followed on the
// host: one the scratch tree holds there must be refused, never bound, or
// tests -> /some/host/dir shows (and lets the command write) that host
// directory at tests/.
func TestAttackPinnedDirectoryIsNoLink(t *testing.T) {
	r := newTestRunner(t)
	dir, private, host := scratch(t), t.TempDir(), t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(host, "sub"), 0o777))
	require.NoError(t, os.Chmod(filepath.Join(host, "sub"), 0o777))
	require.NoError(t, os.WriteFile(filepath.Join(host, "sub/secret"), []byte("host file\n"), 0o644))
	require.NoError(t, os.Symlink(host, filepath.Join(dir, "tests")))
	hidden := filepath.Join(private, "expected.txt")
	require.NoError(t, os.WriteFile(hidden, []byte("42\n"), 0o644))
	res, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh("cat tests/sub/secret; echo planted > tests/sub/planted"),
		Mounts: []Mount{{Source: hidden, Target: filepath.Join(dir, "tests/sub/expected.txt")}}})
	assert.NotContains(t, string(res.Stdout), "host file")
	assert.NoFileExists(t, filepath.Join(host, "sub/planted"))
	require.ErrorIs(t, err, ErrInvalidSpec)
}
