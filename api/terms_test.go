package api

import (
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestTermsIfMatch: a buyer's credit standing carries the tag of its own
// terms, and replacing them with a stale tag is refused and changes
// nothing.
func TestTermsIfMatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		terms := "/accounts/" + id(f.C.ID) + "/terms"
		first := f.must(t, 200, "L2", "GET", "/accounts/"+id(f.C.ID)+"/credit", nil).Header.Get("ETag")
		if first == "" {
			t.Fatal("the credit standing has no ETag")
		}
		r := f.must(t, 200, "L2", "PUT", terms, map[string]any{"grace_days": 5}, "If-Match", first)
		second := r.Header.Get("ETag")
		if second == "" || second == first {
			t.Fatalf("ETag after the change %q, before %q", second, first)
		}
		var cr Credit
		r.JSON(t, &cr)
		if cr.Terms.GraceDays != 5 {
			t.Errorf("grace days %d after the change, want 5", cr.Terms.GraceDays)
		}
		// Someone else read the first version: refused, nothing changes.
		p := f.must(t, 412, "L2", "PUT", terms, map[string]any{"grace_days": 9}, "If-Match", first).Problem(t)
		if p.Detail == "" {
			t.Errorf("412 without a detail")
		}
		f.must(t, 200, "L2", "GET", "/accounts/"+id(f.C.ID)+"/credit", nil).JSON(t, &cr)
		if cr.Terms.GraceDays != 5 {
			t.Errorf("grace days %d after the refused change, want 5", cr.Terms.GraceDays)
		}
		// The same terms again keep the tag: it follows their content.
		if again := f.must(t, 200, "L2", "PUT", terms, map[string]any{"grace_days": 5}, "If-Match", second).Header.Get("ETag"); again != second {
			t.Errorf("ETag %q for the same terms, want %q", again, second)
		}
	})
}
