package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// maxNameRunes bounds collection names and delivery users.
const maxNameRunes = 200

// collectionRequest is the body of POST /v1/collections. Times are RFC 3339.
type collectionRequest struct {
	Name    string     `json:"name"`
	Course  string     `json:"course"`
	StartAt *time.Time `json:"start_at"`
	DueAt   *time.Time `json:"due_at"`
	StopAt  *time.Time `json:"stop_at"`
}

// validate checks the name and that the dates that are set come in order:
// start, due, stop.
func (req collectionRequest) validate() error {
	if err := checkName("name", req.Name); err != nil {
		return err
	}
	dates := []struct {
		field string
		t     *time.Time
	}{{"start_at", req.StartAt}, {"due_at", req.DueAt}, {"stop_at", req.StopAt}}
	for i, a := range dates {
		for _, b := range dates[i+1:] {
			if a.t != nil && b.t != nil && b.t.Before(*a.t) {
				return badRequest("%s (%s) is before %s (%s)", b.field, b.t.Format(time.RFC3339), a.field, a.t.Format(time.RFC3339))
			}
		}
	}
	return nil
}

// checkName refuses an empty or blank value, one longer than maxNameRunes,
// invalid UTF-8 and control characters (which would break logs and the
// CSV exports teachers make from results).
func checkName(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return badRequest("%s is required", field)
	case !utf8.ValidString(v):
		return badRequest("%s is not valid UTF-8", field)
	case utf8.RuneCountInString(v) > maxNameRunes:
		return badRequest("%s is longer than %d characters", field, maxNameRunes)
	case strings.ContainsFunc(v, unicode.IsControl):
		return badRequest("%s contains control characters", field)
	}
	return nil
}

func (s *Server) createCollection(w http.ResponseWriter, r *http.Request) error {
	var req collectionRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	ctx := r.Context()
	if req.Course == "" {
		var err error
		if req.Course, err = defaultCourse(ctx, grading.RoleInstructor); err != nil {
			return err
		}
	}
	if err := requireCourseRole(ctx, req.Course, teachers...); err != nil {
		return err
	}
	c, err := s.store.CreateCollection(ctx, grading.Collection{
		Name: req.Name, Course: req.Course, StartAt: req.StartAt, DueAt: req.DueAt, StopAt: req.StopAt,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/collections/"+url.PathEscape(c.ID))
	return writeJSON(w, http.StatusCreated, c)
}

func (s *Server) getCollection(w http.ResponseWriter, r *http.Request) error {
	c, err := s.store.Collection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}
