package provisioning_test

import (
	"context"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestCollectDecimalUsage: a connector reports 13.4 MB; the collector
// stores it exactly (13 and 400000 millionths), not rounded to 13.
func TestCollectDecimalUsage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, &connectortest.Memory{})
		o := r.buy(t, nil)
		if err := r.orch.Provision(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		sub := r.wantActive(t, o.SubscriptionID)
		r.mem.SetUsage(sub.TenantID, []connector.UsageReading{{Resource: "storage_mb", Value: decimal.MustParse("13.4")}})
		if n, err := r.orch.CollectUsage(ctx); err != nil || n != 1 {
			t.Fatalf("CollectUsage = %d, %v", n, err)
		}
		got, err := db.Usage(ctx, account.SystemActor(), sub.ID, "memory.storage_mb", time.Unix(0, 0), db.Clock.Now().Add(time.Hour))
		if err != nil || len(got) != 1 || got[0].Value != 13 || got[0].Fraction != 400_000 || got[0].Amount().String() != "13.4" {
			t.Fatalf("stored %+v, %v; want 13.4", got, err)
		}
	})
}
