package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// saleTree is the tree of catSetup selling the provider's office plans down
// to customer C of the L2 reseller A1, and to customer CB of B:
//
//	P  office-basic 10.00/month, setup 5.00, 5 mailboxes included, 2.50 each above;
//	   upgrade to office-pro 20.00/month (same setup and mailboxes);
//	   office-free 0.00; office-draft
//	└─ A (+20 %)  basic 12.00 (setup 6.00, mailbox 3.00), pro 24.00
//	   └─ A1 (+10 %)  basic 13.20 (setup 6.60, mailbox 3.30), pro 26.40; draft unpublished
//	      └─ C (America/New_York, like every account of the tree)
//	└─ B (+10 %)  basic 11.00
//	   └─ CB
//
// The refund policy of every copy is the source's: the whole period within
// 14 days, then prorated.
type saleTree struct {
	*catTree
	clock                   *marketplane.TestClock
	basic, pro, free        map[string]*catalog.Plan // by owner: "P", "A", "A1"
	draftA1, basicB         *catalog.Plan
	CB                      *account.Account
	cb, supportC, supportA1 *account.Actor
}

func saleSetup(t *testing.T, db *store.DB) *saleTree {
	t.Helper()
	clock := marketplane.NewTestClock(time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC))
	db.Clock = clock
	st := &saleTree{catTree: catSetup(t, db), clock: clock,
		basic: map[string]*catalog.Plan{}, pro: map[string]*catalog.Plan{}, free: map[string]*catalog.Plan{}}
	ctx := st.ctx
	create := func(key string, edit func(p *catalog.Plan)) *catalog.Plan {
		t.Helper()
		p := officePlan(st.P.ID, key)
		p.Published = true
		edit(p)
		if err := db.CreatePlan(ctx, st.p, p); err != nil {
			t.Fatalf("plan %s: %v", key, err)
		}
		return p
	}
	st.pro["P"] = create("office-pro", func(p *catalog.Plan) {
		p.Periods[0].Recurring = catalog.Price{Amount: m("20.00")}
	})
	st.basic["P"] = create("office-basic", func(p *catalog.Plan) { p.UpgradeTo = []string{"office-pro"} })
	st.free["P"] = create("office-free", func(p *catalog.Plan) {
		p.Periods[0].Setup, p.Periods[0].Recurring = catalog.Price{}, catalog.Price{}
	})
	draft := create("office-draft", func(*catalog.Plan) {})
	delegate := func(actor *account.Actor, src *catalog.Plan, to *account.Account, opt delegation.DelegateOptions) *catalog.Plan {
		t.Helper()
		c, err := db.Delegate(ctx, actor, src.ID, to.ID, opt)
		if err != nil {
			t.Fatalf("delegate %s to %s: %v", src.Key, to.Name, err)
		}
		return c
	}
	// Pro before basic, so that basic's copies keep their upgrade path.
	for _, m := range []map[string]*catalog.Plan{st.pro, st.basic, st.free} {
		m["A"] = delegate(st.p, m["P"], st.A, percent("20"))
		m["A1"] = delegate(st.a, m["A"], st.A1, percent("10"))
	}
	draftA := delegate(st.p, draft, st.A, percent("20"))
	st.draftA1 = delegate(st.a, draftA, st.A1, delegation.DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: "10"}})
	st.basicB = delegate(st.p, st.basic["P"], st.B, percent("10"))
	st.CB = newAccount(account.Customer, st.B.ID, "Customer CB")
	if err := db.CreateAccount(ctx, st.sys, st.CB); err != nil {
		t.Fatal(err)
	}
	_, st.cb = st.user(t, st.CB, "admin-cb", st.admin)
	_, st.supportC = st.user(t, st.C, "support-c", st.support)
	_, st.supportA1 = st.user(t, st.A1, "support-a1", st.support)
	if got := st.basic["A1"].Periods[0].Recurring.Amount; got != m("13.20") || len(st.basic["A1"].UpgradeTo) != 1 {
		t.Fatalf("A1's basic: %s, upgrade to %v", got, st.basic["A1"].UpgradeTo)
	}
	return st
}

// buy is C's order of A1's basic with mailboxes, placed by actor.
func (st *saleTree) buy(t *testing.T, actor *account.Actor, mailboxes int64) *store.Order {
	t.Helper()
	o, err := st.db.PlaceOrder(st.ctx, actor, store.OrderRequest{CustomerID: st.C.ID, PlanID: st.basic["A1"].ID, Period: "1m",
		Resources: map[string]int64{"mailbox": mailboxes}}, nil)
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	return o
}

func (st *saleTree) complete(t *testing.T, o *store.Order) *store.Order {
	t.Helper()
	done, err := st.db.CompleteOrder(st.ctx, o.ID, store.TenantInfo{TenantID: fmt.Sprintf("tenant-%d", o.SubscriptionID), Status: "ready"})
	if err != nil {
		t.Fatalf("complete order %d: %v", o.Number, err)
	}
	return done
}

func (st *saleTree) sub(t *testing.T, id int64) *subscription.Subscription {
	t.Helper()
	s, err := st.db.Subscription(st.ctx, st.sys, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lines renders quote lines one per string, for tables a person can check:
// "resource mailbox×3 [2027-01-10, 2027-02-10) 9.90".
func lines(q *order.Quote) []string {
	out := []string{}
	for _, l := range q.Lines {
		s := string(l.What)
		if l.Resource != "" {
			s += " " + l.Resource + "×" + l.Quantity.String()
		}
		if !l.From.IsZero() {
			s += fmt.Sprintf(" [%s, %s)", l.From.Format(time.DateOnly), l.To.Format(time.DateOnly))
		}
		out = append(out, s+" "+l.Amount.Format(q.Currency))
	}
	return out
}

func wantQuote(t *testing.T, about string, q *order.Quote, want []string, total string) {
	t.Helper()
	if q == nil {
		t.Fatalf("%s: no quote", about)
	}
	if got := lines(q); !slices.Equal(got, want) {
		t.Errorf("%s: lines\n  %s\nwant\n  %s", about, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if q.Total.Format(q.Currency) != total || q.Currency != "USD" {
		t.Errorf("%s: total %s %s, want %s USD", about, q.Total.Format(q.Currency), q.Currency, total)
	}
}

// wantTiers checks the tiers of an order: sellers, buyers, plans, lines.
func wantTiers(t *testing.T, about string, got []store.OrderTier, want ...tierWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tiers, want %d", about, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Tier != i+1 || g.SellerID != w.seller || g.BuyerID != w.buyer || g.PlanID != w.plan || g.Total != g.Quote.Total {
			t.Errorf("%s: tier %d is %d: %d → %d plan %d total %s, want %d → %d plan %d", about, i+1, g.Tier, g.SellerID, g.BuyerID,
				g.PlanID, g.Total, w.seller, w.buyer, w.plan)
		}
		wantQuote(t, fmt.Sprintf("%s, tier %d", about, i+1), g.Quote, w.lines, w.total)
	}
}

type tierWant struct {
	seller, buyer, plan int64
	lines               []string
	total               string
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestPlaceOrderWorkedExample: customer C of L2 reseller A1 buys A1's
// basic with 8 mailboxes on 2027-01-10 (10:00 in New York):
//
//	C pays A1 at A1's prices:  setup 6.60, recurring 13.20, 3 mailboxes above the 5 included × 3.30 = 9.90; total 29.70
//	A1 pays A at A's prices:   setup 6.00, recurring 12.00, 3 × 3.00 = 9.00;                         total 27.00
//	A pays P at P's prices:    setup 5.00, recurring 10.00, 3 × 2.50 = 7.50;                         total 22.50
//
// each for the month [2027-01-10, 2027-02-10).
func TestPlaceOrderWorkedExample(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		req := store.OrderRequest{CustomerID: st.C.ID, PlanID: st.basic["A1"].ID, Period: "1m", Resources: map[string]int64{"mailbox": 8}}
		const month = " [2027-01-10, 2027-02-10) "
		retail := []string{"setup 6.60", "recurring" + month + "13.20", "resource mailbox×3" + month + "9.90"}
		tier1 := tierWant{st.A.ID, st.A1.ID, st.basic["A"].ID,
			[]string{"setup 6.00", "recurring" + month + "12.00", "resource mailbox×3" + month + "9.00"}, "27.00"}
		tier2 := tierWant{st.P.ID, st.A.ID, st.basic["P"].ID,
			[]string{"setup 5.00", "recurring" + month + "10.00", "resource mailbox×3" + month + "7.50"}, "22.50"}

		// A quote stores nothing; each reader sees the tiers it buys at or
		// below: the customer none, A1 its purchase, A and P both.
		for _, x := range []struct {
			who   string
			actor *account.Actor
			tiers []tierWant
		}{{"C", st.c, nil}, {"A1", st.a1, []tierWant{tier1}}, {"A", st.a, []tierWant{tier1, tier2}}, {"P", st.p, []tierWant{tier1, tier2}}} {
			q, err := db.Quote(ctx, x.actor, req)
			if err != nil {
				t.Fatalf("quote as %s: %v", x.who, err)
			}
			wantQuote(t, "quote as "+x.who, q.Quote, retail, "29.70")
			wantTiers(t, "quote as "+x.who, q.Tiers, x.tiers...)
		}
		if count(t, db, "orders")+count(t, db, "subscriptions")+count(t, db, "order_counters") != 0 {
			t.Fatal("a quote stored something")
		}

		// The order: the provisioning task is queued in its transaction.
		var queued *store.Order
		o, err := db.PlaceOrder(ctx, st.c, req, func(tx *sql.Tx, o *store.Order) error {
			var status string
			if err := tx.QueryRow(`SELECT status FROM orders WHERE id = $1`, o.ID).Scan(&status); err != nil {
				return fmt.Errorf("the order is not in the enqueue's transaction: %w", err)
			}
			queued = o
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if queued == nil || queued.ID != o.ID {
			t.Fatal("enqueue was not called with the order")
		}
		if o.Number != 1 || o.Type != order.SO || o.Status != order.StatusProvisioning || o.VendorID != st.A1.ID ||
			o.CustomerID != st.C.ID || o.PlanID != st.basic["A1"].ID || o.Total != m("29.70") || o.Currency != "USD" ||
			o.CreatedBy != st.c.UserID || o.Reason != "" {
			t.Errorf("order: %+v", o)
		}
		wantQuote(t, "order", o.Quote, retail, "29.70")
		if len(o.Tiers) != 0 {
			t.Errorf("the customer sees %d tiers of its order", len(o.Tiers))
		}
		// As stored, to the cent, with every tier's side.
		got, err := db.Order(ctx, st.p, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantQuote(t, "stored order", got.Quote, retail, "29.70")
		wantTiers(t, "stored order", got.Tiers, tier1, tier2)
		if got.Details.Period != "1m" || got.Details.Resources["mailbox"] != 8 || !got.Details.EffectiveOn.Equal(day("2027-01-10")) ||
			!got.FinishedAt.IsZero() || got.Version != 1 || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Errorf("stored order: %+v", got)
		}
		if n := count(t, db, "order_tiers"); n != 2 {
			t.Errorf("%d order_tiers rows, want 2", n)
		}
		// The pending subscription.
		s := st.sub(t, o.SubscriptionID)
		if s.Status != subscription.Pending || s.CustomerID != st.C.ID || s.VendorID != st.A1.ID || s.PlanID != st.basic["A1"].ID ||
			s.Period != "1m" || !s.Start.Equal(day("2027-01-10")) || !s.Anchor.Equal(day("2027-01-10")) ||
			!s.PeriodStart.Equal(day("2027-01-10")) || !s.PeriodEnd.Equal(day("2027-02-10")) || !s.NextBillingAt.Equal(day("2027-02-10")) ||
			s.Resources["mailbox"] != 8 || s.Connector != "office365" || s.AutoRenew != subscription.RenewBeforeExpiration || s.Version != 1 {
			t.Errorf("subscription: %+v", s)
		}

		// Numbers go on per vendor: A1's next is 2 (placed by A1's staff
		// for its customer), B's first is 1.
		o2 := st.buy(t, st.a1, 6)
		if o2.Number != 2 || o2.CreatedBy != st.a1.UserID {
			t.Errorf("A1's second order: number %d by %d", o2.Number, o2.CreatedBy)
		}
		wantTiers(t, "order placed by A1", o2.Tiers, tierWant{st.A.ID, st.A1.ID, st.basic["A"].ID,
			[]string{"setup 6.00", "recurring" + month + "12.00", "resource mailbox×1" + month + "3.00"}, "21.00"})
		ob, err := db.PlaceOrder(ctx, st.cb, store.OrderRequest{CustomerID: st.CB.ID, PlanID: st.basicB.ID, Period: "1m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// B sells at 11.00 (+10 %) with 5.50 setup; P sells to B at 10.00 and 5.00.
		if ob.Number != 1 || ob.Total != m("16.50") {
			t.Errorf("B's first order: number %d total %s", ob.Number, ob.Total)
		}
		got, _ = db.Order(ctx, st.p, ob.ID)
		wantTiers(t, "B's order", got.Tiers, tierWant{st.P.ID, st.B.ID, st.basic["P"].ID,
			[]string{"setup 5.00", "recurring" + month + "10.00"}, "15.00"})

		// The audit log has the order.
		entries, err := db.AuditLog(ctx, st.p, store.AuditFilter{AccountID: st.C.ID, Entity: "order"})
		if err != nil || len(entries) != 2 || entries[1].Action != "order.place" || entries[1].EntityID != o.ID {
			t.Errorf("audit: %+v %v", entries, err)
		}
	})
}

// TestPlaceOrderRefused: bad input, plans not on sale at the vendor,
// accounts whose status forbids orders, actors out of reach, a failing
// enqueue; none stores anything, and a refused order takes no number.
func TestPlaceOrderRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		basic := st.basic["A1"].ID
		req := func(edit func(r *store.OrderRequest)) store.OrderRequest {
			r := store.OrderRequest{CustomerID: st.C.ID, PlanID: basic, Period: "1m"}
			edit(&r)
			return r
		}
		tables := []string{"orders", "order_tiers", "subscriptions", "order_counters"}
		stored := func() string {
			var parts []string
			for _, tb := range tables {
				parts = append(parts, fmt.Sprintf("%s=%d", tb, count(t, db, tb)))
			}
			return strings.Join(parts, " ")
		}
		none := stored()
		for _, c := range []struct {
			about  string
			req    store.OrderRequest
			field  string
			reason string
		}{
			{"unknown period", req(func(r *store.OrderRequest) { r.Period = "12m" }), "period", order.ReasonUnknownPeriod},
			{"unknown resource", req(func(r *store.OrderRequest) { r.Resources = map[string]int64{"disk": 1} }), "resources.disk", order.ReasonUnknownResource},
			{"below the minimum", req(func(r *store.OrderRequest) { r.Resources = map[string]int64{"mailbox": 0} }), "resources.mailbox", order.ReasonBelowMinimum},
			{"above the maximum", req(func(r *store.OrderRequest) { r.Resources = map[string]int64{"mailbox": 101} }), "resources.mailbox", order.ReasonAboveMaximum},
			{"zero without confirmation", req(func(r *store.OrderRequest) { r.PlanID = st.free["A1"].ID }), "confirm_zero", order.ReasonRequired},
			{"a sibling vendor's plan", req(func(r *store.OrderRequest) { r.PlanID = st.basicB.ID }), "plan_id", store.ReasonNotOnSale},
			{"the vendor's parent's plan", req(func(r *store.OrderRequest) { r.PlanID = st.basic["A"].ID }), "plan_id", store.ReasonNotOnSale},
			{"an unpublished plan", req(func(r *store.OrderRequest) { r.PlanID = st.draftA1.ID }), "plan_id", store.ReasonNotOnSale},
			{"no such plan", req(func(r *store.OrderRequest) { r.PlanID = 987654 }), "plan_id", store.ReasonNotOnSale},
		} {
			for _, quote := range []bool{true, false} {
				var err error
				if quote {
					_, err = db.Quote(ctx, st.c, c.req)
				} else {
					_, err = db.PlaceOrder(ctx, st.c, c.req, nil)
				}
				if got, ok := order.FieldReason(err, c.field); !ok || got != c.reason {
					t.Errorf("%s (quote %v): %v: reason for %s %q, want %q", c.about, quote, err, c.field, got, c.reason)
				}
			}
		}
		// Several problems are reported together.
		_, err := db.PlaceOrder(ctx, st.c, req(func(r *store.OrderRequest) {
			r.Resources = map[string]int64{"mailbox": 500, "disk": 2}
		}), nil)
		wantFields(t, err, marketplane.EINVALID, "resources.mailbox", "resources.disk")
		// A reseller does not buy.
		_, err = db.PlaceOrder(ctx, st.a1, req(func(r *store.OrderRequest) { r.CustomerID = st.A1.ID }), nil)
		wantFields(t, err, marketplane.EINVALID, "customer_id")

		// The account's status forbids orders, with the reason.
		for _, status := range []account.Status{account.StatusCreditHold, account.StatusAdminHold} {
			if _, err := db.SetAccountStatus(ctx, st.sys, st.C.ID, status, false); err != nil {
				t.Fatal(err)
			}
			_, err := db.PlaceOrder(ctx, st.c, req(func(*store.OrderRequest) {}), nil)
			wantCode(t, err, marketplane.ECONFLICT)
			if want := map[account.Status]string{account.StatusCreditHold: "on credit hold", account.StatusAdminHold: "on administrative hold"}[status]; !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v does not say %q", status, err, want)
			}
			_, err = db.Quote(ctx, st.c, req(func(*store.OrderRequest) {}))
			wantCode(t, err, marketplane.ECONFLICT)
		}
		if _, err := db.SetAccountStatus(ctx, st.sys, st.C.ID, account.StatusActive, false); err != nil {
			t.Fatal(err)
		}
		// A vendor on hold sells nothing: its own purchase would be refused.
		if _, err := db.SetAccountStatus(ctx, st.sys, st.A1.ID, account.StatusCreditHold, false); err != nil {
			t.Fatal(err)
		}
		_, err = db.PlaceOrder(ctx, st.c, req(func(*store.OrderRequest) {}), nil)
		if wantCode(t, err, marketplane.ECONFLICT); !strings.Contains(err.Error(), "vendor's account is on hold") {
			t.Errorf("vendor on hold: %v", err)
		}
		if _, err := db.SetAccountStatus(ctx, st.sys, st.A1.ID, account.StatusActive, false); err != nil {
			t.Fatal(err)
		}

		// Out of reach, or without the privilege.
		_, err = db.PlaceOrder(ctx, st.b, req(func(*store.OrderRequest) {}), nil)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.Quote(ctx, st.b, req(func(*store.OrderRequest) {}))
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.PlaceOrder(ctx, st.cb, req(func(*store.OrderRequest) {}), nil)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.PlaceOrder(ctx, st.c, req(func(r *store.OrderRequest) { r.CustomerID = 987654 }), nil)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.PlaceOrder(ctx, st.supportC, req(func(*store.OrderRequest) {}), nil)
		wantCode(t, err, marketplane.EFORBIDDEN)
		if _, err := db.Quote(ctx, st.supportC, req(func(*store.OrderRequest) {})); err != nil {
			t.Errorf("a viewer of orders quotes: %v", err)
		}

		// A failing enqueue stores nothing.
		_, err = db.PlaceOrder(ctx, st.c, req(func(*store.OrderRequest) {}), func(*sql.Tx, *store.Order) error {
			return errors.New("task queue down")
		})
		if err == nil || !strings.Contains(err.Error(), "task queue down") {
			t.Fatalf("failing enqueue: %v", err)
		}
		if got := stored(); got != none {
			t.Fatalf("refused orders stored rows: %s, before %s", got, none)
		}

		// Confirmed, the free plan sells; it is the vendor's first number.
		o, err := db.PlaceOrder(ctx, st.c, req(func(r *store.OrderRequest) { r.PlanID, r.ConfirmZero = st.free["A1"].ID, true }), nil)
		if err != nil || o.Number != 1 || o.Total != 0 || !o.Quote.Empty() || len(o.Tiers) != 0 {
			t.Fatalf("confirmed free order: %+v %v", o, err)
		}
		got, _ := db.Order(ctx, st.p, o.ID)
		if len(got.Tiers) != 2 || !got.Tiers[0].Quote.Empty() {
			t.Errorf("free order's tiers: %+v", got.Tiers)
		}
	})
}

// TestOrderParameters: service parameters are checked against the manifest
// of the template's connector once the connector is registered.
func TestOrderParameters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		place := func(params map[string]string) (*store.Order, error) {
			return db.PlaceOrder(ctx, st.c, store.OrderRequest{CustomerID: st.C.ID, PlanID: st.basic["A1"].ID, Period: "1m",
				Parameters: params}, nil)
		}
		// No connector registered: parameters pass as given.
		o, err := place(map[string]string{"anything": "goes"})
		if err != nil {
			t.Fatal(err)
		}
		if s := st.sub(t, o.SubscriptionID); s.Parameters["anything"] != "goes" {
			t.Errorf("parameters %v", s.Parameters)
		}
		err = db.CreateConnector(ctx, st.p, &store.Connector{Name: "office365", URL: "http://127.0.0.1:1", Secret: "secret",
			Manifest: connector.Manifest{Name: "office365", Version: "1.0.0", Parameters: []connector.ParamSpec{
				{Key: "domain", Type: connector.ParamString, Required: true, Pattern: `[a-z]+\.com`},
				{Key: "region", Type: connector.ParamEnum, Choices: []string{"eu", "us"}},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = place(map[string]string{"region": "mars", "colour": "red"})
		for field, reason := range map[string]string{"parameters.domain": order.ReasonRequired,
			"parameters.region": store.ReasonInvalidValue, "parameters.colour": store.ReasonUnknownParameter} {
			if got, _ := order.FieldReason(err, field); got != reason {
				t.Errorf("%s: reason %q, want %q (%v)", field, got, reason, err)
			}
		}
		o, err = place(map[string]string{"domain": "example.com", "region": "eu"})
		if err != nil {
			t.Fatal(err)
		}
		if s := st.sub(t, o.SubscriptionID); s.Parameters["domain"] != "example.com" || s.Parameters["region"] != "eu" {
			t.Errorf("parameters %v", s.Parameters)
		}
	})
}

// TestOrderLifecycle takes C's subscriptions through provisioning,
// failure and retry, a cancellation within the refund window, an upgrade
// and a limit increase, each priced for C and every tier to the cent.
func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		o1 := st.buy(t, st.c, 8) // 29.70, see the worked example
		o2 := st.buy(t, st.c, 6) // setup 6.60, recurring 13.20, 1 mailbox 3.30: 23.10

		// Provisioned: the order completes and the subscription is active.
		st.clock.Set(time.Date(2027, 1, 10, 15, 5, 0, 0, time.UTC))
		done, err := db.CompleteOrder(ctx, o1.ID, store.TenantInfo{TenantID: "t-1", Status: "ready", Attributes: map[string]string{"host": "mx.example"}})
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != order.StatusCompleted || done.FinishedAt.IsZero() || done.Version != 2 {
			t.Errorf("completed order: %+v", done)
		}
		s1 := st.sub(t, o1.SubscriptionID)
		if s1.Status != subscription.Active || s1.TenantID != "t-1" || s1.TenantStatus != "ready" || s1.Attributes["host"] != "mx.example" ||
			s1.Connector != "office365" || s1.Version != 2 {
			t.Errorf("active subscription: %+v", s1)
		}
		// A retried completion is harmless.
		again, err := db.CompleteOrder(ctx, o1.ID, store.TenantInfo{TenantID: "t-other"})
		if err != nil || again.Version != 2 || st.sub(t, o1.SubscriptionID).TenantID != "t-1" {
			t.Errorf("second completion: %+v %v", again, err)
		}

		// Provisioning fails with the connector's words; staff retry.
		failed, err := db.FailOrder(ctx, o2.ID, "", "connector answered 500: tenant quota exceeded")
		if err != nil {
			t.Fatal(err)
		}
		if failed.Status != order.StatusProvisioningFailed || failed.Reason != order.ProvisioningFailed ||
			failed.Message != "connector answered 500: tenant quota exceeded" {
			t.Errorf("failed order: %+v", failed)
		}
		_, err = db.CompleteOrder(ctx, o2.ID, store.TenantInfo{})
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.RetryOrder(ctx, st.c, o2.ID, nil)
		wantCode(t, err, marketplane.EFORBIDDEN) // the customer is not staff
		_, err = db.RetryOrder(ctx, st.b, o2.ID, nil)
		wantCode(t, err, marketplane.ENOTFOUND)
		queued := 0
		retried, err := db.RetryOrder(ctx, st.a1, o2.ID, func(*sql.Tx, *store.Order) error { queued++; return nil })
		if err != nil || queued != 1 || retried.Status != order.StatusProvisioning || retried.Reason != "" || retried.Message != "" ||
			len(retried.Tiers) != 1 {
			t.Fatalf("retry: %+v %v (queued %d)", retried, err, queued)
		}
		st.complete(t, o2)
		_, err = db.RetryOrder(ctx, st.a1, o2.ID, nil)
		wantCode(t, err, marketplane.ECONFLICT) // retry a completed order

		// 2027-01-20, within 14 days of the period's start: the whole
		// period's fees come back, at every tier by its own prices.
		st.clock.Set(time.Date(2027, 1, 20, 15, 0, 0, 0, time.UTC))
		cl, err := db.CancelOrder(ctx, st.c, o2.SubscriptionID, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cl.Number != 3 || cl.Type != order.CL {
			t.Errorf("cancellation: number %d type %s", cl.Number, cl.Type)
		}
		wantQuote(t, "cancellation", cl.Quote, []string{"refund -13.20", "refund mailbox×1 -3.30"}, "-16.50")
		got, _ := db.Order(ctx, st.p, cl.ID)
		wantTiers(t, "cancellation", got.Tiers,
			tierWant{st.A.ID, st.A1.ID, st.basic["A"].ID, []string{"refund -12.00", "refund mailbox×1 -3.00"}, "-15.00"},
			tierWant{st.P.ID, st.A.ID, st.basic["P"].ID, []string{"refund -10.00", "refund mailbox×1 -2.50"}, "-12.50"})
		if s := st.sub(t, o2.SubscriptionID); s.Status != subscription.Active {
			t.Errorf("the subscription changed before its cancellation was provisioned: %s", s.Status)
		}
		_, err = db.CancelOrder(ctx, st.c, o2.SubscriptionID, time.Time{}, nil)
		wantCode(t, err, marketplane.ECONFLICT) // an order is open
		st.complete(t, cl)
		if s := st.sub(t, o2.SubscriptionID); s.Status != subscription.Terminated || s.StatusReason != subscription.ReasonCancelled {
			t.Errorf("cancelled subscription: %s (%s)", s.Status, s.StatusReason)
		}
		_, err = db.CancelOrder(ctx, st.c, o2.SubscriptionID, time.Time{}, nil)
		wantCode(t, err, marketplane.ECONFLICT)

		// 2027-01-25: upgrade basic → pro, 16 of the period's 31 days left:
		//   C:  −13.20 × 16/31 = −6.81, +26.40 × 16/31 = 13.63: 6.82
		//   A1: −12.00 × 16/31 = −6.19, +24.00 × 16/31 = 12.39: 6.20
		//   A:  −10.00 × 16/31 = −5.16, +20.00 × 16/31 = 10.32: 5.16
		st.clock.Set(time.Date(2027, 1, 25, 15, 0, 0, 0, time.UTC))
		const left = " [2027-01-25, 2027-02-10) "
		up, err := db.ChangeOrder(ctx, st.c, o1.SubscriptionID, store.ChangeRequest{PlanID: st.pro["A1"].ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantQuote(t, "upgrade", up.Quote, []string{"change-credit" + left + "-6.81", "change-charge" + left + "13.63"}, "6.82")
		got, _ = db.Order(ctx, st.a, up.ID)
		wantTiers(t, "upgrade", got.Tiers,
			tierWant{st.A.ID, st.A1.ID, st.pro["A"].ID, []string{"change-credit" + left + "-6.19", "change-charge" + left + "12.39"}, "6.20"},
			tierWant{st.P.ID, st.A.ID, st.pro["P"].ID, []string{"change-credit" + left + "-5.16", "change-charge" + left + "10.32"}, "5.16"})
		if up.Number != 4 || up.Type != order.CH || up.PlanID != st.pro["A1"].ID || up.Details.FromPlanID != st.basic["A1"].ID || up.Details.Deferred {
			t.Errorf("upgrade order: %+v", up)
		}
		_, err = db.ChangeOrder(ctx, st.c, o1.SubscriptionID, store.ChangeRequest{Resources: map[string]int64{"mailbox": 9}}, nil)
		wantCode(t, err, marketplane.ECONFLICT) // the upgrade is open
		st.complete(t, up)
		if s := st.sub(t, o1.SubscriptionID); s.PlanID != st.pro["A1"].ID || s.Resources["mailbox"] != 8 || s.Status != subscription.Active {
			t.Errorf("upgraded subscription: %+v", s)
		}

		// Same day, 8 → 10 mailboxes on pro (3.30, 3.00, 2.50 each):
		//   C:  −3 × 3.30 × 16/31 = −5.11, +5 × 3.30 × 16/31 = 8.52: 3.41
		//   A1: −3 × 3.00 × 16/31 = −4.65, +5 × 3.00 × 16/31 = 7.74: 3.09
		//   A:  −3 × 2.50 × 16/31 = −3.87, +5 × 2.50 × 16/31 = 6.45: 2.58
		more, err := db.ChangeOrder(ctx, st.a1, o1.SubscriptionID, store.ChangeRequest{Resources: map[string]int64{"mailbox": 10}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantQuote(t, "more mailboxes", more.Quote, []string{"resource mailbox×-3" + left + "-5.11", "resource mailbox×5" + left + "8.52"}, "3.41")
		got, _ = db.Order(ctx, st.sys, more.ID)
		wantTiers(t, "more mailboxes", got.Tiers,
			tierWant{st.A.ID, st.A1.ID, st.pro["A"].ID, []string{"resource mailbox×-3" + left + "-4.65", "resource mailbox×5" + left + "7.74"}, "3.09"},
			tierWant{st.P.ID, st.A.ID, st.pro["P"].ID, []string{"resource mailbox×-3" + left + "-3.87", "resource mailbox×5" + left + "6.45"}, "2.58"})
		st.complete(t, more)
		if s := st.sub(t, o1.SubscriptionID); s.Resources["mailbox"] != 10 {
			t.Errorf("mailboxes after the change: %v", s.Resources)
		}

		// Changes the order package refuses: no change, a plan off the
		// upgrade paths, a day outside the period, limits out of range.
		for _, c := range []struct {
			req           store.ChangeRequest
			field, reason string
		}{
			{store.ChangeRequest{Resources: map[string]int64{"mailbox": 10}}, "resources", order.ReasonNoChange},
			{store.ChangeRequest{PlanID: st.free["A1"].ID}, "plan", order.ReasonNotAllowed},
			{store.ChangeRequest{PlanID: st.basicB.ID}, "plan_id", store.ReasonNotOnSale},
			{store.ChangeRequest{Resources: map[string]int64{"mailbox": 0}}, "resources.mailbox", order.ReasonBelowMinimum},
			{store.ChangeRequest{Resources: map[string]int64{"mailbox": 9}, On: time.Date(2027, 2, 12, 15, 0, 0, 0, time.UTC)}, "on", order.ReasonOutsidePeriod},
		} {
			_, err := db.ChangeOrder(ctx, st.c, o1.SubscriptionID, c.req, nil)
			if got, ok := order.FieldReason(err, c.field); !ok || got != c.reason {
				t.Errorf("change %+v: %v: reason for %s %q, want %q", c.req, err, c.field, got, c.reason)
			}
		}
		_, err = db.ChangeOrder(ctx, st.b, o1.SubscriptionID, store.ChangeRequest{Resources: map[string]int64{"mailbox": 9}}, nil)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.ChangeOrder(ctx, st.c, o2.SubscriptionID, store.ChangeRequest{Resources: map[string]int64{"mailbox": 9}}, nil)
		wantCode(t, err, marketplane.ECONFLICT) // terminated

		// A sales order that failed is cancelled by staff: its pending
		// subscription is terminated, and a cancelled order does not
		// complete. One being provisioned cannot be cancelled.
		o3 := st.buy(t, st.c, 5)
		_, err = db.CancelPendingOrder(ctx, st.a1, o3.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		if _, err := db.FailOrder(ctx, o3.ID, order.ManualActionRequired, "domain ownership must be proven"); err != nil {
			t.Fatal(err)
		}
		_, err = db.CancelPendingOrder(ctx, st.c, o3.ID)
		wantCode(t, err, marketplane.EFORBIDDEN)
		cancelled, err := db.CancelPendingOrder(ctx, st.a, o3.ID)
		if err != nil || cancelled.Status != order.StatusCancelled || cancelled.Reason != order.CancelledByStaff || cancelled.FinishedAt.IsZero() {
			t.Fatalf("cancel pending: %+v %v", cancelled, err)
		}
		if s := st.sub(t, o3.SubscriptionID); s.Status != subscription.Terminated || s.StatusReason != subscription.ReasonOrderCancelled {
			t.Errorf("subscription of the cancelled order: %s (%s)", s.Status, s.StatusReason)
		}
		_, err = db.CompleteOrder(ctx, o3.ID, store.TenantInfo{})
		wantCode(t, err, marketplane.ECONFLICT) // complete a cancelled order
		_, err = db.RetryOrder(ctx, st.a1, o3.ID, nil)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.CompleteOrder(ctx, 987654, store.TenantInfo{})
		wantCode(t, err, marketplane.ENOTFOUND)

		// The customer's orders, newest first, page by page.
		page, err := db.Orders(ctx, st.c, store.OrderFilter{CustomerID: st.C.ID, Limit: 4})
		if err != nil || len(page) != 4 || page[0].Number != 6 || page[3].Number != 3 || page[0].Tiers != nil {
			t.Fatalf("orders page 1: %v %v", page, err)
		}
		page, err = db.Orders(ctx, st.c, store.OrderFilter{CustomerID: st.C.ID, Limit: 4, BeforeID: page[3].ID})
		if err != nil || len(page) != 2 || page[0].Number != 2 || page[1].Number != 1 {
			t.Fatalf("orders page 2: %v %v", page, err)
		}
		chs, err := db.Orders(ctx, st.a1, store.OrderFilter{VendorID: st.A1.ID, Type: order.CH, Status: order.StatusCompleted})
		if err != nil || len(chs) != 2 {
			t.Errorf("A1's completed changes: %v %v", chs, err)
		}
		subOrders, err := db.Orders(ctx, st.c, store.OrderFilter{SubscriptionID: o2.SubscriptionID})
		if err != nil || len(subOrders) != 2 || subOrders[0].Type != order.CL || subOrders[1].Type != order.SO {
			t.Errorf("orders of subscription 2: %v %v", subOrders, err)
		}
	})
}

// TestOrderScoping: a sibling reseller sees nothing of C's orders and
// subscriptions; every vendor lists the subscriptions of its own customers.
func TestOrderScoping(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		oc := st.buy(t, st.c, 5)
		ob, err := db.PlaceOrder(ctx, st.cb, store.OrderRequest{CustomerID: st.CB.ID, PlanID: st.basicB.ID, Period: "1m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.complete(t, oc)

		// B is A1's cousin; CB is C's.
		for _, who := range []*account.Actor{st.b, st.cb} {
			_, err := db.Order(ctx, who, oc.ID)
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.Subscription(ctx, who, oc.SubscriptionID)
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.Orders(ctx, who, store.OrderFilter{CustomerID: st.C.ID})
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.Subscriptions(ctx, who, store.SubscriptionFilter{CustomerID: st.C.ID})
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.Subscriptions(ctx, who, store.SubscriptionFilter{VendorID: st.A1.ID})
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.CancelOrder(ctx, who, oc.SubscriptionID, time.Time{}, nil)
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.Usage(ctx, who, oc.SubscriptionID, "", day("2027-01-01"), day("2027-02-01"))
			wantCode(t, err, marketplane.ENOTFOUND)
		}
		_, err = db.Order(ctx, st.c, ob.ID)
		wantCode(t, err, marketplane.ENOTFOUND)

		ids := func(list []*subscription.Subscription) []int64 {
			out := []int64{}
			for _, s := range list {
				out = append(out, s.ID)
			}
			return out
		}
		both := []int64{ob.SubscriptionID, oc.SubscriptionID}
		for _, x := range []struct {
			who   string
			actor *account.Actor
			f     store.SubscriptionFilter
			want  []int64
		}{
			{"A1, its subtree", st.a1, store.SubscriptionFilter{}, []int64{oc.SubscriptionID}},
			{"A1's support, its subtree", st.supportA1, store.SubscriptionFilter{}, []int64{oc.SubscriptionID}},
			{"A1, its sales", st.a1, store.SubscriptionFilter{VendorID: st.A1.ID}, []int64{oc.SubscriptionID}},
			{"A, below it", st.a, store.SubscriptionFilter{}, []int64{oc.SubscriptionID}},
			{"A, A1's sales", st.a, store.SubscriptionFilter{VendorID: st.A1.ID}, []int64{oc.SubscriptionID}},
			{"A, its own sales", st.a, store.SubscriptionFilter{VendorID: st.A.ID}, []int64{}},
			{"B", st.b, store.SubscriptionFilter{}, []int64{ob.SubscriptionID}},
			{"C", st.c, store.SubscriptionFilter{}, []int64{oc.SubscriptionID}},
			{"C's support", st.supportC, store.SubscriptionFilter{CustomerID: st.C.ID}, []int64{oc.SubscriptionID}},
			{"CB", st.cb, store.SubscriptionFilter{}, []int64{ob.SubscriptionID}},
			{"P", st.p, store.SubscriptionFilter{}, both},
			{"P, pending only", st.p, store.SubscriptionFilter{Status: subscription.Pending}, []int64{ob.SubscriptionID}},
			{"P, active only", st.p, store.SubscriptionFilter{Status: subscription.Active}, []int64{oc.SubscriptionID}},
			{"P, a page of one", st.p, store.SubscriptionFilter{Limit: 1}, []int64{ob.SubscriptionID}},
			{"P, the page after", st.p, store.SubscriptionFilter{Limit: 1, BeforeID: ob.SubscriptionID}, []int64{oc.SubscriptionID}},
			{"P, by plan", st.p, store.SubscriptionFilter{PlanID: st.basicB.ID}, []int64{ob.SubscriptionID}},
			{"Marketplane", st.sys, store.SubscriptionFilter{}, both},
		} {
			list, err := db.Subscriptions(ctx, x.actor, x.f)
			if err != nil {
				t.Errorf("%s: %v", x.who, err)
				continue
			}
			if got := ids(list); !slices.Equal(got, x.want) {
				t.Errorf("%s: subscriptions %v, want %v", x.who, got, x.want)
			}
		}
		for _, x := range []struct {
			who   string
			actor *account.Actor
			want  int
		}{{"A1", st.a1, 1}, {"B", st.b, 1}, {"P", st.p, 2}, {"C", st.c, 1}} {
			list, err := db.Orders(ctx, x.actor, store.OrderFilter{})
			if err != nil || len(list) != x.want {
				t.Errorf("%s: %d orders (%v), want %d", x.who, len(list), err, x.want)
			}
		}
		// Reach: a role without the account privilege lists its own
		// account's subscriptions only; one whose reach is "children" one
		// level down; one without the subscriptions privilege nothing.
		role := func(acct *account.Account, name string, grants ...account.Grant) *account.Actor {
			t.Helper()
			r := &account.Role{AccountID: acct.ID, Name: name, Grants: grants}
			if err := db.CreateRole(ctx, st.sys, r); err != nil {
				t.Fatal(err)
			}
			_, actor := st.user(t, acct, strings.ToLower(strings.ReplaceAll(name, " ", "-"))+fmt.Sprint(acct.ID), r)
			return actor
		}
		subsOnly := account.Grant{Privilege: account.PrivSubs, Level: "view"}
		children := account.Grant{Privilege: account.PrivAccounts, Level: "view", Scope: account.ScopeChildren}
		for _, x := range []struct {
			who   string
			actor *account.Actor
			want  []int64
		}{
			{"A1 without reach", role(st.A1, "Subs only", subsOnly), []int64{}},
			{"C without reach", role(st.C, "Subs only", subsOnly), []int64{oc.SubscriptionID}},
			{"A reaching its children", role(st.A, "Children", subsOnly, children), []int64{}},
			{"B reaching its children", role(st.B, "Children", subsOnly, children), []int64{ob.SubscriptionID}},
		} {
			list, err := db.Subscriptions(ctx, x.actor, store.SubscriptionFilter{})
			if err != nil || !slices.Equal(ids(list), x.want) {
				t.Errorf("%s: subscriptions %v (%v), want %v", x.who, ids(list), err, x.want)
			}
		}
		blind := role(st.A1, "Accounts only", account.Grant{Privilege: account.PrivAccounts, Level: "view", Scope: account.ScopeDescendants})
		_, err = db.Subscriptions(ctx, blind, store.SubscriptionFilter{})
		wantCode(t, err, marketplane.EFORBIDDEN)
		_, err = db.Subscription(ctx, blind, oc.SubscriptionID)
		wantCode(t, err, marketplane.EFORBIDDEN)
	})
}

// BenchmarkPlaceOrder places orders for a customer with 10 users and for
// one with 10,240 users and 8,192 subscriptions (each also has the
// administrator who places the orders). The order path reads
// neither users nor subscriptions (the Large accounts rule of issue 4), so
// the two must cost the same within noise:
//
//	go test ./store/ -run '^$' -bench PlaceOrder -benchtime 2000x
func BenchmarkPlaceOrder(b *testing.B) {
	for _, e := range storetest.Engines {
		for _, large := range []bool{false, true} {
			name := string(e) + "/users=10"
			if large {
				name = string(e) + "/users=10240,subscriptions=8192"
			}
			b.Run(name, func(b *testing.B) {
				db := storetest.Open(b, e)
				actor, req := benchSale(b, db, large)
				for b.Loop() {
					if _, err := db.PlaceOrder(context.Background(), actor, req, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchSale builds provider → reseller → customer with a plan on sale and
// returns the customer's administrator and an order; large fills the
// customer with users and subscriptions by doubling rows in SQL.
func benchSale(b testing.TB, db *store.DB, large bool) (*account.Actor, store.OrderRequest) {
	b.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	p := newAccount(account.Provider, 0, "Provider")
	must(db.CreateProvider(ctx, p))
	r := newAccount(account.Reseller, p.ID, "Reseller")
	must(db.CreateAccount(ctx, sys, r))
	c := newAccount(account.Customer, r.ID, "Large customer")
	must(db.CreateAccount(ctx, sys, c))
	must(db.CreateResourceType(ctx, sys, &store.ResourceType{ResourceType: catalog.ResourceType{Key: "mailbox",
		Name: catalog.Text{"en": "Mailbox"}, Unit: "mailbox", Class: catalog.ClassLimit}}))
	must(db.CreateTemplate(ctx, sys, &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"},
		Connector: "office365", Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}}}}))
	plan := officePlan(p.ID, "office-basic")
	plan.Published = true
	must(db.CreatePlan(ctx, sys, plan))
	cp, err := db.Delegate(ctx, sys, plan.ID, r.ID, percent("20"))
	must(err)
	admin, err := db.RoleByKey(ctx, account.RoleAdmin)
	must(err)
	u := &account.User{AccountID: c.ID, Login: "admin-large", RoleIDs: []int64{admin.ID}}
	must(db.CreateUser(ctx, sys, u, "password-of-admin-large"))
	actor, err := db.ActorForUser(ctx, u.ID)
	must(err)
	req := store.OrderRequest{CustomerID: c.ID, PlanID: cp.ID, Period: "1m", Resources: map[string]int64{"mailbox": 8}}
	now := db.Clock.Now().UTC().Format(time.RFC3339)
	for i := range 10 {
		_, err := db.Write.Exec(`INSERT INTO users (account_id, login, login_key, created_at, updated_at) VALUES ($1, $2, $2, $3, $3)`,
			c.ID, fmt.Sprintf("user-%d", i), now)
		must(err)
	}
	if !large {
		return actor, req
	}
	_, err = db.PlaceOrder(ctx, actor, req, nil)
	must(err)
	for round := range 10 {
		// Each copy's login is its source's with the round and the
		// source's id: unique, as no two rows of a round share an id.
		_, err := db.Write.Exec(`INSERT INTO users (account_id, login, login_key, created_at, updated_at)
			SELECT account_id, login || $2 || id, login_key || $2 || id, created_at, updated_at FROM users
			WHERE account_id = $1 AND id <> $3`, c.ID, fmt.Sprintf("-r%d-", round), u.ID)
		must(err)
	}
	for range 13 {
		_, err := db.Write.Exec(`INSERT INTO subscriptions (customer_id, vendor_id, plan_id, period_key, status, start_at, anchor_at,
			period_start, period_end, next_billing_at, resources, created_at, updated_at)
			SELECT customer_id, vendor_id, plan_id, period_key, status, start_at, anchor_at, period_start, period_end, next_billing_at,
			resources, created_at, updated_at FROM subscriptions WHERE customer_id = $1`, c.ID)
		must(err)
	}
	var users, subs int
	must(db.Read.QueryRow(`SELECT COUNT(*) FROM users WHERE account_id = $1`, c.ID).Scan(&users))
	must(db.Read.QueryRow(`SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1`, c.ID).Scan(&subs))
	if users != 10240+1 || subs != 8192 { // and the administrator
		b.Fatalf("the large customer has %d users and %d subscriptions", users, subs)
	}
	return actor, req
}
