//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocated is what dir takes on the worker's disk: the blocks of its
// files, each inode counted once.
func allocated(t *testing.T, dir string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	var total int64
	require.NoError(t, filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			total += st.Blocks * 512
		}
		return nil
	}))
	return total
}

// TestHostileCommitCannotOutgrowTheDiskLimit: what a command keeps in the
// scratch tree is copied from its layer onto the worker's disk. Sparse
// files and hard links take next to nothing of the layer's DiskMB, so a
// student who makes many of them must not have the copy expand them into
// gigabytes on the disk every delivery on the worker shares.
func TestHostileCommitCannotOutgrowTheDiskLimit(t *testing.T) {
	r := newTestRunner(t)
	const diskMB = 4
	for name, script := range map[string]string{
		"sparse files": `i=0; while [ $i -lt 100 ]; do truncate -s 1M s$i || exit 1; i=$((i+1)); done`,
		"hard links":   `head -c 1048576 /dev/urandom > f && i=0; while [ $i -lt 100 ]; do ln f l$i || exit 1; i=$((i+1)); done`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := scratch(t)
			res, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh(script), Limits: Limits{DiskMB: diskMB, MaxFileMB: 2}})
			if err != nil {
				require.ErrorIs(t, err, ErrCommit, "refusing the commit is the student's failure")
			} else {
				require.Equal(t, 0, res.ExitCode, "%s", res.Stderr)
			}
			assert.LessOrEqual(t, allocated(t, dir), int64(diskMB)<<20,
				"the scratch tree holds more than the command's disk limit")
		})
	}
}

// Each command's layer holds at most its disk limit, but what a command
// keeps is copied into the scratch tree, which the next command starts
// from: a pipeline of single-run stages (version 1 configs are nothing
// else) let a student grow the tree by the disk limit at every stage, on
// the disk every delivery on the worker shares, until other deliveries'
// commits failed for want of space (a host fault: "error"). The tree a
// command leaves behind holds at most its disk limit.
func TestHostileCommitsCannotAddUpPastTheDiskLimit(t *testing.T) {
	r := newTestRunner(t)
	const diskMB = 4
	dir := scratch(t)
	for i := range 3 {
		spec := Spec{Dir: dir, Argv: sh(fmt.Sprintf("head -c 3000000 /dev/zero > f%d", i)), Limits: Limits{DiskMB: diskMB}}
		res, err := r.Run(context.Background(), spec)
		if i == 0 {
			require.NoError(t, err)
			require.Equal(t, 0, res.ExitCode, "%s", res.Stderr)
			continue
		}
		require.ErrorIs(t, err, ErrCommit, "command %d: the tree would hold more than the disk limit", i)
	}
	assert.LessOrEqual(t, allocated(t, dir), int64(diskMB)<<20, "the scratch tree holds more than the disk limit")

	// Rewriting what is there, or writing nothing, is no growth.
	res, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh("head -c 3000000 /dev/zero > f0; rm -f f0; head -c 3500000 /dev/zero > f0"), Limits: Limits{DiskMB: diskMB}})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode, "%s", res.Stderr)
	res, err = r.Run(context.Background(), Spec{Dir: dir, Argv: sh("cat f0 > /dev/null"), Limits: Limits{DiskMB: 1}})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode, "%s", res.Stderr)
}

// The tree's size after a commit is counted from what the commit replaces
// in it. A symbolic link to a directory of the tree gives one of its files
// many paths (s/big, s/s/big, ...): a command that replaces the link with a
// directory of files at those paths must not have each counted as
// replacing that one file, or every stage adds the disk limit again.
func TestHostileCommitsCannotGrowTheTreeThroughALink(t *testing.T) {
	r := newTestRunner(t)
	const diskMB = 4
	dir := scratch(t)
	_, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh("head -c 1500000 /dev/zero > big; ln -s . s0"), Limits: Limits{DiskMB: diskMB}})
	require.NoError(t, err)
	for i := range 3 {
		_, _ = r.Run(context.Background(), Spec{Dir: dir, Argv: sh(fmt.Sprintf(
			"rm %[1]s; mkdir -p %[1]s/%[1]s; head -c 1500000 /dev/zero > %[1]s/big; head -c 1500000 /dev/zero > %[1]s/%[1]s/big; ln -s . s%[2]d",
			fmt.Sprintf("s%d", i), i+1)), Limits: Limits{DiskMB: diskMB}})
	}
	assert.LessOrEqual(t, allocated(t, dir), int64(diskMB)<<20, "the scratch tree holds more than the disk limit")
}

// A command that removes a directory of the tree frees what was in it: a
// rebuild (rm -rf build, then the build again) in a tree near the disk
// limit is no growth.
func TestCommitOfARemovedDirectoryIsNoGrowth(t *testing.T) {
	r := newTestRunner(t)
	dir := scratch(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "build/obj"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "build/obj/out.o"), make([]byte, 2500000), 0o644))
	for _, script := range []string{
		"rm -rf build && head -c 2500000 /dev/zero > out",
		"rm -rf out && mkdir -p out/obj && head -c 2500000 /dev/zero > out/obj/b.o",
		"rm -rf out && mkdir -p out && head -c 2500000 /dev/zero > out/c.o",
	} {
		res, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh(script), Limits: Limits{DiskMB: 4}})
		require.NoError(t, err, script)
		require.Equal(t, 0, res.ExitCode, "%s: %s", script, res.Stderr)
	}
	assert.FileExists(t, filepath.Join(dir, "out/c.o"))
	assert.NoDirExists(t, filepath.Join(dir, "build"))
}

// Directories and symbolic links hold no bytes of file, but each takes a
// block of the worker's disk (and an inode): commands that each keep a
// thousand empty directories or links must not add up past the disk limit
// either.
func TestHostileCommitsOfEmptyDirectoriesCannotAddUp(t *testing.T) {
	r := newTestRunner(t)
	const diskMB = 4
	dir := scratch(t)
	for i := range 4 {
		_, _ = r.Run(context.Background(), Spec{Dir: dir, Argv: sh(fmt.Sprintf(
			`mkdir s%[1]d && cd s%[1]d && j=0; while [ $j -lt 900 ]; do mkdir d$j; j=$((j+1)); done`, i)), Limits: Limits{DiskMB: diskMB}})
	}
	for i := range 2 {
		_, _ = r.Run(context.Background(), Spec{Dir: dir, Argv: sh(fmt.Sprintf(
			`mkdir l%[1]d && cd l%[1]d && j=0; while [ $j -lt 900 ]; do ln -s %[2]s$j l$j; j=$((j+1)); done`, i, strings.Repeat("t", 200))), Limits: Limits{DiskMB: diskMB}})
	}
	assert.LessOrEqual(t, allocated(t, dir), int64(diskMB)<<20, "the scratch tree takes more than the disk limit")
}
