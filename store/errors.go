package store

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/marketplane/marketplane"
)

// isUniqueViolation reports whether err is a unique constraint failure on
// either engine.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign key failure.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// notFound turns sql.ErrNoRows into an ENOTFOUND error naming what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return marketplane.Errorf(marketplane.ENOTFOUND, "%s not found", what)
	}
	return err
}

// hideAs gives an ENOTFOUND from the authorization of a thing's account the
// same message as a missing thing, so that ids of others cannot be told from
// ids that do not exist.
func hideAs(err error, what string) error {
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return marketplane.Errorf(marketplane.ENOTFOUND, "%s not found", what)
	}
	return err
}
