package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
)

// Where a benchmark's data goes. A benchmark writes thousands of accounts,
// plans and invoices: it must never write them into a marketplace people
// use. So it works on a scratch database unless told otherwise:
//
//   - no --db: a new SQLite file in a temporary directory, removed at
//     the end (the MARKETPLANE_DB variable, which names the live
//     database, is not read);
//   - --db postgres://HOST/ without a database name: a new database
//     marketplane_bench_<random> on that server, dropped at the end;
//   - --db naming an SQLite file or a PostgreSQL database: that one, as
//     given, and kept (an operator who wants to reuse a benchmark's data,
//     or measure on a copy of theirs, names it);
//   - --db naming the default data/marketplane.db: refused, since that
//     is where `serve` keeps the live marketplace.

// ScratchDB is the database a benchmark runs on and how to get rid of it.
type ScratchDB struct {
	// URL is the database to open.
	URL string
	// Name is the scratch database for a person: the SQLite file, or the
	// PostgreSQL database's name (the URL may carry a password).
	Name string
	// Scratch says the database was made for this run and Drop removes it.
	Scratch bool
	drop    func(context.Context) error
}

// Drop removes a scratch database; it does nothing for one the operator
// named.
func (s *ScratchDB) Drop(ctx context.Context) error {
	if s.drop == nil {
		return nil
	}
	return s.drop(ctx)
}

// Database chooses the database of a benchmark run from its --db flag
// (given = false when the flag was not on the command line), making a
// scratch one where the rules above say so.
func Database(ctx context.Context, given bool, dbURL string) (*ScratchDB, error) {
	if !given || dbURL == "" {
		dir, err := os.MkdirTemp("", "marketplane-bench-")
		if err != nil {
			return nil, fmt.Errorf("scratch database: %w", err)
		}
		path := filepath.Join(dir, "bench.db")
		return &ScratchDB{URL: path, Name: path, Scratch: true,
			drop: func(context.Context) error { return os.RemoveAll(dir) }}, nil
	}
	if store.EngineOf(dbURL) != store.Postgres {
		if isDefaultDB(dbURL) {
			return nil, marketplane.Errorf(marketplane.EINVALID,
				"--db %s is the live database of serve: a benchmark would add its data to it; run without --db for a scratch database, or name another file", dbURL)
		}
		return &ScratchDB{URL: dbURL}, nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, marketplane.Errorf(marketplane.EINVALID, "--db: not a postgres:// URL")
	}
	if strings.Trim(u.Path, "/") != "" {
		return &ScratchDB{URL: dbURL}, nil
	}
	return scratchPostgres(ctx, u)
}

// isDefaultDB reports whether path is store.DefaultURL (relative to the
// working directory, however written).
func isDefaultDB(path string) bool {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	a, err1 := filepath.Abs(path)
	b, err2 := filepath.Abs(store.DefaultURL)
	return err1 == nil && err2 == nil && a == b
}

// scratchPostgres creates a database of its own on the server of u (which
// names none) and returns it with the drop that removes it.
func scratchPostgres(ctx context.Context, u *url.URL) (*ScratchDB, error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "marketplane_bench_" + hex.EncodeToString(b)
	admin := *u
	admin.Path = "/postgres"
	conn, err := sql.Open("pgx", admin.String())
	if err != nil {
		return nil, fmt.Errorf("scratch database: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close()
		return nil, fmt.Errorf("scratch database: create %s: %w", name, err)
	}
	scratch := *u
	scratch.Path = "/" + name
	return &ScratchDB{URL: scratch.String(), Name: "PostgreSQL database " + name, Scratch: true, drop: func(ctx context.Context) error {
		defer conn.Close()
		// FORCE ends connections a benchmark left open (PostgreSQL 13+).
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop scratch database %s: %w", name, err)
		}
		return nil
	}}, nil
}
