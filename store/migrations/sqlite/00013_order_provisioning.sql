-- +goose Up
-- The progress of an order's provisioning while its connector fails, shown
-- on the order (its customer and staff see why it waits and until when):
-- the failed attempts of the current series (since the order was placed or
-- last retried by staff), the last one's cause in words, when the series
-- began (its deadline counts from there), when the last attempt ran and
-- when the next one will.
ALTER TABLE orders ADD COLUMN provision_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN provision_error TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN provision_since TEXT;
ALTER TABLE orders ADD COLUMN provision_last_at TEXT;
ALTER TABLE orders ADD COLUMN provision_next_at TEXT;

-- +goose Down
ALTER TABLE orders DROP COLUMN provision_next_at;
ALTER TABLE orders DROP COLUMN provision_last_at;
ALTER TABLE orders DROP COLUMN provision_since;
ALTER TABLE orders DROP COLUMN provision_error;
ALTER TABLE orders DROP COLUMN provision_attempts;
