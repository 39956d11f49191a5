package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// CreateCollection stores c and returns it with its ID (assigned when empty)
// and CreatedAt set. A duplicate ID is a grading.ErrConflict.
func (s *Store) CreateCollection(ctx context.Context, c grading.Collection) (grading.Collection, error) {
	id, err := ensureID(c.ID)
	if err != nil {
		return grading.Collection{}, fmt.Errorf("create collection: %w", err)
	}
	c.ID = id
	c.CreatedAt = now()
	c.StartAt, c.DueAt, c.StopAt = normTimePtr(c.StartAt), normTimePtr(c.DueAt), normTimePtr(c.StopAt)
	if c.Course == "" {
		c.Course = grading.DefaultCourseID
	}
	if err := s.requireCourses(ctx, c.Course); err != nil {
		return grading.Collection{}, fmt.Errorf("create collection: %w", err)
	}
	err = s.writeAudited(ctx, c.ID, c.Course, func(db execer) error {
		_, err := db.ExecContext(ctx,
			`INSERT INTO collection (id, name, start_at, due_at, stop_at, created_at, course_id)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			c.ID, c.Name, nullMicros(c.StartAt), nullMicros(c.DueAt), nullMicros(c.StopAt), micros(c.CreatedAt), c.Course)
		return err
	})
	if violated(err) == constraintUnique {
		return grading.Collection{}, fmt.Errorf("create collection %s: %w", c.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.Collection{}, fmt.Errorf("create collection: %w", err)
	}
	return c, nil
}

// Collection returns the collection with the given id.
func (s *Store) Collection(ctx context.Context, id string) (grading.Collection, error) {
	var (
		c                      grading.Collection
		startAt, dueAt, stopAt sql.NullInt64
		createdAt              int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, start_at, due_at, stop_at, created_at, course_id FROM collection WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &startAt, &dueAt, &stopAt, &createdAt, &c.Course)
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Collection{}, fmt.Errorf("collection %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Collection{}, fmt.Errorf("get collection %s: %w", id, err)
	}
	c.StartAt, c.DueAt, c.StopAt = fromNullMicros(startAt), fromNullMicros(dueAt), fromNullMicros(stopAt)
	c.CreatedAt = fromMicros(createdAt)
	return c, nil
}

// CreateDelivery stores d and returns it with its ID (assigned when empty)
// and SubmittedAt (now when zero) set. An unknown collection is a
// grading.ErrNotFound; a duplicate ID is a grading.ErrConflict.
func (s *Store) CreateDelivery(ctx context.Context, d grading.Delivery) (grading.Delivery, error) {
	return s.CreateDeliveryAnnounced(ctx, d, nil)
}

// CreateDeliveryAnnounced is CreateDelivery that also writes the event
// announce builds from the stored delivery to the outbox, in the same
// transaction. A nil announce writes no event.
func (s *Store) CreateDeliveryAnnounced(ctx context.Context, d grading.Delivery, announce Announce[grading.Delivery]) (grading.Delivery, error) {
	id, err := ensureID(d.ID)
	if err != nil {
		return grading.Delivery{}, fmt.Errorf("create delivery: %w", err)
	}
	d.ID = id
	if d.SubmittedAt.IsZero() {
		d.SubmittedAt = now()
	}
	d.SubmittedAt = normTime(d.SubmittedAt)
	var rowErr error
	err = s.writeAudited(ctx, d.ID, "", func(tx execer) error {
		_, rowErr = tx.ExecContext(ctx,
			`INSERT INTO delivery (id, collection_id, user_name, submitted_at, object_key, size, checksum)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			d.ID, d.CollectionID, d.User, micros(d.SubmittedAt), d.ObjectKey, d.Size, d.Checksum)
		if rowErr != nil || announce == nil {
			return rowErr
		}
		ev, err := announce(d)
		if err != nil {
			return fmt.Errorf("announce: %w", err)
		}
		return addEvent(ctx, tx, ev)
	})
	switch violated(rowErr) {
	case constraintForeignKey:
		return grading.Delivery{}, fmt.Errorf("create delivery: collection %s: %w", d.CollectionID, grading.ErrNotFound)
	case constraintUnique:
		return grading.Delivery{}, fmt.Errorf("create delivery %s: %w", d.ID, grading.ErrConflict)
	}
	if err != nil {
		return grading.Delivery{}, fmt.Errorf("create delivery: %w", err)
	}
	if announce != nil {
		s.announced()
	}
	return d, nil
}

// deliveryColumns are the columns scanDelivery reads, for a delivery aliased d.
const deliveryColumns = `d.id, d.collection_id, d.user_name, d.submitted_at, d.object_key, d.size, d.checksum`

// scanDelivery reads one row of deliveryColumns.
func scanDelivery(row interface{ Scan(...any) error }) (grading.Delivery, error) {
	var (
		d           grading.Delivery
		submittedAt int64
	)
	if err := row.Scan(&d.ID, &d.CollectionID, &d.User, &submittedAt, &d.ObjectKey, &d.Size, &d.Checksum); err != nil {
		return grading.Delivery{}, err
	}
	d.SubmittedAt = fromMicros(submittedAt)
	return d, nil
}

// Delivery returns the delivery with the given id.
func (s *Store) Delivery(ctx context.Context, id string) (grading.Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx,
		`SELECT `+deliveryColumns+` FROM delivery d WHERE d.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Delivery{}, fmt.Errorf("delivery %s: %w", id, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Delivery{}, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return d, nil
}

// latestDeliveries selects, per user, the delivery no other delivery of the
// same user beats: within the collection's stop_at cut-off, a later
// submitted_at wins and equal times go to the higher id. NOT EXISTS rather
// than a window function lets the engine walk delivery_latest_idx in user
// order and stop after LIMIT rows, so each page costs the page, not the
// whole collection.
const latestDeliveries = `
SELECT ` + deliveryColumns + `
FROM delivery d
JOIN collection c ON c.id = d.collection_id
WHERE d.collection_id = $1
  AND d.user_name > $2
  AND (c.stop_at IS NULL OR d.submitted_at <= c.stop_at)
  AND NOT EXISTS (
    SELECT 1 FROM delivery n
    WHERE n.collection_id = d.collection_id
      AND n.user_name = d.user_name
      AND (c.stop_at IS NULL OR n.submitted_at <= c.stop_at)
      AND (n.submitted_at > d.submitted_at OR (n.submitted_at = d.submitted_at AND n.id > d.id))
  )
ORDER BY d.user_name
LIMIT $3`

// LatestDeliveries returns the latest delivery of each user in the
// collection: the newest submitted at or before the collection's StopAt
// (when set), equal times going to the higher id. Rows are ordered by user
// and paged by user: only users after afterUser ("" for the first page), at
// most limit rows. An unknown collection is a grading.ErrNotFound.
func (s *Store) LatestDeliveries(ctx context.Context, collectionID, afterUser string, limit int) ([]grading.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list latest deliveries: limit %d is not positive", limit)
	}
	out, err := s.deliveries(ctx, latestDeliveries, collectionID, afterUser, limit)
	if err != nil {
		return nil, fmt.Errorf("list latest deliveries: %w", err)
	}
	// An empty page is either the end of a collection or no collection at
	// all; only the first needs the extra lookup.
	if len(out) == 0 {
		if err := s.requireCollection(ctx, collectionID); err != nil {
			return nil, fmt.Errorf("list latest deliveries: %w", err)
		}
	}
	return out, nil
}

// CountLatestDeliveries returns how many rows LatestDeliveries yields over
// all pages: the number of users with a delivery within the cut-off. An
// unknown collection is a grading.ErrNotFound.
func (s *Store) CountLatestDeliveries(ctx context.Context, collectionID string) (int, error) {
	n, err := s.countDeliveries(ctx, "COUNT(DISTINCT d.user_name)", collectionID)
	if err != nil {
		return 0, fmt.Errorf("count latest deliveries: %w", err)
	}
	return n, nil
}

// afterDeliveryCursor pages deliveries ordered by (user_name, id): $2 is
// the user of the last row handed out and $3 its id. An empty $3 skips the
// whole of user $2, which is what a cursor of users alone has always meant.
const afterDeliveryCursor = `
  AND (d.user_name > $2 OR (d.user_name = $2 AND $3 <> '' AND d.id > $3))`

// AllDeliveries returns every delivery of the collection submitted at or
// before its StopAt (when set), every version of every user, ordered by
// user and then id (ids are time-ordered, so a user's versions come oldest
// first). A page resumes after (afterUser, afterID): with afterID "" it
// starts after every delivery of afterUser ("" for the first page), so a
// cursor can stop in the middle of a user's versions. At most limit rows.
// An unknown collection is a grading.ErrNotFound.
func (s *Store) AllDeliveries(ctx context.Context, collectionID, afterUser, afterID string, limit int) ([]grading.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list all deliveries: limit %d is not positive", limit)
	}
	out, err := s.deliveries(ctx, `SELECT `+deliveryColumns+`
FROM delivery d
JOIN collection c ON c.id = d.collection_id
WHERE d.collection_id = $1
  AND (c.stop_at IS NULL OR d.submitted_at <= c.stop_at)`+afterDeliveryCursor+`
ORDER BY d.user_name, d.id
LIMIT $4`, collectionID, afterUser, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list all deliveries: %w", err)
	}
	if len(out) == 0 {
		if err := s.requireCollection(ctx, collectionID); err != nil {
			return nil, fmt.Errorf("list all deliveries: %w", err)
		}
	}
	return out, nil
}

// CountAllDeliveries returns how many rows AllDeliveries yields over all
// pages. An unknown collection is a grading.ErrNotFound.
func (s *Store) CountAllDeliveries(ctx context.Context, collectionID string) (int, error) {
	n, err := s.countDeliveries(ctx, "COUNT(*)", collectionID)
	if err != nil {
		return 0, fmt.Errorf("count all deliveries: %w", err)
	}
	return n, nil
}

// countDeliveries evaluates the aggregate count over the collection's
// deliveries within its stop_at cut-off. Zero rows of an unknown
// collection is a grading.ErrNotFound.
func (s *Store) countDeliveries(ctx context.Context, count, collectionID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx,
		`SELECT `+count+`
		 FROM delivery d
		 JOIN collection c ON c.id = d.collection_id
		 WHERE d.collection_id = $1
		   AND (c.stop_at IS NULL OR d.submitted_at <= c.stop_at)`, collectionID).Scan(&n)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		if err := s.requireCollection(ctx, collectionID); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// deliveries runs a query of deliveryColumns and reads every row.
func (s *Store) deliveries(ctx context.Context, query string, args ...any) ([]grading.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := []grading.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// requireCollection returns a grading.ErrNotFound error unless the
// collection exists.
func (s *Store) requireCollection(ctx context.Context, id string) error {
	ok, err := s.exists(ctx, "collection", id)
	if err != nil {
		return fmt.Errorf("look up collection %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("collection %s: %w", id, grading.ErrNotFound)
	}
	return nil
}

// ungradedOfBatch selects the deliveries of a batch without a graded result
// for its config: the latest delivery of each user of the batch's collection
// as of the batch's creation (what the batch set out to grade), or every
// delivery up to then for a batch of all deliveries, with no result row, or
// one that is not graded. A delivery whose every attempt failed on
// infrastructure has no row at all; it is covered all the same.
const ungradedOfBatch = `
FROM batch b
JOIN collection c ON c.id = b.collection_id
JOIN delivery d ON d.collection_id = b.collection_id
WHERE b.id = $1
  AND d.submitted_at <= b.created_at
  AND (c.stop_at IS NULL OR d.submitted_at <= c.stop_at)
  AND (b.deliveries = '` + grading.DeliveriesAll + `' OR NOT EXISTS (
    SELECT 1 FROM delivery n
    WHERE n.collection_id = d.collection_id
      AND n.user_name = d.user_name
      AND n.submitted_at <= b.created_at
      AND (c.stop_at IS NULL OR n.submitted_at <= c.stop_at)
      AND (n.submitted_at > d.submitted_at OR (n.submitted_at = d.submitted_at AND n.id > d.id))
  ))
  AND NOT EXISTS (
    SELECT 1 FROM grading_result r
    WHERE r.delivery_id = d.id AND r.config_id = b.config_id AND r.status = 'graded'
  )`

// FailedDeliveries returns the deliveries of the batch that have no graded
// result for its config (ungradedOfBatch), ordered by user and id and paged
// like AllDeliveries: after (afterUser, afterID), where an empty afterID
// skips all of afterUser. They are what "regrade failed" grades again. An
// unknown batch yields no rows.
func (s *Store) FailedDeliveries(ctx context.Context, batchID, afterUser, afterID string, limit int) ([]grading.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list failed deliveries: limit %d is not positive", limit)
	}
	out, err := s.deliveries(ctx, `SELECT `+deliveryColumns+ungradedOfBatch+afterDeliveryCursor+`
ORDER BY d.user_name, d.id
LIMIT $4`, batchID, afterUser, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list failed deliveries: %w", err)
	}
	return out, nil
}

// CountFailedDeliveries counts what FailedDeliveries yields over all pages.
func (s *Store) CountFailedDeliveries(ctx context.Context, batchID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+ungradedOfBatch, batchID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count failed deliveries: %w", err)
	}
	return n, nil
}
