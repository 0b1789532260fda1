package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/billing"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// Issued is a document the player issued.
type Issued struct {
	On   time.Time
	Type string // invoice or credit_memo
	// From and To are the seller and buyer tiers; empty in a scenario
	// without tiers.
	From, To      string
	Due           time.Time // zero without payment terms
	ReverseCharge bool
	Currency      string
	Lines         []order.Line
	Total         money.Micros
	Step          int // index of the step that issued it
}

// StepError is an order step the order package refused.
type StepError struct {
	Step int // index in the case's steps
	Err  error
}

// Result is what playing a case produced and how far the player got.
type Result struct {
	Documents []Issued
	Errors    []StepError
	// Stop is the index of the step the player stopped at: the first bill
	// step it cannot play (see Play), or the number of steps when it played
	// them all.
	Stop int
	// StopOn is the date of the stop step; zero when every step was played.
	StopOn time.Time
	// Skipped are the billing steps before Stop that the player passed
	// over (pay, topup, release, check): the pure player keeps no ledger.
	Skipped []int
}

// Whole reports whether every step was played (none skipped, none left).
func (r *Result) Whole() bool { return r.StopOn.IsZero() && len(r.Skipped) == 0 }

// Play plays case i of s through the order and billing packages, on a
// fresh market, and returns the documents issued on order, change and
// cancellation dates and by the billing of each bill step's day. Usage
// steps record readings that billing rates.
//
// Check steps of the subscription's period and state are played when the
// player knows them (see knows; the others are passed over). A check that
// does not hold is recorded in Result.Errors, as a refused order is.
//
// The pure player keeps no ledger: in a case with pay, topup or release
// steps, or checks of accounts, invoices, funds or balances, it passes
// over those and stops at the first bill step (what billing issues there depends on
// payments and credit hold). It also stops at a bill step that would end a
// free trial converting to no paid period, which billing refuses. An
// order step the order package refuses is recorded in Result.Errors and
// play goes on. The error is for a scenario the player cannot set up at
// all.
func Play(s *Scenario, i int) (*Result, error) { return play(s, i, true) }

// PlayOrders plays case i of s as Play does, but only its orders: it stops
// at the first bill step and passes over every other billing step (usage
// too). It is what a player without a billing run can check, and what the
// store's player is compared with.
func PlayOrders(s *Scenario, i int) (*Result, error) { return play(s, i, false) }

func play(s *Scenario, i int, bills bool) (*Result, error) {
	if i < 0 || i >= len(s.Cases) {
		return nil, fmt.Errorf("%s: no case %d", s.File, i)
	}
	k := &s.Cases[i]
	m, err := s.Market()
	if err != nil {
		return nil, err
	}
	p := &player{s: s, m: m, res: &Result{Stop: len(k.Steps)}, customer: s.Customer, classes: map[string]catalog.Class{}}
	if k.Customer != nil {
		p.customer = k.Customer
	}
	p.terms = order.Terms{Location: time.UTC}
	switch k.Mode {
	case "next_billing_date":
		p.terms.Downgrade = order.DowngradeNextBillingDate
	case "none":
		p.terms.Proration = order.NoProration
	}
	ledger := slices.ContainsFunc(k.Steps, func(st Step) bool {
		return st.Do == Pay || st.Do == Topup || st.Do == Release || (st.Do == Check && !p.checks(&st))
	})
	for _, rt := range m.ResourceTypes {
		p.classes[rt.Key] = rt.Class
	}
	for j, st := range k.Steps {
		if !bills && Billing(st.Do) && st.Do != Bill {
			p.res.Skipped = append(p.res.Skipped, j)
			continue
		}
		if st.Do == Bill && (!bills || ledger || p.endsTrialUnconverted(st.On.Time)) {
			p.res.Stop, p.res.StopOn = j, st.On.Time
			break
		}
		var err error
		switch st.Do {
		case Bill:
			err = p.bill(j, st.On.Time)
		case Usage:
			err = p.read(&st)
		case Order, Change, Cancel:
			err = p.play(j, &st)
		case Check:
			if !p.checks(&st) || !p.knows(&st) {
				p.res.Skipped = append(p.res.Skipped, j)
				continue
			}
			err = p.check(&st)
		default:
			p.res.Skipped = append(p.res.Skipped, j)
		}
		if err != nil {
			p.res.Errors = append(p.res.Errors, StepError{Step: j, Err: err})
		}
	}
	return p.res, nil
}

// checks reports whether st checks only what the player keeps: the
// subscription's period and state. Accounts, invoices, funds and balances
// are a ledger's.
func (p *player) checks(st *Step) bool {
	return st.Do == Check && st.Account == "" && st.Invoice == "" && st.PrepaidFunds == nil && st.AvailableBalance == nil
}

// knows reports whether the player can make check st on its day. The
// subscription's state is a ledger's as soon as credit control may have
// acted: the player, which records no payment, knows the subscription is
// active only while none of the customer's invoices is overdue (the day
// after its due date and the customer's grace days; an invoice without a
// due date never is) and its plan is not pay-as-you-go (whose
// services are suspended when the balance runs out). What a cancelled
// subscription looks like is not the player's to say either.
func (p *player) knows(st *Step) bool {
	if p.cancelled {
		return false
	}
	if st.Subscription == "" || p.sub == nil {
		return true
	}
	return p.sub.Plan.Billing != catalog.PayAsYouGo && !p.overdue(st.On.Time)
}

// overdue reports whether an invoice the player issued to the customer is
// overdue on day on, unpaid as every invoice is here.
func (p *player) overdue(on time.Time) bool {
	grace := 0
	if p.customer != nil && p.customer.Terms != nil && p.customer.Terms.GraceDays != nil {
		grace = *p.customer.Terms.GraceDays
	}
	for _, d := range p.res.Documents {
		if d.Type != "invoice" || d.Total <= 0 || (p.m.Tiered && d.To != p.buyer) {
			continue
		}
		// An invoice without a due date (no net days) is never overdue:
		// the store's credit control (account.Terms.Overdue) holds only
		// for invoices past a due date.
		if !d.Due.IsZero() && on.After(d.Due.AddDate(0, 0, grace)) {
			return true
		}
	}
	return false
}

// check compares the subscription with what a check step expects: its
// state (active, see knows) and its period [PeriodStart, PeriodEnd].
func (p *player) check(st *Step) error {
	var wrong []string
	if st.Subscription != "" {
		state := "none: nothing ordered"
		if p.sub != nil {
			state = "active"
		}
		if state != st.Subscription {
			wrong = append(wrong, fmt.Sprintf("subscription %s, want %s", state, st.Subscription))
		}
	}
	if st.Period != nil {
		switch {
		case p.sub == nil:
			wrong = append(wrong, fmt.Sprintf("no subscription, want period [%s, %s]", st.Period[0], st.Period[1]))
		case !p.sub.PeriodStart.Equal(st.Period[0].Time) || !p.sub.PeriodEnd.Equal(st.Period[1].Time):
			wrong = append(wrong, fmt.Sprintf("period [%s, %s], want [%s, %s]", p.sub.PeriodStart.Format(time.DateOnly),
				p.sub.PeriodEnd.Format(time.DateOnly), st.Period[0], st.Period[1]))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("check: %s", strings.Join(wrong, "; "))
	}
	return nil
}

// endsTrialUnconverted reports whether billing on day on would end a free
// trial whose period converts to no paid period, which billing refuses.
func (p *player) endsTrialUnconverted(on time.Time) bool {
	if p.sub == nil || on.Before(p.sub.PeriodEnd) {
		return false
	}
	pe, ok := p.sub.Plan.Period(p.sub.Period)
	return (p.sub.Trial || (ok && pe.Trial)) && (!ok || pe.ConvertsTo == "")
}

// read records a usage reading of the subscription.
func (p *player) read(st *Step) error {
	if st.Value == nil {
		return fmt.Errorf("usage of %q without a value", st.Resource)
	}
	p.readings = append(p.readings, billing.Reading{Resource: st.Resource, On: st.On.Time, Value: st.Value.Decimal, Class: p.classes[st.Resource]})
	return nil
}

// bill runs the daily billing of day on for the subscription: every period
// closed by that day is billed, the customer's invoice first, then each
// tier's invoice to the tier below, up to the provider (rule 9).
func (p *player) bill(j int, on time.Time) error {
	retail := p.terms
	retail.Tax = p.tax()
	for p.sub != nil {
		b, err := billing.Due(p.sub, p.readings, on, retail)
		if err != nil {
			return err
		}
		if b.Closed.From.IsZero() {
			return nil
		}
		var tiers []*order.Quote
		for i := 1; i < len(p.chain); i++ {
			s := p.sub.Clone()
			s.Plan = p.chain[i]
			if s.Pending != nil && p.pendingChain != nil {
				s.Pending.Plan = p.pendingChain[i]
			}
			tb, err := billing.Due(s, p.readings, on, p.terms)
			if err != nil {
				return fmt.Errorf("tier %d (plan %q): %w", i, p.chain[i].Key, err)
			}
			if tb.Invoice != nil {
				tiers = append(tiers, tb.Invoice)
			} else {
				tiers = append(tiers, &order.Quote{})
			}
		}
		if p.sub.Pending != nil && b.Subscription.Pending == nil && p.pendingChain != nil {
			p.chain, p.pendingChain = p.pendingChain, nil
		}
		p.sub = b.Subscription
		if b.Invoice != nil {
			p.issue(j, on, b.Invoice, tiers)
		} else {
			p.issue(j, on, &order.Quote{}, tiers)
		}
	}
	return nil
}

type player struct {
	s        *Scenario
	m        *Market
	res      *Result
	customer *Customer
	terms    order.Terms

	sub           *order.Subscription
	cancelled     bool // the subscription was cancelled (sub is nil)
	seller, buyer string
	chain         order.Chain // the subscription's plan and its sources
	// pendingChain is the chain of the plan of a change waiting for the
	// next billing date.
	pendingChain order.Chain
	readings     []billing.Reading
	classes      map[string]catalog.Class // resource type key → class
}

func (p *player) play(j int, st *Step) error {
	retail := p.terms
	retail.Tax = p.tax()
	switch st.Do {
	case Order:
		p.buyer = Buyer
		if st.As != "" {
			p.buyer = st.As
		}
		p.seller = p.m.Parent[p.buyer]
		chain, err := p.m.Chain(p.seller, st.Plan)
		if err != nil {
			return err
		}
		key, err := PeriodKey(st.Duration)
		if err != nil {
			return err
		}
		req := order.NewRequest{On: st.On.Time, Period: key, Resources: st.Resources, ConfirmZero: st.ConfirmZero}
		q, err := order.QuoteNew(chain[0], req, retail)
		if err != nil {
			return err
		}
		tiers, err := order.WholesaleNew(chain, req, p.terms)
		if err != nil {
			return err
		}
		p.sub, p.chain, p.cancelled = q.Subscription, chain, false
		p.issue(j, st.On.Time, q, tiers)
	case Change:
		if p.sub == nil {
			return fmt.Errorf("no subscription to change")
		}
		req := order.ChangeRequest{On: st.On.Time, Resources: st.Resources}
		var to order.Chain
		if st.To != "" {
			var err error
			if to, err = p.m.Chain(p.seller, st.To); err != nil {
				return err
			}
			req.Plan = to[0]
		}
		q, err := order.QuoteChange(p.sub, req, retail)
		if err != nil {
			return err
		}
		tiers, err := order.WholesaleChange(p.sub, p.chain, to, req, p.terms)
		if err != nil {
			return err
		}
		p.sub = q.Subscription
		p.pendingChain = nil
		switch {
		case to != nil && p.sub.Pending == nil:
			p.chain = to
		case to != nil:
			p.pendingChain = to
		}
		p.issue(j, st.On.Time, q, tiers)
	case Cancel:
		if p.sub == nil {
			return fmt.Errorf("no subscription to cancel")
		}
		q, err := order.QuoteCancel(p.sub, st.On.Time, retail)
		if err != nil {
			return err
		}
		tiers, err := order.WholesaleCancel(p.sub, p.chain, st.On.Time, p.terms)
		if err != nil {
			return err
		}
		p.sub, p.cancelled = nil, true
		p.issue(j, st.On.Time, q, tiers)
	}
	return nil
}

// tax is the retail sale's tax: the vendor's rate for the customer's
// country, or reverse charge.
func (p *player) tax() order.TaxRule {
	v := p.s.Vendor
	if v == nil || p.customer == nil {
		return order.TaxRule{}
	}
	rates := map[string]decimal.Decimal{}
	for c, r := range v.Tax {
		rates[c] = r.Decimal
	}
	return order.TaxFor(v.Country, rates, order.Buyer{Country: p.customer.Country, VATID: p.customer.VATID})
}

// issue turns the retail quote and the tiers' quotes into documents, in
// issue order: the customer's first, then each tier up to the provider.
func (p *player) issue(j int, on time.Time, q *order.Quote, tiers []*order.Quote) {
	due := time.Time{}
	if p.customer != nil && p.customer.Terms != nil && p.customer.Terms.NetDays != nil {
		due = on.AddDate(0, 0, *p.customer.Terms.NetDays)
	}
	p.add(j, on, q, p.seller, p.buyer, due)
	below := p.seller
	for _, tq := range tiers {
		above := p.m.Parent[below]
		p.add(j, on, tq, above, below, time.Time{})
		below = above
	}
}

func (p *player) add(j int, on time.Time, q *order.Quote, from, to string, due time.Time) {
	if q.Empty() {
		return // rule 8: a document whose lines are all zero is not issued
	}
	d := Issued{On: on, Type: "invoice", ReverseCharge: q.ReverseCharge, Currency: q.Currency, Lines: q.Lines, Total: q.Total, Step: j}
	if q.Total < 0 {
		d.Type = "credit_memo"
	} else {
		d.Due = due
	}
	if p.m.Tiered {
		d.From, d.To = from, to
	}
	p.res.Documents = append(p.res.Documents, d)
}
