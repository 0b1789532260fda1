package api

import (
	"context"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// refused sends a request that must be refused with 400 naming field, and
// returns nothing: callers check that nothing was stored.
func (f *fixture) refused(t *testing.T, field, who, method, path string, body any) {
	t.Helper()
	p := f.must(t, 400, who, method, path, body).Problem(t)
	if !slices.Contains(p.locations(), field) {
		t.Errorf("%s %s: errors at %v, want %s", method, path, p.locations(), field)
	}
}

// TestCurrenciesAreReal: an account or a plan in a code that is not a
// circulating ISO 4217 currency (ZZZ, XXX, BTC, XAU, XTS) is refused
// when made and when changed, on both engines.
func TestCurrenciesAreReal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		withCatalog(t, f)
		before := countAccounts(t, f)
		for _, code := range []string{"ZZZ", "XXX", "BTC", "XAU", "XTS"} {
			body := newCustomerBody(f.L2.ID, "Customer in "+code)
			body["currency"] = code
			f.refused(t, "body.currency", "L2", "POST", "/accounts", body)
			f.refused(t, "body.currency", "L2", "PATCH", "/accounts/"+id(f.C.ID), map[string]any{"currency": code})
			plan := planBody("plan-" + code)
			plan["currency"] = code
			f.refused(t, "body.currency", "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", plan)
		}
		if n := countAccounts(t, f); n != before {
			t.Errorf("%d accounts after refused ones, want %d", n, before)
		}
		var c Account
		f.must(t, 200, "C", "GET", "/accounts/"+id(f.C.ID), nil).JSON(t, &c)
		if c.Currency != "USD" || c.Version != 1 {
			t.Errorf("customer after refused changes: %s v%d", c.Currency, c.Version)
		}
		// A real currency other than the parent's is fine.
		body := newCustomerBody(f.L2.ID, "Customer in CHF")
		body["currency"] = "CHF"
		f.must(t, 201, "L2", "POST", "/accounts", body)
	})
}

// TestAmountsArePlainDecimals: an amount is digits with an optional '.'
// and decimals; "1e5" was recorded as a payment of 100,000.00.
func TestAmountsArePlainDecimals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		withCatalog(t, f)
		for _, amount := range []string{"1e5", "1E2", "+5.00", " 5.00", "0x10", ".5", "5.", "NaN", "Infinity"} {
			f.refused(t, "body.amount", "L2", "POST", "/accounts/"+id(f.C.ID)+"/payments", map[string]any{"amount": amount, "method": "bank transfer"})
			f.refused(t, "body.credit_limit", "L2", "PATCH", "/accounts/"+id(f.C.ID), map[string]any{"credit_limit": amount})
			plan := planBody("plan-amount")
			plan["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": amount}
			f.refused(t, "body.periods[0].recurring.amount", "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", plan)
		}
		credit, err := db.Credit(context.Background(), account.SystemActor(), f.C.ID)
		if err != nil {
			t.Fatal(err)
		}
		if credit.Balance != 0 {
			t.Errorf("balance %s after refused payments, want 0.00", credit.Balance)
		}
		var c Account
		f.must(t, 200, "C", "GET", "/accounts/"+id(f.C.ID), nil).JSON(t, &c)
		if c.CreditLimit != "0.00" || c.Version != 1 {
			t.Errorf("credit limit %s v%d after refused changes", c.CreditLimit, c.Version)
		}
		// A plain amount is recorded to the cent.
		var d Document
		f.must(t, 201, "L2", "POST", "/accounts/"+id(f.C.ID)+"/payments", map[string]any{"amount": "100000.05", "method": "bank transfer"}).JSON(t, &d)
		if d.Total != "-100000.05" {
			t.Errorf("payment total %s, want -100000.05", d.Total)
		}
	})
}

// TestInvisibleNamesRefused: names and logins made only of invisible or
// bidirectional control characters, or holding a bidi override, are
// refused wherever a name is set, on both engines.
func TestInvisibleNamesRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		withCatalog(t, f)
		users := "/accounts/" + id(f.L2.ID) + "/users"
		support := f.roles[account.RoleSupport].ID
		for _, name := range []string{"\u200b", "\u202e", "\u200e", "\ufeff", "\u200b \u2066\u2069", "Acme\u202egpj.exe"} {
			f.refused(t, "body.name", "L2", "POST", "/accounts", newCustomerBody(f.L2.ID, name))
			f.refused(t, "body.name", "C", "PATCH", "/accounts/"+id(f.C.ID), map[string]any{"name": name})
			f.refused(t, "body.login", "L2", "POST", users, map[string]any{"login": name, "password": "a long enough password", "role_ids": []int64{support}})
			f.refused(t, "body.display_name", "L2", "POST", users, map[string]any{"login": "visible", "display_name": name,
				"password": "a long enough password", "role_ids": []int64{support}})
			f.refused(t, "body.name", "L2", "POST", "/accounts/"+id(f.L2.ID)+"/roles", map[string]any{"name": name,
				"grants": []map[string]any{{"privilege": "orders", "level": "view"}}})
			plan := planBody("plan-invisible")
			plan["name"] = map[string]string{"en": name}
			f.refused(t, "body.name", "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", plan)
			f.refused(t, "body.name", "L2", "POST", "/accounts/"+id(f.L2.ID)+"/api-keys", map[string]any{"name": name, "role_id": support})
		}
		// A login that reads like another through a zero-width space.
		f.refused(t, "body.login", "L2", "POST", users, map[string]any{"login": "admin-l2\u200b", "password": "a long enough password", "role_ids": []int64{support}})
		var list struct{ Items []User }
		f.must(t, 200, "L2", "GET", users, nil).JSON(t, &list)
		if len(list.Items) != 1 {
			t.Errorf("%d users after refused ones, want 1", len(list.Items))
		}
		var c Account
		f.must(t, 200, "C", "GET", "/accounts/"+id(f.C.ID), nil).JSON(t, &c)
		if c.Name != f.C.Name {
			t.Errorf("customer renamed to %q", c.Name)
		}
		// Names in right-to-left scripts, with a direction mark, are names.
		f.must(t, 201, "L2", "POST", "/accounts", newCustomerBody(f.L2.ID, "\u200eשלום Acme"))
	})
}

func countAccounts(t *testing.T, f *fixture) int {
	t.Helper()
	n, err := f.db.CountDescendants(context.Background(), account.SystemActor(), f.P.ID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
