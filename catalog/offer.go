package catalog

import (
	"slices"

	"github.com/marketplane/marketplane/money"
)

// Offer is a plan as its buyer sees it in the vendor's store: the prices
// the buyer pays, the limits it may choose, the texts in its language and
// the vendor's shelves it stands on. It leaves out what is the vendor's
// business: its costs and the caps and advice of the sellers above
// (Price.MaxRetail, Price.SuggestedRetail), its price rule and the rest of
// its delegation data, its unpublished plans and prices it has not
// confirmed (a plan with those is not on sale, so it is no offer).
type Offer struct {
	PlanID      int64
	Key         string
	Name        string
	Description string
	Terms       string
	Billing     BillingModel
	Currency    string
	// PlanCategory is the plan category's key ("" for none).
	PlanCategory string
	// SalesCategories are the keys of the displayed shelves the plan
	// stands on, in the vendor's order; hidden shelves (and those below
	// a hidden one) are left out.
	SalesCategories []string
	Periods         []OfferPeriod
	Resources       []OfferResource
	// UpgradeTo and DowngradeTo are the offers (plan ids) a subscription
	// to this plan may change to: the plan's paths that lead to plans on
	// sale, in the plan's order.
	UpgradeTo, DowngradeTo []int64
}

// OfferPeriod is a subscription period of an offer with the buyer's fees.
type OfferPeriod struct {
	Key          string
	Duration     Duration
	Trial        bool
	ConvertsTo   string
	Setup        money.Micros
	Recurring    money.Micros
	Renewal      money.Micros
	Cancellation money.Micros
	RecurringPer RecurringPer
	// Fee descriptions in the buyer's language ("" where the catalog has
	// none).
	SetupText, RecurringText, RenewalText, CancellationText string
	ShowZeroPrice                                           bool
	Refund                                                  Refund
	AfterRefundDays                                         int
}

// OfferResource is a resource rate of an offer: what is included, what the
// buyer may choose and what a unit costs it.
type OfferResource struct {
	Key string
	// Resource is the resource type; "" for a composite.
	Resource   string
	Parts      []Part
	Name       string
	Unit       string
	Category   string
	Included   int64
	Min        int64
	Max        int64 // Unlimited or ≥ Included
	Setup      money.Micros
	Recurring  money.Micros
	Overuse    money.Micros
	Measurable bool
	Display    Display
	// Periods limits the rate to these period keys; empty means all.
	Periods []string
}

// OfferContext is what OfferOf needs around a plan: the buyer's locale,
// the provider's resource types by key (for the names and units of simple
// rates), the vendor's shelves that are displayed to buyers, and the
// vendor's plans on sale by key (for upgrade and downgrade paths).
type OfferContext struct {
	Locale    string
	Resources map[string]ResourceType
	// Shelves is the set of displayed sales categories, keyed by key,
	// with their position in the vendor's tree order.
	Shelves map[string]int
	// OnSale gives the id of the vendor's plan on sale with a key.
	OnSale func(key string) (int64, bool)
}

// OfferOf is the buyer's view of plan p, which must be on sale (OnSale):
// plans that are not are no offers, and the caller says "not found".
func OfferOf(p *Plan, c OfferContext) Offer {
	o := Offer{PlanID: p.ID, Key: p.Key, Name: p.Name.Get(c.Locale), Description: p.Description.Get(c.Locale),
		Terms: p.Terms.Get(c.Locale), Billing: p.Billing, Currency: p.Currency, PlanCategory: p.PlanCategory,
		SalesCategories: []string{}, Periods: []OfferPeriod{}, Resources: []OfferResource{},
		UpgradeTo: paths(p.UpgradeTo, c.OnSale), DowngradeTo: paths(p.DowngradeTo, c.OnSale)}
	for _, k := range p.SalesCategories {
		if _, ok := c.Shelves[k]; ok && !slices.Contains(o.SalesCategories, k) {
			o.SalesCategories = append(o.SalesCategories, k)
		}
	}
	slices.SortStableFunc(o.SalesCategories, func(a, b string) int { return c.Shelves[a] - c.Shelves[b] })

	periods := slices.Clone(p.Periods)
	slices.SortStableFunc(periods, func(a, b Period) int { return a.Sort - b.Sort })
	for _, pe := range periods {
		o.Periods = append(o.Periods, OfferPeriod{Key: pe.Key, Duration: pe.Duration, Trial: pe.Trial, ConvertsTo: pe.ConvertsTo,
			Setup: pe.Setup.Amount, Recurring: pe.Recurring.Amount, Renewal: pe.Renewal.Amount, Cancellation: pe.Cancellation.Amount,
			RecurringPer: pe.RecurringPer,
			SetupText:    pe.Descriptions.Setup.Get(c.Locale), RecurringText: pe.Descriptions.Recurring.Get(c.Locale),
			RenewalText: pe.Descriptions.Renewal.Get(c.Locale), CancellationText: pe.Descriptions.Cancellation.Get(c.Locale),
			ShowZeroPrice: pe.ShowZeroPrice, Refund: pe.Refund, AfterRefundDays: pe.AfterRefundDays})
	}

	rates := slices.Clone(p.Rates)
	slices.SortStableFunc(rates, func(a, b Rate) int { return a.Sort - b.Sort })
	for _, r := range rates {
		res := OfferResource{Key: r.Key, Resource: r.Resource, Parts: slices.Clone(r.Parts), Name: r.Name.Get(c.Locale),
			Category: r.Category, Included: r.Included, Min: r.Min, Max: r.Max,
			Setup: r.Setup.Amount, Recurring: r.Recurring.Amount, Overuse: r.Overuse.Amount,
			Measurable: r.Measurable, Display: r.Display, Periods: slices.Clone(r.Periods)}
		if rt, ok := c.Resources[r.Resource]; ok && r.Resource != "" {
			if res.Name == "" {
				res.Name = rt.Name.Get(c.Locale)
			}
			res.Unit = rt.Unit
			if res.Category == "" {
				res.Category = rt.Category
			}
		}
		if res.Name == "" {
			res.Name = r.Key
		}
		if res.Parts == nil {
			res.Parts = []Part{}
		}
		if res.Periods == nil {
			res.Periods = []string{}
		}
		o.Resources = append(o.Resources, res)
	}
	return o
}

// paths keeps the keys that lead to plans on sale, as plan ids.
func paths(keys []string, onSale func(string) (int64, bool)) []int64 {
	out := []int64{}
	for _, k := range keys {
		if onSale == nil {
			break
		}
		if id, ok := onSale(k); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
