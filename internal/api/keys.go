package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// courseRequest is the body of POST /v1/courses.
type courseRequest struct {
	Name string `json:"name"`
}

func (s *Server) createCourse(w http.ResponseWriter, r *http.Request) error {
	var req courseRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	if err := checkName("name", req.Name); err != nil {
		return err
	}
	c, err := s.store.CreateCourse(r.Context(), grading.Course{Name: req.Name})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/courses/"+url.PathEscape(c.ID))
	return writeJSON(w, http.StatusCreated, c)
}

func (s *Server) getCourse(w http.ResponseWriter, r *http.Request) error {
	c, err := s.store.Course(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// apiKeyRequest is the body of POST /v1/api-keys.
type apiKeyRequest struct {
	Name      string       `json:"name"`
	Role      grading.Role `json:"role"`
	Courses   []string     `json:"courses"`
	User      string       `json:"user"`
	ExpiresAt *time.Time   `json:"expires_at"`
}

// apiKeyResponse is a created key with the key itself, shown this once.
type apiKeyResponse struct {
	grading.APIKey
	Key string `json:"key"`
}

func (req apiKeyRequest) validate(now time.Time) error {
	if err := checkName("name", req.Name); err != nil {
		return err
	}
	if !req.Role.Valid() {
		return badRequest("role %q is not one of %v", req.Role, grading.Roles)
	}
	if req.Role != grading.RoleAdmin && len(req.Courses) == 0 {
		return badRequest("courses is required for role %s", req.Role)
	}
	for i, c := range req.Courses {
		if c == "" {
			return badRequest("courses[%d] is empty", i)
		}
		if j := slices.Index(req.Courses[:i], c); j >= 0 {
			return badRequest("courses[%d] repeats courses[%d] (%q)", i, j, c)
		}
	}
	if req.Role == grading.RoleStudent && req.User == "" {
		return badRequest("user is required for a student key")
	}
	if req.User != "" {
		if err := checkName("user", req.User); err != nil {
			return err
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		return badRequest("expires_at %s is not in the future", req.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// createAPIKey makes a key and answers it once; only its hash is stored.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var req apiKeyRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	if err := req.validate(time.Now()); err != nil {
		return err
	}
	key, hash, err := auth.NewKey()
	if err != nil {
		return err
	}
	k, err := s.store.CreateAPIKey(r.Context(), grading.APIKey{
		Name: req.Name, Hash: hash, Role: req.Role, Courses: req.Courses, User: req.User,
		ExpiresAt: req.ExpiresAt, CreatedBy: grantOf(r.Context()).principal.Actor,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiKeyResponse{APIKey: k, Key: key})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.store.RevokeAPIKey(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditRow is one entry of GET /v1/audit.
type auditRow struct {
	Time      time.Time    `json:"time"`
	Actor     string       `json:"actor"`
	Role      grading.Role `json:"role"`
	Action    string       `json:"action"`
	Target    string       `json:"target"`
	Course    string       `json:"course,omitempty"`
	Outcome   string       `json:"outcome"`
	RequestID string       `json:"request_id"`
}

// listAudit answers the audit log, filtered by ?course, ?actor, ?target,
// ?since and ?until (RFC 3339), bounded by ?limit and read on from ?cursor.
// The answer stays a JSON array; a full page names the next one in a Link
// header (rel="next") and in X-Next-Cursor.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := grading.AuditFilter{Course: q.Get("course"), Actor: q.Get("actor"), Target: q.Get("target"), After: q.Get("cursor")}
	for _, t := range []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest("%s %q is not an RFC 3339 time", t.name, v)
			}
			*t.dst = &parsed
		}
	}
	if f.Since != nil && f.Until != nil && f.Until.Before(*f.Since) {
		return badRequest("until (%s) is before since (%s)", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	if v := q.Get("limit"); v != "" {
		// Atoi, not Sscanf: "10abc" is no limit, and a limit beyond what
		// the store reads would be cut short without a word.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditRows {
			return badRequest("limit %q is not a number between 1 and %d", v, store.MaxAuditRows)
		}
		f.Limit = n
	}
	es, next, err := s.store.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	if next != "" {
		q.Set("cursor", next)
		w.Header().Set("X-Next-Cursor", next)
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
	}
	rows := make([]auditRow, len(es))
	for i, e := range es {
		rows[i] = auditRow{
			Time: e.Time, Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target,
			Course: e.Course, Outcome: e.Outcome, RequestID: e.RequestID,
		}
	}
	return writeJSON(w, http.StatusOK, rows)
}
