package subscription

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane"
)

func TestTransitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to Status
		code     string
	}{
		{Pending, Active, ""},
		{Pending, Terminated, ""},
		{Pending, Suspended, marketplane.ECONFLICT},
		{Pending, Graced, marketplane.ECONFLICT},
		{Active, Suspended, ""},
		{Active, Graced, ""},
		{Active, Terminated, ""},
		{Active, Pending, marketplane.ECONFLICT},
		{Active, Active, marketplane.ECONFLICT},
		{Suspended, Active, ""},
		{Suspended, Terminated, ""},
		{Suspended, Graced, marketplane.ECONFLICT},
		{Graced, Active, ""},
		{Graced, Suspended, ""},
		{Graced, Terminated, ""},
		{Terminated, Active, ""},
		{Terminated, Suspended, marketplane.ECONFLICT},
		{Terminated, Pending, marketplane.ECONFLICT},
		{Active, "expired", marketplane.EINVALID},
	}
	for _, c := range cases {
		err := Transition(c.from, c.to)
		if got := marketplane.ErrorCode(err); got != c.code {
			t.Errorf("%s → %s: %q (%v), want %q", c.from, c.to, got, err, c.code)
		}
		if (c.code == "") != c.from.CanBecome(c.to) {
			t.Errorf("%s → %s: CanBecome disagrees with Transition", c.from, c.to)
		}
	}
	for s := range transitions {
		if !s.Valid() {
			t.Errorf("transition table names unknown status %q", s)
		}
		for _, to := range transitions[s] {
			if to == Pending {
				t.Errorf("%s may become pending; nothing goes back to pending", s)
			}
		}
	}
}

func TestCheckAutoRenew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode  AutoRenew
		days  int
		field string
	}{
		{RenewOff, 0, ""},
		{RenewOff, 3, "renew_days"},
		{RenewBeforeExpiration, 0, ""},
		{RenewBeforeExpiration, 7, ""},
		{RenewBeforeExpiration, 365, ""},
		{RenewBeforeExpiration, 366, "renew_days"},
		{RenewBeforeExpiration, -1, "renew_days"},
		{"sometimes", 0, "auto_renew"},
	}
	for _, c := range cases {
		err := CheckAutoRenew(c.mode, c.days)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s %d: %v", c.mode, c.days, err)
			}
			continue
		}
		e, ok := err.(*marketplane.Error)
		if !ok || e.Code != marketplane.EINVALID || e.Fields[c.field] == "" {
			t.Errorf("%s %d: %v, want a message for %s", c.mode, c.days, err, c.field)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := func() *Subscription {
		return &Subscription{CustomerID: 5, VendorID: 4, PlanID: 9, Period: "1m", Status: Active,
			Start: day("2027-01-10"), Anchor: day("2027-01-10"), PeriodStart: day("2027-01-10"), PeriodEnd: day("2027-02-10"),
			AutoRenew: RenewBeforeExpiration, Resources: map[string]int64{"mailbox": 8, "storage": -1}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("a good subscription: %v", err)
	}
	cases := []struct {
		about string
		edit  func(s *Subscription)
		field string
	}{
		{"unknown status", func(s *Subscription) { s.Status = "lost" }, "status"},
		{"no period", func(s *Subscription) { s.Period = "" }, "period"},
		{"no plan", func(s *Subscription) { s.PlanID = 0 }, "plan_id"},
		{"period ends at its start", func(s *Subscription) { s.PeriodEnd = s.PeriodStart }, "period_end"},
		{"period before the start", func(s *Subscription) { s.PeriodStart = day("2027-01-01") }, "period_start"},
		{"limit below unlimited", func(s *Subscription) { s.Resources["mailbox"] = -2 }, "resources.mailbox"},
		{"auto-renew off with days", func(s *Subscription) { s.AutoRenew, s.RenewDays = RenewOff, 5 }, "renew_days"},
		{"pending change without a plan", func(s *Subscription) { s.Pending = &PendingChange{On: s.PeriodEnd} }, "pending.plan_id"},
	}
	for _, c := range cases {
		s := good()
		c.edit(s)
		e, ok := s.Validate().(*marketplane.Error)
		if !ok || e.Fields[c.field] == "" {
			t.Errorf("%s: %v, want a message for %s", c.about, e, c.field)
		}
	}
}
