package bench

import (
	"context"
	"log/slog"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestSyncBenchmark runs the sync benchmark at a tiny scale on both engines,
// twice: the second run reuses the tree and syncs another price change and
// another new resource. Scale 5 holds one L1 reseller with its pricing
// restricted, one that prohibits cascading and one restricted L2 reseller,
// so the benchmark's own checks see every kind of copy.
func TestSyncBenchmark(t *testing.T) {
	const scale = 5
	want := expectSync(scale)
	// 55 copies: 5 L1 (one restricted) and 50 L2, of which the 10 below
	// the L1 that prohibits cascading are never touched, the 10 below the
	// restricted L1 keep its prices, and one is restricted itself.
	if want != (syncExpect{copies: 55, priceInStep: 4 + 29 + 10, priceChanged: 4 + 29,
		withRate: 45, unpriced: 1 + 10 + 1}) {
		t.Fatalf("expectSync(5) = %+v", want)
	}
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		db := storetest.Open(t, e)
		ctx := context.Background()
		for range 2 {
			res, err := Run(ctx, "sync", Options{DB: db, Scale: scale,
				Logger: slog.New(slog.NewTextHandler(&testWriter{t}, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"copies", "setup_s", "price_change_s", "new_resource_s", "total_s", "peak_rss_mb"} {
				if v, ok := res.Figures[k]; !ok || !(v > 0) {
					t.Errorf("figure %s = %v (present %v), want > 0", k, v, ok)
				}
			}
			for k := range res.Figures {
				if k != "copies" && !HasUnit(k) {
					t.Errorf("figure %s has no unit suffix", k)
				}
			}
			if got := res.Figures["copies"]; got != scale*11 {
				t.Errorf("copies = %v, want %d", got, scale*11)
			}
		}
		// The second run reused the plan and the resellers.
		var plans, resellers int
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans`).Scan(&plans); err != nil {
			t.Fatal(err)
		}
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE kind = 'reseller'`).Scan(&resellers); err != nil {
			t.Fatal(err)
		}
		if plans != 1+scale*11 || resellers != scale*11 {
			t.Errorf("%d plans and %d resellers after two runs, want %d and %d", plans, resellers, 1+scale*11, scale*11)
		}
	})
}
