package bench

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestAPIBenchmark runs the API benchmark for 2 seconds with 4 clients on
// both engines, twice on one database (the second run reuses the fixture
// with new keys), and checks that every order it counts is stored, queued
// for provisioning, and nothing more.
func TestAPIBenchmark(t *testing.T) {
	apiClients = 4
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
		placed := 0.0
		for run := 1; run <= 2; run++ {
			res, err := Run(ctx, "api", Options{DB: db, Scale: 2,
				Logger: slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			t.Logf("run %d: %v", run, res.Figures)
			for _, k := range []string{"orders_per_s", "p50_ms", "p99_ms", "orders_s", "setup_s", "total_s", "peak_rss_mb"} {
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
			if f["orders_s"] < 2 {
				t.Errorf("run %d: ordered for %v s, want at least 2", run, f["orders_s"])
			}
			if f["p99_ms"] < f["p50_ms"] {
				t.Errorf("run %d: p99 %v ms below p50 %v ms", run, f["p99_ms"], f["p50_ms"])
			}
			placed += f["orders_per_s"] * f["orders_s"]
			// The rate and the time are rounded to four decimals: their
			// product is the count of orders give or take far less than one.
			if n := count(`SELECT COUNT(*) FROM orders`); math.Abs(float64(n)-placed) > 0.5 {
				t.Errorf("after run %d: %d orders stored, %.2f placed by the figures", run, n, placed)
			}
		}
		// One order and one provisioning task per order, each order of
		// one of the 4 clients of the fixture's 32 customers, still
		// provisioning (no worker runs).
		orders := count(`SELECT COUNT(*) FROM orders`)
		if orders == 0 {
			t.Fatal("no orders")
		}
		if n := count(`SELECT COUNT(*) FROM orders WHERE status = 'provisioning'`); n != orders {
			t.Errorf("%d of %d orders provisioning", n, orders)
		}
		if n := count(`SELECT COUNT(*) FROM river_job WHERE kind = 'order.provision'`); n != orders {
			t.Errorf("%d provisioning tasks for %d orders", n, orders)
		}
		if n := count(`SELECT COUNT(DISTINCT customer_id) FROM orders`); n != 4 {
			t.Errorf("orders of %d customers, want 4", n)
		}
		if n := count(`SELECT COUNT(*) FROM accounts WHERE external_id LIKE 'bench-api-%'`); n != apiResellers*(1+apiCustomersPerReseller) {
			t.Errorf("%d accounts of the fixture, want %d", n, apiResellers*(1+apiCustomersPerReseller))
		}
		if n := count(`SELECT COUNT(*) FROM api_keys`); n != 2*4 {
			t.Errorf("%d API keys, want 8 (4 a run)", n)
		}
	})
}
