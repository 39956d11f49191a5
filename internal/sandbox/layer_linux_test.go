//go:build linux

package sandbox

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
