package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/demo"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// counts are the rows of the tables a load writes.
func counts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"accounts", "users", "user_roles", "audit_log"} {
		var n int
		if err := db.Read.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestLoadTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var out bytes.Buffer
		first, err := demo.Load(ctx, db, &out)
		if err != nil {
			t.Fatalf("first load: %v", err)
		}
		t.Logf("\n%s", out.String())
		if first.Provider.Name != demo.ProviderName || first.Resellers != 12 || first.Customers != 300 {
			t.Errorf("first load: provider %q, %d resellers, %d customers", first.Provider.Name, first.Resellers, first.Customers)
		}
		if first.AccountsCreated != 1+12+300 || first.UsersCreated != 19 || len(first.Logins) != 19 {
			t.Errorf("first load created %d accounts, %d users, %d logins", first.AccountsCreated, first.UsersCreated, len(first.Logins))
		}
		for _, want := range []string{"provider-admin", "demo-provider-admin-pw", "l1-3-admin", "l2-3-4-admin",
			"customer-1", "provider-support", "Support (read-only)", "marketplane serve"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("printed table lacks %q", want)
			}
		}
		before := counts(t, db)
		if before["accounts"] != 313 || before["users"] != 19 {
			t.Errorf("after the first load: %v", before)
		}

		// Someone changes a demo password; the second load must keep it.
		admin, err := db.UserByLogin(ctx, "l1-2-admin")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetPassword(ctx, account.SystemActor(), admin.ID, "a-changed-password"); err != nil {
			t.Fatal(err)
		}
		before = counts(t, db)

		out.Reset()
		second, err := demo.Load(ctx, db, &out)
		if err != nil {
			t.Fatalf("second load: %v", err)
		}
		if second.AccountsCreated != 0 || second.UsersCreated != 0 {
			t.Errorf("second load created %d accounts, %d users", second.AccountsCreated, second.UsersCreated)
		}
		if !strings.Contains(out.String(), "nothing changed") {
			t.Errorf("second load printed:\n%s", out.String())
		}
		if after := counts(t, db); !equal(before, after) {
			t.Errorf("second load changed counts: %v → %v", before, after)
		}
		if second.Provider.ID != first.Provider.ID || len(second.Logins) != len(first.Logins) {
			t.Errorf("second load: provider %d, %d logins", second.Provider.ID, len(second.Logins))
		}

		// Every demo login logs in with its printed password, except the
		// one whose password was changed, which kept the new one.
		for _, lg := range second.Logins {
			pw := lg.Password
			if lg.Login == "l1-2-admin" {
				if _, err := db.Login(ctx, lg.Login, pw, "127.0.0.1"); marketplane.ErrorCode(err) != marketplane.EUNAUTHORIZED {
					t.Errorf("l1-2-admin: the demo load reset a changed password (%v)", err)
				}
				pw = "a-changed-password"
			}
			u, err := db.Login(ctx, lg.Login, pw, "127.0.0.1")
			if err != nil {
				t.Errorf("login %s: %v", lg.Login, err)
				continue
			}
			if u.AccountID != lg.AccountID {
				t.Errorf("login %s: account %d, want %d", lg.Login, u.AccountID, lg.AccountID)
			}
		}
	})
}

// TestLoadTree checks the shape of the demo tree and what its users may do.
func TestLoadTree(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sum, err := demo.Load(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		sys := account.SystemActor()
		l1s, err := db.ListAccounts(ctx, sys, store.AccountFilter{Under: sum.Provider.ID, Kind: account.Reseller})
		if err != nil || len(l1s) != 3 {
			t.Fatalf("L1 resellers: %d, %v", len(l1s), err)
		}
		for i, want := range map[int]int{0: 2, 1: 3, 2: 4} {
			l2s, err := db.ListAccounts(ctx, sys, store.AccountFilter{Under: l1s[i].ID, Kind: account.Reseller})
			if err != nil || len(l2s) != want {
				t.Errorf("L2 resellers of %s: %d, %v; want %d", l1s[i].Name, len(l2s), err, want)
			}
		}
		custs, err := db.ListAccounts(ctx, sys, store.AccountFilter{Under: sum.Provider.ID, Descendants: true,
			Kind: account.Customer, Limit: 500})
		if err != nil || len(custs) != 300 {
			t.Fatalf("customers: %d, %v", len(custs), err)
		}
		currencies := map[string]int{}
		for _, c := range custs {
			currencies[c.Currency]++
			if c.Address.Country == "" || c.TimeZone == "" || c.Locale == "" || !strings.HasPrefix(c.Name, "Customer ") {
				t.Errorf("customer %+v lacks realistic fields", c)
			}
		}
		if currencies["USD"] == 0 || currencies["EUR"] == 0 || len(currencies) != 2 {
			t.Errorf("currencies %v", currencies)
		}

		actor := func(login string) *account.Actor {
			u, err := db.UserByLogin(ctx, login)
			if err != nil {
				t.Fatalf("%s: %v", login, err)
			}
			a, err := db.ActorForUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		deep := custs[0] // a customer, in path order first below L1-1's first L2 or L1-1
		for _, c := range custs {
			if c.Depth == 3 {
				deep = c
				break
			}
		}
		if err := db.Authorize(ctx, actor("provider-support"), account.ViewAccount, deep.ID); err != nil {
			t.Errorf("support views a customer: %v", err)
		}
		if err := db.Authorize(ctx, actor("provider-support"), account.ManageAccount, deep.ID); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("support manages a customer: %v, want forbidden", err)
		}
		if err := db.Authorize(ctx, actor("provider-admin"), account.AdminAccount, deep.ID); err != nil {
			t.Errorf("provider admin on a deep customer: %v", err)
		}
		// An L1 administrator does not see another L1's customers.
		var other *account.Account
		for _, c := range custs {
			if !strings.HasPrefix(c.Path, l1s[0].Path) {
				other = c
				break
			}
		}
		if err := db.Authorize(ctx, actor("l1-1-admin"), account.ViewAccount, other.ID); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("l1-1-admin on another L1's customer: %v, want not found", err)
		}
		for _, lg := range sum.Logins {
			if lg.Login == "customer-2" {
				a, err := db.Account(ctx, sys, lg.AccountID)
				if err != nil || a.Kind != account.Customer || a.Depth != 3 {
					t.Errorf("customer-2's account: %+v, %v; want a customer of an L2", a, err)
				}
			}
		}
	})
}

// TestLoadUsesExistingProvider checks that a provider made at first start
// is used, not duplicated.
func TestLoadUsesExistingProvider(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := &account.Account{Name: "Acme Distribution", Address: account.Address{Country: "GB"},
			Locale: "en-GB", Currency: "GBP", TimeZone: "Europe/London"}
		if err := db.CreateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		sum, err := demo.Load(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Provider.ID != p.ID || sum.AccountsCreated != 12+300 {
			t.Errorf("provider %d (want %d), created %d accounts", sum.Provider.ID, p.ID, sum.AccountsCreated)
		}
	})
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
