package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/task"
)

// orderTaskArgs stands for the task kind the server registers to provision
// orders.
type orderTaskArgs struct {
	OrderID int64 `json:"order_id"`
}

func (orderTaskArgs) Kind() string { return "test.order_provision" }

// orderHooks are the provisioning hooks of an API under test: a real
// (insert-only) task manager behind EnqueueProvision, and a record of the
// suspensions and resumptions queued.
type orderHooks struct {
	tasks *task.Manager
	// fail makes EnqueueProvision queue the task and then fail, as a
	// transaction that cannot commit would.
	fail atomic.Bool

	mu       sync.Mutex
	orders   []int64  // orders queued, in order
	statuses []string // "id status" of the subscriptions queued
}

func (h *orderHooks) queued() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.orders)
}

// provisionTasks are the provisioning tasks in the queue.
func (h *orderHooks) provisionTasks(t *testing.T) []task.Info {
	t.Helper()
	infos, err := h.tasks.List(context.Background(), task.Filter{Kind: orderTaskArgs{}.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

// saleClock is the day the tests of orders start: 2027-01-10, 15:00 UTC
// (every account of the fixture keeps UTC).
func saleClock(db *store.DB) *marketplane.TestClock {
	c := marketplane.NewTestClock(time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC))
	db.Clock = c
	return c
}

// withOrders rebuilds f's API with the provisioning hooks and returns them.
func withOrders(t *testing.T, f *fixture) *orderHooks {
	t.Helper()
	ctx := context.Background()
	if err := task.Migrate(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	m, err := task.New(f.db, task.Config{InsertOnly: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	task.Handle(m, func(context.Context, *task.Task[orderTaskArgs]) error { return nil }, task.KindOptions{Queue: task.QueueProvisioning})
	h := &orderHooks{tasks: m}
	provision := func(ctx context.Context, tx *sql.Tx, o *store.Order) error {
		// The order is visible in tx only if the hook runs in the
		// transaction that stores it.
		var path string
		if err := tx.QueryRowContext(ctx, `SELECT a.path FROM orders o JOIN accounts a ON a.id = o.customer_id WHERE o.id = $1`,
			o.ID).Scan(&path); err != nil {
			return fmt.Errorf("order %d is not in the hook's transaction: %w", o.ID, err)
		}
		if _, err := m.EnqueueTx(ctx, tx, orderTaskArgs{OrderID: o.ID}, task.ForAccount(o.CustomerID, path), task.UniqueByArgs()); err != nil {
			return err
		}
		if h.fail.Load() {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "the queue is down")
		}
		h.mu.Lock()
		h.orders = append(h.orders, o.ID)
		h.mu.Unlock()
		return nil
	}
	status := func(_ context.Context, _ *sql.Tx, s *subscription.Subscription) error {
		h.mu.Lock()
		h.statuses = append(h.statuses, fmt.Sprintf("%d %s", s.ID, s.Status))
		h.mu.Unlock()
		return nil
	}
	f.api = New(Config{DB: f.db, Version: "test", Tasks: f.tasks, Logger: slog.New(slog.DiscardHandler),
		EnqueueProvision: provision, EnqueueSubscriptionStatus: status, Gateway: gatewaytest.New()})
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", f.api.Handler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return h
}

// saleChain delegates the provider's "basic" (10.00 a month, 5.00 setup,
// 5 mailboxes included, 2.50 each above) down to L2, on sale at each tier:
//
//	P 10.00, setup 5.00, mailbox 2.50
//	└─ L1a (+20 %) 12.00, setup 6.00, mailbox 3.00
//	   └─ L2 (+10 %) 13.20, setup 6.60, mailbox 3.30: what C buys
func saleChain(t *testing.T, f *fixture) (src, l1a, l2 Plan) {
	t.Helper()
	src = providerPlan(t, f)
	f.must(t, 201, "P", "POST", "/plans/"+id(src.ID)+"/delegate",
		map[string]any{"child_id": f.L1a.ID, "rule": percentRule("20"), "publish": true}).JSON(t, &l1a)
	f.must(t, 201, "L1a", "POST", "/plans/"+id(l1a.ID)+"/delegate",
		map[string]any{"child_id": f.L2.ID, "rule": percentRule("10"), "publish": true}).JSON(t, &l2)
	if pe := l2.Periods[0]; pe.Recurring.Amount != "13.20" || pe.Setup.Amount != "6.60" || l2.Rates[0].Recurring.Amount != "3.30" || !l2.OnSale {
		t.Fatalf("L2's copy %+v", l2)
	}
	return src, l1a, l2
}

// freePlan is L2's own plan "free": nothing to pay.
func freePlan(t *testing.T, f *fixture) Plan {
	t.Helper()
	body := planBody("free")
	pe := body["periods"].([]any)[0].(map[string]any)
	pe["setup"], pe["recurring"] = map[string]any{"amount": "0"}, map[string]any{"amount": "0"}
	body["rates"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "0"}
	var p Plan
	f.must(t, 201, "L2", "POST", "/accounts/"+id(f.L2.ID)+"/plans", body).JSON(t, &p)
	return p
}

func orderBody(customer, plan int64, mailboxes int64) map[string]any {
	b := map[string]any{"customer_id": customer, "plan_id": plan, "period": "1m"}
	if mailboxes != 0 {
		b["resources"] = map[string]int64{"mailbox": mailboxes}
	}
	return b
}

// lineStrings renders lines one per string, for tables a person can check:
// "resource mailbox×3 [2027-01-10, 2027-02-10) 9.90".
func lineStrings(ls []OrderLine) []string {
	out := []string{}
	for _, l := range ls {
		s := l.What
		if l.Resource != "" {
			s += " " + l.Resource + "×" + l.Quantity
		}
		if l.From != "" {
			s += " [" + l.From + ", " + l.To + ")"
		}
		out = append(out, s+" "+l.Amount)
	}
	return out
}

// tierWant is one tier's side as a test expects it.
type tierWant struct {
	seller, buyer, plan int64
	lines               []string
	total               string
}

// wantLines checks lines and their total against a table.
func wantLines(t *testing.T, about string, got []OrderLine, gotTotal, currency string, want []string, wantTotal string) {
	t.Helper()
	if g := lineStrings(got); !slices.Equal(g, want) {
		t.Errorf("%s: lines\n  %s\nwant\n  %s", about, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
	if gotTotal != wantTotal || currency != "USD" {
		t.Errorf("%s: total %s %s, want %s USD", about, gotTotal, currency, wantTotal)
	}
}

func wantTiers(t *testing.T, about string, got []OrderTier, want ...tierWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tiers %+v, want %d", about, len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Tier != i+1 || g.SellerID != w.seller || g.BuyerID != w.buyer || g.PlanID != w.plan {
			t.Errorf("%s: tier %d is %d: %d → %d plan %d, want %d → %d plan %d", about, i+1, g.Tier, g.SellerID, g.BuyerID, g.PlanID,
				w.seller, w.buyer, w.plan)
		}
		wantLines(t, fmt.Sprintf("%s, tier %d", about, g.Tier), g.Lines, g.Total, g.Currency, w.lines, w.total)
	}
}

// decode is the JSON body of r as a fresh T (decoding into a used value
// would keep the fields an answer leaves out).
func decode[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	r.JSON(t, &v)
	return v
}

// count is the number of rows of table.
func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stored sums up what orders leave in the database.
func stored(t *testing.T, db *store.DB) string {
	t.Helper()
	var parts []string
	for _, tb := range []string{"orders", "order_tiers", "subscriptions", "order_counters"} {
		parts = append(parts, fmt.Sprintf("%s=%d", tb, count(t, db, tb)))
	}
	return strings.Join(parts, " ")
}

// TestQuoteAndOrderAPI: customer C of the L2 reseller quotes and orders
// L2's basic with 8 mailboxes on 2027-01-10, a month [2027-01-10,
// 2027-02-10):
//
//	C pays L2 at L2's prices:    setup 6.60, recurring 13.20, 3 mailboxes above the 5 included × 3.30 = 9.90; total 29.70
//	L2 pays L1a at L1a's prices: setup 6.00, recurring 12.00, 3 × 3.00 = 9.00;                         total 27.00
//	L1a pays P at P's prices:    setup 5.00, recurring 10.00, 3 × 2.50 = 7.50;                         total 22.50
func TestQuoteAndOrderAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		src, l1a, l2 := saleChain(t, f)
		body := orderBody(f.C.ID, l2.ID, 8)
		const month = " [2027-01-10, 2027-02-10) "
		retail := []string{"setup 6.60", "recurring" + month + "13.20", "resource mailbox×3" + month + "9.90"}
		tier1 := tierWant{f.L1a.ID, f.L2.ID, l1a.ID, []string{"setup 6.00", "recurring" + month + "12.00", "resource mailbox×3" + month + "9.00"}, "27.00"}
		tier2 := tierWant{f.P.ID, f.L1a.ID, src.ID, []string{"setup 5.00", "recurring" + month + "10.00", "resource mailbox×3" + month + "7.50"}, "22.50"}

		// A quote stores nothing; each reader sees the tiers bought at its
		// account or below: the customer none, L2 its purchase, L1a and P
		// both.
		for _, x := range []struct {
			who   string
			tiers []tierWant
		}{{"C", nil}, {"L2", []tierWant{tier1}}, {"L1a", []tierWant{tier1, tier2}}, {"P", []tierWant{tier1, tier2}}} {
			var q Quote
			f.must(t, 200, x.who, "POST", "/quotes", body).JSON(t, &q)
			wantLines(t, "quote as "+x.who, q.Lines, q.Total, q.Currency, retail, "29.70")
			wantTiers(t, "quote as "+x.who, q.Tiers, x.tiers...)
			if q.CustomerID != f.C.ID || q.PlanID != l2.ID || q.Period != "1m" || q.EffectiveOn != "2027-01-10" ||
				q.PeriodEnd != "2027-02-10" || q.Resources["mailbox"] != 8 || len(q.Resources) != 1 || q.Tiers == nil {
				t.Errorf("quote as %s: %+v", x.who, q)
			}
		}
		none := stored(t, db)
		if none != "orders=0 order_tiers=0 subscriptions=0 order_counters=0" {
			t.Fatalf("quotes stored %s", none)
		}

		// Without a task manager the order could never be provisioned:
		// refused, and nothing is stored.
		f.must(t, 503, "C", "POST", "/orders", body).Problem(t)
		if s := stored(t, db); s != none {
			t.Fatalf("an order without its task: %s", s)
		}

		hooks := withOrders(t, f)
		// A task that cannot be queued takes its order with it, and the
		// order's number too.
		hooks.fail.Store(true)
		f.must(t, 503, "C", "POST", "/orders", body).Problem(t)
		hooks.fail.Store(false)
		if s := stored(t, db); s != none || len(hooks.provisionTasks(t)) != 0 {
			t.Fatalf("after a failed enqueue: %s, %d tasks", s, len(hooks.provisionTasks(t)))
		}

		// The order: 201 with the order, its provisioning task queued in
		// its transaction on the customer's account.
		r := f.must(t, 201, "C", "POST", "/orders", body)
		var o Order
		r.JSON(t, &o)
		if o.Number != 1 || o.Type != "SO" || o.Status != "provisioning" || o.VendorID != f.L2.ID || o.CustomerID != f.C.ID ||
			o.PlanID != l2.ID || o.Period != "1m" || o.EffectiveOn != "2027-01-10" || o.Resources["mailbox"] != 8 ||
			o.SubscriptionID == 0 || o.CreatedBy != 0 || o.Version != 1 || o.FinishedAt != nil || o.Reason != "" {
			t.Errorf("order %+v", o)
		}
		wantLines(t, "order", o.Lines, o.Total, o.Currency, retail, "29.70")
		if o.Tiers == nil || len(o.Tiers) != 0 || !strings.Contains(string(r.Body), `"tiers":[]`) {
			t.Errorf("the customer sees the tiers %+v", o.Tiers)
		}
		if r.Header.Get("Location") != Prefix+"/orders/"+id(o.ID) || r.Header.Get("ETag") != `"1"` {
			t.Errorf("headers %v", r.Header)
		}
		queued := hooks.provisionTasks(t)
		var args orderTaskArgs
		if len(queued) != 1 || json.Unmarshal(queued[0].Args, &args) != nil || args.OrderID != o.ID ||
			queued[0].Queue != task.QueueProvisioning || queued[0].AccountID != f.C.ID || queued[0].AccountPath != f.C.Path {
			t.Fatalf("tasks %+v", queued)
		}
		if q := hooks.queued(); !slices.Equal(q, []int64{o.ID}) {
			t.Errorf("queued %v", q)
		}

		// As stored, to the cent, with the tiers each reader may see.
		for _, x := range []struct {
			who   string
			tiers []tierWant
		}{{"C", nil}, {"L2", []tierWant{tier1}}, {"L1a", []tierWant{tier1, tier2}}, {"P", []tierWant{tier1, tier2}}} {
			var got Order
			r := f.must(t, 200, x.who, "GET", "/orders/"+id(o.ID), nil)
			r.JSON(t, &got)
			wantLines(t, "order as "+x.who, got.Lines, got.Total, got.Currency, retail, "29.70")
			wantTiers(t, "order as "+x.who, got.Tiers, x.tiers...)
			if r.Header.Get("ETag") != `"1"` || got.Number != 1 || got.Status != "provisioning" || !got.CreatedAt.Equal(o.CreatedAt) {
				t.Errorf("order as %s: %+v %v", x.who, got, r.Header)
			}
		}
		for _, who := range []string{"L1b", "C2"} {
			if who == "C2" {
				c2 := newAccount(t, db, f.L2, account.Customer, "Epsilon Customer C2")
				f.keys["C2"] = newKey(t, db, c2.ID, f.roles[account.RoleAdmin].ID)
			}
			if p := f.must(t, 404, who, "GET", "/orders/"+id(o.ID), nil).Problem(t); p.Detail != "order not found" {
				t.Errorf("%s: %+v", who, p)
			}
		}
		f.must(t, 404, "P", "GET", "/orders/987654", nil).Problem(t)

		// The pending subscription the order makes.
		s := decode[Subscription](t, f.must(t, 200, "C", "GET", "/subscriptions/"+id(o.SubscriptionID), nil))
		if s.Status != "pending" || s.CustomerID != f.C.ID || s.VendorID != f.L2.ID || s.PlanID != l2.ID || s.Start != "2027-01-10" ||
			s.PeriodStart != "2027-01-10" || s.PeriodEnd != "2027-02-10" || s.NextBillingAt != "2027-02-10" || s.Resources["mailbox"] != 8 ||
			s.AutoRenew != (AutoRenew{Mode: "before_expiration"}) || s.Version != 1 {
			t.Errorf("subscription %+v", s)
		}

		// The vendor's staff order for their customer; numbers go on.
		var o2 Order
		f.must(t, 201, "L2", "POST", "/orders", orderBody(f.C.ID, l2.ID, 0)).JSON(t, &o2)
		wantLines(t, "L2's order with the included mailboxes", o2.Lines, o2.Total, o2.Currency,
			[]string{"setup 6.60", "recurring" + month + "13.20"}, "19.80")
		wantTiers(t, "L2's order", o2.Tiers, tierWant{f.L1a.ID, f.L2.ID, l1a.ID,
			[]string{"setup 6.00", "recurring" + month + "12.00"}, "18.00"})
		if o2.Number != 2 || o2.Resources["mailbox"] != 5 || o2.CreatedBy != 0 {
			t.Errorf("L2's order %+v", o2)
		}
		if n := len(hooks.provisionTasks(t)); n != 2 {
			t.Errorf("%d tasks after two orders", n)
		}
	})
}

// TestOrderRefusedAPI: bad input answers 400 with the fields to fix and
// the order package's reasons; an account on credit hold is refused with
// the reason; out of reach reads as missing. Nothing is stored and no task
// is queued.
func TestOrderRefusedAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		src, _, l2 := saleChain(t, f)
		free := freePlan(t, f)
		hooks := withOrders(t, f)
		other := newAccount(t, db, f.L1b, account.Customer, "Zeta Customer of L1b")
		none := stored(t, db)

		edit := func(change func(b map[string]any)) map[string]any {
			b := orderBody(f.C.ID, l2.ID, 8)
			change(b)
			return b
		}
		for _, c := range []struct {
			about  string
			who    string
			body   map[string]any
			status int
			// fields are the field errors as "location reason", sorted.
			fields []string
		}{
			{"an unknown period", "C", edit(func(b map[string]any) { b["period"] = "1y" }), 400, []string{"body.period unknown_period"}},
			{"below the minimum", "C", edit(func(b map[string]any) { b["resources"] = map[string]int64{"mailbox": 0} }), 400,
				[]string{"body.resources.mailbox below_minimum"}},
			{"above the maximum", "C", edit(func(b map[string]any) { b["resources"] = map[string]int64{"mailbox": 101} }), 400,
				[]string{"body.resources.mailbox above_maximum"}},
			{"an unknown resource", "C", edit(func(b map[string]any) { b["resources"] = map[string]int64{"mailbox": 6, "storage": 1} }), 400,
				[]string{"body.resources.storage unknown_resource"}},
			{"nothing to pay, unconfirmed", "C", orderBody(f.C.ID, free.ID, 0), 400, []string{"body.confirm_zero required"}},
			{"the provider's plan", "C", edit(func(b map[string]any) { b["plan_id"] = src.ID }), 400, []string{"body.plan_id not_on_sale"}},
			{"a missing plan", "C", edit(func(b map[string]any) { b["plan_id"] = 987654 }), 400, []string{"body.plan_id not_on_sale"}},
			{"no plan", "C", edit(func(b map[string]any) { delete(b, "plan_id") }), 400, []string{"body.plan_id"}},
			{"a reseller buying", "L2", edit(func(b map[string]any) { b["customer_id"] = f.L2.ID }), 400, []string{"body.customer_id"}},
			{"for its parent", "C", edit(func(b map[string]any) { b["customer_id"] = f.L2.ID }), 400, []string{"body.customer_id"}},
			{"for another's customer", "L1b", edit(func(b map[string]any) { b["customer_id"] = f.C.ID }), 400, []string{"body.customer_id"}},
			{"for a missing customer", "L1b", edit(func(b map[string]any) { b["customer_id"] = 987654 }), 400, []string{"body.customer_id"}},
			{"another vendor's customer", "L1b", edit(func(b map[string]any) { b["customer_id"] = other.ID }), 400,
				[]string{"body.plan_id not_on_sale"}},
		} {
			for _, path := range []string{"/quotes", "/orders"} {
				p := f.must(t, c.status, c.who, "POST", path, c.body).Problem(t)
				var got []string
				for _, e := range p.Errors {
					reason, _, _ := strings.Cut(e.Message, ": ")
					if !strings.Contains(e.Message, ": ") {
						reason = ""
					}
					got = append(got, strings.TrimSpace(e.Location+" "+reason))
				}
				slices.Sort(got)
				if !slices.Equal(got, c.fields) {
					t.Errorf("%s, %s: field errors %v, want %v (%s)", c.about, path, got, c.fields, p.Detail)
				}
			}
		}
		// A read-only key may quote but not order.
		f.must(t, 200, "L1a-support", "POST", "/quotes", orderBody(f.C.ID, l2.ID, 8))
		f.must(t, 403, "L1a-support", "POST", "/orders", orderBody(f.C.ID, l2.ID, 8)).Problem(t)

		// Credit hold: refused with the reason until the hold is
		// released.
		f.must(t, 200, "L2", "POST", "/accounts/"+id(f.C.ID)+"/status", map[string]any{"status": "credit_hold"})
		for _, path := range []string{"/quotes", "/orders"} {
			p := f.must(t, 409, "C", "POST", path, orderBody(f.C.ID, l2.ID, 8)).Problem(t)
			if !strings.Contains(p.Detail, "credit hold") {
				t.Errorf("%s on credit hold: %q", path, p.Detail)
			}
		}
		if s := stored(t, db); s != none || len(hooks.provisionTasks(t)) != 0 {
			t.Fatalf("after the refusals: %s, %d tasks", s, len(hooks.provisionTasks(t)))
		}
		f.must(t, 200, "L2", "POST", "/accounts/"+id(f.C.ID)+"/status", map[string]any{"status": "active"})

		// Zero, confirmed: no lines, nothing to pay; the first number.
		var o Order
		body := orderBody(f.C.ID, free.ID, 0)
		body["confirm_zero"] = true
		f.must(t, 201, "C", "POST", "/orders", body).JSON(t, &o)
		if o.Total != "0.00" || len(o.Lines) != 0 || o.Lines == nil || o.Number != 1 || o.Status != "provisioning" {
			t.Errorf("free order %+v", o)
		}
	})
}

// placed is an order placed through the API and completed as its task
// would complete it.
func placed(t *testing.T, f *fixture, who string, body map[string]any) Order {
	t.Helper()
	var o Order
	f.must(t, 201, who, "POST", "/orders", body).JSON(t, &o)
	if _, err := f.db.CompleteOrder(context.Background(), o.ID, store.TenantInfo{TenantID: fmt.Sprintf("tenant-%d", o.SubscriptionID),
		Status: "ready", Attributes: map[string]string{"host": "office.example.com"}}); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestChangeAndCancelAPI: C's subscription of 8 mailboxes from
// 2027-01-10, for the month [2027-01-10, 2027-02-10) (31 days):
//
//	2027-01-12, 8 → 10 mailboxes: 29 days left of 31, each line rounded:
//	  C   −round(3 × 3.30 × 29/31 = 9.261…) = −9.26, round(5 × 3.30 × 29/31 = 15.435…) = 15.44; total 6.18
//	  L2  −round(9.00 × 29/31 = 8.419…) = −8.42,     round(15.00 × 29/31 = 14.032…) = 14.03;   total 5.61
//	  L1a −round(7.50 × 29/31 = 7.016…) = −7.02,     round(12.50 × 29/31 = 11.693…) = 11.69;   total 4.67
//	2027-01-20, cancelled within the 14 full-refund days: the period's
//	recurring fees back whole, setup kept:
//	  C −13.20 − 16.50 (5 mailboxes × 3.30) = −29.70; L2 −12.00 − 15.00 = −27.00; L1a −10.00 − 12.50 = −22.50
func TestChangeAndCancelAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		clock := saleClock(db)
		src, l1a, l2 := saleChain(t, f)
		free := freePlan(t, f)
		hooks := withOrders(t, f)
		so := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 8))
		sub := "/subscriptions/" + id(so.SubscriptionID)

		r := f.must(t, 200, "C", "GET", sub, nil)
		var s Subscription
		r.JSON(t, &s)
		if s.Status != "active" || s.TenantID != fmt.Sprintf("tenant-%d", s.ID) || s.TenantStatus != "ready" ||
			s.Attributes["host"] != "office.example.com" || s.Resources["mailbox"] != 8 || r.Header.Get("ETag") != etagOf(s.Version) {
			t.Fatalf("subscription %+v %v", s, r.Header)
		}

		clock.Set(time.Date(2027, 1, 12, 10, 0, 0, 0, time.UTC))
		// Bad changes: the fields to fix, nothing stored.
		before := stored(t, db)
		for _, c := range []struct {
			about  string
			who    string
			body   map[string]any
			status int
			fields []string
		}{
			{"no change", "C", map[string]any{"resources": map[string]int64{"mailbox": 8}}, 400, []string{"body.resources"}},
			{"nothing asked", "C", map[string]any{}, 400, []string{"body.resources"}},
			{"below the minimum", "C", map[string]any{"resources": map[string]int64{"mailbox": 0}}, 400, []string{"body.resources.mailbox"}},
			{"a plan not on sale", "C", map[string]any{"plan_id": src.ID}, 400, []string{"body.plan_id"}},
			{"a plan off the upgrade paths", "C", map[string]any{"plan_id": free.ID}, 400, []string{"body.plan_id"}},
			{"a read-only key", "L1a-support", map[string]any{"resources": map[string]int64{"mailbox": 10}}, 403, nil},
			{"a sibling reseller", "L1b", map[string]any{"resources": map[string]int64{"mailbox": 10}}, 404, nil},
		} {
			p := f.must(t, c.status, c.who, "POST", sub+"/change", c.body).Problem(t)
			if !slices.Equal(p.locations(), c.fields) {
				t.Errorf("%s: field errors %v, want %v (%s)", c.about, p.locations(), c.fields, p.Detail)
			}
		}
		if p := f.must(t, 400, "C", "POST", sub+"/change", map[string]any{"plan_id": free.ID}).Problem(t); !strings.HasPrefix(p.Errors[0].Message, "not_allowed: ") {
			t.Errorf("off the paths: %+v", p)
		}
		f.must(t, 412, "C", "POST", sub+"/change", map[string]any{"resources": map[string]int64{"mailbox": 10}}, "If-Match", `"99"`).Problem(t)
		if got := stored(t, db); got != before {
			t.Fatalf("refused changes stored %s (before %s)", got, before)
		}

		// 8 → 10 mailboxes.
		r = f.must(t, 201, "C", "POST", sub+"/change", map[string]any{"resources": map[string]int64{"mailbox": 10}}, "If-Match", etagOf(s.Version))
		var ch Order
		r.JSON(t, &ch)
		const rest = " [2027-01-12, 2027-02-10) "
		wantLines(t, "change", ch.Lines, ch.Total, ch.Currency,
			[]string{"resource mailbox×-3" + rest + "-9.26", "resource mailbox×5" + rest + "15.44"}, "6.18")
		if ch.Type != "CH" || ch.Number != 2 || ch.Status != "provisioning" || ch.SubscriptionID != s.ID || ch.EffectiveOn != "2027-01-12" ||
			ch.Resources["mailbox"] != 10 || ch.FromResources["mailbox"] != 8 || ch.FromPlanID != l2.ID || ch.PlanID != l2.ID ||
			r.Header.Get("Location") != Prefix+"/orders/"+id(ch.ID) {
			t.Errorf("change order %+v", ch)
		}
		got := decode[Order](t, f.must(t, 200, "P", "GET", "/orders/"+id(ch.ID), nil))
		wantTiers(t, "change", got.Tiers,
			tierWant{f.L1a.ID, f.L2.ID, l1a.ID, []string{"resource mailbox×-3" + rest + "-8.42", "resource mailbox×5" + rest + "14.03"}, "5.61"},
			tierWant{f.P.ID, f.L1a.ID, src.ID, []string{"resource mailbox×-3" + rest + "-7.02", "resource mailbox×5" + rest + "11.69"}, "4.67"})
		if q := hooks.queued(); len(q) != 2 || q[1] != ch.ID {
			t.Errorf("queued %v", q)
		}
		// One open order at a time.
		f.must(t, 409, "C", "POST", sub+"/change", map[string]any{"resources": map[string]int64{"mailbox": 12}}).Problem(t)
		f.must(t, 409, "C", "POST", sub+"/cancel", nil).Problem(t)
		// The subscription changes when the order completes.
		s = decode[Subscription](t, f.must(t, 200, "C", "GET", sub, nil))
		if s.Resources["mailbox"] != 8 {
			t.Errorf("changed before provisioning: %+v", s.Resources)
		}
		if _, err := db.CompleteOrder(ctx, ch.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		s = decode[Subscription](t, f.must(t, 200, "C", "GET", sub, nil))
		if s.Resources["mailbox"] != 10 || s.Status != "active" {
			t.Errorf("after the change %+v", s)
		}

		// Cancelled on 2027-01-20, within the full-refund days.
		clock.Set(time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC))
		f.must(t, 404, "L1b", "POST", sub+"/cancel", nil).Problem(t)
		f.must(t, 403, "L1a-support", "POST", sub+"/cancel", nil).Problem(t)
		var cl Order
		f.must(t, 201, "C", "POST", sub+"/cancel", nil).JSON(t, &cl)
		wantLines(t, "cancellation", cl.Lines, cl.Total, cl.Currency, []string{"refund -13.20", "refund mailbox×5 -16.50"}, "-29.70")
		if cl.Type != "CL" || cl.Number != 3 || cl.EffectiveOn != "2027-01-20" || cl.FromResources["mailbox"] != 10 {
			t.Errorf("cancellation %+v", cl)
		}
		var clRead Order
		f.must(t, 200, "L1a", "GET", "/orders/"+id(cl.ID), nil).JSON(t, &clRead)
		wantTiers(t, "cancellation", clRead.Tiers,
			tierWant{f.L1a.ID, f.L2.ID, l1a.ID, []string{"refund -12.00", "refund mailbox×5 -15.00"}, "-27.00"},
			tierWant{f.P.ID, f.L1a.ID, src.ID, []string{"refund -10.00", "refund mailbox×5 -12.50"}, "-22.50"})
		if _, err := db.CompleteOrder(ctx, cl.ID, store.TenantInfo{Status: "deleted"}); err != nil {
			t.Fatal(err)
		}
		s = decode[Subscription](t, f.must(t, 200, "C", "GET", sub, nil))
		if s.Status != "terminated" || s.StatusReason != "cancelled" {
			t.Errorf("after the cancellation %+v", s)
		}
		f.must(t, 409, "C", "POST", sub+"/cancel", nil).Problem(t)
		f.must(t, 409, "C", "POST", sub+"/change", map[string]any{"resources": map[string]int64{"mailbox": 12}}).Problem(t)

		// The subscription's orders, newest first.
		page := decode[Page[Order]](t, f.must(t, 200, "C", "GET", "/orders?subscription_id="+id(s.ID), nil))
		if len(page.Items) != 3 || page.Items[0].ID != cl.ID || page.Items[2].ID != so.ID || page.Items[0].Tiers != nil ||
			page.Items[0].Status != "completed" || page.Items[0].FinishedAt == nil {
			t.Errorf("orders of the subscription %+v", page.Items)
		}
		page = decode[Page[Order]](t, f.must(t, 200, "L2", "GET", "/orders?type=CH", nil))
		if len(page.Items) != 1 || page.Items[0].ID != ch.ID {
			t.Errorf("change orders %+v", page.Items)
		}
	})
}

// TestStaffOrderActionsAPI: an order whose provisioning failed is retried
// or cancelled by the vendor's staff, never by the customer.
func TestStaffOrderActionsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		hooks := withOrders(t, f)
		var o Order
		f.must(t, 201, "C", "POST", "/orders", orderBody(f.C.ID, l2.ID, 6)).JSON(t, &o)
		path := "/orders/" + id(o.ID)
		// Being provisioned: the connector may be at work; neither.
		f.must(t, 409, "L2", "POST", path+"/retry", nil).Problem(t)
		f.must(t, 409, "L2", "POST", path+"/cancel", nil).Problem(t)

		if _, err := db.FailOrder(ctx, o.ID, "", "the connector answered 500"); err != nil {
			t.Fatal(err)
		}
		r := f.must(t, 200, "C", "GET", path, nil)
		var failed Order
		r.JSON(t, &failed)
		if failed.Status != "provisioning_failed" || failed.Reason != "provisioning_failed" || failed.Message != "the connector answered 500" ||
			r.Header.Get("ETag") != `"2"` {
			t.Fatalf("failed order %+v %v", failed, r.Header)
		}
		for _, action := range []string{"/retry", "/cancel"} {
			f.must(t, 403, "C", "POST", path+action, nil).Problem(t)
			f.must(t, 404, "L1b", "POST", path+action, nil).Problem(t)
			f.must(t, 412, "L2", "POST", path+action, nil, "If-Match", `"1"`).Problem(t)
		}
		r = f.must(t, 200, "L2", "POST", path+"/retry", nil, "If-Match", `"2"`)
		var retried Order
		r.JSON(t, &retried)
		if retried.Status != "provisioning" || retried.Reason != "" || retried.Message != "" || r.Header.Get("ETag") != `"3"` ||
			len(retried.Tiers) != 1 {
			t.Errorf("retried %+v %v", retried, r.Header)
		}
		if q := hooks.queued(); len(q) != 2 || q[1] != o.ID {
			t.Errorf("queued %v: the retry queues the task again", q)
		}

		if _, err := db.FailOrder(ctx, o.ID, "", "the connector answered 500 again"); err != nil {
			t.Fatal(err)
		}
		var cancelled Order
		f.must(t, 200, "L1a", "POST", path+"/cancel", nil).JSON(t, &cancelled)
		if cancelled.Status != "cancelled" || cancelled.Reason != "cancelled_by_staff" || cancelled.FinishedAt == nil || len(cancelled.Tiers) != 2 {
			t.Errorf("cancelled %+v", cancelled)
		}
		s := decode[Subscription](t, f.must(t, 200, "C", "GET", "/subscriptions/"+id(o.SubscriptionID), nil))
		if s.Status != "terminated" || s.StatusReason != "order_cancelled" {
			t.Errorf("the subscription of the cancelled order %+v", s)
		}
		f.must(t, 409, "L2", "POST", path+"/retry", nil).Problem(t)
		f.must(t, 404, "L2", "POST", "/orders/987654/retry", nil).Problem(t)
	})
}
