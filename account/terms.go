package account

import (
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
)

// HoldMode is how credit control puts a buyer on credit hold.
type HoldMode string

// Hold modes.
const (
	// HoldAutomatic: the daily billing run puts the buyer on hold when an
	// invoice is overdue beyond the grace days (or, with
	// Terms.HoldOnCreditLimit, when it owes more than its credit limit),
	// and a payment that clears the debt releases it. The default.
	HoldAutomatic HoldMode = "automatic"
	// HoldManual: only staff put the buyer on hold and release it.
	HoldManual HoldMode = "manual"
)

// HoldAction is what a credit hold does to the buyer's services.
type HoldAction string

// Hold actions.
const (
	// BlockOrders refuses new orders and leaves every service running.
	BlockOrders HoldAction = "block_orders"
	// SuspendAll refuses new orders and suspends every active service of
	// the buyer through its connector. The default.
	SuspendAll HoldAction = "suspend_all"
	// SuspendUnpaid refuses new orders and suspends only the services
	// whose current period is billed on an invoice still open: services
	// paid in advance keep running.
	SuspendUnpaid HoldAction = "suspend_unpaid"
)

// Terms are the payment terms a vendor gives one buyer (a customer or a
// reseller below it). The net days of invoices are the account's
// PaymentTermsDays and the credit limit its CreditLimit; Terms holds the
// rest. The zero value is the default: invoices charged from prepaid
// funds at once, automatic hold the day after the due date, services
// suspended on hold, pay-as-you-go suspended the day the balance runs out.
type Terms struct {
	// GraceDays are the days after an invoice's due date before an unpaid
	// invoice puts the buyer on hold: due on the 16th with 3 grace days,
	// the hold comes on the 20th.
	GraceDays int `json:"grace_days,omitempty"`
	// ChargeAfterDays delays the automatic charge of an invoice from the
	// buyer's prepaid funds to this many days after its issue (a delayed
	// payment schedule); 0 charges at once.
	ChargeAfterDays int `json:"charge_after_days,omitempty"`
	// Hold is automatic (default) or manual.
	Hold HoldMode `json:"hold,omitempty"`
	// OnHold is what a hold does (default SuspendAll).
	OnHold HoldAction `json:"on_hold,omitempty"`
	// HoldOnCreditLimit also puts the buyer on hold when its balance goes
	// beyond its credit limit, not only when an invoice is overdue.
	HoldOnCreditLimit bool `json:"hold_on_credit_limit,omitempty"`
	// SuspendCustomers, for a reseller buyer, makes its hold also suspend
	// the services of every customer below it (their subscriptions come
	// back with the release); by default a reseller's customers keep
	// their running services.
	SuspendCustomers bool `json:"suspend_customers,omitempty"`
	// PAYGSuspensionDelayDays are the days a pay-as-you-go subscription
	// keeps running after the buyer's available balance no longer covers
	// its usage; a top-up in time cancels the suspension.
	PAYGSuspensionDelayDays int `json:"payg_suspension_delay_days,omitempty"`
}

// Mode is t's hold mode, with the default.
func (t Terms) Mode() HoldMode {
	if t.Hold == "" {
		return HoldAutomatic
	}
	return t.Hold
}

// Action is what a hold does under t, with the default.
func (t Terms) Action() HoldAction {
	if t.OnHold == "" {
		return SuspendAll
	}
	return t.OnHold
}

// ChargeOn is the day an invoice issued on the given day may be charged
// from prepaid funds.
func (t Terms) ChargeOn(issued time.Time) time.Time {
	return issued.AddDate(0, 0, t.ChargeAfterDays)
}

// Overdue reports whether an invoice due on due is overdue beyond the
// grace days on day on (both calendar days at the same midnight). An
// invoice without a due date is never overdue.
func (t Terms) Overdue(due, on time.Time) bool {
	if due.IsZero() {
		return false
	}
	return on.After(due.AddDate(0, 0, t.GraceDays))
}

// Validate checks t, with netDays the account's payment terms days: the
// delayed charge falls between issue and due date.
func (t Terms) Validate(netDays int) error {
	var f marketplane.FieldErrors
	if t.GraceDays < 0 || t.GraceDays > 365 {
		f.Add("grace_days", "must be between 0 and 365")
	}
	if t.ChargeAfterDays < 0 || t.ChargeAfterDays > 365 {
		f.Add("charge_after_days", "must be between 0 and 365")
	} else if netDays > 0 && t.ChargeAfterDays > netDays {
		f.Add("charge_after_days", fmt.Sprintf("must not be after the due date (net %d days)", netDays))
	}
	switch t.Hold {
	case "", HoldAutomatic, HoldManual:
	default:
		f.Add("hold", "must be automatic or manual")
	}
	switch t.OnHold {
	case "", BlockOrders, SuspendAll, SuspendUnpaid:
	default:
		f.Add("on_hold", "must be block_orders, suspend_all or suspend_unpaid")
	}
	if t.PAYGSuspensionDelayDays < 0 || t.PAYGSuspensionDelayDays > 365 {
		f.Add("payg_suspension_delay_days", "must be between 0 and 365")
	}
	return f.Err("terms")
}
