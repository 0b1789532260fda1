package api

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBadCharactersInParameters: a NUL (or another control character, or
// invalid UTF-8) in a path or query parameter, or in a header the API
// reads, is refused at the edge with a 400 problem naming the parameter,
// on both engines (PostgreSQL answered 500 for these exact URLs).
func TestBadCharactersInParameters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		cases := []struct {
			method, path string
			body         any
			loc          string
		}{
			{"GET", "/templates/%00", nil, "path.key"},
			{"GET", "/accounts?q=%00", nil, "query.q"},
			{"GET", "/tasks?kind=%00", nil, "query.kind"},
			{"GET", "/events?type=%00", nil, "query.type"},
			{"PUT", "/accounts/" + id(f.L1a.ID) + "/sales-categories/a%00", map[string]any{"name": map[string]string{"en": "A"}, "holds": "plans"}, "path.key"},
			{"GET", "/accounts?q=a%0Ab", nil, "query.q"},
			{"GET", "/accounts?q=%FF", nil, "query.q"},
			{"GET", "/templates/%C3%28", nil, "path.key"},
			{"GET", "/accounts?cursor=%00", nil, "query.cursor"},
			// A cursor that decodes to a NUL (base64 of "acct:/1/\x00").
			{"GET", "/accounts?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("acct:/1/\x00")), nil, "query.cursor"},
		}
		for _, c := range cases {
			r := f.call(t, "P", c.method, c.path, c.body)
			if r.Status != 400 {
				t.Errorf("%s %s: status %d, want 400; body %s", c.method, c.path, r.Status, r.Body)
				continue
			}
			if p := r.Problem(t); !slices.Contains(p.locations(), c.loc) {
				t.Errorf("%s %s: errors at %v, want %s", c.method, c.path, p.locations(), c.loc)
			}
		}
		// A header the API stores (the idempotency key) is checked too.
		r := f.call(t, "P", "POST", "/accounts", newCustomerBody(f.L1a.ID, "Idem"), "Idempotency-Key", "k\xff")
		if r.Status != 400 || !slices.Contains(r.Problem(t).locations(), "header.Idempotency-Key") {
			t.Errorf("Idempotency-Key with invalid UTF-8: %d %s", r.Status, r.Body)
		}
		// Nothing was made, and ordinary text still passes.
		var page struct{ Items []Account }
		f.must(t, 200, "P", "GET", "/accounts?descendants=true&q="+strings.ReplaceAll("Grüße idem", " ", "%20"), nil).JSON(t, &page)
		if len(page.Items) != 0 {
			t.Errorf("found %d accounts named like the refused one", len(page.Items))
		}
	})
}
