package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// upsertResult writes one result per (delivery, config). A new grading
// overwrites the row in place and bumps attempt, so activities can be retried
// freely; a single statement keeps that atomic without a transaction. A save
// with the stored graded_at is the same grading written again (a retry after
// a commit whose answer was lost): it keeps its attempt, so the event that
// announces it keeps its id and is sent once.
const upsertResult = `
INSERT INTO grading_result
  (delivery_id, config_id, batch_id, status, score, max_score, components, steps, diagnostic, object_key, attempt, graded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)
ON CONFLICT (delivery_id, config_id) DO UPDATE SET
  batch_id   = excluded.batch_id,
  status     = excluded.status,
  score      = excluded.score,
  max_score  = excluded.max_score,
  components = excluded.components,
  steps      = excluded.steps,
  diagnostic = excluded.diagnostic,
  object_key = excluded.object_key,
  attempt    = CASE WHEN grading_result.graded_at = excluded.graded_at
                    THEN grading_result.attempt ELSE grading_result.attempt + 1 END,
  graded_at  = excluded.graded_at
RETURNING attempt`

// resultArgs validates r and returns it normalised (GradedAt now when zero)
// with the arguments of upsertResult.
func resultArgs(r grading.Result) (grading.Result, []any, error) {
	if r.DeliveryID == "" || r.ConfigID == "" {
		return r, nil, errors.New("result needs a delivery id and a config id")
	}
	switch r.Status {
	case grading.StatusGraded, grading.StatusUngraded, grading.StatusError:
	default:
		return r, nil, fmt.Errorf("unknown result status %q", r.Status)
	}
	if r.GradedAt.IsZero() {
		r.GradedAt = now()
	}
	r.GradedAt = normTime(r.GradedAt)
	r.Diagnostic = storableText(r.Diagnostic)
	components, err := json.Marshal(r.Components)
	if err != nil {
		return r, nil, fmt.Errorf("encode components: %w", err)
	}
	steps, err := json.Marshal(r.Steps)
	if err != nil {
		return r, nil, fmt.Errorf("encode steps: %w", err)
	}
	return r, []any{
		r.DeliveryID, r.ConfigID, nullString(r.BatchID), string(r.Status), r.Score, r.MaxScore,
		string(components), string(steps), r.Diagnostic, r.ObjectKey, micros(r.GradedAt),
	}, nil
}

// storableText makes s storable in a PostgreSQL text column, which refuses
// NUL and invalid UTF-8: a diagnostic may quote a checker's stderr, which
// may quote a student's output. JSON columns need nothing: encoding/json
// escapes NUL and replaces invalid UTF-8.
func storableText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// resultRefs names the rows a result points to.
func resultRefs(r grading.Result) []ref {
	return []ref{
		{table: "delivery", what: "delivery", id: r.DeliveryID},
		{table: "grading_config", what: "config", id: r.ConfigID},
		{table: "batch", what: "batch", id: r.BatchID},
	}
}

// SaveResult stores r as the one result of its (DeliveryID, ConfigID): the
// first save gets Attempt 1, each later save overwrites the row and gets the
// previous Attempt + 1, unless it has the stored GradedAt (the same grading
// saved again), which keeps the stored Attempt. It returns r with Attempt and
// GradedAt (now when zero) set; User is not looked up. An unknown delivery, config or batch
// (BatchID may be empty) is a grading.ErrNotFound.
func (s *Store) SaveResult(ctx context.Context, r grading.Result) (grading.Result, error) {
	return s.SaveResultAnnounced(ctx, r, nil)
}

// SaveResultAnnounced is SaveResult that also writes the event announce
// builds from the saved result to the outbox, in the same transaction: the
// row and its event are stored together or not at all. A nil announce
// writes no event.
func (s *Store) SaveResultAnnounced(ctx context.Context, r grading.Result, announce Announce[grading.Result]) (grading.Result, error) {
	r, args, err := resultArgs(r)
	if err != nil {
		return grading.Result{}, fmt.Errorf("save result: %w", err)
	}
	var rowErr error
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if rowErr = tx.QueryRowContext(ctx, upsertResult, args...).Scan(&r.Attempt); rowErr != nil {
			return rowErr
		}
		if err := addMember(ctx, tx, r); err != nil {
			return err
		}
		if announce == nil {
			return nil
		}
		ev, err := announce(r)
		if err != nil {
			return fmt.Errorf("announce: %w", err)
		}
		return addEvent(ctx, tx, ev)
	})
	if violated(rowErr) == constraintForeignKey {
		return grading.Result{}, fmt.Errorf("save result: %w", s.missing(ctx, resultRefs(r)...))
	}
	if err != nil {
		return grading.Result{}, fmt.Errorf("save result: %w", err)
	}
	if announce != nil {
		s.announced()
	}
	return r, nil
}

// SaveResults stores many results in one transaction, each as SaveResult
// would; either all are saved or none. The caller's slice is not modified.
func (s *Store) SaveResults(ctx context.Context, results []grading.Result) error {
	if len(results) == 0 {
		return nil
	}
	args := make([][]any, len(results))
	for i := range results {
		var err error
		if _, args[i], err = resultArgs(results[i]); err != nil {
			return fmt.Errorf("save results: row %d: %w", i, err)
		}
	}
	failed, err := s.saveResults(ctx, results, args)
	if violated(err) == constraintForeignKey {
		return fmt.Errorf("save results: row %d: %w", failed, s.missing(ctx, resultRefs(results[failed])...))
	}
	if err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	return nil
}

// saveResults runs upsertResult for each argument list (of the result of
// the same index) in one transaction and, on failure, returns the index of
// the row that failed.
func (s *Store) saveResults(ctx context.Context, results []grading.Result, args [][]any) (failed int, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// One prepared statement: modernc would otherwise compile the upsert
	// again for every row.
	stmt, err := tx.PrepareContext(ctx, upsertResult)
	if err != nil {
		return 0, fmt.Errorf("prepare: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	var attempt int
	for i, a := range args {
		if err := stmt.QueryRowContext(ctx, a...).Scan(&attempt); err != nil {
			return i, err
		}
		if err := addMember(ctx, tx, results[i]); err != nil {
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return 0, nil
}

// addMember records that r's batch graded r's delivery: the batch's results
// view lists that delivery's newest result even after another batch saved
// it again.
func addMember(ctx context.Context, tx execer, r grading.Result) error {
	if r.BatchID == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO batch_member (batch_id, delivery_id) VALUES ($1, $2) ON CONFLICT (batch_id, delivery_id) DO NOTHING`,
		r.BatchID, r.DeliveryID)
	return err
}

// resultQuery selects results with the user of their delivery.
const resultQuery = `
SELECT r.delivery_id, r.config_id, r.batch_id, d.user_name, r.status, r.score, r.max_score,
       r.components, r.steps, r.diagnostic, r.object_key, r.attempt, r.graded_at
FROM grading_result r
JOIN delivery d ON d.id = r.delivery_id`

// scanResult reads one row of resultQuery.
func scanResult(row interface{ Scan(...any) error }) (grading.Result, error) {
	var (
		r                 grading.Result
		batchID           sql.NullString
		status            string
		components, steps string
		gradedAt          int64
	)
	err := row.Scan(&r.DeliveryID, &r.ConfigID, &batchID, &r.User, &status, &r.Score, &r.MaxScore,
		&components, &steps, &r.Diagnostic, &r.ObjectKey, &r.Attempt, &gradedAt)
	if err != nil {
		return grading.Result{}, err
	}
	r.BatchID = batchID.String
	r.Status = grading.ResultStatus(status)
	r.GradedAt = fromMicros(gradedAt)
	if err := json.Unmarshal([]byte(components), &r.Components); err != nil {
		return grading.Result{}, fmt.Errorf("decode components: %w", err)
	}
	if err := json.Unmarshal([]byte(steps), &r.Steps); err != nil {
		return grading.Result{}, fmt.Errorf("decode steps: %w", err)
	}
	return r, nil
}

// Result returns the result of the delivery under the config, with User
// filled from the delivery.
func (s *Store) Result(ctx context.Context, deliveryID, configID string) (grading.Result, error) {
	r, err := scanResult(s.db.QueryRowContext(ctx,
		resultQuery+` WHERE r.delivery_id = $1 AND r.config_id = $2`, deliveryID, configID))
	if errors.Is(err, sql.ErrNoRows) {
		return grading.Result{}, fmt.Errorf("result of delivery %s under config %s: %w", deliveryID, configID, grading.ErrNotFound)
	}
	if err != nil {
		return grading.Result{}, fmt.Errorf("get result of delivery %s under config %s: %w", deliveryID, configID, err)
	}
	return r, nil
}

// BatchResults returns the newest result of each delivery the batch (or a
// regrade of it, RegradeOf at any depth) graded, ordered by user (then
// delivery id), with User filled: a result saved again by a regrade or by a
// later batch of the same config is listed with that batch's BatchID. An
// unknown batch is a grading.ErrNotFound.
func (s *Store) BatchResults(ctx context.Context, batchID string) ([]grading.Result, error) {
	rows, err := s.db.QueryContext(ctx,
		`WITH RECURSIVE chain (id) AS (
		   SELECT CAST($1 AS TEXT) UNION SELECT b.id FROM batch b JOIN chain c ON b.regrade_of = c.id)
		`+resultQuery+`
		 WHERE r.config_id = (SELECT config_id FROM batch WHERE id = $1)
		   AND r.delivery_id IN (SELECT m.delivery_id FROM batch_member m WHERE m.batch_id IN (SELECT id FROM chain))
		 ORDER BY d.user_name, r.delivery_id`, batchID)
	if err != nil {
		return nil, fmt.Errorf("list results of batch %s: %w", batchID, err)
	}
	defer func() { _ = rows.Close() }()
	out := []grading.Result{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("list results of batch %s: %w", batchID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list results of batch %s: %w", batchID, err)
	}
	if len(out) == 0 {
		ok, err := s.exists(ctx, "batch", batchID)
		if err != nil {
			return nil, fmt.Errorf("look up batch %s: %w", batchID, err)
		}
		if !ok {
			return nil, fmt.Errorf("list results: batch %s: %w", batchID, grading.ErrNotFound)
		}
	}
	return out, nil
}
