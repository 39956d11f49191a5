package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// forbiddenError is a caller who is known but not allowed.
type forbiddenError struct{ msg string }

func (e *forbiddenError) Error() string { return e.msg }

func forbidden(format string, args ...any) error {
	return &forbiddenError{msg: fmt.Sprintf(format, args...)}
}

// tooManyError is a caller over its rate or concurrency limit.
type tooManyError struct {
	msg        string
	retryAfter time.Duration
}

func (e *tooManyError) Error() string { return e.msg }

// grant is what the authorization middleware decided about a request,
// for handlers that refine it.
type grant struct {
	principal auth.Principal
	// role is the caller's role in the route's course, or its main role.
	role   grading.Role
	course string
}

type grantKey struct{}

// grantOf returns the request's grant; requests that passed the middleware
// always have one.
func grantOf(ctx context.Context) grant {
	g, _ := ctx.Value(grantKey{}).(grant)
	return g
}

// requireCourseRole checks, for a route whose course comes from its body,
// that the caller holds one of roles in course: a course the caller does
// not belong to is not found, a role too weak is forbidden.
func requireCourseRole(ctx context.Context, course string, roles ...grading.Role) error {
	p := grantOf(ctx).principal
	role, member := p.RoleIn(course)
	if !member {
		return fmt.Errorf("course %s: %w", course, grading.ErrNotFound)
	}
	if !slices.Contains(roles, role) {
		return forbidden("role %s may not do this in course %s", role, course)
	}
	return nil
}

// requireRoleOf is requireCourseRole for a resource named in a body or a
// query: it finds the course of the kind resource id, and a course the
// caller does not belong to is not found as that resource, exactly like an
// id that does not exist, so its course does not leak.
func (s *Server) requireRoleOf(ctx context.Context, kind, id string, roles ...grading.Role) (course string, err error) {
	course, err = s.store.CourseOf(ctx, kind, id)
	if err != nil {
		return "", err
	}
	if _, member := grantOf(ctx).principal.RoleIn(course); !member {
		return "", fmt.Errorf("%s %s: %w", kind, id, grading.ErrNotFound)
	}
	return course, requireCourseRole(ctx, course, roles...)
}

// defaultCourse is the course a create request without one goes to: the
// default course for an admin, the one course where the caller holds one of
// roles otherwise.
func defaultCourse(ctx context.Context, roles ...grading.Role) (string, error) {
	p := grantOf(ctx).principal
	if p.Admin {
		return grading.DefaultCourseID, nil
	}
	cs := p.CoursesWith(roles...)
	if len(cs) != 1 {
		return "", badRequest("course is required: you belong to %d courses with this right", len(cs))
	}
	return cs[0], nil
}

// listableCourses returns the courses whose data the caller may list with
// one of roles, as the store's list filters take them: nil for an admin,
// who sees every course, and a non-nil list (maybe empty) for anyone else.
func listableCourses(ctx context.Context, roles ...grading.Role) []string {
	p := grantOf(ctx).principal
	if p.Admin {
		return nil
	}
	return append([]string{}, p.CoursesWith(roles...)...)
}

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// requestID is the client's X-Request-ID when it is short and printable,
// a new UUID otherwise.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-ID")
	if id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) {
		return id
	}
	return uuid.NewString()
}

// mutating reports whether a method changes state, so is audited.
func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authorize runs the rule of the matched pattern: credentials, rate limit,
// roles and course scope. It returns the request to serve, or an error to
// answer. The caller has already served public routes.
func (s *Server) authorize(r *http.Request, pattern string, rl rule, known bool) (*http.Request, error) {
	ctx := r.Context()
	p, err := s.auth.Authenticate(ctx, bearer(r))
	if err != nil {
		return nil, err
	}
	g := grant{principal: p, role: p.MainRole()}
	ctx = context.WithValue(ctx, grantKey{}, g)
	r = r.WithContext(auth.WithPrincipal(ctx, p))
	if pattern == "" {
		// Authenticated but no route: the caller learns 404 or 405.
		return r, nil
	}
	if err := s.limits.allow(p.Actor); err != nil {
		return r, err
	}
	if err := checkURLText(r.URL); err != nil {
		return r, err
	}
	if !known {
		s.log.ErrorContext(ctx, "route has no authorization rule", slog.String("pattern", pattern))
		return r, forbidden("no authorization rule for %s", pattern)
	}
	if rl.scope == "" {
		if !p.HasAny(rl.roles...) {
			return r, forbidden("role %s may not use %s", g.role, pattern)
		}
		return r, nil
	}
	id := pathValue(pattern, r.URL.EscapedPath(), "id")
	course, err := s.store.CourseOf(ctx, rl.scope, id)
	if err != nil {
		return r, err
	}
	role, member := p.RoleIn(course)
	if !member {
		// The same answer as for an id that does not exist, so ids of
		// other courses do not leak.
		return r, fmt.Errorf("%s %s: %w", rl.scope, id, grading.ErrNotFound)
	}
	if !slices.Contains(rl.roles, role) {
		return r, forbidden("role %s may not use %s", role, pattern)
	}
	if rl.ownOnly && role == grading.RoleStudent {
		d, err := s.store.Delivery(ctx, id)
		if err != nil {
			return r, err
		}
		if d.User != p.User {
			return r, fmt.Errorf("delivery %s: %w", id, grading.ErrNotFound)
		}
	}
	g.role, g.course = role, course
	return r.WithContext(context.WithValue(r.Context(), grantKey{}, g)), nil
}

// checkURLText refuses a URL whose path or query holds what no id, name or
// cursor holds and PostgreSQL cannot compare: NUL or invalid UTF-8. It also
// refuses a query string that does not parse, whose parameters would
// otherwise be dropped without a word, and a parameter given more than once.
func checkURLText(u *url.URL) error {
	if !validText(u.Path) {
		return badRequest("the URL path %s holds a NUL character or invalid UTF-8", u.EscapedPath())
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return badRequest("malformed query string: %v", err)
	}
	for k, vs := range q {
		if !validText(k) {
			return badRequest("query parameter %q holds a NUL character or invalid UTF-8", k)
		}
		// No route reads a parameter twice: the first of several would be
		// taken silently.
		if len(vs) > 1 {
			return badRequest("query parameter %q is given %d times; want once", k, len(vs))
		}
		for _, v := range vs {
			if !validText(v) {
				return badRequest("query parameter %q holds a NUL character or invalid UTF-8", k)
			}
		}
	}
	return nil
}

// validText reports whether s is UTF-8 without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// pathValue returns the value of wildcard {name} of pattern in path, the
// way the mux will match it; authorization runs before the mux has set the
// request's path values. A value that is not valid text (see checkURLText)
// is returned escaped, so that the audit log can record it.
func pathValue(pattern, path, name string) string {
	_, p, _ := strings.Cut(pattern, " ")
	want := "{" + name + "}"
	pat, segs := strings.Split(strings.Trim(p, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range pat {
		if seg == want && i < len(segs) {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return ""
			}
			if !validText(v) {
				return segs[i]
			}
			return v
		}
	}
	return ""
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes for
// streamed answers).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outcome names how a request ended, for the audit log.
func outcome(status int) string {
	switch {
	case status < 400:
		return "ok"
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return "denied"
	case status < 500:
		return "rejected: " + strconv.Itoa(status)
	}
	return "error: " + strconv.Itoa(status)
}

// serveAudited serves a mutating request with a pending audit entry that
// the store writes with the change; when no store write recorded it, it is
// appended here with the request's outcome.
func (s *Server) serveAudited(w http.ResponseWriter, r *http.Request, rl rule, pattern, reqID string) {
	g := grantOf(r.Context())
	action := rl.action
	if action == "" {
		action = pattern
	}
	pending := &store.PendingAudit{Entry: grading.AuditEntry{
		Actor: g.principal.Actor, Role: g.role, Action: action, Course: g.course,
		RequestID: reqID, Target: pathValue(pattern, r.URL.EscapedPath(), "id"),
	}}
	rec := &statusRecorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r.WithContext(store.WithPendingAudit(r.Context(), pending)))
	if pending.Written() && rec.status < 400 {
		return
	}
	s.audit(r.Context(), pending.Entry, rec.status)
}

// audit appends e with the outcome of status. The request has been
// answered, so a failure is only logged.
func (s *Server) audit(ctx context.Context, e grading.AuditEntry, status int) {
	e.Outcome = outcome(status)
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit entry not written", slog.String("action", e.Action), slog.Any("err", err))
	}
}

// setAuditTarget names the target of a request whose target is created by
// it and not written through the store in the same transaction (a batch).
func setAuditTarget(ctx context.Context, target string) {
	if p := store.PendingAuditFrom(ctx); p != nil {
		p.Entry.Target = target
	}
}

// retryAfterSeconds is the Retry-After value for a wait of d.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// recheck authorizes a long-lived request again, as authorize did when it
// began: the credential still authenticates (not revoked, not expired) and
// still holds one of the route's roles in the course it was granted for.
func (s *Server) recheck(r *http.Request) error {
	ctx := r.Context()
	p, err := s.auth.Authenticate(ctx, bearer(r))
	if err != nil {
		return fmt.Errorf("recheck %s: %w", r.Pattern, err)
	}
	rl := rules[r.Pattern]
	if g := grantOf(ctx); rl.scope != "" {
		role, member := p.RoleIn(g.course)
		if !member || !slices.Contains(rl.roles, role) {
			return forbidden("recheck %s: no longer a member of course %s with that right", r.Pattern, g.course)
		}
		return nil
	}
	if !p.HasAny(rl.roles...) {
		return forbidden("recheck %s: no longer holds the right", r.Pattern)
	}
	return nil
}
