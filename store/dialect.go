package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// dialect holds what differs between the engines. Everything else is shared
// SQL with $N placeholders.
type dialect interface {
	// gooseDialect names the engine for the migration library.
	gooseDialect() goose.Dialect
	// reserveIDs returns n fresh ids of table, for bulk paths that must know
	// ids before inserting (an account's path holds its own id).
	reserveIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error)
	// tables lists the tables and their columns, for the lockstep check.
	columnsQuery() string
}

type sqliteDialect struct{}

func (sqliteDialect) gooseDialect() goose.Dialect { return goose.DialectSQLite3 }

// reserveIDs on SQLite relies on the single writer: inside the write
// transaction nobody else inserts, so the next ids are free. Explicit ids
// above the AUTOINCREMENT counter move the counter along.
func (sqliteDialect) reserveIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, fmt.Sprintf(
		`SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '%s'), 0),
		            COALESCE((SELECT MAX(id) FROM %s), 0))`, table, table)).Scan(&last)
	if err != nil {
		return nil, fmt.Errorf("reserve ids of %s: %w", table, err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = last + 1 + int64(i)
	}
	return ids, nil
}

func (sqliteDialect) columnsQuery() string {
	return `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2`
}

type postgresDialect struct{}

func (postgresDialect) gooseDialect() goose.Dialect { return goose.DialectPostgres }

// reserveIDs on PostgreSQL takes n values of the identity sequence at once,
// which is safe beside other writers.
// The ids need not be contiguous: other writers may take values in between.
func (postgresDialect) reserveIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(
		`SELECT nextval(pg_get_serial_sequence('%s', 'id')) FROM generate_series(1, $1)`, table), n)
	if err != nil {
		return nil, fmt.Errorf("reserve ids of %s: %w", table, err)
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("reserve ids of %s: %w", table, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (postgresDialect) columnsQuery() string {
	return `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY 1, 2`
}
