-- +goose Up
-- Webhooks: endpoints of accounts, the events they are sent and each
-- delivery of an event to an endpoint. Times are TEXT (store/time.go).

-- An endpoint receives the events of its account and of every account
-- below it, of the types it names (event_types: a JSON array). secret signs
-- deliveries (webhook.Sign) and so is kept as it is, not hashed.
CREATE TABLE webhook_endpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);
-- Emitting an event looks up the active endpoints of the event's account
-- and its ancestors by id: with no endpoint anywhere, the billing run pays
-- one probe of this small index per chunk.
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id) WHERE active;

-- An event about account_id (account_path: its path, to list a subtree's
-- events). payload is the event's data as JSON. Events are recorded when
-- some endpoint is to receive them.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    account_path TEXT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX events_path ON events (account_path, id);

-- One delivery of an event to an endpoint (a manual redelivery is a new
-- row). status: pending until an attempt succeeds (succeeded) or the last
-- one fails (failed). response_*: what the last attempt got; next_at: when
-- the next attempt is due while pending.
CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id   INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id      INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    status        TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    response_code INTEGER NOT NULL DEFAULT 0,
    response_body TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    next_at       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;
