-- +goose Up
-- Connectors: the HTTP services that provision the provider's services
-- (see package connector). A connector belongs to the provider, like the
-- resource types and template made from its manifest.
--
-- secret is stored as given, not hashed: the platform signs every request
-- to the connector with it (HMAC), so it must be able to read it back. The
-- database, its replicas and its backups must be protected like a secrets
-- store. The API and the panels never show it; only system code reads it
-- (store.ConnectorSecret).
CREATE TABLE connectors (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- The manifest's name; also the key of the connector's template and
    -- the prefix of its resource types' keys.
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL,
    -- The manifest as the connector last described itself (JSON).
    manifest         TEXT NOT NULL,
    manifest_version TEXT NOT NULL,
    -- registered, unreachable, refused; status_message says why.
    status           TEXT NOT NULL,
    status_message   TEXT NOT NULL DEFAULT '',
    last_checked_at  TEXT,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX connectors_name ON connectors (name);

-- The two-way checks of registrations in progress: the nonce sent with
-- POST /ping and the secret the connector's callback must be signed with.
-- Kept in the database rather than in memory so that the callback may reach
-- any process of the platform (several may serve behind one address), and
-- the command line may register through a running server. Rows live for
-- the length of one registration (expires_at bounds them when a process
-- dies); they hold a secret, like connectors.
CREATE TABLE connector_checks (
    nonce            TEXT PRIMARY KEY,
    secret           TEXT NOT NULL,
    -- pending, confirmed (a callback with a good signature came), refused
    -- (a callback came with a bad one; detail says how).
    status           TEXT NOT NULL DEFAULT 'pending',
    detail           TEXT NOT NULL DEFAULT '',
    callback_name    TEXT NOT NULL DEFAULT '',
    callback_version TEXT NOT NULL DEFAULT '',
    expires_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX connector_checks_expiry ON connector_checks (expires_at);

-- +goose Down
DROP TABLE connector_checks;
DROP TABLE connectors;
