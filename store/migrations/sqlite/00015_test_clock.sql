-- +goose Up
-- The test clock of a sandbox (serve --test-clock): the one date every
-- action of the installation uses, set and moved forward by its operator.
-- One row at most; several serve processes read it, so it lives here
-- rather than in a process. An installation without the flag has no row.
CREATE TABLE test_clock (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    now        TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE test_clock;
