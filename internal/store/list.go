package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// ErrInvalidCursor reports a list cursor this store did not hand out.
var ErrInvalidCursor = errors.New("invalid cursor")

// MaxPageSize bounds the items of one list page.
const MaxPageSize = 500

// cursor is the position after the last item of a page, in newest-first
// order: its time in microseconds and its id, which breaks ties.
type cursor struct {
	at int64
	id string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at, 10) + "." + c.id))
}

// parseCursor reads a cursor; "" is the start of the list.
func parseCursor(s string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	at, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	// An id is UTF-8 without NUL: anything else is no cursor of ours, and
	// PostgreSQL would refuse to compare it.
	if !ok || err != nil || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return cursor{}, false, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	return cursor{at: n, id: id}, true, nil
}

func pageSize(limit int) int {
	if limit <= 0 || limit > MaxPageSize {
		return MaxPageSize
	}
	return limit
}

// page runs a newest-first keyset query: query holds the filter with
// placeholders from $1, order the time column and idColumn the unique
// column that breaks its ties (in byte order); the cursor condition and
// the limit are appended. scan reads one row and returns its position.
func page[T any](ctx context.Context, s *Store, query, order, idColumn string, args []any, after string, limit int,
	scan func(*sql.Rows) (T, cursor, error)) ([]T, string, error) {
	c, set, err := parseCursor(after)
	if err != nil {
		return nil, "", err
	}
	limit = pageSize(limit)
	idColumn = s.byteOrder(idColumn)
	if set {
		n := len(args)
		query += fmt.Sprintf(" AND (%s < $%d OR (%s = $%d AND %s < $%d))", order, n+1, order, n+1, idColumn, n+2)
		args = append(args, c.at, c.id)
	}
	query += fmt.Sprintf(" ORDER BY %s DESC, %s DESC LIMIT %d", order, idColumn, limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = rows.Close() }()
	var (
		items []T
		last  cursor
	)
	for rows.Next() {
		item, pos, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, item)
		if len(items) == limit {
			last = pos
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(items) <= limit {
		return items, "", nil
	}
	return items[:limit], last.String(), nil
}

// byteOrder returns column compared byte by byte, as SQLite compares text,
// so that ties on time break the same way on every engine: a PostgreSQL
// database created with a language locale would otherwise collate "ab"
// before "a-z".
func (s *Store) byteOrder(column string) string {
	if s.dialect == dialectPostgres {
		return column + ` COLLATE "C"`
	}
	return column
}

// inCourses appends to query the condition that column is one of courses,
// unless courses is nil (every course); an empty list matches nothing.
func inCourses(query, column string, args []any, courses []string) (string, []any) {
	if courses == nil {
		return query, args
	}
	if len(courses) == 0 {
		return query + " AND 1 = 0", args
	}
	marks := make([]string, len(courses))
	for i, c := range courses {
		args = append(args, c)
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	return query + " AND " + column + " IN (" + strings.Join(marks, ", ") + ")", args
}

// Collections lists collections newest first, limit (at most MaxPageSize)
// at a time after the cursor a previous page returned ("" to start), of the
// given courses only unless courses is nil. The returned cursor is "" on
// the last page.
func (s *Store) Collections(ctx context.Context, courses []string, after string, limit int) ([]grading.Collection, string, error) {
	query, args := inCourses(`SELECT id, name, start_at, due_at, stop_at, created_at, course_id FROM collection WHERE 1 = 1`,
		"course_id", nil, courses)
	items, next, err := page(ctx, s, query, "created_at", "id", args, after, limit,
		func(rows *sql.Rows) (grading.Collection, cursor, error) {
			var (
				c                      grading.Collection
				startAt, dueAt, stopAt sql.NullInt64
				createdAt              int64
			)
			if err := rows.Scan(&c.ID, &c.Name, &startAt, &dueAt, &stopAt, &createdAt, &c.Course); err != nil {
				return c, cursor{}, err
			}
			c.StartAt, c.DueAt, c.StopAt = fromNullMicros(startAt), fromNullMicros(dueAt), fromNullMicros(stopAt)
			c.CreatedAt = fromMicros(createdAt)
			return c, cursor{at: createdAt, id: c.ID}, nil
		})
	if err != nil {
		return nil, "", fmt.Errorf("list collections: %w", err)
	}
	return items, next, nil
}

// ListedDelivery is one delivery of a collection's list, every version of
// every user. Latest marks the version a batch of the latest deliveries
// grades: each user's newest within the collection's stop_at cut-off.
// AfterStop marks versions submitted after it, which no batch grades.
type ListedDelivery struct {
	grading.Delivery
	Latest    bool `json:"latest"`
	AfterStop bool `json:"after_stop"`
}

// CollectionDeliveries lists every delivery of a collection, newest first,
// paginated as Collections. An unknown collection is a grading.ErrNotFound.
func (s *Store) CollectionDeliveries(ctx context.Context, collectionID, after string, limit int) ([]ListedDelivery, string, error) {
	if err := s.requireCollection(ctx, collectionID); err != nil {
		return nil, "", err
	}
	items, next, err := page(ctx, s,
		`SELECT `+deliveryColumns+`, c.stop_at IS NOT NULL AND d.submitted_at > c.stop_at,
		   NOT EXISTS (
		     SELECT 1 FROM delivery n WHERE n.collection_id = d.collection_id AND n.user_name = d.user_name
		     AND (c.stop_at IS NULL OR n.submitted_at <= c.stop_at)
		     AND (n.submitted_at > d.submitted_at OR (n.submitted_at = d.submitted_at AND n.id > d.id)))
		 FROM delivery d JOIN collection c ON c.id = d.collection_id WHERE d.collection_id = $1`,
		"d.submitted_at", "d.id", []any{collectionID}, after, limit,
		func(rows *sql.Rows) (ListedDelivery, cursor, error) {
			var (
				ld          ListedDelivery
				submittedAt int64
			)
			d := &ld.Delivery
			if err := rows.Scan(&d.ID, &d.CollectionID, &d.User, &submittedAt, &d.ObjectKey, &d.Size, &d.Checksum, &ld.AfterStop, &ld.Latest); err != nil {
				return ld, cursor{}, err
			}
			d.SubmittedAt = fromMicros(submittedAt)
			ld.Latest = ld.Latest && !ld.AfterStop
			return ld, cursor{at: submittedAt, id: d.ID}, nil
		})
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of collection %s: %w", collectionID, err)
	}
	return items, next, nil
}

// Batches lists batches newest first, of one collection when collectionID
// is set and of the given courses only unless courses is nil, paginated as
// Collections.
func (s *Store) Batches(ctx context.Context, collectionID string, courses []string, after string, limit int) ([]grading.Batch, string, error) {
	query := `SELECT id, workflow_id, run_id, collection_id, config_id, status, summary, created_at, updated_at, ` + batchDeliveries +
		` FROM batch WHERE 1 = 1`
	var args []any
	if collectionID != "" {
		query += ` AND collection_id = $1`
		args = append(args, collectionID)
	}
	query, args = inCourses(query, "(SELECT course_id FROM collection c WHERE c.id = batch.collection_id)", args, courses)
	items, next, err := page(ctx, s, query, "created_at", "id", args, after, limit,
		func(rows *sql.Rows) (grading.Batch, cursor, error) {
			var (
				b                    grading.Batch
				status               string
				summary              sql.NullString
				createdAt, updatedAt int64
			)
			if err := rows.Scan(&b.ID, &b.WorkflowID, &b.RunID, &b.CollectionID, &b.ConfigID, &status, &summary, &createdAt, &updatedAt, &b.Deliveries); err != nil {
				return b, cursor{}, err
			}
			b.Status = grading.BatchStatus(status)
			if summary.Valid {
				b.Summary = new(grading.Summary)
				if err := json.Unmarshal([]byte(summary.String), b.Summary); err != nil {
					return b, cursor{}, fmt.Errorf("decode summary of batch %s: %w", b.ID, err)
				}
			}
			b.CreatedAt, b.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
			return b, cursor{at: createdAt, id: b.ID}, nil
		})
	if err != nil {
		return nil, "", fmt.Errorf("list batches: %w", err)
	}
	return items, next, nil
}
