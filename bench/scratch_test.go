package bench

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestDatabaseSQLite: without --db a benchmark gets a new SQLite file that
// Drop removes; a file the operator names is used and kept; the default
// data/marketplane.db (serve's live database) is refused.
func TestDatabaseSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	s, err := Database(ctx, false, store.DefaultURL)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Scratch || s.URL == store.DefaultURL || !strings.HasPrefix(s.URL, os.TempDir()) {
		t.Fatalf("no --db: %+v, want a scratch file in %s", s, os.TempDir())
	}
	db, err := store.Open(ctx, s.URL, store.Options{HashParams: &storetest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(s.URL)); !os.IsNotExist(err) {
		t.Errorf("scratch directory %s still there after Drop (%v)", filepath.Dir(s.URL), err)
	}

	named := filepath.Join(t.TempDir(), "mine.db")
	s, err = Database(ctx, true, named)
	if err != nil || s.Scratch || s.URL != named {
		t.Fatalf("--db %s: %+v, %v; want it as given", named, s, err)
	}
	if err := s.Drop(ctx); err != nil {
		t.Fatal(err)
	}

	for _, live := range []string{store.DefaultURL, "./data/marketplane.db", "sqlite:data/marketplane.db"} {
		if _, err := Database(ctx, true, live); err == nil || !strings.Contains(err.Error(), "live database") {
			t.Errorf("--db %s: %v, want a refusal naming the live database", live, err)
		}
	}
}

// TestDatabasePostgres: --db postgres://HOST/ (no database named) makes a
// database of its own on that server, which Drop removes; a URL naming a
// database is used as given.
func TestDatabasePostgres(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPG)
	if base == "" {
		t.Skipf("PostgreSQL half skipped: %s is not set (CI sets it)", storetest.EnvPG)
	}
	ctx := context.Background()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	server := *u
	server.Path = "/"
	s, err := Database(ctx, true, server.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Drop(context.Background()) })
	su, _ := url.Parse(s.URL)
	name := strings.TrimPrefix(su.Path, "/")
	if !s.Scratch || !strings.HasPrefix(name, "marketplane_bench_") || strings.Contains(s.Name, "@") {
		t.Fatalf("%s: %+v, want a scratch database named for a person without the URL", server.String(), s)
	}
	db, err := store.Open(ctx, s.URL, store.Options{HashParams: &storetest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate the scratch database: %v", err)
	}
	db.Close()

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	exists := func() bool {
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !exists() {
		t.Fatalf("scratch database %s not on the server", name)
	}
	if err := s.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Errorf("scratch database %s still there after Drop", name)
	}

	s, err = Database(ctx, true, base)
	if err != nil || s.Scratch || s.URL != base {
		t.Errorf("--db naming a database: %+v, %v; want it as given", s, err)
	}
}
