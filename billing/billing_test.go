package billing

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func usd(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func monthly(n int) catalog.Duration { return catalog.Duration{N: n, Unit: catalog.Month} }

// plan is a USD plan with one period of n months at fee and the given rates.
func plan(key string, model catalog.BillingModel, n int, fee string, per catalog.RecurringPer, rates ...catalog.Rate) *catalog.Plan {
	return &catalog.Plan{Key: key, Currency: "USD", Billing: model,
		Periods: []catalog.Period{{Key: "p", Duration: monthly(n), Recurring: catalog.Price{Amount: usd(fee)}, RecurringPer: per}},
		Rates:   rates}
}

// sub is a subscription to p anchored at anchor, in its period [from, to).
func sub(p *catalog.Plan, anchor, from, to string, res map[string]int64) *order.Subscription {
	return &order.Subscription{Plan: p, Period: "p", Start: day(anchor), Anchor: day(anchor),
		PeriodStart: day(from), PeriodEnd: day(to), Resources: res}
}

func reading(res, on, v string, class catalog.Class) Reading {
	return Reading{Resource: res, On: day(on), Value: decimal.MustParse(v), Class: class}
}

// line renders a line as a person reads it in the golden files.
func line(l order.Line) string {
	s := string(l.What)
	if l.Resource != "" {
		s += " " + l.Resource + " ×" + l.Quantity.String()
	}
	if !l.From.IsZero() {
		s += " [" + l.From.Format(time.DateOnly) + ", " + l.To.Format(time.DateOnly) + ")"
	}
	return s + " " + l.Amount.Format("USD")
}

func TestDue(t *testing.T) {
	t.Parallel()
	disk := catalog.Rate{Key: "disk", Included: 50, Overuse: catalog.Price{Amount: usd("0.10")}}
	hours := catalog.Rate{Key: "vcpu-hours", Overuse: catalog.Price{Amount: usd("0.015")}}
	mailbox := catalog.Rate{Key: "mailbox", Included: 5, Recurring: catalog.Price{Amount: usd("2.00")}}
	basic := plan("basic", catalog.ChargeInAdvance, 1, "12.00", catalog.PerPeriod)
	pro := plan("pro", catalog.ChargeInAdvance, 1, "36.00", catalog.PerPeriod)
	deferred := sub(pro, "2027-03-01", "2027-03-01", "2027-04-01", nil)
	deferred.Pending = &order.Pending{On: day("2027-04-01"), Plan: basic}
	storage := []Reading{
		reading("disk", "2027-07-31", "99", catalog.ClassLimit), // the period before: not this one's
		reading("disk", "2027-08-10", "41", catalog.ClassLimit),
		reading("disk", "2027-08-20", "73.5", catalog.ClassLimit),
		reading("disk", "2027-08-30", "60", catalog.ClassLimit),
		reading("disk", "2027-09-01", "99", catalog.ClassLimit), // the next period's
	}
	tests := []struct {
		name    string
		sub     *order.Subscription
		usage   []Reading
		on      string
		tax     order.TaxRule
		lines   []string // empty: no invoice
		total   string
		periods string // the state after: [start, end)
	}{
		{name: "not due inside the period", sub: sub(basic, "2027-01-15", "2027-01-15", "2027-02-15", nil), on: "2027-02-14",
			periods: "[2027-01-15, 2027-02-15)"},
		{name: "monthly renewal on the first day of the new period", sub: sub(plan("basic", "", 1, "20.00", ""), "2027-01-15", "2027-01-15", "2027-02-15", nil), on: "2027-02-15",
			lines: []string{"recurring [2027-02-15, 2027-03-15) 20.00"}, total: "20.00", periods: "[2027-02-15, 2027-03-15)"},
		{name: "month-end anchor: 28 February renews to 31 March", sub: sub(basic, "2027-01-31", "2027-01-31", "2027-02-28", nil), on: "2027-02-28",
			lines: []string{"recurring [2027-02-28, 2027-03-31) 12.00"}, total: "12.00", periods: "[2027-02-28, 2027-03-31)"},
		{name: "annual priced per month: 12 × 10.00", sub: sub(plan("suite", "", 12, "10.00", catalog.PerMonth), "2027-01-01", "2027-01-01", "2028-01-01", nil), on: "2028-01-01",
			lines: []string{"recurring [2028-01-01, 2029-01-01) 120.00"}, total: "120.00", periods: "[2028-01-01, 2029-01-01)"},
		{name: "paid units: 8 mailboxes, 5 included, 2.00 each", sub: sub(plan("mail", "", 1, "10.00", "", mailbox), "2027-05-01", "2027-05-01", "2027-06-01", map[string]int64{"mailbox": 8}), on: "2027-06-01",
			lines: []string{"recurring [2027-06-01, 2027-07-01) 10.00", "resource mailbox ×3 [2027-06-01, 2027-07-01) 6.00"}, total: "16.00", periods: "[2027-06-01, 2027-07-01)"},
		{name: "overuse in arrears: peak 73.5 GB, 50 included, 0.10", sub: sub(plan("storage", "", 1, "15.00", "", disk), "2027-08-01", "2027-08-01", "2027-09-01", map[string]int64{"disk": 50}), usage: storage, on: "2027-09-01",
			lines: []string{"recurring [2027-09-01, 2027-10-01) 15.00", "overuse disk ×23.5 [2027-08-01, 2027-09-01) 2.35"}, total: "17.35", periods: "[2027-09-01, 2027-10-01)"},
		{name: "usage below the included amount is no overuse", sub: sub(plan("storage", "", 1, "15.00", "", disk), "2027-08-01", "2027-08-01", "2027-09-01", nil), usage: storage[1:2], on: "2027-09-01",
			lines: []string{"recurring [2027-09-01, 2027-10-01) 15.00"}, total: "15.00", periods: "[2027-09-01, 2027-10-01)"},
		{name: "pay-as-you-go: 500 + 734 unit-hours at 0.015", sub: sub(plan("compute", catalog.PayAsYouGo, 1, "0.00", "", hours), "2027-02-01", "2027-02-01", "2027-03-01", nil),
			usage: []Reading{reading("vcpu-hours", "2027-02-10", "500", catalog.ClassCounter), reading("vcpu-hours", "2027-02-20", "734", catalog.ClassCounter)}, on: "2027-03-01",
			lines: []string{"usage vcpu-hours ×1234 [2027-02-01, 2027-03-01) 18.51"}, total: "18.51", periods: "[2027-03-01, 2027-04-01)"},
		{name: "pay-as-you-go without usage issues nothing", sub: sub(plan("compute", catalog.PayAsYouGo, 1, "0.00", "", hours), "2027-02-01", "2027-02-01", "2027-03-01", nil), on: "2027-03-01",
			periods: "[2027-03-01, 2027-04-01)"},
		{name: "arrears: the closed period's fee", sub: sub(plan("late", catalog.ChargeInArrears, 1, "20.00", ""), "2027-01-15", "2027-01-15", "2027-02-15", nil), on: "2027-02-15",
			lines: []string{"recurring [2027-01-15, 2027-02-15) 20.00"}, total: "20.00", periods: "[2027-02-15, 2027-03-15)"},
		{name: "deferred downgrade: the new period at the new plan", sub: deferred, on: "2027-04-01",
			lines: []string{"recurring [2027-04-01, 2027-05-01) 12.00"}, total: "12.00", periods: "[2027-04-01, 2027-05-01)"},
		{name: "tax per line: 15.00 + 2.35 at 19 %", sub: sub(plan("storage", "", 1, "15.00", "", disk), "2027-08-01", "2027-08-01", "2027-09-01", nil), usage: storage, on: "2027-09-01",
			tax:   order.TaxRule{Rate: decimal.MustNew(19, 0)},
			lines: []string{"recurring [2027-09-01, 2027-10-01) 15.00", "overuse disk ×23.5 [2027-08-01, 2027-09-01) 2.35", "tax 3.30"}, total: "20.65", periods: "[2027-09-01, 2027-10-01)"},
		{name: "a missed day bills the period that closed, dated by the period", sub: sub(basic, "2027-01-15", "2027-01-15", "2027-02-15", nil), on: "2027-02-20",
			lines: []string{"recurring [2027-02-15, 2027-03-15) 12.00"}, total: "12.00", periods: "[2027-02-15, 2027-03-15)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.sub.Clone()
			b, err := Due(tt.sub, tt.usage, day(tt.on), order.Terms{Tax: tt.tax})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if b.Invoice != nil {
				for _, l := range b.Invoice.Lines {
					got = append(got, line(l))
				}
				if total := b.Invoice.Total.Format("USD"); total != tt.total {
					t.Errorf("total %s, want %s", total, tt.total)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Errorf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
			s := b.Subscription
			if p := "[" + s.PeriodStart.Format(time.DateOnly) + ", " + s.PeriodEnd.Format(time.DateOnly) + ")"; p != tt.periods {
				t.Errorf("period after %s, want %s", p, tt.periods)
			}
			if s.Pending != nil {
				t.Errorf("a pending change is left after the billing date")
			}
			if tt.sub.PeriodEnd != before.PeriodEnd || tt.sub.Plan != before.Plan || (before.Pending == nil) != (tt.sub.Pending == nil) {
				t.Errorf("Due changed the subscription it was given")
			}
		})
	}
}

// Two runs of the days after a long gap bill each closed period once.
func TestDueCatchesUp(t *testing.T) {
	t.Parallel()
	s := sub(plan("basic", "", 1, "10.00", ""), "2027-01-31", "2027-01-31", "2027-02-28", nil)
	var got []string
	for range 5 {
		b, err := Due(s, nil, day("2027-04-30"), order.Terms{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Invoice == nil {
			break
		}
		got = append(got, line(b.Invoice.Lines[0]))
		s = b.Subscription
	}
	want := []string{
		"recurring [2027-02-28, 2027-03-31) 10.00",
		"recurring [2027-03-31, 2027-04-30) 10.00",
		"recurring [2027-04-30, 2027-05-31) 10.00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDueRefuses(t *testing.T) {
	t.Parallel()
	// Trials that name no paid period to convert to are not ended, as
	// before conversions existed; nor is one whose catalog period is a
	// trial while the subscription forgot it.
	trial := sub(plan("crm", "", 1, "30.00", ""), "2027-06-01", "2027-06-01", "2027-06-15", nil)
	trial.Trial = true
	bare := inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-06-01", "2027-06-15", nil)
	bare.Plan.Periods[0].ConvertsTo = ""
	unflagged := inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-06-01", "2027-06-15", nil)
	unflagged.Plan.Periods[0].ConvertsTo, unflagged.Trial = "", false
	broken := inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-06-01", "2027-06-15", nil)
	broken.Plan.Periods[0].ConvertsTo = "12m"
	negative := sub(plan("storage", "", 1, "15.00", "", catalog.Rate{Key: "disk"}), "2027-08-01", "2027-08-01", "2027-09-01", nil)
	for name, c := range map[string]struct {
		sub   *order.Subscription
		usage []Reading
		code  string
	}{
		"a trial's conversion":                           {trial, nil, marketplane.ECONFLICT},
		"a trial converting to nothing":                  {bare, nil, marketplane.ECONFLICT},
		"a trial period not flagged on the subscription": {unflagged, nil, marketplane.ECONFLICT},
		"a trial converting to a missing period":         {broken, nil, ""},
		"a negative reading":                             {negative, []Reading{reading("disk", "2027-08-02", "-1", catalog.ClassLimit)}, marketplane.EINVALID},
		"no subscription at all":                         {nil, nil, ""},
	} {
		_, err := Due(c.sub, c.usage, day("2027-09-01"), order.Terms{})
		var e *marketplane.Error
		switch {
		case err == nil:
			t.Errorf("%s: billed", name)
		case c.code != "" && (!errors.As(err, &e) || e.Code != c.code):
			t.Errorf("%s: %v, want code %s", name, err, c.code)
		}
	}
}

// trialOf is p with a free trial of days days, sorted first, that converts
// to p's period "p" (its only paid period).
func trialOf(p *catalog.Plan, days int) *catalog.Plan {
	p.Periods = append([]catalog.Period{{Key: "trial", Duration: catalog.Duration{N: days, Unit: catalog.Day}, Trial: true,
		ConvertsTo: "p", RecurringPer: catalog.PerPeriod}}, p.Periods...)
	return p
}

// inTrial is a subscription to p ordered on from, in its trial [from, to).
func inTrial(p *catalog.Plan, from, to string, res map[string]int64) *order.Subscription {
	s := sub(p, from, from, to, res)
	s.Period, s.Trial = "trial", true
	return s
}

// TestDueConvertsTrial: the day a trial ends, the subscription goes on in
// the paid period its trial converts to, anchored on that day, and the day
// charges the paid period as a renewal would (golden scenario 08).
func TestDueConvertsTrial(t *testing.T) {
	t.Parallel()
	mailbox := catalog.Rate{Key: "mailbox", Included: 5, Recurring: catalog.Price{Amount: usd("2.00")}}
	seat := catalog.Rate{Key: "seat", Min: 2, Recurring: catalog.Price{Amount: usd("4.00")}, Periods: []string{"p"}}
	disk := catalog.Rate{Key: "disk", Included: 50, Overuse: catalog.Price{Amount: usd("0.10")}}
	hours := catalog.Rate{Key: "vcpu-hours", Overuse: catalog.Price{Amount: usd("0.015")}}
	withSetup := trialOf(plan("crm", catalog.ChargeInAdvance, 1, "30.00", catalog.PerPeriod), 14)
	withSetup.Periods[1].Setup = catalog.Price{Amount: usd("5.00")}
	shrinking := inTrial(trialOf(plan("mail", "", 1, "10.00", "", mailbox), 14), "2027-05-18", "2027-06-01", map[string]int64{"mailbox": 8})
	shrinking.Pending = &order.Pending{On: day("2027-06-01"), Resources: map[string]int64{"mailbox": 6}}
	tests := []struct {
		name    string
		sub     *order.Subscription
		usage   []Reading
		on      string
		tax     order.TaxRule
		lines   []string // empty: no invoice
		total   string
		periods string // the state after: [start, end)
		res     map[string]int64
	}{
		{name: "golden 08: 14 days free, then 30.00 a month; no setup fee at conversion", sub: inTrial(withSetup, "2027-06-01", "2027-06-15", nil), on: "2027-06-15",
			lines: []string{"recurring [2027-06-15, 2027-07-15) 30.00"}, total: "30.00", periods: "[2027-06-15, 2027-07-15)"},
		{name: "not due on the trial's last day", sub: inTrial(withSetup, "2027-06-01", "2027-06-15", nil), on: "2027-06-14",
			periods: "[2027-06-01, 2027-06-15)"},
		{name: "into a year priced per month: 12 × 10.00", sub: inTrial(trialOf(plan("suite", "", 12, "10.00", catalog.PerMonth), 30), "2027-01-01", "2027-01-31", nil), on: "2027-01-31",
			lines: []string{"recurring [2027-01-31, 2028-01-31) 120.00"}, total: "120.00", periods: "[2027-01-31, 2028-01-31)"},
		{name: "a trial ending on the 31st: the month runs to 28 February", sub: inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-01-17", "2027-01-31", nil), on: "2027-01-31",
			lines: []string{"recurring [2027-01-31, 2027-02-28) 30.00"}, total: "30.00", periods: "[2027-01-31, 2027-02-28)"},
		{name: "paid units: 8 mailboxes held in the trial, 5 included, 2.00 each", sub: inTrial(trialOf(plan("mail", "", 1, "10.00", "", mailbox), 14), "2027-05-18", "2027-06-01", map[string]int64{"mailbox": 8}), on: "2027-06-01",
			lines: []string{"recurring [2027-06-01, 2027-07-01) 10.00", "resource mailbox ×3 [2027-06-01, 2027-07-01) 6.00"}, total: "16.00", periods: "[2027-06-01, 2027-07-01)",
			res: map[string]int64{"mailbox": 8}},
		{name: "a rate sold only with the paid period starts at its minimum: 2 seats at 4.00", sub: inTrial(trialOf(plan("team", "", 1, "10.00", "", seat), 14), "2027-05-18", "2027-06-01", nil), on: "2027-06-01",
			lines: []string{"recurring [2027-06-01, 2027-07-01) 10.00", "resource seat ×2 [2027-06-01, 2027-07-01) 8.00"}, total: "18.00", periods: "[2027-06-01, 2027-07-01)",
			res: map[string]int64{"seat": 2}},
		{name: "a deferred downgrade in the trial takes effect: 6 mailboxes, 1 paid", sub: shrinking, on: "2027-06-01",
			lines: []string{"recurring [2027-06-01, 2027-07-01) 10.00", "resource mailbox ×1 [2027-06-01, 2027-07-01) 2.00"}, total: "12.00", periods: "[2027-06-01, 2027-07-01)",
			res: map[string]int64{"mailbox": 6}},
		{name: "overuse in the free trial is free", sub: inTrial(trialOf(plan("storage", "", 1, "15.00", "", disk), 14), "2027-08-18", "2027-09-01", nil), on: "2027-09-01",
			usage: []Reading{reading("disk", "2027-08-20", "73.5", catalog.ClassLimit)},
			lines: []string{"recurring [2027-09-01, 2027-10-01) 15.00"}, total: "15.00", periods: "[2027-09-01, 2027-10-01)", res: map[string]int64{"disk": 50}},
		{name: "tax on the converted period: 30.00 at 19 %", sub: inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-06-01", "2027-06-15", nil), on: "2027-06-15",
			tax:   order.TaxRule{Rate: decimal.MustNew(19, 0)},
			lines: []string{"recurring [2027-06-15, 2027-07-15) 30.00", "tax 5.70"}, total: "35.70", periods: "[2027-06-15, 2027-07-15)"},
		{name: "a missed day converts on the trial's end, not the run's", sub: inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-06-01", "2027-06-15", nil), on: "2027-06-20",
			lines: []string{"recurring [2027-06-15, 2027-07-15) 30.00"}, total: "30.00", periods: "[2027-06-15, 2027-07-15)"},
		{name: "arrears: nothing at conversion, the paid month at its end", sub: inTrial(trialOf(plan("late", catalog.ChargeInArrears, 1, "20.00", ""), 14), "2027-06-01", "2027-06-15", nil), on: "2027-06-15",
			periods: "[2027-06-15, 2027-07-15)"},
		{name: "pay-as-you-go: the trial's usage is free", sub: inTrial(trialOf(plan("compute", catalog.PayAsYouGo, 1, "0.00", "", hours), 14), "2027-02-01", "2027-02-15", nil), on: "2027-02-15",
			usage:   []Reading{reading("vcpu-hours", "2027-02-10", "500", catalog.ClassCounter)},
			periods: "[2027-02-15, 2027-03-15)", res: map[string]int64{"vcpu-hours": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.sub.Clone()
			b, err := Due(tt.sub, tt.usage, day(tt.on), order.Terms{Tax: tt.tax})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if b.Invoice != nil {
				for _, l := range b.Invoice.Lines {
					got = append(got, line(l))
				}
				if total := b.Invoice.Total.Format("USD"); total != tt.total {
					t.Errorf("total %s, want %s", total, tt.total)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Errorf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
			s := b.Subscription
			if p := "[" + s.PeriodStart.Format(time.DateOnly) + ", " + s.PeriodEnd.Format(time.DateOnly) + ")"; p != tt.periods {
				t.Errorf("period after %s, want %s", p, tt.periods)
			}
			if b.Closed.From.IsZero() {
				// Nothing due: the subscription is the one given.
				if s != tt.sub {
					t.Errorf("not due, yet the subscription changed")
				}
				return
			}
			if c := "[" + b.Closed.From.Format(time.DateOnly) + ", " + b.Closed.To.Format(time.DateOnly) + ")"; c != "["+before.PeriodStart.Format(time.DateOnly)+", "+before.PeriodEnd.Format(time.DateOnly)+")" {
				t.Errorf("closed %s, want the trial", c)
			}
			if s.Period != "p" || s.Trial || !s.Anchor.Equal(before.PeriodEnd) || !s.Start.Equal(before.Start) || s.Plan != before.Plan || s.Pending != nil {
				t.Errorf("after conversion: period %q trial %v anchor %s start %s pending %v; want p, false, %s, %s, nil",
					s.Period, s.Trial, s.Anchor.Format(time.DateOnly), s.Start.Format(time.DateOnly), s.Pending, before.PeriodEnd.Format(time.DateOnly), before.Start.Format(time.DateOnly))
			}
			if tt.res != nil && !maps.Equal(s.Resources, tt.res) {
				t.Errorf("resources %v, want %v", s.Resources, tt.res)
			}
			if tt.sub.Period != "trial" || !tt.sub.Trial || !tt.sub.Anchor.Equal(before.Anchor) || !maps.Equal(tt.sub.Resources, before.Resources) ||
				(before.Pending == nil) != (tt.sub.Pending == nil) {
				t.Errorf("Due changed the subscription it was given")
			}
		})
	}
}

// After a conversion on 31 January, periods are counted from that day: the
// anchor day comes back in March (rule 1).
func TestDueRenewsFromTheConversion(t *testing.T) {
	t.Parallel()
	s := inTrial(trialOf(plan("crm", "", 1, "30.00", ""), 14), "2027-01-17", "2027-01-31", nil)
	var got []string
	for range 5 {
		b, err := Due(s, nil, day("2027-04-30"), order.Terms{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Invoice == nil {
			break
		}
		got = append(got, line(b.Invoice.Lines[0]))
		s = b.Subscription
	}
	want := []string{
		"recurring [2027-01-31, 2027-02-28) 30.00",
		"recurring [2027-02-28, 2027-03-31) 30.00",
		"recurring [2027-03-31, 2027-04-30) 30.00",
		"recurring [2027-04-30, 2027-05-31) 30.00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !s.Anchor.Equal(day("2027-01-31")) || !s.Start.Equal(day("2027-01-17")) {
		t.Errorf("anchor %s, start %s", s.Anchor.Format(time.DateOnly), s.Start.Format(time.DateOnly))
	}
}
