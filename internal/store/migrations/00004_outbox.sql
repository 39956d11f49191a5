-- Transactional outbox: an event is written in the same transaction as the
-- row it announces and published to NATS later by a relay, which marks it
-- sent. seq is a UUIDv7 chosen at insert, so text order is write order;
-- order_key groups the events whose order matters (a batch's).

-- +goose Up
CREATE TABLE IF NOT EXISTS event_outbox (
    id         TEXT PRIMARY KEY,
    seq        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    order_key  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    header     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at    BIGINT
);

-- Serves the relay's scan of pending events in write order.
CREATE INDEX IF NOT EXISTS event_outbox_pending_idx ON event_outbox (sent_at, seq);

-- +goose Down
DROP TABLE IF EXISTS event_outbox;
