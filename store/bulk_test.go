package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// bulkSetup returns a migrated database with a provider.
func bulkSetup(t *testing.T, db *store.DB) *account.Account {
	t.Helper()
	p := &account.Account{Name: "Bulk Provider", Address: account.Address{Country: "US"},
		Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
	if err := db.CreateProvider(context.Background(), p); err != nil {
		t.Fatalf("create provider: %v", err)
	}
	return p
}

func bulkAccount(kind account.Kind, parentID int64, name string) *account.Account {
	return &account.Account{Kind: kind, ParentID: parentID, Name: name,
		Address: account.Address{Country: "DE", City: "Berlin"}, Locale: "de-DE", Currency: "EUR", TimeZone: "Europe/Berlin"}
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestCreateAccountsBulk(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := bulkSetup(t, db)
		sys := account.SystemActor()
		auditBefore := countRows(t, db, "audit_log")

		// Two L1 resellers, each with an L2 reseller and customers below
		// both levels; the customers of the L2 come in the batch before the
		// second L1, so placeholders are resolved across the whole slice.
		var batch []*account.Account
		add := func(a *account.Account) *account.Account { batch = append(batch, a); return a }
		l1a := add(bulkAccount(account.Reseller, p.ID, "L1 A"))
		l1a.ID, l1a.ExternalID = -1, "l1-a"
		l2a := add(bulkAccount(account.Reseller, -1, "L2 A"))
		l2a.ID = -2
		var custs []*account.Account
		for i := range 3 {
			custs = append(custs, add(bulkAccount(account.Customer, -2, fmt.Sprintf("Customer L2A %d", i))))
			custs = append(custs, add(bulkAccount(account.Customer, -1, fmt.Sprintf("Customer L1A %d", i))))
		}
		l1b := add(bulkAccount(account.Reseller, p.ID, "  L1 B  "))
		l1b.ID = -3
		cb := add(bulkAccount(account.Customer, -3, "Customer L1B"))
		cp := add(bulkAccount(account.Customer, p.ID, "Direct customer"))

		if err := db.CreateAccountsBulk(ctx, batch); err != nil {
			t.Fatalf("bulk create: %v", err)
		}
		for _, a := range batch {
			if a.ID <= 0 || a.Version != 1 || a.CreatedAt.IsZero() || a.Status != account.StatusActive {
				t.Errorf("%s: id %d version %d created %v status %s", a.Name, a.ID, a.Version, a.CreatedAt, a.Status)
			}
			got, err := db.Account(ctx, sys, a.ID)
			if err != nil {
				t.Fatalf("read %s: %v", a.Name, err)
			}
			if got.Path != a.Path || got.Depth != a.Depth || got.ParentID != a.ParentID || got.Kind != a.Kind {
				t.Errorf("%s: stored path %q depth %d parent %d kind %s, returned %q %d %d %s",
					a.Name, got.Path, got.Depth, got.ParentID, got.Kind, a.Path, a.Depth, a.ParentID, a.Kind)
			}
			if !got.CreatedAt.Equal(a.CreatedAt) {
				t.Errorf("%s: stored created_at %v, returned %v", a.Name, got.CreatedAt, a.CreatedAt)
			}
		}
		if got, _ := db.Account(ctx, sys, l1b.ID); got.Name != "L1 B" {
			t.Errorf("name stored as %q, want it trimmed", got.Name)
		}
		wantPath := map[*account.Account]string{
			l1a: account.ChildPath(p.Path, l1a.ID),
			l2a: account.ChildPath(account.ChildPath(p.Path, l1a.ID), l2a.ID),
			l1b: account.ChildPath(p.Path, l1b.ID),
			cb:  account.ChildPath(account.ChildPath(p.Path, l1b.ID), cb.ID),
			cp:  account.ChildPath(p.Path, cp.ID),
		}
		for a, w := range wantPath {
			if a.Path != w {
				t.Errorf("%s: path %q, want %q", a.Name, a.Path, w)
			}
		}
		if l2a.ParentID != l1a.ID || l2a.Depth != 2 || l1a.Depth != 1 || cb.ParentID != l1b.ID {
			t.Errorf("parents: l2a %d (l1a %d) depth %d, cb %d (l1b %d)", l2a.ParentID, l1a.ID, l2a.Depth, cb.ParentID, l1b.ID)
		}
		for _, c := range custs {
			want := 2
			if c.ParentID == l2a.ID {
				want = 3
			}
			if c.Depth != want {
				t.Errorf("%s: depth %d, want %d", c.Name, c.Depth, want)
			}
		}

		// The tree queries see the new accounts.
		n, err := db.CountDescendants(ctx, sys, l1a.ID)
		if err != nil || n != 7 {
			t.Errorf("descendants of L1 A: %d, %v; want 7", n, err)
		}
		n, err = db.CountDescendants(ctx, sys, p.ID)
		if err != nil || n != len(batch) {
			t.Errorf("descendants of the provider: %d, %v; want %d", n, err, len(batch))
		}
		list, err := db.ListAccounts(ctx, sys, store.AccountFilter{Under: l1a.ID, Descendants: true})
		if err != nil || len(list) != 7 {
			t.Fatalf("list below L1 A: %d accounts, %v; want 7", len(list), err)
		}
		if list[0].ID != l2a.ID {
			t.Errorf("first of the subtree in path order is %s, want L2 A", list[0].Name)
		}
		children, err := db.ListAccounts(ctx, sys, store.AccountFilter{Under: p.ID})
		if err != nil || len(children) != 3 {
			t.Errorf("children of the provider: %d, %v; want 3", len(children), err)
		}
		if got, err := db.AccountByExternalID(ctx, sys, p.ID, "l1-a"); err != nil || got.ID != l1a.ID {
			t.Errorf("by external id: %v, %v", got, err)
		}

		// One audit entry for the batch, on the common ancestor.
		if got := countRows(t, db, "audit_log"); got != auditBefore+1 {
			t.Errorf("audit entries: %d new, want 1", got-auditBefore)
		}
		var action, changes, path string
		if err := db.Read.QueryRowContext(ctx, `SELECT action, changes, account_path FROM audit_log ORDER BY id DESC LIMIT 1`).
			Scan(&action, &changes, &path); err != nil {
			t.Fatal(err)
		}
		if action != "account.bulk_create" || path != p.Path || !jsonHasCount(changes, len(batch)) {
			t.Errorf("audit entry %s %s on %s", action, changes, path)
		}

		// A second batch below existing accounts only.
		more := []*account.Account{bulkAccount(account.Customer, l2a.ID, "Late 1"), bulkAccount(account.Customer, l2a.ID, "Late 2")}
		if err := db.CreateAccountsBulk(ctx, more); err != nil {
			t.Fatalf("second batch: %v", err)
		}
		if more[0].Path != account.ChildPath(l2a.Path, more[0].ID) || more[1].ID <= l1b.ID {
			t.Errorf("second batch: %q id %d", more[0].Path, more[1].ID)
		}
		if err := db.Read.QueryRowContext(ctx, `SELECT account_path FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&path); err != nil || path != l2a.Path {
			t.Errorf("audit of a batch below one reseller is on %q, want %q", path, l2a.Path)
		}

		// A single account made through the ordinary path afterwards gets a
		// fresh id: the reserved ids moved the id counter along.
		solo := bulkAccount(account.Customer, l1b.ID, "Solo")
		if err := db.CreateAccount(ctx, sys, solo); err != nil {
			t.Fatalf("create after bulk: %v", err)
		}
		if solo.ID <= more[1].ID {
			t.Errorf("id after bulk %d, want above %d", solo.ID, more[1].ID)
		}
	})
}

func jsonHasCount(changes string, n int) bool {
	return changes == fmt.Sprintf(`{"count": %d}`, n) || changes == fmt.Sprintf(`{"count":%d}`, n)
}

func TestCreateAccountsBulkAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := bulkSetup(t, db)
		existing := bulkAccount(account.Customer, p.ID, "Existing customer")
		existing.ExternalID = "taken"
		if err := db.CreateAccountsBulk(ctx, []*account.Account{existing}); err != nil {
			t.Fatal(err)
		}
		accountsBefore, auditBefore := countRows(t, db, "accounts"), countRows(t, db, "audit_log")

		batch := func() []*account.Account {
			r := bulkAccount(account.Reseller, p.ID, "Reseller")
			r.ID = -1
			out := []*account.Account{r}
			for i := range 20 {
				out = append(out, bulkAccount(account.Customer, -1, fmt.Sprintf("Customer %d", i)))
			}
			return out
		}
		cases := []struct {
			name string
			bad  func(b []*account.Account) []*account.Account
			code string
		}{
			{"empty name", func(b []*account.Account) []*account.Account { b[7].Name = " "; return b }, marketplane.EINVALID},
			{"bad currency", func(b []*account.Account) []*account.Account { b[20].Currency = "eur"; return b }, marketplane.EINVALID},
			{"unknown parent", func(b []*account.Account) []*account.Account { b[3].ParentID = 999999; return b }, marketplane.EINVALID},
			{"later placeholder", func(b []*account.Account) []*account.Account { b[0].ParentID = -5; return b }, marketplane.EINVALID},
			{"customer as parent", func(b []*account.Account) []*account.Account { b[4].ParentID = existing.ID; return b }, marketplane.EINVALID},
			{"placeholder customer as parent", func(b []*account.Account) []*account.Account {
				b[1].ID = -9
				b[2].ParentID = -9
				return b
			}, marketplane.EINVALID},
			{"provider", func(b []*account.Account) []*account.Account { b[5].Kind = account.Provider; return b }, marketplane.EINVALID},
			{"duplicate external id in batch", func(b []*account.Account) []*account.Account {
				b[1].ExternalID, b[2].ExternalID = "x", "x"
				return b
			}, marketplane.ECONFLICT},
			// Caught by the database's unique index, in the middle of the
			// COPY or INSERT: the transaction still leaves nothing.
			{"external id taken", func(b []*account.Account) []*account.Account {
				b = append(b, bulkAccount(account.Customer, p.ID, "Twin"))
				b[len(b)-1].ExternalID = "taken"
				return b
			}, marketplane.ECONFLICT},
		}
		for _, c := range cases {
			b := c.bad(batch())
			err := db.CreateAccountsBulk(ctx, b)
			if marketplane.ErrorCode(err) != c.code {
				t.Errorf("%s: got %v (code %q), want %s", c.name, err, marketplane.ErrorCode(err), c.code)
			}
			if b[0].ID > 0 {
				t.Errorf("%s: a failed batch handed out id %d", c.name, b[0].ID)
			}
		}
		if got := countRows(t, db, "accounts"); got != accountsBefore {
			t.Errorf("failed batches left %d accounts", got-accountsBefore)
		}
		if got := countRows(t, db, "audit_log"); got != auditBefore {
			t.Errorf("failed batches left %d audit entries", got-auditBefore)
		}
		// The same batch, unbroken, goes in.
		b := batch()
		if err := db.CreateAccountsBulk(ctx, b); err != nil {
			t.Fatalf("good batch after failures: %v", err)
		}
		if n, err := db.CountDescendants(ctx, account.SystemActor(), b[0].ID); err != nil || n != 20 {
			t.Errorf("descendants: %d, %v", n, err)
		}
	})
}

// TestCreateAccountsBulkLarge crosses the SQLite statement size (500 rows)
// and PostgreSQL's COPY with a few thousand rows.
func TestCreateAccountsBulkLarge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := bulkSetup(t, db)
		const n = 2345
		batch := make([]*account.Account, 0, n)
		for i := range 10 {
			r := bulkAccount(account.Reseller, p.ID, fmt.Sprintf("R%d", i))
			r.ID = int64(-1 - i)
			batch = append(batch, r)
		}
		for i := len(batch); i < n; i++ {
			c := bulkAccount(account.Customer, int64(-1-i%10), fmt.Sprintf("C%d", i))
			c.ExternalID = fmt.Sprintf("c-%d", i)
			batch = append(batch, c)
		}
		if err := db.CreateAccountsBulk(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if got, err := db.CountDescendants(ctx, account.SystemActor(), p.ID); err != nil || got != n {
			t.Errorf("descendants %d, %v; want %d", got, err, n)
		}
		below3 := 0
		for _, a := range batch {
			if a.ParentID == batch[3].ID {
				below3++
			}
		}
		if got, err := db.CountDescendants(ctx, account.SystemActor(), batch[3].ID); err != nil || got != below3 {
			t.Errorf("descendants of R3 %d, %v; want %d", got, err, below3)
		}
	})
}
