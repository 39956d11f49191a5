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
