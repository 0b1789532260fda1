package catalog

import (
	"slices"
	"testing"

	"github.com/marketplane/marketplane/money"
)

func TestOfferOf(t *testing.T) {
	t.Parallel()
	p := &Plan{ID: 7, Key: "pro", Currency: "EUR", Billing: ChargeInAdvance, Published: true,
		Name:            Text{"en": "Office Pro", "de": "Büro Pro"},
		SalesCategories: []string{"apps", "secret", "mail", "apps"},
		UpgradeTo:       []string{"max", "draft", "max"},
		Periods: []Period{
			{Key: "12m", Duration: Duration{12, Month}, Sort: 2, Recurring: Price{Amount: 100 * money.MicrosPerUnit, MaxRetail: 150 * money.MicrosPerUnit}},
			{Key: "1m", Duration: Duration{1, Month}, Sort: 1, Setup: Price{Amount: 5 * money.MicrosPerUnit},
				Recurring:    Price{Amount: 10 * money.MicrosPerUnit, SuggestedRetail: 12 * money.MicrosPerUnit},
				Descriptions: FeeTexts{Setup: Text{"en": "Setup", "de": "Einrichtung"}}, Refund: Refund{FullDays: 14, After: RefundProrated}},
		},
		Rates: []Rate{
			{Key: "bundle", Name: Text{"en": "Bundle"}, Parts: []Part{{"mailbox", 5}}, Max: Unlimited, Sort: 2},
			{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100, Sort: 1, Recurring: Price{Amount: 2_500_000}},
		},
		Rule: &PriceRule{Kind: RulePercent, Percent: "20"},
	}
	c := OfferContext{Locale: "de-AT",
		Resources: map[string]ResourceType{"mailbox": {Key: "mailbox", Name: Text{"en": "Mailbox", "de": "Postfach"}, Unit: "mailbox", Category: "mail"}},
		Shelves:   map[string]int{"mail": 0, "apps": 3},
		OnSale:    func(k string) (int64, bool) { return map[string]int64{"max": 9, "pro": 7}[k], k == "max" || k == "pro" },
	}
	o := OfferOf(p, c)
	if o.Name != "Büro Pro" || o.PlanID != 7 || o.Currency != "EUR" {
		t.Errorf("offer %+v", o)
	}
	// Displayed shelves only, once each, in the vendor's order.
	if !slices.Equal(o.SalesCategories, []string{"mail", "apps"}) {
		t.Errorf("shelves %v", o.SalesCategories)
	}
	// Paths to plans on sale only, once each.
	if !slices.Equal(o.UpgradeTo, []int64{9}) || len(o.DowngradeTo) != 0 {
		t.Errorf("paths %v %v", o.UpgradeTo, o.DowngradeTo)
	}
	// Periods and resources in their sort order; the buyer's price, not
	// the cap above or the advice.
	if len(o.Periods) != 2 || o.Periods[0].Key != "1m" || o.Periods[0].Recurring != 10*money.MicrosPerUnit ||
		o.Periods[0].Setup != 5*money.MicrosPerUnit || o.Periods[0].SetupText != "Einrichtung" || o.Periods[0].Refund.FullDays != 14 ||
		o.Periods[1].Recurring != 100*money.MicrosPerUnit {
		t.Errorf("periods %+v", o.Periods)
	}
	if len(o.Resources) != 2 || o.Resources[0].Name != "Postfach" || o.Resources[0].Unit != "mailbox" || o.Resources[0].Category != "mail" ||
		o.Resources[0].Recurring != 2_500_000 || o.Resources[1].Name != "Bundle" || o.Resources[1].Max != Unlimited {
		t.Errorf("resources %+v", o.Resources)
	}
	// OfferOf does not change the plan.
	if p.Periods[0].Key != "12m" || len(p.SalesCategories) != 4 {
		t.Errorf("plan changed: %+v", p)
	}
}
