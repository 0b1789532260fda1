// Package gatewaytest is a card gateway for tests: it moves no money and
// knows only the test tokens of card providers. Servers never wire it
// (serve wires Stripe or gateway.Offline); tests hand it to the API
// through api.Config.Gateway.
package gatewaytest

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/money"
)

// Gateway is a card gateway that moves no money. Its sources are the
// well-known test tokens of card providers:
//
//	tok_visa                succeeds, "visa 4242"
//	tok_mastercard          succeeds, "mastercard 4444"
//	tok_declined            declined: card_declined
//	tok_insufficient_funds  declined: insufficient_funds
//
// Any other source is invalid. Receipts are "ch_test_" and random text,
// unique across gateways as a provider's ids are, so that two processes
// (or one after a restart) never answer the same receipt for two charges;
// a repeated idempotency key answers its first answer, a decline included.
// Gateway remembers every key for its life. It is safe for concurrent
// use; the zero value is ready.
type Gateway struct {
	mu      sync.Mutex
	charges int
	// done holds the answer to each idempotency key.
	done map[string]charge
}

// charge is a request and the answer it got.
type charge struct {
	req     gateway.ChargeRequest
	receipt gateway.Receipt
	err     error
}

// New returns a Gateway.
func New() *Gateway { return &Gateway{} }

// sources are the sources Gateway knows: the method of those that
// succeed, the reason of those declined.
var sources = map[string]struct{ method, declined string }{
	"tok_visa":               {method: "visa 4242"},
	"tok_mastercard":         {method: "mastercard 4444"},
	"tok_declined":           {declined: "card_declined"},
	"tok_insufficient_funds": {declined: "insufficient_funds"},
}

// Charge implements gateway.Gateway.
func (g *Gateway) Charge(ctx context.Context, r gateway.ChargeRequest) (gateway.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return gateway.Receipt{}, err
	}
	var f marketplane.FieldErrors
	if r.Amount <= 0 || r.Amount.Round(r.Currency) != r.Amount {
		f.Add("amount", fmt.Sprintf("%s is not a positive amount in %s", r.Amount, r.Currency))
	}
	if _, ok := money.MinorUnits(r.Currency); !ok {
		f.Add("currency", fmt.Sprintf("unknown currency %q", r.Currency))
	}
	src, ok := sources[r.Source]
	if !ok {
		f.Add("source", "unknown test source: use tok_visa, tok_mastercard, tok_declined or tok_insufficient_funds")
	}
	if r.IdempotencyKey == "" {
		f.Add("idempotency_key", "required")
	}
	if err := f.Err("charge"); err != nil {
		return gateway.Receipt{}, err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.done[r.IdempotencyKey]; ok {
		if c.req != r {
			return gateway.Receipt{}, marketplane.Errorf(marketplane.ECONFLICT, "the idempotency key was used for another charge")
		}
		return c.receipt, c.err
	}
	c := charge{req: r}
	if src.declined != "" {
		c.err = &gateway.Declined{Reason: src.declined}
	} else {
		g.charges++
		c.receipt = gateway.Receipt{ID: "ch_test_" + strings.ToLower(rand.Text()), Method: src.method}
	}
	if g.done == nil {
		g.done = map[string]charge{}
	}
	g.done[r.IdempotencyKey] = c
	return c.receipt, c.err
}

// Charges is how many charges succeeded, a repeated key counted once.
func (g *Gateway) Charges() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.charges
}
