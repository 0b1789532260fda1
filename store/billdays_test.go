package store_test

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBillingShardsZonesAndParts: C holds five subscriptions of A1's basic
// with 8 mailboxes bought on 2027-01-10 (each 23.10 to renew, with the
// tiers above 21.00 and 17.50: 61.60 a subscription, 3 invoices). The day
// 2027-02-10 billed in two shards bills each subscription once, 15
// invoices and 308.00 in all, whatever the split; a zone without sellers
// bills nothing; the periodic task's parts bill a day once and then the
// next day's part is the only one pending.
func TestBillingShardsZonesAndParts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		for range 5 {
			st.complete(t, st.buy(t, st.c, 8))
		}
		ctx := t.Context()
		feb10 := day("2027-02-10")
		if res, err := db.BillDayWith(ctx, feb10, store.BillOptions{Zone: "Europe/Berlin"}); err != nil || res.Subscriptions != 0 || res.Invoices != 0 {
			t.Fatalf("a zone without sellers: %d subscriptions, %d invoices, %v", res.Subscriptions, res.Invoices, err)
		}
		var subs, invoices int
		var total string
		sum := int64(0)
		for k := range 2 {
			res, err := db.BillDayWith(ctx, feb10, store.BillOptions{Shard: k, Shards: 2, Zone: "America/New_York"})
			if err != nil || len(res.Failures) > 0 {
				t.Fatalf("shard %d: %v %v", k, err, res.Failures)
			}
			if res.Subscriptions == 5 {
				t.Errorf("shard %d billed all five subscriptions: the split did not split", k)
			}
			subs += res.Subscriptions
			invoices += res.Invoices
			sum += int64(res.Totals["USD"])
		}
		total = money.Micros(sum).Format("USD")
		if subs != 5 || invoices != 15 || total != "308.00" {
			t.Errorf("two shards: %d subscriptions, %d invoices, %s; want 5, 15, 308.00", subs, invoices, total)
		}
		wantRun(t, "2027-02-10 after the shards", billDay(t, db, feb10), 0, 0, "")
		if _, err := db.BillDayWith(ctx, feb10, store.BillOptions{Shard: 2, Shards: 2}); err == nil {
			t.Error("shard 2 of 2 was accepted")
		}

		// The periodic task's parts: 10:00 in New York on 2027-03-10.
		st.clock.Set(time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC))
		parts, err := db.PendingBillingParts(ctx, db.Clock.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 1 || parts[0].Zone != "America/New_York" || !parts[0].Day.Equal(day("2027-03-10")) || parts[0].Shards != 1 {
			t.Fatalf("pending parts %+v, want 2027-03-10 in America/New_York", parts)
		}
		res, err := db.RunBillingPart(ctx, parts[0], nil)
		if err != nil || res.Subscriptions != 5 || res.Invoices != 15 {
			t.Fatalf("part: %d subscriptions, %d invoices, %v; want 5, 15", res.Subscriptions, res.Invoices, err)
		}
		if again, err := db.RunBillingPart(ctx, parts[0], nil); err != nil || again.Subscriptions != 0 {
			t.Errorf("the finished part ran again: %d subscriptions, %v", again.Subscriptions, err)
		}
		if parts, err := db.PendingBillingParts(ctx, db.Clock.Now(), 1); err != nil || len(parts) != 0 {
			t.Errorf("after the run: pending %+v, %v", parts, err)
		}
		st.clock.Set(time.Date(2027, 3, 12, 15, 0, 0, 0, time.UTC))
		parts, err = db.PendingBillingParts(ctx, db.Clock.Now(), 1)
		if err != nil || len(parts) != 2 || !parts[0].Day.Equal(day("2027-03-11")) || !parts[1].Day.Equal(day("2027-03-12")) {
			t.Errorf("two days later: pending %+v, %v; want 2027-03-11 and 2027-03-12", parts, err)
		}
	})
}
