-- +goose Up
-- Webhook endpoints change (PATCH, with a version for If-Match) and rotate
-- their secret: the previous secret keeps signing deliveries, beside the
-- new one, until previous_expires_at, so that receivers can switch without
-- missing a delivery. previous_secret is '' when there is none.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_expires_at TIMESTAMPTZ;
ALTER TABLE webhook_endpoints ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE webhook_endpoints ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE webhook_endpoints SET updated_at = created_at;

-- +goose Down
ALTER TABLE webhook_endpoints DROP COLUMN updated_at;
ALTER TABLE webhook_endpoints DROP COLUMN version;
ALTER TABLE webhook_endpoints DROP COLUMN previous_expires_at;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret;
