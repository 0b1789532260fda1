-- +goose Up
-- A payment charged through a card gateway keeps the gateway's own id of
-- the charge (Stripe's PaymentIntent "pi_…"): one payment per charge,
-- whichever process records it and however often a retry asks, so the
-- ledger itself refuses a second. NULL for money received otherwise
-- (bank transfers, cash), of which there may be any number.
ALTER TABLE documents ADD COLUMN gateway_ref TEXT;
CREATE UNIQUE INDEX documents_gateway_ref ON documents (gateway_ref) WHERE gateway_ref IS NOT NULL;

-- +goose Down
DROP INDEX documents_gateway_ref;
ALTER TABLE documents DROP COLUMN gateway_ref;
