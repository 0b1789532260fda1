package store_test

import (
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestUsage: readings stored once, read back by range, and the collector's
// walk over running subscriptions.
func TestUsage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		o1, o2 := st.buy(t, st.c, 5), st.buy(t, st.c, 5)
		st.complete(t, o1)
		at := func(h int) time.Time { return time.Date(2027, 1, 11, h, 0, 0, 0, time.UTC) }
		readings := []store.UsageReading{
			{Resource: "storage_mb", Value: 120, At: at(1)},
			{Resource: "storage_mb", Value: 150, At: at(2)},
			{Resource: "api_calls", Value: 40, Additive: true, At: at(2)},
		}
		n, err := db.RecordUsage(ctx, o1.SubscriptionID, readings)
		if err != nil || n != 3 {
			t.Fatalf("record: %d %v", n, err)
		}
		// Collected again (a retried task): nothing new.
		n, err = db.RecordUsage(ctx, o1.SubscriptionID, append(readings, store.UsageReading{Resource: "api_calls", Value: 5, Additive: true, At: at(3)}))
		if err != nil || n != 1 {
			t.Fatalf("record again: %d %v", n, err)
		}
		got, err := db.Usage(ctx, st.c, o1.SubscriptionID, "storage_mb", at(0), at(24))
		if err != nil || len(got) != 2 || got[0].Value != 120 || got[1].Value != 150 || !got[1].At.Equal(at(2)) || got[0].Additive ||
			got[0].SubscriptionID != o1.SubscriptionID || got[0].CollectedAt.IsZero() {
			t.Fatalf("storage usage: %+v %v", got, err)
		}
		all, err := db.Usage(ctx, st.a, o1.SubscriptionID, "", at(2), at(3))
		if err != nil || len(all) != 2 || all[0].Resource != "api_calls" || !all[0].Additive {
			t.Fatalf("usage at 02:00: %+v %v", all, err)
		}
		_, err = db.Usage(ctx, st.c, o1.SubscriptionID, "", at(3), at(2))
		wantFields(t, err, marketplane.EINVALID, "to")

		_, err = db.RecordUsage(ctx, 987654, readings)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.RecordUsage(ctx, o1.SubscriptionID, []store.UsageReading{{Value: -1}})
		wantFields(t, err, marketplane.EINVALID, "batch[0].readings[0].resource", "batch[0].readings[0].value")
		n, err = db.RecordUsageBatch(ctx, []store.SubscriptionUsage{
			{SubscriptionID: o1.SubscriptionID, Readings: []store.UsageReading{{Resource: "storage_mb", Value: 160, At: at(4)}}},
			{SubscriptionID: o2.SubscriptionID, Readings: []store.UsageReading{{Resource: "storage_mb", Value: 1}}},
		})
		if err != nil || n != 2 {
			t.Fatalf("batch: %d %v", n, err)
		}

		// The collector walks the running subscriptions of a connector.
		batch, err := db.ActiveSubscriptionsBatch(ctx, "office365", 0, 10)
		if err != nil || len(batch) != 1 || batch[0].ID != o1.SubscriptionID || batch[0].TenantID == "" {
			t.Fatalf("active batch: %v %v", batch, err)
		}
		st.complete(t, o2)
		batch, _ = db.ActiveSubscriptionsBatch(ctx, "office365", o1.SubscriptionID, 10)
		if len(batch) != 1 || batch[0].ID != o2.SubscriptionID {
			t.Errorf("batch after %d: %v", o1.SubscriptionID, batch)
		}
		if batch, _ = db.ActiveSubscriptionsBatch(ctx, "other", 0, 10); len(batch) != 0 {
			t.Errorf("another connector's batch: %v", batch)
		}
	})
}

// TestUsageValue: a decimal reading splits into whole units and millionths
// exactly, and back.
func TestUsageValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		value, frac int64
		ok          bool
	}{
		{"13.4", 13, 400_000, true},
		{"0.000001", 0, 1, true},
		{"1000", 1000, 0, true},
		{"1.5000000", 1, 500_000, true},
		{"-0.5", -1, 500_000, true},
		{"1.0000001", 0, 0, false},
		{"10000000000000", 0, 0, false},
	} {
		v, f, ok := store.UsageValue(decimal.MustParse(tc.in))
		if v != tc.value || f != tc.frac || ok != tc.ok {
			t.Errorf("UsageValue(%s) = %d, %d, %v; want %d, %d, %v", tc.in, v, f, ok, tc.value, tc.frac, tc.ok)
		}
		if ok && tc.value >= 0 {
			if back := (store.UsageReading{Value: v, Fraction: f}).Amount(); back.Cmp(decimal.MustParse(tc.in)) != 0 {
				t.Errorf("Amount of %s = %s", tc.in, back)
			}
		}
	}
}
