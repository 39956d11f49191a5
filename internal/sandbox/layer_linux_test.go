//go:build linux

package sandbox

import (
	"io/fs"
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
