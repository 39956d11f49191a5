package api

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// createEnvironment takes in an environment through environment.Save. The
// body is the image layout tar with the name in ?name=, or a multipart form
// with a "name" field and one "image" file part. A new environment is 201,
// the same name and bytes again 200 with the existing one, other bytes
// under a taken name 409. Environments are global: any course's config may
// name one, so a teacher of any course may upload.
func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	g := grantOf(ctx)
	release, err := s.limits.startUpload(g.principal.Actor)
	if err != nil {
		return err
	}
	defer release()
	var (
		name    string
		tarPath string
	)
	if isMultipart(r) {
		name, tarPath, err = s.environmentForm(w, r)
	} else {
		name = r.URL.Query().Get("name")
		if err := checkEnvironmentName(name); err != nil {
			return err
		}
		tarPath, err = spool(http.MaxBytesReader(w, r.Body, s.cfg.MaxEnvironmentBytes))
	}
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tarPath) }()
	setAuditTarget(ctx, name)

	env, created, err := environment.Save(ctx, s.bucket, s.store, name, g.principal.Actor, tarPath,
		environment.Limits{MaxBytes: s.cfg.MaxEnvironmentBytes})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/environments/"+url.PathEscape(env.Name))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, env)
}

// environmentForm reads the multipart form of createEnvironment and spools
// its image to a temporary file the caller removes.
func (s *Server) environmentForm(w http.ResponseWriter, r *http.Request) (name, tarPath string, err error) {
	form, err := readMultipart(w, r, s.cfg.MaxEnvironmentBytes, s.formMemory, "name", "image")
	if err != nil {
		return "", "", err
	}
	defer func() { _ = form.RemoveAll() }()
	name, given, err := formValue(form, "name")
	if err != nil {
		return "", "", err
	}
	// The form's name is the one used: a different ?name= would be
	// dropped without a word.
	if q := r.URL.Query().Get("name"); given && q != "" && q != name {
		return "", "", badRequest("?name=%q and the form's \"name\" field %q disagree: give the name once", q, name)
	}
	if err := checkEnvironmentName(name); err != nil {
		return "", "", err
	}
	images, err := formFiles(form, "image")
	if err != nil {
		return "", "", err
	}
	if len(images) != 1 {
		return "", "", badRequest("exactly one \"image\" file part is required, got %d", len(images))
	}
	f, err := images[0].file.Open()
	if err != nil {
		return "", "", fmt.Errorf("open image part: %w", err)
	}
	defer func() { _ = f.Close() }()
	tarPath, err = spool(f)
	return name, tarPath, err
}

// checkEnvironmentName refuses a missing or malformed name before the body
// is read.
func checkEnvironmentName(name string) error {
	switch {
	case name == "":
		return badRequest("name is required (?name= with a tar body, or a \"name\" field of a multipart form)")
	case !grading.ValidEnvironmentName(name):
		return badRequest("invalid environment name %q (1 to %d characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
			name, grading.MaxEnvironmentName)
	}
	return nil
}

// spool copies an upload to a temporary file, which environment.Save reads
// several times; the caller removes it.
func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "zinc-environment-upload-")
	if err != nil {
		return "", fmt.Errorf("spool image: %w", err)
	}
	src := &environment.SourceReader{R: r}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
		return f.Name(), nil
	case src.Err == nil:
		// Writing failed: the worker's disk, not the client.
		err = fmt.Errorf("spool image: %w", err)
	case isTooLarge(src.Err):
		err = fmt.Errorf("read image: %w", src.Err)
	default:
		err = badRequest("read image: %v", src.Err)
	}
	_ = os.Remove(f.Name())
	return "", err
}

// isTooLarge reports a body beyond its limit.
func isTooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok || errors.Is(err, multipart.ErrMessageTooLarge)
}

// getEnvironment is GET /v1/environments/{name}.
func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	env, err := s.store.Environment(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, env)
}

// listEnvironments is GET /v1/environments, newest first.
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.Environments(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	return writePage(w, items, next)
}
