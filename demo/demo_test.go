package demo_test

import (
	"bytes"
	"context"
	"slices"
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
	for _, table := range []string{"accounts", "users", "user_roles", "audit_log",
		"resource_types", "templates", "plan_categories", "sales_categories", "plans"} {
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
		// The demo catalog: 14 resource types, 4 templates, 3 plan and 6
		// sales categories, 8 plans; each plan copied to the 3 L1 and the
		// 9 L2 resellers.
		if first.Plans != 8 || first.CatalogCreated != 35 || first.Copies != 8*12 || first.CopiesCreated != 8*12 || first.CatalogSkipped != "" {
			t.Errorf("first load: %d plans (%d catalog objects created), %d copies (%d created), skipped %q",
				first.Plans, first.CatalogCreated, first.Copies, first.CopiesCreated, first.CatalogSkipped)
		}
		for _, want := range []string{"provider-admin", "demo-provider-admin-pw", "l1-3-admin", "l2-3-4-admin",
			"customer-1", "provider-support", "Support (read-only)", "marketplane serve",
			"Catalog: 8 plans of the provider, delegated as 96 copies", "35 catalog objects, 96 plan copies"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("printed table lacks %q", want)
			}
		}
		before := counts(t, db)
		if before["accounts"] != 313 || before["users"] != 19 || before["plans"] != 8+96 {
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
		if second.AccountsCreated != 0 || second.UsersCreated != 0 || second.CatalogCreated != 0 || second.CopiesCreated != 0 {
			t.Errorf("second load created %d accounts, %d users, %d catalog objects, %d copies",
				second.AccountsCreated, second.UsersCreated, second.CatalogCreated, second.CopiesCreated)
		}
		if second.Plans != 8 || second.Copies != 96 {
			t.Errorf("second load found %d plans, %d copies", second.Plans, second.Copies)
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

// TestLoadCatalog checks the demo catalog down the tree: each L2 reseller
// sells the provider's plans at the provider's price × 1.2 (its L1's
// markup) × 1.1 (its own), each step rounded to the cent, and in euros at
// the demo's exchange rate of 0.92 where the L1 sells in euros.
func TestLoadCatalog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sum, err := demo.Load(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		sys := account.SystemActor()
		accountOf := map[string]int64{}
		for _, lg := range sum.Logins {
			accountOf[lg.Login] = lg.AccountID
		}
		price := func(owner int64, plan, path string) string {
			t.Helper()
			p, err := db.PlanByKey(ctx, sys, owner, plan)
			if err != nil {
				t.Fatalf("plan %s of account %d: %v", plan, owner, err)
			}
			kind, key, _ := strings.Cut(path, ":")
			if kind == "rate" {
				r, ok := p.Rate(key)
				if !ok {
					t.Fatalf("plan %s of account %d has no rate %s", plan, owner, key)
				}
				return p.Currency + " " + r.Recurring.Amount.String()
			}
			pe, ok := p.Period(key)
			if !ok {
				t.Fatalf("plan %s of account %d has no period %s", plan, owner, key)
			}
			return p.Currency + " " + pe.Recurring.Amount.String()
		}
		cases := []struct {
			l1, l2, plan, fee    string // fee: "period:KEY" or "rate:KEY", its recurring price
			provider, atL1, atL2 string
		}{
			// 20.00 × 1.2 = 24.00; × 1.1 = 26.40.
			{"l1-1-admin", "l2-1-1-admin", "office-pro", "period:1m", "USD 20.00", "USD 24.00", "USD 26.40"},
			// 3.50 × 1.2 = 4.20; × 1.1 = 4.62.
			{"l1-1-admin", "l2-1-1-admin", "office-basic", "period:12m", "USD 3.50", "USD 4.20", "USD 4.62"},
			// 162.00 × 1.2 = 194.40; × 1.1 = 213.84.
			{"l1-1-admin", "l2-1-2-admin", "vps-standard", "period:12m", "USD 162.00", "USD 194.40", "USD 213.84"},
			// 0.20 × 1.2 = 0.24; × 1.1 = 0.264, rounded to the cent.
			{"l1-1-admin", "l2-1-1-admin", "office-basic", "rate:office-storage", "USD 0.20", "USD 0.24", "USD 0.26"},
			// 20.00 USD × 0.92 = 18.40 EUR; × 1.2 = 22.08; × 1.1 = 24.288 → 24.29.
			{"l1-2-admin", "l2-2-1-admin", "office-pro", "period:1m", "USD 20.00", "EUR 22.08", "EUR 24.29"},
		}
		for _, c := range cases {
			got := []string{price(sum.Provider.ID, c.plan, c.fee), price(accountOf[c.l1], c.plan, c.fee), price(accountOf[c.l2], c.plan, c.fee)}
			if want := []string{c.provider, c.atL1, c.atL2}; !slices.Equal(got, want) {
				t.Errorf("%s %s down the tree to %s: %v, want %v", c.plan, c.fee, c.l2, got, want)
			}
		}

		// Copies link to their source, keep its upgrade paths, carry their
		// rule and are on sale.
		l2 := accountOf["l2-1-1-admin"]
		cp, err := db.PlanByKey(ctx, sys, l2, "office-basic")
		if err != nil {
			t.Fatal(err)
		}
		src, err := db.Plan(ctx, sys, cp.SourceID)
		if err != nil || src.OwnerID != accountOf["l1-1-admin"] || src.SourceID == 0 {
			t.Fatalf("source of the L2 copy: %+v, %v", src, err)
		}
		if !slices.Equal(cp.UpgradeTo, []string{"office-pro", "office-standard"}) || cp.Rule == nil ||
			cp.Rule.Percent != "10" || !cp.OnSale() || cp.PlanCategory != "office-editions" {
			t.Errorf("L2 copy: upgrade to %v, rule %+v, on sale %v, category %q", cp.UpgradeTo, cp.Rule, cp.OnSale(), cp.PlanCategory)
		}

		// A customer of an L2 reseller buys from it; a customer of its
		// L1 does not see the L2's shelf.
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
		forSale, err := db.PlansForSale(ctx, actor("customer-2"), l2, store.PlanFilter{})
		if err != nil || len(forSale) != 8 {
			t.Fatalf("customer-2 sees %d plans of its vendor, %v", len(forSale), err)
		}
		for _, p := range forSale {
			if p.OwnerID != l2 || p.SourceID == 0 {
				t.Errorf("customer-2 is offered plan %d of %d", p.ID, p.OwnerID)
			}
		}
		if _, err := db.PlansForSale(ctx, actor("customer-1"), l2, store.PlanFilter{}); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("customer-1 (of the L1) on the L2's plans: %v, want not found", err)
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
		var out bytes.Buffer
		sum, err := demo.Load(ctx, db, &out)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Provider.ID != p.ID || sum.AccountsCreated != 12+300 {
			t.Errorf("provider %d (want %d), created %d accounts", sum.Provider.ID, p.ID, sum.AccountsCreated)
		}
		// The demo catalog is priced in dollars; a provider selling in
		// pounds gets none rather than dollar prices in pounds.
		if sum.CatalogSkipped == "" || sum.Plans != 0 || counts(t, db)["plans"] != 0 ||
			!strings.Contains(out.String(), "Catalog: not loaded: the demo catalog is priced in USD and Acme Distribution sells in GBP") {
			t.Errorf("catalog with a GBP provider: %+v\n%s", sum, out.String())
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
