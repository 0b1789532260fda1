package api

import (
	"context"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestAccountHoldAPI: putting a customer on credit hold suspends its
// active subscriptions with their tasks, and the release resumes them;
// without the task manager a hold that would suspend services is refused
// and nothing changes.
func TestAccountHoldAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		pre, err := db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: f.C.ID, PlanID: l2.ID, Period: "1m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CompleteOrder(ctx, pre.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		status := "/accounts/" + id(f.C.ID) + "/status"
		sub := "/subscriptions/" + id(pre.SubscriptionID)
		f.must(t, 503, "L2", "POST", status, map[string]any{"status": "credit_hold"}).Problem(t)
		if a := decode[Account](t, f.must(t, 200, "L2", "GET", "/accounts/"+id(f.C.ID), nil)); a.Status != "active" {
			t.Errorf("after a refused hold the account is %s", a.Status)
		}

		hooks := withOrders(t, f)
		f.must(t, 200, "L2", "POST", status, map[string]any{"status": "credit_hold"})
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", sub, nil)); s.Status != "suspended" || s.StatusReason != "credit_hold" {
			t.Errorf("on credit hold %+v", s)
		}
		f.must(t, 200, "L2", "POST", status, map[string]any{"status": "active"})
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", sub, nil)); s.Status != "active" {
			t.Errorf("released %+v", s)
		}
		hooks.mu.Lock()
		statuses := slices.Clone(hooks.statuses)
		hooks.mu.Unlock()
		if want := []string{id(pre.SubscriptionID) + " suspended", id(pre.SubscriptionID) + " active"}; !slices.Equal(statuses, want) {
			t.Errorf("status tasks %v, want %v", statuses, want)
		}
	})
}
