// Package billing holds the pure rules of the daily billing run: given one
// subscription, its usage readings and a date, what the day charges and the
// state the subscription moves to. It takes no clock and no database: the
// run (storage, numbering, ledger, payments) calls Due for each subscription
// on the day it bills and stores what comes back.
//
// The rules are those of the golden scenarios (../shared/scenarios/README.md),
// on top of the pricing rules of package order (periods, rounding, tax):
//
//   - A period [start, end) closes on its end day; the billing of that day
//     charges the period that begins (renewals are charged on the first day
//     of the new period, rule 7) and the usage of the period that closed.
//   - Plans billed in advance charge the next period's recurring fees (the
//     plan's fee, × months for prices per month, and units above the
//     included amount of each resource) with the closed period's overuse in
//     arrears on the same invoice (rule 6). Plans billed in arrears charge
//     the closed period's fees instead. Pay-as-you-go plans charge usage
//     only.
//   - The usage of a period is taken from the readings inside it: the
//     highest reading of a limit resource, the sum of the readings of an
//     additive counter. Units above the included amount (never negative) are
//     rated at the rate's overuse price, rounded once on their line.
//   - A change waiting for the next billing date (a deferred downgrade)
//     takes effect with the new period and its fees are the new plan's.
//   - A free trial that ends converts to the paid period its catalog
//     period names (converts_to): the subscription goes on in that period
//     from the trial's end day, which becomes its anchor (rule 1 counts
//     periods from it), and the day charges the paid period as a renewal
//     would (in advance, with paid units; no setup fee). Nothing of the
//     trial itself is charged, its usage included. A trial that names no
//     period to convert to is not ended: Due refuses it.
//   - A document whose lines are all zero is not issued (rule 8).
package billing

import (
	"fmt"
	"slices"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
)

// Reading is one usage reading of a resource of a subscription.
type Reading struct {
	// Resource is the rate key of the resource read ("disk").
	Resource string
	// On is the day of the reading, in the vendor's calendar (see
	// order.Day); the period that holds it pays for it.
	On time.Time
	// Value is what the meter said: GB in use for a limit, unit-hours
	// since the last reading for a counter.
	Value decimal.Decimal
	// Class is the class of the resource type: catalog.ClassCounter
	// readings are summed over a period; any other reading is a level, of
	// which the period's highest counts.
	Class catalog.Class
}

// Bill is what the billing of one day does to one subscription.
type Bill struct {
	// Invoice is the day's document for the subscription: its lines, total
	// and tax, priced as order prices (lines rounded one by one). nil when
	// nothing is due that day or every line is zero (rule 8).
	Invoice *order.Quote
	// Subscription is the state after the day: the subscription given when
	// no period closed, else its next period, with a pending change
	// applied. It is never the subscription given, which Due leaves as is,
	// when a period closed.
	//
	// When a trial converts, these fields change beyond the period's
	// bounds (PeriodStart = the trial's PeriodEnd, PeriodEnd = that day +
	// the paid period's duration): Period becomes the paid period's key,
	// Trial becomes false, Anchor becomes the conversion day (the trial's
	// PeriodEnd), Resources gain the default amount of each rate the paid
	// period sells and the trial did not hold, and Pending is cleared when
	// it took effect. Start, Plan and FrozenPrices stay.
	Subscription *order.Subscription
	// Closed is the period that closed and was billed, [From, To); zero
	// when nothing was due.
	Closed Span
}

// Span is a half-open range of days [From, To).
type Span struct{ From, To time.Time }

// Due bills sub on day on (its calendar day in t.Location): when on is
// before the end of the current period nothing is due; otherwise the period
// [PeriodStart, PeriodEnd) is closed and billed as the package doc says,
// and the subscription moves to the period that starts at PeriodEnd. One
// call closes one period: after days without a run, call Due again with
// Bill.Subscription until nothing is due.
//
// usage may hold readings of any dates and resources; Due takes those of
// the closed period and of the plan's rates. t.Tax is the sale's tax.
//
// A subscription whose trial ends converts to the paid period its trial
// period names (catalog.Period.ConvertsTo; see Bill.Subscription for what
// changes). Due refuses with ECONFLICT to end a trial whose period names
// none, as it refused every trial before conversions existed: such a trial
// has no paid period to go on in, and renewing it as a trial would give the
// service away. It refuses with EINVALID readings of a negative value.
//
//	20.00 a month from 2027-01-15, billed 2027-02-15 → recurring [02-15, 03-15) 20.00
//	15.00 a month, disk 50 included at 0.10, readings 41, 73.5, 60 in August,
//	  billed 2027-09-01 → recurring [09-01, 10-01) 15.00, overuse disk × 23.5 [08-01, 09-01) 2.35; total 17.35
//	pay-as-you-go, 0.015 per unit-hour, readings 500 and 734 in February,
//	  billed 2027-03-01 → usage vcpu-hours × 1234 [02-01, 03-01) 18.51
//	14-day trial from 2027-06-01 converting to 30.00 a month,
//	  billed 2027-06-15 → recurring [06-15, 07-15) 30.00; anchor 2027-06-15
func Due(sub *order.Subscription, usage []Reading, on time.Time, t order.Terms) (*Bill, error) {
	if sub == nil || sub.Plan == nil {
		return nil, fmt.Errorf("billing: no subscription")
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	day := order.Day(on, loc)
	if day.Before(sub.PeriodEnd) {
		return &Bill{Subscription: sub}, nil
	}
	closed := Span{sub.PeriodStart, sub.PeriodEnd}
	after, trial, err := next(sub)
	if err != nil {
		return nil, err
	}
	plan := sub.Plan
	q := &order.Quote{Currency: plan.Currency, EffectiveOn: after.PeriodStart, Subscription: after}
	var fees []order.Line
	switch plan.Billing {
	case catalog.PayAsYouGo:
	case catalog.ChargeInArrears:
		// A closed trial has no fees (FeeLines charges a trial nothing):
		// the first paid period is charged at its own end.
		fees, err = order.FeeLines(sub, closed.From, closed.To)
	default: // in advance, the converted period as any other
		fees, err = order.FeeLines(after, after.PeriodStart, after.PeriodEnd)
	}
	if err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	for _, l := range fees {
		q.AddLine(l)
	}
	if !trial {
		// A free trial is free to the end, usage included.
		lines, err := usageLines(sub, closed, usage)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			q.AddLine(l)
		}
	}
	b := &Bill{Subscription: after, Closed: closed}
	if q.Empty() {
		return b, nil
	}
	if err := q.AddTax(t.Tax); err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	b.Invoice = q
	return b, nil
}

// next is the subscription in the period that follows its current one, with
// a change pending for that day applied; trial reports that the period that
// closed was a free trial, which next converts (see convert). The period's
// end is counted from the anchor (rule 1), so 31 January renews on 28
// February, then 31 March.
func next(sub *order.Subscription) (after *order.Subscription, trial bool, err error) {
	cur, ok := sub.Plan.Period(sub.Period)
	if !ok {
		return nil, false, fmt.Errorf("billing: subscription period %q is not in plan %q", sub.Period, sub.Plan.Key)
	}
	// The subscription's flag or the catalog's period: a trial period
	// never renews as a trial, whichever says it is one.
	trial = sub.Trial || cur.Trial
	if trial && cur.ConvertsTo == "" {
		return nil, true, marketplane.Errorf(marketplane.ECONFLICT, "billing: plan %q: the trial ends on %s and its period %q converts to no paid period (converts_to)",
			sub.Plan.Key, sub.PeriodEnd.Format(time.DateOnly), sub.Period)
	}
	after = sub.Clone()
	if p := after.Pending; p != nil && !p.On.After(sub.PeriodEnd) {
		if p.Plan != nil {
			after.Plan = p.Plan
		}
		if p.Resources != nil {
			after.Resources = p.Resources
		}
		after.Pending = nil
	}
	if trial {
		return after, true, convert(after, cur.ConvertsTo, sub.PeriodEnd)
	}
	pe, ok := after.Plan.Period(after.Period)
	if !ok {
		return nil, false, fmt.Errorf("billing: subscription period %q is not in plan %q", after.Period, after.Plan.Key)
	}
	from, to, _, ok := order.PeriodAt(after.Anchor, pe.Duration, sub.PeriodEnd)
	if !ok || !from.Equal(sub.PeriodEnd) {
		// A period end off the anchor's grid (a period set by hand): the
		// next period is counted from the end itself.
		from, to = sub.PeriodEnd, order.PeriodEnd(sub.PeriodEnd, pe.Duration, 1)
	}
	after.PeriodStart, after.PeriodEnd = from, to
	return after, false, nil
}

// convert moves after, whose trial ends on day on, to the paid period key of
// its plan. The conversion day is the new anchor: rule 1 counts periods
// from the day a trial converted, so a trial that ends on 31 January renews
// on 28 February, then 31 March, as an order of 31 January would.
func convert(after *order.Subscription, key string, on time.Time) error {
	pe, ok := after.Plan.Period(key)
	if !ok || pe.Trial {
		// The catalog refuses such a plan (Plan.Validate); a plan stored
		// before that rule, or edited by hand, gets here.
		return fmt.Errorf("billing: plan %q: the trial converts to %q, which is not a paid period of the plan", after.Plan.Key, key)
	}
	after.Period, after.Trial, after.Anchor = key, false, on
	after.PeriodStart, after.PeriodEnd = on, order.PeriodEnd(on, pe.Duration, 1)
	// A rate sold with the paid period but not with the trial starts at
	// its default, as on an order: the included amount raised to the
	// minimum, which the customer pays for from now on.
	for i := range after.Plan.Rates {
		r := &after.Plan.Rates[i]
		if _, held := after.Resources[r.Key]; held || (len(r.Periods) > 0 && !slices.Contains(r.Periods, key)) {
			continue
		}
		if after.Resources == nil {
			after.Resources = map[string]int64{}
		}
		after.Resources[r.Key] = r.Included
		if r.Included != catalog.Unlimited {
			after.Resources[r.Key] = max(r.Included, r.Min)
		}
	}
	return nil
}

// usageLines rates the usage of the closed period of sub, one line per
// rate with usage above its included amount, in the plan's rate order.
func usageLines(sub *order.Subscription, closed Span, usage []Reading) ([]order.Line, error) {
	plan := sub.Plan
	kind := order.Overuse
	if plan.Billing == catalog.PayAsYouGo {
		kind = order.Usage
	}
	var out []order.Line
	for i := range plan.Rates {
		r := &plan.Rates[i]
		if len(r.Periods) > 0 && !slices.Contains(r.Periods, sub.Period) {
			continue
		}
		used, seen, err := periodUsage(r.Key, closed, usage)
		if err != nil {
			return nil, err
		}
		if !seen || r.Included == catalog.Unlimited {
			continue
		}
		over, err := used.Sub(decimal.MustNew(r.Included, 0))
		if err != nil {
			return nil, fmt.Errorf("billing: usage of %q: %w", r.Key, err)
		}
		if over.Sign() <= 0 {
			continue
		}
		over = over.Trim(0)
		amount, err := order.Rated(r.Overuse.Amount, over, plan.Currency)
		if err != nil {
			return nil, fmt.Errorf("billing: usage of %q: %w", r.Key, err)
		}
		out = append(out, order.Line{
			What: kind, Resource: r.Key, Quantity: over, From: closed.From, To: closed.To, Amount: amount,
			Description: fmt.Sprintf("%s: %s × %s %s, %s to %s", planName(plan), over, r.Key, kind,
				closed.From.Format(time.DateOnly), closed.To.AddDate(0, 0, -1).Format(time.DateOnly)),
		})
	}
	return out, nil
}

// periodUsage is the usage of resource in span: the sum of counter
// readings, else the highest reading; seen is false without readings.
func periodUsage(resource string, span Span, usage []Reading) (used decimal.Decimal, seen bool, err error) {
	for _, u := range usage {
		if u.Resource != resource || u.On.Before(span.From) || !u.On.Before(span.To) {
			continue
		}
		if u.Value.Sign() < 0 {
			return used, false, marketplane.Errorf(marketplane.EINVALID, "billing: reading of %q on %s: negative (%s)", resource, u.On.Format(time.DateOnly), u.Value)
		}
		switch {
		case u.Class == catalog.ClassCounter:
			if used, err = used.Add(u.Value); err != nil {
				return used, false, fmt.Errorf("billing: usage of %q: %w", resource, err)
			}
		case !seen || u.Value.Cmp(used) > 0:
			used = u.Value
		}
		seen = true
	}
	return used, seen, nil
}

func planName(p *catalog.Plan) string {
	if n := p.Name.Get("en"); n != "" {
		return n
	}
	return p.Key
}
