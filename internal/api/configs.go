package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"unicode/utf8"

	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// createConfig stores a grading config. The body is the YAML definition,
// or a multipart form with a "definition" part and the assignment files
// the definition declares with source: upload as "files" parts. The
// definition is validated and every declared upload matched before
// anything is written; assets written before a failure are removed.
func (s *Server) createConfig(w http.ResponseWriter, r *http.Request) error {
	var (
		src     []byte
		uploads []upload
		err     error
	)
	course := r.URL.Query().Get("course")
	if course == "" {
		if course, err = defaultCourse(r.Context(), grading.RoleInstructor); err != nil {
			return err
		}
	}
	if err := requireCourseRole(r.Context(), course, teachers...); err != nil {
		return err
	}
	if isMultipart(r) {
		release, err := s.limits.startUpload(grantOf(r.Context()).principal.Actor)
		if err != nil {
			return err
		}
		defer release()
		var form *multipart.Form
		form, err = readMultipart(w, r, s.cfg.MaxUploadBytes, s.formMemory, "definition", "files")
		if err != nil {
			return err
		}
		defer func() { _ = form.RemoveAll() }()
		if src, err = formDefinition(form, s.cfg.MaxConfigBytes); err != nil {
			return err
		}
		if uploads, err = formFiles(form, "files"); err != nil {
			return err
		}
	} else if src, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxConfigBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("read definition: %w", err)
		}
		return badRequest("read definition: %v", err)
	}
	// The source is stored verbatim as text, which PostgreSQL refuses when
	// it is not UTF-8 or holds NUL.
	if !utf8.Valid(src) || bytes.IndexByte(src, 0) >= 0 {
		return badRequest("the definition must be UTF-8 text without NUL bytes")
	}
	def, err := definition.Parse(src)
	if err != nil {
		return err
	}
	if err := matchUploads(def, uploads); err != nil {
		return err
	}
	parsed, err := json.Marshal(def)
	if err != nil {
		return fmt.Errorf("encode definition: %w", err)
	}
	id, err := store.NewID()
	if err != nil {
		return err
	}

	ctx := r.Context()
	written := make([]string, 0, len(uploads))
	for _, u := range uploads {
		key := objectstore.ConfigAssetKey(id, u.name)
		if err := s.uploadAsset(ctx, key, u); err != nil {
			s.deleteObjects(ctx, written...)
			return err
		}
		written = append(written, key)
	}
	cfg, err := s.store.CreateConfig(ctx, grading.Config{ID: id, Name: def.Name, Course: course, Source: string(src), Parsed: parsed})
	if err != nil {
		s.deleteObjects(ctx, written...)
		return err
	}
	w.Header().Set("Location", "/v1/grading-configs/"+url.PathEscape(cfg.ID))
	return writeJSON(w, http.StatusCreated, cfg)
}

// uploadAsset copies one uploaded assignment file to key.
func (s *Server) uploadAsset(ctx context.Context, key string, u upload) error {
	f, err := u.file.Open()
	if err != nil {
		return fmt.Errorf("open uploaded file %q: %w", u.name, err)
	}
	defer func() { _ = f.Close() }()
	// Upload needs a content type: it cannot sniff a stream.
	opts := &blob.WriterOptions{ContentType: "application/octet-stream"}
	if err := s.bucket.Upload(ctx, key, f, opts); err != nil {
		return fmt.Errorf("upload assignment file %q: %w", u.name, err)
	}
	return nil
}

// formDefinition returns the "definition" part, sent either as a text
// field or as a file.
func formDefinition(form *multipart.Form, limit int64) ([]byte, error) {
	text, isText, err := formValue(form, "definition")
	if err != nil {
		return nil, err
	}
	files := form.File["definition"]
	switch {
	case isText && len(files) > 0, len(files) > 1:
		return nil, badRequest("field \"definition\" is given more than once; want once")
	case isText:
		if int64(len(text)) > limit {
			return nil, &tooLargeError{what: "the definition", limit: limit}
		}
		return []byte(text), nil
	case len(files) == 0:
		return nil, badRequest("field \"definition\" is required")
	}
	if files[0].Size > limit {
		return nil, &tooLargeError{what: "the definition", limit: limit}
	}
	f, err := files[0].Open()
	if err != nil {
		return nil, fmt.Errorf("open definition part: %w", err)
	}
	defer func() { _ = f.Close() }()
	src, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read definition part: %w", err)
	}
	return src, nil
}

// matchUploads checks that the uploads are exactly the files the definition
// declares with source: upload, each once. The problems are reported like
// the definition's own, so a client handles one format.
func matchUploads(def *definition.Definition, uploads []upload) error {
	var problems []definition.Problem
	sent := make(map[string]bool, len(uploads))
	for _, u := range uploads {
		f, declared := def.File(u.name)
		switch {
		case sent[u.name]:
			problems = append(problems, definition.Problem{Message: fmt.Sprintf("file %q is uploaded more than once", u.name)})
		case !declared || !f.Upload:
			problems = append(problems, definition.Problem{Message: fmt.Sprintf("file %q is uploaded but the definition declares no file of that name with source: upload", u.name)})
		}
		sent[u.name] = true
	}
	for i, f := range def.Files {
		if f.Upload && !sent[f.Name] {
			problems = append(problems, definition.Problem{
				Path:    fmt.Sprintf("files[%d].source", i),
				Message: fmt.Sprintf("file %q has source: upload but was not uploaded", f.Name),
			})
		}
	}
	if len(problems) > 0 {
		return &definition.ValidationError{Problems: problems}
	}
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.store.Config(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cfg)
}
