-- An outbox event NATS can never store (larger than the server's
-- max_payload, say) is set aside rather than retried forever in front of
-- every later event: abandoned_at says when, last_error why. Setting it back
-- to NULL makes the relay try the event again.

-- +goose Up
ALTER TABLE event_outbox ADD COLUMN abandoned_at BIGINT;

-- +goose Down
ALTER TABLE event_outbox DROP COLUMN abandoned_at;
