package api

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// moneyShaped is how the API writes an amount: a decimal with two places
// (the currencies of the tests have two minor digits).
var moneyShaped = regexp.MustCompile(`^-?[0-9]+\.[0-9]{2}$`)

// amountKeys are members that hold amounts wherever they appear.
var amountKeys = []string{"amount", "total", "applied", "amount_due", "balance", "credit_limit", "prepaid_funds", "open",
	"overdue", "rated_usage", "unbilled", "available", "revenue", "cost", "margin", "current", "days_1_30", "days_31_60",
	"days_61_90", "over_90", "max_retail", "suggested_retail", "non_refundable", "fixed"}

// amountsIn lists where an answer holds an amount: a money-shaped string or
// a member named as one.
func amountsIn(v any, at string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			if _, nested := m.([]any); !nested && slices.Contains(amountKeys, k) {
				if _, nested := m.(map[string]any); nested {
					out = append(out, amountsIn(m, at+"."+k)...)
					continue
				}
				out = append(out, fmt.Sprintf("%s.%s = %v", at, k, m))
				continue
			}
			out = append(out, amountsIn(m, at+"."+k)...)
		}
	case []any:
		for i, m := range x {
			out = append(out, amountsIn(m, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case string:
		if moneyShaped.MatchString(x) {
			out = append(out, fmt.Sprintf("%s = %q", at, x))
		}
	}
	return out
}

// noPricesRole is a role of acct with everything the built-in account
// administrator holds but show_prices.
func noPricesRole(t *testing.T, f *fixture, acct *account.Account) *account.Role {
	t.Helper()
	var grants []account.Grant
	for _, r := range account.BuiltInRoles() {
		if r.Key == account.RoleAdmin {
			for _, g := range r.Grants {
				if g.Privilege != account.PrivShowPrices {
					grants = append(grants, g)
				}
			}
		}
	}
	r := &account.Role{AccountID: acct.ID, Name: "Everything but prices", Grants: grants}
	if err := f.db.CreateRole(context.Background(), account.SystemActor(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNoPricesWithoutShowPrices walks the API as a reseller's user and a
// customer's user whose role lacks show_prices: every GET operation of the
// document, and the writes whose answers carry amounts (quotes, orders,
// changes, payments, holds, plans). No answer holds an amount; the rendered
// documents are refused. The same walk by the account administrators
// finds amounts in the same answers, so the scan does look.
func TestNoPricesWithoutShowPrices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		gamma := ownedBy(t, f, f.L2, "Gamma")
		withOrders(t, f)
		mine := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 8))
		role := noPricesRole(t, f, f.L2)
		docs, err := db.Documents(context.Background(), account.SystemActor(), store.DocumentFilter{AccountID: f.C.ID, Type: store.DocInvoice})
		if err != nil || len(docs) == 0 {
			t.Fatalf("C's invoices: %v, %v", docs, err)
		}
		f.keys["L2-np"] = newKey(t, db, f.L2.ID, role.ID)
		f.keys["C-np"] = newKey(t, db, f.C.ID, role.ID)

		// The concrete path of each GET operation, per caller: its own
		// things, and for the buyer's views (offers, credit) a buyer.
		type things struct{ account, buyer, offer, plan, order, sub, doc, user string }
		ids := map[string]things{
			"L2": {id(f.L2.ID), id(gamma.customer.ID), id(gamma.planID), id(l2.ID), id(mine.ID), id(gamma.subscriptionID),
				id(gamma.documentID), id(f.admins["L2"].ID)},
			"C": {id(f.C.ID), id(f.C.ID), id(l2.ID), id(l2.ID), id(mine.ID), id(mine.SubscriptionID), id(docs[0].ID),
				id(f.admins["C"].ID)},
		}
		query := map[string]string{
			"get-revenue-report": "?from=2027-01-01&to=2027-02-01", "get-margins-report": "?from=2027-01-01&to=2027-02-01",
			"get-aging-report": "?on=2027-01-10", "list-events": "?account_id=" + id(f.L2.ID),
		}
		type call struct{ op, method, path string }
		var gets []call
		for _, o := range f.api.operations {
			if o.Method == "GET" {
				gets = append(gets, call{o.OperationID, o.Method, o.Path})
			}
		}
		if len(gets) < 40 {
			t.Fatalf("only %d GET operations", len(gets))
		}
		pathFor := func(who string, c call) string {
			my := ids[strings.TrimSuffix(who, "-np")]
			first, _, _ := strings.Cut(strings.TrimPrefix(c.path, "/"), "/")
			var x string
			switch first {
			case "accounts", "vendors":
				x = my.account
				if strings.Contains(c.path, "/offer") || strings.HasSuffix(c.path, "/credit") {
					x = my.buyer
				}
			case "plans":
				x = my.plan
			case "orders":
				x = my.order
			case "subscriptions":
				x = my.sub
			case "documents":
				x = my.doc
			case "users":
				x = my.user
			case "roles":
				x = id(role.ID)
			case "api-keys":
				x = id(gamma.keyID)
			case "tasks":
				x = id(gamma.taskID)
			case "sync-runs":
				x = id(gamma.syncRunID)
			case "webhooks":
				x = id(gamma.webhookID)
			}
			if c.op == "list-documents" {
				return c.path + "?account_id=" + my.buyer
			}
			return strings.NewReplacer("{id}", x, "{plan_id}", my.offer, "{name}", "none",
				"{key}", map[string]string{"resource-types": "mailbox", "templates": "office"}[first]).Replace(c.path) + query[c.op]
		}

		walk := func(who string) (answers map[string][]string) {
			answers = map[string][]string{}
			for _, c := range gets {
				path := pathFor(who, c)
				if strings.Contains(path, "{") {
					t.Fatalf("%s: no concrete path for %s", c.op, c.path)
				}
				r := f.call(t, who, c.method, path, nil)
				if r.Status >= 500 {
					t.Errorf("%s %s as %s: %d %s", c.method, path, who, r.Status, r.Body)
					continue
				}
				if c.op == "get-document-pdf" || c.op == "get-document-html" {
					answers[c.op] = []string{fmt.Sprint(r.Status)}
					continue
				}
				var body any
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Errorf("%s as %s: %v", c.op, who, err)
					continue
				}
				if r.Status < 300 {
					answers[c.op] = append(amountsIn(body, c.op), "ok")
				}
			}
			return answers
		}
		for _, who := range []string{"L2-np", "C-np"} {
			admin := strings.TrimSuffix(who, "-np")
			seen, hidden := walk(admin), walk(who)
			for op, found := range hidden {
				if op == "get-document-pdf" || op == "get-document-html" {
					if found[0] != "403" || seen[op][0] != "200" {
						t.Errorf("%s: %s as %s, %s as %s", op, found[0], who, seen[op][0], admin)
					}
					continue
				}
				if len(found) > 1 {
					t.Errorf("%s as %s shows amounts: %v", op, who, found[:len(found)-1])
				}
			}
			// What the administrators see, so that the scan is known to look.
			for _, op := range []string{"get-order", "list-orders", "get-subscription", "list-offers", "get-offer",
				"get-document", "list-documents", "get-account-credit", "list-subscription-offers"} {
				if len(hidden[op]) == 0 {
					t.Errorf("%s as %s: no answer", op, who)
				}
				if op != "get-subscription" && len(seen[op]) < 2 {
					t.Errorf("%s as %s shows no amount: the scan does not look", op, admin)
				}
			}
		}

		// A plan read without its prices cannot be put back whole (its
		// prices would be 0): PUT is refused and nothing changes; a merge
		// patch changes what it names and keeps the prices.
		plan := "/plans/" + id(gamma.planID)
		var blind map[string]any
		f.must(t, 200, "L2-np", "GET", plan, nil).JSON(t, &blind)
		for _, k := range []string{"id", "owner_id", "on_sale", "needs_confirmation", "changed_upstream", "version", "created_at", "updated_at"} {
			delete(blind, k) // what a client strips before a PUT
		}
		blind["name"] = map[string]string{"en": "Renamed"}
		f.must(t, 403, "L2-np", "PUT", plan, blind).Problem(t)
		f.must(t, 200, "L2-np", "PATCH", plan, map[string]any{"name": map[string]string{"en": "Renamed"}},
			"Content-Type", "application/merge-patch+json")
		var kept Plan
		f.must(t, 200, "L2", "GET", plan, nil).JSON(t, &kept)
		if kept.Name["en"] != "Renamed" || kept.Periods[0].Recurring.Amount != "10.00" || kept.Periods[0].Setup.Amount != "5.00" ||
			kept.Rates[0].Recurring.Amount != "2.50" {
			t.Errorf("after the patch without prices: %+v", kept)
		}

		// The writes whose answers carry amounts.
		gc, sub := id(gamma.customer.ID), "/subscriptions/"+id(gamma.subscriptionID)
		for _, w := range []struct {
			who, method, path string
			body              any
		}{
			{"L2-np", "POST", "/quotes", orderBody(gamma.customer.ID, l2.ID, 8)},
			{"L2-np", "POST", "/orders", orderBody(gamma.customer.ID, l2.ID, 8)},
			{"C-np", "POST", "/quotes", orderBody(f.C.ID, l2.ID, 6)},
			{"C-np", "POST", "/orders", orderBody(f.C.ID, l2.ID, 6)},
			{"L2-np", "POST", sub + "/change/quote", map[string]any{"resources": map[string]int64{"mailbox": 7}}},
			{"L2-np", "POST", sub + "/change", map[string]any{"resources": map[string]int64{"mailbox": 7}}},
			{"L2-np", "POST", "/accounts/" + gc + "/payments", map[string]any{"amount": "1.00", "method": "bank transfer"}},
			{"L2-np", "POST", "/accounts/" + gc + "/top-ups", map[string]any{"amount": "1.00", "method": "bank transfer"}},
			{"L2-np", "PATCH", "/accounts/" + gc, map[string]any{"name": "Gamma customer renamed"}},
			{"L2-np", "POST", "/accounts/" + gc + "/credit-hold", map[string]any{"reason": "testing"}},
			{"L2-np", "POST", "/accounts/" + gc + "/credit-hold/release", map[string]any{"days": 3, "reason": "testing"}},
			{"L2-np", "POST", "/accounts/" + id(f.L2.ID) + "/plans", planBody("np-plan")},
			{"C-np", "POST", "/subscriptions/" + id(mine.SubscriptionID) + "/cancel", nil},
		} {
			r := f.call(t, w.who, w.method, w.path, w.body)
			if r.Status >= 300 {
				t.Errorf("%s %s as %s: %d %s", w.method, w.path, w.who, r.Status, r.Body)
				continue
			}
			var body any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			if found := amountsIn(body, w.path); len(found) > 0 {
				t.Errorf("%s %s as %s shows amounts: %v", w.method, w.path, w.who, found)
			}
		}
	})
}
