-- ZINC schema, portable to SQLite and PostgreSQL: TEXT ids chosen by the
-- application (UUIDv7), BIGINT unix microseconds for timestamps, DOUBLE
-- PRECISION scores, JSON kept as TEXT, no booleans. IF NOT EXISTS keeps a
-- re-run harmless where no migration lock exists (two processes sharing one
-- SQLite file).

-- +goose Up
CREATE TABLE IF NOT EXISTS collection (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    start_at   BIGINT,
    due_at     BIGINT,
    stop_at    BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS delivery (
    id            TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collection (id),
    user_name     TEXT NOT NULL,
    submitted_at  BIGINT NOT NULL,
    object_key    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    checksum      TEXT NOT NULL
);

-- Serves the latest-delivery-per-user query: equality on collection, range
-- and order on user, then the newest (submitted_at, id) within a user.
CREATE INDEX IF NOT EXISTS delivery_latest_idx
    ON delivery (collection_id, user_name, submitted_at, id);

CREATE TABLE IF NOT EXISTS grading_config (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    parsed     TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS batch (
    id            TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collection (id),
    config_id     TEXT NOT NULL REFERENCES grading_config (id),
    status        TEXT NOT NULL,
    summary       TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS grading_result (
    delivery_id TEXT NOT NULL REFERENCES delivery (id),
    config_id   TEXT NOT NULL REFERENCES grading_config (id),
    batch_id    TEXT REFERENCES batch (id),
    status      TEXT NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    max_score   DOUBLE PRECISION NOT NULL,
    components  TEXT NOT NULL,
    steps       TEXT NOT NULL,
    diagnostic  TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    graded_at   BIGINT NOT NULL,
    CONSTRAINT grading_result_delivery_config_key UNIQUE (delivery_id, config_id)
);

CREATE INDEX IF NOT EXISTS grading_result_batch_idx ON grading_result (batch_id);

-- +goose Down
DROP TABLE IF EXISTS grading_result;
DROP TABLE IF EXISTS batch;
DROP TABLE IF EXISTS grading_config;
DROP TABLE IF EXISTS delivery;
DROP TABLE IF EXISTS collection;
