package environment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apexlog "github.com/apex/log"
	"github.com/opencontainers/umoci/oci/cas/dir"
	"github.com/opencontainers/umoci/oci/layer"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sync/singleflight"

	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// ErrNotFound reports an environment image missing from object storage.
var ErrNotFound = errors.New("environment image not found")

// Cache unpacks environment images for a worker's sandbox, each once: the
// file system of digest sha256:<hex> lives in <dir>/sha256-<hex>, sealed by
// sandbox.SealRootFS. It is safe for concurrent use; entries live as long
// as dir (a worker's scratch area).
type Cache struct {
	dir    string
	bucket *blob.Bucket
	lim    Limits
	log    *slog.Logger
	group  singleflight.Group
}

// NewCache returns a cache under dir, fetching images from bucket.
func NewCache(dir string, bucket *blob.Bucket, lim Limits, log *slog.Logger) *Cache {
	umociLog.Store(log)
	routeUmociLog.Do(func() {
		apexlog.SetHandler(apexlog.HandlerFunc(func(e *apexlog.Entry) error {
			umociLog.Load().Debug(e.Message, "component", "umoci")
			return nil
		}))
	})
	return &Cache{dir: dir, bucket: bucket, lim: lim.withDefaults(), log: log}
}

// umoci logs through apex/log's package logger, which it cannot be given
// one instead of: its lines go, at debug level, to the newest Cache's
// logger rather than as plain text to stderr.
var (
	umociLog      atomic.Pointer[slog.Logger]
	routeUmociLog sync.Once
)

// RootFS returns the sealed file system of the image with digest,
// fetching and unpacking it first unless an earlier call did; concurrent
// calls for one digest share one unpack. An image that is not in the
// bucket is ErrNotFound; one that cannot be unpacked is ErrInvalid.
func (c *Cache) RootFS(ctx context.Context, digest string) (string, error) {
	alg, sum, _ := strings.Cut(digest, ":")
	if alg != "sha256" || !validHex(sum) {
		return "", invalid("", "unsupported digest %q (want sha256:<64 hex digits>)", digest)
	}
	final := filepath.Join(c.dir, "sha256-"+sum)
	for {
		v, err, _ := c.group.Do(digest, func() (any, error) {
			if info, err := os.Lstat(final); err == nil && info.IsDir() {
				return final, nil
			}
			return final, c.unpack(ctx, digest, final)
		})
		// The unpack ran under the first caller's context: when that caller
		// gave up, the others try again under their own.
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("prepare environment %s: %w", digest, err)
		}
		return v.(string), nil
	}
}

// unpack fetches the image, unpacks and seals it in a temporary directory,
// and renames the file system into place, so that final exists only
// complete.
func (c *Cache) unpack(ctx context.Context, digest, final string) error {
	start := time.Now()
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("create environment cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".unpack-")
	if err != nil {
		return fmt.Errorf("create unpack directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	layoutDir := filepath.Join(tmp, "layout")
	if err := os.Mkdir(layoutDir, 0o700); err != nil {
		return fmt.Errorf("create unpack directory: %w", err)
	}
	l, err := c.fetch(ctx, digest, layoutDir)
	if err != nil {
		return err
	}
	img, err := l.resolve(c.lim)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if err := l.unpack(ctx, img, rootfs); err != nil {
		return err
	}
	if err := os.Rename(rootfs, final); err != nil {
		return fmt.Errorf("move environment into place: %w", err)
	}
	c.log.InfoContext(ctx, "environment unpacked", "digest", digest, "manifest_digest", img.manifestDigest,
		"duration_ms", time.Since(start).Milliseconds())
	return nil
}

// unpack unpacks img, an image of the layout, into rootfs with umoci and
// seals it for the sandbox.
func (l *layout) unpack(ctx context.Context, img image, rootfs string) error {
	engine, err := dir.Open(l.dir)
	if err != nil {
		return fmt.Errorf("open image layout: %w", err)
	}
	defer func() { _ = engine.Close() }()
	opts := &layer.UnpackOptions{OnDiskFormat: layer.DirRootfs{MapOptions: layer.MapOptions{Rootless: os.Geteuid() != 0}}}
	// The layout passed Inspect when it was uploaded, so a failure here is
	// more likely the worker's disk than the image: it is retried.
	if err := layer.UnpackRootfs(ctx, engine, rootfs, img.manifest, opts); err != nil {
		return fmt.Errorf("unpack image: %w", err)
	}
	if err := sandbox.SealRootFS(rootfs); err != nil {
		return invalid("", "%v", err)
	}
	return nil
}

// Unpack checks the image layout in the tar file at tarPath as Inspect
// does and unpacks it, sealed for the sandbox, into dir/rootfs, whose path
// it returns: a one-off environment, for zinc config try. dir must exist;
// the caller removes it.
func Unpack(ctx context.Context, tarPath, dir string, lim Limits) (string, error) {
	lim = lim.withDefaults()
	f, err := os.Open(tarPath)
	if err != nil {
		return "", fmt.Errorf("open image: %w", err)
	}
	defer func() { _ = f.Close() }()
	layoutDir := filepath.Join(dir, "layout")
	if err := os.Mkdir(layoutDir, 0o700); err != nil {
		return "", fmt.Errorf("create unpack directory: %w", err)
	}
	l, img, err := check(io.LimitReader(f, lim.MaxBytes+1), layoutDir, lim)
	if err != nil {
		return "", err
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := l.unpack(ctx, img, rootfs); err != nil {
		return "", err
	}
	return rootfs, nil
}

// fetch downloads the layout tar of digest, checks it against the digest
// while extracting it into dir, and returns the layout.
func (c *Cache) fetch(ctx context.Context, digest, dir string) (*layout, error) {
	key := objectstore.EnvironmentKey(digest)
	r, err := c.bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	defer func() { _ = r.Close() }()
	h := sha256.New()
	src := &SourceReader{R: r}
	tee := io.TeeReader(io.LimitReader(src, c.lim.MaxBytes+1), h)
	l, err := extractLayout(tee, dir, c.lim)
	if err != nil {
		if src.Err != nil {
			// The download failed, not the image: worth retrying.
			return nil, fmt.Errorf("read %s: %w", key, src.Err)
		}
		return nil, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return nil, invalid(key, "digest mismatch: the stored image hashes to %s", got)
	}
	return l, nil
}

// Exists reports whether the image of digest is in the bucket, so a batch
// can be refused before it starts.
func Exists(ctx context.Context, bucket *blob.Bucket, digest string) (bool, error) {
	ok, err := bucket.Exists(ctx, objectstore.EnvironmentKey(digest))
	if err != nil {
		return false, fmt.Errorf("look up environment %s: %w", digest, err)
	}
	return ok, nil
}

// SourceReader remembers the last failure of the reader it wraps, so that
// an image read cut short (a download, a client's upload) is told from a
// broken archive or a failed write.
type SourceReader struct {
	R   io.Reader
	Err error
}

func (s *SourceReader) Read(p []byte) (int, error) {
	n, err := s.R.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.Err = err
	}
	return n, err
}
