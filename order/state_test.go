package order

import (
	"testing"

	"github.com/marketplane/marketplane"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	const (
		ok       = ""
		conflict = marketplane.ECONFLICT
	)
	cases := []struct {
		from, to Status
		code     string
	}{
		// The way through.
		{StatusPlaced, StatusWaitingApproval, ok},
		{StatusPlaced, StatusWaitingPayment, ok},
		{StatusPlaced, StatusProvisioning, ok},
		{StatusWaitingApproval, StatusWaitingPayment, ok},
		{StatusWaitingApproval, StatusProvisioning, ok},
		{StatusWaitingPayment, StatusProvisioning, ok},
		{StatusProvisioning, StatusCompleted, ok},
		// Failure, retry, cancellation by staff.
		{StatusProvisioning, StatusProvisioningFailed, ok},
		{StatusProvisioningFailed, StatusProvisioning, ok},
		{StatusProvisioningFailed, StatusCancelled, ok},
		{StatusPlaced, StatusCancelled, ok},
		{StatusWaitingApproval, StatusCancelled, ok},
		{StatusWaitingPayment, StatusCancelled, ok},
		// Refused.
		{StatusCancelled, StatusCompleted, conflict},    // complete a cancelled order
		{StatusCompleted, StatusProvisioning, conflict}, // retry a completed one
		{StatusCompleted, StatusCancelled, conflict},
		{StatusCancelled, StatusProvisioning, conflict},
		{StatusProvisioning, StatusCancelled, conflict}, // the connector may be creating it now
		{StatusProvisioning, StatusPlaced, conflict},
		{StatusWaitingPayment, StatusWaitingApproval, conflict},
		{StatusPlaced, StatusCompleted, conflict}, // never without provisioning
		{StatusProvisioningFailed, StatusCompleted, conflict},
		{StatusProvisioning, StatusProvisioning, conflict},
		{StatusPlaced, "shipped", marketplane.EINVALID},
	}
	for _, c := range cases {
		err := Transition(c.from, c.to)
		if got := marketplane.ErrorCode(err); got != c.code {
			t.Errorf("%s → %s: %q (%v), want %q", c.from, c.to, got, err, c.code)
		}
		if (c.code == ok) != c.from.CanBecome(c.to) {
			t.Errorf("%s → %s: CanBecome disagrees", c.from, c.to)
		}
	}
	if r, _ := FieldReason(Transition(StatusPlaced, "shipped"), "status"); r != "unknown_status" {
		t.Errorf("unknown status reason %q", r)
	}
	for s, next := range transitions {
		if s.Final() != (len(next) == 0) {
			t.Errorf("%s: final %v but %d ways out", s, s.Final(), len(next))
		}
		for _, n := range next {
			if !n.Valid() {
				t.Errorf("%s → unknown %s", s, n)
			}
		}
	}
	for s, want := range map[Status]StatusReason{StatusWaitingPayment: WaitingForPayment, StatusWaitingApproval: WaitingForApproval,
		StatusProvisioningFailed: ProvisioningFailed, StatusCompleted: "", StatusProvisioning: ""} {
		if got := s.DefaultReason(); got != want {
			t.Errorf("%s: default reason %q, want %q", s, got, want)
		}
	}
	for _, ty := range []Type{SO, CH, RN, CL} {
		if !ty.Valid() {
			t.Errorf("%s invalid", ty)
		}
	}
	if Type("XX").Valid() {
		t.Error("XX is a type")
	}
}
