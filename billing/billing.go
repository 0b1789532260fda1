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
// Due refuses with ECONFLICT a subscription in its free trial (the period a
// trial converts to is not in the catalog yet) and with EINVALID readings of
// a negative value.
//
//	20.00 a month from 2027-01-15, billed 2027-02-15 → recurring [02-15, 03-15) 20.00
//	15.00 a month, disk 50 included at 0.10, readings 41, 73.5, 60 in August,
//	  billed 2027-09-01 → recurring [09-01, 10-01) 15.00, overuse disk × 23.5 [08-01, 09-01) 2.35; total 17.35
//	pay-as-you-go, 0.015 per unit-hour, readings 500 and 734 in February,
//	  billed 2027-03-01 → usage vcpu-hours × 1234 [02-01, 03-01) 18.51
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
	if sub.Trial {
		return nil, marketplane.Errorf(marketplane.ECONFLICT, "billing: plan %q: the trial ends on %s; converting a trial to a paid period is not billed yet",
			sub.Plan.Key, sub.PeriodEnd.Format(time.DateOnly))
	}
	closed := Span{sub.PeriodStart, sub.PeriodEnd}
	after, err := next(sub)
	if err != nil {
		return nil, err
	}
	plan := sub.Plan
	q := &order.Quote{Currency: plan.Currency, EffectiveOn: after.PeriodStart, Subscription: after}
	var fees []order.Line
	switch plan.Billing {
	case catalog.PayAsYouGo:
	case catalog.ChargeInArrears:
		fees, err = order.FeeLines(sub, closed.From, closed.To)
	default: // in advance
		fees, err = order.FeeLines(after, after.PeriodStart, after.PeriodEnd)
	}
	if err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	for _, l := range fees {
		q.AddLine(l)
	}
	lines, err := usageLines(sub, closed, usage)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		q.AddLine(l)
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
// a change pending for that day applied. The period's end is counted from
// the anchor (rule 1), so 31 January renews on 28 February, then 31 March.
func next(sub *order.Subscription) (*order.Subscription, error) {
	after := sub.Clone()
	if p := after.Pending; p != nil && !p.On.After(sub.PeriodEnd) {
		if p.Plan != nil {
			after.Plan = p.Plan
		}
		if p.Resources != nil {
			after.Resources = p.Resources
		}
		after.Pending = nil
	}
	pe, ok := after.Plan.Period(after.Period)
	if !ok {
		return nil, fmt.Errorf("billing: subscription period %q is not in plan %q", after.Period, after.Plan.Key)
	}
	from, to, _, ok := order.PeriodAt(after.Anchor, pe.Duration, sub.PeriodEnd)
	if !ok || !from.Equal(sub.PeriodEnd) {
		// A period end off the anchor's grid (a period set by hand): the
		// next period is counted from the end itself.
		from, to = sub.PeriodEnd, order.PeriodEnd(sub.PeriodEnd, pe.Duration, 1)
	}
	after.PeriodStart, after.PeriodEnd = from, to
	return after, nil
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
