-- +goose Up
-- A seller's settings (proration, downgrade timing, tax rates) and an
-- account's VAT id, for pricing orders.
ALTER TABLE accounts ADD COLUMN vat_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN selling JSONB NOT NULL DEFAULT '{}'::jsonb;

-- +goose Down
ALTER TABLE accounts DROP COLUMN selling;
ALTER TABLE accounts DROP COLUMN vat_id;
