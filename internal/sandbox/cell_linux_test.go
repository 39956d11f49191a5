//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zinc-edu/orchestrator/internal/ci"
)

// newCellRunner builds a runner with exactly one cell, so that every
// command of a test runs in the same cell, one after the other.
func newCellRunner(t *testing.T) *Runner {
	t.Helper()
	r, err := New(Config{Cells: CellsOn, Slots: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		ci.SkipUnlessCI(t, "no cells on this host: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

const listNamespaces = "for ns in ipc mnt pid net uts user cgroup; do readlink /proc/self/ns/$ns; done"

// Commands that follow each other in one cell share nothing: each has
// namespaces of its own (none of the cell's), and nothing one left (SysV
// IPC, files in /tmp and /dev/shm, background processes) is there for the
// next.
func TestCellCommandsShareNothing(t *testing.T) {
	r := newCellRunner(t)
	c := <-r.cells
	r.cells <- c
	res := run(t, r, Spec{Argv: sh(listNamespaces + "; ipcmk -M 4096 >/dev/null; echo x > /tmp/left; echo y > /dev/shm/left; setsid sleep 60 &")})
	ns := strings.Fields(string(res.Stdout))
	require.Len(t, ns, 7, "%s %s", res.Stdout, res.Stderr)
	for _, n := range ns {
		kind, _, _ := strings.Cut(n, ":")
		cellNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", c.pid, kind))
		require.NoError(t, err)
		assert.NotEqual(t, cellNS, n, "the command's own %s namespace", kind)
	}
	res = run(t, r, Spec{Argv: sh("ipcs -m | grep -c 4096; ls -A /tmp /dev/shm | grep -c left; cat /proc/[0-9]*/comm | grep -c '^sleep$'")})
	assert.Equal(t, "0\n0\n0\n", string(res.Stdout), "no IPC, files or processes left: %s", res.Stderr)
}

// A command sees nothing of the cell it runs in: not its directory, not its
// loop, and it runs, like its namespace's init, under the seccomp filter
// for no capabilities, without capabilities and unable to make namespaces.
func TestCellCommandSeesNothingOfTheCell(t *testing.T) {
	r := newCellRunner(t)
	res := run(t, r, Spec{Argv: sh(`ls /cell 2>&1 | grep -c 'No such'
		grep -h -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd):' /proc/self/status /proc/1/status
		unshare -U true 2>/dev/null && echo made a user namespace
		unshare -m true 2>/dev/null && echo made a mount namespace
		mount -t tmpfs none /tmp 2>/dev/null && echo mounted
		cat /proc/1/cmdline | tr '\0' ' '; echo
		ls /proc/self/fd | tr '\n' ' '`)})
	out := string(res.Stdout)
	assert.True(t, strings.HasPrefix(out, "1\n"), out)
	assert.Equal(t, 2, strings.Count(out, "Seccomp:\t2"), out)
	assert.Equal(t, 2, strings.Count(out, "NoNewPrivs:\t1"), out)
	assert.Equal(t, 2, strings.Count(out, "CapEff:\t0000000000000000"), out)
	assert.Equal(t, 2, strings.Count(out, "CapBnd:\t0000000000000000"), out)
	assert.NotContains(t, out, "made a")
	assert.NotContains(t, out, "mounted")
	assert.NotContains(t, out, cellMount, "the command cannot read how it was started")
	assert.True(t, strings.HasSuffix(out, "\n0 1 2 3 "), "stdio and ls's own descriptor only: %q", out)
}

// A cell whose loop died is replaced; the command that found it dead runs
// in a container of its own meanwhile.
func TestCellIsReplacedWhenItsLoopDies(t *testing.T) {
	r := newCellRunner(t)
	c := <-r.cells
	require.NoError(t, unix.Kill(c.pid, unix.SIGKILL))
	<-c.dead
	r.cells <- c
	res := run(t, r, Spec{Argv: sh("echo still graded")})
	assert.Equal(t, "still graded\n", string(res.Stdout))
	r.retiring.Wait()
	res = run(t, r, Spec{Argv: sh("echo in a new cell")})
	assert.Equal(t, "in a new cell\n", string(res.Stdout))
	fresh := <-r.cells
	r.cells <- fresh
	require.NotNil(t, fresh)
	assert.NotEqual(t, c.id, fresh.id)
}

// Limits are the command's, not the cell's: a command that ran into the
// memory limit leaves no trace on the next one, which has a larger limit.
func TestCellLimitsArePerCommand(t *testing.T) {
	r := newCellRunner(t)
	alloc := []string{python, "-c", "x = bytearray(100 << 20); print('survived')"}
	res := run(t, r, Spec{Argv: alloc, Limits: Limits{MemoryMB: 48}})
	assert.Equal(t, LimitMemory, res.LimitHit, "%+v %s", res, res.Stderr)
	res = run(t, r, Spec{Argv: alloc, Limits: Limits{MemoryMB: 256}})
	assert.Empty(t, res.LimitHit, "%+v %s", res, res.Stderr)
	assert.Equal(t, "survived\n", string(res.Stdout))
	res = run(t, r, Spec{Argv: alloc, Limits: Limits{MemoryMB: 48}})
	assert.Equal(t, LimitMemory, res.LimitHit, "the limit falls again: %+v", res)
}

// A command cancelled in a cell is killed and the cell serves the next.
func TestCellSurvivesACancelledCommand(t *testing.T) {
	r := newCellRunner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := r.Run(ctx, Spec{Argv: sh("sleep 60"), Dir: scratch(t)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	res := run(t, r, Spec{Argv: sh("echo next")})
	assert.Equal(t, "next\n", string(res.Stdout))
}

// The argv reaches the command byte for byte, whatever the quotes, newlines
// and shell syntax in it, and neither the command nor its PID 1 carries
// anything of how it was started in its environment.
func TestCellPassesTheArgvExactly(t *testing.T) {
	r := newCellRunner(t)
	args := []string{"a'b", "c\nd", `$HOME "e" \f`, "", "`id`;g", "h' 'i"}
	want, err := json.Marshal(args)
	require.NoError(t, err)
	res := run(t, r, Spec{Env: []string{"A=1"}, Argv: append([]string{python, "-c",
		"import sys; print(sys.argv[1:] == " + string(want) + "); print(open('/proc/self/environ','rb').read()); print(open('/proc/1/environ','rb').read())"}, args...)})
	assert.Equal(t, "True\nb'A=1\\x00'\nb'HOME=/nonexistent\\x00PATH=/usr/bin:/bin\\x00'\n", string(res.Stdout), string(res.Stderr))
}

// A mount target the scratch tree reaches through a symbolic link is
// refused: bwrap would follow the link.
func TestCellRefusesALinkedMountTarget(t *testing.T) {
	r := newCellRunner(t)
	dir, private := scratch(t), t.TempDir()
	src := filepath.Join(private, "expected.txt")
	require.NoError(t, os.WriteFile(src, []byte("42\n"), 0o644))
	require.NoError(t, os.Symlink("/usr/bin", filepath.Join(dir, "tests")))
	_, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh("true"),
		Mounts: []Mount{{Source: src, Target: filepath.Join(dir, "tests/sh")}}})
	require.ErrorIs(t, err, ErrInvalidSpec)
}

// A worker with a strict umask (the apphost sets 077) still gets working
// cells: the cell directory's modes do not depend on it.
func TestCellsWorkUnderAStrictUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	r := newCellRunner(t)
	res := run(t, r, Spec{Argv: sh("echo in a cell")})
	assert.Equal(t, "in a cell\n", string(res.Stdout), string(res.Stderr))
}

// A cell whose command's mounts could not be undone (here: gone before the
// clean-up, as after some timed-out commands) is replaced, instead of
// failing every later command with "create layer: … file exists".
func TestCellIsReplacedWhenItsCleanUpFails(t *testing.T) {
	r := newCellRunner(t)
	c := <-r.cells
	r.cells <- c
	dir := scratch(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "marker"), []byte("x"), 0o644))
	ran := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), Spec{Argv: sh("sleep 2"), Dir: dir})
		ran <- err
	}()
	view, layer := filepath.Join(c.dir, "view"), filepath.Join(c.dir, "layer")
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(view, "marker"))
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "the command's view is mounted")
	require.NoError(t, unix.Unmount(view, unix.MNT_DETACH))
	require.NoError(t, unix.Unmount(layer, unix.MNT_DETACH))
	if err := <-ran; err != nil {
		t.Logf("the command whose mounts were taken: %v", err)
	}
	r.retiring.Wait()
	for i := range 3 {
		res, err := r.Run(context.Background(), Spec{Argv: sh("echo next"), Dir: scratch(t)})
		require.NoError(t, err, "command %d after the failed clean-up", i)
		assert.Equal(t, "next\n", string(res.Stdout))
	}
	fresh := <-r.cells
	r.cells <- fresh
	require.NotNil(t, fresh)
	assert.NotEqual(t, c.id, fresh.id)
}
