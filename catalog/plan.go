package catalog

import (
	"fmt"

	"github.com/govalues/decimal"
	"slices"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/text"
)

// Plan is a service plan: what a seller sells. An original plan belongs to
// the seller that made it (usually the provider); a delegated copy belongs to
// a reseller and links to its source, the plan of the reseller's parent it
// was copied from. Periods and rates are matched between a source and its
// copies by their keys.
type Plan struct {
	ID       int64 `json:"-"`
	OwnerID  int64 `json:"-"`
	SourceID int64 `json:"-"` // 0 for an original

	Key             string       `json:"key"`
	Template        string       `json:"template"`
	Currency        string       `json:"currency"`
	Name            Text         `json:"name"`
	Description     Text         `json:"description,omitempty"`
	Terms           Text         `json:"terms,omitempty"` // terms and conditions
	Billing         BillingModel `json:"billing"`
	Published       bool         `json:"published"`
	PlanCategory    string       `json:"plan_category,omitempty"`
	SalesCategories []string     `json:"sales_categories,omitempty"`
	UpgradeTo       []string     `json:"upgrade_to,omitempty"`
	DowngradeTo     []string     `json:"downgrade_to,omitempty"`
	Periods         []Period     `json:"periods"`
	Rates           []Rate       `json:"rates,omitempty"`

	// Rule is how a copy's prices follow its source's (nil on originals).
	Rule *PriceRule `json:"rule,omitempty"`
	// SellBelowCost is the copy owner's explicit choice to allow prices
	// below its cost (the source's prices).
	SellBelowCost bool `json:"sell_below_cost,omitempty"`
	// ChangedUpstream marks a copy whose source changed by a one-level
	// sync: its own copies have not seen the change yet.
	ChangedUpstream bool `json:"changed_upstream,omitempty"`

	Version   int64     `json:"-"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
}

// RuleKind is how a copy prices from its source.
type RuleKind string

// Price rule kinds.
const (
	RuleCopy    RuleKind = "copy"    // the source's prices
	RulePercent RuleKind = "percent" // the source's prices plus a markup in percent
	RuleFixed   RuleKind = "fixed"   // the source's prices plus a fixed amount
	RuleManual  RuleKind = "manual"  // priced by hand: a sync never changes prices
)

// PriceRule turns a source's prices into a copy's. Amounts are exact
// decimals in text so that the rule is stored as written.
type PriceRule struct {
	Kind RuleKind `json:"kind"`
	// Percent is the markup for RulePercent, e.g. "15" or "12.5".
	Percent string `json:"percent,omitempty"`
	// Fixed is the amount added to every non-zero price for RuleFixed, in
	// the copy's currency.
	Fixed money.Micros `json:"fixed,omitempty"`
	// ExchangeRate converts the source's currency to the copy's, e.g.
	// "0.92"; required when the currencies differ.
	ExchangeRate string `json:"exchange_rate,omitempty"`
	// Decimals is the precision of the resulting prices, rounded half away
	// from zero (default 2; 0 for currencies without minor units).
	Decimals *int `json:"decimals,omitempty"`
}

// NeedsConfirmation reports whether p is held back from sale until its
// owner prices what arrived unpriced.
func (p *Plan) NeedsConfirmation() bool {
	for _, pe := range p.Periods {
		if pe.Unpriced {
			return true
		}
	}
	for _, r := range p.Rates {
		if r.Unpriced {
			return true
		}
	}
	return false
}

// OnSale reports whether customers can buy p now.
func (p *Plan) OnSale() bool { return p.Published && !p.NeedsConfirmation() }

// Period returns the period with key k.
func (p *Plan) Period(k string) (*Period, bool) {
	for i := range p.Periods {
		if p.Periods[i].Key == k {
			return &p.Periods[i], true
		}
	}
	return nil, false
}

// Rate returns the rate with key k.
func (p *Plan) Rate(k string) (*Rate, bool) {
	for i := range p.Rates {
		if p.Rates[i].Key == k {
			return &p.Rates[i], true
		}
	}
	return nil, false
}

// Clone returns a deep copy of p.
func (p *Plan) Clone() *Plan {
	c := *p
	c.Name, c.Description, c.Terms = p.Name.Clone(), p.Description.Clone(), p.Terms.Clone()
	c.SalesCategories = slices.Clone(p.SalesCategories)
	c.UpgradeTo, c.DowngradeTo = slices.Clone(p.UpgradeTo), slices.Clone(p.DowngradeTo)
	c.Periods = make([]Period, len(p.Periods))
	for i, pe := range p.Periods {
		pe.Descriptions = FeeTexts{Setup: pe.Descriptions.Setup.Clone(), Recurring: pe.Descriptions.Recurring.Clone(),
			Renewal: pe.Descriptions.Renewal.Clone(), Cancellation: pe.Descriptions.Cancellation.Clone()}
		c.Periods[i] = pe
	}
	c.Rates = make([]Rate, len(p.Rates))
	for i, r := range p.Rates {
		r.Parts, r.Periods, r.Name = slices.Clone(r.Parts), slices.Clone(r.Periods), r.Name.Clone()
		c.Rates[i] = r
	}
	if p.Rule != nil {
		r := *p.Rule
		if r.Decimals != nil {
			d := *r.Decimals
			r.Decimals = &d
		}
		c.Rule = &r
	}
	return &c
}

// Known tells Validate which keys exist around a plan.
type Known struct {
	Resource      func(key string) (Class, bool)
	Template      func(key string) bool
	PlanCategory  func(key string) bool
	SalesCategory func(key string) bool
	Plan          func(key string) bool // plans of the same owner, for upgrade paths
}

// Validate checks every rule of a plan that needs no database: keys,
// names, periods, fees, refunds, rates and their limits. known may leave
// functions nil to skip those checks. Field names follow the JSON form, e.g.
// "periods[1].recurring.amount".
func (p *Plan) Validate(known Known) error {
	var f marketplane.FieldErrors
	checkKey(&f, "key", p.Key)
	checkName(&f, "name", p.Name)
	if !validText(p.Description) {
		f.Add("description", "has a key that is not a language tag")
	}
	if !validText(p.Terms) {
		f.Add("terms", "has a key that is not a language tag")
	}
	if !money.ValidCurrency(p.Currency) {
		f.Add("currency", "must be the ISO 4217 code of a currency in circulation, such as USD")
	}
	if known.Template != nil && !known.Template(p.Template) {
		f.Add("template", fmt.Sprintf("no service template %q", p.Template))
	}
	switch p.Billing {
	case ChargeInAdvance, ChargeInArrears, PayAsYouGo:
	default:
		f.Add("billing", "must be advance, arrears or payg")
	}
	if p.PlanCategory != "" && known.PlanCategory != nil && !known.PlanCategory(p.PlanCategory) {
		f.Add("plan_category", fmt.Sprintf("no plan category %q", p.PlanCategory))
	}
	for i, c := range p.SalesCategories {
		if known.SalesCategory != nil && !known.SalesCategory(c) {
			f.Add(fmt.Sprintf("sales_categories[%d]", i), fmt.Sprintf("no sales category %q", c))
		}
	}
	for name, list := range map[string][]string{"upgrade_to": p.UpgradeTo, "downgrade_to": p.DowngradeTo} {
		for i, k := range list {
			if k == p.Key {
				f.Add(fmt.Sprintf("%s[%d]", name, i), "a plan is not its own upgrade or downgrade")
			} else if known.Plan != nil && !known.Plan(k) {
				f.Add(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("no plan %q", k))
			}
		}
	}
	if len(p.Periods) == 0 {
		f.Add("periods", "at least one subscription period is required")
	}
	paid := false
	for _, pe := range p.Periods {
		paid = paid || !pe.Trial
	}
	if len(p.Periods) > 0 && !paid {
		f.Add("periods", "a plan needs a paid period for its trial to renew into")
	}
	periodKeys := map[string]bool{}
	for i, pe := range p.Periods {
		validatePeriod(&f, fmt.Sprintf("periods[%d]", i), &pe, p)
		if periodKeys[pe.Key] {
			f.Add(fmt.Sprintf("periods[%d].key", i), "appears twice")
		}
		periodKeys[pe.Key] = true
	}
	rateKeys := map[string]bool{}
	for i, r := range p.Rates {
		validateRate(&f, fmt.Sprintf("rates[%d]", i), &r, periodKeys, known)
		if rateKeys[r.Key] {
			f.Add(fmt.Sprintf("rates[%d].key", i), "appears twice")
		}
		rateKeys[r.Key] = true
	}
	if p.Rule != nil {
		validateRule(&f, "rule", p.Rule)
	}
	return f.Err("plan")
}

func validatePeriod(f *marketplane.FieldErrors, at string, pe *Period, p *Plan) {
	checkKey(f, at+".key", pe.Key)
	if pe.Duration.N <= 0 || pe.Duration.N > 120 {
		f.Add(at+".duration.n", "must be between 1 and 120")
	}
	switch pe.Duration.Unit {
	case Day, Month, Year:
	default:
		f.Add(at+".duration.unit", "must be day, month or year")
	}
	for name, pr := range map[string]Price{"setup": pe.Setup, "recurring": pe.Recurring, "renewal": pe.Renewal, "cancellation": pe.Cancellation} {
		checkPrice(f, at+"."+name, pr)
	}
	if pe.Trial && (pe.Recurring.Amount != 0 || pe.Setup.Amount != 0 || pe.Renewal.Amount != 0) {
		f.Add(at+".trial", "a trial period is free; it renews into a paid period, never as a trial")
	}
	if pe.ConvertsTo != "" {
		// A trial ends in a paid period of its own plan: billing moves
		// the subscription there and charges it, so the target must exist
		// and be paid, and only a trial converts.
		to, ok := p.Period(pe.ConvertsTo)
		switch {
		case !pe.Trial:
			f.Add(at+".converts_to", "only a trial period converts to another period")
		case !ok:
			f.Add(at+".converts_to", fmt.Sprintf("no period %q in this plan", pe.ConvertsTo))
		case to.Trial:
			f.Add(at+".converts_to", fmt.Sprintf("period %q is a trial; a trial converts to a paid period", pe.ConvertsTo))
		}
	}
	if pe.Refund.FullDays < 0 {
		f.Add(at+".refund.full_days", "must not be negative")
	}
	switch pe.Refund.After {
	case RefundProrated, RefundNone:
	default:
		f.Add(at+".refund.after", "must be prorated or none")
	}
	if pe.Refund.NonRefundable < 0 {
		f.Add(at+".refund.non_refundable", "must not be negative")
	}
	if pe.AfterRefundDays < 0 {
		f.Add(at+".after_refund_days", "must not be negative")
	}
	switch pe.RecurringPer {
	case PerPeriod:
	case PerMonth:
		if pe.Duration.Months() == 0 {
			f.Add(at+".recurring_per", "a period of days cannot be priced per month")
		}
	default:
		f.Add(at+".recurring_per", "must be period or month")
	}
}

func validateRate(f *marketplane.FieldErrors, at string, r *Rate, periods map[string]bool, known Known) {
	checkKey(f, at+".key", r.Key)
	switch {
	case r.Composite() && r.Resource != "":
		f.Add(at+".resource", "a composite rate has parts, not a resource")
	case !r.Composite() && r.Resource == "":
		f.Add(at+".resource", "is required (or parts, for a composite)")
	case !r.Composite() && r.Key != r.Resource:
		f.Add(at+".key", "a simple rate's key is its resource's key")
	}
	if r.Composite() && len(r.Name) == 0 {
		f.Add(at+".name", "a composite rate needs a name")
	}
	if known.Resource != nil {
		if r.Resource != "" {
			if _, ok := known.Resource(r.Resource); !ok {
				f.Add(at+".resource", fmt.Sprintf("no resource type %q", r.Resource))
			}
		}
		for j, part := range r.Parts {
			if _, ok := known.Resource(part.Resource); !ok {
				f.Add(fmt.Sprintf("%s.parts[%d].resource", at, j), fmt.Sprintf("no resource type %q", part.Resource))
			}
		}
	}
	for j, part := range r.Parts {
		if part.Units <= 0 {
			f.Add(fmt.Sprintf("%s.parts[%d].units", at, j), "must be at least 1")
		}
	}
	if r.Min < 0 {
		f.Add(at+".min", "must not be negative")
	}
	// Included may be below the minimum: the units between them are the
	// minimum a customer pays for (golden scenario 17: none included, two
	// seats at least). It may not exceed the maximum.
	if r.Included < Unlimited {
		f.Add(at+".included", "must be -1 (unlimited) or at least 0")
	}
	if r.Max < Unlimited {
		f.Add(at+".max", "must be -1 (unlimited) or at least 0")
	} else if r.Max != Unlimited && (r.Included == Unlimited || r.Max < r.Included || r.Max < r.Min) {
		f.Add(at+".max", "must be at least the included amount and the minimum, or unlimited")
	}
	checkPrice(f, at+".setup", r.Setup)
	checkPrice(f, at+".recurring", r.Recurring)
	checkPrice(f, at+".overuse", r.Overuse)
	switch r.Display {
	case Spinner, Slider:
	default:
		f.Add(at+".display", "must be spinner or slider")
	}
	for j, k := range r.Periods {
		if !periods[k] {
			f.Add(fmt.Sprintf("%s.periods[%d]", at, j), fmt.Sprintf("no period %q in this plan", k))
		}
	}
}

func validateRule(f *marketplane.FieldErrors, at string, r *PriceRule) {
	switch r.Kind {
	case RuleCopy, RuleManual:
	case RulePercent:
		if d, err := money.ParseDecimal(r.Percent); err != nil {
			f.Add(at+".percent", "must be a decimal number such as 15 or 12.5")
		} else if d.Cmp(decimal.MustNew(-100, 0)) < 0 {
			f.Add(at+".percent", "must not be below -100")
		}
	case RuleFixed:
		if r.Fixed < 0 {
			f.Add(at+".fixed", "must not be negative")
		}
	default:
		f.Add(at+".kind", "must be copy, percent, fixed or manual")
	}
	if r.ExchangeRate != "" {
		if d, err := money.ParseDecimal(r.ExchangeRate); err != nil || d.Sign() <= 0 {
			f.Add(at+".exchange_rate", "must be a positive decimal number such as 0.92")
		}
	}
	if r.Decimals != nil && (*r.Decimals < 0 || *r.Decimals > 6) {
		f.Add(at+".decimals", "must be between 0 and 6")
	}
}

func checkPrice(f *marketplane.FieldErrors, at string, p Price) {
	if p.Amount < 0 {
		f.Add(at+".amount", "must not be negative")
	}
	if p.MaxRetail < 0 {
		f.Add(at+".max_retail", "must not be negative")
	} else if p.MaxRetail > 0 && p.Amount > p.MaxRetail {
		f.Add(at+".amount", fmt.Sprintf("must not exceed the maximum retail price %s", p.MaxRetail))
	}
	if p.SuggestedRetail < 0 {
		f.Add(at+".suggested_retail", "must not be negative")
	}
}

func checkKey(f *marketplane.FieldErrors, at, k string) {
	if !ValidKey(k) {
		f.Add(at, "must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
}

func checkName(f *marketplane.FieldErrors, at string, t Text) {
	if len(t) == 0 {
		f.Add(at, "is required in at least one language")
		return
	}
	if !validText(t) {
		f.Add(at, "has a key that is not a language tag")
	}
	for _, v := range t {
		if v == "" {
			f.Add(at, "must not be empty")
		} else if p := text.NameProblem(v); p != "" {
			f.Add(at, p)
		}
	}
}
