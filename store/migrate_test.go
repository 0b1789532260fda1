package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestMigrationsInLockstep checks that both engines' migrations produce the
// same tables and columns.
func TestMigrationsInLockstep(t *testing.T) {
	t.Parallel()
	lite := storetest.Open(t, store.SQLite)
	pg := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	a, err := lite.Columns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pg.Columns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ours := func(cols []string) []string {
		var out []string
		for _, c := range cols {
			// The migration library's own bookkeeping table differs by design.
			if !strings.HasPrefix(c, "goose_db_version.") {
				out = append(out, c)
			}
		}
		slices.Sort(out)
		return out
	}
	a, b = ours(a), ours(b)
	if len(a) < 40 {
		t.Fatalf("only %d columns on SQLite: %v", len(a), a)
	}
	if !slices.Equal(a, b) {
		for _, c := range a {
			if !slices.Contains(b, c) {
				t.Errorf("only on SQLite: %s", c)
			}
		}
		for _, c := range b {
			if !slices.Contains(a, c) {
				t.Errorf("only on PostgreSQL: %s", c)
			}
		}
	}
}

func TestMigrateTwiceAndNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Current != st.Latest || len(st.Pending) != 0 {
			t.Fatalf("status after migrate: %+v", st)
		}
		// Pretend a newer binary migrated this database.
		if _, err := db.Write.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)`, st.Latest+1, true); err != nil {
			t.Fatal(err)
		}
		err = db.Migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), "upgrade marketplane") {
			t.Fatalf("migrate on a newer schema: %v", err)
		}
	})
}
