package gatewaytest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/money"
)

func usd(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// TestCharges: one gateway, charges in order, each with what it answers;
// a key answered before answers the same receipt again.
func TestCharges(t *testing.T) {
	t.Parallel()
	g := New()
	receipts := map[string]gateway.Receipt{} // by key
	for _, c := range []struct {
		source, key string
		amount      string
		method      string // of the receipt; "" for none
		code        string // the error's Marketplane code; "" for none
		declined    string // the decline's reason
	}{
		{"tok_visa", "k1", "50.00", "visa 4242", "", ""},
		{"tok_mastercard", "k2", "9.99", "mastercard 4444", "", ""},
		{"tok_declined", "k3", "50.00", "", marketplane.ECONFLICT, "card_declined"},
		{"tok_insufficient_funds", "k4", "50.00", "", marketplane.ECONFLICT, "insufficient_funds"},
		// The first answer to a key, again: same receipt, no new charge.
		{"tok_visa", "k1", "50.00", "visa 4242", "", ""},
		{"tok_declined", "k3", "50.00", "", marketplane.ECONFLICT, "card_declined"},
		// A key used for another request is refused.
		{"tok_visa", "k1", "60.00", "", marketplane.ECONFLICT, ""},
		{"tok_visa", "k5", "12.00", "visa 4242", "", ""},
		// Bad requests charge nothing.
		{"tok_unknown", "k6", "1.00", "", marketplane.EINVALID, ""},
		{"tok_visa", "k7", "0", "", marketplane.EINVALID, ""},
		{"tok_visa", "k8", "1.005", "", marketplane.EINVALID, ""},
		{"tok_visa", "", "1.00", "", marketplane.EINVALID, ""},
	} {
		r, err := g.Charge(context.Background(), gateway.ChargeRequest{AccountID: 7, Amount: usd(c.amount), Currency: "USD",
			Source: c.source, IdempotencyKey: c.key})
		if r.Method != c.method || (r.ID != "") != (c.method != "") || marketplane.ErrorCode(err) != c.code {
			t.Errorf("%s %s %s: %+v, %v; want method %q, code %q", c.source, c.key, c.amount, r, err, c.method, c.code)
		}
		if r.ID != "" {
			if first, ok := receipts[c.key]; ok && first != r {
				t.Errorf("key %s answered %+v, then %+v", c.key, first, r)
			}
			receipts[c.key] = r
		}
		var d *gateway.Declined
		if errors.As(err, &d) != (c.declined != "") || c.declined != "" && d.Reason != c.declined {
			t.Errorf("%s %s: error %v, want declined %q", c.source, c.key, err, c.declined)
		}
		if c.declined != "" && (marketplane.ErrorMessage(err) != "card declined" || !gateway.IsDeclined(err)) {
			t.Errorf("%s: message %q", c.source, marketplane.ErrorMessage(err))
		}
	}
	if n := g.Charges(); n != 3 || len(receipts) != 3 {
		t.Errorf("%d charges, %d receipts; want 3", n, len(receipts))
	}
	ids := map[string]bool{}
	for _, r := range receipts {
		ids[r.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("receipts share ids: %+v", receipts)
	}
}

// TestReceiptsUniqueAcrossGateways: two gateways (two processes, or one
// before and after a restart) never answer one receipt for two charges.
func TestReceiptsUniqueAcrossGateways(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, err := New().Charge(ctx, gateway.ChargeRequest{Amount: usd("50.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New().Charge(ctx, gateway.ChargeRequest{Amount: usd("70.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "k2"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID {
		t.Errorf("two gateways answered the same receipt %s", a.ID)
	}
}

// TestFieldErrors: a bad request names its fields.
func TestFieldErrors(t *testing.T) {
	t.Parallel()
	_, err := New().Charge(context.Background(), gateway.ChargeRequest{Amount: -1, Currency: "XXX", Source: "4242424242424242"})
	var e *marketplane.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v", err)
	}
	for _, f := range []string{"amount", "currency", "source", "idempotency_key"} {
		if e.Fields[f] == "" {
			t.Errorf("no error for %s: %v", f, e.Fields)
		}
	}
}

// TestConcurrentKey: requests racing with one key charge once.
func TestConcurrentKey(t *testing.T) {
	t.Parallel()
	var g Gateway // the zero value is ready
	var wg sync.WaitGroup
	receipts := make([]gateway.Receipt, 20)
	for i := range receipts {
		wg.Go(func() {
			r, err := g.Charge(context.Background(), gateway.ChargeRequest{Amount: usd("5.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "same"})
			if err != nil {
				t.Error(err)
			}
			receipts[i] = r
		})
	}
	wg.Wait()
	for _, r := range receipts {
		if r != receipts[0] {
			t.Fatalf("receipts differ: %+v", receipts)
		}
	}
	if g.Charges() != 1 {
		t.Errorf("%d charges", g.Charges())
	}
}

// TestCancelled: a cancelled context charges nothing.
func TestCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := New()
	if _, err := g.Charge(ctx, gateway.ChargeRequest{Amount: usd("5.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "k"}); err == nil || g.Charges() != 0 {
		t.Errorf("charged on a cancelled context: %v", err)
	}
}
