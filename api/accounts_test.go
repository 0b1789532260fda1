package api

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// newCustomerBody is a valid POST /accounts body.
func newCustomerBody(parentID int64, name string) map[string]any {
	return map[string]any{
		"parent_id": parentID, "kind": "customer", "name": name,
		"contact": map[string]any{"name": "Jane Roe", "email": "jane@example.com"},
		"address": map[string]any{"line1": "1 Main St", "city": "Springfield", "country": "US"},
		"locale":  "en-US", "currency": "USD", "time_zone": "America/New_York",
		"credit_limit": "1000.50", "payment_terms_days": 30,
	}
}

func TestAccountLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)

		// L1a creates a customer under its child L2.
		r := f.must(t, 201, "L1a", "POST", "/accounts", newCustomerBody(f.L2.ID, "Echo Customer"))
		var created Account
		r.JSON(t, &created)
		if created.ParentID != f.L2.ID || created.Kind != "customer" || created.CreditLimit != "1000.50" ||
			created.PaymentTermsDays != 30 || created.Contact.Email != "jane@example.com" || created.Status != "active" ||
			created.Depth != 3 || created.Version != 1 {
			t.Errorf("created %+v", created)
		}
		if got, want := r.Header.Get("Location"), Prefix+"/accounts/"+id(created.ID); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if r.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag %q", r.Header.Get("ETag"))
		}

		// Without parent_id the account goes below the caller's own.
		body := newCustomerBody(0, "Foxtrot Customer")
		delete(body, "parent_id")
		r = f.must(t, 201, "L1b", "POST", "/accounts", body)
		var own Account
		r.JSON(t, &own)
		if own.ParentID != f.L1b.ID {
			t.Errorf("parent %d, want L1b %d", own.ParentID, f.L1b.ID)
		}

		r = f.must(t, 200, "L1a", "GET", "/accounts/"+id(created.ID), nil)
		var got Account
		r.JSON(t, &got)
		if got.Name != "Echo Customer" || got.Address.City != "Springfield" || r.Header.Get("ETag") != `"1"` {
			t.Errorf("read back %+v, ETag %s", got, r.Header.Get("ETag"))
		}

		// PATCH changes the fields present and keeps the others.
		r = f.must(t, 200, "L1a", "PATCH", "/accounts/"+id(created.ID),
			map[string]any{"name": "Echo Renamed", "address": map[string]any{"city": "Shelbyville"}, "credit_limit": "250"},
			"If-Match", `"1"`)
		r.JSON(t, &got)
		if got.Name != "Echo Renamed" || got.Address.City != "Shelbyville" || got.Address.Line1 != "1 Main St" ||
			got.CreditLimit != "250.00" || got.Contact.Name != "Jane Roe" || got.Version != 2 {
			t.Errorf("patched %+v", got)
		}
		if r.Header.Get("ETag") != `"2"` {
			t.Errorf("ETag after update %q", r.Header.Get("ETag"))
		}
		// A stale If-Match loses.
		r = f.must(t, 412, "L1a", "PATCH", "/accounts/"+id(created.ID), map[string]any{"name": "Lost update"}, "If-Match", `"1"`)
		r.Problem(t)
		// So does a stale tag on an action without a version in the store.
		f.must(t, 412, "L1a", "POST", "/accounts/"+id(created.ID)+"/status", map[string]any{"status": "admin_hold"}, "If-Match", `"1"`)
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(created.ID), nil).JSON(t, &got)
		if got.Name != "Echo Renamed" || got.Status != "active" {
			t.Errorf("after refused updates: %+v", got)
		}
		// A bad amount is a field error.
		p := f.must(t, 400, "L1a", "PATCH", "/accounts/"+id(created.ID), map[string]any{"credit_limit": "lots"}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.credit_limit"}) {
			t.Errorf("bad amount: %+v", p)
		}

		// Status, convert, move.
		r = f.must(t, 200, "L1a", "POST", "/accounts/"+id(created.ID)+"/status", map[string]any{"status": "admin_hold"}, "If-Match", `"2"`)
		r.JSON(t, &got)
		if got.Status != "admin_hold" || r.Header.Get("ETag") != `"3"` {
			t.Errorf("status: %+v %s", got, r.Header.Get("ETag"))
		}
		f.must(t, 200, "L1a", "POST", "/accounts/"+id(created.ID)+"/convert-to-reseller", nil).JSON(t, &got)
		if got.Kind != "reseller" || got.Level != "L3" {
			t.Errorf("converted: %+v", got)
		}
		f.must(t, 409, "L1a", "POST", "/accounts/"+id(created.ID)+"/convert-to-reseller", nil).Problem(t)
		f.must(t, 200, "L1a", "POST", "/accounts/"+id(created.ID)+"/move", map[string]any{"parent_id": f.L1a.ID}).JSON(t, &got)
		if got.ParentID != f.L1a.ID || got.Depth != 2 {
			t.Errorf("moved: %+v", got)
		}
		// Moving below a sibling's subtree: that parent does not exist for L1a.
		p = f.must(t, 400, "L1a", "POST", "/accounts/"+id(created.ID)+"/move", map[string]any{"parent_id": f.L1b.ID}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.parent_id"}) {
			t.Errorf("move to sibling: %+v", p)
		}

		var count struct{ Count int }
		f.must(t, 200, "L1a", "GET", "/accounts/"+id(f.L1a.ID)+"/descendants/count", nil).JSON(t, &count)
		if count.Count != 3 { // L2, C, and the moved account
			t.Errorf("descendants of L1a: %d, want 3", count.Count)
		}

		// A reseller with children cannot be deleted; a leaf can.
		p = f.must(t, 409, "L1a", "DELETE", "/accounts/"+id(f.L2.ID), nil).Problem(t)
		if p.Detail == "" {
			t.Errorf("conflict without detail: %+v", p)
		}
		f.must(t, 204, "L1a", "DELETE", "/accounts/"+id(created.ID), nil)
		f.must(t, 404, "L1a", "GET", "/accounts/"+id(created.ID), nil).Problem(t)
	})
}

func TestAccountFieldErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		countUnder := func() int {
			n, err := db.CountDescendants(context.Background(), account.SystemActor(), f.L1a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := countUnder()

		body := newCustomerBody(f.L1a.ID, "")
		body["address"] = map[string]any{"country": "ZZ"}
		p := f.must(t, 400, "L1a", "POST", "/accounts", body).Problem(t)
		if want := []string{"body.address.country", "body.name"}; !slices.Equal(p.locations(), want) {
			t.Errorf("field errors at %v, want %v (%+v)", p.locations(), want, p)
		}
		for _, e := range p.Errors {
			if e.Message == "" {
				t.Errorf("%s without message", e.Location)
			}
		}
		// The API's own parsing and the domain's validation report together.
		body["credit_limit"] = "1,000"
		p = f.must(t, 400, "L1a", "POST", "/accounts", body).Problem(t)
		if want := []string{"body.address.country", "body.credit_limit", "body.name"}; !slices.Equal(p.locations(), want) {
			t.Errorf("field errors at %v, want %v", p.locations(), want)
		}
		if n := countUnder(); n != before {
			t.Errorf("%d accounts under L1a after refused creates, want %d", n, before)
		}

		// Failures of the schema are 400 too (huma's default is 422).
		bad := newCustomerBody(f.L1a.ID, "Missing kind")
		delete(bad, "kind")
		bad["unknown_field"] = 1
		p = f.must(t, 400, "L1a", "POST", "/accounts", bad).Problem(t)
		if want := []string{"body.kind", "body.unknown_field"}; !slices.Equal(p.locations(), want) {
			t.Errorf("schema errors at %v, want %v: %+v", p.locations(), want, p)
		}
		p = f.must(t, 400, "L1a", "GET", "/accounts?limit=501", nil).Problem(t)
		if !slices.Equal(p.locations(), []string{"query.limit"}) {
			t.Errorf("limit: %+v", p)
		}
		p = f.must(t, 400, "L1a", "GET", "/accounts/abc", nil).Problem(t)
		if !slices.Equal(p.locations(), []string{"path.id"}) {
			t.Errorf("bad id: %+v", p)
		}
		// A body that is not JSON is not echoed back: it might hold a password.
		r := f.call(t, "L1a", "POST", "/accounts/"+id(f.L1a.ID)+"/users", "secret-password-123")
		if r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		for _, e := range r.Problem(t).Errors {
			if e.Value != nil {
				t.Errorf("error at %s echoes %v", e.Location, e.Value)
			}
		}
		if n := countUnder(); n != before {
			t.Errorf("%d accounts under L1a, want %d", n, before)
		}
	})
}

func TestAccountPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		var want []int64
		for i := range 7 {
			a := newAccount(t, db, f.L1b, account.Customer, fmt.Sprintf("Customer %02d", i))
			want = append(want, a.ID)
		}
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("cursor walk does not end")
			}
			path := "/accounts?limit=3"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page Page[Account]
			f.must(t, 200, "L1b", "GET", path, nil).JSON(t, &page)
			for _, a := range page.Items {
				got = append(got, a.ID)
			}
			if page.NextCursor == "" {
				if len(page.Items) != 1 {
					t.Errorf("last page has %d items, want 1", len(page.Items))
				}
				break
			}
			if len(page.Items) != 3 {
				t.Errorf("page of %d items, want 3", len(page.Items))
			}
			cursor = page.NextCursor
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}

		// Filters: the whole subtree of P for the provider, by kind and name.
		var page Page[Account]
		f.must(t, 200, "P", "GET", "/accounts?descendants=true&kind=reseller", nil).JSON(t, &page)
		var names []string
		for _, a := range page.Items {
			names = append(names, a.Name)
		}
		if want := []string{f.L1a.Name, f.L2.Name, f.L1b.Name}; !slices.Equal(names, want) {
			t.Errorf("resellers below P: %v, want %v", names, want)
		}
		page = Page[Account]{}
		f.must(t, 200, "L1b", "GET", "/accounts?q=customer%2003", nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Name != "Customer 03" {
			t.Errorf("search: %+v", page.Items)
		}
		// An exact page with nothing after it has no cursor.
		page = Page[Account]{}
		f.must(t, 200, "L1b", "GET", "/accounts?limit=7", nil).JSON(t, &page)
		if len(page.Items) != 7 || page.NextCursor != "" {
			t.Errorf("exact page: %d items, cursor %q", len(page.Items), page.NextCursor)
		}

		// A cursor of another list, or garbage, is refused.
		users := encodeCursor(cursorUsers, "1")
		for _, c := range []string{users, "!!!", "bm90IGEgY3Vyc29y"} {
			p := f.must(t, 400, "L1b", "GET", "/accounts?cursor="+c, nil).Problem(t)
			if !slices.Equal(p.locations(), []string{"query.cursor"}) {
				t.Errorf("cursor %q: %+v", c, p)
			}
		}
	})
}
