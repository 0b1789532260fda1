package pgdbaas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// This file holds the statements run on the managed server for one tenant.
// Names come from state.name() (a tenant id of hex digits) and are quoted
// with pgx.Identifier all the same; the only literals are the locale (one of
// the operator's configured values) and a SCRAM verifier, quoted with
// quoteLiteral. DDL takes no bind parameters, hence the text.

// provision makes the tenant's role and database as far as they are missing.
// Each step checks what exists first, so a provisioning interrupted at any
// point is finished by running it again.
func (s *Service) provision(ctx context.Context, c *sql.Conn, st *state) error {
	name := st.name()
	ident := pgx.Identifier{name}.Sanitize()

	role := fmt.Sprintf("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %d PASSWORD %s",
		st.Spec.Connections, quoteLiteral(newScramVerifier(st.Password)))
	ok, err := exists(ctx, c, `SELECT 1 FROM pg_roles WHERE rolname = $1`, name)
	if err != nil {
		return err
	}
	stmt := "CREATE ROLE "
	if ok {
		// Left by an interrupted attempt: bring it to what we want.
		stmt = "ALTER ROLE "
	}
	if _, err := c.ExecContext(ctx, stmt+ident+" "+role); err != nil {
		return fmt.Errorf("create role: %w", err)
	}

	ok, err = exists(ctx, c, `SELECT 1 FROM pg_database WHERE datname = $1`, name)
	if err != nil {
		return err
	}
	if !ok {
		// template0 because a locale other than template1's needs a pristine
		// template.
		q := fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0 ENCODING 'UTF8' LOCALE %s CONNECTION LIMIT %d",
			ident, ident, quoteLiteral(st.Spec.Locale), st.Spec.Connections)
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	// PUBLIC may connect to a new database by default: that would let every
	// other tenant in. The owner keeps its rights.
	if _, err := c.ExecContext(ctx, "REVOKE ALL ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoke public access: %w", err)
	}
	return s.installExtensions(ctx, name, st.Spec.Extensions)
}

// installExtensions creates extensions in the tenant's database, connected as
// the admin role: most extensions need a superuser to install.
func (s *Service) installExtensions(ctx context.Context, database string, ext []string) error {
	if len(ext) == 0 {
		return nil
	}
	cfg := s.admin.Copy()
	cfg.Database = database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("install extensions: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, e := range ext {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{e}.Sanitize()); err != nil {
			return fmt.Errorf("install extension %s: %w", e, err)
		}
	}
	return nil
}

// setConnectionLimit applies the "connections" limit to both the role and the
// database. Sessions already open stay open.
func setConnectionLimit(ctx context.Context, c *sql.Conn, st *state, n int64) error {
	ident := pgx.Identifier{st.name()}.Sanitize()
	for _, what := range []string{"ROLE", "DATABASE"} {
		if _, err := c.ExecContext(ctx, fmt.Sprintf("ALTER %s %s CONNECTION LIMIT %d", what, ident, n)); err != nil {
			return fmt.Errorf("set connection limit: %w", err)
		}
	}
	return nil
}

// suspend locks the tenant out twice over — no CONNECT on its database, and a
// role that cannot log in — and ends its sessions.
func suspend(ctx context.Context, c *sql.Conn, st *state) error {
	ident := pgx.Identifier{st.name()}.Sanitize()
	for _, q := range []string{
		"REVOKE CONNECT ON DATABASE " + ident + " FROM PUBLIC, " + ident,
		"ALTER ROLE " + ident + " NOLOGIN",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("suspend: %w", err)
		}
	}
	return terminate(ctx, c, st.name(), false)
}

// resume undoes suspend.
func resume(ctx context.Context, c *sql.Conn, st *state) error {
	ident := pgx.Identifier{st.name()}.Sanitize()
	for _, q := range []string{
		"GRANT CONNECT ON DATABASE " + ident + " TO " + ident,
		"ALTER ROLE " + ident + " LOGIN",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	return nil
}

// drop removes the database and the role, each only if it exists. The role
// loses its login first so that no session sneaks in between; DROP DATABASE
// … WITH (FORCE) ends the sessions still open; DROP OWNED clears the grants
// the role holds on shared objects, which would block DROP ROLE.
func drop(ctx context.Context, c *sql.Conn, st *state) error {
	name := st.name()
	ident := pgx.Identifier{name}.Sanitize()
	role, err := exists(ctx, c, `SELECT 1 FROM pg_roles WHERE rolname = $1`, name)
	if err != nil {
		return err
	}
	if role {
		if _, err := c.ExecContext(ctx, "ALTER ROLE "+ident+" NOLOGIN"); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	if _, err := c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	if role {
		if err := terminate(ctx, c, name, false); err != nil {
			return err
		}
		for _, q := range []string{"DROP OWNED BY " + ident, "DROP ROLE IF EXISTS " + ident} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("drop role: %w", err)
			}
		}
	}
	return nil
}

// setReadOnly turns the storage guard on or off: the tenant's new sessions in
// its database default to read-only transactions. The setting is per role
// and database (ALTER ROLE … IN DATABASE), the most specific level
// PostgreSQL has, so a default the tenant sets on its own role or database
// does not override it, and the admin role's own sessions in the database are
// not affected. The tenant's open sessions are ended so that the change
// applies at once, both ways.
func setReadOnly(ctx context.Context, c *sql.Conn, st *state, on bool) error {
	ident := pgx.Identifier{st.name()}.Sanitize()
	q := "ALTER ROLE " + ident + " IN DATABASE " + ident + " RESET default_transaction_read_only"
	if on {
		q = "ALTER ROLE " + ident + " IN DATABASE " + ident + " SET default_transaction_read_only = on"
	}
	if _, err := c.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("storage guard: %w", err)
	}
	st.ReadOnly = on
	return terminate(ctx, c, st.name(), true)
}

// terminate ends the tenant role's sessions (only those in its own database
// when inDatabase), waiting up to 5 s for each to go so that the caller's
// next step sees them gone.
func terminate(ctx context.Context, c *sql.Conn, name string, inDatabase bool) error {
	q := `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE usename = $1 AND pid <> pg_backend_pid()`
	if inDatabase {
		q += ` AND datname = $1`
	}
	var n int
	if err := c.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// databaseSize returns the size of the tenant's database in bytes, and false
// when there is no such database.
func databaseSize(ctx context.Context, q querier, name string) (int64, bool, error) {
	var size int64
	err := q.QueryRowContext(ctx, `SELECT pg_database_size(oid) FROM pg_database WHERE datname = $1`, name).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("database size: %w", err)
	}
	return size, true, nil
}

func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// quoteLiteral quotes v as an SQL string literal. Backslashes are doubled
// and the literal gets the E prefix when there are any, so the result means
// the same whatever standard_conforming_strings says.
func quoteLiteral(v string) string {
	q := "'" + strings.ReplaceAll(v, "'", "''") + "'"
	if strings.Contains(v, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
