package task

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/marketplane/marketplane/store"
)

// dialect holds what differs between the engines for River's tables. The
// queries themselves are shared, with $N placeholders.
type dialect interface {
	// driver is River's driver for the pool. Both are database/sql drivers,
	// so River's transactions are our *sql.Tx.
	driver(db *sql.DB) riverdriver.Driver[*sql.Tx]
	// timeArg turns t into an argument compared with River's timestamps.
	timeArg(t time.Time) any
	// errorsColumn selects river_job.errors as a JSON array.
	errorsColumn() string
	// forUpdate locks the rows a SELECT reads until the transaction ends.
	forUpdate() string
	// appendError is the SET expression that adds the JSON document of
	// placeholder ph to river_job.errors.
	appendError(ph string) string
}

func dialectOf(e store.Engine) (dialect, error) {
	switch e {
	case store.SQLite:
		return sqliteDialect{}, nil
	case store.Postgres:
		return postgresDialect{}, nil
	default:
		return nil, fmt.Errorf("task: unknown database engine %q", e)
	}
}

type sqliteDialect struct{}

func (sqliteDialect) driver(db *sql.DB) riverdriver.Driver[*sql.Tx] { return riversqlite.New(db) }

// timeArg gives t in the text form River's SQLite queries compare with.
// SQLite has no time type and River compares timestamps as text. Its
// timestamps come in more than one layout ("2006-01-02 15:04:05.999" from
// its queries, Go's time.String form for some columns its completer writes),
// but all start with the UTC date, a space and the time, so text order is time
// order against a cutoff of the same shape, as in River's own job cleaner.
// The store's layout (with a "T") would sort after every River timestamp of
// the same day. Truncating to the millisecond never moves the cutoff later.
func (sqliteDialect) timeArg(t time.Time) any {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02 15:04:05.999")
}

// errorsColumn: River keeps a JSON array in a blob.
func (sqliteDialect) errorsColumn() string { return "errors" }

// forUpdate is empty: the SQLite writer takes the database lock at BEGIN
// (BEGIN IMMEDIATE), so a write transaction's reads are already stable.
func (sqliteDialect) forUpdate() string { return "" }

// appendError: River's SQLite errors column is a JSON array, as River's own
// rescue writes it.
func (sqliteDialect) appendError(ph string) string {
	return "json_insert(coalesce(errors, json('[]')), '$[#]', json(" + ph + "))"
}

type postgresDialect struct{}

func (postgresDialect) driver(db *sql.DB) riverdriver.Driver[*sql.Tx] {
	return riverdatabasesql.New(db)
}

func (postgresDialect) timeArg(t time.Time) any { return t.UTC() }

// errorsColumn: River keeps a jsonb[] array, which database/sql cannot read
// as one JSON document.
func (postgresDialect) errorsColumn() string { return "array_to_json(errors)" }

func (postgresDialect) forUpdate() string { return " FOR UPDATE" }

// appendError: River's PostgreSQL errors column is a jsonb[] array.
func (postgresDialect) appendError(ph string) string {
	return "array_append(errors, cast(" + ph + " AS jsonb))"
}
