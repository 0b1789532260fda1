package order

import (
	"testing"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

// chain delegates basic and pro from the provider (8.00, 24.00) to L1 with
// a 25 % markup and on to L2, which prices by hand.
func chain(t *testing.T) (basics, pros Chain) {
	t.Helper()
	basic := testPlan("basic", "USD", []catalog.Period{monthly("0", "8.00")}, rate("seat", 1, 1, 10, "0", "2.00"))
	pro := testPlan("pro", "USD", []catalog.Period{monthly("0", "24.00")}, rate("seat", 1, 1, 10, "0", "2.00"))
	basic.ID, pro.ID, basic.UpgradeTo, pro.DowngradeTo = 1, 2, []string{"pro"}, []string{"basic"}
	up := func(src *catalog.Plan, id int64, rule catalog.PriceRule) *catalog.Plan {
		c, err := delegation.Delegate(src, 100+id, "USD", delegation.DelegateOptions{Rule: rule})
		if err != nil {
			t.Fatal(err)
		}
		c.ID = id
		return c
	}
	markup := catalog.PriceRule{Kind: catalog.RulePercent, Percent: "25"}
	manual := catalog.PriceRule{Kind: catalog.RuleManual}
	l1Basic, l1Pro := up(basic, 11, markup), up(pro, 12, markup)
	l2Basic, l2Pro := up(l1Basic, 21, manual), up(l1Pro, 22, manual)
	l2Basic.Periods[0].Recurring.Amount, l2Pro.Periods[0].Recurring.Amount = amount("14.99"), amount("39.99")
	l2Basic.Rates[0].Recurring.Amount, l2Pro.Rates[0].Recurring.Amount = amount("3.00"), amount("3.00")
	return Chain{l2Basic, l1Basic, basic}, Chain{l2Pro, l1Pro, pro}
}

// Golden rule 9 and scenario 12: each tier is invoiced by its parent at the
// parent's price, on the customer's dates with the customer's proration.
func TestWholesale(t *testing.T) {
	t.Parallel()
	basics, pros := chain(t)
	req := NewRequest{On: date("2027-01-10"), Period: "1m", Resources: map[string]int64{"seat": 3}}
	retail, err := QuoteNew(basics[0], req, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "L2 → customer", retail, []string{"recurring [2027-01-10, 2027-02-10) 14.99", "resource seat×2 [2027-01-10, 2027-02-10) 6.00"}, "20.99")
	tiers, err := WholesaleNew(basics, req, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "L1 → L2", tiers[0], []string{"recurring [2027-01-10, 2027-02-10) 10.00", "resource seat×2 [2027-01-10, 2027-02-10) 5.00"}, "15.00")
	checkQuote(t, "provider → L1", tiers[1], []string{"recurring [2027-01-10, 2027-02-10) 8.00", "resource seat×2 [2027-01-10, 2027-02-10) 4.00"}, "12.00")

	// An upgrade on 2027-01-25, 16 of 31 days left, at every tier.
	sub := retail.Subscription
	change := ChangeRequest{On: date("2027-01-25"), Plan: pros[0]}
	retail, err = QuoteChange(sub, change, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "upgrade, L2 → customer", retail, []string{
		"change-credit [2027-01-25, 2027-02-10) -7.74", // 14.99 × 16/31 = 7.7368
		"change-charge [2027-01-25, 2027-02-10) 20.64", // 39.99 × 16/31 = 20.6400
	}, "12.90")
	tiers, err = WholesaleChange(sub, basics, pros, change, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, "upgrade, L1 → L2", tiers[0], []string{
		"change-credit [2027-01-25, 2027-02-10) -5.16", // 10.00 × 16/31 = 5.1613
		"change-charge [2027-01-25, 2027-02-10) 15.48", // 30.00 × 16/31 = 15.4839
	}, "10.32")
	checkQuote(t, "upgrade, provider → L1", tiers[1], []string{
		"change-credit [2027-01-25, 2027-02-10) -4.13", // 8.00 × 16/31 = 4.1290
		"change-charge [2027-01-25, 2027-02-10) 12.39", // 24.00 × 16/31 = 12.3871
	}, "8.26")
	// A deferred downgrade is deferred at every tier.
	down := ChangeRequest{On: date("2027-01-28"), Plan: basics[0]}
	tiers, err = WholesaleChange(retail.Subscription, pros, basics, down, Terms{Downgrade: DowngradeNextBillingDate})
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range tiers {
		if !q.Empty() || !q.EffectiveOn.Equal(date("2027-02-10")) || q.Subscription.Pending == nil {
			t.Errorf("deferred downgrade at tier %d: %v effective %s", i+1, show(q), q.EffectiveOn)
		}
	}
	if _, err := WholesaleChange(retail.Subscription, basics, pros, down, Terms{}); err == nil {
		t.Error("a chain that is not the subscription's plan was accepted")
	}
	tiers, err = WholesaleCancel(sub, basics, date("2027-01-12"), Terms{})
	if err != nil || len(tiers) != 2 || !tiers[0].Empty() {
		t.Errorf("cancellation without a refund policy: %v %v", err, tiers)
	}
	if err := (Chain{basics[0], pros[1]}).Check(); err == nil {
		t.Error("a chain of unrelated plans passed its check")
	}
}
