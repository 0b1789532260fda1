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
		s := u.At.Format(time.RFC3339) + " " + u.Resource + " " + id(u.Value)
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
