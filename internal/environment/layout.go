package environment

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	ispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits bound an environment image. Zero fields take DefaultLimits'.
type Limits struct {
	// MaxBytes bounds the uploaded tar.
	MaxBytes int64
	// MaxUnpackedBytes bounds the file contents of all layers together,
	// and their uncompressed tar streams.
	MaxUnpackedBytes int64
	// MaxEntries bounds the entries of all layers together.
	MaxEntries int
	// MaxLayers bounds the layers of the image.
	MaxLayers int
}

// DefaultLimits are the limits of an environment image.
var DefaultLimits = Limits{MaxBytes: 1 << 30, MaxUnpackedBytes: 4 << 30, MaxEntries: 300_000, MaxLayers: 127}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxUnpackedBytes <= 0 {
		l.MaxUnpackedBytes = DefaultLimits.MaxUnpackedBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxLayers <= 0 {
		l.MaxLayers = DefaultLimits.MaxLayers
	}
	return l
}

// maxJSONBytes bounds index.json, oci-layout, a manifest and a config:
// they are read into memory.
const maxJSONBytes = 4 << 20

// layout is an image layout extracted into dir.
type layout struct {
	dir string
	// blobs holds the size of every blob extracted, by digest; each was
	// verified against its name while it was written.
	blobs map[string]int64
}

// extractLayout writes the layout in the tar r into dir (which must
// exist): oci-layout, index.json and blobs/sha256/<hex>, each blob checked
// against its name. Other entries (docker save's manifest.json, legacy
// layer directories) are skipped.
func extractLayout(r io.Reader, dir string, lim Limits) (*layout, error) {
	lim = lim.withDefaults()
	l := &layout{dir: dir, blobs: map[string]int64{}}
	if err := os.MkdirAll(filepath.Join(dir, ispec.ImageBlobsDir, "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("create layout directory: %w", err)
	}
	seen := map[string]bool{}
	var total int64
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(seen) == 0 {
				return nil, invalid("", "not a tar archive: %v", err)
			}
			return nil, invalid("", "read the tar archive: %v", err)
		}
		name, ok := cleanName(hdr.Name)
		if !ok {
			return nil, invalid(hdr.Name, "path traversal: the entry leaves the layout")
		}
		known := name == ispec.ImageLayoutFile || name == ispec.ImageIndexFile || strings.HasPrefix(name, ispec.ImageBlobsDir+"/")
		if !known || hdr.Typeflag == tar.TypeDir {
			continue
		}
		if seen[name] {
			return nil, invalid(name, "appears twice in the archive")
		}
		seen[name] = true
		if hdr.Typeflag != tar.TypeReg {
			return nil, invalid(name, "is not a regular file")
		}
		if total += hdr.Size; total > lim.MaxBytes {
			return nil, tooLarge("the image layout holds more than %d bytes", lim.MaxBytes)
		}
		if err := l.extract(name, hdr.Size, tr); err != nil {
			return nil, err
		}
	}
	for _, required := range []string{ispec.ImageLayoutFile, ispec.ImageIndexFile} {
		if !seen[required] {
			return nil, invalid(required, "missing: not an OCI image layout (docker save ≥ 25 or skopeo copy … oci-archive:NAME.tar writes one)")
		}
	}
	return l, l.checkVersion()
}

// extract writes one known entry; a blob is hashed as it is written.
func (l *layout) extract(name string, size int64, r io.Reader) error {
	var digest string
	if rest, ok := strings.CutPrefix(name, ispec.ImageBlobsDir+"/"); ok {
		alg, sum, _ := strings.Cut(rest, "/")
		switch {
		case alg != "sha256":
			return invalid(name, "unsupported digest algorithm %q (want sha256)", alg)
		case !validHex(sum):
			return invalid(name, "not a blob name (want blobs/sha256/<64 hex digits>)")
		}
		digest = "sha256:" + sum
	}
	f, err := os.OpenFile(filepath.Join(l.dir, filepath.FromSlash(name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return invalid(name, "read: %v", err)
	}
	if n != size {
		return invalid(name, "truncated")
	}
	if digest == "" {
		return nil
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return invalid(name, "digest mismatch: the content hashes to %s", got)
	}
	l.blobs[digest] = size
	return nil
}

// checkVersion reads oci-layout.
func (l *layout) checkVersion() error {
	var v ispec.ImageLayout
	if err := l.readJSON(ispec.ImageLayoutFile, &v); err != nil {
		return err
	}
	if v.Version != ispec.ImageLayoutVersion {
		return invalid(ispec.ImageLayoutFile, "unsupported imageLayoutVersion %q (want %q)", v.Version, ispec.ImageLayoutVersion)
	}
	return nil
}

// readJSON decodes one small JSON file of the layout.
func (l *layout) readJSON(name string, v any) error {
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(name)))
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxJSONBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxJSONBytes {
		return invalid(name, "larger than %d bytes", maxJSONBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid(name, "not valid JSON: %v", err)
	}
	return nil
}

// blob checks that desc names a blob of the layout, of its size, and
// returns its name in the layout.
func (l *layout) blob(where string, desc ispec.Descriptor) (string, error) {
	d := string(desc.Digest)
	alg, sum, _ := strings.Cut(d, ":")
	if alg != "sha256" || !validHex(sum) {
		return "", invalid(where, "unsupported digest %q (want sha256:<64 hex digits>)", d)
	}
	name := path.Join(ispec.ImageBlobsDir, alg, sum)
	size, ok := l.blobs[d]
	switch {
	case !ok:
		return "", invalid(where, "blob %s is missing from the layout (%s)", d, name)
	case size != desc.Size:
		return "", invalid(name, "size mismatch: %d bytes, the descriptor in %s says %d", size, where, desc.Size)
	}
	return name, nil
}

// image is the image of a layout the environment runs.
type image struct {
	manifest       ispec.Manifest
	manifestDigest string
	config         ispec.Image
}

// resolve picks the one image of the layout for this platform (index.json,
// at most one nested index) and checks its manifest and config.
func (l *layout) resolve(lim Limits) (image, error) {
	lim = lim.withDefaults()
	var idx ispec.Index
	if err := l.readJSON(ispec.ImageIndexFile, &idx); err != nil {
		return image{}, err
	}
	desc, where, err := l.pick(ispec.ImageIndexFile, idx, 0)
	if err != nil {
		return image{}, err
	}
	name, err := l.blob(where, desc)
	if err != nil {
		return image{}, err
	}
	var img image
	img.manifestDigest = string(desc.Digest)
	if err := l.readJSON(name, &img.manifest); err != nil {
		return image{}, err
	}
	m := img.manifest
	switch {
	case m.SchemaVersion != 2:
		return image{}, invalid("manifest", "schemaVersion %d (want 2)", m.SchemaVersion)
	case m.MediaType != "" && m.MediaType != ispec.MediaTypeImageManifest:
		return image{}, invalid("manifest", "mediaType %q (want %q)", m.MediaType, ispec.MediaTypeImageManifest)
	case m.Config.MediaType != ispec.MediaTypeImageConfig:
		return image{}, invalid("manifest", "config mediaType %q (want %q; docker media types: convert with skopeo copy … oci-archive:)", m.Config.MediaType, ispec.MediaTypeImageConfig)
	case len(m.Layers) > lim.MaxLayers:
		return image{}, tooLarge("the image has %d layers, more than %d", len(m.Layers), lim.MaxLayers)
	}
	configName, err := l.blob("manifest config", m.Config)
	if err != nil {
		return image{}, err
	}
	if err := l.readJSON(configName, &img.config); err != nil {
		return image{}, err
	}
	c := img.config
	switch {
	case c.OS != "linux":
		return image{}, invalid("config", "the image is for %q; workers run linux", c.OS)
	case c.Architecture != runtime.GOARCH:
		return image{}, invalid("config", "the image is for %q; workers run %s", c.Architecture, runtime.GOARCH)
	case c.RootFS.Type != "layers":
		return image{}, invalid("config", "rootfs.type %q (want layers)", c.RootFS.Type)
	case len(c.RootFS.DiffIDs) != len(m.Layers):
		return image{}, invalid("config", "%d diff_ids for %d layers", len(c.RootFS.DiffIDs), len(m.Layers))
	}
	for i, layer := range m.Layers {
		where := fmt.Sprintf("manifest layers[%d]", i)
		if _, ok := layerCompression(layer.MediaType); !ok {
			return image{}, invalid(where, "unsupported layer mediaType %q (want %s, +gzip or +zstd)", layer.MediaType, ispec.MediaTypeImageLayer)
		}
		if _, err := l.blob(where, layer); err != nil {
			return image{}, err
		}
	}
	return img, nil
}

// pick chooses the descriptor of the one image for linux on this
// architecture among the manifests of an index, descending into a nested
// index once.
func (l *layout) pick(where string, idx ispec.Index, depth int) (ispec.Descriptor, string, error) {
	if idx.SchemaVersion != 2 {
		return ispec.Descriptor{}, "", invalid(where, "index schemaVersion %d (want 2)", idx.SchemaVersion)
	}
	var matches []int
	for i, d := range idx.Manifests {
		if p := d.Platform; p != nil && (p.OS != "linux" || p.Architecture != runtime.GOARCH) {
			continue
		}
		switch d.MediaType {
		case ispec.MediaTypeImageManifest, ispec.MediaTypeImageIndex:
			matches = append(matches, i)
		default:
			return ispec.Descriptor{}, "", invalid(fmt.Sprintf("%s manifests[%d]", where, i),
				"unsupported mediaType %q (want an OCI manifest or index; docker media types: convert with skopeo copy … oci-archive:)", d.MediaType)
		}
	}
	switch {
	case len(matches) == 0:
		return ispec.Descriptor{}, "", invalid(where, "lists no image for linux/%s", runtime.GOARCH)
	case len(matches) > 1:
		return ispec.Descriptor{}, "", invalid(where, "lists %d images for linux/%s; keep one (skopeo copy --override-arch or a single-image save)", len(matches), runtime.GOARCH)
	}
	d := idx.Manifests[matches[0]]
	dwhere := fmt.Sprintf("%s manifests[%d]", where, matches[0])
	if d.MediaType == ispec.MediaTypeImageManifest {
		return d, dwhere, nil
	}
	if depth > 0 {
		return ispec.Descriptor{}, "", invalid(dwhere, "an index nested more than once")
	}
	name, err := l.blob(dwhere, d)
	if err != nil {
		return ispec.Descriptor{}, "", err
	}
	var nested ispec.Index
	if err := l.readJSON(name, &nested); err != nil {
		return ispec.Descriptor{}, "", err
	}
	return l.pick(name, nested, depth+1)
}

// layerCompression names the compression of a layer media type ("" for
// none) and reports whether it is supported.
func layerCompression(mediaType string) (string, bool) {
	switch mediaType {
	case ispec.MediaTypeImageLayer:
		return "", true
	case ispec.MediaTypeImageLayerGzip:
		return "gzip", true
	case ispec.MediaTypeImageLayerZstd:
		return "zstd", true
	}
	return "", false
}

// cleanName returns a tar entry name relative to the archive's root, or
// false when it is absolute or climbs out with "..".
func cleanName(name string) (string, bool) {
	if strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", false
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), true
}

func validHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
