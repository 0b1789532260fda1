package delegation

import (
	"errors"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// TestRuleOverflowIsTheCallersError: an exchange rate of 2^63 makes a
// 5.00 price too large to hold; that is a bad rule (EINVALID at "rule"),
// not an internal error.
func TestRuleOverflowIsTheCallersError(t *testing.T) {
	for _, rule := range []catalog.PriceRule{
		{Kind: catalog.RuleCopy, ExchangeRate: "9223372036854775808"},
		{Kind: catalog.RulePercent, Percent: "10", ExchangeRate: "2000000000000"},
	} {
		p, err := newPricer(&rule, "USD", "EUR")
		if err != nil {
			t.Fatalf("%+v: %v", rule, err)
		}
		_, err = p.derive(money.Micros(5_000_000))
		var e *marketplane.Error
		if marketplane.ErrorCode(err) != marketplane.EINVALID || !errors.As(err, &e) || e.Fields["rule"] == "" {
			t.Errorf("%+v: %v, want EINVALID at rule", rule, err)
		}
	}
}
