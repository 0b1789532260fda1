-- +goose Up
-- Payment terms, credit control and what payments settle. Money is INTEGER
-- millionths; days are TEXT midnight UTC of the vendor's day (store/time.go).

-- applied: how much of a document has been matched against others, as a
-- positive amount: of an invoice, what payments and credits covered (paid
-- when applied = total); of a payment or credit memo, what it has covered
-- (its unapplied rest is the buyer's prepaid funds or credit).
-- charge_on: the day from which an automatic charge may take prepaid funds
-- for an open invoice (its issue day, or later under a delayed payment
-- schedule). subscription_id: the subscription an invoice bills, so that a
-- hold can suspend only the services whose period is unpaid.
ALTER TABLE documents ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN charge_on TEXT;
ALTER TABLE documents ADD COLUMN subscription_id INTEGER REFERENCES subscriptions(id);
ALTER TABLE documents ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
CREATE INDEX documents_subscription ON documents (subscription_id) WHERE subscription_id IS NOT NULL;
-- Unapplied credits (payments, credit memos) of a buyer, for charges.
CREATE INDEX documents_credit ON documents (account_id, vendor_id, id) WHERE type IN ('payment', 'credit_memo') AND applied < -total;

-- fraction: the part of a unit a reading has beyond its whole value, in
-- millionths (73.5 GB: value 73, fraction 500000).
ALTER TABLE usage_records ADD COLUMN fraction INTEGER NOT NULL DEFAULT 0;

-- The expiry stage looks at subscriptions that do not renew only.
CREATE INDEX subscriptions_expiry ON subscriptions (period_end) WHERE auto_renew = 'off';

-- The terms a vendor gives a buyer and the buyer's credit-control state.
-- terms is account.Terms JSON; no row means the default terms.
-- hold_manual: the hold was put by staff and a payment does not lift it.
-- released_until: a temporary release lasts until this day (exclusive).
-- payg_short_since: the first day the available balance no longer covered
-- pay-as-you-go usage (cleared when it does again).
CREATE TABLE credit_control (
    account_id       INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    terms            TEXT NOT NULL DEFAULT '{}',
    hold_manual      INTEGER NOT NULL DEFAULT 0,
    released_until   TEXT,
    release_reason   TEXT NOT NULL DEFAULT '',
    payg_short_since TEXT,
    updated_at       TEXT NOT NULL
);

-- Charges of sellers that invoice on a statement day: what an order or a
-- renewal would have invoiced at once waits here, in the order it came,
-- until the seller's statement day gathers a buyer's rows into one
-- consolidated invoice (and deletes them in the same transaction).
CREATE TABLE unbilled_charges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    vendor_id       INTEGER NOT NULL REFERENCES accounts(id),
    account_id      INTEGER NOT NULL REFERENCES accounts(id),
    currency        TEXT NOT NULL,
    subscription_id INTEGER REFERENCES subscriptions(id),
    order_id        INTEGER REFERENCES orders(id),
    day             TEXT NOT NULL,
    lines           TEXT NOT NULL,
    total           INTEGER NOT NULL,
    reverse_charge  INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX unbilled_charges_buyer ON unbilled_charges (vendor_id, account_id, id);
CREATE INDEX unbilled_charges_account ON unbilled_charges (account_id, id);

-- The daily runs of the periodic billing task: one row per day, vendor
-- time zone and shard (shard k of shards), finished once the run of that
-- part of the day completed. The task runs each part until it finishes.
CREATE TABLE billing_days (
    day         TEXT NOT NULL,
    zone        TEXT NOT NULL,
    shard       INTEGER NOT NULL,
    shards      INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (day, zone, shard, shards)
);

-- +goose Down
DROP TABLE billing_days;
DROP TABLE unbilled_charges;
DROP TABLE credit_control;
DROP INDEX subscriptions_expiry;
ALTER TABLE usage_records DROP COLUMN fraction;
DROP INDEX documents_credit;
DROP INDEX documents_subscription;
ALTER TABLE documents DROP COLUMN purpose;
ALTER TABLE documents DROP COLUMN subscription_id;
ALTER TABLE documents DROP COLUMN charge_on;
ALTER TABLE documents DROP COLUMN applied;
