// Package objectstore opens ZINC's blob storage through gocloud.dev/blob and
// defines where each kind of object lives in it.
//
// Supported URLs: file:///abs/dir (the directory is created), mem:// (tests),
// s3://bucket?region=… and azblob://container (credentials from the
// drivers' usual environment).
//
// Layout:
//
//	deliveries/<delivery>/files.tar.gz                       a delivery's files (archive.Pack)
//	grading/<delivery>/<run>/result.json                     one grading run's result
//	grading/<delivery>/<run>/<stage>/<scenario|_>/<stream>.txt  full output of one step
//	configs/<config>/assets/<name>                           files uploaded with a grading config
//	environments/<algorithm>/<hex>/image.tar                 an environment's OCI image layout, by digest
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	// Drivers register their URL schemes with blob's default mux.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// ErrNoURL reports that no bucket URL was configured.
var ErrNoURL = errors.New("blob URL is empty (set BLOB_URL)")

// ErrNotAccessible reports that the bucket cannot be reached or does not exist.
var ErrNotAccessible = errors.New("bucket not accessible")

// Config locates the bucket.
type Config struct {
	// URL is a gocloud.dev/blob URL, such as file:///var/lib/zinc/blobs.
	URL string `env:"BLOB_URL"`
}

// Open opens the bucket at rawURL. For file:// URLs the directory is created
// when missing, and temporary files are written beside their final path
// rather than in os.TempDir, which may be another file system. The caller
// must Close the bucket.
func Open(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("open bucket: %w", ErrNoURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket: parse URL: %w", err)
	}
	if u.Scheme == "file" {
		q := u.Query()
		for _, k := range []string{"create_dir", "no_tmp_dir"} {
			if q.Get(k) == "" {
				q.Set(k, "true")
			}
		}
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Scheme, err)
	}
	return b, nil
}

// Ready reports whether b is reachable, for a readiness check.
func Ready(ctx context.Context, b *blob.Bucket) error {
	ok, err := b.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("check bucket: %w", err)
	}
	if !ok {
		return ErrNotAccessible
	}
	return nil
}

// DeliveryKey is where a delivery's packed files live.
func DeliveryKey(deliveryID string) string {
	return join("deliveries", segment(deliveryID), "files.tar.gz")
}

// RunPrefix is the prefix, ending in "/", under which one grading run of a
// delivery stores its objects; listing it finds them all.
func RunPrefix(deliveryID, runID string) string {
	return join("grading", segment(deliveryID), segment(runID)) + "/"
}

// StepKey is where the full text of one output stream ("stdout", "stderr")
// of a stage, or of one scenario of it, is stored; an empty stream is not
// stored. An empty scenario becomes "_".
func StepKey(deliveryID, runID, stage, scenario, stream string) string {
	return RunPrefix(deliveryID, runID) + join(segment(stage), segment(scenario), segment(stream)+".txt")
}

// ResultKey is where one grading run stores its result document.
func ResultKey(deliveryID, runID string) string {
	return RunPrefix(deliveryID, runID) + "result.json"
}

// ConfigAssetKey is where a file uploaded with a grading config is stored.
// name may contain "/" to keep the file's relative path.
func ConfigAssetKey(configID, name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = segment(p)
	}
	return join("configs", segment(configID), "assets", join(parts...))
}

// EnvironmentKey is where the image layout of an environment is stored,
// by the digest of its bytes ("sha256:<hex>"): environments of the same
// content share one object.
func EnvironmentKey(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return join("environments", segment(alg), segment(hex), "image.tar")
}

// segment makes s exactly one key segment: a "/" inside it cannot create
// extra levels, and an empty value is visible as "_" rather than as "//".
func segment(s string) string {
	if s == "" {
		return "_"
	}
	return url.PathEscape(s)
}

func join(parts ...string) string {
	return strings.Join(parts, "/")
}
