-- Environments: named OCI images that grading configs run their commands
-- in. The uploaded image layout lives in object storage under object_key;
-- digest is the SHA-256 of those bytes. A name never changes content, and
-- environments are global: any course's config may name one.

-- +goose Up
CREATE TABLE IF NOT EXISTS environment (
    name            TEXT PRIMARY KEY,
    digest          TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    size            BIGINT NOT NULL,
    object_key      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS environment_created_idx ON environment (created_at, name);

-- +goose Down
DROP INDEX IF EXISTS environment_created_idx;
DROP TABLE IF EXISTS environment;
