package order

import (
	"errors"
	"strings"

	"github.com/marketplane/marketplane"
)

// Reasons say why a field of an order was refused, in a form programs can
// match (the golden scenarios expect them, the API passes them on). An order
// error is a *marketplane.Error with code EINVALID whose field messages read
// "reason: explanation", e.g.
//
//	resources.seat: below_minimum: at least 2 units (asked for 1)
//
// FieldReason extracts the reason.
const (
	ReasonUnknownPeriod   = "unknown_period"   // no such period in the plan
	ReasonUnknownResource = "unknown_resource" // no such rate in the plan (or not in the chosen period)
	ReasonBelowMinimum    = "below_minimum"    // fewer units than the rate's minimum, or negative
	ReasonAboveMaximum    = "above_maximum"    // more units than the rate's maximum
	ReasonRequired        = "required"         // confirm_zero: an order for nothing that is not a trial
	ReasonNotAllowed      = "not_allowed"      // a plan change outside the upgrade and downgrade paths
	ReasonInTrial         = "in_trial"         // a plan change during a free trial
	ReasonOutsidePeriod   = "outside_period"   // a change dated outside the current period
	ReasonNoChange        = "no_change"        // a change that changes nothing
	ReasonUnpriced        = "unpriced"         // a plan held back until its owner prices it
	ReasonUnknownCurrency = "unknown_currency" // a currency without a known minor unit
	ReasonCurrency        = "currency_mismatch"
	ReasonTooLarge        = "too_large" // an amount beyond what Micros holds
)

// problems collects field errors with their reasons.
type problems struct{ f marketplane.FieldErrors }

func (p *problems) add(field, reason, msg string) { p.f.Add(field, reason+": "+msg) }

func (p *problems) err() error { return p.f.Err("order") }

// invalid returns an order error with one field.
func invalid(field, reason, msg string) error {
	var p problems
	p.add(field, reason, msg)
	return p.err()
}

// FieldReason returns the reason an order error gives for field ("" and
// false when err is not such an error or has no message for the field).
func FieldReason(err error, field string) (string, bool) {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		return "", false
	}
	msg, ok := e.Fields[field]
	if !ok {
		return "", false
	}
	reason, _, found := strings.Cut(msg, ": ")
	if !found {
		return "", false
	}
	return reason, true
}
