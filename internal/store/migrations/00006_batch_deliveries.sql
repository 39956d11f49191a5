-- Which deliveries of its collection a batch grades: 'latest' (the newest
-- of each user) or 'all' (every version of every user). NULL, for batches
-- made before the column, means 'latest'.

-- +goose Up
ALTER TABLE batch ADD COLUMN deliveries TEXT;

-- +goose Down
ALTER TABLE batch DROP COLUMN deliveries;
