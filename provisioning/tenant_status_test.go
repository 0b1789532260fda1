package provisioning_test

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestTenantStatusFollowsSuspend: once the connector confirms a suspend,
// the subscription's tenant status says suspended (it said ready since
// provisioning); once it confirms the resume, ready again. A late answer
// for a status the subscription has left is not recorded.
func TestTenantStatusFollowsSuspend(t *testing.T) {
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
		if sub.TenantStatus != connector.StatusReady {
			t.Fatalf("provisioned: tenant status %q", sub.TenantStatus)
		}
		for _, step := range []struct {
			status subscription.Status
			tenant string
		}{{subscription.Suspended, connector.StatusSuspended}, {subscription.Active, connector.StatusReady}} {
			moved, err := db.SetSubscriptionStatus(ctx, sys, sub.ID, step.status, subscription.ReasonStaff, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.orch.ApplyStatus(ctx, sub.ID); err != nil {
				t.Fatal(err)
			}
			s := r.sub(t, sub.ID)
			if s.Status != step.status || s.TenantStatus != step.tenant || r.mem.Tenants()[sub.TenantID].Status != step.tenant {
				t.Errorf("%s: subscription %s, tenant status %q (connector %q), want %q", step.status, s.Status, s.TenantStatus,
					r.mem.Tenants()[sub.TenantID].Status, step.tenant)
			}
			if s.Version != moved.Version+1 {
				t.Errorf("%s: version %d after recording, want %d", step.status, s.Version, moved.Version+1)
			}
		}
		// The suspend's answer arriving after the resume changes nothing.
		before := r.sub(t, sub.ID)
		after, err := db.RecordTenantStatus(ctx, sub.ID, subscription.Suspended, connector.StatusSuspended)
		if err != nil {
			t.Fatal(err)
		}
		if after.TenantStatus != connector.StatusReady || after.Version != before.Version {
			t.Errorf("a late suspend answer: tenant status %q version %d, want ready at %d", after.TenantStatus, after.Version, before.Version)
		}
		if _, err := db.RecordTenantStatus(ctx, sub.ID, subscription.Active, "asleep"); err == nil {
			t.Error("a tenant status outside the protocol was recorded")
		}
	})
}
