package api

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func usageStrings(p Page[UsageRecord]) []string {
	out := []string{}
	for _, u := range p.Items {
		s := u.At.Format(time.RFC3339) + " " + u.Resource + " " + u.Value
		if u.Additive {
			s += " +"
		}
		out = append(out, s)
	}
	return out
}

// TestUsageAPI: the readings of a subscription, oldest first, by resource
// and range; others see none of them.
func TestUsageAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db) // 2027-01-10 15:00 UTC
		_, _, l2 := saleChain(t, f)
		withOrders(t, f)
		o := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 6))
		at := func(s string) time.Time {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if _, err := db.RecordUsage(ctx, o.SubscriptionID, []store.UsageReading{
			{Resource: "storage", Value: 120, At: at("2026-12-01T00:00:00Z")},
			{Resource: "storage", Value: 300, At: at("2027-01-08T12:00:00Z")},
			{Resource: "mailbox", Value: 4, At: at("2027-01-08T12:00:00Z")},
			{Resource: "api_calls", Value: 1500, Additive: true, At: at("2027-01-09T00:00:00Z")},
			{Resource: "storage", Value: 310, At: at("2027-01-12T00:00:00Z")},
		}); err != nil {
			t.Fatal(err)
		}
		base := "/subscriptions/" + id(o.SubscriptionID) + "/usage"
		for _, c := range []struct {
			who, query string
			want       []string
		}{
			// Default: the 30 days up to now.
			{"C", "", []string{"2027-01-08T12:00:00Z mailbox 4", "2027-01-08T12:00:00Z storage 300", "2027-01-09T00:00:00Z api_calls 1500 +"}},
			{"C", "?resource=storage&from=2026-11-01&to=2027-02-01",
				[]string{"2026-12-01T00:00:00Z storage 120", "2027-01-08T12:00:00Z storage 300", "2027-01-12T00:00:00Z storage 310"}},
			// From included, to excluded.
			{"L2", "?from=2027-01-08T12:00:00Z&to=2027-01-12T00:00:00Z",
				[]string{"2027-01-08T12:00:00Z mailbox 4", "2027-01-08T12:00:00Z storage 300", "2027-01-09T00:00:00Z api_calls 1500 +"}},
			{"P", "?resource=mailbox&from=2027-01-09", []string{}},
			{"L1a-support", "?resource=api_calls&to=2027-01-31", []string{"2027-01-09T00:00:00Z api_calls 1500 +"}},
		} {
			p := decode[Page[UsageRecord]](t, f.must(t, 200, c.who, "GET", base+c.query, nil))
			if got := usageStrings(p); !slices.Equal(got, c.want) {
				t.Errorf("%s usage%s: %v, want %v", c.who, c.query, got, c.want)
			}
		}
		p := decode[Page[UsageRecord]](t, f.must(t, 200, "C", "GET", base+"?resource=storage&to=2027-01-09", nil))
		if len(p.Items) != 1 || p.Items[0].CollectedAt.IsZero() || p.Items[0].Additive {
			t.Errorf("one reading %+v", p.Items)
		}

		for _, c := range []struct{ query, field string }{
			{"?from=2027-02-01&to=2027-01-01", "query.to"},
			{"?from=yesterday", "query.from"},
			{"?to=2027-13-01", "query.to"},
		} {
			if p := f.must(t, 400, "C", "GET", base+c.query, nil).Problem(t); !slices.Equal(p.locations(), []string{c.field}) {
				t.Errorf("%s: %+v", c.query, p)
			}
		}
		c2 := newAccount(t, db, f.L2, account.Customer, "Epsilon Customer C2")
		f.keys["C2"] = newKey(t, db, c2.ID, f.roles[account.RoleAdmin].ID)
		for _, who := range []string{"C2", "L1b"} {
			if p := f.must(t, 404, who, "GET", base, nil).Problem(t); p.Detail != "subscription not found" {
				t.Errorf("%s: %+v", who, p)
			}
		}
		f.must(t, 404, "C", "GET", "/subscriptions/987654/usage", nil).Problem(t)
	})
}

// meteredPlan is L2's own plan "metered": 10.00 a month, no setup, 5
// mailboxes included, and storage with 50 GB included and 0.10 per GB of
// overuse above them.
func meteredPlan(t *testing.T, f *fixture) Plan {
	t.Helper()
	withCatalog(t, f)
	body := planBody("metered")
	body["periods"].([]any)[0].(map[string]any)["setup"] = map[string]any{"amount": "0"}
	body["rates"] = append(body["rates"].([]any), map[string]any{"key": "storage", "resource": "storage", "included": 50, "min": 0,
		"max": -1, "overuse": map[string]any{"amount": "0.10"}, "measurable": true, "sort": 2})
	var p Plan
	f.must(t, 201, "L2", "POST", "/accounts/"+id(f.L2.ID)+"/plans", body).JSON(t, &p)
	return p
}

func readings(rs ...map[string]any) map[string]any {
	return map[string]any{"readings": rs}
}

// TestRecordUsageAPI: the vendor's side reports the storage it metered
// for C's subscription of L2's "metered" plan, for the month
// [2027-01-10, 2027-02-10); the highest reading, 63.4 GB (a decimal: no
// meter rounds storage to whole GB), is 13.4 above the 50 included, so the
// renewal on 2027-02-10 bills
//
//	recurring [2027-02-10, 2027-03-10)             10.00
//	overuse storage 13.4 × 0.10                      1.34
//	total                                           11.34
//
// C does not report its own usage; what is refused stores nothing.
func TestRecordUsageAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		clock := saleClock(db) // 2027-01-10 15:00 UTC
		withOrders(t, f)
		plan := meteredPlan(t, f)
		o := placed(t, f, "C", orderBody(f.C.ID, plan.ID, 5))
		base := "/subscriptions/" + id(o.SubscriptionID) + "/usage"
		clock.Set(time.Date(2027, 2, 9, 12, 0, 0, 0, time.UTC))

		var got Page[UsageRecord]
		f.must(t, 201, "L2", "POST", base, readings(
			map[string]any{"resource": "storage", "value": "41", "at": "2027-01-15T17:00:00Z"},
			map[string]any{"resource": "storage", "value": "63.4", "at": "2027-01-20T17:00:00Z"},
		)).JSON(t, &got)
		want := []string{"2027-01-15T17:00:00Z storage 41", "2027-01-20T17:00:00Z storage 63.4"}
		if s := usageStrings(got); !slices.Equal(s, want) {
			t.Errorf("recorded %v, want %v", s, want)
		}
		for _, u := range got.Items {
			if !u.CollectedAt.Equal(clock.Now()) {
				t.Errorf("%+v: collected at %s, want now", u, u.CollectedAt)
			}
		}
		// A reseller further up reports too; a reading without a time is
		// measured now; one given again is kept as it was stored.
		f.must(t, 201, "L1a", "POST", base, readings(
			map[string]any{"resource": "storage", "value": "60", "at": "2027-02-01T17:00:00Z"},
			map[string]any{"resource": "mailbox", "value": "4"},
			map[string]any{"resource": "storage", "value": "999", "at": "2027-01-15T17:00:00Z"},
		)).JSON(t, &got)
		want = []string{"2027-02-01T17:00:00Z storage 60", "2027-02-09T12:00:00Z mailbox 4", "2027-01-15T17:00:00Z storage 41"}
		if s := usageStrings(got); !slices.Equal(s, want) {
			t.Errorf("recorded %v, want %v", s, want)
		}

		for _, c := range []struct {
			name, who string
			body      any
			status    int
			field     string
		}{
			{"customer", "C", readings(map[string]any{"resource": "storage", "value": "1"}), 403, ""},
			{"read-only staff", "L1a-support", readings(map[string]any{"resource": "storage", "value": "1"}), 403, ""},
			{"sibling", "L1b", readings(map[string]any{"resource": "storage", "value": "1"}), 404, ""},
			{"future", "L2", readings(map[string]any{"resource": "storage", "value": "1", "at": "2027-02-09T12:00:01Z"}), 400, "body.readings[0].at"},
			{"before the subscription", "L2", readings(map[string]any{"resource": "storage", "value": "1", "at": "2027-01-08T12:00:00Z"}), 400, "body.readings[0].at"},
			{"year zero", "L2", readings(map[string]any{"resource": "storage", "value": "1", "at": "0000-01-01T00:00:00Z"}), 400, "body.readings[0].at"},
			{"unknown resource", "L2", readings(map[string]any{"resource": "storage", "value": "1"}, map[string]any{"resource": "cpu", "value": "1"}),
				400, "body.readings[1].resource"},
			{"negative", "L2", readings(map[string]any{"resource": "storage", "value": "-1"}), 400, "body.readings[0].value"},
			{"negative fraction", "L2", readings(map[string]any{"resource": "storage", "value": "-0.5"}), 400, "body.readings[0].value"},
			{"seven places", "L2", readings(map[string]any{"resource": "storage", "value": "1.0000001"}), 400, "body.readings[0].value"},
			{"not plain", "L2", readings(map[string]any{"resource": "storage", "value": "1e3"}), 400, "body.readings[0].value"},
			{"too large", "L2", readings(map[string]any{"resource": "storage", "value": "10000000000000"}), 400, "body.readings[0].value"},
			{"a number", "L2", readings(map[string]any{"resource": "storage", "value": 1}), 400, "body.readings[0].value"},
			{"empty resource", "L2", readings(map[string]any{"resource": "", "value": "1"}), 400, "body.readings[0].resource"},
			{"none", "L2", readings(), 400, "body.readings"},
		} {
			p := f.must(t, c.status, c.who, "POST", base, c.body).Problem(t)
			if c.field != "" && !slices.Contains(p.locations(), c.field) {
				t.Errorf("%s: %v, want %s", c.name, p.locations(), c.field)
			}
			if c.status == 404 && p.Detail != "subscription not found" {
				t.Errorf("%s: %+v", c.name, p)
			}
		}
		f.must(t, 404, "L2", "POST", "/subscriptions/987654/usage", readings(map[string]any{"resource": "storage", "value": "1"})).Problem(t)

		// The list holds what was reported, nothing refused.
		p := decode[Page[UsageRecord]](t, f.must(t, 200, "C", "GET", base+"?from=2027-01-01&to=2027-03-01", nil))
		want = []string{"2027-01-15T17:00:00Z storage 41", "2027-01-20T17:00:00Z storage 63.4", "2027-02-01T17:00:00Z storage 60",
			"2027-02-09T12:00:00Z mailbox 4"}
		if s := usageStrings(p); !slices.Equal(s, want) {
			t.Errorf("usage %v, want %v", s, want)
		}

		// Billed as a connector's readings are.
		clock.Set(time.Date(2027, 2, 10, 1, 0, 0, 0, time.UTC))
		res, err := db.BillDay(ctx, time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC))
		if err != nil || len(res.Failures) != 0 {
			t.Fatalf("bill: %+v, %v", res, err)
		}
		docs := decode[Page[Document]](t, f.must(t, 200, "C", "GET", "/documents?type=invoice&account_id="+id(f.C.ID), nil))
		if len(docs.Items) != 2 {
			t.Fatalf("invoices %+v", docs.Items)
		}
		inv := docs.Items[0]
		var lines []string
		for _, l := range inv.Lines {
			lines = append(lines, l.What+" "+l.Resource+" "+l.Quantity+" "+l.Amount)
		}
		if wantLines := []string{"recurring   10.00", "overuse storage 13.4 1.34"}; !slices.Equal(lines, wantLines) || inv.Total != "11.34" {
			t.Errorf("renewal invoice %v total %s, want %v total 11.34", lines, inv.Total, wantLines)
		}
	})
}

// TestUsagePages: a range of readings read two at a time, with readings
// of two resources at the same time, gives the whole range once, in
// order; a cursor of another list is refused.
func TestUsagePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db) // 2027-01-10 15:00 UTC
		_, _, l2 := saleChain(t, f)
		withOrders(t, f)
		o := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 6))
		var rs []store.UsageReading
		for d := 1; d <= 4; d++ {
			at := time.Date(2027, 1, d, 6, 0, 0, 0, time.UTC)
			rs = append(rs, store.UsageReading{Resource: "storage", Value: int64(100 * d), At: at},
				store.UsageReading{Resource: "mailbox", Value: int64(d), At: at})
		}
		if _, err := db.RecordUsage(ctx, o.SubscriptionID, rs); err != nil {
			t.Fatal(err)
		}
		base := "/subscriptions/" + id(o.SubscriptionID) + "/usage?from=2027-01-01&to=2027-01-10"
		var whole Page[UsageRecord]
		f.must(t, 200, "C", "GET", base, nil).JSON(t, &whole)
		if len(whole.Items) != 8 || whole.NextCursor != "" {
			t.Fatalf("the whole range: %v (next %q)", usageStrings(whole), whole.NextCursor)
		}
		var paged []string
		pages := 0
		for cursor := ""; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			var p Page[UsageRecord]
			f.must(t, 200, "C", "GET", base+"&limit=3&cursor="+cursor, nil).JSON(t, &p)
			if len(p.Items) > 3 {
				t.Fatalf("a page of %d readings", len(p.Items))
			}
			paged = append(paged, usageStrings(p)...)
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if want := usageStrings(whole); !slices.Equal(paged, want) || pages != 2 {
			t.Errorf("%d pages gave %v, want %v", pages+1, paged, want)
		}
		if p := f.must(t, 400, "C", "GET", base+"&cursor="+encodeCursor(cursorWebhooks, "1"), nil).Problem(t); len(p.Errors) != 1 || p.Errors[0].Location != "query.cursor" {
			t.Errorf("another list's cursor: %+v", p)
		}
	})
}
