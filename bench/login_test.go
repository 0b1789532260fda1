package bench

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestLoginBenchmark runs the sign-in attack at the default scale (with the
// tests' cheap hashes) and checks its answers: the pair's free failures
// answered 401, the rest 429, and the owner in from another address.
func TestLoginBenchmark(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		db := storetest.Open(t, e)
		res, err := Run(context.Background(), "login", Options{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		f := res.Figures
		t.Logf("%s: %v", e, f)
		free := float64(account.LoginLimits[account.ScopePair].Free)
		if f["unauthorized_ratio"] != free/200 || f["throttled_ratio"] != 1-free/200 || f["unavailable_ratio"] != 0 {
			t.Errorf("answers: %v", f)
		}
		for _, k := range []string{"owner_sign_in_ms", "peak_rss_mb", "attack_s"} {
			if !(f[k] > 0) {
				t.Errorf("figure %s = %v", k, f[k])
			}
		}
	})
}
