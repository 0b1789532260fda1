-- +goose Up
-- Timestamps are TEXT in one fixed-width UTC form (see store/time.go) so that
-- text order is time order. Money is INTEGER millionths of a unit.
CREATE TABLE accounts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id          INTEGER REFERENCES accounts(id),
    path               TEXT NOT NULL,
    depth              INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('provider', 'reseller', 'customer')),
    name               TEXT NOT NULL,
    contact_name       TEXT NOT NULL DEFAULT '',
    contact_email      TEXT NOT NULL DEFAULT '',
    contact_phone      TEXT NOT NULL DEFAULT '',
    address_line1      TEXT NOT NULL DEFAULT '',
    address_line2      TEXT NOT NULL DEFAULT '',
    address_city       TEXT NOT NULL DEFAULT '',
    address_region     TEXT NOT NULL DEFAULT '',
    address_postal_code TEXT NOT NULL DEFAULT '',
    country            TEXT NOT NULL,
    locale             TEXT NOT NULL,
    currency           TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'active', 'credit_hold', 'admin_hold', 'cancelled')),
    credit_limit       INTEGER NOT NULL DEFAULT 0,
    payment_terms_days INTEGER NOT NULL DEFAULT 0,
    external_id        TEXT,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE UNIQUE INDEX accounts_path ON accounts (path);
CREATE INDEX accounts_parent ON accounts (parent_id, id);
CREATE UNIQUE INDEX accounts_one_provider ON accounts (kind) WHERE kind = 'provider';
CREATE UNIQUE INDEX accounts_external ON accounts (parent_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE roles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    key        TEXT UNIQUE,
    name       TEXT NOT NULL,
    grants     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX roles_account_name ON roles (account_id, name);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    login         TEXT NOT NULL,
    login_key     TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    locale        TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    last_login_at TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX users_account ON users (account_id, id);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles(id),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE api_keys (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role_id            INTEGER NOT NULL REFERENCES roles(id),
    name               TEXT NOT NULL,
    prefix             TEXT NOT NULL UNIQUE,
    secret_hash        TEXT NOT NULL,
    created_by_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL,
    last_used_at       TEXT,
    expires_at         TEXT,
    revoked_at         TEXT
);
CREATE INDEX api_keys_account ON api_keys (account_id, id);

CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry);

CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    login_key TEXT NOT NULL,
    ip        TEXT NOT NULL,
    at        TEXT NOT NULL,
    success   INTEGER NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts (login_key, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);

CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               TEXT NOT NULL,
    actor_user_id    INTEGER,
    actor_key_id     INTEGER,
    actor_account_id INTEGER,
    account_id       INTEGER,
    account_path     TEXT NOT NULL DEFAULT '',
    action           TEXT NOT NULL,
    entity           TEXT NOT NULL,
    entity_id        INTEGER NOT NULL DEFAULT 0,
    changes          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_path ON audit_log (account_path, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE api_keys;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE accounts;
