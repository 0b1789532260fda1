// Package store is Marketplane's SQL persistence for SQLite (embedded
// default) and PostgreSQL (scale). There is one code path with hand-written
// SQL and $N placeholders, which both engines accept; the few differences
// live in the dialect files. Public methods own their transaction; unexported
// helpers take a *sql.Tx and compose.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// Engine names a database engine.
type Engine string

// Engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DefaultURL is where Marketplane keeps its data when told nothing.
const DefaultURL = "data/marketplane.db"

// DB is an open Marketplane database.
type DB struct {
	// Write takes every transaction that writes. On SQLite it is a single
	// connection with BEGIN IMMEDIATE, so writers queue in Go instead of
	// failing with SQLITE_BUSY; on PostgreSQL it is the shared pool.
	Write *sql.DB
	// Read serves queries outside write transactions: a pool of read-only
	// connections on SQLite (WAL lets them run beside the writer).
	Read *sql.DB
	// Engine is the engine behind both pools.
	Engine Engine
	// Clock gives the time of every change (injected so that tests and the
	// billing simulator choose it).
	Clock marketplane.Clock
	// HashParams are the argon2id costs of new password hashes.
	HashParams account.HashParams
	// OnEvent queues the deliveries of events to webhook endpoints, in
	// the transaction that records the events (the outbox rule), all the
	// deliveries of one statement at once (the billing run records them by
	// the thousand). Nil, as in plain tests, leaves deliveries pending with
	// no task.
	OnEvent func(ctx context.Context, tx *sql.Tx, ds []QueuedDelivery) error
	// OnNotification queues the delivery of message id of the outbox, to
	// account accountID at path, in the transaction that writes it. Nil
	// leaves messages queued with no task.
	OnNotification func(ctx context.Context, tx *sql.Tx, id, accountID int64, path string) error

	dialect   dialect
	url       string
	dummyOnce sync.Once
	dummy     string
	// zones caches vendors' time zones: time.LoadLocation reads the zone
	// database on each call, and every order needs its vendor's.
	zones sync.Map
}

// Options tune Open.
type Options struct {
	Clock      marketplane.Clock
	HashParams *account.HashParams
	// MaxConns bounds the PostgreSQL pool and the SQLite read pool.
	MaxConns int
}

// EngineOf tells which engine a database URL names: postgres:// and
// postgresql:// URLs are PostgreSQL, anything else is an SQLite file path
// (optionally prefixed with sqlite: or file:).
func EngineOf(dbURL string) Engine {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Open connects to the database at dbURL and checks that it answers. It does
// not migrate: call Migrate (serve and migrate do).
func Open(ctx context.Context, dbURL string, opt Options) (*DB, error) {
	if dbURL == "" {
		dbURL = DefaultURL
	}
	db := &DB{Engine: EngineOf(dbURL), Clock: opt.Clock, url: dbURL, HashParams: account.DefaultHashParams}
	if db.Clock == nil {
		db.Clock = marketplane.SystemClock{}
	}
	if opt.HashParams != nil {
		db.HashParams = *opt.HashParams
	}
	maxConns := opt.MaxConns
	if maxConns <= 0 {
		maxConns = 16
	}
	var err error
	switch db.Engine {
	case Postgres:
		db.dialect = postgresDialect{}
		db.Write, err = sql.Open("pgx", dbURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.Write.SetMaxOpenConns(maxConns)
		db.Write.SetMaxIdleConns(maxConns)
		db.Write.SetConnMaxIdleTime(5 * time.Minute)
		db.Read = db.Write
	default:
		db.dialect = sqliteDialect{}
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create data directory %s: %w", dir, err)
			}
		}
		db.Write, err = sql.Open("sqlite", sqliteDSN(path, false))
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db.Write.SetMaxOpenConns(1)
		db.Write.SetMaxIdleConns(1)
		db.Write.SetConnMaxLifetime(0)
		db.Read, err = sql.Open("sqlite", sqliteDSN(path, true))
		if err != nil {
			db.Write.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db.Read.SetMaxOpenConns(maxConns)
		db.Read.SetMaxIdleConns(maxConns)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Write.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, marketplane.Errorf(marketplane.EUNAVAILABLE, "database %s cannot be reached: %v", redact(dbURL), err)
	}
	return db, nil
}

// sqliteDSN builds the modernc.org/sqlite connection string: WAL, foreign
// keys, a busy timeout, and BEGIN IMMEDIATE for the writer so a transaction
// takes the write lock up front instead of failing on its first write.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close closes both pools.
func (db *DB) Close() error {
	var errs []error
	if db.Read != nil && db.Read != db.Write {
		errs = append(errs, db.Read.Close())
	}
	if db.Write != nil {
		errs = append(errs, db.Write.Close())
	}
	return errors.Join(errs...)
}

// URL returns the database URL with any password hidden.
func (db *DB) URL() string { return redact(db.url) }

// Ping checks that the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.Write.PingContext(ctx) }

// inTx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InTx runs fn in a write transaction: other packages (task enqueueing, later
// domains) compose their writes with the store's in one transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error { return db.inTx(ctx, fn) }

func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
