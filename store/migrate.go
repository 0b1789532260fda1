package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/marketplane/marketplane"
)

// The migrations of both engines are kept in lockstep: the same numbered
// files, producing the same tables and columns (TestMigrationsInLockstep).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// MigrationStatus is the schema version of a database against the binary's.
type MigrationStatus struct {
	Current int64 // applied in the database
	Latest  int64 // known to this binary
	Pending []int64
}

func (db *DB) migrator() (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFS, "migrations/"+string(db.Engine))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(db.dialect.gooseDialect(), db.Write, sub)
}

// MigrationStatus reports the applied and known schema versions.
func (db *DB) MigrationStatus(ctx context.Context) (MigrationStatus, error) {
	p, err := db.migrator()
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migrations: %w", err)
	}
	var st MigrationStatus
	st.Current, err = p.GetDBVersion(ctx)
	if err != nil {
		return st, fmt.Errorf("read schema version: %w", err)
	}
	for _, s := range p.ListSources() {
		if s.Version > st.Latest {
			st.Latest = s.Version
		}
		if s.Version > st.Current {
			st.Pending = append(st.Pending, s.Version)
		}
	}
	return st, nil
}

// Migrate brings the schema up to the binary's version and makes sure the
// built-in roles exist. A database migrated by a newer binary is refused:
// running old code on a newer schema could lose data.
func (db *DB) Migrate(ctx context.Context) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Current > st.Latest {
		return marketplane.Errorf(marketplane.ECONFLICT,
			"the database schema is at version %d but this binary knows only up to %d: upgrade marketplane", st.Current, st.Latest)
	}
	p, err := db.migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return db.ensureBuiltInRoles(ctx)
}

// Columns lists "table.column" for every column of the schema, for the
// lockstep test of the two engines' migrations.
func (db *DB) Columns(ctx context.Context) ([]string, error) {
	rows, err := db.Read.QueryContext(ctx, db.dialect.columnsQuery())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		out = append(out, t+"."+c)
	}
	return out, rows.Err()
}

// migrationLockID is the PostgreSQL advisory lock key that serializes
// migrations of processes starting at the same time.
const migrationLockID = 7_241_001

// WithMigrationLock runs fn while holding the database's migration lock. On
// PostgreSQL it is an advisory lock held by one connection, so a second
// process waits until the first has migrated; on SQLite the single-writer
// file lock already serializes writers.
func (db *DB) WithMigrationLock(ctx context.Context, fn func() error) error {
	if db.Engine != Postgres {
		return fn()
	}
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	return fn()
}
