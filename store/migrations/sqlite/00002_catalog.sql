-- +goose Up
-- The catalog. Each object keeps its domain form as JSON in body (the json
-- tags of the catalog package: money as INTEGER millionths); the columns
-- beside it are copies of the few fields that queries select, order or
-- join on, and the store's own bookkeeping. The columns win over the body
-- when both hold a field (published, displayed, changed_upstream …).

-- Resource types and service templates belong to the provider.
CREATE TABLE resource_types (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    class      TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX resource_types_key ON resource_types (owner_id, key);

CREATE TABLE templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX templates_key ON templates (owner_id, key);

-- Categories belong to every seller; source_id is the parent's category a
-- seller's was copied from.
CREATE TABLE plan_categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    source_id  INTEGER REFERENCES plan_categories(id) ON DELETE SET NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX plan_categories_key ON plan_categories (owner_id, key);
CREATE INDEX plan_categories_source ON plan_categories (source_id);

CREATE TABLE sales_categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    source_id  INTEGER REFERENCES sales_categories(id) ON DELETE SET NULL,
    key        TEXT NOT NULL,
    parent_key TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    holds      TEXT NOT NULL CHECK (holds IN ('plans', 'categories')),
    -- The owner's own choice; a sync never writes it.
    displayed  INTEGER NOT NULL DEFAULT 1,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX sales_categories_key ON sales_categories (owner_id, key);
CREATE INDEX sales_categories_parent ON sales_categories (owner_id, parent_key, position);
CREATE INDEX sales_categories_source ON sales_categories (source_id);

-- Plans: originals (source_id NULL, root_id = id) and delegated copies,
-- linked to the plan of the owner's parent they were copied from; root_id
-- is the original at the top of the chain.
CREATE TABLE plans (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id           INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    source_id          INTEGER REFERENCES plans(id),
    root_id            INTEGER NOT NULL,
    key                TEXT NOT NULL,
    template_key       TEXT NOT NULL,
    currency           TEXT NOT NULL,
    plan_category      TEXT NOT NULL DEFAULT '',
    published          INTEGER NOT NULL DEFAULT 0,
    needs_confirmation INTEGER NOT NULL DEFAULT 0,
    changed_upstream   INTEGER NOT NULL DEFAULT 0,
    body               TEXT NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE UNIQUE INDEX plans_key ON plans (owner_id, key);
-- A reseller holds at most one copy of a source plan.
CREATE UNIQUE INDEX plans_one_copy ON plans (owner_id, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX plans_source ON plans (source_id, id);
CREATE INDEX plans_root ON plans (root_id);

-- What a parent has set on a child reseller: restrictions, prohibit cascade.
CREATE TABLE delegation_terms (
    child_account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    set_by           INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    body             TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX delegation_terms_set_by ON delegation_terms (set_by);

-- Sync runs: one per sync of a source plan, resumable from its cursor.
CREATE TABLE sync_runs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    source_plan_id       INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    options              TEXT NOT NULL,
    one_level            INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    requested_by_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    cursor               TEXT NOT NULL DEFAULT '',
    copies_changed       INTEGER NOT NULL DEFAULT 0,
    changes              INTEGER NOT NULL DEFAULT 0,
    error                TEXT NOT NULL DEFAULT '',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    finished_at          TEXT
);
CREATE INDEX sync_runs_plan ON sync_runs (source_plan_id, id);
CREATE INDEX sync_runs_open ON sync_runs (id) WHERE status IN ('queued', 'running');

-- What changed in a plan and when it takes effect for subscriptions.
CREATE TABLE plan_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id     INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    field       TEXT NOT NULL,
    old         TEXT NOT NULL DEFAULT '',
    new         TEXT NOT NULL DEFAULT '',
    effective   TEXT NOT NULL CHECK (effective IN ('now', 'next_billing', 'n/a')),
    sync_run_id INTEGER REFERENCES sync_runs(id) ON DELETE SET NULL
);
CREATE INDEX plan_changes_plan ON plan_changes (plan_id, id);
CREATE INDEX plan_changes_run ON plan_changes (sync_run_id);

-- +goose Down
DROP TABLE plan_changes;
DROP TABLE sync_runs;
DROP TABLE delegation_terms;
DROP TABLE plans;
DROP TABLE sales_categories;
DROP TABLE plan_categories;
DROP TABLE templates;
DROP TABLE resource_types;
