-- +goose Up
-- The tenants of the demo connectors (package connectors/demo) that
-- `serve --demo` runs in-process behind the demo catalog's plans: one row
-- per tenant, found again by the platform's request id, so that a
-- repeated create makes no second tenant, across restarts too. Limits and
-- parameters are JSON objects. Nothing else reads this table.
CREATE TABLE demo_tenants (
    connector       TEXT NOT NULL,
    id              TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    subscription_id BIGINT NOT NULL,
    account_id      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    limits          TEXT NOT NULL,
    parameters      TEXT NOT NULL,
    PRIMARY KEY (connector, id),
    UNIQUE (connector, request_id)
);

-- +goose Down
DROP TABLE demo_tenants;
