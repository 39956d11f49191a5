//go:build linux

package sandbox

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCommitErrorBlamesTheHostForItsOwnFaults(t *testing.T) {
	for _, errno := range []error{unix.ENOSPC, unix.EDQUOT, unix.EIO, unix.EROFS} {
		err := commitError(&fs.PathError{Op: "write", Path: "out", Err: errno})
		assert.NotErrorIs(t, err, ErrCommit, "%v", errno)
		assert.ErrorIs(t, err, errno)
	}
	assert.ErrorIs(t, commitError(&fs.PathError{Op: "open", Path: "x", Err: unix.ENAMETOOLONG}), ErrCommit)
	assert.NoError(t, commitError(nil))
}

// A commit whose layer was unmounted under it (by a process on the host,
// see TestCellCommandKeepsItsMountsWhileANetworkCommandStarts) fails as the
// host's fault, not as something the command left.
func TestCommitOfAnUnmountedLayerIsTheHostsFault(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a layer needs root")
	}
	dir, work := scratch(t), t.TempDir()
	info, err := os.Stat(dir)
	require.NoError(t, err)
	l, err := newLayer(filepath.Join(work, "layer"), 8, info, 0o700)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(l.dir, "upper", "out"), []byte("x"), 0o644))
	require.True(t, l.intact())
	require.NoError(t, unix.Unmount(l.dir, unix.MNT_DETACH))
	t.Cleanup(func() { _ = os.Remove(l.dir) })
	assert.False(t, l.intact())
	err = l.commit(dir, nil, sandboxUID, sandboxUID, 8<<20)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrCommit)
	assert.Contains(t, err.Error(), "unmounted")
}

// A refused commit's message reaches the student: no host path of the
// worker, and a bounded length however deep the command's tree.
func TestCommitErrorHidesHostPaths(t *testing.T) {
	upper, scratch := "/tmp/zinc-sandbox-1/cells/c7/layer/upper", "/var/lib/zinc/work/d1"
	deep := strings.Repeat(strings.Repeat("a", 180)+"/", 300)
	err := commitError(&fs.PathError{Op: "lstat", Path: upper + "/" + deep + "x", Err: unix.ENAMETOOLONG}, upper, scratch)
	assert.ErrorIs(t, err, ErrCommit)
	assert.NotContains(t, err.Error(), "/tmp/")
	assert.Contains(t, err.Error(), "lstat aaaa")
	assert.LessOrEqual(t, len(err.Error()), len(ErrCommit.Error())+2+maxCommitMessage+len("…"))

	err = commitError(fmt.Errorf("open %s: %w", scratch, unix.ENOTDIR), upper, scratch)
	assert.Equal(t, "commit changes: open .: not a directory", err.Error())
}

func TestWithin(t *testing.T) {
	for _, tt := range []struct {
		path string
		rel  string
		ok   bool
	}{
		{"/s", ".", true}, {"/s/a/b", "a/b", true}, {"/s/..hidden", "..hidden", true},
		{"/s/../s/x", "x", true}, {"/", "", false}, {"/t", "", false}, {"/s/../t", "", false},
	} {
		rel, ok := within("/s", tt.path)
		assert.Equal(t, tt.ok, ok, tt.path)
		assert.Equal(t, tt.rel, rel, tt.path)
	}
}

// processCPU is the CPU time the test process has used so far.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A commit's tree-size check runs on the worker, outside the command's
// timeout, so a tree the student shaped must not make it slow: a chain of
// directories 1,500 deep, with a file at every level in the tree and one
// more in the command's upper directory, is walked once, not looked up
// again from the top for every entry (about a million lookups).
func TestTreeFitsLimitIsLinearInTheTree(t *testing.T) {
	const depth = 1500
	scratch, upper := t.TempDir(), t.TempDir()
	chain := strings.Repeat("d/", depth)
	require.NoError(t, os.MkdirAll(filepath.Join(scratch, chain), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(upper, chain), 0o755))
	for p := chain; p != ""; p = p[2:] {
		require.NoError(t, os.WriteFile(filepath.Join(scratch, p, "f"), []byte("x"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(upper, p, "g"), []byte("x"), 0o644))
	}
	before := processCPU(t)
	require.NoError(t, treeFitsLimit(scratch, upper, 1<<30))
	took := processCPU(t) - before
	t.Logf("the check took %s of CPU", took)
	assert.Less(t, took, time.Second, "the check took %s of CPU", took)
	// The tree's directories and files, and the new files, a block each.
	require.NoError(t, treeFitsLimit(scratch, upper, 3*depth*blockSize))
	require.ErrorContains(t, treeFitsLimit(scratch, upper, 3*depth*blockSize-1), "would hold")
}

// A refused commit's message reaches the student: the size it names is
// larger than the limit it names, even when both are in the same MiB.
func TestTreeFitsLimitSaysByHowMuch(t *testing.T) {
	scratch, upper := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(scratch, "a"), make([]byte, 3<<20), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(upper, "b"), make([]byte, 1<<20+1), 0o644))
	err := treeFitsLimit(scratch, upper, 4<<20)
	require.Error(t, err)
	assert.Equal(t, "the scratch tree would hold 4.01 MiB of files and directories, more than the disk limit of 4 MiB", err.Error())
}

// Committing runs on the worker after the command, outside its timeout: a
// chain of directories 1,500 deep with a file at every level is written
// with a call or two per entry, not looked up again from the top of the
// tree for each of them.
func TestCommitIsLinearInTheTree(t *testing.T) {
	const depth = 1500
	scratch, l := t.TempDir(), &layer{dir: t.TempDir()}
	upper := filepath.Join(l.dir, "upper")
	chain := strings.Repeat("d/", depth)
	require.NoError(t, os.MkdirAll(filepath.Join(scratch, chain), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(upper, chain), 0o755))
	for p := chain; p != ""; p = p[2:] {
		require.NoError(t, os.WriteFile(filepath.Join(upper, p, "g"), []byte("x"), 0o644))
	}
	before := processCPU(t)
	require.NoError(t, l.commit(scratch, nil, os.Getuid(), os.Getgid(), 1<<30))
	took := processCPU(t) - before
	t.Logf("the commit took %s of CPU", took)
	assert.Less(t, took, 5*time.Second, "the commit took %s of CPU", took)
	data, err := os.ReadFile(filepath.Join(scratch, chain, "g"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(data))
	data, err = os.ReadFile(filepath.Join(scratch, "d/g"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(data))
}
