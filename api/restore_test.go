package api

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestRestoreSubscriptionAPI: the staff restore a subscription that billing
// terminated while its service lived on, through a free change order with
// its provisioning task; a deleted service, an active subscription and an
// open restore answer 409; a sibling does not see it.
func TestRestoreSubscriptionAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := account.SystemActor()
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		hooks := withOrders(t, f)

		live := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 7)).SubscriptionID
		for _, to := range []subscription.Status{subscription.Suspended, subscription.Terminated} {
			if _, err := db.SetSubscriptionStatus(ctx, sys, live, to, subscription.ReasonExpired, nil); err != nil {
				t.Fatal(err)
			}
		}
		restore := "/subscriptions/" + id(live) + "/restore"
		f.must(t, 404, "L1b", "POST", restore, nil).Problem(t)
		f.must(t, 403, "C", "POST", restore, nil).Problem(t)
		before := len(hooks.queued())
		o := decode[Order](t, f.must(t, 201, "L2", "POST", restore, nil))
		if o.Type != "CH" || o.Status != "provisioning" || o.Total != "0.00" || len(o.Lines) != 0 || o.SubscriptionID != live {
			t.Errorf("restore order %+v", o)
		}
		if q := hooks.queued(); len(q) != before+1 || q[len(q)-1] != o.ID {
			t.Errorf("provisioning queued %v, want the restore order %d last", q, o.ID)
		}
		f.must(t, 409, "L2", "POST", restore, nil).Problem(t) // its restore is open
		if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		if s := decode[Subscription](t, f.must(t, 200, "C", "GET", "/subscriptions/"+id(live), nil)); s.Status != "active" || s.StatusReason != "" {
			t.Errorf("restored %+v", s)
		}
		f.must(t, 409, "L2", "POST", restore, nil).Problem(t) // active

		// Cancelled: the service was deleted.
		gone := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 7)).SubscriptionID
		cl := decode[Order](t, f.must(t, 201, "C", "POST", "/subscriptions/"+id(gone)+"/cancel", nil))
		if _, err := db.CompleteOrder(ctx, cl.ID, store.TenantInfo{Status: "deleted"}); err != nil {
			t.Fatal(err)
		}
		p := f.must(t, 409, "L2", "POST", "/subscriptions/"+id(gone)+"/restore", nil).Problem(t)
		if p.Detail == "" {
			t.Errorf("a refused restore says no reason: %+v", p)
		}
	})
}
