package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// Test is a deterministic gateway that moves no money. Its sources are
// the well-known test tokens of card providers:
//
//	tok_visa                succeeds, "visa 4242"
//	tok_mastercard          succeeds, "mastercard 4444"
//	tok_declined            declined: card_declined
//	tok_insufficient_funds  declined: insufficient_funds
//
// Any other source is invalid. Receipts are numbered ch_test_000001,
// ch_test_000002 … in the order of the charges, and a repeated idempotency
// key answers its first answer, a decline included. Test remembers every
// key for its life: it is meant for tests, demos and servers without a
// payment provider, not for millions of charges. It is safe for concurrent
// use; the zero value is ready.
type Test struct {
	mu   sync.Mutex
	next int
	// done holds the answer to each idempotency key.
	done map[string]testCharge
}

// testCharge is a request and the answer it got.
type testCharge struct {
	req     ChargeRequest
	receipt Receipt
	err     error
}

// NewTest returns a Test gateway.
func NewTest() *Test { return &Test{} }

// testSources are the sources Test knows: the method of those that
// succeed, the reason of those declined.
var testSources = map[string]struct{ method, declined string }{
	"tok_visa":               {method: "visa 4242"},
	"tok_mastercard":         {method: "mastercard 4444"},
	"tok_declined":           {declined: "card_declined"},
	"tok_insufficient_funds": {declined: "insufficient_funds"},
}

// Charge implements Gateway.
func (g *Test) Charge(ctx context.Context, r ChargeRequest) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	var f marketplane.FieldErrors
	if r.Amount <= 0 || r.Amount.Round(r.Currency) != r.Amount {
		f.Add("amount", fmt.Sprintf("%s is not a positive amount in %s", r.Amount, r.Currency))
	}
	if _, ok := money.MinorUnits(r.Currency); !ok {
		f.Add("currency", fmt.Sprintf("unknown currency %q", r.Currency))
	}
	src, ok := testSources[r.Source]
	if !ok {
		f.Add("source", "unknown test source: use tok_visa, tok_mastercard, tok_declined or tok_insufficient_funds")
	}
	if r.IdempotencyKey == "" {
		f.Add("idempotency_key", "required")
	}
	if err := f.Err("charge"); err != nil {
		return Receipt{}, err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.done[r.IdempotencyKey]; ok {
		if c.req != r {
			return Receipt{}, marketplane.Errorf(marketplane.ECONFLICT, "the idempotency key was used for another charge")
		}
		return c.receipt, c.err
	}
	c := testCharge{req: r}
	if src.declined != "" {
		c.err = &Declined{Reason: src.declined}
	} else {
		g.next++
		c.receipt = Receipt{ID: fmt.Sprintf("ch_test_%06d", g.next), Method: src.method}
	}
	if g.done == nil {
		g.done = map[string]testCharge{}
	}
	g.done[r.IdempotencyKey] = c
	return c.receipt, c.err
}

// Charges is how many charges succeeded, a repeated key counted once.
func (g *Test) Charges() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.next
}
