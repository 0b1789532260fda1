package delegation

import (
	"fmt"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// pricer turns a source's amounts into a copy's by the copy's rule:
//
//	copy = round(source × exchange rate × (1 + percent/100) + fixed, scale)
//	cost = round(source × exchange rate, scale)
//
// with the fixed amount added only to non-zero prices (free stays free),
// rounding half away from zero, and scale the rule's decimals (default 2) or,
// within one currency, the source amount's own if finer, so that a unit price
// of 0.0125 is not rounded to 0.01. The cost is what the copy's owner pays its
// parent; rounding both at one scale keeps a non-negative markup at or above
// cost.
type pricer struct {
	kind     catalog.RuleKind
	exchange decimal.Decimal
	factor   decimal.Decimal
	fixed    decimal.Decimal
	decimals int
	converts bool // an exchange rate applies
}

var one = decimal.MustNew(1, 0)

func newPricer(rule *catalog.PriceRule, sourceCurrency, copyCurrency string) (pricer, error) {
	p := pricer{kind: catalog.RuleCopy, exchange: one, factor: one, decimals: 2}
	if rule == nil {
		rule = &catalog.PriceRule{Kind: catalog.RuleCopy}
	}
	p.kind = rule.Kind
	var f marketplane.FieldErrors
	if rule.Decimals != nil {
		p.decimals = *rule.Decimals
	}
	if rule.ExchangeRate != "" {
		x, err := decimal.Parse(rule.ExchangeRate)
		if err != nil || x.Sign() <= 0 {
			f.Add("rule.exchange_rate", "must be a positive decimal number such as 0.92")
		} else {
			p.exchange, p.converts = x, true
		}
	} else if sourceCurrency != copyCurrency {
		f.Add("rule.exchange_rate", fmt.Sprintf("the source is priced in %s and the copy in %s: give an exchange rate", sourceCurrency, copyCurrency))
	}
	switch rule.Kind {
	case catalog.RulePercent:
		pct, err := decimal.Parse(rule.Percent)
		if err != nil {
			f.Add("rule.percent", "must be a decimal number such as 15 or 12.5")
			break
		}
		hundred := decimal.MustNew(100, 0)
		q, err := pct.Quo(hundred)
		if err == nil {
			p.factor, err = one.Add(q)
		}
		if err != nil || p.factor.Sign() < 0 {
			f.Add("rule.percent", "must not be below -100")
		}
	case catalog.RuleFixed:
		p.fixed = rule.Fixed.Decimal()
	case catalog.RuleCopy, catalog.RuleManual:
	default:
		f.Add("rule.kind", "must be copy, percent, fixed or manual")
	}
	if err := f.Err("price rule"); err != nil {
		return p, err
	}
	return p, nil
}

// manual reports whether the copy is priced by hand (a sync never sets its
// prices).
func (p pricer) manual() bool { return p.kind == catalog.RuleManual }

// derive is the copy's price for a source amount.
func (p pricer) derive(m money.Micros) (money.Micros, error) {
	if m == 0 {
		return 0, nil
	}
	d, err := m.Decimal().Mul(p.exchange)
	if err == nil {
		d, err = d.Mul(p.factor)
	}
	if err == nil && p.kind == catalog.RuleFixed {
		d, err = d.Add(p.fixed)
	}
	if err != nil {
		return 0, tooLarge(m, err)
	}
	out, err := money.FromDecimal(money.RoundHalfAway(d, p.scale(m)))
	if err != nil {
		return 0, tooLarge(m, err)
	}
	return out, nil
}

// tooLarge is the refusal of a rule that makes price m overflow: the
// rule's numbers are the caller's input (an exchange rate of 10^19), so
// it is the caller's error, not the server's.
func tooLarge(m money.Micros, err error) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid price rule",
		Fields: map[string]string{"rule": fmt.Sprintf("makes the price %s too large to hold (%v)", m, err)}}
}

// scale is the precision of prices derived from m. Across currencies the
// source's precision means nothing (a USD cent is not a yen), so only the
// rule's decimals count there.
func (p pricer) scale(m money.Micros) int {
	if p.converts {
		return p.decimals
	}
	return max(p.decimals, m.Decimal().Trim(0).Scale())
}

// convert is a source amount in the copy's currency: the copy owner's cost,
// and the form in which caps travel down.
func (p pricer) convert(m money.Micros) (money.Micros, error) {
	d, err := m.Decimal().Mul(p.exchange)
	if err != nil {
		return 0, tooLarge(m, err)
	}
	out, err := money.FromDecimal(money.RoundHalfAway(d, p.scale(m)))
	if err != nil {
		return 0, tooLarge(m, err)
	}
	return out, nil
}

// price derives a whole catalog.Price: the amount by the rule, the caps
// converted. A copy may keep a lower cap of its own for its own children.
func (p pricer) price(src, own catalog.Price) (catalog.Price, error) {
	out := own
	var err error
	if out.Amount, err = p.derive(src.Amount); err != nil {
		return out, err
	}
	if err = p.caps(src, &out); err != nil {
		return out, err
	}
	return out, nil
}

// caps carries the source's caps into the copy's price: the maximum retail
// price travels down the tree and may only get lower.
func (p pricer) caps(src catalog.Price, out *catalog.Price) error {
	if src.MaxRetail > 0 {
		cap, err := p.convert(src.MaxRetail)
		if err != nil {
			return err
		}
		if out.MaxRetail == 0 || out.MaxRetail > cap {
			out.MaxRetail = cap
		}
	}
	if src.SuggestedRetail > 0 && out.SuggestedRetail == 0 {
		s, err := p.convert(src.SuggestedRetail)
		if err != nil {
			return err
		}
		out.SuggestedRetail = s
	}
	return nil
}
