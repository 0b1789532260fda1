-- +goose Up
-- Idempotency keys of POST requests (api/idempotency.go): the first request
-- with a key reserves the row (status 0 while it runs) and stores its
-- response; a replay with the same key answers that response. Timestamps
-- are TEXT UTC (store/time.go).
-- principal: who sent it ("key:<id>" for an API key, "user:<id>" for a
-- panel session); method and path (with ids) complete the scope, so that
-- different principals and routes may use the same key.
-- request_hash: SHA-256 of the request (query and body), hex: the same key
-- with another request is refused.
-- header: the response headers kept (JSON object of lists).
-- Rows older than 24 hours are ignored and replaced (IdempotencyTTL).
CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    header       TEXT NOT NULL DEFAULT '{}',
    body         BLOB,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (principal, method, path, key)
);
-- For the pruning of expired keys.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
