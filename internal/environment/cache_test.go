package environment_test

import (
	"archive/tar"
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// putImage stores a layout's tar where Save would and returns its digest.
func putImage(t *testing.T, bucket *blob.Bucket, b []byte) string {
	t.Helper()
	d := envtest.Digest(b)
	require.NoError(t, bucket.WriteAll(t.Context(), objectstore.EnvironmentKey(d), b, nil))
	return d
}

func newCache(t *testing.T, bucket *blob.Bucket) (*environment.Cache, *syncio.Buffer) {
	t.Helper()
	logs := &syncio.Buffer{}
	return environment.NewCache(filepath.Join(t.TempDir(), "environments"), bucket, environment.Limits{}, slog.New(slog.NewJSONHandler(logs, nil))), logs
}

func TestCacheUnpacksAndSealsAnImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking owners and device nodes needs root")
	}
	bucket := newBucket(t)
	lower := shellLayer(t,
		envtest.File{Name: "usr/"}, envtest.File{Name: "usr/bin/"},
		envtest.File{Name: "usr/bin/passwd", Data: []byte("x"), Mode: 0o4755},
		envtest.File{Name: "dev/"},
		envtest.File{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o666},
		envtest.File{Name: "etc/"}, envtest.File{Name: "etc/gone", Data: []byte("x")},
	)
	upper := envtest.Layer(t, envtest.File{Name: "etc/"}, envtest.File{Name: "etc/.wh.gone"}, envtest.File{Name: "etc/release", Data: []byte("v2\n")})
	digest := putImage(t, bucket, envtest.NewLayout(t, lower, upper).Tar(t))
	c, _ := newCache(t, bucket)

	root, err := c.RootFS(t.Context(), digest)

	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "etc", "release"))
	require.NoError(t, err)
	assert.Equal(t, "v2\n", string(b))
	assert.NoFileExists(t, filepath.Join(root, "etc", "gone"), "a whiteout removes the lower layer's file")
	assert.NoFileExists(t, filepath.Join(root, "dev", "sda"), "device nodes are removed")
	info, err := os.Stat(filepath.Join(root, "usr", "bin", "passwd"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode(), "no set-user-ID bit")
	assert.Equal(t, uint32(0), info.Sys().(*syscall.Stat_t).Uid)
	assert.DirExists(t, filepath.Join(root, "proc"), "mount points are made")

	again, err := c.RootFS(t.Context(), digest)
	require.NoError(t, err)
	assert.Equal(t, root, again)
}

// Deliveries graded at once share one unpack.
func TestCacheUnpacksOncePerDigest(t *testing.T) {
	bucket := newBucket(t)
	digest := putImage(t, bucket, envtest.NewLayout(t, shellLayer(t)).Tar(t))
	c, logs := newCache(t, bucket)

	var wg sync.WaitGroup
	roots := make([]string, 8)
	errs := make([]error, len(roots))
	for i := range roots {
		wg.Go(func() { roots[i], errs[i] = c.RootFS(t.Context(), digest) })
	}
	wg.Wait()

	for i := range roots {
		require.NoError(t, errs[i])
		assert.Equal(t, roots[0], roots[i])
	}
	assert.Equal(t, 1, strings.Count(logs.String(), `"msg":"environment unpacked"`))
	entries, err := os.ReadDir(filepath.Dir(roots[0]))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no unpack directory is left behind")
}

func TestCacheReportsMissingAndCorruptImages(t *testing.T) {
	bucket := newBucket(t)
	c, _ := newCache(t, bucket)

	_, err := c.RootFS(t.Context(), envtest.Digest([]byte("never uploaded")))
	require.ErrorIs(t, err, environment.ErrNotFound)

	good := envtest.NewLayout(t, shellLayer(t)).Tar(t)
	digest := envtest.Digest(good)
	tampered := bytes.Clone(good)
	tampered = append(tampered, make([]byte, 512)...)
	require.NoError(t, bucket.WriteAll(t.Context(), objectstore.EnvironmentKey(digest), tampered, nil))
	_, err = c.RootFS(t.Context(), digest)
	require.ErrorIs(t, err, environment.ErrInvalid)
	assert.ErrorContains(t, err, "digest mismatch")

	_, err = c.RootFS(t.Context(), "md5:abc")
	require.ErrorIs(t, err, environment.ErrInvalid)
}
