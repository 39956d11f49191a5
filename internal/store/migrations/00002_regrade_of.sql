-- A regrade batch names the batch whose failed deliveries it grades again,
-- so the original batch's results view can follow its deliveries there.

-- +goose Up
ALTER TABLE batch ADD COLUMN regrade_of TEXT;

-- +goose Down
ALTER TABLE batch DROP COLUMN regrade_of;
