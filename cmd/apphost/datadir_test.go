package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrivateDirIsOwnerOnly(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "data")
	require.NoError(t, privateDir(fresh))
	info, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	loose := t.TempDir()
	require.NoError(t, os.Chmod(loose, 0o755))
	require.NoError(t, privateDir(loose))
	info, err = os.Stat(loose)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "an existing world-readable data dir is tightened")
}
