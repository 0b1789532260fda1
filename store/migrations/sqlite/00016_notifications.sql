-- +goose Up
-- Email notifications (notify). notification_templates holds the sellers'
-- overrides of the provider's templates, which are built into the binary:
-- a row applies to its owner's whole subtree, per kind and language, until
-- an account below overrides it in turn; deleting it is "reset to parent".
CREATE TABLE notification_templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    locale     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    html       TEXT NOT NULL,
    text       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL,
    UNIQUE (owner_id, kind, locale)
);

-- notification_outbox holds the rendered messages, written in the
-- transaction of the event that causes them and delivered by a task:
-- queued until sent, failed on a permanent refusal (last_error says why),
-- bounced when the recipient's server returns it.
CREATE TABLE notification_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id     INTEGER,
    seller_id   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    locale      TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    from_name   TEXT NOT NULL,
    reply_to    TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL,
    html        TEXT NOT NULL,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX notification_outbox_status ON notification_outbox (status, id);
CREATE INDEX notification_outbox_account ON notification_outbox (account_id, id);

-- +goose Down
DROP TABLE notification_outbox;
DROP TABLE notification_templates;
