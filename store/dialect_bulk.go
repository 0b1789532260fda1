package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// bulkLoader is the bulk-load part of the dialect: each engine's fast way of
// inserting many rows. Both dialects implement it; it is kept apart from the
// dialect interface only so that this file can be added on its own.
type bulkLoader interface {
	// insertRows inserts n rows into table inside tx, which must have been
	// begun on conn. row(i) gives the values of row i in the order of
	// columns; time.Time values are passed as such and each engine stores
	// them in its own form.
	insertRows(ctx context.Context, conn *sql.Conn, tx *sql.Tx, table string, columns []string, n int, row func(i int) ([]any, error)) error
}

var (
	_ bulkLoader = sqliteDialect{}
	_ bulkLoader = postgresDialect{}
)

// bulk returns the bulk loader of the database's engine.
func (db *DB) bulk() bulkLoader {
	if b, ok := db.dialect.(bulkLoader); ok {
		return b
	}
	panic(fmt.Sprintf("store: dialect %T has no bulk loader", db.dialect))
}

// sqliteMaxParams is the most bound parameters one statement may have in
// modernc.org/sqlite (SQLITE_MAX_VARIABLE_NUMBER).
const sqliteMaxParams = 32766

// sqliteRowsPerInsert bounds the rows of one multi-row INSERT: beyond a few
// hundred rows a statement gets no faster, only bigger.
const sqliteRowsPerInsert = 500

// insertRows on SQLite sends multi-row INSERT statements of up to 500 rows
// (fewer when the columns would pass the parameter limit). The statement of
// a full chunk is prepared once and reused; the single writer connection
// makes the transaction's inserts the only ones.
func (sqliteDialect) insertRows(ctx context.Context, _ *sql.Conn, tx *sql.Tx, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	per := min(sqliteRowsPerInsert, sqliteMaxParams/len(columns))
	var full *sql.Stmt
	if n >= per {
		var err error
		full, err = tx.PrepareContext(ctx, multiRowInsert(table, columns, per))
		if err != nil {
			return fmt.Errorf("bulk insert into %s: %w", table, err)
		}
		defer full.Close()
	}
	args := make([]any, 0, per*len(columns))
	for start := 0; start < n; start += per {
		k := min(per, n-start)
		args = args[:0]
		for i := start; i < start+k; i++ {
			vals, err := row(i)
			if err != nil {
				return err
			}
			if len(vals) != len(columns) {
				return fmt.Errorf("bulk insert into %s: row %d has %d values for %d columns", table, i, len(vals), len(columns))
			}
			for _, v := range vals {
				if t, ok := v.(time.Time); ok {
					v = tv(t)
				}
				args = append(args, v)
			}
		}
		var err error
		if k == per {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, multiRowInsert(table, columns, k), args...)
		}
		if err != nil {
			return fmt.Errorf("bulk insert into %s: %w", table, err)
		}
	}
	return nil
}

// multiRowInsert is "INSERT INTO table (a, b) VALUES (?, ?), (?, ?) …" for
// rows rows. Unlike the rest of the store it uses anonymous "?" parameters:
// SQLite treats "$N" as a named parameter, and looking names up costs time
// linear in their number for each one bound, which makes a 12,500-parameter
// statement quadratic (three quarters of the time in a profile).
func multiRowInsert(table string, columns []string, rows int) string {
	var b strings.Builder
	b.Grow(32 + 3*len(columns)*rows)
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(columns, ", "))
	b.WriteString(") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range columns {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insertRows on PostgreSQL streams the rows with COPY through the pgx
// connection under conn. The database/sql transaction on conn is a pgx
// transaction on the same connection, so the COPY is part of it and a
// failure anywhere rolls the whole batch back.
func (postgresDialect) insertRows(ctx context.Context, conn *sql.Conn, _ *sql.Tx, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx", dc)
		}
		copied, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, row))
		if err != nil {
			return err
		}
		if copied != int64(n) {
			return fmt.Errorf("copied %d rows of %d", copied, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bulk insert into %s: %w", table, err)
	}
	return nil
}
