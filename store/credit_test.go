package store_test

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestCreditHoldActions: C buys A1's basic with 8 mailboxes twice on
// 2027-01-10 (29.70 each: setup 6.60 + 13.20 + 3 × 3.30), on net 10 days
// without grace, so both invoices are due on 01-20 and overdue on 01-21.
// C pays 29.70 on 01-15, which settles the older invoice. What the hold of
// 01-21 does depends on C's terms:
//
//	suspend_unpaid  the second subscription only (its invoice is open)
//	suspend_all     both
//	block_orders    neither; new orders are refused all the same
//
// Paying the rest (29.70) releases the automatic hold and resumes what it
// suspended.
func TestCreditHoldActions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		action    account.HoldAction
		suspended [2]bool
		class     bool // A1 sets it for its customers rather than for C
	}{
		{account.SuspendUnpaid, [2]bool{false, true}, false},
		{account.SuspendAll, [2]bool{true, true}, false},
		{account.BlockOrders, [2]bool{false, false}, false},
		{account.SuspendUnpaid, [2]bool{false, true}, true},
	} {
		name := string(c.action)
		if c.class {
			name += " for A1's customers"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				st := saleSetup(t, db)
				ctx := t.Context()
				cust, err := db.Account(ctx, st.sys, st.C.ID)
				if err != nil {
					t.Fatal(err)
				}
				cust.PaymentTermsDays = 10
				if err := db.UpdateAccount(ctx, st.sys, cust); err != nil {
					t.Fatal(err)
				}
				if c.class {
					a1, err := db.Account(ctx, st.sys, st.A1.ID)
					if err != nil {
						t.Fatal(err)
					}
					a1.Selling.CustomerTerms = &account.Terms{OnHold: c.action}
					a1.Selling.ResellerTerms = &account.Terms{OnHold: account.BlockOrders}
					if err := db.UpdateAccount(ctx, st.sys, a1); err != nil {
						t.Fatal(err)
					}
				} else if _, err := db.SetTerms(ctx, st.a1, st.C.ID, account.Terms{OnHold: c.action}); err != nil {
					t.Fatal(err)
				}
				subs := [2]int64{st.complete(t, st.buy(t, st.c, 8)).SubscriptionID, st.complete(t, st.buy(t, st.c, 8)).SubscriptionID}
				st.clock.Set(time.Date(2027, 1, 15, 15, 0, 0, 0, time.UTC))
				if _, err := db.RecordPayment(ctx, st.a1, st.C.ID, m("29.70"), "bank transfer"); err != nil {
					t.Fatal(err)
				}
				billDay(t, db, day("2027-01-20"))
				if a, _ := db.Account(ctx, st.sys, st.C.ID); a.Status != account.StatusActive {
					t.Fatalf("C is %s on its due date", a.Status)
				}
				billDay(t, db, day("2027-01-21"))
				st.clock.Set(time.Date(2027, 1, 21, 15, 0, 0, 0, time.UTC))
				credit, err := db.Credit(ctx, st.sys, st.C.ID)
				if err != nil {
					t.Fatal(err)
				}
				if credit.Status != account.StatusCreditHold || credit.Overdue.Format("USD") != "29.70" || credit.Open.Format("USD") != "29.70" {
					t.Fatalf("C on 01-21: %s, overdue %s, open %s; want credit_hold, 29.70, 29.70", credit.Status, credit.Overdue.Format("USD"), credit.Open.Format("USD"))
				}
				for i, id := range subs {
					s := st.sub(t, id)
					if (s.Status == subscription.Suspended) != c.suspended[i] || (c.suspended[i] && s.StatusReason != subscription.ReasonCreditHold) {
						t.Errorf("subscription %d: %s (%s), want suspended %t", i+1, s.Status, s.StatusReason, c.suspended[i])
					}
				}
				if _, err := db.PlaceOrder(ctx, st.c, store.OrderRequest{CustomerID: st.C.ID, PlanID: st.basic["A1"].ID, Period: "1m",
					Resources: map[string]int64{"mailbox": 5}}, nil); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
					t.Errorf("an order on credit hold: %v, want a conflict", err)
				}
				if _, err := db.RecordPayment(ctx, st.a1, st.C.ID, m("29.70"), "bank transfer"); err != nil {
					t.Fatal(err)
				}
				if a, _ := db.Account(ctx, st.sys, st.C.ID); a.Status != account.StatusActive {
					t.Errorf("C is %s once paid, want active", a.Status)
				}
				for i, id := range subs {
					if s := st.sub(t, id); s.Status != subscription.Active {
						t.Errorf("subscription %d is %s once paid", i+1, s.Status)
					}
				}
			})
		})
	}
}

// TestManualCreditHold: a hold put by A1's staff is not lifted by a
// payment, only by a release; C cannot hold or release itself; a
// temporary release needs its reason.
func TestManualCreditHold(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := t.Context()
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		if _, err := db.PutOnCreditHold(ctx, st.c, st.C.ID, "self", nil); err == nil {
			t.Error("C put itself on hold")
		}
		var hooked []int64
		hook := func(_ *sql.Tx, s *subscription.Subscription) error { hooked = append(hooked, s.ID); return nil }
		c, err := db.PutOnCreditHold(ctx, st.a1, st.C.ID, "cheque bounced", hook)
		if err != nil || c.Status != account.StatusCreditHold || !c.HoldManual {
			t.Fatalf("manual hold: %+v %v", c, err)
		}
		if s := st.sub(t, sub); s.Status != subscription.Suspended || len(hooked) != 1 || hooked[0] != sub {
			t.Errorf("after the hold: subscription %s, hooked %v", s.Status, hooked)
		}
		if _, err := db.RecordPayment(ctx, st.a1, st.C.ID, m("29.70"), "bank transfer"); err != nil {
			t.Fatal(err)
		}
		billDay(t, db, day("2027-01-11"))
		if a, _ := db.Account(ctx, st.sys, st.C.ID); a.Status != account.StatusCreditHold {
			t.Errorf("a payment lifted a manual hold: %s", a.Status)
		}
		if _, err := db.ReleaseCreditHold(ctx, st.a1, st.C.ID, 3, "", nil); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("a release without a reason: %v", err)
		}
		if _, err := db.ReleaseCreditHold(ctx, st.c, st.C.ID, 0, "me", nil); err == nil {
			t.Error("C released itself")
		}
		hooked = nil
		c, err = db.ReleaseCreditHold(ctx, st.a1, st.C.ID, 0, "cleared with the bank", hook)
		if err != nil || c.Status != account.StatusActive || c.HoldManual || len(hooked) != 1 {
			t.Fatalf("release: %+v %v, hooked %v", c, err, hooked)
		}
		if s := st.sub(t, sub); s.Status != subscription.Active {
			t.Errorf("after the release: subscription %s", s.Status)
		}
	})
}

// TestResellerHoldBlocksSalesBelow: P puts reseller A on credit hold. A's
// own purchases stop, so neither A1 (below A) nor its customer C can buy,
// while C's running subscription goes on; the release lets sales resume.
func TestResellerHoldBlocksSalesBelow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := t.Context()
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		if _, err := db.PutOnCreditHold(ctx, st.p, st.A.ID, "overdue", nil); err != nil {
			t.Fatal(err)
		}
		req := store.OrderRequest{CustomerID: st.C.ID, PlanID: st.basic["A1"].ID, Period: "1m", Resources: map[string]int64{"mailbox": 5}}
		if _, err := db.PlaceOrder(ctx, st.c, req, nil); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			t.Errorf("an order below a reseller on hold: %v, want a conflict", err)
		}
		if s := st.sub(t, sub); s.Status != subscription.Active {
			t.Errorf("C's subscription is %s while A is on hold, want active", s.Status)
		}
		if _, err := db.ReleaseCreditHold(ctx, st.p, st.A.ID, 0, "paid", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PlaceOrder(ctx, st.c, req, nil); err != nil {
			t.Errorf("an order once A is released: %v", err)
		}

		// P may choose otherwise: with suspend_customers in A's terms, A's
		// hold suspends the services below A too, and its release brings
		// them back.
		if _, err := db.SetTerms(ctx, st.p, st.A.ID, account.Terms{SuspendCustomers: true}); err != nil {
			t.Fatal(err)
		}
		var hooked []int64
		hook := func(_ *sql.Tx, s *subscription.Subscription) error { hooked = append(hooked, s.ID); return nil }
		if _, err := db.PutOnCreditHold(ctx, st.p, st.A.ID, "overdue again", hook); err != nil {
			t.Fatal(err)
		}
		if s := st.sub(t, sub); s.Status != subscription.Suspended || s.StatusReason != subscription.ReasonResellerHold || !slices.Contains(hooked, sub) {
			t.Errorf("below a reseller held with suspend_customers: %s (%s), hooked %v", s.Status, s.StatusReason, hooked)
		}
		if _, err := db.ReleaseCreditHold(ctx, st.p, st.A.ID, 0, "paid", hook); err != nil {
			t.Fatal(err)
		}
		if s := st.sub(t, sub); s.Status != subscription.Active {
			t.Errorf("after A's release: %s", s.Status)
		}
	})
}
