package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is one message of the transactional outbox: written in the same
// transaction as the row it announces, published later by a relay.
type Event struct {
	// ID is unique per event and becomes its Nats-Msg-Id.
	ID string
	// Subject is relative to the bus's subject prefix.
	Subject string
	// OrderKey groups the events that must be published in write order (a
	// batch's); empty means no grouping beyond the global write order.
	OrderKey string
	// Payload is the JSON body.
	Payload []byte
	// Header carries the writer's trace context.
	Header map[string]string
	// CreatedAt and Attempts are set when read back.
	CreatedAt time.Time
	Attempts  int
}

// Announce builds the event that announces a row once the row is known as
// stored (with its generated id, attempt or time).
type Announce[T any] func(T) (Event, error)

const insertEvent = `
INSERT INTO event_outbox (id, seq, subject, order_key, payload, header, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING`

// addEvent writes ev to the outbox inside tx. An event id already there is
// left as it is: the same announcement written twice is sent once.
func addEvent(ctx context.Context, tx execer, ev Event) error {
	if ev.ID == "" || ev.Subject == "" {
		return errors.New("add event: id and subject are required")
	}
	seq, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("add event %s: %w", ev.ID, err)
	}
	header, err := json.Marshal(ev.Header)
	if err != nil {
		return fmt.Errorf("add event %s: encode header: %w", ev.ID, err)
	}
	if _, err := tx.ExecContext(ctx, insertEvent,
		ev.ID, seq.String(), ev.Subject, ev.OrderKey, string(ev.Payload), string(header), micros(now())); err != nil {
		return fmt.Errorf("add event %s: %w", ev.ID, err)
	}
	return nil
}

// inTx runs fn in a transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// PendingEvents returns up to limit events not yet marked sent nor
// abandoned, in write order.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `
SELECT id, subject, order_key, payload, header, created_at, attempts
FROM event_outbox WHERE sent_at IS NULL AND abandoned_at IS NULL ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Event
	for rows.Next() {
		var (
			ev              Event
			payload, header string
			createdAt       int64
		)
		if err := rows.Scan(&ev.ID, &ev.Subject, &ev.OrderKey, &payload, &header, &createdAt, &ev.Attempts); err != nil {
			return nil, fmt.Errorf("list pending events: %w", err)
		}
		ev.Payload, ev.CreatedAt = []byte(payload), fromMicros(createdAt)
		if err := json.Unmarshal([]byte(header), &ev.Header); err != nil {
			return nil, fmt.Errorf("list pending events: decode header of %s: %w", ev.ID, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	return out, nil
}

// MarkEventsSent records that the events were stored by the stream. Marking
// an event twice is harmless.
func (s *Store) MarkEventsSent(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, micros(now()))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE event_outbox SET sent_at = $1 WHERE sent_at IS NULL AND id IN (`+
		strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("mark %d events sent: %w", len(ids), err)
	}
	return nil
}

// RecordEventFailure counts a failed publish of the event and keeps why.
func (s *Store) RecordEventFailure(ctx context.Context, id string, cause error) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, cause.Error())
	if err != nil {
		return fmt.Errorf("record failure of event %s: %w", id, err)
	}
	return nil
}

// AbandonEvent sets aside an event that can never be published, keeping
// why: PendingEvents no longer returns it, so it stops holding up the events
// written after it. The row stays for an operator to look at.
func (s *Store) AbandonEvent(ctx context.Context, id string, cause error) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE event_outbox SET abandoned_at = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1`,
		id, micros(now()), cause.Error())
	if err != nil {
		return fmt.Errorf("abandon event %s: %w", id, err)
	}
	return nil
}
