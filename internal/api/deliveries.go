package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// deliveryResponse is a created delivery with what was packed.
type deliveryResponse struct {
	grading.Delivery
	Files int `json:"files"`
}

// createDelivery stores a student's upload: the files packed into one
// tar.gz in blob storage, then the delivery row. Everything is checked
// before the blob is written, and the blob is removed if the row cannot be
// stored, so bad input leaves nothing behind.
func (s *Server) createDelivery(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// The collection is checked before the body is read, so an upload to a
	// wrong URL fails fast.
	coll, err := s.store.Collection(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	form, err := readMultipart(w, r, s.cfg.MaxUploadBytes, s.formMemory, "user", "files")
	if err != nil {
		return err
	}
	defer func() { _ = form.RemoveAll() }()

	user, ok, err := formValue(form, "user")
	if err != nil {
		return err
	}
	if !ok {
		return badRequest("user is required")
	}
	if err := checkName("user", user); err != nil {
		return err
	}
	uploads, err := formFiles(form, "files")
	if err != nil {
		return err
	}
	if len(uploads) == 0 {
		return badRequest("at least one \"files\" part is required")
	}

	var packed bytes.Buffer
	stats, err := s.pack(&packed, uploads)
	if err != nil {
		return err
	}
	id, err := store.NewID()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(packed.Bytes())
	size := int64(packed.Len())
	key := objectstore.DeliveryKey(id)
	if err := s.bucket.Upload(ctx, key, &packed, &blob.WriterOptions{ContentType: "application/gzip"}); err != nil {
		return fmt.Errorf("upload delivery %s: %w", id, err)
	}
	d, err := s.store.CreateDelivery(ctx, grading.Delivery{
		ID:           id,
		CollectionID: coll.ID,
		User:         user,
		ObjectKey:    key,
		Size:         size,
		Checksum:     hex.EncodeToString(sum[:]),
	})
	if err != nil {
		s.deleteObjects(ctx, key)
		return err
	}
	// The delivery is stored; a lost announcement must not turn that into
	// an error the student would retry, creating a duplicate.
	if err := s.events.Publish(ctx, events.SubjectDeliveryCreated, d, events.WithMsgID(d.ID)); err != nil {
		s.log.WarnContext(ctx, "delivery event not published",
			slog.String("delivery_id", d.ID), slog.Any("err", err))
	}
	return writeJSON(w, http.StatusCreated, deliveryResponse{Delivery: d, Files: stats.Files})
}

// pack writes the uploads to w as one tar.gz under the archive rules.
func (s *Server) pack(w io.Writer, uploads []upload) (archive.Stats, error) {
	files := make([]archive.File, 0, len(uploads))
	for _, u := range uploads {
		f, err := u.file.Open()
		if err != nil {
			return archive.Stats{}, fmt.Errorf("open uploaded file %q: %w", u.name, err)
		}
		defer func() { _ = f.Close() }()
		files = append(files, archive.File{Name: u.name, Reader: f})
	}
	stats, err := archive.Pack(w, files, s.archive)
	if err != nil {
		return archive.Stats{}, fmt.Errorf("pack delivery: %w", err)
	}
	return stats, nil
}

// deleteObjects removes objects written for a request that then failed.
// It runs even when the client has gone, and a failure is only logged: the
// request's own error is what the client needs.
func (s *Server) deleteObjects(ctx context.Context, keys ...string) {
	ctx = context.WithoutCancel(ctx)
	for _, key := range keys {
		if err := s.bucket.Delete(ctx, key); err != nil {
			s.log.ErrorContext(ctx, "orphan object not deleted", slog.String("key", key), slog.Any("err", err))
		}
	}
}
