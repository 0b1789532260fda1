-- +goose Up
-- The sign-in throttle's counters (account.LoginLimits): one row per
-- (scope, login, address); the address scope leaves login_key empty, the
-- login scope leaves ip empty. A sign-in locks its three rows, decides,
-- and counts itself in one transaction.
CREATE TABLE login_throttle (
    scope     TEXT NOT NULL,
    login_key TEXT NOT NULL,
    ip        TEXT NOT NULL,
    failures  INTEGER NOT NULL,
    last_at   TEXT,
    PRIMARY KEY (scope, login_key, ip)
);
CREATE INDEX login_throttle_last ON login_throttle (last_at);

-- +goose Down
DROP TABLE login_throttle;
