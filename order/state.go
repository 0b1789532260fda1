package order

import (
	"github.com/marketplane/marketplane"
)

// Type is the type of an order.
type Type string

// Order types.
const (
	SO Type = "SO" // sales: a new subscription
	CH Type = "CH" // change: upgrade, downgrade or new resource limits
	RN Type = "RN" // renewal (billing)
	CL Type = "CL" // cancellation
)

// Valid reports whether t is a known order type.
func (t Type) Valid() bool {
	switch t {
	case SO, CH, RN, CL:
		return true
	}
	return false
}

// Status is where an order stands in its state machine.
type Status string

// Order statuses. An order ends completed or cancelled; every other status
// is open.
const (
	StatusPlaced             Status = "placed"
	StatusWaitingApproval    Status = "waiting_approval" // the vendor approves its orders by hand
	StatusWaitingPayment     Status = "waiting_payment"  // the account's terms want payment first
	StatusProvisioning       Status = "provisioning"     // a task makes the change at the connector
	StatusCompleted          Status = "completed"
	StatusProvisioningFailed Status = "provisioning_failed" // staff retry or cancel it
	StatusCancelled          Status = "cancelled"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Final reports whether s ends the order: completed or cancelled.
func (s Status) Final() bool { return s == StatusCompleted || s == StatusCancelled }

// transitions is the order state machine:
//
//	placed → (waiting_approval, if the vendor requires it) → (waiting_payment,
//	if the account's terms say so) → provisioning → completed
//
//	provisioning → provisioning_failed → provisioning (staff retry)
//	placed, waiting_*, provisioning_failed → cancelled (staff, or the
//	customer before provisioning starts)
//
// An order being provisioned cannot be cancelled: the connector may be
// creating the service at that moment. It completes or fails first.
var transitions = map[Status][]Status{
	StatusPlaced:             {StatusWaitingApproval, StatusWaitingPayment, StatusProvisioning, StatusCancelled},
	StatusWaitingApproval:    {StatusWaitingPayment, StatusProvisioning, StatusCancelled},
	StatusWaitingPayment:     {StatusProvisioning, StatusCancelled},
	StatusProvisioning:       {StatusCompleted, StatusProvisioningFailed},
	StatusProvisioningFailed: {StatusProvisioning, StatusCancelled},
	StatusCompleted:          {},
	StatusCancelled:          {},
}

// CanBecome reports whether an order in status s may move to t.
func (s Status) CanBecome(t Status) bool {
	for _, x := range transitions[s] {
		if x == t {
			return true
		}
	}
	return false
}

// Transition checks the move from → to: nil, EINVALID for an unknown status,
// or ECONFLICT with a message staff can act on.
func Transition(from, to Status) error {
	if !to.Valid() {
		return invalid("status", "unknown_status", "must be placed, waiting_approval, waiting_payment, provisioning, completed, provisioning_failed or cancelled")
	}
	if from.CanBecome(to) {
		return nil
	}
	if from.Final() {
		return marketplane.Errorf(marketplane.ECONFLICT, "the order is %s already; it cannot become %s", from, to)
	}
	return marketplane.Errorf(marketplane.ECONFLICT, "an order in status %s cannot become %s", from, to)
}

// StatusReason is why an order stopped short of completion, as a code
// programs and staff act on; Message beside it says more in words.
type StatusReason string

// Reasons of stopped orders.
const (
	WaitingForPayment    StatusReason = "waiting_for_payment"
	WaitingForApproval   StatusReason = "waiting_for_approval"
	ProvisioningFailed   StatusReason = "provisioning_failed"    // the connector refused or failed; Message has its words
	ManualActionRequired StatusReason = "manual_action_required" // staff must act outside Marketplane first
	CancelledByStaff     StatusReason = "cancelled_by_staff"
)

// DefaultReason is the reason an order in status s carries unless told a
// more precise one: waiting statuses name what they wait for, a failed
// provisioning says so; other statuses carry none.
func (s Status) DefaultReason() StatusReason {
	switch s {
	case StatusWaitingApproval:
		return WaitingForApproval
	case StatusWaitingPayment:
		return WaitingForPayment
	case StatusProvisioningFailed:
		return ProvisioningFailed
	}
	return ""
}
