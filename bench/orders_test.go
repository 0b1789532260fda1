package bench

import (
	"context"
	"log/slog"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestOrdersAndUsageBenchmarks runs the orders and usage benchmarks at tiny
// scales on both engines, on one database: orders, then usage (which tops
// the orders' subscriptions up in bulk), usage again on what the first run
// built, and orders again through a connector that moved to a new address.
func TestOrdersAndUsageBenchmarks(t *testing.T) {
	const orders, subs = 20, 50
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		db := storetest.Open(t, e)
		ctx := context.Background()
		for _, x := range []struct {
			name  string
			scale int
			want  []string
		}{
			{"orders", orders, []string{"orders_per_s", "p50_ms", "p99_ms", "users_10000_vs_10_ratio", "users_10_p50_ms",
				"users_10000_p50_ms", "place_p50_ms", "provision_p50_ms", "setup_s", "total_s", "peak_rss_mb"}},
			{"usage", subs, []string{"subscriptions_per_s", "readings_per_s", "collect_s", "setup_s", "total_s", "peak_rss_mb"}},
			{"usage", subs, nil},
			{"orders", orders, nil},
		} {
			res, err := Run(ctx, x.name, Options{DB: db, Scale: x.scale,
				Logger: slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("%s: %v", x.name, err)
			}
			t.Logf("%s: %v", x.name, res.Figures)
			for _, k := range x.want {
				if _, ok := res.Figures[k]; !ok {
					t.Errorf("%s: figure %s missing", x.name, k)
				}
			}
			for k, v := range res.Figures {
				if !HasUnit(k) {
					t.Errorf("%s: figure %s has no unit suffix", x.name, k)
				}
				if !(v > 0) {
					t.Errorf("%s: figure %s = %v, want > 0", x.name, k, v)
				}
			}
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.Read.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// 40 orders, all completed; the first usage run placed none (the
		// orders' subscriptions were there) and copied 30 subscriptions.
		if n := count(`SELECT COUNT(*) FROM orders WHERE status = 'completed'`); n != 2*orders {
			t.Errorf("%d completed orders, want %d", n, 2*orders)
		}
		if n := count(`SELECT COUNT(*) FROM subscriptions WHERE status = 'active'`); n != subs+orders {
			t.Errorf("%d active subscriptions, want %d", n, subs+orders)
		}
		// Every copy has a tenant of its own.
		if n := count(`SELECT COUNT(DISTINCT tenant_id) FROM subscriptions WHERE tenant_id LIKE 'copy-%'`); n != subs-orders {
			t.Errorf("%d distinct tenants of copies, want %d", n, subs-orders)
		}
		// Two collections of two readings for each of 50 subscriptions.
		if n := count(`SELECT COUNT(*) FROM usage_records`); n != 2*2*subs {
			t.Errorf("%d readings, want %d", n, 2*2*subs)
		}
		// One customer of 10 users, one of 10,000; one connector.
		for _, c := range []struct {
			ext   string
			users int
		}{{smallCustomerExt, smallUsers}, {largeCustomerExt, largeUsers}} {
			if n := count(`SELECT COUNT(*) FROM users u JOIN accounts a ON a.id = u.account_id WHERE a.external_id = $1`, c.ext); n != c.users {
				t.Errorf("customer %s has %d users, want %d", c.ext, n, c.users)
			}
		}
		if n := count(`SELECT COUNT(*) FROM connectors`); n != 1 {
			t.Errorf("%d connectors, want 1", n)
		}
	})
}

// TestUsageRefusesALargerDatabase: a database with more running
// subscriptions than the scale gives no figures of that scale.
func TestUsageRefusesALargerDatabase(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	if _, err := Run(ctx, "orders", Options{DB: db, Scale: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, "usage", Options{DB: db, Scale: 3}); err == nil {
		t.Error("usage at scale 3 over 4 subscriptions ran")
	}
}
