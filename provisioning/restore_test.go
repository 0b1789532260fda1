package provisioning_test

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestRestoreResumes: a subscription billing suspended and then terminated
// keeps its (suspended) tenant; its restore order resumes that tenant,
// creates and changes nothing, and the subscription is active again.
func TestRestoreResumes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := account.SystemActor()
		r := newRig(t, db, &connectortest.Memory{})
		o := r.buy(t, nil)
		if err := r.orch.Provision(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		sub := r.wantActive(t, o.SubscriptionID)
		if _, err := db.SetSubscriptionStatus(ctx, sys, sub.ID, subscription.Suspended, subscription.ReasonExpired, nil); err != nil {
			t.Fatal(err)
		}
		if err := r.orch.ApplyStatus(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetSubscriptionStatus(ctx, sys, sub.ID, subscription.Terminated, subscription.ReasonExpired, nil); err != nil {
			t.Fatal(err)
		}
		if tn := r.mem.Tenants()[sub.TenantID]; tn.Status != connector.StatusSuspended {
			t.Fatalf("tenant of the terminated subscription: %s", tn.Status)
		}

		restore, err := db.RestoreSubscription(ctx, sys, sub.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.orch.Provision(ctx, restore.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := r.order(t, restore.ID); got.Status != order.StatusCompleted {
			t.Fatalf("restore order %s %q", got.Status, got.Message)
		}
		s := r.wantActive(t, sub.ID)
		if s.TenantID != sub.TenantID || r.mem.Calls("resume") != 1 || r.mem.Calls("update") != 0 || r.mem.Calls("create") != 1 {
			t.Errorf("restored on tenant %q (was %q): %d resumes, %d updates, %d creates", s.TenantID, sub.TenantID,
				r.mem.Calls("resume"), r.mem.Calls("update"), r.mem.Calls("create"))
		}
	})
}
