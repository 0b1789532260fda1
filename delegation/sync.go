package delegation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// Effective says when a change reaches the subscriptions of a plan.
type Effective string

// When changes take effect for subscriptions: new limits at once, new prices
// from the next billing date (subscriptions with frozen prices keep theirs).
const (
	EffectiveNow         Effective = "now"
	EffectiveNextBilling Effective = "next_billing"
	EffectiveNone        Effective = "n/a"
)

// Change is one field of one copy that a sync changes, or would change but
// may not (Skipped says why).
type Change struct {
	Field     string    `json:"field"`
	Old       string    `json:"old"`
	New       string    `json:"new"`
	Skipped   string    `json:"skipped,omitempty"`
	Effective Effective `json:"effective"`
}

// Applied reports whether the change is made (not skipped).
func (c Change) Applied() bool { return c.Skipped == "" }

// syncer applies one source to one copy.
type syncer struct {
	src, dst *catalog.Plan
	opts     Options
	terms    Terms
	p        pricer
	changes  []Change
}

// Sync computes what the options carry from source to its copy under the
// copy owner's terms. It returns the updated copy (the input is not
// modified) and every change, applied or skipped, so that a preview and an
// apply are the same computation. A copy priced by hand or whose pricing is
// restricted keeps its prices; what arrives new without a price of the
// owner is marked unpriced, which holds the copy back from sale until the
// owner prices it.
func Sync(source, copy *catalog.Plan, opts Options, terms Terms) (*catalog.Plan, []Change, error) {
	p, err := newPricer(copy.Rule, source.Currency, copy.Currency)
	if err != nil {
		return nil, nil, err
	}
	s := &syncer{src: source, dst: copy.Clone(), opts: opts, terms: terms, p: p}
	if err := s.run(); err != nil {
		return nil, nil, err
	}
	return s.dst, s.changes, nil
}

// pricingBlocked is why prices may not follow the source, or "".
func (s *syncer) pricingBlocked() string {
	switch {
	case s.terms.Restricted(RestrictPricing):
		return "restricted: pricing"
	case s.p.manual():
		return "priced by hand"
	}
	return ""
}

func (s *syncer) blocked(r Restriction) string {
	if s.terms.Restricted(r) {
		return "restricted: " + string(r)
	}
	return ""
}

// field records a change of one value and applies it unless skipped.
func field[T comparable](s *syncer, name string, dst *T, src T, eff Effective, skipped string) {
	if *dst == src {
		return
	}
	s.changes = append(s.changes, Change{Field: name, Old: show(*dst), New: show(src), Skipped: skipped, Effective: eff})
	if skipped == "" {
		*dst = src
	}
}

// text records and applies a change of a localized text.
func (s *syncer) text(name string, dst *catalog.Text, src catalog.Text, skipped string) {
	if dst.Equal(src) {
		return
	}
	s.changes = append(s.changes, Change{Field: name, Old: show(*dst), New: show(src), Skipped: skipped, Effective: EffectiveNone})
	if skipped == "" {
		*dst = src.Clone()
	}
}

// list records and applies a change of a list of keys.
func (s *syncer) list(name string, dst *[]string, src []string, skipped string) {
	if slices.Equal(*dst, src) {
		return
	}
	s.changes = append(s.changes, Change{Field: name, Old: show(*dst), New: show(src), Skipped: skipped, Effective: EffectiveNone})
	if skipped == "" {
		*dst = slices.Clone(src)
	}
}

// price syncs one price: the amount by the rule, caps carried down.
func (s *syncer) price(name string, dst *catalog.Price, src catalog.Price) error {
	want, err := s.p.price(src, *dst)
	if err != nil {
		return err
	}
	field(s, name+".amount", &dst.Amount, want.Amount, EffectiveNextBilling, s.pricingBlocked())
	field(s, name+".max_retail", &dst.MaxRetail, want.MaxRetail, EffectiveNone, s.blocked(RestrictPricing))
	field(s, name+".suggested_retail", &dst.SuggestedRetail, want.SuggestedRetail, EffectiveNone, s.blocked(RestrictPricing))
	return nil
}

func (s *syncer) run() error {
	o := s.opts
	if o[OptNames] {
		s.text("name", &s.dst.Name, s.src.Name, "")
		s.text("description", &s.dst.Description, s.src.Description, "")
		s.text("terms", &s.dst.Terms, s.src.Terms, s.blocked(RestrictTerms))
	}
	if o[OptCategories] {
		field(s, "plan_category", &s.dst.PlanCategory, s.src.PlanCategory, EffectiveNone, s.blocked(RestrictPlanCategories))
		s.list("sales_categories", &s.dst.SalesCategories, s.src.SalesCategories, s.blocked(RestrictSalesCategories))
	}
	if o[OptPublication] {
		field(s, "published", &s.dst.Published, s.src.Published, EffectiveNone, s.blocked(RestrictPublication))
	}
	if o[OptNewPeriods] {
		if err := s.newPeriods(); err != nil {
			return err
		}
	}
	if o[OptFees] {
		if err := s.fees(); err != nil {
			return err
		}
	}
	if o[OptNewResources] {
		if err := s.newRates(); err != nil {
			return err
		}
	}
	for i := range s.dst.Rates {
		r := &s.dst.Rates[i]
		sr, ok := s.src.Rate(r.Key)
		if !ok {
			continue
		}
		at := "rates[" + r.Key + "]"
		if o[OptResourcePrices] && !r.Unpriced {
			for _, pr := range []struct {
				name     string
				dst, src *catalog.Price
			}{{".setup", &r.Setup, &sr.Setup}, {".recurring", &r.Recurring, &sr.Recurring}, {".overuse", &r.Overuse, &sr.Overuse}} {
				if err := s.price(at+pr.name, pr.dst, *pr.src); err != nil {
					return err
				}
			}
		}
		if o[OptResourceLimits] {
			field(s, at+".included", &r.Included, sr.Included, EffectiveNow, "")
			field(s, at+".min", &r.Min, sr.Min, EffectiveNow, "")
			field(s, at+".max", &r.Max, sr.Max, EffectiveNow, "")
		}
		if o[OptCategories] {
			field(s, at+".category", &r.Category, sr.Category, EffectiveNone, s.blocked(RestrictResourceCategories))
		}
		if o[OptNames] {
			s.text(at+".name", &r.Name, sr.Name, "")
		}
		if o[OptNewPeriods] {
			want := mergeKeys(r.Periods, sr.Periods)
			s.list(at+".periods", &r.Periods, want, "")
		}
	}
	return nil
}

// fees syncs the periods both plans have.
func (s *syncer) fees() error {
	for i := range s.dst.Periods {
		pe := &s.dst.Periods[i]
		sp, ok := s.src.Period(pe.Key)
		if !ok {
			continue
		}
		at := "periods[" + pe.Key + "]"
		if !pe.Unpriced {
			for _, pr := range []struct {
				name     string
				dst, src *catalog.Price
			}{{".setup", &pe.Setup, &sp.Setup}, {".recurring", &pe.Recurring, &sp.Recurring},
				{".renewal", &pe.Renewal, &sp.Renewal}, {".cancellation", &pe.Cancellation, &sp.Cancellation}} {
				if err := s.price(at+pr.name, pr.dst, *pr.src); err != nil {
					return err
				}
			}
		}
		s.text(at+".descriptions.setup", &pe.Descriptions.Setup, sp.Descriptions.Setup, "")
		s.text(at+".descriptions.recurring", &pe.Descriptions.Recurring, sp.Descriptions.Recurring, "")
		s.text(at+".descriptions.renewal", &pe.Descriptions.Renewal, sp.Descriptions.Renewal, "")
		s.text(at+".descriptions.cancellation", &pe.Descriptions.Cancellation, sp.Descriptions.Cancellation, "")
		field(s, at+".show_zero_price", &pe.ShowZeroPrice, sp.ShowZeroPrice, EffectiveNone, "")
		field(s, at+".refund.full_days", &pe.Refund.FullDays, sp.Refund.FullDays, EffectiveNextBilling, s.blocked(RestrictTerms))
		field(s, at+".refund.after", &pe.Refund.After, sp.Refund.After, EffectiveNextBilling, s.blocked(RestrictTerms))
		nr, err := s.p.convert(sp.Refund.NonRefundable)
		if err != nil {
			return err
		}
		field(s, at+".refund.non_refundable", &pe.Refund.NonRefundable, nr, EffectiveNextBilling, s.blocked(RestrictTerms))
		field(s, at+".after_refund_days", &pe.AfterRefundDays, sp.AfterRefundDays, EffectiveNextBilling, s.blocked(RestrictTerms))
		field(s, at+".sort", &pe.Sort, sp.Sort, EffectiveNone, "")
		field(s, at+".recurring_per", &pe.RecurringPer, sp.RecurringPer, EffectiveNextBilling, "")
		// A copy's trial turns into the period its source's does: the
		// tiers above a customer invoice on the customer's dates (rule
		// 9), which a conversion into another period would break. It can
		// only name a period the copy has.
		lacks := ""
		if _, ok := s.dst.Period(sp.ConvertsTo); sp.ConvertsTo != "" && !ok {
			lacks = "the copy has no period " + sp.ConvertsTo + ": sync new_periods first"
		}
		field(s, at+".converts_to", &pe.ConvertsTo, sp.ConvertsTo, EffectiveNextBilling, lacks)
	}
	return nil
}

// newPeriods adds the source's periods the copy lacks. Without a price of
// the owner (pricing blocked) they arrive unpriced.
func (s *syncer) newPeriods() error {
	for _, sp := range s.src.Periods {
		if _, ok := s.dst.Period(sp.Key); ok {
			continue
		}
		pe := sp
		pe.Descriptions = catalog.FeeTexts{Setup: sp.Descriptions.Setup.Clone(), Recurring: sp.Descriptions.Recurring.Clone(),
			Renewal: sp.Descriptions.Renewal.Clone(), Cancellation: sp.Descriptions.Cancellation.Clone()}
		blocked := s.pricingBlocked()
		for _, pr := range []*catalog.Price{&pe.Setup, &pe.Recurring, &pe.Renewal, &pe.Cancellation} {
			src := *pr
			*pr = catalog.Price{}
			var err error
			if blocked == "" {
				*pr, err = s.p.price(src, catalog.Price{})
			} else {
				err = s.p.caps(src, pr)
			}
			if err != nil {
				return err
			}
		}
		nr, err := s.p.convert(sp.Refund.NonRefundable)
		if err != nil {
			return err
		}
		pe.Refund.NonRefundable = nr
		pe.Unpriced = blocked != "" || sp.Unpriced
		s.dst.Periods = append(s.dst.Periods, pe)
		c := Change{Field: "periods[" + pe.Key + "]", Old: "", New: "added", Effective: EffectiveNone}
		if pe.Unpriced {
			c.New = "added unpriced (" + blocked + "): needs the reseller's confirmation"
		}
		s.changes = append(s.changes, c)
	}
	return nil
}

// newRates adds the source's rates the copy lacks.
func (s *syncer) newRates() error {
	for _, sr := range s.src.Rates {
		if _, ok := s.dst.Rate(sr.Key); ok {
			continue
		}
		r := sr
		r.Parts, r.Name = slices.Clone(sr.Parts), sr.Name.Clone()
		// A rate may only name periods the copy has; one sold only with
		// periods the copy lacks waits for them (new_periods).
		r.Periods = nil
		for _, k := range sr.Periods {
			if _, ok := s.dst.Period(k); ok {
				r.Periods = append(r.Periods, k)
			}
		}
		if len(sr.Periods) > 0 && len(r.Periods) == 0 {
			s.changes = append(s.changes, Change{Field: "rates[" + r.Key + "]", New: "added",
				Skipped: "sold only with periods the copy lacks: sync new_periods first", Effective: EffectiveNone})
			continue
		}
		blocked := s.pricingBlocked()
		for _, pr := range []*catalog.Price{&r.Setup, &r.Recurring, &r.Overuse} {
			src := *pr
			*pr = catalog.Price{}
			var err error
			if blocked == "" {
				*pr, err = s.p.price(src, catalog.Price{})
			} else {
				err = s.p.caps(src, pr)
			}
			if err != nil {
				return err
			}
		}
		r.Unpriced = blocked != "" || sr.Unpriced
		s.dst.Rates = append(s.dst.Rates, r)
		c := Change{Field: "rates[" + r.Key + "]", Old: "", New: "added", Effective: EffectiveNow}
		if r.Unpriced {
			c.New = "added unpriced (" + blocked + "): needs the reseller's confirmation"
		}
		s.changes = append(s.changes, c)
	}
	return nil
}

// mergeKeys adds to own the keys of src it lacks, keeping own's order.
func mergeKeys(own, src []string) []string {
	if len(own) == 0 {
		// No list means every period: nothing to add.
		return own
	}
	out := slices.Clone(own)
	for _, k := range src {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// show renders a value for a change record.
func show(v any) string {
	switch x := v.(type) {
	case money.Micros:
		return x.String()
	case string:
		return x
	case bool, int, int64:
		return fmt.Sprint(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
