package order

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// NewRequest is an order for a new subscription (SO).
type NewRequest struct {
	// On is when the order is placed; its day in the vendor's time zone is
	// the first day of the subscription.
	On time.Time
	// Period is the key of the chosen subscription period ("1m").
	Period string
	// Resources are the amounts wanted by rate key, included units counted.
	// A rate left out gets its default: the included amount, raised to the
	// minimum (a minimum above zero is added to the order by itself).
	Resources map[string]int64
	// ConfirmZero is the buyer's explicit yes to an order that costs
	// nothing; a trial needs none.
	ConfirmZero bool
}

// QuoteNew prices a new subscription to plan, starting on req.On's day D
// for the period P of req.Period (D to D + P, rule 1):
//
//	setup      = the period's setup fee                         (one time)
//	setup      = units above included × the rate's setup fee     (per rate, one time)
//	recurring  = the period's recurring fee × months per period  (per month pricing, else × 1)
//	resource   = units above included × the rate's recurring fee × months per period
//
// each line rounded (rule 4), zero lines left out, then tax. A trial period
// is free. Refused with EINVALID and reasons (see FieldReason): an unknown
// period (field "period"), an unknown rate or an amount outside the rate's
// minimum and maximum ("resources.KEY"), and an order that costs nothing
// without ConfirmZero ("confirm_zero", ReasonRequired) unless it is a trial.
//
// Worked examples (more in the tests):
//
//	5.00 setup, 20.00 monthly, on 2027-01-15   → setup 5.00, recurring [01-15, 02-15) 20.00; total 25.00
//	12 months at 10.00 per month, on 2027-01-01 → recurring [2027-01-01, 2028-01-01) 120.00
//	seats: 0 included, min 2, 4.00 each, none asked → resource seat × 2 8.00
func QuoteNew(plan *catalog.Plan, req NewRequest, t Terms) (*Quote, error) {
	var p problems
	t.check(&p)
	checkPlan(&p, plan)
	pe, ok := plan.Period(req.Period)
	if !ok {
		p.add("period", ReasonUnknownPeriod, fmt.Sprintf("plan %q has no period %q", plan.Key, req.Period))
		return nil, p.err()
	}
	amounts := resolveResources(&p, plan, pe.Key, nil, false, req.Resources)
	if err := p.err(); err != nil {
		return nil, err
	}
	day := t.day(req.On)
	end := PeriodEnd(day, pe.Duration, 1)
	q := &Quote{Currency: plan.Currency, EffectiveOn: day}
	b := newBuilder(q, plan)
	if !pe.Trial {
		b.whole(Setup, "", 0, pe.Setup.Amount, time.Time{}, time.Time{})
		for _, r := range ratesIn(plan, pe.Key) {
			n := charged(r, amounts[r.Key])
			b.whole(Setup, r.Key, n, b.times(r.Setup.Amount, n), time.Time{}, time.Time{})
		}
		fee, err := periodFee(pe)
		b.fail(err)
		b.whole(Recurring, "", 0, fee, day, end)
		for _, r := range ratesIn(plan, pe.Key) {
			n := charged(r, amounts[r.Key])
			b.whole(Resource, r.Key, n, b.times(b.unitFee(r, pe), n), day, end)
		}
	}
	if b.err != nil {
		return nil, invalid("order", ReasonTooLarge, b.err.Error())
	}
	if q.Empty() && !pe.Trial && !req.ConfirmZero {
		return nil, invalid("confirm_zero", ReasonRequired, "the order costs nothing; confirm it to place it")
	}
	if err := applyTax(q, t.Tax); err != nil {
		return nil, invalid("tax", ReasonTooLarge, err.Error())
	}
	q.Subscription = &Subscription{
		Plan: plan, Period: pe.Key, Start: day, Anchor: day,
		PeriodStart: day, PeriodEnd: end, Resources: amounts, Trial: pe.Trial,
	}
	return q, nil
}

// ChangeRequest is a change of a subscription (CH): another plan on its
// upgrade or downgrade paths, new resource amounts, or both.
type ChangeRequest struct {
	// On is when the change is ordered; its day must lie in the current
	// period.
	On time.Time
	// Plan is the plan to change to; nil (or the current plan) keeps it.
	// The subscription keeps its period key, which the new plan must have.
	Plan *catalog.Plan
	// Resources are new amounts by rate key, included units counted; rates
	// left out keep theirs (raised to the new plan's default on a plan
	// change).
	Resources map[string]int64
	// Period is the key of the period to change to ("12m"); "" (or the
	// current key) keeps the subscription's period.
	Period string
	// ConfirmZero is the buyer's explicit yes to a change that costs
	// nothing (a total of zero); a subscription in its free trial needs
	// none, nor does a downgrade that waits for the next billing date.
	ConfirmZero bool
}

// QuoteChange prices a change on day C of the period [start, end) of sub
// (golden rules 2, 3 and 5). With L = end − C days left of P = end − start:
//
//	change-credit = −round(old fee × L / P)       on a plan change, when the fees differ
//	change-charge =  round(new fee × L / P)
//	resource      = −round(old units × old unit fee × L / P)   per rate whose units or fee change
//	resource      =  round(new units × new unit fee × L / P)
//	setup         =  units added × the rate's setup fee        (not prorated)
//
// where fees are per period (× months for per-month pricing) and units are
// the units above the included amount. Each line is rounded on its own and
// zero lines are left out, so the net is the sum of rounded lines, not the
// rounded difference.
//
// A downgrade — a change to a plan on the downgrade path, or a resource
// change that only lowers amounts — waits for the next billing date when
// t.Downgrade says so: no lines, EffectiveOn is the period's end, and the
// change is left in Subscription.Pending. With NoProration the change takes
// effect at once and only setup fees are charged. A subscription in its
// free trial changes resources for free and cannot change plan. A change
// replaces a pending one (it is priced from the current state).
//
// A change of period (monthly → annual, req.Period), alone or with a plan
// or resource change, ends the current period on day C and starts a new
// one of the new period's length there, [C, C + new period), anchored at C:
//
//	change-credit = −round(old fee × L / P)                  the unused part of the old period
//	resource      = −round(old units × old unit fee × L / P)  per rate with units above the included amount
//	recurring     =  the new period's fee, whole              [C, C + new period)
//	resource      =  new units × the new unit fee, whole      [C, C + new period)
//	setup         =  units added × the rate's setup fee        (not prorated; the period's own setup fee is not charged again)
//
// A change of period always takes effect at once and always credits the
// unused days, whatever t.Downgrade and t.Proration say: it ends the old
// period early, and keeping its unused days without credit would bill
// them twice. It is refused during a free trial (the trial converts by
// itself) and to a trial period.
//
// A change whose total is zero needs req.ConfirmZero ("confirm_zero",
// ReasonRequired), as a new order for nothing does (seed 7.2 §3.2: a
// zero-amount change of plan or period is confirmed); a subscription in
// its free trial and a deferred downgrade need none.
//
//	Basic 12.00 → Pro 36.00 on 2027-03-17 of [03-01, 04-01): L=15, P=31
//	  change-credit −5.81 (−5.806…), change-charge 17.42 (17.419…); total 11.61
//	mail: 5 included, 2.00 each, 5 → 8 on 2027-05-11 of [05-01, 06-01): L=21, P=31
//	  resource mailbox × 3 4.06 (126/31 = 4.064…)
//	10.00 a month → 100.00 a year on 2027-03-17 of [03-01, 04-01): L=15, P=31
//	  change-credit −4.84 (−150/31 = −4.838…), recurring [2027-03-17, 2028-03-17) 100.00; total 95.16
func QuoteChange(sub *Subscription, req ChangeRequest, t Terms) (*Quote, error) {
	if sub == nil || sub.Plan == nil {
		return nil, fmt.Errorf("quote change: no subscription")
	}
	old := sub.Plan
	oldPe, ok := old.Period(sub.Period)
	if !ok {
		return nil, fmt.Errorf("quote change: subscription period %q is not in plan %q", sub.Period, old.Key)
	}
	var p problems
	t.check(&p)
	day := t.day(req.On)
	if day.Before(sub.PeriodStart) || !day.Before(sub.PeriodEnd) {
		p.add("on", ReasonOutsidePeriod, fmt.Sprintf("%s is outside the current period [%s, %s)",
			day.Format(time.DateOnly), sub.PeriodStart.Format(time.DateOnly), sub.PeriodEnd.Format(time.DateOnly)))
	}
	plan, planChange, downgrade := old, false, false
	if req.Plan != nil && req.Plan.Key != old.Key {
		plan, planChange = req.Plan, true
		switch {
		case slices.Contains(old.UpgradeTo, plan.Key):
		case slices.Contains(old.DowngradeTo, plan.Key):
			downgrade = true
		default:
			p.add("plan", ReasonNotAllowed, fmt.Sprintf("plan %q is not an upgrade or downgrade of %q", plan.Key, old.Key))
		}
		if sub.Trial {
			p.add("plan", ReasonInTrial, "a plan cannot change during its free trial")
		}
		checkPlan(&p, plan)
		if plan.Currency != old.Currency {
			p.add("plan", ReasonCurrency, fmt.Sprintf("plan %q is sold in %s, the subscription in %s", plan.Key, plan.Currency, old.Currency))
		}
	}
	key, periodChange := sub.Period, false
	if req.Period != "" && req.Period != sub.Period {
		key, periodChange = req.Period, true
	}
	pe, ok := plan.Period(key)
	if !ok {
		p.add("period", ReasonUnknownPeriod, fmt.Sprintf("plan %q has no period %q", plan.Key, key))
		return nil, p.err()
	}
	if periodChange {
		switch {
		case sub.Trial:
			p.add("period", ReasonInTrial, "a period cannot change during its free trial; the trial converts by itself")
		case pe.Trial:
			p.add("period", ReasonNotAllowed, fmt.Sprintf("period %q is a free trial; a subscription does not change to one", pe.Key))
		}
	}
	amounts := resolveResources(&p, plan, pe.Key, sub.Resources, planChange || periodChange, req.Resources)
	if err := p.err(); err != nil {
		return nil, err
	}
	if !planChange && !periodChange {
		up, down := 0, 0
		for k, n := range amounts {
			switch was := sub.Resources[k]; {
			case n == was:
			case n == catalog.Unlimited || (was != catalog.Unlimited && n > was):
				up++
			default:
				down++
			}
		}
		if up+down == 0 {
			return nil, invalid("resources", ReasonNoChange, "the change changes nothing")
		}
		downgrade = up == 0
	}

	after := sub.Clone()
	q := &Quote{Currency: plan.Currency}
	if downgrade && t.Downgrade == DowngradeNextBillingDate && !periodChange {
		after.Pending = &Pending{On: sub.PeriodEnd, Plan: plan, Resources: amounts}
		q.EffectiveOn, q.Subscription = sub.PeriodEnd, after
		return q, nil
	}
	after.Plan, after.Resources, after.Pending = plan, amounts, nil
	q.EffectiveOn, q.Subscription = day, after
	if sub.Trial {
		return q, nil
	}
	if periodChange {
		return quotePeriodChange(q, sub, oldPe, pe, day, req, t)
	}

	left, days := Days(day, sub.PeriodEnd), Days(sub.PeriodStart, sub.PeriodEnd)
	b := newBuilder(q, plan)
	oldUnits := func(key string) (int64, money.Micros) {
		r, ok := old.Rate(key)
		if !ok || !rateIn(r, oldPe.Key) {
			return 0, 0
		}
		return charged(r, sub.Resources[key]), b.unitFee(r, oldPe)
	}
	for _, r := range ratesIn(plan, pe.Key) {
		was, _ := oldUnits(r.Key)
		if n := charged(r, amounts[r.Key]); n > was {
			b.whole(Setup, r.Key, n-was, b.times(r.Setup.Amount, n-was), time.Time{}, time.Time{})
		}
	}
	if t.Proration != NoProration {
		if planChange {
			oldFee, err := periodFee(oldPe)
			b.fail(err)
			newFee, err := periodFee(pe)
			b.fail(err)
			if oldFee != newFee {
				b.prorated(ChangeCredit, "", 0, -oldFee, day, sub.PeriodEnd, left, days)
				b.prorated(ChangeCharge, "", 0, newFee, day, sub.PeriodEnd, left, days)
			}
		}
		keys := []string{}
		for _, r := range ratesIn(plan, pe.Key) {
			keys = append(keys, r.Key)
		}
		for _, r := range ratesIn(old, oldPe.Key) {
			if !slices.Contains(keys, r.Key) {
				keys = append(keys, r.Key)
			}
		}
		for _, k := range keys {
			was, wasFee := oldUnits(k)
			var n int64
			var fee money.Micros
			if r, ok := plan.Rate(k); ok && rateIn(r, pe.Key) {
				n, fee = charged(r, amounts[k]), b.unitFee(r, pe)
			}
			if n == was && fee == wasFee {
				continue
			}
			b.prorated(Resource, k, -was, -b.times(wasFee, was), day, sub.PeriodEnd, left, days)
			b.prorated(Resource, k, n, b.times(fee, n), day, sub.PeriodEnd, left, days)
		}
	}
	return finishChange(q, b, req, t)
}

// quotePeriodChange prices a change of period on day (see QuoteChange):
// q.Subscription is the state after the change with the old period; it
// gets the new period, started on day.
func quotePeriodChange(q *Quote, sub *Subscription, oldPe, pe *catalog.Period, day time.Time, req ChangeRequest, t Terms) (*Quote, error) {
	old, after := sub.Plan, q.Subscription
	end := PeriodEnd(day, pe.Duration, 1)
	after.Period, after.Anchor, after.PeriodStart, after.PeriodEnd = pe.Key, day, day, end
	left, days := Days(day, sub.PeriodEnd), Days(sub.PeriodStart, sub.PeriodEnd)
	b := newBuilder(q, after.Plan)
	for _, r := range ratesIn(after.Plan, pe.Key) {
		var was int64
		if o, ok := old.Rate(r.Key); ok && rateIn(o, oldPe.Key) {
			was = charged(o, sub.Resources[r.Key])
		}
		if n := charged(r, after.Resources[r.Key]); n > was {
			b.whole(Setup, r.Key, n-was, b.times(r.Setup.Amount, n-was), time.Time{}, time.Time{})
		}
	}
	oldFee, err := periodFee(oldPe)
	b.fail(err)
	b.prorated(ChangeCredit, "", 0, -oldFee, day, sub.PeriodEnd, left, days)
	for _, r := range ratesIn(old, oldPe.Key) {
		was := charged(r, sub.Resources[r.Key])
		b.prorated(Resource, r.Key, -was, -b.times(b.unitFee(r, oldPe), was), day, sub.PeriodEnd, left, days)
	}
	fee, err := periodFee(pe)
	b.fail(err)
	b.whole(Recurring, "", 0, fee, day, end)
	for _, r := range ratesIn(after.Plan, pe.Key) {
		n := charged(r, after.Resources[r.Key])
		b.whole(Resource, r.Key, n, b.times(b.unitFee(r, pe), n), day, end)
	}
	return finishChange(q, b, req, t)
}

// finishChange checks what a change's lines add up to and taxes them: a
// change for nothing needs the buyer's confirmation.
func finishChange(q *Quote, b *builder, req ChangeRequest, t Terms) (*Quote, error) {
	if b.err != nil {
		return nil, invalid("order", ReasonTooLarge, b.err.Error())
	}
	if q.Total == 0 && !req.ConfirmZero {
		return nil, invalid("confirm_zero", ReasonRequired, "the change costs nothing; confirm it to place it")
	}
	if err := applyTax(q, t.Tax); err != nil {
		return nil, invalid("tax", ReasonTooLarge, err.Error())
	}
	return q, nil
}

// QuoteCancel prices the cancellation (CL) of sub on day C by the refund
// policy of its period [start, end):
//
//   - inside the full-refund window, C < start + full refund days: the
//     period's recurring fees are refunded whole (the plan's fee and each
//     rate's units above the included amount), without dates;
//   - after it, with a prorated policy: round(fee × (end − C) / (end − start))
//     per fee, dated [C, end); with policy none: nothing;
//   - the non-refundable part is then kept back from the refund lines, in
//     order, never turning a refund into a charge;
//   - the period's cancellation fee, if any, is charged (kind
//     "cancellation").
//
// Setup fees are not refunded; a trial refunds nothing. Fees are those of
// sub.Plan (frozen prices if the subscription has them).
//
//	120.00 a year from 2027-01-01, 30 refund days, then prorated:
//	  cancelled 2027-01-11 → refund −120.00
//	  cancelled 2027-03-01 → refund [2027-03-01, 2028-01-01) −round(120 × 306/365) = −100.60
func QuoteCancel(sub *Subscription, on time.Time, t Terms) (*Quote, error) {
	if sub == nil || sub.Plan == nil {
		return nil, fmt.Errorf("quote cancel: no subscription")
	}
	plan := sub.Plan
	pe, ok := plan.Period(sub.Period)
	if !ok {
		return nil, fmt.Errorf("quote cancel: subscription period %q is not in plan %q", sub.Period, plan.Key)
	}
	var p problems
	t.check(&p)
	checkPlan(&p, plan)
	day := t.day(on)
	if day.Before(sub.PeriodStart) {
		p.add("on", ReasonOutsidePeriod, fmt.Sprintf("%s is before the current period [%s, %s)",
			day.Format(time.DateOnly), sub.PeriodStart.Format(time.DateOnly), sub.PeriodEnd.Format(time.DateOnly)))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	q := &Quote{Currency: plan.Currency, EffectiveOn: day}
	if sub.Trial {
		return q, nil
	}
	b := newBuilder(q, plan)
	fee, err := periodFee(pe)
	b.fail(err)
	type refund struct {
		key  string
		n    int64
		full money.Micros
	}
	refunds := []refund{{"", 0, fee}}
	for _, r := range ratesIn(plan, pe.Key) {
		n := charged(r, sub.Resources[r.Key])
		refunds = append(refunds, refund{r.Key, n, b.times(b.unitFee(r, pe), n)})
	}
	window := sub.PeriodStart.AddDate(0, 0, pe.Refund.FullDays)
	inPeriod := day.Before(sub.PeriodEnd)
	switch {
	case inPeriod && pe.Refund.FullDays > 0 && day.Before(window):
		for _, r := range refunds {
			b.whole(Refund, r.key, r.n, -r.full, time.Time{}, time.Time{})
		}
	case inPeriod && pe.Refund.After == catalog.RefundProrated:
		left, days := Days(day, sub.PeriodEnd), Days(sub.PeriodStart, sub.PeriodEnd)
		for _, r := range refunds {
			b.prorated(Refund, r.key, r.n, -r.full, day, sub.PeriodEnd, left, days)
		}
	}
	// The non-refundable part is kept back from the refund, line by line.
	keep := pe.Refund.NonRefundable.Round(plan.Currency)
	for i := range q.Lines {
		if keep <= 0 {
			break
		}
		l := &q.Lines[i]
		take := min(keep, -l.Amount)
		l.Amount += take
		q.Total += take
		keep -= take
	}
	q.Lines = slices.DeleteFunc(q.Lines, func(l Line) bool { return l.Amount == 0 })
	b.whole(Cancellation, "", 0, pe.Cancellation.Amount, time.Time{}, time.Time{})
	if b.err != nil {
		return nil, invalid("order", ReasonTooLarge, b.err.Error())
	}
	if err := applyTax(q, t.Tax); err != nil {
		return nil, invalid("tax", ReasonTooLarge, err.Error())
	}
	return q, nil
}

// checkPlan refuses plans that cannot be priced.
func checkPlan(p *problems, plan *catalog.Plan) {
	if _, ok := money.MinorUnits(plan.Currency); !ok {
		p.add("currency", ReasonUnknownCurrency, fmt.Sprintf("no minor unit known for currency %q", plan.Currency))
	}
	if plan.NeedsConfirmation() {
		p.add("plan", ReasonUnpriced, fmt.Sprintf("plan %q waits for its owner to price it", plan.Key))
	}
}

// rateIn reports whether rate r is sold with period key.
func rateIn(r *catalog.Rate, key string) bool {
	return len(r.Periods) == 0 || slices.Contains(r.Periods, key)
}

// ratesIn lists the rates of plan sold with period key, in plan order.
func ratesIn(plan *catalog.Plan, key string) []*catalog.Rate {
	var out []*catalog.Rate
	for i := range plan.Rates {
		if rateIn(&plan.Rates[i], key) {
			out = append(out, &plan.Rates[i])
		}
	}
	return out
}

// defaultAmount is what a rate gets when nobody asks: the included amount,
// raised to the minimum.
func defaultAmount(r *catalog.Rate) int64 {
	if r.Included == catalog.Unlimited {
		return catalog.Unlimited
	}
	return max(r.Included, r.Min)
}

// charged is the number of units above the included amount, never negative.
func charged(r *catalog.Rate, amount int64) int64 {
	if r.Included == catalog.Unlimited || amount == catalog.Unlimited {
		return 0
	}
	return max(0, amount-r.Included)
}

// resolveResources works out the amount of every rate of plan in period key:
// the asked amount, else the current one (raised to the plan's default when
// the plan changes), else the default; it records unknown rates and amounts
// outside a rate's minimum and maximum.
func resolveResources(p *problems, plan *catalog.Plan, key string, current map[string]int64, raise bool, asked map[string]int64) map[string]int64 {
	amounts := map[string]int64{}
	for _, r := range ratesIn(plan, key) {
		n, ok := current[r.Key]
		def := defaultAmount(r)
		switch {
		case !ok:
			n = def
		case raise && def == catalog.Unlimited:
			n = def
		case raise && n == catalog.Unlimited:
			n = def
		case raise:
			n = max(n, def)
		}
		if v, ok := asked[r.Key]; ok {
			n = v
		}
		checkAmount(p, "resources."+r.Key, r, n)
		amounts[r.Key] = n
	}
	keys := make([]string, 0, len(asked))
	for k := range asked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := amounts[k]; !ok {
			p.add("resources."+k, ReasonUnknownResource, fmt.Sprintf("plan %q sells no resource %q with period %q", plan.Key, k, key))
		}
	}
	return amounts
}

func checkAmount(p *problems, field string, r *catalog.Rate, n int64) {
	switch {
	case n == catalog.Unlimited:
		if r.Included != catalog.Unlimited {
			p.add(field, ReasonAboveMaximum, "unlimited only where the plan includes unlimited")
		}
	case n < 0:
		p.add(field, ReasonBelowMinimum, fmt.Sprintf("must not be negative (asked for %d)", n))
	case n < r.Min:
		p.add(field, ReasonBelowMinimum, fmt.Sprintf("at least %d (asked for %d)", r.Min, n))
	case r.Max != catalog.Unlimited && n > r.Max:
		p.add(field, ReasonAboveMaximum, fmt.Sprintf("at most %d (asked for %d)", r.Max, n))
	}
}

// builder adds lines to a quote, rounding each and leaving zero lines out;
// the first arithmetic error sticks.
type builder struct {
	q    *Quote
	name string
	err  error
}

func newBuilder(q *Quote, plan *catalog.Plan) *builder {
	name := plan.Name.Get("en")
	if name == "" {
		name = plan.Key
	}
	return &builder{q: q, name: name}
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *builder) times(m money.Micros, n int64) money.Micros {
	r, err := times(m, n)
	b.fail(err)
	return r
}

// unitFee is a rate's recurring fee per unit for one whole period.
func (b *builder) unitFee(r *catalog.Rate, pe *catalog.Period) money.Micros {
	return b.times(r.Recurring.Amount, periodFactor(pe))
}

// whole adds a line for a whole amount, rounded.
func (b *builder) whole(k Kind, res string, n int64, amount money.Micros, from, to time.Time) {
	b.add(k, res, n, amount.Round(b.q.Currency), from, to)
}

// prorated adds a line for left of days of amount (rule 3).
func (b *builder) prorated(k Kind, res string, n int64, amount money.Micros, from, to time.Time, left, days int) {
	a, err := Prorate(amount, left, days, b.q.Currency)
	b.fail(err)
	b.add(k, res, n, a, from, to)
}

func (b *builder) add(k Kind, res string, n int64, amount money.Micros, from, to time.Time) {
	if amount == 0 {
		return
	}
	l := Line{What: k, Resource: res, From: from, To: to, Amount: amount}
	if n != 0 {
		l.Quantity = decimal.MustNew(n, 0)
	}
	l.Description = describe(b.name, l)
	b.q.Lines = append(b.q.Lines, l)
	b.q.Total += amount
}

// describe is the line's plain English text.
func describe(plan string, l Line) string {
	what := map[Kind]string{
		Setup: "setup fee", Recurring: "recurring fee", ChangeCredit: "credit for the days left",
		ChangeCharge: "charge for the days left", Resource: "units", Refund: "refund",
		Cancellation: "cancellation fee",
	}[l.What]
	s := plan + ": " + what
	if l.Resource != "" {
		s = fmt.Sprintf("%s: %s × %s %s", plan, l.Quantity, l.Resource, what)
		if l.What == Resource {
			s = fmt.Sprintf("%s: %s × %s", plan, l.Quantity, l.Resource)
		}
	}
	if !l.From.IsZero() {
		s += fmt.Sprintf(", %s to %s", l.From.Format(time.DateOnly), l.To.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	return s
}
