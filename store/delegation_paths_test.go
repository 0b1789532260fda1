package store_test

import (
	"slices"
	"testing"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestDelegationFillsPaths: delegating basic (upgrade to pro) before pro
// leaves A's copy of basic without the path, since A cannot sell pro yet;
// when pro's copy arrives, by delegation or by a sync's new plans, the
// copy of basic gets basic → pro.
func TestDelegationFillsPaths(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := catSetup(t, db)
		pro := officePlan(c.P.ID, "office-pro")
		pro.Published = true
		if err := db.CreatePlan(c.ctx, c.p, pro); err != nil {
			t.Fatal(err)
		}
		basic := officePlan(c.P.ID, "office-basic")
		basic.UpgradeTo = []string{"office-pro"}
		if err := db.CreatePlan(c.ctx, c.p, basic); err != nil {
			t.Fatal(err)
		}
		paths := func(owner int64, key string) (up, down []string, version int64) {
			t.Helper()
			p, err := db.PlanByKey(c.ctx, c.sys, owner, key)
			if err != nil {
				t.Fatalf("%s of %d: %v", key, owner, err)
			}
			return p.UpgradeTo, p.DowngradeTo, p.Version
		}

		basicA, err := db.Delegate(c.ctx, c.p, basic.ID, c.A.ID, percent("20"))
		if err != nil {
			t.Fatal(err)
		}
		if up, _, _ := paths(c.A.ID, "office-basic"); len(up) != 0 {
			t.Fatalf("A's basic before pro: upgrade to %v, want none (A holds no pro)", up)
		}
		if _, err := db.Delegate(c.ctx, c.p, pro.ID, c.A.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		if up, _, v := paths(c.A.ID, "office-basic"); !slices.Equal(up, []string{"office-pro"}) || v != basicA.Version+1 {
			t.Errorf("A's basic after pro arrived: upgrade to %v (version %d), want [office-pro] (version %d)", up, v, basicA.Version+1)
		}

		// A sells basic to A1; pro reaches A1 by a sync's new plans.
		if _, err := db.Delegate(c.ctx, c.a, basicA.ID, c.A1.ID, percent("10")); err != nil {
			t.Fatal(err)
		}
		if up, _, _ := paths(c.A1.ID, "office-basic"); len(up) != 0 {
			t.Fatalf("A1's basic before pro: upgrade to %v", up)
		}
		proA, err := db.PlanByKey(c.ctx, c.sys, c.A.ID, "office-pro")
		if err != nil {
			t.Fatal(err)
		}
		run := &store.SyncRun{SourcePlanID: proA.ID, Options: "new_plans"}
		if err := db.CreateSyncRun(c.ctx, c.a, run, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunSync(c.ctx, run.ID, nil); err != nil {
			t.Fatal(err)
		}
		if up, _, _ := paths(c.A1.ID, "office-basic"); !slices.Equal(up, []string{"office-pro"}) {
			t.Errorf("A1's basic after the sync brought pro: upgrade to %v, want [office-pro]", up)
		}
		// A plan no path names changes nothing.
		other := officePlan(c.P.ID, "office-other")
		if err := db.CreatePlan(c.ctx, c.p, other); err != nil {
			t.Fatal(err)
		}
		_, _, before := paths(c.A.ID, "office-basic")
		if _, err := db.Delegate(c.ctx, c.p, other.ID, c.A.ID, delegation.DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RuleCopy}}); err != nil {
			t.Fatal(err)
		}
		if up, _, v := paths(c.A.ID, "office-basic"); !slices.Equal(up, []string{"office-pro"}) || v != before {
			t.Errorf("A's basic after an unrelated plan: %v, version %d, want %d", up, v, before)
		}
	})
}
