package bench

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBillingBenchmark runs the billing benchmark twice at scale 3,000 on
// both engines, on one database: the first run builds the fixture (300
// customers of 3 resellers) and bills 2027-06-01, the second reuses it and
// bills 2027-06-02. Each day has a thirtieth of the subscriptions due (100),
// each billed with one invoice: the pay-as-you-go ones among them only
// if their usage was rated.
func TestBillingBenchmark(t *testing.T) {
	const scale = 3000
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		count := func(q string) int {
			t.Helper()
			var n int
			if err := db.Read.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for run := 1; run <= 2; run++ {
			res, err := Run(ctx, "billing", Options{DB: db, Scale: scale,
				Logger: slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			t.Logf("run %d: %v", run, res.Figures)
			for _, k := range []string{"total_s", "setup_s", "floor_s", "floor_ratio", "subscriptions_per_s", "peak_rss_mb"} {
				if v, ok := res.Figures[k]; !ok || !(v > 0) {
					t.Errorf("run %d: figure %s = %v (present %t), want > 0", run, k, v, ok)
				}
			}
			for k := range res.Figures {
				if !HasUnit(k) {
					t.Errorf("run %d: figure %s has no unit suffix", run, k)
				}
			}
			f := res.Figures
			if want := f["floor_s"] / f["total_s"]; math.Abs(f["floor_ratio"]-want) > 0.01*want+1e-3 {
				t.Errorf("run %d: floor_ratio %v, want floor_s / total_s = %v", run, f["floor_ratio"], want)
			}

			// Every billed subscription moved on to a period that starts
			// on its billing day, each with an invoice to its customer (and
			// one to its reseller from the provider).
			billed := count(`SELECT COUNT(*) FROM subscriptions WHERE period_start >= '2027-06-01T00:00:00.000000Z'`)
			if lo, hi := run*scale/30*9/10, run*scale/30*11/10; billed < lo || billed > hi {
				t.Errorf("after run %d: %d subscriptions billed, want %d to %d", run, billed, lo, hi)
			}
			if n := count(`SELECT COUNT(*) FROM documents d JOIN accounts a ON a.id = d.account_id
				WHERE d.type = 'invoice' AND a.kind = 'customer'`); n != billed {
				t.Errorf("after run %d: %d invoices to customers for %d subscriptions billed", run, n, billed)
			}
			// A healthy book: nothing suspended, nobody on hold.
			if n := count(`SELECT COUNT(*) FROM subscriptions WHERE status <> 'active'`); n != 0 {
				t.Errorf("after run %d: %d subscriptions are not active", run, n)
			}
		}
		if n := count(`SELECT COUNT(*) FROM subscriptions`); n != scale {
			t.Errorf("%d subscriptions, want %d", n, scale)
		}
		if n := count(`SELECT COUNT(*) FROM accounts WHERE kind = 'customer'`); n != scale/10 {
			t.Errorf("%d customers, want %d", n, scale/10)
		}
		// Both usage plans were billed: pay-as-you-go subscriptions
		// (invoiced only when their usage is rated) and metered monthly ones.
		if n := count(`SELECT COUNT(DISTINCT subscription_id) FROM usage_records`); n != scale/10 {
			t.Errorf("%d subscriptions have readings, want %d", n, scale/10)
		}
		for _, key := range []string{"bench-bill-payg", "bench-bill-monthly"} {
			if n := count(`SELECT COUNT(*) FROM subscriptions s JOIN plans p ON p.id = s.plan_id
				WHERE s.period_start >= '2027-06-01T00:00:00.000000Z' AND p.key = '` + key + `' AND s.id IN (SELECT subscription_id FROM usage_records)`); n == 0 {
				t.Errorf("no metered subscription of %s was billed", key)
			}
		}
		var n int
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+billFloorTable).Scan(&n); err == nil {
			t.Errorf("the floor's table %s is still there", billFloorTable)
		}
	})
}
