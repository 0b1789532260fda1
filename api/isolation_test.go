package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/webhook"
)

// owned is one of each kind of thing an account holds, named with a marker
// that must never show in another account's responses.
type owned struct {
	account *account.Account
	marker  string
	userID  int64
	roleID  int64
	keyID   int64
	taskID  int64
	planID  int64
	// syncRunID is a sync run of its plan.
	syncRunID int64
	// catKey and shelfKey are the keys of its plan and sales category.
	catKey, shelfKey string
	// customer is a customer of the account, with a subscription to its
	// plan (active, its sales order completed) and a usage reading.
	customer                *account.Account
	orderID, subscriptionID int64
	// documentID is the invoice of the customer's sales order.
	documentID int64
	// webhookID is an endpoint of the account, deliveryID its delivery of
	// the sales order's completion.
	webhookID, deliveryID int64
}

func ownedBy(t *testing.T, f *fixture, a *account.Account, marker string) owned {
	t.Helper()
	ctx := context.Background()
	sys := account.SystemActor()
	o := owned{account: a, marker: marker, userID: f.admins[nameOf(f, a)].ID}
	r := &account.Role{AccountID: a.ID, Name: marker + " role", Grants: []account.Grant{{Privilege: account.PrivCatalog, Level: "view"}}}
	if err := f.db.CreateRole(ctx, sys, r); err != nil {
		t.Fatal(err)
	}
	o.roleID = r.ID
	k, _, err := f.db.CreateAPIKey(ctx, sys, a.ID, r.ID, marker+" key", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	o.keyID = k.ID
	o.taskID = f.tasks.add(a.Path, "notify", "failed").ID
	withCatalog(t, f)
	o.catKey, o.shelfKey = strings.ToLower(marker)+"-cat", strings.ToLower(marker)+"-shelf"
	if err := f.db.CreatePlanCategory(ctx, sys, &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: a.ID, Key: o.catKey,
		Name: catalog.Text{"en": marker + " category"}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateSalesCategory(ctx, sys, &store.SalesCategory{SalesCategory: catalog.SalesCategory{OwnerID: a.ID, Key: o.shelfKey,
		Name: catalog.Text{"en": marker + " shelf"}, Holds: catalog.HoldsPlans, Displayed: true}}); err != nil {
		t.Fatal(err)
	}
	var pl Plan
	f.must(t, 201, nameOf(f, a), "POST", "/accounts/"+id(a.ID)+"/plans", planBody(strings.ToLower(marker)+"-plan")).JSON(t, &pl)
	o.planID = pl.ID
	run := &store.SyncRun{SourcePlanID: pl.ID, Options: "fees"}
	if err := f.db.CreateSyncRun(ctx, sys, run, nil); err != nil {
		t.Fatal(err)
	}
	o.syncRunID = run.ID
	o.customer = newAccount(t, f.db, a, account.Customer, marker+" customer")
	hook := &webhook.Endpoint{AccountID: a.ID, URL: "https://hooks.example.com/" + marker, EventTypes: []string{webhook.OrderCompleted}}
	if err := f.db.CreateWebhookEndpoint(ctx, sys, hook); err != nil {
		t.Fatal(err)
	}
	o.webhookID = hook.ID
	ord, err := f.db.PlaceOrder(ctx, sys, store.OrderRequest{CustomerID: o.customer.ID, PlanID: pl.ID, Period: "1m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CompleteOrder(ctx, ord.ID, store.TenantInfo{TenantID: marker + "-tenant", Status: "ready"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.RecordUsage(ctx, ord.SubscriptionID, []store.UsageReading{{Resource: "mailbox", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	o.orderID, o.subscriptionID = ord.ID, ord.SubscriptionID
	docs, err := f.db.Documents(ctx, sys, store.DocumentFilter{AccountID: o.customer.ID, Type: store.DocInvoice})
	if err != nil || len(docs) != 1 {
		t.Fatalf("invoices of %s: %v, %v", o.customer.Name, docs, err)
	}
	o.documentID = docs[0].ID
	deliveries, err := f.db.WebhookDeliveries(ctx, sys, hook.ID, 0, 0)
	if err != nil || len(deliveries) != 1 {
		t.Fatalf("deliveries to %s's webhook: %v, %v", marker, deliveries, err)
	}
	o.deliveryID = deliveries[0].ID
	return o
}

func nameOf(f *fixture, a *account.Account) string {
	for _, n := range []string{"P", "L1a", "L1b", "L2", "C"} {
		if f.admins[n].AccountID == a.ID {
			return n
		}
	}
	return ""
}

// route is one call on the things of o.
type route struct {
	method, path string
	body         any
}

// routesOn lists every route with an {id}, aimed at the things of o. Bodies
// are valid, so that only authorization can refuse them.
func routesOn(o owned, otherParent int64) []route {
	acct, user, role, key, task := "/accounts/"+id(o.account.ID), "/users/"+id(o.userID), "/roles/"+id(o.roleID),
		"/api-keys/"+id(o.keyID), "/tasks/"+id(o.taskID)
	plan := "/plans/" + id(o.planID)
	ord, sub := "/orders/"+id(o.orderID), "/subscriptions/"+id(o.subscriptionID)
	doc, reports := "/documents/"+id(o.documentID), "/vendors/"+id(o.account.ID)+"/reports"
	return []route{
		{"GET", acct, nil},
		{"PATCH", acct, map[string]any{"name": "Hijacked"}},
		{"DELETE", acct, nil},
		{"POST", acct + "/convert-to-reseller", nil},
		{"POST", acct + "/status", map[string]any{"status": "admin_hold"}},
		{"POST", acct + "/move", map[string]any{"parent_id": otherParent}},
		{"GET", acct + "/descendants/count", nil},
		{"GET", "/accounts?under=" + id(o.account.ID), nil},
		{"GET", acct + "/users", nil},
		{"POST", acct + "/users", map[string]any{"login": "intruder", "password": "a long enough password"}},
		{"GET", acct + "/roles", nil},
		{"POST", acct + "/roles", map[string]any{"name": "Intruder", "grants": []any{}}},
		{"GET", acct + "/api-keys", nil},
		{"POST", acct + "/api-keys", map[string]any{"name": "Intruder", "role_id": o.roleID}},
		{"GET", acct + "/audit-log", nil},
		{"GET", user, nil},
		{"PATCH", user, map[string]any{"display_name": "Hijacked"}},
		{"PUT", user + "/roles", map[string]any{"role_ids": []int64{}}},
		{"POST", user + "/password", map[string]any{"password": "hijacked password"}},
		{"DELETE", user, nil},
		{"GET", role, nil},
		{"PUT", role, map[string]any{"name": "Hijacked", "grants": []any{}}},
		{"DELETE", role, nil},
		{"GET", key, nil},
		{"POST", key + "/revoke", nil},
		{"GET", task, nil},
		{"POST", task + "/retry", nil},
		{"POST", task + "/cancel", nil},
		{"GET", acct + "/plans", nil},
		{"POST", acct + "/plans", planBody("intruder")},
		{"GET", plan, nil},
		{"PUT", plan, planBody("hijacked")},
		{"DELETE", plan, nil},
		{"GET", plan + "/copies", nil},
		{"GET", plan + "/changes", nil},
		{"POST", plan + "/delegate", map[string]any{"child_id": otherParent, "rule": map[string]any{"kind": "percent", "percent": "10"}}},
		{"POST", plan + "/sync/preview", map[string]any{"options": []string{"all"}}},
		{"POST", plan + "/sync", map[string]any{"options": []string{"fees"}}},
		{"GET", plan + "/sync-runs", nil},
		{"GET", "/sync-runs/" + id(o.syncRunID), nil},
		{"GET", acct + "/plan-categories", nil},
		{"POST", acct + "/plan-categories", map[string]any{"key": "intruder", "name": map[string]string{"en": "Intruder"}}},
		{"PUT", acct + "/plan-categories/" + o.catKey, map[string]any{"name": map[string]string{"en": "Hijacked"}}},
		{"GET", acct + "/sales-categories", nil},
		{"POST", acct + "/sales-categories", map[string]any{"key": "intruder", "name": map[string]string{"en": "Intruder"}, "holds": "plans"}},
		{"PUT", acct + "/sales-categories/" + o.shelfKey, map[string]any{"name": map[string]string{"en": "Hijacked"}, "holds": "plans"}},
		{"POST", acct + "/sales-categories/" + o.shelfKey + "/display", map[string]any{"displayed": false}},
		{"GET", acct + "/delegation-terms", nil},
		{"PUT", acct + "/delegation-terms", map[string]any{"restrictions": []string{"pricing"}}},
		{"GET", ord, nil},
		{"POST", ord + "/retry", nil},
		{"POST", ord + "/cancel", nil},
		{"GET", "/orders?customer_id=" + id(o.customer.ID), nil},
		{"GET", "/orders?vendor_id=" + id(o.account.ID), nil},
		{"GET", sub, nil},
		{"POST", sub + "/change", map[string]any{"resources": map[string]int64{"mailbox": 6}}},
		{"POST", sub + "/cancel", nil},
		{"PUT", sub + "/auto-renew", map[string]any{"mode": "off"}},
		{"POST", sub + "/suspend", nil},
		{"POST", sub + "/resume", nil},
		{"POST", sub + "/restore", nil},
		{"GET", sub + "/usage", nil},
		{"POST", sub + "/usage", map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "1"}}}},
		{"GET", "/subscriptions?customer_id=" + id(o.customer.ID), nil},
		{"GET", "/subscriptions?vendor_id=" + id(o.account.ID), nil},
		{"GET", doc, nil},
		{"GET", doc + "/pdf", nil},
		{"GET", doc + "/html", nil},
		{"GET", "/documents?account_id=" + id(o.customer.ID), nil},
		{"GET", "/documents?vendor_id=" + id(o.account.ID), nil},
		{"POST", acct + "/payments", map[string]any{"amount": "1.00", "method": "bank transfer"}},
		{"POST", acct + "/top-ups", map[string]any{"amount": "1.00", "method": "bank transfer"}},
		{"POST", acct + "/top-ups", map[string]any{"amount": "1.00", "source": "tok_visa"}},
		{"GET", acct + "/credit", nil},
		{"PUT", acct + "/terms", map[string]any{"grace_days": 3}},
		{"POST", acct + "/credit-hold", map[string]any{"reason": "intruder"}},
		{"POST", acct + "/credit-hold/release", map[string]any{"days": 3, "reason": "intruder"}},
		{"GET", reports + "/revenue?from=2027-01-01&to=2027-02-01", nil},
		{"GET", reports + "/margins?from=2027-01-01&to=2027-02-01", nil},
		{"GET", reports + "/aging?on=2027-01-10", nil},
		{"GET", acct + "/webhooks", nil},
		{"POST", acct + "/webhooks", map[string]any{"url": "https://intruder.example.com/", "event_types": []string{"order.completed"}}},
		{"GET", "/webhooks/" + id(o.webhookID), nil},
		{"GET", "/webhooks/" + id(o.webhookID) + "/deliveries", nil},
		{"PATCH", "/webhooks/" + id(o.webhookID), map[string]any{"active": false}},
		{"POST", "/webhooks/" + id(o.webhookID) + "/rotate-secret", map[string]any{"expire_previous_in_hours": 0}},
		{"POST", "/webhook-deliveries/" + id(o.deliveryID) + "/redeliver", nil},
		{"DELETE", "/webhooks/" + id(o.webhookID), nil},
		{"GET", "/events?account_id=" + id(o.account.ID), nil},
		{"GET", acct + "/offers", nil},
		{"GET", "/accounts/" + id(o.customer.ID) + "/offers", nil},
		{"GET", "/accounts/" + id(o.customer.ID) + "/offers/" + id(o.planID), nil},
		{"GET", "/accounts/" + id(o.customer.ID) + "/offer-categories", nil},
		{"GET", sub + "/offers", nil},
	}
}

// missing is o with ids that exist nowhere.
func missing(o owned) owned {
	const none = 987654
	o.account = &account.Account{ID: none}
	o.userID, o.roleID, o.keyID, o.taskID, o.planID, o.syncRunID = none, none, none, none, none, none
	o.customer = &account.Account{ID: none}
	o.orderID, o.subscriptionID, o.documentID = none, none, none
	o.webhookID, o.deliveryID = none, none
	return o
}

// TestIsolation calls every route with an {id} on another account's things
// and checks that the answer is the answer for things that do not exist:
// same status, same text, none of the other's data.
func TestIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		l1a := ownedBy(t, f, f.L1a, "Alpha")
		l2 := ownedBy(t, f, f.L2, "Gamma")

		for _, c := range []struct {
			name   string
			who    string
			victim owned
			// readable lists routes the caller may use by design.
			readable map[string]int
		}{
			{name: "sibling reseller", who: "L1b", victim: l1a},
			// A custom role of an ancestor is usable below it, so its
			// definition is readable there.
			{name: "customer on its parent", who: "C", victim: l2, readable: map[string]int{"GET /roles/" + id(l2.roleID): 200}},
			{name: "reseller on its parent", who: "L2", victim: l1a, readable: map[string]int{"GET /roles/" + id(l1a.roleID): 200}},
		} {
			t.Run(c.name, func(t *testing.T) {
				routes := routesOn(c.victim, f.keysAccount(c.who))
				ghosts := routesOn(missing(c.victim), f.keysAccount(c.who))
				for i, rt := range routes {
					r := f.call(t, c.who, rt.method, rt.path, rt.body)
					if want, ok := c.readable[rt.method+" "+rt.path]; ok {
						if r.Status != want {
							t.Errorf("%s %s: status %d, want %d: %s", rt.method, rt.path, r.Status, want, r.Body)
						}
						continue
					}
					if r.Status != http.StatusNotFound {
						t.Errorf("%s %s: status %d, want 404: %s", rt.method, rt.path, r.Status, r.Body)
						continue
					}
					if strings.Contains(string(r.Body), c.victim.marker) || strings.Contains(string(r.Body), c.victim.account.Name) {
						t.Errorf("%s %s shows the other's data: %s", rt.method, rt.path, r.Body)
					}
					got := r.Problem(t)
					ghost := f.call(t, c.who, ghosts[i].method, ghosts[i].path, ghosts[i].body)
					if ghost.Status != r.Status || ghost.Problem(t).Detail != got.Detail {
						t.Errorf("%s %s: %q differs from the answer for a missing id (%d %s)",
							rt.method, rt.path, got.Detail, ghost.Status, ghost.Body)
					}
				}
			})
		}

		// Quoting and ordering for another's customer: the customer does
		// not exist.
		for _, c := range []struct {
			who    string
			victim owned
		}{{"L1b", l1a}, {"C", l2}, {"L2", l1a}} {
			for _, path := range []string{"/quotes", "/orders"} {
				body := map[string]any{"customer_id": c.victim.customer.ID, "plan_id": c.victim.planID, "period": "1m"}
				p := f.must(t, 400, c.who, "POST", path, body).Problem(t)
				body["customer_id"] = 987654
				ghost := f.must(t, 400, c.who, "POST", path, body).Problem(t)
				if p.Detail != ghost.Detail || len(p.Errors) != 1 || p.Errors[0] != ghost.Errors[0] || p.Errors[0].Location != "body.customer_id" {
					t.Errorf("%s %s for another's customer: %+v, for a missing one %+v", c.who, path, p, ghost)
				}
			}
		}

		// Creating below another's account: the parent does not exist.
		p := f.must(t, 400, "L1b", "POST", "/accounts", newCustomerBody(f.L1a.ID, "Intruder")).Problem(t)
		ghost := f.must(t, 400, "L1b", "POST", "/accounts", newCustomerBody(987654, "Intruder")).Problem(t)
		if p.Detail != ghost.Detail || len(p.Errors) != 1 || p.Errors[0] != ghost.Errors[0] {
			t.Errorf("create below another's account: %+v, for a missing parent %+v", p, ghost)
		}

		// Nothing changed.
		var a Account
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(f.L1a.ID), nil).JSON(t, &a)
		if a.Name != f.L1a.Name || a.Version != f.L1a.Version || a.Status != "active" || a.Kind != "reseller" {
			t.Errorf("L1a after the attempts: %+v", a)
		}
		var u User
		f.must(t, 200, "L1a", "GET", "/users/"+id(l1a.userID), nil).JSON(t, &u)
		if u.DisplayName != "Admin of L1a" || len(u.RoleIDs) != 1 {
			t.Errorf("L1a's admin after the attempts: %+v", u)
		}
		var k APIKey
		f.must(t, 200, "L1a", "GET", "/api-keys/"+id(l1a.keyID), nil).JSON(t, &k)
		if k.RevokedAt != nil {
			t.Errorf("L1a's key was revoked")
		}
		var r Role
		f.must(t, 200, "L1a", "GET", "/roles/"+id(l1a.roleID), nil).JSON(t, &r)
		if r.Name != "Alpha role" {
			t.Errorf("L1a's role after the attempts: %+v", r)
		}
		var tk Task
		f.must(t, 200, "L1a", "GET", "/tasks/"+id(l1a.taskID), nil).JSON(t, &tk)
		if tk.Status != "failed" {
			t.Errorf("L1a's task after the attempts: %+v", tk)
		}
		var pl Plan
		f.must(t, 200, "L1a", "GET", "/plans/"+id(l1a.planID), nil).JSON(t, &pl)
		if pl.Key != "alpha-plan" || pl.Version != 1 {
			t.Errorf("L1a's plan after the attempts: %+v", pl)
		}
		var runs Page[SyncRun]
		f.must(t, 200, "L1a", "GET", "/plans/"+id(l1a.planID)+"/sync-runs", nil).JSON(t, &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID != l1a.syncRunID || runs.Items[0].Status != "queued" {
			t.Errorf("L1a's sync runs after the attempts: %+v", runs.Items)
		}
		var copies Page[Plan]
		f.must(t, 200, "L1a", "GET", "/plans/"+id(l1a.planID)+"/copies", nil).JSON(t, &copies)
		if len(copies.Items) != 0 {
			t.Errorf("L1a's plan was delegated by another: %+v", copies.Items)
		}
		var sc struct{ Items []SalesCategory }
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(f.L1a.ID)+"/sales-categories", nil).JSON(t, &sc)
		if len(sc.Items) != 1 || !sc.Items[0].Displayed || sc.Items[0].Version != 1 {
			t.Errorf("L1a's sales categories after the attempts: %+v", sc.Items)
		}
		var terms DelegationTerms
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(f.L1a.ID)+"/delegation-terms", nil).JSON(t, &terms)
		if terms.SetBy != 0 {
			t.Errorf("L1a's terms after the attempts: %+v", terms)
		}
		var ord Order
		f.must(t, 200, "L1a", "GET", "/orders/"+id(l1a.orderID), nil).JSON(t, &ord)
		if ord.Status != "completed" || ord.Version != 2 {
			t.Errorf("L1a's order after the attempts: %+v", ord)
		}
		var sub Subscription
		f.must(t, 200, "L1a", "GET", "/subscriptions/"+id(l1a.subscriptionID), nil).JSON(t, &sub)
		if sub.Status != "active" || sub.Version != 2 || sub.AutoRenew.Mode != "before_expiration" || sub.Resources["mailbox"] != 5 {
			t.Errorf("L1a's subscription after the attempts: %+v", sub)
		}
		var subOrders Page[Order]
		f.must(t, 200, "L2", "GET", "/orders?subscription_id="+id(l2.subscriptionID), nil).JSON(t, &subOrders)
		if len(subOrders.Items) != 1 {
			t.Errorf("orders of L2's customer after the attempts: %+v", subOrders.Items)
		}
		var doc Document
		f.must(t, 200, "L1a", "GET", "/documents/"+id(l1a.documentID), nil).JSON(t, &doc)
		if doc.Status != "open" || doc.Applied != "0.00" {
			t.Errorf("L1a's invoice after the attempts: %+v", doc)
		}
		var cr Credit
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(l1a.customer.ID)+"/credit", nil).JSON(t, &cr)
		if cr.Status != "active" || cr.Terms.GraceDays != 0 || cr.PrepaidFunds != "0.00" || cr.ReleaseReason != "" {
			t.Errorf("credit of L1a's customer after the attempts: %+v", cr)
		}
		// No payment was recorded and no card charged.
		var payments int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM documents WHERE type = 'payment'`).Scan(&payments); err != nil || payments != 0 {
			t.Errorf("%d payments recorded (%v)", payments, err)
		}
		if n := f.api.gateway.(*gatewaytest.Gateway).Charges(); n != 0 {
			t.Errorf("%d cards charged", n)
		}
		var hook WebhookEndpoint
		f.must(t, 200, "L1a", "GET", "/webhooks/"+id(l1a.webhookID), nil).JSON(t, &hook)
		var deliveries Page[WebhookDelivery]
		f.must(t, 200, "L1a", "GET", "/webhooks/"+id(l1a.webhookID)+"/deliveries", nil).JSON(t, &deliveries)
		// Its customer's order and that of L2's customer, below it: no
		// redelivery.
		if len(deliveries.Items) != 2 {
			t.Errorf("L1a's webhook deliveries after the attempts: %+v", deliveries.Items)
		}
		for _, n := range []string{"P", "L1a", "L2", "C"} {
			f.must(t, 200, n, "GET", "/accounts/me", nil)
		}
	})
}

// keysAccount is the id of the account of the named key.
func (f *fixture) keysAccount(who string) int64 {
	return f.admins[strings.TrimSuffix(who, "-support")].AccountID
}

// connectorRoutes are the routes of the provider's connectors, aimed at
// the registered connector "memory" at u.
func connectorRoutes(u string) []route {
	return []route{
		{"GET", "/connectors", nil},
		{"POST", "/connectors", registerBody(u, connectorSecret, false)},
		{"POST", "/connectors", registerBody(u, connectorSecret, true)},
		{"GET", "/connectors/memory", nil},
		{"GET", "/connectors/nope", nil},
		{"POST", "/connectors/memory/refresh", nil},
		{"POST", "/connectors/memory/refresh", map[string]any{"dry_run": true}},
	}
}

// TestConnectorIsolation calls every connector route with the keys of
// every account but the provider: connectors are the provider's, so each
// answer is the same 403 whatever the connector (an unknown name included),
// shows nothing of it, and the connector is never called.
func TestConnectorIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		v := withConnectors(t, f)
		f.must(t, 201, "P", "POST", "/connectors", registerBody(v.url, connectorSecret, false))
		hits := v.hits.Load()
		for _, who := range []string{"L1a", "L1a-support", "L1b", "L2", "C"} {
			for _, rt := range connectorRoutes(v.url) {
				r := f.call(t, who, rt.method, rt.path, rt.body)
				if r.Status != http.StatusForbidden {
					t.Errorf("%s %s as %s: status %d, want 403: %s", rt.method, rt.path, who, r.Status, r.Body)
					continue
				}
				if p := r.Problem(t); p.Detail != "connectors are the provider's: only its users see and register them" ||
					strings.Contains(string(r.Body), v.url) || strings.Contains(string(r.Body), connectorSecret) {
					t.Errorf("%s %s as %s: %s", rt.method, rt.path, who, r.Body)
				}
			}
		}
		if n := v.hits.Load(); n != hits {
			t.Errorf("the connector got %d requests from others' calls", n-hits)
		}
		var c Connector
		f.must(t, 200, "P", "GET", "/connectors/memory", nil).JSON(t, &c)
		if c.Version != 1 || c.Status != "registered" {
			t.Errorf("the connector after the attempts: %+v", c)
		}
	})
}
