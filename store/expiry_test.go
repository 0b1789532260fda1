package store_test

import (
	"database/sql"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestExpiry: C's month [2027-01-10, 2027-02-10) does not renew. With the
// defaults (7 grace days, then 14 suspended) the daily run makes it
//
//	2027-02-09  active (its period has not ended)
//	2027-02-10  graced, no invoice
//	2027-02-16  graced
//	2027-02-17  suspended (reason expired)
//	2027-03-02  suspended
//	2027-03-03  terminated
//
// each change once, through the hook that reaches the connector; a seller
// with 0 grace and 1 hold day goes straight to suspended, then
// terminated the next day.
func TestExpiry(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) { storetest.Each(t, expiryDefaults) })
	t.Run("seller's days", func(t *testing.T) { storetest.Each(t, expirySellersDays) })
}

func expiryDefaults(t *testing.T, db *store.DB) {
	{
		st := saleSetup(t, db)
		ctx := t.Context()
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		if _, err := db.SetAutoRenew(ctx, st.c, sub, subscription.RenewOff, 0); err != nil {
			t.Fatal(err)
		}
		var hooked []subscription.Status
		opt := store.BillOptions{OnSubscription: func(_ *sql.Tx, s *subscription.Subscription) error {
			hooked = append(hooked, s.Status)
			return nil
		}}
		for _, c := range []struct {
			day    string
			status subscription.Status
		}{
			{"2027-02-09", subscription.Active},
			{"2027-02-10", subscription.Graced},
			{"2027-02-16", subscription.Graced},
			{"2027-02-17", subscription.Suspended},
			{"2027-03-02", subscription.Suspended},
			{"2027-03-03", subscription.Terminated},
			{"2027-03-04", subscription.Terminated},
		} {
			res, err := db.BillDayWith(ctx, day(c.day), opt)
			if err != nil || len(res.Failures) > 0 || res.Invoices != 0 {
				t.Fatalf("%s: %d invoices, %v %v", c.day, res.Invoices, err, res.Failures)
			}
			s := st.sub(t, sub)
			if s.Status != c.status || (c.status != subscription.Active && s.StatusReason != subscription.ReasonExpired) {
				t.Errorf("%s: %s (%s), want %s", c.day, s.Status, s.StatusReason, c.status)
			}
		}
		want := []subscription.Status{subscription.Graced, subscription.Suspended, subscription.Terminated}
		if len(hooked) != len(want) || hooked[0] != want[0] || hooked[1] != want[1] || hooked[2] != want[2] {
			t.Errorf("hooked %v, want %v", hooked, want)
		}
	}
}

func expirySellersDays(t *testing.T, db *store.DB) {
	{
		st := saleSetup(t, db)
		ctx := t.Context()
		a1, err := db.Account(ctx, st.sys, st.A1.ID)
		if err != nil {
			t.Fatal(err)
		}
		zero, one := 0, 1
		a1.Selling.ExpiryGraceDays, a1.Selling.ExpiryHoldDays = &zero, &one
		if err := db.UpdateAccount(ctx, st.sys, a1); err != nil {
			t.Fatal(err)
		}
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		if _, err := db.SetAutoRenew(ctx, st.c, sub, subscription.RenewOff, 0); err != nil {
			t.Fatal(err)
		}
		billDay(t, db, day("2027-02-10"))
		if s := st.sub(t, sub); s.Status != subscription.Suspended {
			t.Errorf("no grace days: %s on the period's end, want suspended", s.Status)
		}
		billDay(t, db, day("2027-02-11"))
		if s := st.sub(t, sub); s.Status != subscription.Terminated {
			t.Errorf("one hold day: %s the day after, want terminated", s.Status)
		}
	}
}
