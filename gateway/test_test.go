package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

func usd(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// TestTestCharges: one gateway, charges in order, each with what it
// answers; receipts are numbered by the charges that succeed.
func TestTestCharges(t *testing.T) {
	t.Parallel()
	g := NewTest()
	for _, c := range []struct {
		source, key string
		amount      string
		receipt     Receipt
		code        string // the error's Marketplane code; "" for none
		declined    string // the decline's reason
	}{
		{"tok_visa", "k1", "50.00", Receipt{"ch_test_000001", "visa 4242"}, "", ""},
		{"tok_mastercard", "k2", "9.99", Receipt{"ch_test_000002", "mastercard 4444"}, "", ""},
		{"tok_declined", "k3", "50.00", Receipt{}, marketplane.ECONFLICT, "card_declined"},
		{"tok_insufficient_funds", "k4", "50.00", Receipt{}, marketplane.ECONFLICT, "insufficient_funds"},
		// The first answer to a key, again: same receipt, no new charge.
		{"tok_visa", "k1", "50.00", Receipt{"ch_test_000001", "visa 4242"}, "", ""},
		{"tok_declined", "k3", "50.00", Receipt{}, marketplane.ECONFLICT, "card_declined"},
		// A key used for another request is refused.
		{"tok_visa", "k1", "60.00", Receipt{}, marketplane.ECONFLICT, ""},
		{"tok_visa", "k5", "12.00", Receipt{"ch_test_000003", "visa 4242"}, "", ""},
		// Bad requests charge nothing.
		{"tok_unknown", "k6", "1.00", Receipt{}, marketplane.EINVALID, ""},
		{"tok_visa", "k7", "0", Receipt{}, marketplane.EINVALID, ""},
		{"tok_visa", "k8", "1.005", Receipt{}, marketplane.EINVALID, ""},
		{"tok_visa", "", "1.00", Receipt{}, marketplane.EINVALID, ""},
	} {
		r, err := g.Charge(context.Background(), ChargeRequest{AccountID: 7, Amount: usd(c.amount), Currency: "USD",
			Source: c.source, IdempotencyKey: c.key})
		if r != c.receipt || marketplane.ErrorCode(err) != c.code {
			t.Errorf("%s %s %s: %+v, %v; want %+v, code %q", c.source, c.key, c.amount, r, err, c.receipt, c.code)
		}
		var d *Declined
		if errors.As(err, &d) != (c.declined != "") || c.declined != "" && d.Reason != c.declined {
			t.Errorf("%s %s: error %v, want declined %q", c.source, c.key, err, c.declined)
		}
		if c.declined != "" && (marketplane.ErrorMessage(err) != "card declined" || !IsDeclined(err)) {
			t.Errorf("%s: message %q", c.source, marketplane.ErrorMessage(err))
		}
	}
	if n := g.Charges(); n != 3 {
		t.Errorf("%d charges, want 3", n)
	}
}

// TestTestFieldErrors: a bad request names its fields.
func TestTestFieldErrors(t *testing.T) {
	t.Parallel()
	_, err := NewTest().Charge(context.Background(), ChargeRequest{Amount: -1, Currency: "XXX", Source: "4242424242424242"})
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

// TestTestConcurrentKey: requests racing with one key charge once.
func TestTestConcurrentKey(t *testing.T) {
	t.Parallel()
	var g Test // the zero value is ready
	var wg sync.WaitGroup
	receipts := make([]Receipt, 20)
	for i := range receipts {
		wg.Go(func() {
			r, err := g.Charge(context.Background(), ChargeRequest{Amount: usd("5.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "same"})
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

// TestTestCancelled: a cancelled context charges nothing.
func TestTestCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := NewTest()
	if _, err := g.Charge(ctx, ChargeRequest{Amount: usd("5.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "k"}); err == nil || g.Charges() != 0 {
		t.Errorf("charged on a cancelled context: %v", err)
	}
}
