package store

import (
	"context"
	"database/sql"
	"fmt"
)

// BulkLoad is the data generators' entry point (the benchmarks' fixtures
// in package bench): it runs fn in one write transaction whose Loader
// writes rows with the engine's fast path, COPY on PostgreSQL and
// multi-row INSERT on SQLite, the path CreateAccountsBulk and InsertCopies
// take. Rows go in as given: nothing is validated beyond the table's own
// constraints, no audit entry is written and no actor is checked, so it
// is never for anything a user asks for. fn may query and write through
// the Loader's Tx between loads; an error from fn rolls the whole
// transaction back.
func (db *DB) BulkLoad(ctx context.Context, fn func(l *Loader) error) error {
	// One connection carries the transaction, so that PostgreSQL's COPY
	// (which needs the driver's own connection) runs inside it.
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bulk load: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(&Loader{Tx: tx, conn: conn, db: db}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bulk load: commit: %w", err)
	}
	return nil
}

// Loader is the transaction of a BulkLoad.
type Loader struct {
	// Tx is the transaction, for the queries fn makes between loads.
	Tx   *sql.Tx
	conn *sql.Conn
	db   *DB
}

// ReserveIDs returns n fresh ids of table for rows that the generator
// refers to (from other tables' rows) before it writes them: the rows are
// then inserted with their id column set. The ids need not be contiguous.
func (l *Loader) ReserveIDs(ctx context.Context, table string, n int) ([]int64, error) {
	return l.db.dialect.reserveIDs(ctx, l.Tx, table, n)
}

// Insert writes n rows into table: row(i) gives the values of row i in the
// order of columns, and is called once per row in order, as the rows are
// sent, so that a generator holds no more than one row at a time.
// time.Time values are passed as such (each engine stores them in its own
// form), JSON columns take their JSON text, booleans Go bools.
func (l *Loader) Insert(ctx context.Context, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	return l.db.bulk().insertRows(ctx, l.conn, l.Tx, table, columns, n, row)
}
