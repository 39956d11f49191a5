package environment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
)

// Rows records and finds environment rows. *store.Store implements it.
type Rows interface {
	CreateEnvironment(ctx context.Context, env grading.Environment) (grading.Environment, error)
	Environment(ctx context.Context, name string) (grading.Environment, error)
	EnvironmentDigestInUse(ctx context.Context, digest string) (bool, error)
}

// ConflictError is a name already taken by an environment of other content.
type ConflictError struct {
	Existing grading.Environment
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("environment %q already exists with other content (digest %s)", e.Existing.Name, e.Existing.Digest)
}

// Is makes a ConflictError match grading.ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == grading.ErrConflict }

// Inspection is what Inspect learnt about a layout.
type Inspection struct {
	// Digest is "sha256:<hex>" of the tar, Size its length.
	Digest string
	Size   int64
	// ManifestDigest is the digest of the image the environment runs.
	ManifestDigest string
}

// Inspect checks the image layout in the tar file at tarPath completely
// (see the package comment), working in a temporary directory it removes.
// A refused layout is an *InvalidError (ErrInvalid) or ErrTooLarge.
func Inspect(tarPath string, lim Limits) (Inspection, error) {
	lim = lim.withDefaults()
	f, err := os.Open(tarPath)
	if err != nil {
		return Inspection{}, fmt.Errorf("open image: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return Inspection{}, fmt.Errorf("open image: %w", err)
	}
	if fi.Size() > lim.MaxBytes {
		return Inspection{}, tooLarge("the image is %d bytes, more than %d", fi.Size(), lim.MaxBytes)
	}
	tmp, err := os.MkdirTemp("", "zinc-environment-")
	if err != nil {
		return Inspection{}, fmt.Errorf("create inspection directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	h := sha256.New()
	_, img, err := check(io.TeeReader(f, h), tmp, lim)
	if err != nil {
		return Inspection{}, err
	}
	// The tar may end before the file does (zero blocks, padding); the
	// digest is of the whole file.
	if _, err := io.Copy(h, f); err != nil {
		return Inspection{}, fmt.Errorf("read image: %w", err)
	}
	return Inspection{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: fi.Size(), ManifestDigest: img.manifestDigest}, nil
}

// check extracts the layout in the tar r into dir and checks it
// completely, as Inspect describes.
func check(r io.Reader, dir string, lim Limits) (*layout, image, error) {
	l, err := extractLayout(r, dir, lim)
	if err != nil {
		return nil, image{}, err
	}
	img, err := l.resolve(lim)
	if err != nil {
		return nil, image{}, err
	}
	if err := l.scanLayers(img, lim); err != nil {
		return nil, image{}, err
	}
	return l, img, nil
}

// Save takes in an environment: name checked, the tar at tarPath checked
// by Inspect, stored once in bucket under objectstore.EnvironmentKey of its
// digest, then its row. Saving a name again with the same bytes returns
// the existing environment and created false; with other bytes it fails
// with a *ConflictError (grading.ErrConflict). A refused name or layout
// stores nothing.
func Save(ctx context.Context, bucket *blob.Bucket, rows Rows, name, createdBy, tarPath string, lim Limits) (env grading.Environment, created bool, err error) {
	if !grading.ValidEnvironmentName(name) {
		return grading.Environment{}, false, invalid("name", "invalid environment name %q (1 to %d characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
			name, grading.MaxEnvironmentName)
	}
	digest, size, err := fileDigest(tarPath)
	if err != nil {
		return grading.Environment{}, false, err
	}
	// A repeated upload is answered before the costly inspection.
	if existing, ok, err := same(ctx, rows, name, digest); err != nil || ok {
		return existing, false, err
	}
	in, err := Inspect(tarPath, lim)
	if err != nil {
		return grading.Environment{}, false, err
	}
	if in.Digest != digest || in.Size != size {
		return grading.Environment{}, false, fmt.Errorf("save environment %s: the image changed while it was inspected", name)
	}
	key := objectstore.EnvironmentKey(digest)
	wrote, err := put(ctx, bucket, key, tarPath)
	if err != nil {
		return grading.Environment{}, false, err
	}
	env, err = rows.CreateEnvironment(ctx, grading.Environment{
		Name: name, Digest: digest, ManifestDigest: in.ManifestDigest, Size: size, ObjectKey: key, CreatedBy: createdBy,
	})
	if errors.Is(err, grading.ErrConflict) {
		// Another upload of the name won the race: with these bytes it is
		// the answer (and the object is its too), with others a conflict.
		existing, ok, serr := same(ctx, rows, name, digest)
		if ok {
			return existing, false, nil
		}
		if serr != nil {
			err = serr
		}
	}
	if err != nil {
		if wrote {
			// Remove the object even when the caller has gone away.
			err = errors.Join(err, retract(context.WithoutCancel(ctx), bucket, rows, key, digest, tarPath))
		}
		return grading.Environment{}, false, err
	}
	// The object is shared by every environment of these bytes: a failed
	// save of them may have removed it after put found it.
	if _, err := put(ctx, bucket, key, tarPath); err != nil {
		return grading.Environment{}, false, fmt.Errorf("save environment %s: %w", name, err)
	}
	return env, true, nil
}

// retract removes the object a failed save wrote, unless an environment of
// the same bytes saved meanwhile uses it: that one is put back after the
// removal, as the saver checks its object only after its row exists.
func retract(ctx context.Context, bucket *blob.Bucket, rows Rows, key, digest, tarPath string) error {
	if err := bucket.Delete(ctx, key); err != nil {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	used, err := rows.EnvironmentDigestInUse(ctx, digest)
	if err != nil || !used {
		return err
	}
	_, err = put(ctx, bucket, key, tarPath)
	return err
}

// same looks name up: an environment of digest is returned with ok set, one
// of another digest is a *ConflictError, none is neither.
func same(ctx context.Context, rows Rows, name, digest string) (grading.Environment, bool, error) {
	existing, err := rows.Environment(ctx, name)
	switch {
	case errors.Is(err, grading.ErrNotFound):
		return grading.Environment{}, false, nil
	case err != nil:
		return grading.Environment{}, false, err
	case existing.Digest != digest:
		return grading.Environment{}, false, &ConflictError{Existing: existing}
	}
	return existing, true, nil
}

// fileDigest returns the sha256 digest and size of a file.
func fileDigest(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, fmt.Errorf("open image: %w", err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read image: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// put uploads the tar to key unless an environment of the same content
// already put it there, and reports whether it wrote the object.
func put(ctx context.Context, bucket *blob.Bucket, key, tarPath string) (bool, error) {
	exists, err := bucket.Exists(ctx, key)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", key, err)
	}
	if exists {
		return false, nil
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return false, fmt.Errorf("open image: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := bucket.Upload(ctx, key, f, &blob.WriterOptions{ContentType: "application/x-tar"}); err != nil {
		return false, fmt.Errorf("upload %s: %w", key, err)
	}
	return true, nil
}
