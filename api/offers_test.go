package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// storeWorld is L2's store as C (a German-speaking customer) sees it:
//
//	shelves  mail (position 1), apps (position 2), secret (hidden)
//	basic    L2's copy of the provider's plan: 13.20 a month, setup 6.60,
//	         5 mailboxes included, 3.30 each above (L2's cost 12.00 /
//	         6.00 / 3.00 and the cap of 20.00 are L2's business)
//	pro      L2's own, 20.00 a month, on apps, secret and mail
//	free     L2's own, nothing to pay, upgrades to pro, basic and draft
//	draft    L2's own, unpublished
type storeWorld struct {
	l1a, basic, pro, free, draft Plan
}

func newStoreWorld(t *testing.T, f *fixture) storeWorld {
	t.Helper()
	var w storeWorld
	_, w.l1a, w.basic = saleChain(t, f)
	base := "/accounts/" + id(f.L2.ID)
	for _, c := range []map[string]any{
		{"key": "apps", "name": map[string]string{"en": "Apps", "de": "Programme"}, "holds": "plans", "position": 2},
		{"key": "mail", "name": map[string]string{"en": "Mail"}, "holds": "plans", "position": 1},
		{"key": "secret", "name": map[string]string{"en": "Secret"}, "holds": "plans", "position": 0, "displayed": false},
	} {
		f.must(t, 201, "L2", "POST", base+"/sales-categories", c)
	}
	pro := planBody("pro")
	pro["name"] = map[string]string{"en": "Office Pro", "de": "Büro Pro"}
	pro["sales_categories"] = []string{"apps", "secret", "mail"}
	pro["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "20.00"}
	f.must(t, 201, "L2", "POST", base+"/plans", pro).JSON(t, &w.pro)
	draft := planBody("draft")
	draft["published"] = false
	f.must(t, 201, "L2", "POST", base+"/plans", draft).JSON(t, &w.draft)
	free := planBody("free")
	pe := free["periods"].([]any)[0].(map[string]any)
	pe["setup"], pe["recurring"] = map[string]any{"amount": "0"}, map[string]any{"amount": "0"}
	free["rates"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "0"}
	free["upgrade_to"] = []string{"pro", "draft", "basic"}
	f.must(t, 201, "L2", "POST", base+"/plans", free).JSON(t, &w.free)
	f.must(t, 200, "L2", "PATCH", "/accounts/"+id(f.C.ID), map[string]any{"locale": "de-DE"})
	return w
}

func offerKeys(list []Offer) string {
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
	}
	return strings.Join(keys, ",")
}

// A customer's key reads what its vendor offers it, in its language and
// without the vendor's costs, and orders one of the offers.
func TestOffersAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		w := newStoreWorld(t, f)
		offers := "/accounts/" + id(f.C.ID) + "/offers"

		// Its vendor's plans stay out of its reach; its offers do not.
		f.must(t, 404, "C", "GET", "/accounts/"+id(f.L2.ID)+"/plans", nil).Problem(t)
		r := f.must(t, 200, "C", "GET", offers, nil)
		var page struct {
			Items      []Offer
			NextCursor string `json:"next_cursor"`
		}
		r.JSON(t, &page)
		if got := offerKeys(page.Items); got != "basic,free,pro" || page.NextCursor != "" {
			t.Fatalf("offers %q (cursor %q)", got, page.NextCursor)
		}
		for _, leak := range []string{"max_retail", "suggested_retail", "rule", "source_id", "owner_id", "sell_below_cost",
			"unpriced", "12.00", "6.00", `"version"`} {
			if strings.Contains(string(r.Body), leak) {
				t.Errorf("offers carry %q: %s", leak, r.Body)
			}
		}
		basic, free, pro := page.Items[0], page.Items[1], page.Items[2]
		pe := basic.Periods[0]
		if basic.PlanID != w.basic.ID || basic.Currency != "USD" || basic.Billing != "advance" || pe.Key != "1m" ||
			pe.Fees != (OfferPrices{Setup: "6.60", Recurring: "13.20", Renewal: "0.00", Cancellation: "0.00"}) ||
			pe.Refund != (OfferRefund{FullDays: 14, After: "prorated", NonRefundable: "0.00"}) || pe.RecurringPer != "period" || pe.Trial {
			t.Errorf("basic %+v", basic)
		}
		if rs := basic.Resources; len(rs) != 1 || rs[0].Key != "mailbox" || rs[0].Name != "mailbox" || rs[0].Unit != "unit" ||
			rs[0].Included != 5 || rs[0].Min != 1 || rs[0].Max != 100 || rs[0].Recurring != "3.30" || rs[0].Setup != "0.00" ||
			rs[0].Display != "spinner" {
			t.Errorf("basic's resources %+v", rs)
		}
		// The buyer's language; the vendor's shelves in its order, the
		// hidden one left out.
		if pro.Name != "Büro Pro" || !slices.Equal(pro.SalesCategories, []string{"mail", "apps"}) || pro.Periods[0].Fees.Recurring != "20.00" {
			t.Errorf("pro %+v", pro)
		}
		// Paths lead to offers only: the draft is not one.
		if !slices.Equal(free.UpgradeTo, []int64{w.pro.ID, w.basic.ID}) || len(free.DowngradeTo) != 0 {
			t.Errorf("free's paths %v %v", free.UpgradeTo, free.DowngradeTo)
		}

		// Pages, shelves.
		f.must(t, 200, "C", "GET", offers+"?limit=2", nil).JSON(t, &page)
		if offerKeys(page.Items) != "basic,free" || page.NextCursor == "" {
			t.Fatalf("first page %q", offerKeys(page.Items))
		}
		next := page.NextCursor
		page.NextCursor = ""
		f.must(t, 200, "C", "GET", offers+"?limit=2&cursor="+next, nil).JSON(t, &page)
		if offerKeys(page.Items) != "pro" || page.NextCursor != "" {
			t.Errorf("second page %q", offerKeys(page.Items))
		}
		for shelf, want := range map[string]string{"apps": "pro", "mail": "pro", "secret": "", "nowhere": ""} {
			f.must(t, 200, "C", "GET", offers+"?sales_category="+shelf, nil).JSON(t, &page)
			if offerKeys(page.Items) != want {
				t.Errorf("shelf %s: %q", shelf, offerKeys(page.Items))
			}
		}
		var cats struct{ Items []OfferCategory }
		f.must(t, 200, "C", "GET", "/accounts/"+id(f.C.ID)+"/offer-categories", nil).JSON(t, &cats)
		if len(cats.Items) != 2 || cats.Items[0].Key != "mail" || cats.Items[1].Key != "apps" || cats.Items[1].Name != "Programme" {
			t.Errorf("categories %+v", cats.Items)
		}

		// One offer; plans that are not on sale at C's vendor are none.
		var one Offer
		f.must(t, 200, "C", "GET", offers+"/"+id(w.pro.ID), nil).JSON(t, &one)
		if one.Key != "pro" || one.Name != "Büro Pro" {
			t.Errorf("offer %+v", one)
		}
		for _, other := range []int64{w.draft.ID, w.l1a.ID, 999999} {
			if p := f.must(t, 404, "C", "GET", offers+"/"+id(other), nil).Problem(t); p.Detail != "account not found" {
				t.Errorf("plan %d: %+v", other, p)
			}
		}

		// The vendor sees what its customer is offered; a reseller is no
		// buyer; others find no such account.
		f.must(t, 200, "L2", "GET", offers, nil).JSON(t, &page)
		if offerKeys(page.Items) != "basic,free,pro" {
			t.Errorf("as the vendor %q", offerKeys(page.Items))
		}
		f.must(t, 400, "L1a", "GET", "/accounts/"+id(f.L2.ID)+"/offers", nil).Problem(t)
		f.must(t, 404, "L1b", "GET", offers, nil).Problem(t)
		f.must(t, 404, "C", "GET", "/accounts/"+id(f.L2.ID)+"/offers", nil).Problem(t)

		// C orders an offer as it read it: its plan, period and resource.
		withOrders(t, f)
		var o Order
		f.must(t, 201, "C", "POST", "/orders", map[string]any{"customer_id": f.C.ID, "plan_id": basic.PlanID,
			"period": basic.Periods[0].Key, "resources": map[string]int64{basic.Resources[0].Key: 8}}).JSON(t, &o)
		// 6.60 + 13.20 + 3 × 3.30 = 29.70.
		if o.PlanID != w.basic.ID || o.Total != "29.70" || o.Currency != "USD" {
			t.Errorf("order %+v", o)
		}
		f.must(t, 201, "C", "POST", "/orders", map[string]any{"customer_id": f.C.ID, "plan_id": free.PlanID,
			"period": "1m", "confirm_zero": true}).JSON(t, &o)

		// What that subscription may change to.
		var so SubscriptionOffers
		f.must(t, 200, "C", "GET", "/subscriptions/"+id(o.SubscriptionID)+"/offers", nil).JSON(t, &so)
		if so.SubscriptionID != o.SubscriptionID || so.Current == nil || so.Current.Key != "free" ||
			offerKeys(so.Upgrades) != "pro,basic" || len(so.Downgrades) != 0 {
			t.Errorf("subscription offers %+v", so)
		}
		f.must(t, 404, "L1b", "GET", "/subscriptions/"+id(o.SubscriptionID)+"/offers", nil).Problem(t)
	})
}
