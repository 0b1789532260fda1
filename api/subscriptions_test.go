package api

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// subscriptionIDs lists the ids of a page of subscriptions.
func subscriptionIDs(p Page[Subscription]) []int64 {
	out := []int64{}
	for _, s := range p.Items {
		out = append(out, s.ID)
	}
	return out
}

// TestSubscriptionsAPI: who sees which subscriptions, the filters and
// cursors of the list, auto-renewal with If-Match, and the staff's
// suspension and resumption with their task.
func TestSubscriptionsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		// C2 is C's sibling below L2; CB a customer of L1b, which sells
		// its own plan.
		c2 := newAccount(t, db, f.L2, account.Customer, "Epsilon Customer C2")
		f.keys["C2"] = newKey(t, db, c2.ID, f.roles[account.RoleAdmin].ID)
		cb := newAccount(t, db, f.L1b, account.Customer, "Zeta Customer CB")
		var own Plan
		f.must(t, 201, "L1b", "POST", "/accounts/"+id(f.L1b.ID)+"/plans", planBody("beta")).JSON(t, &own)

		// Suspending without the task that suspends the service would
		// leave the service running: refused, nothing changes.
		pre, err := db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: f.C.ID, PlanID: l2.ID, Period: "1m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CompleteOrder(ctx, pre.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		first := "/subscriptions/" + id(pre.SubscriptionID)
		f.must(t, 403, "C", "POST", first+"/suspend", nil).Problem(t)
		f.must(t, 503, "L2", "POST", first+"/suspend", nil).Problem(t)
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", first, nil)); s.Status != "active" || s.Version != 2 {
			t.Fatalf("after a refused suspension %+v", s)
		}

		hooks := withOrders(t, f)
		c1 := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 7))
		var pending Order // C2's stays pending: not provisioned
		f.must(t, 201, "C2", "POST", "/orders", orderBody(c2.ID, l2.ID, 0)).JSON(t, &pending)
		o, err := db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: cb.ID, PlanID: own.ID, Period: "1m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		beta := o.SubscriptionID
		c, c2s := pre.SubscriptionID, pending.SubscriptionID

		// Each sees the subscriptions of the customers in its reach,
		// newest first.
		for _, x := range []struct {
			who, query string
			want       []int64
		}{
			{"P", "", []int64{beta, c2s, c1.SubscriptionID, c}},
			{"L1a", "", []int64{c2s, c1.SubscriptionID, c}},
			{"L2", "", []int64{c2s, c1.SubscriptionID, c}},
			{"L1b", "", []int64{beta}},
			{"C", "", []int64{c1.SubscriptionID, c}},
			{"C2", "", []int64{c2s}},
			{"L1a-support", "", []int64{c2s, c1.SubscriptionID, c}},
			{"L2", "?status=active", []int64{c1.SubscriptionID, c}},
			{"L2", "?status=pending", []int64{c2s}},
			{"L2", "?customer_id=" + id(c2.ID), []int64{c2s}},
			{"L1a", "?vendor_id=" + id(f.L2.ID), []int64{c2s, c1.SubscriptionID, c}},
			{"P", "?vendor_id=" + id(f.L1b.ID), []int64{beta}},
			{"P", "?plan_id=" + id(own.ID), []int64{beta}},
			{"C", "?customer_id=" + id(f.C.ID) + "&status=terminated", []int64{}},
		} {
			r := f.must(t, 200, x.who, "GET", "/subscriptions"+x.query, nil)
			p := decode[Page[Subscription]](t, r)
			if got := subscriptionIDs(p); !slices.Equal(got, x.want) || p.NextCursor != "" {
				t.Errorf("%s /subscriptions%s: %v (next %q), want %v", x.who, x.query, got, p.NextCursor, x.want)
			}
			// Lists carry no service attributes (credentials).
			if strings.Contains(string(r.Body), `"attributes"`) {
				t.Errorf("%s /subscriptions%s shows attributes: %s", x.who, x.query, r.Body)
			}
		}
		// A filter naming an account out of reach reads as a missing one.
		for _, x := range []struct{ who, query string }{
			{"C", "?customer_id=" + id(c2.ID)}, {"C", "?vendor_id=" + id(f.L2.ID)}, {"L1b", "?customer_id=" + id(f.C.ID)},
			{"L2", "?vendor_id=" + id(f.L1a.ID)}, {"L2", "?customer_id=987654"},
		} {
			for _, list := range []string{"/subscriptions", "/orders"} {
				if p := f.must(t, 404, x.who, "GET", list+x.query, nil).Problem(t); p.Detail != "account not found" {
					t.Errorf("%s %s%s: %+v", x.who, list, x.query, p)
				}
			}
		}
		// Orders are scoped alike.
		for _, x := range []struct {
			who  string
			want []int64
		}{{"C", []int64{c1.ID, pre.ID}}, {"C2", []int64{pending.ID}}, {"L1b", []int64{o.ID}}} {
			p := decode[Page[Order]](t, f.must(t, 200, x.who, "GET", "/orders", nil))
			var got []int64
			for _, o := range p.Items {
				got = append(got, o.ID)
			}
			if !slices.Equal(got, x.want) {
				t.Errorf("%s's orders %v, want %v", x.who, got, x.want)
			}
		}
		// Pages.
		var seen []int64
		cursor := ""
		for range 4 {
			p := decode[Page[Subscription]](t, f.must(t, 200, "P", "GET", "/subscriptions?limit=3&cursor="+cursor, nil))
			seen = append(seen, subscriptionIDs(p)...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(seen, []int64{beta, c2s, c1.SubscriptionID, c}) {
			t.Errorf("paged %v", seen)
		}
		f.must(t, 400, "P", "GET", "/subscriptions?cursor=nonsense", nil).Problem(t)
		ordersCursor := decode[Page[Order]](t, f.must(t, 200, "P", "GET", "/orders?limit=1", nil)).NextCursor
		if p := f.must(t, 400, "P", "GET", "/subscriptions?cursor="+ordersCursor, nil).Problem(t); !slices.Equal(p.locations(), []string{"query.cursor"}) {
			t.Errorf("an orders cursor on subscriptions: %+v", p)
		}
		for _, who := range []string{"C2", "L1b"} {
			if p := f.must(t, 404, who, "GET", first, nil).Problem(t); p.Detail != "subscription not found" {
				t.Errorf("%s: %+v", who, p)
			}
		}

		// Auto-renewal, with the ETag of what the client read.
		r := f.must(t, 200, "C", "GET", first, nil)
		s := decode[Subscription](t, r)
		etag := r.Header.Get("ETag")
		if etag != etagOf(s.Version) || s.AutoRenew != (AutoRenew{Mode: "before_expiration"}) {
			t.Fatalf("before %+v %v", s, r.Header)
		}
		r = f.must(t, 200, "C", "PUT", first+"/auto-renew", map[string]any{"mode": "before_expiration", "days": 7}, "If-Match", etag)
		s = decode[Subscription](t, r)
		if s.AutoRenew != (AutoRenew{Mode: "before_expiration", Days: 7}) || r.Header.Get("ETag") == etag || r.Header.Get("ETag") != etagOf(s.Version) {
			t.Errorf("auto-renew 7 days before: %+v %v", s.AutoRenew, r.Header)
		}
		f.must(t, 412, "C", "PUT", first+"/auto-renew", map[string]any{"mode": "off"}, "If-Match", etag).Problem(t)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"mode": "off", "days": 3}, "body.days"},
			{map[string]any{"mode": "weekly"}, "body.mode"},
			{map[string]any{"mode": "before_expiration", "days": 400}, "body.days"},
			{map[string]any{"days": 3}, "body.mode"},
		} {
			p := f.must(t, 400, "C", "PUT", first+"/auto-renew", c.body).Problem(t)
			if !slices.Equal(p.locations(), []string{c.field}) {
				t.Errorf("%v: %v, want %s", c.body, p.locations(), c.field)
			}
		}
		s = decode[Subscription](t, f.must(t, 200, "L2", "PUT", first+"/auto-renew", map[string]any{"mode": "off"}))
		if s.AutoRenew != (AutoRenew{Mode: "off"}) {
			t.Errorf("auto-renew off %+v", s.AutoRenew)
		}
		f.must(t, 404, "C2", "PUT", first+"/auto-renew", map[string]any{"mode": "off"}).Problem(t)

		// Suspension and resumption: the staff's, each with its task.
		f.must(t, 403, "C", "POST", first+"/suspend", nil).Problem(t)
		f.must(t, 404, "L1b", "POST", first+"/suspend", nil).Problem(t)
		f.must(t, 403, "L1a-support", "POST", first+"/suspend", nil).Problem(t)
		r = f.must(t, 200, "L2", "POST", first+"/suspend", nil, "If-Match", etagOf(s.Version))
		s = decode[Subscription](t, r)
		if s.Status != "suspended" || s.StatusReason != "staff" || r.Header.Get("ETag") != etagOf(s.Version) {
			t.Errorf("suspended %+v", s)
		}
		f.must(t, 409, "L2", "POST", first+"/suspend", nil).Problem(t)
		f.must(t, 409, "C", "POST", first+"/change", map[string]any{"resources": map[string]int64{"mailbox": 9}}).Problem(t)
		f.must(t, 403, "C", "POST", first+"/resume", nil).Problem(t)
		s = decode[Subscription](t, f.must(t, 200, "L1a", "POST", first+"/resume", nil))
		if s.Status != "active" || s.StatusReason != "" {
			t.Errorf("resumed %+v", s)
		}
		f.must(t, 409, "L1a", "POST", first+"/resume", nil).Problem(t)
		// A pending subscription changes through its sales order.
		f.must(t, 409, "L2", "POST", "/subscriptions/"+id(c2s)+"/suspend", nil).Problem(t)
		hooks.mu.Lock()
		statuses := slices.Clone(hooks.statuses)
		hooks.mu.Unlock()
		if want := []string{id(c) + " suspended", id(c) + " active"}; !slices.Equal(statuses, want) {
			t.Errorf("status tasks %v, want %v", statuses, want)
		}
	})
}
