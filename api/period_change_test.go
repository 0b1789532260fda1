package api

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestPeriodChangeAPI: C buys L2's monthly "suite" (13.20 a month or
// 132.00 a year at L2, +20 % and +10 % on the provider's 10.00 / 100.00)
// on 2027-01-10 and changes it to the yearly period on 2027-01-26, with 15
// of the 31 days of [01-10, 02-10) left:
//
//	change-credit −13.20 × 15/31 = −6.387… → −6.39
//	recurring     [2027-01-26, 2028-01-26)   132.00
//	total                                    125.61
//
// The quote and the order say the same; once provisioned the subscription
// is yearly from 2027-01-26. A change for nothing (more mailboxes without
// proration) needs confirm_zero; a second plan of a category sold one per
// customer answers 409 naming the category and the subscription held.
func TestPeriodChangeAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		clock := saleClock(db)
		withOrders(t, f)
		withCatalog(t, f)
		f.must(t, 201, "P", "POST", "/accounts/"+id(f.P.ID)+"/plan-categories",
			map[string]any{"key": "suite", "name": map[string]string{"en": "Office suites"}, "unique_group": true})
		body := planBody("suite")
		body["plan_category"] = "suite"
		body["periods"] = append(body["periods"].([]any), map[string]any{
			"key": "12m", "duration": map[string]any{"n": 12, "unit": "month"}, "recurring": map[string]any{"amount": "100.00"},
			"refund": map[string]any{"after": "prorated"}})
		var src, l1a, l2 Plan
		f.must(t, 201, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", body).JSON(t, &src)
		f.must(t, 201, "P", "POST", "/plans/"+id(src.ID)+"/delegate",
			map[string]any{"child_id": f.L1a.ID, "rule": percentRule("20"), "publish": true}).JSON(t, &l1a)
		f.must(t, 201, "L1a", "POST", "/plans/"+id(l1a.ID)+"/delegate",
			map[string]any{"child_id": f.L2.ID, "rule": percentRule("10"), "publish": true}).JSON(t, &l2)
		so := placed(t, f, "C", orderBody(f.C.ID, l2.ID, 0))
		sub := "/subscriptions/" + id(so.SubscriptionID)

		// One subscription of the category per customer.
		second := orderBody(f.C.ID, l2.ID, 0)
		for _, path := range []string{"/quotes", "/orders"} {
			p := f.must(t, 409, "C", "POST", path, second).Problem(t)
			if !strings.Contains(p.Detail, `plan category "suite" (Office suites)`) || !strings.Contains(p.Detail, "subscription "+id(so.SubscriptionID)+" ") {
				t.Errorf("POST %s: %q, want the category and subscription %d named", path, p.Detail, so.SubscriptionID)
			}
		}

		clock.Set(time.Date(2027, 1, 26, 15, 0, 0, 0, time.UTC))
		want := []string{"change-credit [2027-01-26, 2027-02-10) -6.39", "recurring [2027-01-26, 2028-01-26) 132.00"}
		q := decode[Quote](t, f.must(t, 200, "C", "POST", sub+"/change/quote", map[string]any{"period": "12m"}))
		if got := lineStrings(q.Lines); !slices.Equal(got, want) || q.Total != "125.61" || q.Period != "12m" ||
			q.EffectiveOn != "2027-01-26" || q.PeriodEnd != "2028-01-26" || q.PlanID != l2.ID || q.CustomerID != f.C.ID {
			t.Errorf("quote %v total %s period %s from %s to %s plan %d", got, q.Total, q.Period, q.EffectiveOn, q.PeriodEnd, q.PlanID)
		}
		f.refused(t, "body.period", "C", "POST", sub+"/change", map[string]any{"period": "24m"})
		o := decode[Order](t, f.must(t, 201, "C", "POST", sub+"/change", map[string]any{"period": "12m"}))
		if got := lineStrings(o.Lines); !slices.Equal(got, want) || o.Total != "125.61" || o.Type != "CH" || o.Period != "12m" {
			t.Errorf("order %s %s %v total %s", o.Type, o.Period, got, o.Total)
		}
		if _, err := db.CompleteOrder(context.Background(), o.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		s := decode[Subscription](t, f.must(t, 200, "C", "GET", sub, nil))
		if s.Period != "12m" || s.PeriodStart != "2027-01-26" || s.PeriodEnd != "2028-01-26" || s.NextBillingAt != "2028-01-26" {
			t.Errorf("after the change: %s [%s, %s) next billing %s", s.Period, s.PeriodStart, s.PeriodEnd, s.NextBillingAt)
		}

		// More mailboxes without proration cost nothing: confirmed, or refused.
		more := map[string]any{"resources": map[string]int64{"mailbox": 7}, "proration": "none"}
		f.refused(t, "body.confirm_zero", "C", "POST", sub+"/change/quote", more)
		f.refused(t, "body.confirm_zero", "C", "POST", sub+"/change", more)
		more["confirm_zero"] = true
		if z := decode[Order](t, f.must(t, 201, "C", "POST", sub+"/change", more)); z.Total != "0.00" || len(z.Lines) != 0 {
			t.Errorf("confirmed change for nothing: total %s, lines %v", z.Total, lineStrings(z.Lines))
		}
	})
}
