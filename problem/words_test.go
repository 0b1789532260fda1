package problem_test

import (
	"testing"

	"github.com/marketplane/marketplane/problem"
)

func TestWords(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"connector office: not_found: connector office not registered":             "connector office: connector office not registered",
		"not_found: plan not found":                                                "plan not found",
		"conflict: order 7 is provisioning_failed; only a failed order is retried": "order 7 is failed at provisioning; only a failed order is retried",
		"account 5 is credit_hold":                                                 "account 5 is on credit hold",
		"the order is waiting_payment already; it cannot become completed":         "the order is waiting for payment already; it cannot become completed",
		// Other snake_case words (field names) stay; so does a code
		// that is not a prefix.
		"prices below cost are refused unless sell_below_cost is set": "prices below cost are refused unless sell_below_cost is set",
		"an invalid name": "an invalid name",
	} {
		if got := problem.Words(in); got != want {
			t.Errorf("Words(%q) = %q, want %q", in, got, want)
		}
	}
}
