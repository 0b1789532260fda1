package store_test

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestLatestUsageAndOffersOf: the panels' batched reads answer what the
// one-by-one reads (Usage's last reading, Offer) answer, for many
// subscriptions and plans at once, and nothing out of the actor's reach.
func TestLatestUsageAndOffersOf(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		o1, o2 := st.buy(t, st.c, 5), st.buy(t, st.c, 5)
		st.complete(t, o1)
		st.complete(t, o2)
		at := func(h int) time.Time { return time.Date(2027, 1, 11, h, 0, 0, 0, time.UTC) }
		for sub, readings := range map[int64][]store.UsageReading{
			o1.SubscriptionID: {
				{Resource: "storage_mb", Value: 120, At: at(1)},
				{Resource: "storage_mb", Value: 150, At: at(2)},
				{Resource: "api_calls", Value: 40, Additive: true, At: at(2)},
			},
			o2.SubscriptionID: {{Resource: "storage_mb", Value: 7, At: at(1)}},
		} {
			if _, err := db.RecordUsage(ctx, sub, readings); err != nil {
				t.Fatal(err)
			}
		}
		ids := []int64{o1.SubscriptionID, o2.SubscriptionID, 987654}
		got, err := db.LatestUsage(ctx, st.c, st.C.ID, ids, at(3))
		if err != nil || len(got) != 2 || len(got[o1.SubscriptionID]) != 2 || got[o1.SubscriptionID]["storage_mb"] != 150 ||
			got[o1.SubscriptionID]["api_calls"] != 40 || len(got[o2.SubscriptionID]) != 1 || got[o2.SubscriptionID]["storage_mb"] != 7 {
			t.Errorf("latest before 03:00: %v %v", got, err)
		}
		// The end is exclusive: before 02:00 the latest storage is 120 and
		// no calls were counted yet.
		got, err = db.LatestUsage(ctx, st.c, st.C.ID, ids, at(2))
		if err != nil || len(got[o1.SubscriptionID]) != 1 || got[o1.SubscriptionID]["storage_mb"] != 120 {
			t.Errorf("latest before 02:00: %v %v", got, err)
		}
		// Asked as another customer's subscriptions: none of them.
		got, err = db.LatestUsage(ctx, st.cb, st.CB.ID, ids, at(3))
		if err != nil || len(got) != 0 {
			t.Errorf("as CB's: %v %v", got, err)
		}
		_, err = db.LatestUsage(ctx, st.cb, st.C.ID, ids, at(3))
		wantCode(t, err, marketplane.ENOTFOUND)

		basic := st.basic["A1"]
		offers, err := db.OffersOf(ctx, st.c, st.C.ID, []int64{basic.ID, basic.ID, st.draftA1.ID, st.basic["P"].ID, 987654})
		if err != nil || len(offers) != 1 || offers[basic.ID] == nil {
			t.Fatalf("offers: %v %v", offers, err)
		}
		one, err := db.Offer(ctx, st.c, st.C.ID, basic.ID)
		if err != nil || offers[basic.ID].Name != one.Name || len(offers[basic.ID].Resources) != len(one.Resources) {
			t.Errorf("OffersOf says %+v, Offer %+v (%v)", offers[basic.ID], one, err)
		}
		_, err = db.OffersOf(ctx, st.cb, st.C.ID, []int64{basic.ID})
		wantCode(t, err, marketplane.ENOTFOUND)
	})
}
