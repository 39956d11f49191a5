// Package envtest builds OCI image layouts in tests, byte by byte with
// archive/tar and SHA-256, and the one static program (tinyrt) that makes
// such an image runnable: no registry, no docker, nothing downloaded.
package envtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// File is one entry of a layer. Type defaults to a regular file (a
// directory when Name ends in "/"); Mode defaults to 0644, 0755 for
// directories.
type File struct {
	Name string
	Data []byte
	Mode int64
	Type byte
	// Link is the target of a symbolic or hard link.
	Link string
}

// Layer returns an uncompressed layer tar holding files, in order.
func Layer(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, Mode: f.Mode, Typeflag: f.Type, Linkname: f.Link, ModTime: time.Unix(0, 0)}
		switch {
		case hdr.Typeflag == 0 && f.Name[len(f.Name)-1] == '/':
			hdr.Typeflag = tar.TypeDir
		case hdr.Typeflag == 0:
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write layer entry %s: %v", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			t.Fatalf("write layer entry %s: %v", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close layer: %v", err)
	}
	return buf.Bytes()
}

// Layout is an OCI image layout being built: the files of its tar, by
// name, which a test may replace or remove before calling Tar.
type Layout struct {
	names []string
	files map[string][]byte
	// Digests of what NewLayout wrote.
	ConfigDigest   string
	LayerDigests   []string
	ManifestDigest string
}

// Blob returns the layout name of a digest: "blobs/sha256/<hex>".
func Blob(digest string) string { return "blobs/sha256/" + digest[len("sha256:"):] }

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Options vary what NewLayoutWith writes, for tests of refused images.
type Options struct {
	// Architecture of the config; default this machine's.
	Architecture string
	// LayerMediaType of every layer; default OCI tar+gzip.
	LayerMediaType string
	// DiffIDs replace the config's diff_ids.
	DiffIDs []string
}

// NewLayout returns the layout of a linux image for this architecture
// whose layers (uncompressed tars, bottom first) are stored gzipped.
func NewLayout(t testing.TB, layers ...[]byte) *Layout {
	t.Helper()
	return NewLayoutWith(t, Options{}, layers...)
}

// NewLayoutWith is NewLayout with options.
func NewLayoutWith(t testing.TB, o Options, layers ...[]byte) *Layout {
	t.Helper()
	if o.Architecture == "" {
		o.Architecture = runtime.GOARCH
	}
	if o.LayerMediaType == "" {
		o.LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
	}
	l := &Layout{files: map[string][]byte{}}
	l.Set("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	var (
		diffIDs []string
		descs   []map[string]any
	)
	for _, layer := range layers {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(layer); err != nil {
			t.Fatalf("gzip layer: %v", err)
		}
		if err := zw.Close(); err != nil {
			t.Fatalf("gzip layer: %v", err)
		}
		diffIDs = append(diffIDs, Digest(layer))
		l.LayerDigests = append(l.LayerDigests, l.AddBlob(gz.Bytes()))
		descs = append(descs, map[string]any{"mediaType": o.LayerMediaType, "digest": Digest(gz.Bytes()), "size": gz.Len()})
	}
	if o.DiffIDs != nil {
		diffIDs = o.DiffIDs
	}
	config := mustJSON(t, map[string]any{
		"architecture": o.Architecture, "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	l.ConfigDigest = l.AddBlob(config)
	manifest := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": l.ConfigDigest, "size": len(config)},
		"layers": descs,
	})
	l.ManifestDigest = l.AddBlob(manifest)
	l.Set("index.json", mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": l.ManifestDigest, "size": len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	}))
	return l
}

// AddBlob stores b under its digest and returns the digest.
func (l *Layout) AddBlob(b []byte) string {
	d := Digest(b)
	l.Set(Blob(d), b)
	return d
}

// Set writes a file of the layout's tar, keeping its place when it
// exists.
func (l *Layout) Set(name string, data []byte) {
	if _, ok := l.files[name]; !ok {
		l.names = append(l.names, name)
	}
	l.files[name] = data
}

// Remove leaves a file out of the tar.
func (l *Layout) Remove(name string) {
	delete(l.files, name)
}

// Tar returns the layout as the tar an upload carries, with its blobs/
// directories as docker save writes them.
func (l *Layout) Tar(t testing.TB) []byte {
	t.Helper()
	files := []File{{Name: "blobs/"}, {Name: "blobs/sha256/"}}
	for _, name := range l.names {
		if data, ok := l.files[name]; ok {
			files = append(files, File{Name: name, Data: data})
		}
	}
	return Layer(t, files...)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// program caches tinyrt for the test binary: building it takes seconds.
var program struct {
	sync.Once
	bin []byte
	err error
}

// Program returns tinyrt, built static (CGO_ENABLED=0) for this machine.
func Program(t testing.TB) []byte {
	t.Helper()
	program.Do(func() {
		dir, err := os.MkdirTemp("", "envtest-")
		if err != nil {
			program.err = err
			return
		}
		defer func() { _ = os.RemoveAll(dir) }()
		out := filepath.Join(dir, "tinyrt")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/zinc-edu/orchestrator/internal/environment/envtest/tinyrt")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			program.err = &buildError{err: err, output: string(msg)}
			return
		}
		program.bin, program.err = os.ReadFile(out)
	})
	if program.err != nil {
		t.Fatalf("build tinyrt: %v", program.err)
	}
	return program.bin
}

type buildError struct {
	err    error
	output string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.output }

// Runnable returns the files of a small runnable image: tinyrt as
// /bin/sh, the toolbox as /usr/bin/tinyrt (a link to it), and
// /etc/image-release, which only the image has.
func Runnable(t testing.TB) []File {
	t.Helper()
	return []File{
		{Name: "bin/"},
		{Name: "bin/sh", Data: Program(t), Mode: 0o755},
		{Name: "usr/"},
		{Name: "usr/bin/"},
		{Name: "usr/bin/tinyrt", Type: tar.TypeSymlink, Link: "/bin/sh"},
		{Name: "etc/"},
		{Name: "etc/image-release", Data: []byte("tiny 1\n")},
		{Name: "tmp/", Mode: 0o1777},
	}
}

// WriteTree writes files under dir as unpacking a layer would: for tests
// that need an image's file system without an image.
func WriteTree(t testing.TB, dir string, files ...File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		var err error
		switch {
		case f.Type == tar.TypeSymlink:
			err = os.Symlink(f.Link, p)
		case f.Type == tar.TypeDir || f.Type == 0 && f.Name[len(f.Name)-1] == '/':
			mode := f.Mode
			if mode == 0 {
				mode = 0o755
			}
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = os.Chmod(p, os.FileMode(mode&0o777)|stickyOf(mode))
			}
		default:
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err = os.WriteFile(p, f.Data, 0o600); err == nil {
				err = os.Chmod(p, os.FileMode(mode&0o777))
			}
		}
		if err != nil {
			t.Fatalf("write %s: %v", f.Name, err)
		}
	}
}

func stickyOf(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
