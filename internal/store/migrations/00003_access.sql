-- Courses, API keys and the audit log. Collections and grading configs
-- belong to a course; the rows made before courses existed go to the
-- "default" course. course_id carries no REFERENCES clause because SQLite
-- cannot add a referencing column with a non-NULL default; the store checks
-- the course exists when it writes one.

-- +goose Up
CREATE TABLE IF NOT EXISTS course (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO course (id, name, created_at) VALUES ('default', 'Default course', 0)
ON CONFLICT (id) DO NOTHING;

ALTER TABLE collection ADD COLUMN course_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX IF NOT EXISTS collection_course_idx ON collection (course_id);

ALTER TABLE grading_config ADD COLUMN course_id TEXT NOT NULL DEFAULT 'default';

-- Only the SHA-256 of a key is kept; courses is a JSON array of course ids.
CREATE TABLE IF NOT EXISTS api_key (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    courses    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Append-only: the store has no statement that updates or deletes a row.
-- id is a UUIDv7, so (at, id) orders entries as they were written.
CREATE TABLE IF NOT EXISTS audit_log (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    course_id  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_log_target_idx ON audit_log (target, at);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at);

-- +goose Down
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS api_key;
DROP INDEX IF EXISTS collection_course_idx;
ALTER TABLE grading_config DROP COLUMN course_id;
ALTER TABLE collection DROP COLUMN course_id;
DROP TABLE IF EXISTS course;
