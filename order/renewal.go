package order

import (
	"fmt"
	"math/big"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/money"
)

// The pieces of pricing that the billing run shares with orders: the fees of
// a whole period (a renewal, RN, in advance; or a period charged in
// arrears), usage rated at a unit price, and tax on a finished set of
// lines. Each rounds where the rules of order.go say, so an invoice of the
// billing run and an order's invoice round alike.

// FeeLines are the recurring fees of sub for one whole period [from, to),
// with sub's plan, period and resource amounts:
//
//	recurring = the period's recurring fee × months per period  (per month pricing, else × 1)
//	resource  = units above included × the rate's recurring fee × months per period  (per rate)
//
// each rounded on its own (rule 4), zero lines left out. A trial has no fees.
//
//	20.00 a month, [2027-02-15, 2027-03-15)        → recurring 20.00
//	12 months at 10.00 per month                    → recurring 120.00
//	mailbox: 5 included, 8 held, 2.00 each a month  → resource mailbox × 3 6.00
func FeeLines(sub *Subscription, from, to time.Time) ([]Line, error) {
	if sub == nil || sub.Plan == nil {
		return nil, fmt.Errorf("fee lines: no subscription")
	}
	plan := sub.Plan
	pe, ok := plan.Period(sub.Period)
	if !ok {
		return nil, fmt.Errorf("fee lines: subscription period %q is not in plan %q", sub.Period, plan.Key)
	}
	if pe.Trial {
		return nil, nil
	}
	q := &Quote{Currency: plan.Currency}
	b := newBuilder(q, plan)
	fee, err := periodFee(pe)
	b.fail(err)
	b.whole(Recurring, "", 0, fee, from, to)
	for _, r := range ratesIn(plan, pe.Key) {
		n := charged(r, sub.Resources[r.Key])
		b.whole(Resource, r.Key, n, b.times(b.unitFee(r, pe), n), from, to)
	}
	if b.err != nil {
		return nil, fmt.Errorf("fee lines of plan %q: %w", plan.Key, b.err)
	}
	return q.Lines, nil
}

// Rated is price × quantity rounded once to the currency's minor unit,
// halves away from zero: usage rated at a unit price.
//
//	23.5 GB at 0.10 USD       → 2.35
//	1234 unit-hours at 0.015  → 18.51
func Rated(price money.Micros, quantity decimal.Decimal, currency string) (money.Micros, error) {
	num := new(big.Int).SetUint64(quantity.Coef())
	if quantity.Sign() < 0 {
		num.Neg(num)
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(quantity.Scale())), nil)
	return roundRatio(price, num, den, currency)
}

// AddLine adds a rounded line to q and its total; a line of zero is left
// out (rule 6).
func (q *Quote) AddLine(l Line) {
	if l.Amount == 0 {
		return
	}
	q.Lines = append(q.Lines, l)
	q.Total += l.Amount
}

// AddTax adds the tax line of rule 4 to the lines of q: the tax of each line
// from its rounded amount, rounded on its own; or marks reverse charge.
// Call it once, after the last line.
func (q *Quote) AddTax(tax TaxRule) error { return applyTax(q, tax) }
