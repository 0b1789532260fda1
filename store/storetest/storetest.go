// Package storetest gives every test a fresh, migrated Marketplane database on
// SQLite and on PostgreSQL, so that one test body runs on both engines.
//
// PostgreSQL tests read the server URL from MARKETPLANE_TEST_PG; each test
// gets its own schema (dropped at the end). When the variable is unset the
// PostgreSQL half is skipped with a message saying so; CI always sets it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// EnvPG names the variable holding the PostgreSQL URL for tests.
const EnvPG = "MARKETPLANE_TEST_PG"

// FastHash keeps argon2id cheap in tests; production costs are in
// account.DefaultHashParams.
var FastHash = account.HashParams{Memory: 64, Time: 1, Threads: 1}

// Engines lists the engines a test runs on.
var Engines = []store.Engine{store.SQLite, store.Postgres}

// Each runs fn as a subtest per engine, each with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, e))
		})
	}
}

// EachEngine runs fn as a subtest per engine and leaves opening to fn (for
// tests that open several processes' worth of connections).
func EachEngine(t *testing.T, fn func(t *testing.T, e store.Engine)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// Open returns a fresh migrated database on engine e, closed at the end of t.
func Open(t testing.TB, e store.Engine) *store.DB {
	t.Helper()
	return OpenURL(t, URL(t, e))
}

// OpenURL opens and migrates the database at u, closed at the end of t.
func OpenURL(t testing.TB, u string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), u, store.Options{HashParams: &FastHash, MaxConns: 8})
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// URL returns the URL of a new empty database on engine e: an SQLite file in
// the test's temporary directory, or a new PostgreSQL schema dropped when the
// test ends. Several opens of the same URL share the database, as several
// processes would.
func URL(t testing.TB, e store.Engine) string {
	t.Helper()
	if e == store.SQLite {
		return filepath.Join(t.TempDir(), "marketplane.db")
	}
	base := os.Getenv(EnvPG)
	if base == "" {
		t.Skipf("PostgreSQL half skipped: %s is not set (CI sets it)", EnvPG)
	}
	schema := "t_" + randomHex(8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPG, err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPG, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
