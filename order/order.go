// Package order prices orders: a new subscription (SO), a change of plan or
// of resource amounts (CH) and a cancellation (CL), for the vendor and for
// every tier above it. It is pure: it takes plans, subscription state and a
// date, and returns a Quote whose lines are what the order's document will
// say, to the cent. The same code prices the quote a customer sees and the
// order that is placed. Storage, payment and provisioning build on it.
//
// The rules are those of the golden scenarios (../shared/scenarios/README.md):
//
//  1. Dates are calendar days in the vendor's time zone; a period is the
//     half-open range [start, end). A period of N months keeps the anchor day
//     of the subscription's start (31 January → 28 February → 31 March):
//     period k of a subscription anchored at S ends at S + k×N months, never
//     at the previous end + N months.
//  2. For a change on day C inside [start, end), the days left are end − C
//     (C counts) and the period has end − start days.
//  3. A prorated amount is price × days left / period days, computed exactly
//     and rounded once, on its line.
//  4. Every line is rounded on its own to the currency's minor unit, halves
//     away from zero; a total is the sum of its rounded lines; tax is
//     computed per line from the rounded line amount and rounded per line.
//  5. A change produces two lines per changed price: a credit for the unused
//     part of the old price (negative) and a charge for the new price over
//     the days left, each rounded.
//  6. Lines of zero are left out; an order whose lines are all zero issues no
//     document and, unless it is a trial, needs an explicit confirmation.
package order

import (
	"fmt"
	"maps"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// Kind is what a document line charges or credits. The names are those of
// the golden scenarios.
type Kind string

// Line kinds.
const (
	Setup        Kind = "setup"         // a one-time fee: the plan's, or per unit of a resource above the included amount
	Recurring    Kind = "recurring"     // the plan's fee for a period
	ChangeCredit Kind = "change-credit" // the unused part of the old plan's fee, on a change (negative)
	ChangeCharge Kind = "change-charge" // the new plan's fee over the days left, on a change
	Resource     Kind = "resource"      // units above the included amount × the unit's fee for (part of) a period
	Overuse      Kind = "overuse"       // usage above the included amount, in arrears (billing)
	Usage        Kind = "usage"         // pay-as-you-go usage (billing)
	Refund       Kind = "refund"        // money given back on a cancellation (negative)
	Tax          Kind = "tax"           // tax on the other lines
	// Cancellation is the period's cancellation fee. The golden scenarios
	// name no such line; the catalog has the fee, so a cancellation charges
	// it under this name.
	Cancellation Kind = "cancellation"
)

// Line is one line of a quote and of the document issued for it.
type Line struct {
	What Kind `json:"what"`
	// Resource is the rate key of a resource line ("" for plan fees).
	Resource string `json:"resource,omitempty"`
	// Quantity is the number of units charged (resource lines: units above
	// the included amount; a credit for units carries them negative); zero
	// on lines that are not per unit.
	Quantity decimal.Decimal `json:"quantity,omitzero"`
	// From and To are the days the line pays for, [From, To); zero on
	// one-time lines (setup, a full refund, tax).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Amount is rounded to the currency's minor unit.
	Amount money.Micros `json:"amount"`
	// TaxRate is the tax rate in percent, on tax lines ("19" for 19 %).
	TaxRate decimal.Decimal `json:"tax_rate,omitzero"`
	// Description is a plain English text for the line; localized texts
	// from the catalog come with documents.
	Description string `json:"description"`
}

// Quote is what an order costs: its lines and total, and the subscription
// the order leaves behind.
type Quote struct {
	Currency string       `json:"currency"`
	Lines    []Line       `json:"lines"`
	Total    money.Micros `json:"total"`
	// ReverseCharge marks a sale on which the customer accounts for the tax
	// (a business abroad with a VAT id): no tax line, a note on the document.
	ReverseCharge bool `json:"reverse_charge,omitempty"`
	// EffectiveOn is the day the order takes effect: the order's day, or
	// the next billing date for a deferred downgrade.
	EffectiveOn time.Time `json:"effective_on"`
	// Subscription is the state after the order (after a deferred
	// downgrade: the current state with the change pending); nil after a
	// cancellation.
	Subscription *Subscription `json:"-"`
}

// Empty reports whether the quote has no lines: its order issues no
// document (golden rule 8).
func (q *Quote) Empty() bool { return len(q.Lines) == 0 }

// Subscription is the pure state of a subscription that pricing needs.
type Subscription struct {
	// Plan is the plan whose prices apply: the current plan, or, for a
	// subscription with frozen prices, the snapshot taken when it was sold.
	Plan *catalog.Plan
	// Period is the key of the subscription period ("1m", "12m").
	Period string
	// Start is the first day of the subscription.
	Start time.Time
	// Anchor is the day periods are counted from (rule 1): Start, or the
	// day a trial converted to a paid period.
	Anchor time.Time
	// PeriodStart and PeriodEnd are the current billing period, [start, end).
	PeriodStart, PeriodEnd time.Time
	// Resources are the amounts by rate key, included units counted (8
	// mailboxes of which 5 are included), catalog.Unlimited for unlimited.
	Resources map[string]int64
	// Trial marks a subscription in its free trial period.
	Trial bool
	// FrozenPrices says that Plan is the snapshot of the sale, not the
	// current plan: renewals keep the prices the customer bought at.
	FrozenPrices bool
	// Pending is a change waiting for the next billing date (a deferred
	// downgrade).
	Pending *Pending
}

// Pending is a change that takes effect on a later day.
type Pending struct {
	On        time.Time
	Plan      *catalog.Plan
	Resources map[string]int64
}

// Clone returns a copy of s that shares its plans (plans are not changed by
// pricing) but not its maps.
func (s *Subscription) Clone() *Subscription {
	c := *s
	c.Resources = maps.Clone(s.Resources)
	if s.Pending != nil {
		p := *s.Pending
		p.Resources = maps.Clone(s.Pending.Resources)
		c.Pending = &p
	}
	return &c
}

// Proration is how a vendor charges changes inside a period.
type Proration string

// Proration modes.
const (
	// ProrateNow charges and credits the days left at once (the default).
	ProrateNow Proration = "prorate"
	// NoProration applies the change at once and charges nothing for the
	// days left: the new prices start with the next period. One-time setup
	// fees of added units are still charged.
	NoProration Proration = "none"
)

// DowngradeTiming is when a downgrade takes effect: a vendor setting.
type DowngradeTiming string

// Downgrade timings.
const (
	// DowngradeNow changes the subscription at once and credits the
	// difference for the days left (the default).
	DowngradeNow DowngradeTiming = "now"
	// DowngradeNextBillingDate keeps the subscription as it is until the end
	// of the period; the change waits in Subscription.Pending and nothing is
	// credited.
	DowngradeNextBillingDate DowngradeTiming = "next_billing_date"
)

// Terms are the vendor's settings and the sale's tax that pricing follows.
// The zero value prices in UTC, without tax, prorating changes at once.
type Terms struct {
	// Location is the vendor's time zone: an order's time is turned into
	// the vendor's calendar day. nil means UTC.
	Location  *time.Location
	Tax       TaxRule
	Proration Proration
	Downgrade DowngradeTiming
}

func (t Terms) day(on time.Time) time.Time {
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	return Day(on, loc)
}

func (t Terms) check(p *problems) {
	switch t.Proration {
	case "", ProrateNow, NoProration:
	default:
		p.add("terms.proration", "unknown_mode", fmt.Sprintf("must be %q or %q", ProrateNow, NoProration))
	}
	switch t.Downgrade {
	case "", DowngradeNow, DowngradeNextBillingDate:
	default:
		p.add("terms.downgrade", "unknown_mode", fmt.Sprintf("must be %q or %q", DowngradeNow, DowngradeNextBillingDate))
	}
}
