-- The progress of a running batch, written by the batch's workflow as it
-- grades (a core activity) and read by GET /v1/batches/{id}, so reading
-- progress never has to reach the workflow. progress is JSON as TEXT.

-- +goose Up
CREATE TABLE IF NOT EXISTS batch_progress (
    batch_id   TEXT PRIMARY KEY REFERENCES batch (id),
    progress   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS batch_progress;
