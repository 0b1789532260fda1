package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestTestClockRefusedOnRealTime: an installation started without
// --test-clock answers 409 to reading, setting and advancing the test
// clock, even for the provider's administrator, and nothing changes: its
// clock, the test_clock table, the audit log.
func TestTestClockRefusedOnRealTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		clock := saleClock(db)
		before := clock.Now()
		audit := func() int {
			var n int
			if err := db.Read.QueryRow(`SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		entries := audit()
		r := f.must(t, http.StatusConflict, "P", "GET", "/test-clock", nil)
		if !strings.Contains(string(r.Body), "--test-clock") {
			t.Errorf("the refusal does not say how to get a test clock: %s", r.Body)
		}
		f.must(t, http.StatusConflict, "P", "PUT", "/test-clock", map[string]any{"now": "2027-03-11T09:00:00Z"})
		f.must(t, http.StatusConflict, "P", "POST", "/test-clock/advance", map[string]any{"by": "72h"})
		f.must(t, http.StatusForbidden, "L1a", "POST", "/test-clock/advance", map[string]any{"by": "72h"})
		var rows int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM test_clock`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if now := db.Clock.Now(); rows != 0 || !now.Equal(before) || audit() != entries {
			t.Fatalf("a refused move changed something: %d clock rows, clock %s (was %s), %d audit entries (were %d)",
				rows, now, before, audit(), entries)
		}
	})
}
