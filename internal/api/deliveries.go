package api

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/deliveries"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
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
	g := grantOf(ctx)
	release, err := s.limits.startUpload(g.principal.Actor)
	if err != nil {
		return err
	}
	defer release()
	form, err := readMultipart(w, r, s.cfg.MaxUploadBytes, s.formMemory, "user", "files")
	if err != nil {
		return err
	}
	defer func() { _ = form.RemoveAll() }()

	user, ok, err := formValue(form, "user")
	if err != nil {
		return err
	}
	if g.role == grading.RoleStudent {
		// A student submits as the user of their credentials, only.
		switch {
		case !ok:
			user, ok = g.principal.User, true
		case user != g.principal.User:
			return forbidden("a student may submit only as %q, not %q", g.principal.User, user)
		}
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

	files, closeAll, err := openUploads(uploads)
	if err != nil {
		return err
	}
	defer closeAll()
	// The row and its deliveries.created event are stored together; the
	// outbox relay publishes the event.
	rows := announcingCreator{store: s.store, announce: func(d grading.Delivery) (store.Event, error) {
		return s.events.Encode(ctx, events.NewDeliveryCreated(d))
	}}
	d, stats, err := deliveries.Save(ctx, s.bucket, rows, coll.ID, user, files, s.archive)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, deliveryResponse{Delivery: d, Files: stats.Files})
}

// openUploads opens the uploaded files for packing; closeAll closes them.
func openUploads(uploads []upload) (files []archive.File, closeAll func(), err error) {
	var opened []io.Closer
	closeAll = func() {
		for _, f := range opened {
			_ = f.Close()
		}
	}
	for _, u := range uploads {
		f, err := u.file.Open()
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open uploaded file %q: %w", u.name, err)
		}
		opened = append(opened, f)
		files = append(files, archive.File{Name: u.name, Reader: f})
	}
	return files, closeAll, nil
}

// announcingCreator stores a delivery row with the event announce builds.
type announcingCreator struct {
	store    Store
	announce store.Announce[grading.Delivery]
}

// CreateDelivery implements deliveries.Creator.
func (c announcingCreator) CreateDelivery(ctx context.Context, d grading.Delivery) (grading.Delivery, error) {
	return c.store.CreateDeliveryAnnounced(ctx, d, c.announce)
}
