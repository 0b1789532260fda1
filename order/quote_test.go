package order

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
)

// testPlan is a plan for worked examples: periods and rates as given.
func testPlan(key, currency string, periods []catalog.Period, rates ...catalog.Rate) *catalog.Plan {
	for i := range periods {
		if periods[i].Key == "" {
			periods[i].Key = periods[i].Duration.String()
		}
		if periods[i].RecurringPer == "" {
			periods[i].RecurringPer = catalog.PerPeriod
		}
		if periods[i].Refund.After == "" {
			periods[i].Refund.After = catalog.RefundNone
		}
	}
	for i := range rates {
		rates[i].Resource = rates[i].Key
		rates[i].Display = catalog.Spinner
	}
	return &catalog.Plan{Key: key, Template: "t", Currency: currency, Name: catalog.Text{"en": strings.ToUpper(key[:1]) + key[1:]},
		Billing: catalog.ChargeInAdvance, Periods: periods, Rates: rates}
}

func monthly(setup, recurring string) catalog.Period {
	return catalog.Period{Duration: month, Setup: catalog.Price{Amount: amount(setup)}, Recurring: catalog.Price{Amount: amount(recurring)}}
}

func rate(key string, included, min, max int64, setup, recurring string) catalog.Rate {
	return catalog.Rate{Key: key, Included: included, Min: min, Max: max,
		Setup: catalog.Price{Amount: amount(setup)}, Recurring: catalog.Price{Amount: amount(recurring)}}
}

// show renders quote lines one per string, for tables a person can check:
// "resource mailbox×3 [2027-05-11, 2027-06-01) 4.06".
func show(q *Quote) []string {
	out := []string{}
	for _, l := range q.Lines {
		s := string(l.What)
		if l.Resource != "" {
			s += " " + l.Resource + "×" + l.Quantity.String()
		}
		if l.What == Tax {
			s += " " + l.TaxRate.String() + "%"
		}
		if !l.From.IsZero() {
			s += fmt.Sprintf(" [%s, %s)", l.From.Format(time.DateOnly), l.To.Format(time.DateOnly))
		}
		out = append(out, s+" "+l.Amount.Format(q.Currency))
	}
	return out
}

func checkQuote(t *testing.T, about string, q *Quote, lines []string, total string) {
	t.Helper()
	if got := show(q); !slices.Equal(got, lines) {
		t.Errorf("%s: lines\n  %s\nwant\n  %s", about, strings.Join(got, "\n  "), strings.Join(lines, "\n  "))
	}
	var sum int64
	for _, l := range q.Lines {
		sum += int64(l.Amount)
	}
	if q.Total.Format(q.Currency) != total || int64(q.Total) != sum {
		t.Errorf("%s: total %s (lines sum to %d micros), want %s", about, q.Total.Format(q.Currency), sum, total)
	}
}

func checkReason(t *testing.T, about string, err error, field, reason string) {
	t.Helper()
	if marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("%s: error %v, want %s", about, err, marketplane.EINVALID)
		return
	}
	if got, ok := FieldReason(err, field); !ok || got != reason {
		t.Errorf("%s: %v: reason for %q = %q, want %q", about, err, field, got, reason)
	}
}

func TestQuoteNew(t *testing.T) {
	t.Parallel()
	perMonth := catalog.Period{Duration: year12, Recurring: catalog.Price{Amount: amount("10.00")}, RecurringPer: catalog.PerMonth}
	trial := catalog.Period{Duration: days14, Trial: true}
	cases := []struct {
		about     string
		plan      *catalog.Plan
		on        string
		period    string
		resources map[string]int64
		confirm   bool
		lines     []string
		total     string
		end       string
		amounts   map[string]int64
	}{
		{"01: setup 5.00 and 20.00 a month", testPlan("basic", "USD", []catalog.Period{monthly("5.00", "20.00")}),
			"2027-01-15", "1m", nil, false,
			[]string{"setup 5.00", "recurring [2027-01-15, 2027-02-15) 20.00"}, "25.00", "2027-02-15", map[string]int64{}},
		{"02: the 31st, a month ends on 28 February", testPlan("basic", "USD", []catalog.Period{monthly("0", "10.00")}),
			"2027-01-31", "1m", nil, false,
			[]string{"recurring [2027-01-31, 2027-02-28) 10.00"}, "10.00", "2027-02-28", map[string]int64{}},
		{"09: 12 months at 10.00 per month charge 12 × 10.00", testPlan("suite", "USD", []catalog.Period{perMonth}),
			"2027-01-01", "12m", nil, false,
			[]string{"recurring [2027-01-01, 2028-01-01) 120.00"}, "120.00", "2028-01-01", map[string]int64{}},
		{"13: yen", testPlan("basic", "JPY", []catalog.Period{monthly("0", "1000")}),
			"2027-03-01", "1m", nil, false,
			[]string{"recurring [2027-03-01, 2027-04-01) 1000"}, "1000", "2027-04-01", map[string]int64{}},
		{"17: a minimum of 2 seats is added by itself", testPlan("team", "USD", []catalog.Period{monthly("0", "0")}, rate("seat", 0, 2, 50, "0", "4.00")),
			"2027-09-01", "1m", nil, false,
			[]string{"resource seat×2 [2027-09-01, 2027-10-01) 8.00"}, "8.00", "2027-10-01", map[string]int64{"seat": 2}},
		{"05: included units cost nothing, the default is the included amount",
			testPlan("mail", "USD", []catalog.Period{monthly("0", "10.00")}, rate("mailbox", 5, 0, 100, "0", "2.00")),
			"2027-05-01", "1m", nil, false,
			[]string{"recurring [2027-05-01, 2027-06-01) 10.00"}, "10.00", "2027-06-01", map[string]int64{"mailbox": 5}},
		{"units above the included amount, with a setup fee per unit",
			testPlan("mail", "USD", []catalog.Period{monthly("3.00", "10.00")}, rate("mailbox", 5, 0, 100, "0.50", "2.00")),
			"2027-05-01", "1m", map[string]int64{"mailbox": 8}, false,
			[]string{"setup 3.00", "setup mailbox×3 1.50", "recurring [2027-05-01, 2027-06-01) 10.00", "resource mailbox×3 [2027-05-01, 2027-06-01) 6.00"},
			"20.50", "2027-06-01", map[string]int64{"mailbox": 8}},
		{"a unit price of 0.015 × 3 units = 0.045 rounds to 0.05",
			testPlan("api", "USD", []catalog.Period{monthly("0", "1.00")}, rate("calls", 0, 0, catalog.Unlimited, "0", "0.015")),
			"2027-05-01", "1m", map[string]int64{"calls": 3}, false,
			[]string{"recurring [2027-05-01, 2027-06-01) 1.00", "resource calls×3 [2027-05-01, 2027-06-01) 0.05"}, "1.05", "2027-06-01", map[string]int64{"calls": 3}},
		{"per-month pricing applies to resources too: 12 × 1.00 × 2 units",
			testPlan("suite", "USD", []catalog.Period{perMonth}, rate("seat", 1, 1, 10, "0", "1.00")),
			"2027-01-01", "12m", map[string]int64{"seat": 3}, false,
			[]string{"recurring [2027-01-01, 2028-01-01) 120.00", "resource seat×2 [2027-01-01, 2028-01-01) 24.00"}, "144.00", "2028-01-01", map[string]int64{"seat": 3}},
		{"08: a trial is free and needs no confirmation",
			testPlan("crm", "USD", []catalog.Period{trial, monthly("0", "30.00")}, rate("seat", 0, 2, 50, "1.00", "4.00")),
			"2027-06-01", "14d", nil, false,
			[]string{}, "0.00", "2027-06-15", map[string]int64{"seat": 2}},
		{"07: pay as you go costs nothing now, confirmed",
			testPlan("compute", "USD", []catalog.Period{monthly("0", "0.00")}),
			"2027-02-01", "1m", nil, true,
			[]string{}, "0.00", "2027-03-01", map[string]int64{}},
		{"unlimited included stays unlimited and free",
			testPlan("web", "USD", []catalog.Period{monthly("0", "5.00")}, rate("traffic", catalog.Unlimited, 0, catalog.Unlimited, "0", "9.00")),
			"2027-05-01", "1m", nil, false,
			[]string{"recurring [2027-05-01, 2027-06-01) 5.00"}, "5.00", "2027-06-01", map[string]int64{"traffic": catalog.Unlimited}},
	}
	for _, c := range cases {
		q, err := QuoteNew(c.plan, NewRequest{On: date(c.on), Period: c.period, Resources: c.resources, ConfirmZero: c.confirm}, Terms{})
		if err != nil {
			t.Errorf("%s: %v", c.about, err)
			continue
		}
		checkQuote(t, c.about, q, c.lines, c.total)
		s := q.Subscription
		if !s.Start.Equal(date(c.on)) || !s.PeriodStart.Equal(date(c.on)) || !s.PeriodEnd.Equal(date(c.end)) || s.Period != c.period {
			t.Errorf("%s: subscription %s [%s, %s), want %s [%s, %s)", c.about, s.Period,
				s.PeriodStart.Format(time.DateOnly), s.PeriodEnd.Format(time.DateOnly), c.period, c.on, c.end)
		}
		if fmt.Sprint(s.Resources) != fmt.Sprint(c.amounts) {
			t.Errorf("%s: resources %v, want %v", c.about, s.Resources, c.amounts)
		}
	}
}

func TestQuoteNewRefused(t *testing.T) {
	t.Parallel()
	team := testPlan("team", "USD", []catalog.Period{monthly("0", "0.00")}, rate("seat", 0, 2, 50, "0", "4.00"))
	free := testPlan("free", "USD", []catalog.Period{monthly("0", "0.00")})
	cases := []struct {
		about     string
		plan      *catalog.Plan
		period    string
		resources map[string]int64
		field     string
		reason    string
	}{
		{"17: one seat of a minimum of two", team, "1m", map[string]int64{"seat": 1}, "resources.seat", ReasonBelowMinimum},
		{"negative", team, "1m", map[string]int64{"seat": -3}, "resources.seat", ReasonBelowMinimum},
		{"above the maximum", team, "1m", map[string]int64{"seat": 51}, "resources.seat", ReasonAboveMaximum},
		{"unlimited of a limited rate", team, "1m", map[string]int64{"seat": catalog.Unlimited}, "resources.seat", ReasonAboveMaximum},
		{"a resource the plan does not sell", team, "1m", map[string]int64{"disk": 1}, "resources.disk", ReasonUnknownResource},
		{"a period the plan does not have", team, "12m", nil, "period", ReasonUnknownPeriod},
		{"nothing to pay, not confirmed", free, "1m", nil, "confirm_zero", ReasonRequired},
	}
	for _, c := range cases {
		_, err := QuoteNew(c.plan, NewRequest{On: date("2027-09-01"), Period: c.period, Resources: c.resources}, Terms{})
		checkReason(t, c.about, err, c.field, c.reason)
	}
	yen := testPlan("basic", "XXY", []catalog.Period{monthly("0", "1.00")})
	_, err := QuoteNew(yen, NewRequest{On: date("2027-09-01"), Period: "1m"}, Terms{})
	checkReason(t, "unknown currency", err, "currency", ReasonUnknownCurrency)
	limited := testPlan("team", "USD", []catalog.Period{monthly("0", "1.00"), {Duration: year12, Recurring: catalog.Price{Amount: amount("10")}}},
		rate("seat", 0, 0, 5, "0", "1.00"))
	limited.Rates[0].Periods = []string{"12m"}
	_, err = QuoteNew(limited, NewRequest{On: date("2027-09-01"), Period: "1m", Resources: map[string]int64{"seat": 1}}, Terms{})
	checkReason(t, "a rate of another period", err, "resources.seat", ReasonUnknownResource)
	var e *marketplane.Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Fields["resources.seat"], "unknown_resource: ") {
		t.Errorf("field message %q does not start with its reason", e.Fields["resources.seat"])
	}
}

// subscribed is the subscription a plan's quote leaves behind.
func subscribed(t *testing.T, plan *catalog.Plan, on, period string, resources map[string]int64) *Subscription {
	t.Helper()
	q, err := QuoteNew(plan, NewRequest{On: date(on), Period: period, Resources: resources, ConfirmZero: true}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	return q.Subscription
}

func TestQuoteChange(t *testing.T) {
	t.Parallel()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "12.00")})
	pro := testPlan("pro", "USD", []catalog.Period{monthly("0", "36.00")})
	basic.UpgradeTo, pro.DowngradeTo = []string{"pro"}, []string{"basic"}
	yenBasic := testPlan("basic", "JPY", []catalog.Period{monthly("0", "1000")})
	yenPro := testPlan("pro", "JPY", []catalog.Period{monthly("0", "3000")})
	yenBasic.UpgradeTo = []string{"pro"}
	mail := testPlan("mail", "USD", []catalog.Period{monthly("0", "10.00")}, rate("mailbox", 5, 0, 100, "1.00", "2.00"))
	small := testPlan("small", "USD", []catalog.Period{monthly("0", "10.00")}, rate("disk", 10, 0, 100, "0", "0.50"))
	big := testPlan("big", "USD", []catalog.Period{monthly("0", "20.00")}, rate("disk", 50, 0, 500, "0", "0.40"))
	small.UpgradeTo = []string{"big"}
	annual := testPlan("suite", "USD", []catalog.Period{{Duration: year12, Recurring: catalog.Price{Amount: amount("10.00")}, RecurringPer: catalog.PerMonth}})
	annualPro := testPlan("suite-pro", "USD", []catalog.Period{{Duration: year12, Recurring: catalog.Price{Amount: amount("20.00")}, RecurringPer: catalog.PerMonth}})
	annual.UpgradeTo = []string{"suite-pro"}

	cases := []struct {
		about     string
		sub       *Subscription
		to        *catalog.Plan
		resources map[string]int64
		on        string
		terms     Terms
		lines     []string
		total     string
		effective string
		plan      string
		pending   bool
	}{
		{"03: upgrade Basic 12.00 → Pro 36.00, 15 of 31 days", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, "2027-03-17", Terms{},
			[]string{"change-credit [2027-03-17, 2027-04-01) -5.81", "change-charge [2027-03-17, 2027-04-01) 17.42"}, "11.61", "2027-03-17", "pro", false},
		{"04: downgrade Pro → Basic, prorated", subscribed(t, pro, "2027-03-01", "1m", nil), basic, nil, "2027-03-17", Terms{},
			[]string{"change-credit [2027-03-17, 2027-04-01) -17.42", "change-charge [2027-03-17, 2027-04-01) 5.81"}, "-11.61", "2027-03-17", "basic", false},
		{"04: downgrade Pro → Basic, deferred to the next billing date", subscribed(t, pro, "2027-03-01", "1m", nil), basic, nil, "2027-03-17",
			Terms{Downgrade: DowngradeNextBillingDate}, []string{}, "0.00", "2027-04-01", "pro", true},
		{"an upgrade is never deferred", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, "2027-03-17",
			Terms{Downgrade: DowngradeNextBillingDate},
			[]string{"change-credit [2027-03-17, 2027-04-01) -5.81", "change-charge [2027-03-17, 2027-04-01) 17.42"}, "11.61", "2027-03-17", "pro", false},
		{"no proration: the upgrade is free until the next period", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, "2027-03-17",
			Terms{Proration: NoProration}, []string{}, "0.00", "2027-03-17", "pro", false},
		{"13: yen 1000 → 3000, 15 of 31 days", subscribed(t, yenBasic, "2027-03-01", "1m", nil), yenPro, nil, "2027-03-17", Terms{},
			[]string{"change-credit [2027-03-17, 2027-04-01) -484", "change-charge [2027-03-17, 2027-04-01) 1452"}, "968", "2027-03-17", "pro", false},
		{"upgrade on the first day: credit and charge the whole period", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, "2027-03-01", Terms{},
			[]string{"change-credit [2027-03-01, 2027-04-01) -12.00", "change-charge [2027-03-01, 2027-04-01) 36.00"}, "24.00", "2027-03-01", "pro", false},
		{"upgrade on the last day: 1 of 31 days (0.387…, 1.161…)", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, "2027-03-31", Terms{},
			[]string{"change-credit [2027-03-31, 2027-04-01) -0.39", "change-charge [2027-03-31, 2027-04-01) 1.16"}, "0.77", "2027-03-31", "pro", false},
		{"05: 5 → 8 mailboxes, 3 more at 2.00 for 21 of 31 days, setup 1.00 each", subscribed(t, mail, "2027-05-01", "1m", nil), nil,
			map[string]int64{"mailbox": 8}, "2027-05-11", Terms{},
			[]string{"setup mailbox×3 3.00", "resource mailbox×3 [2027-05-11, 2027-06-01) 4.06"}, "7.06", "2027-05-11", "mail", false},
		{"7 → 8 mailboxes: credit 2 units, charge 3 (each rounded: −2.71 + 4.06)", subscribed(t, mail, "2027-05-01", "1m", map[string]int64{"mailbox": 7}), nil,
			map[string]int64{"mailbox": 8}, "2027-05-11", Terms{},
			[]string{"setup mailbox×1 1.00", "resource mailbox×-2 [2027-05-11, 2027-06-01) -2.71", "resource mailbox×3 [2027-05-11, 2027-06-01) 4.06"},
			"2.35", "2027-05-11", "mail", false},
		{"8 → 6 mailboxes, prorated now", subscribed(t, mail, "2027-05-01", "1m", map[string]int64{"mailbox": 8}), nil,
			map[string]int64{"mailbox": 6}, "2027-05-11", Terms{},
			[]string{"resource mailbox×-3 [2027-05-11, 2027-06-01) -4.06", "resource mailbox×1 [2027-05-11, 2027-06-01) 1.35"},
			"-2.71", "2027-05-11", "mail", false},
		{"8 → 6 mailboxes, deferred", subscribed(t, mail, "2027-05-01", "1m", map[string]int64{"mailbox": 8}), nil,
			map[string]int64{"mailbox": 6}, "2027-05-11", Terms{Downgrade: DowngradeNextBillingDate},
			[]string{}, "0.00", "2027-06-01", "mail", true},
		{"plan change with resources: the disk units carry over, the new plan includes more",
			subscribed(t, small, "2027-05-01", "1m", map[string]int64{"disk": 30}), big, nil, "2027-05-11", Terms{},
			[]string{"change-credit [2027-05-11, 2027-06-01) -6.77", "change-charge [2027-05-11, 2027-06-01) 13.55",
				"resource disk×-20 [2027-05-11, 2027-06-01) -6.77"},
			"0.01", "2027-05-11", "big", false},
		{"a year priced per month: 120.00 → 240.00 with 306 of 365 days", subscribed(t, annual, "2027-01-01", "12m", nil), annualPro, nil, "2027-03-01", Terms{},
			[]string{"change-credit [2027-03-01, 2028-01-01) -100.60", "change-charge [2027-03-01, 2028-01-01) 201.21"}, "100.61", "2027-03-01", "suite-pro", false},
	}
	for _, c := range cases {
		// The table's changes for nothing are confirmed, as a buyer must
		// (TestQuoteChangeConfirmZero has the refusal).
		q, err := QuoteChange(c.sub, ChangeRequest{On: date(c.on), Plan: c.to, Resources: c.resources, ConfirmZero: c.total == "0.00"}, c.terms)
		if err != nil {
			t.Errorf("%s: %v", c.about, err)
			continue
		}
		checkQuote(t, c.about, q, c.lines, c.total)
		if !q.EffectiveOn.Equal(date(c.effective)) {
			t.Errorf("%s: effective on %s, want %s", c.about, q.EffectiveOn.Format(time.DateOnly), c.effective)
		}
		if q.Subscription.Plan.Key != c.plan || (q.Subscription.Pending != nil) != c.pending {
			t.Errorf("%s: after the change plan %q pending %v, want %q pending %v", c.about, q.Subscription.Plan.Key, q.Subscription.Pending != nil, c.plan, c.pending)
		}
		if c.sub.Pending != nil {
			t.Errorf("%s: the quote changed the subscription it was given", c.about)
		}
	}
}

func TestQuoteChangeRefused(t *testing.T) {
	t.Parallel()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "12.00")}, rate("seat", 1, 1, 10, "0", "1.00"))
	pro := testPlan("pro", "USD", []catalog.Period{monthly("0", "36.00")}, rate("seat", 1, 1, 5, "0", "1.00"))
	gold := testPlan("gold", "USD", []catalog.Period{{Duration: year12, Recurring: catalog.Price{Amount: amount("100")}}})
	euro := testPlan("euro", "EUR", []catalog.Period{monthly("0", "36.00")})
	basic.UpgradeTo = []string{"pro", "gold", "euro"}
	trial := testPlan("basic", "USD", []catalog.Period{{Duration: days14, Trial: true}, monthly("0", "12.00")})
	trial.UpgradeTo = []string{"pro"}
	sub := subscribed(t, basic, "2027-03-01", "1m", map[string]int64{"seat": 8})
	cases := []struct {
		about     string
		sub       *Subscription
		to        *catalog.Plan
		resources map[string]int64
		on        string
		field     string
		reason    string
	}{
		{"not on the upgrade path", subscribed(t, pro, "2027-03-01", "1m", nil), gold, nil, "2027-03-17", "plan", ReasonNotAllowed},
		{"the new plan lacks the period", sub, gold, nil, "2027-03-17", "period", ReasonUnknownPeriod},
		{"another currency", sub, euro, nil, "2027-03-17", "plan", ReasonCurrency},
		{"kept amount above the new plan's maximum", sub, pro, nil, "2027-03-17", "resources.seat", ReasonAboveMaximum},
		{"below the minimum", sub, nil, map[string]int64{"seat": 0}, "2027-03-17", "resources.seat", ReasonBelowMinimum},
		{"unknown resource", sub, nil, map[string]int64{"disk": 3}, "2027-03-17", "resources.disk", ReasonUnknownResource},
		{"nothing changes", sub, nil, map[string]int64{"seat": 8}, "2027-03-17", "resources", ReasonNoChange},
		{"after the period", sub, pro, map[string]int64{"seat": 5}, "2027-04-01", "on", ReasonOutsidePeriod},
		{"before the period", sub, pro, map[string]int64{"seat": 5}, "2027-02-28", "on", ReasonOutsidePeriod},
		{"plan change in a trial", subscribed(t, trial, "2027-03-01", "14d", nil), pro, nil, "2027-03-05", "plan", ReasonInTrial},
	}
	for _, c := range cases {
		_, err := QuoteChange(c.sub, ChangeRequest{On: date(c.on), Plan: c.to, Resources: c.resources}, Terms{})
		checkReason(t, c.about, err, c.field, c.reason)
	}
	// Resources change for free in a trial.
	tr := testPlan("crm", "USD", []catalog.Period{{Duration: days14, Trial: true}, monthly("0", "30.00")}, rate("seat", 0, 0, 9, "1.00", "4.00"))
	q, err := QuoteChange(subscribed(t, tr, "2027-06-01", "14d", nil), ChangeRequest{On: date("2027-06-05"), Resources: map[string]int64{"seat": 4}}, Terms{})
	if err != nil || !q.Empty() || q.Subscription.Resources["seat"] != 4 {
		t.Errorf("resource change in a trial: %v, %v", err, show(q))
	}
}

func TestQuoteCancel(t *testing.T) {
	t.Parallel()
	suite := func(full int, after catalog.AfterRefund, keep, cancellation string) *catalog.Plan {
		return testPlan("suite", "USD", []catalog.Period{{Duration: year12, Recurring: catalog.Price{Amount: amount("120.00")},
			Cancellation: catalog.Price{Amount: amount(cancellation)},
			Refund:       catalog.Refund{FullDays: full, After: after, NonRefundable: amount(keep)}}},
			rate("seat", 1, 1, 10, "5.00", "12.00"))
	}
	cases := []struct {
		about string
		plan  *catalog.Plan
		seats int64
		on    string
		lines []string
		total string
	}{
		{"10: inside the 30-day window everything is refunded", suite(30, catalog.RefundProrated, "0", "0"), 1, "2027-01-11",
			[]string{"refund -120.00"}, "-120.00"},
		{"10: after it, 306 of 365 days are refunded", suite(30, catalog.RefundProrated, "0", "0"), 1, "2027-03-01",
			[]string{"refund [2027-03-01, 2028-01-01) -100.60"}, "-100.60"},
		{"the window is half-open: day 30 after the start is outside (335 of 365 days)", suite(30, catalog.RefundProrated, "0", "0"), 1, "2027-01-31",
			[]string{"refund [2027-01-31, 2028-01-01) -110.14"}, "-110.14"},
		{"the last day of the window", suite(30, catalog.RefundProrated, "0", "0"), 1, "2027-01-30",
			[]string{"refund -120.00"}, "-120.00"},
		{"after the window with policy none: nothing", suite(30, catalog.RefundNone, "0", "0"), 1, "2027-03-01",
			[]string{}, "0.00"},
		{"resources are refunded with the plan, setup fees are not", suite(30, catalog.RefundProrated, "0", "0"), 3, "2027-01-11",
			[]string{"refund -120.00", "refund seat×2 -24.00"}, "-144.00"},
		{"prorated resources", suite(30, catalog.RefundProrated, "0", "0"), 3, "2027-03-01",
			[]string{"refund [2027-03-01, 2028-01-01) -100.60", "refund seat×2 [2027-03-01, 2028-01-01) -20.12"}, "-120.72"},
		{"the non-refundable part is kept back", suite(30, catalog.RefundProrated, "20.00", "0"), 1, "2027-03-01",
			[]string{"refund [2027-03-01, 2028-01-01) -80.60"}, "-80.60"},
		{"… line by line, never turning into a charge", suite(30, catalog.RefundProrated, "110.00", "0"), 3, "2027-03-01",
			[]string{"refund seat×2 [2027-03-01, 2028-01-01) -10.72"}, "-10.72"},
		{"a cancellation fee", suite(0, catalog.RefundNone, "0", "15.00"), 1, "2027-03-01",
			[]string{"cancellation 15.00"}, "15.00"},
	}
	for _, c := range cases {
		sub := subscribed(t, c.plan, "2027-01-01", "12m", map[string]int64{"seat": c.seats})
		q, err := QuoteCancel(sub, date(c.on), Terms{})
		if err != nil {
			t.Errorf("%s: %v", c.about, err)
			continue
		}
		checkQuote(t, c.about, q, c.lines, c.total)
		if q.Subscription != nil {
			t.Errorf("%s: a subscription survives its cancellation", c.about)
		}
	}
	tr := testPlan("crm", "USD", []catalog.Period{{Duration: days14, Trial: true, Refund: catalog.Refund{FullDays: 30}}, monthly("0", "30.00")})
	q, err := QuoteCancel(subscribed(t, tr, "2027-06-01", "14d", nil), date("2027-06-03"), Terms{})
	if err != nil || !q.Empty() {
		t.Errorf("cancelling a trial: %v %v", err, show(q))
	}
	_, err = QuoteCancel(subscribed(t, tr, "2027-06-01", "14d", nil), date("2027-05-03"), Terms{})
	checkReason(t, "cancel before the period", err, "on", ReasonOutsidePeriod)
}

// Golden scenario 11: tax per line from the rounded line, and reverse
// charge for a business abroad.
func TestTax(t *testing.T) {
	t.Parallel()
	rates := map[string]decimal.Decimal{"DE": decimal.MustParse("19"), "FR": decimal.MustParse("20")}
	buyers := []struct {
		about string
		buyer Buyer
		want  TaxRule
	}{
		{"consumer at home", Buyer{Country: "DE"}, TaxRule{Rate: decimal.MustParse("19")}},
		{"business at home", Buyer{Country: "DE", VATID: "DE123456789"}, TaxRule{Rate: decimal.MustParse("19")}},
		{"consumer abroad", Buyer{Country: "FR"}, TaxRule{Rate: decimal.MustParse("20")}},
		{"business abroad", Buyer{Country: "FR", VATID: "FR12345678901"}, TaxRule{ReverseCharge: true}},
		{"outside the table", Buyer{Country: "US"}, TaxRule{}},
	}
	for _, b := range buyers {
		got := TaxFor("DE", rates, b.buyer)
		if got.Rate.Cmp(b.want.Rate) != 0 || got.ReverseCharge != b.want.ReverseCharge {
			t.Errorf("%s: %+v, want %+v", b.about, got, b.want)
		}
	}

	basic := testPlan("basic", "EUR", []catalog.Period{monthly("0", "15.00")})
	mail := testPlan("mail", "EUR", []catalog.Period{monthly("0", "10.00")}, rate("mailbox", 5, 0, 100, "0", "2.00"))
	de := Terms{Tax: TaxFor("DE", rates, Buyer{Country: "DE"})}
	q, err := QuoteNew(basic, NewRequest{On: date("2027-04-01"), Period: "1m"}, de)
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "11: DE consumer", q, []string{"recurring [2027-04-01, 2027-05-01) 15.00", "tax 19% 2.85"}, "17.85")
	fr := Terms{Tax: TaxFor("DE", rates, Buyer{Country: "FR", VATID: "FR12345678901"})}
	q, err = QuoteNew(basic, NewRequest{On: date("2027-04-01"), Period: "1m"}, fr)
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "11: FR business", q, []string{"recurring [2027-04-01, 2027-05-01) 15.00"}, "15.00")
	if !q.ReverseCharge {
		t.Error("11: FR business: no reverse charge")
	}
	// Each line is taxed on its own: 19 % of 0.03 and of 4.06.
	q, err = QuoteChange(subscribed(t, mail, "2027-05-01", "1m", nil), ChangeRequest{On: date("2027-05-11"), Resources: map[string]int64{"mailbox": 8}}, de)
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "resource change taxed", q, []string{"resource mailbox×3 [2027-05-11, 2027-06-01) 4.06", "tax 19% 0.77"}, "4.83")
	// A credit carries negative tax.
	q, err = QuoteCancel(subscribed(t, basic, "2027-04-01", "1m", nil), date("2027-04-01"), Terms{Tax: de.Tax})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "cancellation without refund", q, []string{}, "0.00")
	refundable := testPlan("basic", "EUR", []catalog.Period{{Duration: month, Recurring: catalog.Price{Amount: amount("15.00")}, Refund: catalog.Refund{FullDays: 10}}})
	q, err = QuoteCancel(subscribed(t, refundable, "2027-04-01", "1m", nil), date("2027-04-02"), de)
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "refund taxed", q, []string{"refund -15.00", "tax 19% -2.85"}, "-17.85")
}

func TestTerms(t *testing.T) {
	t.Parallel()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "15.00")})
	_, err := QuoteNew(basic, NewRequest{On: date("2027-04-01"), Period: "1m"}, Terms{Proration: "later"})
	checkReason(t, "unknown proration", err, "terms.proration", "unknown_mode")
	// The vendor's time zone decides the day: 23:30 UTC on 31 March is
	// 1 April in Berlin.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal("no time zone data:", err)
	}
	q, err := QuoteNew(basic, NewRequest{On: time.Date(2027, 3, 31, 23, 30, 0, 0, time.UTC), Period: "1m"}, Terms{Location: berlin})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "time zone", q, []string{"recurring [2027-04-01, 2027-05-01) 15.00"}, "15.00")
}
