// Package pgdbaas is Marketplane's first real connector: PostgreSQL databases
// as a service. Each tenant is a database and a login role of the same name,
// t_<id>, on one managed PostgreSQL server; the customer owns the database.
//
// # What the limits mean
//
// "connections" is a hard limit: it is the CONNECTION LIMIT of both the role
// and the database, enforced by PostgreSQL on every new session. Lowering it
// does not end sessions already open.
//
// "storage_mb" is a soft limit, and this package says so plainly. PostgreSQL
// has no per-database quota. The connector measures the database
// (pg_database_size) whenever the platform reads the tenant (Get), collects
// usage (Usage), changes limits (Update) and whenever CheckStorage runs (the
// connector program runs it every minute). When the size exceeds the limit the
// tenant's sessions in its database default to read-only
// (default_transaction_read_only through ALTER ROLE … IN DATABASE), its open
// sessions are ended so the new default applies, and the tenant's Message
// says why. When the size is back under the limit — usually because the limit
// was raised — the setting is lifted the same way. Between two checks a tenant
// can write past its limit, and a tenant that knows PostgreSQL can run
// "SET default_transaction_read_only = off" in its own session (that is also
// how it deletes data to get back under the limit: rows deleted free space for
// reuse, only VACUUM FULL gives it back to the file system). The limit
// therefore guards against accidents and drives billing; it is not a security
// boundary. A hard quota needs a file system quota per tablespace, which is
// out of this connector's reach.
//
// # State
//
// The connector keeps its state — tenant id, the platform's request id, limits,
// parameters, status and the tenant's password — in a table of its own schema
// (Config.Schema, "marketplane_pgdbaas" by default) in the database of the
// admin URL, on the managed server itself. So the state lives and dies with
// the databases it describes, and several connector processes can share it.
// Every change to a tenant holds a PostgreSQL advisory lock on the tenant, and
// every step is idempotent (it checks pg_roles and pg_database first), so a
// Create repeated with the same request id, after a crash half-way or from
// another process, finishes the same tenant and never makes a second database.
//
// # The managed server
//
// The admin URL must name a superuser: the connector creates roles and
// databases, ends other sessions and installs extensions that may need it.
// Tenant databases are not connectable by PUBLIC, so tenants cannot reach each
// other's data. The operator should also revoke CONNECT from PUBLIC on the
// server's other databases (postgres, template1 …), which this connector does
// not touch.
package pgdbaas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/marketplane/marketplane/connector"
)

// Version is the connector's version, reported in its manifest.
const Version = "1.0.0"

// Resource keys of the manifest.
const (
	ResourceStorage     = "storage_mb"
	ResourceConnections = "connections"
)

// Parameter keys of the manifest.
const (
	ParamLocale     = "locale"
	ParamExtensions = "extensions"
)

// Defaults of Config.
var (
	DefaultSchema     = "marketplane_pgdbaas"
	DefaultLocales    = []string{"C.utf8", "C"}
	DefaultExtensions = []string{"citext", "hstore", "pg_trgm", "pgcrypto", "uuid-ossp"}
)

// Config says which server the connector manages and what it offers.
type Config struct {
	// AdminURL is a postgres:// URL of a superuser on the managed server. The
	// connector's state schema lives in the URL's database.
	AdminURL string
	// Host and Port are the address customers connect to, shown in each
	// tenant's attributes. They default to the admin URL's host and port;
	// set them when the connector reaches the server by a private address.
	Host string
	Port int
	// Schema holds the connector's state table; DefaultSchema when empty.
	// Tests give each test its own.
	Schema string
	// Locales a customer may choose for a new database; the first is the
	// default. Each must be a libc locale the server knows (pg_collation).
	// DefaultLocales when empty.
	Locales []string
	// Extensions a customer may ask the connector to install; each must be
	// available on the server (pg_available_extensions). DefaultExtensions
	// when nil; an empty non-nil slice offers none.
	Extensions []string
	// MaxConns bounds the connector's connections to the admin database
	// (default 10). Each tenant operation holds one for its whole length.
	MaxConns int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service manages tenant databases on one PostgreSQL server. It implements
// connector.Service; New makes one.
type Service struct {
	db     *sql.DB
	admin  *pgx.ConnConfig // the admin URL, copied with another Database to reach a tenant's database
	table  string          // quoted schema.tenants
	host   string
	port   int
	offer  offer
	now    func() time.Time
	schema string
}

var _ connector.Service = (*Service)(nil)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// New connects to the managed server, checks that the admin role is a
// superuser and that the configured locales and extensions exist, and creates
// the state schema and table if they are missing.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.AdminURL == "" {
		return nil, errors.New("pgdbaas: the admin URL of the managed server is required")
	}
	admin, err := pgx.ParseConfig(cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("pgdbaas: admin URL: %w", err)
	}
	s := &Service{
		admin:  admin,
		host:   cfg.Host,
		port:   cfg.Port,
		schema: cfg.Schema,
		now:    cfg.Now,
		offer: offer{
			Locales:    cfg.Locales,
			Extensions: cfg.Extensions,
		},
	}
	if s.host == "" {
		s.host = admin.Host
	}
	if s.port == 0 {
		s.port = int(admin.Port)
	}
	if s.schema == "" {
		s.schema = DefaultSchema
	}
	if !schemaName.MatchString(s.schema) {
		return nil, fmt.Errorf("pgdbaas: schema %q: want lower-case letters, digits and _", s.schema)
	}
	s.table = pgx.Identifier{s.schema, "tenants"}.Sanitize()
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.offer.Locales) == 0 {
		s.offer.Locales = DefaultLocales
	}
	if s.offer.Extensions == nil {
		s.offer.Extensions = DefaultExtensions
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = 10
	}

	s.db, err = sql.Open("pgx", cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("pgdbaas: %w", err)
	}
	s.db.SetMaxOpenConns(maxConns)
	s.db.SetMaxIdleConns(min(maxConns, 2))
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.check(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("pgdbaas: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("pgdbaas: state schema %s: %w", s.schema, err)
	}
	return s, nil
}

// Close closes the connections to the managed server.
func (s *Service) Close() error { return s.db.Close() }

// check verifies what New promises: a superuser, and locales and extensions
// the server really has, so that a customer's valid choice never fails at
// CREATE DATABASE time.
func (s *Service) check(ctx context.Context) error {
	var super bool
	err := s.db.QueryRowContext(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super)
	if err != nil {
		return fmt.Errorf("connect to the managed server: %w", err)
	}
	if !super {
		return errors.New("the admin URL must name a superuser of the managed server")
	}
	for _, l := range s.offer.Locales {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_collation
			WHERE collprovider = 'c' AND collcollate = $1 AND collctype = $1`, l).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("locale %q is unknown to the server (see pg_collation)", l)
		}
	}
	for _, e := range s.offer.Extensions {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_available_extensions WHERE name = $1`, e).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("extension %q is not available on the server (see pg_available_extensions)", e)
		}
	}
	return nil
}

// migrate creates the state schema and table. The transaction-level advisory
// lock keeps two connector processes starting at once from racing on CREATE …
// IF NOT EXISTS, which is not safe against concurrent creation.
func (s *Service) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockClass) + `, 0)`,
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.schema}.Sanitize(),
		// The schema holds tenants' passwords: only its owner (the admin
		// role) may read it. New schemas grant nothing to PUBLIC; this says
		// so for a schema made by hand.
		`REVOKE ALL ON SCHEMA ` + pgx.Identifier{s.schema}.Sanitize() + ` FROM PUBLIC`,
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
			id              text PRIMARY KEY,
			request_id      text NOT NULL UNIQUE,
			subscription_id bigint NOT NULL,
			account_id      bigint NOT NULL,
			status          text NOT NULL,
			message         text NOT NULL DEFAULT '',
			storage_mb      bigint NOT NULL,
			connections     bigint NOT NULL,
			locale          text NOT NULL,
			extensions      text NOT NULL DEFAULT '',
			password        text NOT NULL,
			read_only       boolean NOT NULL DEFAULT false,
			created_at      timestamptz NOT NULL,
			updated_at      timestamptz NOT NULL
		)`,
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Manifest describes the connector: its two limits and its two parameters.
func (s *Service) Manifest() connector.Manifest {
	return connector.Manifest{
		Name:    "pgdbaas",
		Version: Version,
		Description: "PostgreSQL databases as a service: each subscription gets its own database and login role " +
			"on a shared PostgreSQL server.",
		Resources: []connector.ResourceSpec{
			{
				Key: ResourceStorage,
				Name: map[string]string{
					"en": "Database storage (MB)",
					"de": "Datenbankspeicher (MB)",
					"fr": "Stockage de base de données (Mo)",
				},
				Unit:  "MB",
				Class: connector.ClassLimit,
			},
			{
				Key: ResourceConnections,
				Name: map[string]string{
					"en": "Concurrent connections",
					"de": "Gleichzeitige Verbindungen",
					"fr": "Connexions simultanées",
				},
				Unit:  "connection",
				Class: connector.ClassLimit,
			},
		},
		Parameters: []connector.ParamSpec{
			{
				Key:         ParamLocale,
				Type:        connector.ParamEnum,
				Choices:     slices.Clone(s.offer.Locales),
				Description: "Locale (collation and character classes) of the new database; fixed once created. Default " + s.offer.Locales[0] + ".",
			},
			{
				Key:     ParamExtensions,
				Type:    connector.ParamString,
				Pattern: extensionsRule,
				Description: "Comma-separated extensions to install, from: " + strings.Join(s.offer.Extensions, ", ") +
					". More can be added later; installed ones stay.",
			},
		},
	}
}
