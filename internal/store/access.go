package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// PendingAudit is the audit entry of a request in progress. Carried in the
// context (WithPendingAudit), it is written by the first store write of the
// request in that write's own transaction, so a change and its record
// commit together; whoever made it writes it afterwards (AppendAudit) if no
// write did.
type PendingAudit struct {
	Entry   grading.AuditEntry
	written atomic.Bool
}

// Written reports whether a store write has recorded the entry.
func (p *PendingAudit) Written() bool { return p.written.Load() }

type pendingAuditKey struct{}

// WithPendingAudit returns ctx carrying p for the store writes made with it.
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, p)
}

// PendingAuditFrom returns the pending audit entry ctx carries, if any.
func PendingAuditFrom(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	return p
}

// execer runs a statement: a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// writeAudited runs write in a transaction together with the request's
// pending audit entry, if any and not yet written. target and course fill
// the entry's fields the request could not know (the id of a new row).
func (s *Store) writeAudited(ctx context.Context, target, course string, write func(execer) error) error {
	p := PendingAuditFrom(ctx)
	if p != nil && p.Written() {
		p = nil
	}
	// Always one transaction: write may add outbox events beside its row.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := write(tx); err != nil {
		return err
	}
	if p == nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	e := p.Entry
	if e.Target == "" {
		e.Target = target
	}
	if e.Course == "" {
		e.Course = course
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	if err := insertAudit(ctx, tx, e); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	p.written.Store(true)
	return nil
}

// AppendAudit adds e to the audit log, with its ID and Time set when empty.
func (s *Store) AppendAudit(ctx context.Context, e grading.AuditEntry) error {
	return insertAudit(ctx, s.db, e)
}

func insertAudit(ctx context.Context, db execer, e grading.AuditEntry) error {
	id, err := ensureID(e.ID)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO audit_log (id, at, actor, role, action, target, course_id, outcome, request_id)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id, micros(e.Time), e.Actor, string(e.Role), e.Action, e.Target, e.Course, e.Outcome, e.RequestID)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// MaxAuditRows bounds one audit read.
const MaxAuditRows = 1000

// Audit returns the audit entries matching f, oldest first, at most f.Limit
// (1000 when zero or larger), and the cursor that reads on after them when
// there may be more ("" when not). Entries of one microsecond are ordered by
// id, so paging with the cursor neither repeats nor skips any.
func (s *Store) Audit(ctx context.Context, f grading.AuditFilter) ([]grading.AuditEntry, string, error) {
	after, set, err := parseCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Course != "" {
		add("course_id = $%d", f.Course)
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.Target != "" {
		add("target = $%d", f.Target)
	}
	if f.Since != nil {
		add("at >= $%d", micros(*f.Since))
	}
	if f.Until != nil {
		add("at < $%d", micros(*f.Until))
	}
	id := s.byteOrder("id")
	if set {
		args = append(args, after.at, after.id)
		where = append(where, fmt.Sprintf("(at > $%d OR (at = $%d AND %s > $%d))", len(args)-1, len(args)-1, id, len(args)))
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxAuditRows {
		limit = MaxAuditRows
	}
	q := `SELECT id, at, actor, role, action, target, course_id, outcome, request_id FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY at, %s LIMIT $%d", id, len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("read audit: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []grading.AuditEntry{}
	var last cursor
	for rows.Next() {
		var (
			e    grading.AuditEntry
			at   int64
			role string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &role, &e.Action, &e.Target, &e.Course, &e.Outcome, &e.RequestID); err != nil {
			return nil, "", fmt.Errorf("read audit: %w", err)
		}
		e.Time, e.Role = fromMicros(at), grading.Role(role)
		out = append(out, e)
		last = cursor{at: at, id: e.ID}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("read audit: %w", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, last.String(), nil
}

// CreateCourse stores c and returns it with its ID (assigned when empty)
// and CreatedAt set. A duplicate ID is a grading.ErrConflict.
func (s *Store) CreateCourse(ctx context.Context, c grading.Course) (grading.Course, error) {
	id, err := ensureID(c.ID)
	if err != nil {
		return grading.Course{}, fmt.Errorf("create course: %w", err)
	}
	c.ID, c.CreatedAt = id, now()
	err = s.writeAudited(ctx, c.ID, c.ID, func(db execer) error {
		_, err := db.ExecContext(ctx, `INSERT INTO course (id, name, created_at) VALUES ($1, $2, $3)`,
			c.ID, c.Name, micros(c.CreatedAt))
		return err
	})
	if violated(err) == constraintUnique {
		return grading.Course{}, fmt.Errorf("create course %s: %w", c.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.Course{}, fmt.Errorf("create course: %w", err)
	}
	return c, nil
}

// Course returns the course with the given id.
func (s *Store) Course(ctx context.Context, id string) (grading.Course, error) {
	var (
		c         grading.Course
		createdAt int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM course WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Course{}, fmt.Errorf("course %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Course{}, fmt.Errorf("get course %s: %w", id, err)
	}
	c.CreatedAt = fromMicros(createdAt)
	return c, nil
}

// requireCourses returns a grading.ErrNotFound error naming the first of
// ids that is not a course.
func (s *Store) requireCourses(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		ok, err := s.exists(ctx, "course", id)
		if err != nil {
			return fmt.Errorf("look up course %s: %w", id, err)
		}
		if !ok {
			return fmt.Errorf("course %s: %w", id, grading.ErrNotFound)
		}
	}
	return nil
}

// CreateAPIKey stores k (its Hash, never the key) and returns it with ID
// and CreatedAt set. An unknown course is a grading.ErrNotFound; a
// duplicate ID or hash is a grading.ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, k grading.APIKey) (grading.APIKey, error) {
	if k.Hash == "" || !k.Role.Valid() {
		return grading.APIKey{}, fmt.Errorf("create api key: needs a hash and a valid role, got role %q", k.Role)
	}
	if err := s.requireCourses(ctx, k.Courses...); err != nil {
		return grading.APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	id, err := ensureID(k.ID)
	if err != nil {
		return grading.APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	k.ID, k.CreatedAt, k.ExpiresAt = id, now(), normTimePtr(k.ExpiresAt)
	if k.Courses == nil {
		k.Courses = []string{}
	}
	courses, err := json.Marshal(k.Courses)
	if err != nil {
		return grading.APIKey{}, fmt.Errorf("create api key: encode courses: %w", err)
	}
	err = s.writeAudited(ctx, k.ID, "", func(db execer) error {
		_, err := db.ExecContext(ctx,
			`INSERT INTO api_key (id, name, key_hash, role, courses, user_name, created_by, created_at, expires_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.ID, k.Name, k.Hash, string(k.Role), string(courses), k.User, k.CreatedBy, micros(k.CreatedAt), nullMicros(k.ExpiresAt))
		return err
	})
	if violated(err) == constraintUnique {
		return grading.APIKey{}, fmt.Errorf("create api key %s: %w", k.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	return k, nil
}

const apiKeyColumns = `id, name, key_hash, role, courses, user_name, created_by, created_at, expires_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (grading.APIKey, error) {
	var (
		k                    grading.APIKey
		role, courses        string
		createdAt            int64
		expiresAt, revokedAt sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &role, &courses, &k.User, &k.CreatedBy, &createdAt, &expiresAt, &revokedAt); err != nil {
		return grading.APIKey{}, err
	}
	if err := json.Unmarshal([]byte(courses), &k.Courses); err != nil {
		return grading.APIKey{}, fmt.Errorf("decode courses: %w", err)
	}
	k.Role, k.CreatedAt = grading.Role(role), fromMicros(createdAt)
	k.ExpiresAt, k.RevokedAt = fromNullMicros(expiresAt), fromNullMicros(revokedAt)
	return k, nil
}

// APIKeyByHash returns the key whose hash is hash, revoked or not.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (grading.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_key WHERE key_hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return grading.APIKey{}, fmt.Errorf("api key: %w", grading.ErrNotFound)
	}
	if err != nil {
		return grading.APIKey{}, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKey returns the key with the given id.
func (s *Store) APIKey(ctx context.Context, id string) (grading.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_key WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return grading.APIKey{}, fmt.Errorf("api key %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// RevokeAPIKey marks the key revoked; revoking it again changes nothing.
// An unknown id is a grading.ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	err := s.writeAudited(ctx, id, "", func(db execer) error {
		res, err := db.ExecContext(ctx,
			`UPDATE api_key SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, micros(now()))
		if err != nil {
			return err
		}
		return requireAffected(res, "api key", id)
	})
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// EnsureAPIKey stores k unless a key with its hash exists already: a
// bootstrap key given at every start is created once.
func (s *Store) EnsureAPIKey(ctx context.Context, k grading.APIKey) (grading.APIKey, error) {
	existing, err := s.APIKeyByHash(ctx, k.Hash)
	if err == nil {
		return existing, nil
	}
	if !errors.Is(err, grading.ErrNotFound) {
		return grading.APIKey{}, err
	}
	created, err := s.CreateAPIKey(ctx, k)
	if errors.Is(err, grading.ErrConflict) {
		// Another process created it meanwhile.
		return s.APIKeyByHash(ctx, k.Hash)
	}
	return created, err
}

// CourseOf returns the course of a collection, grading config, batch or
// delivery (kind "collection", "config", "batch", "delivery"), for
// authorization. An unknown id is a grading.ErrNotFound.
func (s *Store) CourseOf(ctx context.Context, kind, id string) (string, error) {
	var q string
	switch kind {
	case "collection":
		q = `SELECT course_id FROM collection WHERE id = $1`
	case "config":
		q = `SELECT course_id FROM grading_config WHERE id = $1`
	case "batch":
		q = `SELECT c.course_id FROM batch b JOIN collection c ON c.id = b.collection_id WHERE b.id = $1`
	case "delivery":
		q = `SELECT c.course_id FROM delivery d JOIN collection c ON c.id = d.collection_id WHERE d.id = $1`
	default:
		return "", fmt.Errorf("course of %s: unknown kind", kind)
	}
	var course string
	err := s.db.QueryRowContext(ctx, q, id).Scan(&course)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %s: %w", kind, id, grading.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("course of %s %s: %w", kind, id, err)
	}
	return course, nil
}
