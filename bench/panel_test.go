package bench

import (
	"context"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestPanelBenchmark runs the panel's benchmark at a tiny scale on both
// engines, twice (the second run reuses the fixture): the run itself
// checks every page shows the fixture's subscriptions and gauges.
func TestPanelBenchmark(t *testing.T) {
	iterationDivisor = 10
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		db := storetest.Open(t, e)
		for range 2 {
			res, err := Run(context.Background(), "panel", Options{DB: db, Scale: 50})
			if err != nil {
				t.Fatal(err)
			}
			f := res.Figures
			t.Logf("%s: %v", e, f)
			for _, k := range []string{"home_p50_ms", "home_p95_ms", "subscription_p50_ms", "subscription_p95_ms", "setup_s"} {
				if !(f[k] > 0) {
					t.Errorf("figure %s = %v", k, f[k])
				}
			}
		}
		// The load run: three users for a moment, every answer a page.
		res, err := Run(context.Background(), "panel", Options{DB: db, Scale: 50, Users: 3, Duration: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Figures; f["load_error_ratio"] != 0 || !(f["load_p95_ms"] > 0) || !(f["load_requests_per_s"] > 0) {
			t.Errorf("load: %v", f)
		}
		var subs, readings int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM subscriptions`).Scan(&subs); err != nil {
			t.Fatal(err)
		}
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM usage_records`).Scan(&readings); err != nil {
			t.Fatal(err)
		}
		// 49 disk gauges and the big subscription's 10, ten readings each.
		if subs != 50 || readings != (49+10)*panelReadings {
			t.Errorf("%d subscriptions and %d readings after two runs, want 50 and %d", subs, readings, 59*panelReadings)
		}
	})
}
