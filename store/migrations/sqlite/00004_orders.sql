-- +goose Up
-- Orders, subscriptions and usage. Money is INTEGER millionths of a unit;
-- timestamps are TEXT in the fixed-width UTC form of store/time.go; the
-- calendar days of subscriptions (start, periods) are midnight UTC of the
-- vendor's day. JSON columns hold the domain types' JSON.

-- Order numbers are gapless per vendor: the next number is taken inside the
-- transaction that places the order (the row stays locked until it
-- commits), so a refused or rolled-back order uses no number.
CREATE TABLE order_counters (
    vendor_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    next      INTEGER NOT NULL
);

-- Subscriptions: what a customer bought from its vendor. resources holds
-- the limits by rate key; pending_change a change waiting for a later day
-- (a deferred downgrade); connector, tenant_id and tenant_status where its
-- service lives.
CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id     INTEGER NOT NULL REFERENCES accounts(id),
    vendor_id       INTEGER NOT NULL REFERENCES accounts(id),
    plan_id         INTEGER NOT NULL REFERENCES plans(id),
    period_key      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'graced', 'terminated')),
    status_reason   TEXT NOT NULL DEFAULT '',
    start_at        TEXT NOT NULL,
    anchor_at       TEXT NOT NULL,
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    next_billing_at TEXT,
    auto_renew      TEXT NOT NULL DEFAULT 'before_expiration' CHECK (auto_renew IN ('off', 'before_expiration')),
    renew_days      INTEGER NOT NULL DEFAULT 0,
    frozen_prices   INTEGER NOT NULL DEFAULT 0,
    resources       TEXT NOT NULL DEFAULT '{}',
    parameters      TEXT NOT NULL DEFAULT '{}',
    pending_change  TEXT,
    connector       TEXT NOT NULL DEFAULT '',
    tenant_id       TEXT NOT NULL DEFAULT '',
    tenant_status   TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id, id);
CREATE INDEX subscriptions_vendor ON subscriptions (vendor_id, id);
CREATE INDEX subscriptions_vendor_status ON subscriptions (vendor_id, status, id);
CREATE INDEX subscriptions_billing ON subscriptions (status, next_billing_at);
CREATE INDEX subscriptions_plan ON subscriptions (plan_id);
-- The usage collector walks the running subscriptions of one connector.
CREATE INDEX subscriptions_connector ON subscriptions (connector, id) WHERE status IN ('active', 'graced');

-- Orders: numbered per vendor. request is what was asked and what the order
-- does to its subscription; quote the priced lines, total and currency.
-- created_by_user_id has no foreign key, like the audit log's actor: an
-- order keeps who placed it after the user is gone.
CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    vendor_id          INTEGER NOT NULL REFERENCES accounts(id),
    customer_id        INTEGER NOT NULL REFERENCES accounts(id),
    number             INTEGER NOT NULL,
    type               TEXT NOT NULL CHECK (type IN ('SO', 'CH', 'RN', 'CL')),
    status             TEXT NOT NULL CHECK (status IN ('placed', 'waiting_approval', 'waiting_payment', 'provisioning',
                                                      'completed', 'provisioning_failed', 'cancelled')),
    reason             TEXT NOT NULL DEFAULT '',
    message            TEXT NOT NULL DEFAULT '',
    subscription_id    INTEGER REFERENCES subscriptions(id),
    plan_id            INTEGER REFERENCES plans(id),
    period_key         TEXT NOT NULL DEFAULT '',
    request            TEXT NOT NULL,
    quote              TEXT NOT NULL,
    total              INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    created_by_user_id INTEGER,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    finished_at        TEXT,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX orders_number ON orders (vendor_id, number);
CREATE INDEX orders_customer ON orders (customer_id, id);
CREATE INDEX orders_vendor ON orders (vendor_id, id);
CREATE INDEX orders_subscription ON orders (subscription_id, id);
CREATE INDEX orders_plan ON orders (plan_id);
-- Orders that are not finished, for the orchestrator and staff queues.
CREATE INDEX orders_open ON orders (status, updated_at) WHERE status NOT IN ('completed', 'cancelled');

-- Every tier's side of an order: tier 1 is the vendor's parent selling to
-- the vendor at the parent's price, tier 2 the next one up selling to the
-- tier-1 seller, and so on up to the provider.
CREATE TABLE order_tiers (
    order_id  INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    tier      INTEGER NOT NULL,
    seller_id INTEGER NOT NULL REFERENCES accounts(id),
    buyer_id  INTEGER NOT NULL REFERENCES accounts(id),
    plan_id   INTEGER NOT NULL REFERENCES plans(id),
    quote     TEXT NOT NULL,
    total     INTEGER NOT NULL,
    PRIMARY KEY (order_id, tier)
);
CREATE INDEX order_tiers_seller ON order_tiers (seller_id, order_id);
CREATE INDEX order_tiers_buyer ON order_tiers (buyer_id, order_id);
CREATE INDEX order_tiers_plan ON order_tiers (plan_id);

-- Usage readings from connectors: additive (consumed since the previous
-- reading) or the current value. One reading per subscription, resource and
-- time, so that collecting the same readings twice stores them once.
CREATE TABLE usage_records (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id),
    resource        TEXT NOT NULL,
    value           INTEGER NOT NULL,
    additive        INTEGER NOT NULL DEFAULT 0,
    at              TEXT NOT NULL,
    collected_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX usage_records_reading ON usage_records (subscription_id, resource, at);

-- +goose Down
DROP TABLE usage_records;
DROP TABLE order_tiers;
DROP TABLE orders;
DROP TABLE subscriptions;
DROP TABLE order_counters;
