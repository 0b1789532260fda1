package order

import (
	"fmt"
	"time"

	"github.com/marketplane/marketplane/catalog"
)

// Chain is a plan with its sources up the reseller tree: Chain[0] is the
// plan the vendor sells, Chain[1] the plan of the vendor's parent that
// Chain[0] was delegated from, and so on up to the provider's original.
type Chain []*catalog.Plan

// Check verifies that each plan is the source of the one before it: the
// same key and, where ids are set, SourceID pointing at it.
func (c Chain) Check() error {
	if len(c) == 0 {
		return fmt.Errorf("plan chain: empty")
	}
	for i := 1; i < len(c); i++ {
		below, above := c[i-1], c[i]
		if below.Key != above.Key {
			return fmt.Errorf("plan chain: %q at tier %d is not a copy of %q", below.Key, i-1, above.Key)
		}
		if below.SourceID != 0 && above.ID != 0 && below.SourceID != above.ID {
			return fmt.Errorf("plan chain: plan %d at tier %d has source %d, not %d", below.ID, i-1, below.SourceID, above.ID)
		}
	}
	return nil
}

// The wholesale side of a sale (golden rule 9): when a customer of reseller
// R buys, R's parent invoices R for the same order at the parent's price of
// the source plan, on the same dates with the same proration, and so on up
// to the provider. Each tier's quote is the vendor's quote priced again with
// the plans of that tier; only tax differs (taxes[i-1] is the tax of the
// invoice to tier i-1's owner; missing means none). A tier needs no zero
// confirmation: the customer's order carries it.
//
// The quotes come back one per tier above the vendor: quote i-1 is what the
// owner of chain[i] invoices the owner of chain[i-1].
//
//	provider 8.00 → L1 10.00 (+25 %) → L2 14.99, a customer of L2 buys on 2027-01-10:
//	  L2 → customer 14.99 (QuoteNew), L1 → L2 10.00, provider → L1 8.00 (WholesaleNew)

// WholesaleNew prices a new subscription at every tier above the vendor.
func WholesaleNew(chain Chain, req NewRequest, t Terms, taxes ...TaxRule) ([]*Quote, error) {
	if err := chain.Check(); err != nil {
		return nil, err
	}
	req.ConfirmZero = true
	var out []*Quote
	for i := 1; i < len(chain); i++ {
		q, err := QuoteNew(chain[i], req, tierTerms(t, i, taxes))
		if err != nil {
			return nil, fmt.Errorf("tier %d (plan %q): %w", i, chain[i].Key, err)
		}
		out = append(out, q)
	}
	return out, nil
}

// WholesaleChange prices a change at every tier above the vendor: sub is
// the vendor's subscription (sub.Plan = from[0]); from and to are the chains
// of the current and the new plan (to is nil for a resource change).
func WholesaleChange(sub *Subscription, from, to Chain, req ChangeRequest, t Terms, taxes ...TaxRule) ([]*Quote, error) {
	if err := from.Check(); err != nil {
		return nil, err
	}
	if sub.Plan != from[0] && sub.Plan.Key != from[0].Key {
		return nil, fmt.Errorf("wholesale change: the subscription's plan %q is not the chain's %q", sub.Plan.Key, from[0].Key)
	}
	if to == nil && req.Plan != nil && req.Plan.Key != sub.Plan.Key {
		return nil, fmt.Errorf("wholesale change: a change to plan %q needs that plan's chain", req.Plan.Key)
	}
	if to != nil {
		if err := to.Check(); err != nil {
			return nil, err
		}
		if len(to) != len(from) {
			return nil, fmt.Errorf("wholesale change: the plans come from %d and %d tiers", len(from), len(to))
		}
	}
	req.ConfirmZero = true
	var out []*Quote
	for i := 1; i < len(from); i++ {
		s := sub.Clone()
		s.Plan = from[i]
		r := req
		if to != nil {
			r.Plan = to[i]
		}
		q, err := QuoteChange(s, r, tierTerms(t, i, taxes))
		if err != nil {
			return nil, fmt.Errorf("tier %d (plan %q): %w", i, from[i].Key, err)
		}
		out = append(out, q)
	}
	return out, nil
}

// WholesaleCancel prices a cancellation at every tier above the vendor:
// each parent refunds its reseller by the refund policy of its own plan.
func WholesaleCancel(sub *Subscription, chain Chain, on time.Time, t Terms, taxes ...TaxRule) ([]*Quote, error) {
	if err := chain.Check(); err != nil {
		return nil, err
	}
	var out []*Quote
	for i := 1; i < len(chain); i++ {
		s := sub.Clone()
		s.Plan = chain[i]
		q, err := QuoteCancel(s, on, tierTerms(t, i, taxes))
		if err != nil {
			return nil, fmt.Errorf("tier %d (plan %q): %w", i, chain[i].Key, err)
		}
		out = append(out, q)
	}
	return out, nil
}

func tierTerms(t Terms, i int, taxes []TaxRule) Terms {
	t.Tax = TaxRule{}
	if i-1 < len(taxes) {
		t.Tax = taxes[i-1]
	}
	return t
}
