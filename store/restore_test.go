package store_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestRestoreSubscription: a subscription terminated by billing keeps its
// service and comes back through a free restore order; one whose
// cancellation deleted its service, one never provisioned and one still
// active do not.
func TestRestoreSubscription(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		live := st.complete(t, st.buy(t, st.c, 5)).SubscriptionID
		// Billing terminates it after its hold days; the service is
		// suspended, not deleted.
		for _, to := range []subscription.Status{subscription.Suspended, subscription.Terminated} {
			if _, err := db.SetSubscriptionStatus(ctx, st.sys, live, to, subscription.ReasonExpired, nil); err != nil {
				t.Fatal(err)
			}
		}

		// Who may: the vendor's staff, not the customer; others do not
		// see it.
		_, err := db.RestoreSubscription(ctx, st.c, live, nil)
		wantCode(t, err, marketplane.EFORBIDDEN)
		for _, other := range []*account.Actor{st.b, st.cb} {
			_, err = db.RestoreSubscription(ctx, other, live, nil)
			wantCode(t, err, marketplane.ENOTFOUND)
		}
		// A task that cannot be queued stores nothing.
		_, err = db.RestoreSubscription(ctx, st.a1, live, func(*sql.Tx, *store.Order) error { return errors.New("queue down") })
		if err == nil {
			t.Fatal("failing enqueue: no error")
		}
		if list, _ := db.Orders(ctx, st.sys, store.OrderFilter{SubscriptionID: live}); len(list) != 1 {
			t.Errorf("after a failing enqueue: %d orders, want the sale only", len(list))
		}

		queued := 0
		o, err := db.RestoreSubscription(ctx, st.a1, live, func(*sql.Tx, *store.Order) error { queued++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if o.Type != order.CH || !o.Details.Restore || o.Total != 0 || !o.Quote.Empty() || o.Status != order.StatusProvisioning ||
			o.PlanID != st.basic["A1"].ID || o.Details.Resources["mailbox"] != 5 || queued != 1 || len(o.Tiers) != 0 {
			t.Errorf("restore order: %+v (queued %d)", o, queued)
		}
		if s := st.sub(t, live); s.Status != subscription.Terminated {
			t.Errorf("restored before its service was resumed: %s", s.Status)
		}
		_, err = db.RestoreSubscription(ctx, st.a1, live, nil)
		wantCode(t, err, marketplane.ECONFLICT) // its restore is open
		st.complete(t, o)
		if s := st.sub(t, live); s.Status != subscription.Active || s.StatusReason != "" || s.Resources["mailbox"] != 5 {
			t.Errorf("restored subscription: %s (%s) %v", s.Status, s.StatusReason, s.Resources)
		}
		_, err = db.RestoreSubscription(ctx, st.sys, live, nil)
		wantReason(t, err, "only a terminated subscription")

		// Cancelled, its service deleted at the connector.
		gone := st.complete(t, st.buy(t, st.c, 5)).SubscriptionID
		cl, err := db.CancelOrder(ctx, st.c, gone, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CompleteOrder(ctx, cl.ID, store.TenantInfo{Status: "deleted"}); err != nil {
			t.Fatal(err)
		}
		_, err = db.RestoreSubscription(ctx, st.a1, gone, nil)
		wantReason(t, err, "was deleted at its connector")

		// Never provisioned: its sales order failed and was cancelled.
		never := st.buy(t, st.c, 5)
		if _, err := db.FailOrder(ctx, never.ID, "", "connector down"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CancelPendingOrder(ctx, st.a1, never.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.RestoreSubscription(ctx, st.a1, never.SubscriptionID, nil)
		wantReason(t, err, "never provisioned")
	})
}

// wantReason checks that err is a conflict that says why.
func wantReason(t *testing.T, err error, why string) {
	t.Helper()
	wantCode(t, err, marketplane.ECONFLICT)
	if !strings.Contains(err.Error(), why) {
		t.Errorf("%v: want it to say %q", err, why)
	}
}
