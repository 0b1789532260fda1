package delegation

import (
	"fmt"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
)

// CheckPrices checks a copy's prices against its source: no price below the
// copy owner's cost (the source's price, converted) unless the owner allowed
// selling at a loss, and none above the maximum retail price that travels
// down from the source. Unpriced elements are held back from sale and not
// checked. Field names are "periods[KEY].recurring.amount" and the like.
func CheckPrices(source, copy *catalog.Plan) error {
	p, err := newPricer(copy.Rule, source.Currency, copy.Currency)
	if err != nil {
		return err
	}
	var f marketplane.FieldErrors
	check := func(at string, src, own catalog.Price) {
		cost, err := p.convert(src.Amount)
		if err != nil {
			f.Add(at, err.Error())
			return
		}
		if own.Amount < cost && !copy.SellBelowCost {
			f.Add(at+".amount", fmt.Sprintf("%s is below your cost %s (your parent's price); allow selling at a loss to go lower", own.Amount, cost))
		}
		if src.MaxRetail > 0 {
			cap, err := p.convert(src.MaxRetail)
			if err == nil && own.Amount > cap {
				f.Add(at+".amount", fmt.Sprintf("%s is above the maximum retail price %s", own.Amount, cap))
			}
			if err == nil && (own.MaxRetail == 0 || own.MaxRetail > cap) {
				f.Add(at+".max_retail", fmt.Sprintf("must be at most %s, the maximum retail price set above you", cap))
			}
		}
	}
	for _, pe := range copy.Periods {
		sp, ok := source.Period(pe.Key)
		if !ok || pe.Unpriced {
			continue
		}
		at := "periods[" + pe.Key + "]"
		check(at+".setup", sp.Setup, pe.Setup)
		check(at+".recurring", sp.Recurring, pe.Recurring)
		check(at+".renewal", sp.Renewal, pe.Renewal)
		check(at+".cancellation", sp.Cancellation, pe.Cancellation)
	}
	for _, r := range copy.Rates {
		sr, ok := source.Rate(r.Key)
		if !ok || r.Unpriced {
			continue
		}
		at := "rates[" + r.Key + "]"
		check(at+".setup", sr.Setup, r.Setup)
		check(at+".recurring", sr.Recurring, r.Recurring)
		check(at+".overuse", sr.Overuse, r.Overuse)
	}
	return f.Err("plan prices")
}

// DelegateOptions say how a new copy is made.
type DelegateOptions struct {
	Rule          catalog.PriceRule
	SellBelowCost bool
	// Publish puts the copy on sale at once; otherwise its owner publishes
	// it when ready.
	Publish bool
}

// Delegate makes the copy of source that reseller childID (whose currency is
// childCurrency) will own: the same plan with prices by the rule, caps
// carried down, linked to its source. A manual rule starts from the source's
// prices converted; the owner then changes them itself. The store checks that
// the child may receive the copy.
func Delegate(source *catalog.Plan, childID int64, childCurrency string, opt DelegateOptions) (*catalog.Plan, error) {
	rule := opt.Rule
	if rule.Kind == "" {
		rule.Kind = catalog.RuleCopy
	}
	p, err := newPricer(&rule, source.Currency, childCurrency)
	if err != nil {
		return nil, err
	}
	c := source.Clone()
	c.ID, c.OwnerID, c.SourceID, c.Version = 0, childID, source.ID, 0
	c.Currency, c.Rule, c.SellBelowCost, c.Published, c.ChangedUpstream = childCurrency, &rule, opt.SellBelowCost, opt.Publish, false
	for i := range c.Periods {
		pe, sp := &c.Periods[i], source.Periods[i]
		pe.Unpriced = sp.Unpriced
		for _, pair := range []struct{ dst, src *catalog.Price }{
			{&pe.Setup, &sp.Setup}, {&pe.Recurring, &sp.Recurring}, {&pe.Renewal, &sp.Renewal}, {&pe.Cancellation, &sp.Cancellation}} {
			if *pair.dst, err = p.price(*pair.src, catalog.Price{}); err != nil {
				return nil, err
			}
		}
	}
	for i := range c.Rates {
		r, sr := &c.Rates[i], source.Rates[i]
		for _, pair := range []struct{ dst, src *catalog.Price }{{&r.Setup, &sr.Setup}, {&r.Recurring, &sr.Recurring}, {&r.Overuse, &sr.Overuse}} {
			if *pair.dst, err = p.price(*pair.src, catalog.Price{}); err != nil {
				return nil, err
			}
		}
	}
	if err := CheckPrices(source, c); err != nil {
		return nil, err
	}
	return c, nil
}
