package environment_test

import (
	"archive/tar"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
)

// shellLayer is the smallest layer that makes an image acceptable: an
// executable /bin/sh.
func shellLayer(t *testing.T, more ...envtest.File) []byte {
	t.Helper()
	return envtest.Layer(t, append([]envtest.File{{Name: "bin/"}, {Name: "bin/sh", Data: []byte("#!"), Mode: 0o755}}, more...)...)
}

// writeTar writes b to a file, as the API spools an upload.
func writeTar(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func inspect(t *testing.T, b []byte, lim environment.Limits) (environment.Inspection, error) {
	t.Helper()
	return environment.Inspect(writeTar(t, b), lim)
}

func TestInspectAcceptsALayout(t *testing.T) {
	l := envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, envtest.File{Name: "etc/"}, envtest.File{Name: "etc/os-release", Data: []byte("x")}))
	b := l.Tar(t)

	in, err := inspect(t, b, environment.Limits{})

	require.NoError(t, err)
	assert.Equal(t, environment.Inspection{Digest: envtest.Digest(b), Size: int64(len(b)), ManifestDigest: l.ManifestDigest}, in)
}

// A shell reached through the usual links of a usr-merged distribution.
func TestInspectFollowsLinksToTheShell(t *testing.T) {
	layer := envtest.Layer(t,
		envtest.File{Name: "bin", Type: tar.TypeSymlink, Link: "usr/bin"},
		envtest.File{Name: "usr/bin/dash", Data: []byte("#!"), Mode: 0o755},
		envtest.File{Name: "usr/bin/sh", Type: tar.TypeSymlink, Link: "/etc/alternatives/sh"},
		envtest.File{Name: "etc/alternatives/sh", Type: tar.TypeSymlink, Link: "../../usr/bin/dash"},
	)

	_, err := inspect(t, envtest.NewLayout(t, layer).Tar(t), environment.Limits{})

	require.NoError(t, err)
}

// The index lists a nested index with one image per platform, as docker
// save of a multi-platform image does: only this platform's chain must be
// complete.
func TestInspectPicksThisPlatformFromANestedIndex(t *testing.T) {
	l := envtest.NewLayout(t, shellLayer(t))
	manifest, ok := blobSize(t, l, l.ManifestDigest)
	require.True(t, ok)
	other := "riscv64"
	if runtime.GOARCH == other {
		other = "s390x"
	}
	nested := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{
			{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": envtest.Digest([]byte("elsewhere")), "size": 9,
				"platform": map[string]string{"os": "linux", "architecture": other}},
			{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": l.ManifestDigest, "size": manifest,
				"platform": map[string]string{"os": "linux", "architecture": runtime.GOARCH}},
		},
	})
	nestedDigest := l.AddBlob(nested)
	l.Set("index.json", mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"manifests":     []map[string]any{{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": nestedDigest, "size": len(nested)}},
	}))

	in, err := inspect(t, l.Tar(t), environment.Limits{})

	require.NoError(t, err)
	assert.Equal(t, l.ManifestDigest, in.ManifestDigest)
}

// Every refused layout names where it is wrong, and why.
func TestInspectRefusesBadLayouts(t *testing.T) {
	sh := func(t *testing.T) *envtest.Layout { return envtest.NewLayout(t, shellLayer(t)) }
	tests := []struct {
		name string
		give func(t *testing.T) []byte
		want string
	}{
		{
			name: "not a tar",
			give: func(*testing.T) []byte { return []byte(strings.Repeat("not a tar archive at all ", 40)) },
			want: "not a tar archive",
		},
		{
			name: "no index.json",
			give: func(t *testing.T) []byte { l := sh(t); l.Remove("index.json"); return l.Tar(t) },
			want: "index.json: missing: not an OCI image layout",
		},
		{
			name: "no oci-layout",
			give: func(t *testing.T) []byte { l := sh(t); l.Remove("oci-layout"); return l.Tar(t) },
			want: "oci-layout: missing: not an OCI image layout",
		},
		{
			name: "other layout version",
			give: func(t *testing.T) []byte {
				l := sh(t)
				l.Set("oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`))
				return l.Tar(t)
			},
			want: `oci-layout: unsupported imageLayoutVersion "2.0.0" (want "1.0.0")`,
		},
		{
			name: "index.json not JSON",
			give: func(t *testing.T) []byte { l := sh(t); l.Set("index.json", []byte("{")); return l.Tar(t) },
			want: "index.json: not valid JSON",
		},
		{
			name: "missing layer blob",
			give: func(t *testing.T) []byte { l := sh(t); l.Remove(envtest.Blob(l.LayerDigests[0])); return l.Tar(t) },
			want: "is missing from the layout",
		},
		{
			name: "missing config blob",
			give: func(t *testing.T) []byte { l := sh(t); l.Remove(envtest.Blob(l.ConfigDigest)); return l.Tar(t) },
			want: "is missing from the layout",
		},
		{
			name: "blob digest mismatch",
			give: func(t *testing.T) []byte {
				l := sh(t)
				l.Set(envtest.Blob(l.LayerDigests[0]), []byte("tampered"))
				return l.Tar(t)
			},
			want: "digest mismatch",
		},
		{
			name: "diff_id mismatch",
			give: func(t *testing.T) []byte {
				return envtest.NewLayoutWith(t, envtest.Options{DiffIDs: []string{envtest.Digest([]byte("other"))}}, shellLayer(t)).Tar(t)
			},
			want: "layers[0]: diff_id mismatch",
		},
		{
			name: "path traversal in a layer",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "usr/../../etc/cron.d/x", Data: []byte("x")})).Tar(t)
			},
			want: "layers[0]: usr/../../etc/cron.d/x: path traversal",
		},
		{
			name: "absolute path in a layer",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "/etc/passwd", Data: []byte("x")})).Tar(t)
			},
			want: "layers[0]: /etc/passwd: path traversal",
		},
		{
			name: "hard link out of the root",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "shadow", Type: tar.TypeLink, Link: "../etc/shadow"})).Tar(t)
			},
			want: `layers[0]: shadow: path traversal: the hard link's target "../etc/shadow" leaves the root`,
		},
		{
			name: "path traversal in the layout",
			give: func(t *testing.T) []byte {
				return envtest.Layer(t, envtest.File{Name: "../oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
			},
			want: "../oci-layout: path traversal",
		},
		{
			name: "no shell",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, envtest.Layer(t, envtest.File{Name: "usr/bin/python3", Data: []byte("x"), Mode: 0o755})).Tar(t)
			},
			want: "the image has no executable /bin/sh",
		},
		{
			name: "shell not executable",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, envtest.Layer(t, envtest.File{Name: "bin/sh", Data: []byte("x"), Mode: 0o644})).Tar(t)
			},
			want: "the image has no executable /bin/sh",
		},
		{
			name: "shell removed by an upper layer",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, envtest.File{Name: "bin/.wh.sh"})).Tar(t)
			},
			want: "the image has no executable /bin/sh",
		},
		{
			name: "shell hidden by an opaque directory",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, envtest.File{Name: "bin/"}, envtest.File{Name: "bin/.wh..wh..opq"})).Tar(t)
			},
			want: "the image has no executable /bin/sh",
		},
		{
			name: "other architecture",
			give: func(t *testing.T) []byte {
				return envtest.NewLayoutWith(t, envtest.Options{Architecture: "mips"}, shellLayer(t)).Tar(t)
			},
			want: `the image is for "mips"`,
		},
		{
			name: "docker layer media type",
			give: func(t *testing.T) []byte {
				return envtest.NewLayoutWith(t, envtest.Options{LayerMediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"}, shellLayer(t)).Tar(t)
			},
			want: `unsupported layer mediaType "application/vnd.docker.image.rootfs.diff.tar.gzip"`,
		},
		{
			name: "an entry type umoci cannot unpack",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "big", Type: tar.TypeCont})).Tar(t)
			},
			want: `layers[0]: big: unsupported entry type '7'`,
		},
		{
			name: "etc not a directory",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "etc", Type: tar.TypeSymlink, Link: "/"})).Tar(t)
			},
			want: "etc: the image's /etc is not a directory",
		},
		{
			name: "empty index",
			give: func(t *testing.T) []byte {
				l := sh(t)
				l.Set("index.json", []byte(`{"schemaVersion":2,"manifests":[]}`))
				return l.Tar(t)
			},
			want: "index.json: lists no image for linux/" + runtime.GOARCH,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inspect(t, tt.give(t), environment.Limits{})

			require.ErrorIs(t, err, environment.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// A shell whose opaque directory is written by the same layer stays.
func TestInspectKeepsWhatTheOpaqueLayerWrites(t *testing.T) {
	upper := envtest.Layer(t, envtest.File{Name: "bin/"}, envtest.File{Name: "bin/sh", Data: []byte("#!"), Mode: 0o755}, envtest.File{Name: "bin/.wh..wh..opq"})

	_, err := inspect(t, envtest.NewLayout(t, shellLayer(t), upper).Tar(t), environment.Limits{})

	require.NoError(t, err)
}

func TestInspectRefusesTooLargeImages(t *testing.T) {
	data := make([]byte, 64<<10)
	_, _ = rand.Read(data) // incompressible: the gzipped layer stays large
	big := envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, envtest.File{Name: "data", Data: data}))
	tests := []struct {
		name string
		give environment.Limits
		want string
	}{
		{name: "tar", give: environment.Limits{MaxBytes: 16 << 10}, want: "the image is"},
		{name: "unpacked", give: environment.Limits{MaxUnpackedBytes: 32 << 10}, want: "unpacks to more than 32768 bytes"},
		{name: "entries", give: environment.Limits{MaxEntries: 2}, want: "more than 2 entries"},
		{name: "layers", give: environment.Limits{MaxLayers: 1}, want: "the image has 2 layers, more than 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inspect(t, big.Tar(t), tt.give)

			require.ErrorIs(t, err, environment.ErrTooLarge)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// A layer that compresses well may hold far more than its entries
// declare: its whole uncompressed stream counts.
func TestInspectRefusesALayerThatUncompressesBeyondTheLimit(t *testing.T) {
	bomb := append(shellLayer(t), make([]byte, 4<<20)...) // zeros after the tar's end
	b := envtest.NewLayout(t, bomb).Tar(t)
	require.Less(t, len(b), 64<<10)

	_, err := inspect(t, b, environment.Limits{MaxUnpackedBytes: 1 << 20})

	require.ErrorIs(t, err, environment.ErrTooLarge)
	assert.ErrorContains(t, err, "the image's layers uncompress to more than 1048576 bytes")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// blobSize finds the size of a blob NewLayout wrote, by reading the
// layout's tar back.
func blobSize(t *testing.T, l *envtest.Layout, digest string) (int, bool) {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(string(l.Tar(t))))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return 0, false
		}
		if hdr.Name == envtest.Blob(digest) {
			return int(hdr.Size), true
		}
	}
}
