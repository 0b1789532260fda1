// Package subscription holds what a customer has bought: a subscription to
// a plan, its lifecycle (pending → active → suspended, graced, terminated)
// and the rules of its fields. It is pure: the store keeps subscriptions and
// the orders that change them; provisioning makes each change real at the
// connector. A subscription never changes status straight in the database:
// its lifecycle changes go through an order (new, change, cancel) or a
// status change with its provisioning task (suspend, resume).
package subscription

import (
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
)

// Status is where a subscription stands in its lifecycle.
type Status string

// Subscription statuses.
const (
	// Pending: sold, its service not provisioned yet (its sales order is
	// open).
	Pending Status = "pending"
	// Active: in service.
	Active Status = "active"
	// Suspended: the service exists but the customer cannot use it (credit
	// hold, staff, or the hold days after an unrenewed expiry).
	Suspended Status = "suspended"
	// Graced: expired without renewal but still running for the grace
	// days.
	Graced Status = "graced"
	// Terminated: cancelled or expired for good. It may be restored while
	// its service has not been destroyed.
	Terminated Status = "terminated"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Pending, Active, Suspended, Graced, Terminated:
		return true
	}
	return false
}

// transitions lists, per status, the statuses it may become:
//
//	pending    → active (provisioned), terminated (its sales order cancelled)
//	active     → suspended (hold), graced (expired unrenewed), terminated (cancelled)
//	suspended  → active (released), terminated (cancelled, or the hold days are over)
//	graced     → active (renewed), suspended (the grace days are over), terminated (cancelled)
//	terminated → active (restored while its service exists)
//
// Nothing becomes pending again: pending is only the start.
var transitions = map[Status][]Status{
	Pending:    {Active, Terminated},
	Active:     {Suspended, Graced, Terminated},
	Suspended:  {Active, Terminated},
	Graced:     {Active, Suspended, Terminated},
	Terminated: {Active},
}

// CanBecome reports whether a subscription in status s may move to t.
func (s Status) CanBecome(t Status) bool {
	for _, x := range transitions[s] {
		if x == t {
			return true
		}
	}
	return false
}

// Transition checks the move from → to: nil, EINVALID for an unknown
// status, or ECONFLICT saying why the move is refused.
func Transition(from, to Status) error {
	if !to.Valid() {
		return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid subscription status",
			Fields: map[string]string{"status": "must be pending, active, suspended, graced or terminated"}}
	}
	if !from.CanBecome(to) {
		return marketplane.Errorf(marketplane.ECONFLICT, "a %s subscription cannot become %s", from, to)
	}
	return nil
}

// Reasons say why a subscription left active; staff and the panels show
// them, programs match them.
const (
	ReasonCreditHold     = "credit_hold"     // its account went on credit hold
	ReasonStaff          = "staff"           // suspended by the vendor's staff
	ReasonExpired        = "expired"         // not renewed (graced, then suspended, then terminated)
	ReasonCancelled      = "cancelled"       // cancelled by a CL order
	ReasonOrderCancelled = "order_cancelled" // its sales order was cancelled before provisioning finished
	ReasonPAYGBalance    = "payg_balance"    // pay-as-you-go usage outran the account's balance for its delay days
	ReasonResellerHold   = "reseller_hold"   // a reseller above the customer went on credit hold, and its parent suspends what it sold
)

// AutoRenew is how a subscription renews.
type AutoRenew string

// Auto-renew modes.
const (
	// RenewOff: the subscription expires at its period's end unless
	// renewed by hand.
	RenewOff AutoRenew = "off"
	// RenewBeforeExpiration: renewed automatically RenewDays days before
	// the period ends (0: on the day it ends).
	RenewBeforeExpiration AutoRenew = "before_expiration"
)

// MaxRenewDays bounds how early a subscription may renew: a year.
const MaxRenewDays = 365

// CheckAutoRenew checks an auto-renew setting: a known mode, and days
// between 0 and MaxRenewDays, 0 when renewal is off.
func CheckAutoRenew(mode AutoRenew, days int) error {
	var f marketplane.FieldErrors
	checkAutoRenew(&f, mode, days)
	return f.Err("auto-renew")
}

func checkAutoRenew(f *marketplane.FieldErrors, mode AutoRenew, days int) {
	switch mode {
	case RenewOff:
		if days != 0 {
			f.Add("renew_days", "must be 0 when auto-renew is off")
		}
	case RenewBeforeExpiration:
		if days < 0 || days > MaxRenewDays {
			f.Add("renew_days", fmt.Sprintf("must be between 0 and %d", MaxRenewDays))
		}
	default:
		f.Add("auto_renew", "must be off or before_expiration")
	}
}

// Subscription is a customer's subscription to a plan of its vendor.
type Subscription struct {
	ID         int64
	CustomerID int64
	// VendorID is the account that sold it: the customer's parent when it
	// was sold.
	VendorID int64
	PlanID   int64
	// Period is the key of the subscription period ("1m").
	Period string
	Status Status
	// StatusReason says why the subscription is suspended, graced or
	// terminated (the Reason constants); empty when active.
	StatusReason string
	// Start is the first day; Anchor the day periods are counted from.
	// Dates are calendar days in the vendor's time zone, held as midnight
	// UTC (see order.Day).
	Start, Anchor time.Time
	// PeriodStart and PeriodEnd are the current billing period [start, end).
	PeriodStart, PeriodEnd time.Time
	// NextBillingAt is when billing next looks at the subscription.
	NextBillingAt time.Time
	AutoRenew     AutoRenew
	RenewDays     int
	// FrozenPrices keeps the prices of the sale at renewals.
	FrozenPrices bool
	// Resources are the limits by rate key, included units counted;
	// catalog.Unlimited (-1) for no limit.
	Resources map[string]int64
	// Parameters are the service parameters the connector gets.
	Parameters map[string]string
	// Pending is a change waiting for a later day (a deferred downgrade).
	Pending *PendingChange
	// Connector is the name of the connector that provisions the service;
	// TenantID and TenantStatus are the connector's id and last known state
	// of it; Attributes what the customer needs to use it.
	Connector    string
	TenantID     string
	TenantStatus string
	Attributes   map[string]string
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// PendingChange is a change of plan or limits that takes effect On a later
// day (a downgrade that waits for the next billing date).
type PendingChange struct {
	On        time.Time        `json:"on"`
	PlanID    int64            `json:"plan_id"`
	Resources map[string]int64 `json:"resources"`
}

// Live reports whether the subscription's service exists and counts:
// active, suspended or graced.
func (s *Subscription) Live() bool {
	return s.Status == Active || s.Status == Suspended || s.Status == Graced
}

// Validate checks the fields a subscription must hold together: a known
// status, its accounts and plan, a current period that ends after it starts
// and does not start before the subscription, a well-formed auto-renew
// setting, limits of -1 or more, and a plan for a pending change.
func (s *Subscription) Validate() error {
	var f marketplane.FieldErrors
	if !s.Status.Valid() {
		f.Add("status", "must be pending, active, suspended, graced or terminated")
	}
	if s.Period == "" {
		f.Add("period", "is required")
	}
	if s.CustomerID == 0 {
		f.Add("customer_id", "is required")
	}
	if s.VendorID == 0 {
		f.Add("vendor_id", "is required")
	}
	if s.PlanID == 0 {
		f.Add("plan_id", "is required")
	}
	switch {
	case s.Start.IsZero() || s.PeriodStart.IsZero() || s.PeriodEnd.IsZero():
		f.Add("period_end", "the subscription needs a start and a current period")
	case !s.PeriodEnd.After(s.PeriodStart):
		f.Add("period_end", "must be after the period's start")
	case s.PeriodStart.Before(s.Start):
		f.Add("period_start", "must not be before the subscription's start")
	}
	checkAutoRenew(&f, s.AutoRenew, s.RenewDays)
	for k, n := range s.Resources {
		if n < -1 {
			f.Add("resources."+k, "must be -1 (unlimited) or at least 0")
		}
	}
	if s.Pending != nil && s.Pending.PlanID == 0 {
		f.Add("pending.plan_id", "is required")
	}
	return f.Err("subscription")
}
