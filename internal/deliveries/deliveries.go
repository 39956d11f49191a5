// Package deliveries takes in a student's delivery: its files packed into
// one archive in object storage, then its row in the store. The API and the
// in-process test harness both store deliveries through it, so they leave
// the same objects and rows.
package deliveries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// ErrNoFiles reports a delivery whose files, archives unpacked, come to
// none: an empty archive, or one of directories only.
var ErrNoFiles = errors.New("the delivery holds no files")

// Creator records a delivery row.
type Creator interface {
	CreateDelivery(ctx context.Context, d grading.Delivery) (grading.Delivery, error)
}

// Save packs files under lim (archive errors keep their sentinels; no file
// at all is ErrNoFiles), uploads the archive to the delivery's key and
// records the delivery of user in the collection. Nothing is written unless
// the files pack, and the object is removed again when the row cannot be
// stored.
func Save(ctx context.Context, bucket *blob.Bucket, rows Creator, collectionID, user string,
	files []archive.File, lim archive.Limits) (grading.Delivery, archive.Stats, error) {
	// The archive goes to a temporary file, not memory: a delivery may be
	// tens of MiB and many arrive at once.
	packed, err := os.CreateTemp("", "zinc-delivery-*.tar.gz")
	if err != nil {
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("create delivery archive: %w", err)
	}
	defer func() {
		_ = packed.Close()
		_ = os.Remove(packed.Name())
	}()
	hash := sha256.New()
	stats, err := archive.Pack(io.MultiWriter(packed, hash), files, lim)
	if err != nil {
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("pack delivery: %w", err)
	}
	if stats.Files == 0 {
		// It would become the user's latest delivery, in place of one
		// that has files.
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("pack delivery: %w (empty archives and directories do not count)", ErrNoFiles)
	}
	size, err := packed.Seek(0, io.SeekCurrent)
	if err != nil {
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("size delivery archive: %w", err)
	}
	if _, err := packed.Seek(0, io.SeekStart); err != nil {
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("rewind delivery archive: %w", err)
	}
	id, err := store.NewID()
	if err != nil {
		return grading.Delivery{}, archive.Stats{}, err
	}
	sum := hash.Sum(nil)
	key := objectstore.DeliveryKey(id)
	if err := bucket.Upload(ctx, key, packed, &blob.WriterOptions{ContentType: "application/gzip"}); err != nil {
		return grading.Delivery{}, archive.Stats{}, fmt.Errorf("upload delivery %s: %w", id, err)
	}
	d, err := rows.CreateDelivery(ctx, grading.Delivery{
		ID: id, CollectionID: collectionID, User: user, ObjectKey: key,
		Size: size, Checksum: hex.EncodeToString(sum),
	})
	if err != nil {
		// Remove the object even when the caller has gone away.
		if delErr := bucket.Delete(context.WithoutCancel(ctx), key); delErr != nil {
			err = errors.Join(err, fmt.Errorf("delete orphan object %s: %w", key, delErr))
		}
		return grading.Delivery{}, archive.Stats{}, err
	}
	return d, stats, nil
}
