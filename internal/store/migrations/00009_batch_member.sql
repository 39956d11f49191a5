-- The deliveries each batch graded. A result row belongs to the batch that
-- saved it last, so a later batch of the same collection and config took an
-- earlier batch's rows away and left its results view empty; the earlier
-- batch now lists the newest result of each delivery it graded, pointing at
-- the batch that saved it.

-- +goose Up
CREATE TABLE IF NOT EXISTS batch_member (
    batch_id    TEXT NOT NULL REFERENCES batch (id),
    delivery_id TEXT NOT NULL REFERENCES delivery (id),
    PRIMARY KEY (batch_id, delivery_id)
);
INSERT INTO batch_member (batch_id, delivery_id)
SELECT batch_id, delivery_id FROM grading_result WHERE batch_id IS NOT NULL;

-- +goose Down
DROP TABLE IF EXISTS batch_member;
