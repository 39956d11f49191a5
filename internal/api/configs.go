package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/zinc-edu/orchestrator/internal/configs"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// createConfig stores a grading config through configs.Save. The body is
// the YAML definition, or a multipart form with a "definition" part and the
// assignment files the definition declares with source: upload as "files"
// parts; a .tar.gz or .zip among them is unpacked into assignment files.
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
	files := make([]configs.Upload, len(uploads))
	for i, u := range uploads {
		files[i] = configs.Upload{Name: u.name, Open: func() (io.ReadCloser, error) { return u.file.Open() }}
	}
	cfg, err := configs.Save(r.Context(), s.bucket, s.store, course, src, files, s.archive)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/grading-configs/"+url.PathEscape(cfg.ID))
	return writeJSON(w, http.StatusCreated, cfg)
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

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.store.Config(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cfg)
}
