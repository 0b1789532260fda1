package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// suiteTree is saleTree with the provider's "suite" plans, sold one per
// customer (the provider's plan category "suite" is a unique group),
// monthly or yearly, delegated as the office plans are:
//
//	P  suite-basic 10.00/month or 100.00/year, upgrade to suite-pro 20.00/month or 200.00/year
//	└─ A (+20 %)  suite-basic 12.00 / 120.00, suite-pro 24.00 / 240.00
//	   └─ A1 (+10 %)  suite-basic 13.20 / 132.00, suite-pro 26.40 / 264.00
type suiteTree struct {
	*saleTree
	suiteBasic, suitePro map[string]*catalog.Plan
}

func suiteSetup(t *testing.T, db *store.DB) *suiteTree {
	t.Helper()
	st := &suiteTree{saleTree: saleSetup(t, db), suiteBasic: map[string]*catalog.Plan{}, suitePro: map[string]*catalog.Plan{}}
	cat := &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: st.P.ID, Key: "suite", Name: catalog.Text{"en": "Office suites"},
		UniqueGroup: true}}
	if err := db.CreatePlanCategory(st.ctx, st.p, cat); err != nil {
		t.Fatal(err)
	}
	create := func(key, monthly, yearly string, upgrade ...string) *catalog.Plan {
		t.Helper()
		p := officePlan(st.P.ID, key)
		p.Published, p.PlanCategory, p.UpgradeTo = true, "suite", upgrade
		p.Periods[0].Recurring = catalog.Price{Amount: m(monthly)}
		p.Periods = append(p.Periods, catalog.Period{Key: "12m", Duration: catalog.Duration{N: 12, Unit: catalog.Month},
			Recurring: catalog.Price{Amount: m(yearly)}, Refund: catalog.Refund{After: catalog.RefundProrated},
			RecurringPer: catalog.PerPeriod, Sort: 2})
		if err := db.CreatePlan(st.ctx, st.p, p); err != nil {
			t.Fatalf("plan %s: %v", key, err)
		}
		return p
	}
	st.suitePro["P"] = create("suite-pro", "20.00", "200.00")
	st.suiteBasic["P"] = create("suite-basic", "10.00", "100.00", "suite-pro")
	for _, plans := range []map[string]*catalog.Plan{st.suitePro, st.suiteBasic} {
		var err error
		if plans["A"], err = db.Delegate(st.ctx, st.p, plans["P"].ID, st.A.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		if plans["A1"], err = db.Delegate(st.ctx, st.a, plans["A"].ID, st.A1.ID, percent("10")); err != nil {
			t.Fatal(err)
		}
	}
	if p := st.suiteBasic["A1"]; p.PlanCategory != "suite" || p.Periods[1].Recurring.Amount != m("132.00") {
		t.Fatalf("A1's suite-basic: category %q, %s a year", p.PlanCategory, p.Periods[1].Recurring.Amount)
	}
	return st
}

func (st *suiteTree) order(actor *account.Actor, plan *catalog.Plan) (*store.Order, error) {
	return st.db.PlaceOrder(st.ctx, actor, store.OrderRequest{CustomerID: st.C.ID, PlanID: plan.ID, Period: "1m"}, nil)
}

// wantUniqueRefusal checks that err is the unique-group refusal naming
// the category and the subscription the customer holds.
func wantUniqueRefusal(t *testing.T, about string, err error, subID int64) {
	t.Helper()
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.ECONFLICT || !strings.Contains(e.Message, `plan category "suite" (Office suites)`) ||
		!strings.Contains(e.Message, fmt.Sprintf("subscription %d ", subID)) {
		t.Errorf("%s: %v, want a conflict naming category suite and subscription %d", about, err, subID)
	}
}

// TestUniqueGroupAtOrdering: a customer holding a subscription of a plan
// category sold one per customer orders no other plan of it — while the
// first is pending, active or suspended — but upgrades within it, orders
// outside it, and orders again once the first is cancelled.
func TestUniqueGroupAtOrdering(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := suiteSetup(t, db)
		first, err := st.order(st.c, st.suiteBasic["A1"])
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.order(st.c, st.suitePro["A1"])
		wantUniqueRefusal(t, "while the first is pending", err, first.SubscriptionID)
		st.complete(t, first)
		_, err = st.db.Quote(st.ctx, st.c, store.OrderRequest{CustomerID: st.C.ID, PlanID: st.suitePro["A1"].ID, Period: "1m"})
		wantUniqueRefusal(t, "a quote", err, first.SubscriptionID)
		_, err = st.order(st.a1, st.suiteBasic["A1"])
		wantUniqueRefusal(t, "the same plan again, by the vendor's staff", err, first.SubscriptionID)
		if _, err := st.db.SetSubscriptionStatus(st.ctx, st.a1, first.SubscriptionID, subscription.Suspended, "", nil); err != nil {
			t.Fatal(err)
		}
		_, err = st.order(st.c, st.suitePro["A1"])
		wantUniqueRefusal(t, "while the first is suspended", err, first.SubscriptionID)
		if _, err := st.db.SetSubscriptionStatus(st.ctx, st.a1, first.SubscriptionID, subscription.Active, "", nil); err != nil {
			t.Fatal(err)
		}
		office := st.complete(t, st.buy(t, st.c, 5))
		// The upgrade within the category is a change, and stays allowed.
		up, err := st.db.ChangeOrder(st.ctx, st.c, first.SubscriptionID, store.ChangeRequest{PlanID: st.suitePro["A1"].ID}, nil)
		if err != nil {
			t.Fatalf("upgrade within the category: %v", err)
		}
		// While the upgrade is open, the pro plan is held too.
		_, err = st.order(st.c, st.suitePro["A1"])
		wantUniqueRefusal(t, "while the upgrade is open", err, first.SubscriptionID)
		st.complete(t, up)
		if got := st.sub(t, first.SubscriptionID).PlanID; got != st.suitePro["A1"].ID {
			t.Errorf("after the upgrade plan %d, want %d", got, st.suitePro["A1"].ID)
		}
		cl, err := st.db.CancelOrder(st.ctx, st.c, first.SubscriptionID, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.complete(t, cl)
		again, err := st.order(st.c, st.suiteBasic["A1"])
		if err != nil {
			t.Fatalf("after the cancellation: %v", err)
		}
		// Another customer is not concerned.
		if _, err := st.db.PlaceOrder(st.ctx, st.cb, store.OrderRequest{CustomerID: st.CB.ID, PlanID: st.basicB.ID, Period: "1m"}, nil); err != nil {
			t.Errorf("another customer: %v", err)
		}
		// Nothing of the refusals was stored: numbers run without gaps.
		orders, err := st.db.Orders(st.ctx, st.a1, store.OrderFilter{CustomerID: st.C.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) != 5 || orders[0].ID != again.ID || office.Number != 2 || again.Number != 5 {
			t.Errorf("%d orders, the last %d number %d, want 5 ending with number 5", len(orders), orders[0].ID, again.Number)
		}
	})
}

// TestUniqueGroupRace: eight parallel orders of one customer for plans of
// a category sold one per customer: exactly one is placed, the others are
// refused with the conflict, on both engines.
func TestUniqueGroupRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := suiteSetup(t, db)
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				plan := st.suiteBasic["A1"]
				if i%2 == 1 {
					plan = st.suitePro["A1"]
				}
				_, errs[i] = st.order(st.c, plan)
			}()
		}
		close(start)
		wg.Wait()
		placed := 0
		for _, err := range errs {
			switch {
			case err == nil:
				placed++
			case marketplane.ErrorCode(err) != marketplane.ECONFLICT:
				t.Errorf("an order failed otherwise: %v", err)
			}
		}
		subs, err := st.db.Subscriptions(st.ctx, st.sys, store.SubscriptionFilter{CustomerID: st.C.ID})
		if err != nil {
			t.Fatal(err)
		}
		if placed != 1 || len(subs) != 1 {
			t.Errorf("%d orders placed, %d subscriptions; want exactly 1", placed, len(subs))
		}
	})
}

// TestPeriodChangeOrder: C of A1 changes its monthly suite-basic to the
// yearly period on 2027-01-26, 15 of the 31 days of [01-10, 02-10) left:
//
//	C  → A1's prices: credit −13.20 × 15/31 = −6.387… → −6.39; year [2027-01-26, 2028-01-26) 132.00; total 125.61
//	A1 → A's prices:  credit −12.00 × 15/31 = −5.806… → −5.81; year 120.00;                           total 114.19
//	A  → P's prices:  credit −10.00 × 15/31 = −4.838… → −4.84; year 100.00;                           total  95.16
//
// Once provisioned, the subscription is yearly from 2027-01-26, renews on
// 2028-01-26, and the order's invoice says the same lines.
func TestPeriodChangeOrder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := suiteSetup(t, db)
		so, err := st.order(st.c, st.suiteBasic["A1"])
		if err != nil {
			t.Fatal(err)
		}
		st.complete(t, so)
		st.clock.Set(time.Date(2027, 1, 26, 15, 0, 0, 0, time.UTC))
		req := store.ChangeRequest{Period: "12m"}
		q, err := st.db.QuoteChange(st.ctx, st.a1, so.SubscriptionID, req)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"change-credit [2027-01-26, 2027-02-10) -6.39", "recurring [2027-01-26, 2028-01-26) 132.00"}
		wantQuote(t, "quote", q.Quote, want, "125.61")
		ch, err := st.db.ChangeOrder(st.ctx, st.c, so.SubscriptionID, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantQuote(t, "order", ch.Quote, want, "125.61")
		if ch.Type != order.CH || ch.Period != "12m" || ch.Details.FromPeriod != "1m" {
			t.Errorf("order %s period %q from %q, want CH 12m from 1m", ch.Type, ch.Period, ch.Details.FromPeriod)
		}
		full, err := st.db.Order(st.ctx, st.sys, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantTiers(t, "tiers", full.Tiers,
			tierWant{st.A.ID, st.A1.ID, st.suiteBasic["A"].ID,
				[]string{"change-credit [2027-01-26, 2027-02-10) -5.81", "recurring [2027-01-26, 2028-01-26) 120.00"}, "114.19"},
			tierWant{st.P.ID, st.A.ID, st.suiteBasic["P"].ID,
				[]string{"change-credit [2027-01-26, 2027-02-10) -4.84", "recurring [2027-01-26, 2028-01-26) 100.00"}, "95.16"})
		if s := st.sub(t, so.SubscriptionID); s.Period != "1m" || !s.PeriodEnd.Equal(day("2027-02-10")) {
			t.Errorf("before provisioning: period %s to %s, want 1m to 2027-02-10", s.Period, s.PeriodEnd.Format(time.DateOnly))
		}
		st.complete(t, ch)
		s := st.sub(t, so.SubscriptionID)
		if s.Period != "12m" || !s.Anchor.Equal(day("2027-01-26")) || !s.PeriodStart.Equal(day("2027-01-26")) ||
			!s.PeriodEnd.Equal(day("2028-01-26")) || !s.NextBillingAt.Equal(day("2028-01-26")) || !s.Start.Equal(day("2027-01-10")) {
			t.Errorf("after: %s anchored %s [%s, %s) next billing %s start %s; want 12m from 2027-01-26 to 2028-01-26, started 2027-01-10",
				s.Period, s.Anchor.Format(time.DateOnly), s.PeriodStart.Format(time.DateOnly), s.PeriodEnd.Format(time.DateOnly),
				s.NextBillingAt.Format(time.DateOnly), s.Start.Format(time.DateOnly))
		}
		docs, err := st.db.Documents(st.ctx, st.sys, store.DocumentFilter{AccountID: st.C.ID, Type: store.DocInvoice})
		if err != nil {
			t.Fatal(err)
		}
		var inv *store.Document
		for _, d := range docs {
			if d.OrderID == ch.ID {
				inv = d
			}
		}
		if inv == nil {
			t.Fatalf("no invoice for the change among %d", len(docs))
		}
		wantQuote(t, "invoice", &order.Quote{Currency: inv.Currency, Lines: inv.Lines, Total: inv.Total}, want, "125.61")
	})
}

// TestChangeConfirmZero: a change that costs nothing (an upgrade without
// proration) is refused without the buyer's confirmation and stores
// nothing; confirmed, it is placed.
func TestChangeConfirmZero(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		so := st.complete(t, st.buy(t, st.c, 5))
		req := store.ChangeRequest{PlanID: st.pro["A1"].ID, Proration: "none"}
		_, err := st.db.ChangeOrder(st.ctx, st.c, so.SubscriptionID, req, nil)
		if r, _ := order.FieldReason(err, "confirm_zero"); r != order.ReasonRequired {
			t.Fatalf("unconfirmed change for nothing: %v, want confirm_zero required", err)
		}
		if _, err := st.db.QuoteChange(st.ctx, st.c, so.SubscriptionID, req); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("its quote: %v, want the same refusal", err)
		}
		req.ConfirmZero = true
		ch, err := st.db.ChangeOrder(st.ctx, st.c, so.SubscriptionID, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Total != 0 || len(ch.Quote.Lines) != 0 || !ch.Details.ConfirmZero || ch.Number != 2 {
			t.Errorf("confirmed: total %s, %d lines, confirmed %v, number %d; want nothing to pay, number 2", ch.Total, len(ch.Quote.Lines),
				ch.Details.ConfirmZero, ch.Number)
		}
	})
}
