package store_test

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// billDay runs the billing of day and fails on an error or a failure.
func billDay(t *testing.T, db *store.DB, day time.Time) store.BillRunResult {
	t.Helper()
	res, err := db.BillDay(t.Context(), day)
	if err != nil {
		t.Fatalf("bill %s: %v", day.Format(time.DateOnly), err)
	}
	for _, f := range res.Failures {
		t.Errorf("bill %s: subscription %d: %v", day.Format(time.DateOnly), f.SubscriptionID, f.Err)
	}
	return res
}

// invoicesOf are the invoices of buyer that billing runs issued (those of
// renewal orders, RN), oldest first.
func invoicesOf(t *testing.T, st *saleTree, buyer int64) []*store.Document {
	t.Helper()
	docs, err := st.db.Documents(st.ctx, st.sys, store.DocumentFilter{AccountID: buyer, Type: store.DocInvoice})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Document
	for i := len(docs) - 1; i >= 0; i-- {
		o, err := st.db.Order(st.ctx, st.sys, docs[i].OrderID)
		if err != nil {
			t.Fatalf("order of %s: %v", docs[i].Number, err)
		}
		if o.Type == order.RN {
			out = append(out, docs[i])
		}
	}
	return out
}

func wantRun(t *testing.T, about string, res store.BillRunResult, subs, invoices int, usd string) {
	t.Helper()
	got := res.Totals["USD"].Format("USD")
	if usd == "" {
		got, usd = "", ""
		if len(res.Totals) != 0 {
			got = "some"
		}
	}
	if res.Subscriptions != subs || res.Invoices != invoices || got != usd {
		t.Errorf("%s: %d subscriptions, %d invoices, USD %s; want %d, %d, %s", about, res.Subscriptions, res.Invoices, got, subs, invoices, usd)
	}
}

// TestBillDayRenewal: C buys A1's basic with 8 mailboxes on 2027-01-10
// (TestPlaceOrderWorkedExample), for the month [2027-01-10, 2027-02-10).
// The run of 2027-02-10 renews it at A1's prices, in advance:
//
//	recurring [2027-02-10, 2027-03-10)                  13.20
//	3 mailboxes above the 5 included × 3.30              9.90
//	total (no setup on a renewal)                       23.10
//
// and moves the period to [2027-02-10, 2027-03-10); each tier above bills
// the tier below for the same month at its own price:
//
//	A → A1: 12.00 + 3 × 3.00 = 21.00;  P → A: 10.00 + 3 × 2.50 = 17.50
//
// (three invoices, 61.60 in all). The day before bills nothing; the same
// day again bills nothing.
func TestBillDayRenewal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		o := st.complete(t, st.buy(t, st.c, 8))
		if s := st.sub(t, o.SubscriptionID); !s.NextBillingAt.Equal(day("2027-02-10")) {
			t.Fatalf("next billing at %s", s.NextBillingAt)
		}
		wantRun(t, "2027-02-09", billDay(t, db, day("2027-02-09")), 0, 0, "")

		wantRun(t, "2027-02-10", billDay(t, db, day("2027-02-10")), 1, 3, "61.60")
		for _, w := range []struct {
			buyer, vendor int64
			lines         []string
			total         string
		}{
			{st.A1.ID, st.A.ID, []string{"recurring [2027-02-10, 2027-03-10) 12.00", "resource mailbox×3 [2027-02-10, 2027-03-10) 9.00"}, "21.00"},
			{st.A.ID, st.P.ID, []string{"recurring [2027-02-10, 2027-03-10) 10.00", "resource mailbox×3 [2027-02-10, 2027-03-10) 7.50"}, "17.50"},
		} {
			inv := invoicesOf(t, st, w.buyer)
			if len(inv) != 1 || inv[0].VendorID != w.vendor || inv[0].SubscriptionID != o.SubscriptionID || !inv[0].IssuedOn.Equal(day("2027-02-10")) {
				t.Fatalf("tier invoices of %d: %+v", w.buyer, inv)
			}
			wantQuote(t, "tier renewal", &order.Quote{Currency: inv[0].Currency, Lines: inv[0].Lines, Total: inv[0].Total}, w.lines, w.total)
		}
		inv := invoicesOf(t, st, st.C.ID)
		if len(inv) != 1 {
			t.Fatalf("%d invoices, want 1", len(inv))
		}
		d := inv[0]
		if d.VendorID != st.A1.ID || d.Number != "INV-000002" || d.Status != store.DocOpen || !d.IssuedOn.Equal(day("2027-02-10")) || d.OrderID == 0 {
			t.Errorf("invoice: vendor %d number %s status %s issued %s order %d", d.VendorID, d.Number, d.Status, d.IssuedOn, d.OrderID)
		}
		rn, err := db.Order(st.ctx, st.sys, d.OrderID)
		if err != nil || rn.Type != order.RN || rn.Status != order.StatusCompleted || rn.Total.Format("USD") != "23.10" ||
			len(rn.Tiers) != 2 || rn.Tiers[0].Total.Format("USD") != "21.00" || rn.Tiers[1].Total.Format("USD") != "17.50" ||
			rn.SubscriptionID != o.SubscriptionID || rn.VendorID != st.A1.ID || rn.Number != 2 {
			t.Errorf("renewal order: %+v %v", rn, err)
		}
		wantQuote(t, "renewal", &order.Quote{Currency: d.Currency, Lines: d.Lines, Total: d.Total}, []string{
			"recurring [2027-02-10, 2027-03-10) 13.20",
			"resource mailbox×3 [2027-02-10, 2027-03-10) 9.90",
		}, "23.10")
		s := st.sub(t, o.SubscriptionID)
		if !s.PeriodStart.Equal(day("2027-02-10")) || !s.PeriodEnd.Equal(day("2027-03-10")) || !s.NextBillingAt.Equal(day("2027-03-10")) {
			t.Errorf("period [%s, %s) next %s, want [2027-02-10, 2027-03-10) next 2027-03-10", s.PeriodStart, s.PeriodEnd, s.NextBillingAt)
		}
		bal, err := db.Balance(st.ctx, st.sys, st.C.ID, st.A1.ID)
		if err != nil || bal.Format("USD") != "52.80" { // the sale 29.70 (setup 6.60 + 13.20 + 9.90) and the renewal 23.10
			t.Errorf("balance %s %v, want 52.80", bal.Format("USD"), err)
		}

		// The same day again: the period has moved, nothing is due.
		wantRun(t, "2027-02-10 again", billDay(t, db, day("2027-02-10")), 0, 0, "")
		if n := len(invoicesOf(t, st, st.C.ID)); n != 1 {
			t.Errorf("%d invoices after the second run, want 1", n)
		}
		if again := st.sub(t, o.SubscriptionID); again.Version != s.Version || !again.PeriodEnd.Equal(s.PeriodEnd) {
			t.Errorf("the second run changed the subscription: version %d → %d", s.Version, again.Version)
		}

		// A run that missed days closes every period that ended: 2027-04-12
		// bills [03-10, 04-10) and moves to [04-10, 05-10).
		wantRun(t, "2027-04-12", billDay(t, db, day("2027-04-12")), 1, 6, "123.20")
		if s := st.sub(t, o.SubscriptionID); !s.PeriodStart.Equal(day("2027-04-10")) || !s.NextBillingAt.Equal(day("2027-05-10")) {
			t.Errorf("after the missed days: period from %s, next %s", s.PeriodStart, s.NextBillingAt)
		}
	})
}

// TestBillDayOveruse: customer D of the provider buys a metered plan on
// 2027-01-10: 10.00 a month, storage 50 GB included, 0.10 per GB above.
// Storage readings in the month [2027-01-10, 2027-02-10): 41, 73, 60; one
// of 200 on 2027-02-12 belongs to the next month. The run of 2027-02-10:
//
//	recurring [2027-02-10, 2027-03-10), in advance        10.00
//	overuse storage: highest 73 − 50 included = 23 × 0.10  2.30  [2027-01-10, 2027-02-10), in arrears
//	total                                                 12.30
func TestBillDayOveruse(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		plan := officePlan(st.P.ID, "office-metered")
		plan.Published = true
		plan.Periods[0].Setup = catalog.Price{}
		plan.Rates = append(plan.Rates, catalog.Rate{Key: "storage", Resource: "storage", Included: 50, Max: catalog.Unlimited,
			Overuse: catalog.Price{Amount: m("0.10")}, Measurable: true, Display: catalog.Spinner, Sort: 2})
		if err := db.CreatePlan(ctx, st.p, plan); err != nil {
			t.Fatalf("metered plan: %v", err)
		}
		cust := newAccount(account.Customer, st.P.ID, "Customer D")
		if err := db.CreateAccount(ctx, st.sys, cust); err != nil {
			t.Fatal(err)
		}
		o, err := db.PlaceOrder(ctx, st.p, store.OrderRequest{CustomerID: cust.ID, PlanID: plan.ID, Period: "1m",
			Resources: map[string]int64{"mailbox": 5}}, nil)
		if err != nil {
			t.Fatalf("place order: %v", err)
		}
		st.complete(t, o)
		at := func(d string) time.Time { return day(d).Add(17 * time.Hour) }
		if _, err := db.RecordUsage(ctx, o.SubscriptionID, []store.UsageReading{
			{Resource: "storage", Value: 41, At: at("2027-01-15")},
			{Resource: "storage", Value: 73, At: at("2027-01-20")},
			{Resource: "storage", Value: 60, At: at("2027-02-01")},
			{Resource: "storage", Value: 200, At: at("2027-02-12")},
		}); err != nil {
			t.Fatal(err)
		}

		wantRun(t, "2027-02-10", billDay(t, db, day("2027-02-10")), 1, 1, "12.30")
		inv := invoicesOf(t, st, cust.ID)
		if len(inv) != 1 {
			t.Fatalf("%d invoices, want 1", len(inv))
		}
		d := inv[0]
		wantQuote(t, "renewal with overuse", &order.Quote{Currency: d.Currency, Lines: d.Lines, Total: d.Total}, []string{
			"recurring [2027-02-10, 2027-03-10) 10.00",
			"overuse storage×23 [2027-01-10, 2027-02-10) 2.30",
		}, "12.30")
		wantRun(t, "2027-02-10 again", billDay(t, db, day("2027-02-10")), 0, 0, "")
	})
}
