package order

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane/catalog"
)

// TestQuotePeriodChange: a change of billing period ends the current
// period on the change day C with a credit for its unused days
// (round(old fee × L / P)) and charges the new period whole from C, which
// becomes the subscription's anchor. Amounts to the cent:
//
//	10.00/month → 100.00/year on 03-17 of [03-01, 04-01), L=15 P=31:
//	  credit −150/31 = −4.838… → −4.84; recurring [2027-03-17, 2028-03-17) 100.00; total 95.16
//	mail 10.00/month → 8.00 a month for a year (96.00), 7 mailboxes (5 included, 2.00 each a month),
//	on 05-11 of [05-01, 06-01), L=21 P=31:
//	  credit −210/31 = −6.774… → −6.77; mailbox × −2: −84/31 = −2.709… → −2.71;
//	  recurring 96.00; mailbox × 2 at 24.00 a year 48.00; total 134.52
//	100.00/year → 10.00/month on 03-01 of [2027-01-01, 2028-01-01), L=306 P=365:
//	  credit −30600/365 = −83.835… → −83.84; recurring [2027-03-01, 2027-04-01) 10.00; total −73.84
func TestQuotePeriodChange(t *testing.T) {
	t.Parallel()
	yearly := catalog.Period{Duration: year12, Recurring: catalog.Price{Amount: amount("100.00")}}
	basic := testPlan("basic", "USD", []catalog.Period{monthly("5.00", "10.00"), yearly})
	mailYear := catalog.Period{Duration: year12, Recurring: catalog.Price{Amount: amount("8.00")}, RecurringPer: catalog.PerMonth}
	mail := testPlan("mail", "USD", []catalog.Period{monthly("0", "10.00"), mailYear}, rate("mailbox", 5, 0, 100, "1.00", "2.00"))
	pro := testPlan("pro", "USD", []catalog.Period{monthly("0", "36.00"), {Duration: year12, Recurring: catalog.Price{Amount: amount("360.00")}}})
	basic.UpgradeTo = []string{"pro"}

	cases := []struct {
		about      string
		sub        *Subscription
		to         *catalog.Plan
		period     string
		resources  map[string]int64
		on         string
		terms      Terms
		lines      []string
		total      string
		plan       string
		periodEnd  string
		mailboxes  int64
		checkBoxes bool
	}{
		{"monthly → annual, 15 of 31 days left", subscribed(t, basic, "2027-03-01", "1m", nil), nil, "12m", nil, "2027-03-17", Terms{},
			[]string{"change-credit [2027-03-17, 2027-04-01) -4.84", "recurring [2027-03-17, 2028-03-17) 100.00"}, "95.16", "basic", "2028-03-17", 0, false},
		{"monthly → annual priced per month, with mailboxes above the included", subscribed(t, mail, "2027-05-01", "1m", map[string]int64{"mailbox": 7}),
			nil, "12m", nil, "2027-05-11", Terms{},
			[]string{"change-credit [2027-05-11, 2027-06-01) -6.77", "resource mailbox×-2 [2027-05-11, 2027-06-01) -2.71",
				"recurring [2027-05-11, 2028-05-11) 96.00", "resource mailbox×2 [2027-05-11, 2028-05-11) 48.00"}, "134.52", "mail", "2028-05-11", 7, true},
		{"monthly → annual with one mailbox more: its setup fee, the year for 3", subscribed(t, mail, "2027-05-01", "1m", map[string]int64{"mailbox": 7}),
			nil, "12m", map[string]int64{"mailbox": 8}, "2027-05-11", Terms{},
			[]string{"setup mailbox×1 1.00", "change-credit [2027-05-11, 2027-06-01) -6.77", "resource mailbox×-2 [2027-05-11, 2027-06-01) -2.71",
				"recurring [2027-05-11, 2028-05-11) 96.00", "resource mailbox×3 [2027-05-11, 2028-05-11) 72.00"}, "159.52", "mail", "2028-05-11", 8, true},
		{"annual → monthly: the unused year is credited at once, never deferred", subscribed(t, basic, "2027-01-01", "12m", nil), nil, "1m", nil, "2027-03-01",
			Terms{Downgrade: DowngradeNextBillingDate},
			[]string{"change-credit [2027-03-01, 2028-01-01) -83.84", "recurring [2027-03-01, 2027-04-01) 10.00"}, "-73.84", "basic", "2027-04-01", 0, false},
		{"no proration still credits the days a period change ends early", subscribed(t, basic, "2027-03-01", "1m", nil), nil, "12m", nil, "2027-03-17",
			Terms{Proration: NoProration},
			[]string{"change-credit [2027-03-17, 2027-04-01) -4.84", "recurring [2027-03-17, 2028-03-17) 100.00"}, "95.16", "basic", "2028-03-17", 0, false},
		{"basic monthly → pro annual in one change", subscribed(t, basic, "2027-03-01", "1m", nil), pro, "12m", nil, "2027-03-17", Terms{},
			[]string{"change-credit [2027-03-17, 2027-04-01) -4.84", "recurring [2027-03-17, 2028-03-17) 360.00"}, "355.16", "pro", "2028-03-17", 0, false},
	}
	for _, c := range cases {
		q, err := QuoteChange(c.sub, ChangeRequest{On: date(c.on), Plan: c.to, Period: c.period, Resources: c.resources}, c.terms)
		if err != nil {
			t.Errorf("%s: %v", c.about, err)
			continue
		}
		checkQuote(t, c.about, q, c.lines, c.total)
		after := q.Subscription
		on := date(c.on)
		if !q.EffectiveOn.Equal(on) || after.Period != c.period || after.Plan.Key != c.plan || after.Pending != nil ||
			!after.Anchor.Equal(on) || !after.PeriodStart.Equal(on) || !after.PeriodEnd.Equal(date(c.periodEnd)) || !after.Start.Equal(c.sub.Start) {
			t.Errorf("%s: effective %s, after: plan %s period %s anchor %s [%s, %s) start %s pending %v; want %s %s from %s to %s",
				c.about, q.EffectiveOn.Format(time.DateOnly), after.Plan.Key, after.Period, after.Anchor.Format(time.DateOnly),
				after.PeriodStart.Format(time.DateOnly), after.PeriodEnd.Format(time.DateOnly), after.Start.Format(time.DateOnly),
				after.Pending != nil, c.plan, c.period, c.on, c.periodEnd)
		}
		if c.checkBoxes && after.Resources["mailbox"] != c.mailboxes {
			t.Errorf("%s: %d mailboxes after, want %d", c.about, after.Resources["mailbox"], c.mailboxes)
		}
		if c.sub.Period == c.period || !c.sub.Anchor.Before(on) {
			t.Errorf("%s: the quote changed the subscription it was given", c.about)
		}
	}
}

func TestQuotePeriodChangeRefused(t *testing.T) {
	t.Parallel()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "10.00"), {Duration: year12, Recurring: catalog.Price{Amount: amount("100.00")}}})
	trial := testPlan("crm", "USD", []catalog.Period{{Duration: days14, Trial: true}, monthly("0", "30.00"),
		{Duration: year12, Recurring: catalog.Price{Amount: amount("300.00")}}})
	cases := []struct {
		about  string
		sub    *Subscription
		period string
		on     string
		field  string
		reason string
	}{
		{"a period the plan lacks", subscribed(t, basic, "2027-03-01", "1m", nil), "24m", "2027-03-17", "period", ReasonUnknownPeriod},
		{"during a free trial", subscribed(t, trial, "2027-03-01", "14d", nil), "12m", "2027-03-05", "period", ReasonInTrial},
		{"to a free trial", subscribed(t, trial, "2027-03-01", "1m", nil), "14d", "2027-03-05", "period", ReasonNotAllowed},
		{"outside the current period", subscribed(t, basic, "2027-03-01", "1m", nil), "12m", "2027-04-01", "on", ReasonOutsidePeriod},
	}
	for _, c := range cases {
		_, err := QuoteChange(c.sub, ChangeRequest{On: date(c.on), Period: c.period}, Terms{})
		checkReason(t, c.about, err, c.field, c.reason)
	}
}

// TestQuoteChangeConfirmZero: a change whose total is zero is confirmed by
// the buyer, as a new order for nothing is (seed 7.2 §3.2); a trial's free
// resource change and a deferred downgrade are not zero-amount orders.
func TestQuoteChangeConfirmZero(t *testing.T) {
	t.Parallel()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "12.00")})
	pro := testPlan("pro", "USD", []catalog.Period{monthly("0", "36.00")})
	same := testPlan("same", "USD", []catalog.Period{monthly("0", "12.00")})
	basic.UpgradeTo, pro.DowngradeTo = []string{"pro", "same"}, []string{"basic"}
	free := testPlan("free", "USD", []catalog.Period{monthly("0", "0")}, rate("seat", 0, 0, 9, "0", "0"))
	crm := testPlan("crm", "USD", []catalog.Period{{Duration: days14, Trial: true}, monthly("0", "30.00")}, rate("seat", 0, 0, 9, "1.00", "4.00"))
	cases := []struct {
		about  string
		sub    *Subscription
		to     *catalog.Plan
		res    map[string]int64
		terms  Terms
		refuse bool
	}{
		{"an upgrade without proration costs nothing", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, Terms{Proration: NoProration}, true},
		{"a plan of the same fee costs nothing", subscribed(t, basic, "2027-03-01", "1m", nil), same, nil, Terms{}, true},
		{"more seats of a free plan", subscribed(t, free, "2027-03-01", "1m", nil), nil, map[string]int64{"seat": 3}, Terms{}, true},
		{"seats during a free trial", subscribed(t, crm, "2027-03-01", "14d", nil), nil, map[string]int64{"seat": 3}, Terms{}, false},
		{"a downgrade deferred to the next billing date", subscribed(t, pro, "2027-03-01", "1m", nil), basic, nil,
			Terms{Downgrade: DowngradeNextBillingDate}, false},
		{"a prorated upgrade", subscribed(t, basic, "2027-03-01", "1m", nil), pro, nil, Terms{}, false},
	}
	for _, c := range cases {
		req := ChangeRequest{On: date("2027-03-05"), Plan: c.to, Resources: c.res}
		_, err := QuoteChange(c.sub, req, c.terms)
		if c.refuse {
			checkReason(t, c.about+", unconfirmed", err, "confirm_zero", ReasonRequired)
		} else if err != nil {
			t.Errorf("%s: %v", c.about, err)
		}
		req.ConfirmZero = true
		if q, err := QuoteChange(c.sub, req, c.terms); err != nil || (c.refuse && q.Total != 0) {
			t.Errorf("%s, confirmed: %v", c.about, err)
		}
	}
	// The tiers above the vendor carry no confirmation of their own.
	if _, err := WholesaleChange(subscribed(t, basic, "2027-03-01", "1m", nil), Chain{basic, basic}, Chain{same, same},
		ChangeRequest{On: date("2027-03-05"), Plan: same, ConfirmZero: true}, Terms{}); err != nil {
		t.Errorf("wholesale change for nothing: %v", err)
	}
}
