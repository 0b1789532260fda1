package api

import (
	"context"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestOrderShowsProvisioningProgress: an order whose connector fails shows
// its customer, on GET /orders/{id} and in the list, the failed attempts,
// the last cause and when the next attempt runs; the order it fails with
// at last keeps the cause and has no next attempt; a staff retry starts
// afresh, with no progress shown.
func TestOrderShowsProvisioningProgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		clock := saleClock(db)
		_, _, l2 := saleChain(t, f)
		withOrders(t, f)
		var o Order
		f.must(t, 201, "C", "POST", "/orders", orderBody(f.C.ID, l2.ID, 6)).JSON(t, &o)
		if o.Provisioning != nil {
			t.Fatalf("a new order shows progress %+v", o.Provisioning)
		}
		path := "/orders/" + id(o.ID)

		next := clock.Now().Add(40 * time.Second).Truncate(time.Second)
		if _, err := db.RecordProvisioningFailure(ctx, o.ID, "connector POST /tenants: bad reply (HTTP 201): malformed JSON", next); err != nil {
			t.Fatal(err)
		}
		got := decode[Order](t, f.must(t, 200, "C", "GET", path, nil))
		p := got.Provisioning
		if got.Status != "provisioning" || p == nil || p.Attempts != 1 || p.LastError != "connector POST /tenants: bad reply (HTTP 201): malformed JSON" ||
			!p.LastAttemptAt.Equal(clock.Now().Truncate(time.Microsecond)) || p.NextAttemptAt == nil || !p.NextAttemptAt.Equal(next) {
			t.Fatalf("order after a failed attempt: %s, provisioning %+v", got.Status, p)
		}
		list := decode[Page[Order]](t, f.must(t, 200, "C", "GET", "/orders?customer_id="+id(f.C.ID), nil))
		if len(list.Items) != 1 || list.Items[0].Provisioning == nil || list.Items[0].Provisioning.Attempts != 1 {
			t.Fatalf("order list: %+v", list.Items)
		}

		if _, err := db.FailOrder(ctx, o.ID, "", "connector POST /tenants: bad reply (HTTP 201): malformed JSON (still failing after 24h0m0s of attempts)"); err != nil {
			t.Fatal(err)
		}
		got = decode[Order](t, f.must(t, 200, "C", "GET", path, nil))
		if got.Status != "provisioning_failed" || got.Reason != "provisioning_failed" || got.Provisioning == nil ||
			got.Provisioning.Attempts != 1 || got.Provisioning.NextAttemptAt != nil {
			t.Fatalf("failed order: %s %s, provisioning %+v", got.Status, got.Reason, got.Provisioning)
		}
		got = decode[Order](t, f.must(t, 200, "L2", "POST", path+"/retry", nil))
		if got.Status != "provisioning" || got.Provisioning != nil {
			t.Fatalf("retried order: %s, provisioning %+v", got.Status, got.Provisioning)
		}
	})
}
