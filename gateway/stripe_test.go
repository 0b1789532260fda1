package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

func amount(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// stripeMock is the URL of a running stripe-mock, Stripe's own mock of
// its API (MARKETPLANE_TEST_STRIPE, which .ci/run sets). Outside CI the
// tests that need it skip without it; in CI (CI=true) they fail.
func stripeMock(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MARKETPLANE_TEST_STRIPE")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MARKETPLANE_TEST_STRIPE is not set: CI must start stripe-mock (.ci/run)")
		}
		t.Skip("MARKETPLANE_TEST_STRIPE is not set: run stripe-mock (go install github.com/stripe/stripe-mock@latest) and set it to its http URL")
	}
	return u
}

// recorded is a request a stripe gateway made.
type recorded struct {
	method, path string
	header       http.Header
	form         url.Values
}

// recorder stands between a Stripe gateway and stripe-mock: it keeps every
// request and forwards it, so that stripe-mock checks it against Stripe's
// own API description (it refuses unknown parameters and wrong types).
// stripe-mock answers fixtures whatever the request: its PaymentIntents
// are always "requires_payment_method". outcome, when set, plays what
// Stripe's test mode does with a test card instead, on stripe-mock's
// answer: it may rewrite the body of an answer of stripe-mock's.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	outcome  func(status int, body []byte) []byte
	// extra is added to each request's form on its way to stripe-mock.
	extra string
}

func (rec *recorder) serve(t *testing.T, upstream string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{r.Method, r.URL.Path, r.Header.Clone(), form})
		outcome := rec.outcome
		if rec.extra != "" {
			body = append(body, "&"+rec.extra...)
		}
		rec.mu.Unlock()
		req, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if outcome != nil {
			answer = outcome(resp.StatusCode, answer)
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) == 0 {
		t.Fatal("no request reached stripe-mock")
	}
	return rec.requests[len(rec.requests)-1]
}

// succeeded plays Stripe's test mode for a test card that succeeds: the
// PaymentIntent stripe-mock answers, succeeded.
func succeeded(status int, body []byte) []byte {
	var pi map[string]any
	if status != http.StatusOK || json.Unmarshal(body, &pi) != nil || pi["object"] != "payment_intent" {
		return body
	}
	pi["status"] = "succeeded"
	out, err := json.Marshal(pi)
	if err != nil {
		panic(err)
	}
	return out
}

func newStripe(t *testing.T, base string) *Stripe {
	t.Helper()
	g, err := NewStripe(StripeConfig{Key: "sk_test_123", APIBase: base})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestStripeChargeRequest: each charge is one PaymentIntent, created and
// confirmed with the source as its payment method, under the charge's
// idempotency key, its amount in the currency's minor units as Stripe
// counts them. stripe-mock accepts every request (Stripe's API knows each
// parameter), reflects the amount and currency, and echoes the
// Idempotency-Key header it got.
func TestStripeChargeRequest(t *testing.T) {
	t.Parallel()
	rec := &recorder{outcome: succeeded}
	g := newStripe(t, rec.serve(t, stripeMock(t)))
	for _, c := range []struct {
		amount, currency string
		minor            string // the amount Stripe is sent
	}{
		{"50.00", "USD", "5000"},
		{"0.99", "EUR", "99"},
		{"5000", "JPY", "5000"}, // zero-decimal: yen
		{"1.250", "KWD", "1250"},
		{"500", "ISK", "50000"}, // Stripe counts the króna in hundredths
	} {
		key := "account 42 top-up " + c.currency
		r, err := g.Charge(context.Background(), ChargeRequest{AccountID: 42, Amount: amount(c.amount), Currency: c.currency,
			Source: "pm_card_visa", IdempotencyKey: key})
		if err != nil {
			t.Fatalf("%s %s: %v", c.amount, c.currency, err)
		}
		if !strings.HasPrefix(r.ID, "pi_") || r.Method == "" {
			t.Errorf("%s %s: receipt %+v", c.amount, c.currency, r)
		}
		req := rec.last(t)
		f := req.form
		if req.method != http.MethodPost || req.path != "/v1/payment_intents" || req.header.Get("Idempotency-Key") != key ||
			req.header.Get("Authorization") != "Bearer sk_test_123" {
			t.Errorf("%s: %s %s, headers %v", c.currency, req.method, req.path, req.header)
		}
		if f.Get("amount") != c.minor || f.Get("currency") != strings.ToLower(c.currency) || f.Get("payment_method") != "pm_card_visa" ||
			f.Get("confirm") != "true" || f.Get("payment_method_types[0]") != "card" || f.Get("metadata[marketplane_account_id]") != "42" {
			t.Errorf("%s %s: form %v", c.amount, c.currency, f)
		}
	}
}

// TestStripeIdempotencyKeyEchoed: stripe-mock answers the Idempotency-Key
// it was sent, seen by a client that talks to it directly.
func TestStripeIdempotencyKeyEchoed(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	var echoed string
	rec.outcome = func(status int, body []byte) []byte { return succeeded(status, body) }
	base := rec.serve(t, stripeMock(t))
	g := newStripe(t, base)
	if _, err := g.Charge(context.Background(), ChargeRequest{Amount: amount("10.00"), Currency: "USD", Source: "tok_visa",
		IdempotencyKey: "order 7 crm-981"}); err != nil {
		t.Fatal(err)
	}
	// Ask stripe-mock directly what it saw of the same request.
	last := rec.last(t)
	req, _ := http.NewRequest(http.MethodPost, stripeMock(t)+"/v1/payment_intents", strings.NewReader(last.form.Encode()))
	req.Header = last.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	echoed = resp.Header.Get("Idempotency-Key")
	if resp.StatusCode != http.StatusOK || echoed != "order 7 crm-981" {
		t.Errorf("stripe-mock answered %d with Idempotency-Key %q", resp.StatusCode, echoed)
	}
}

// TestStripeUnconfirmed: stripe-mock's own answer, a PaymentIntent that
// still requires a payment method after confirmation, moved no money: it
// is a decline, not a receipt.
func TestStripeUnconfirmed(t *testing.T) {
	t.Parallel()
	g := newStripe(t, stripeMock(t))
	r, err := g.Charge(context.Background(), ChargeRequest{Amount: amount("50.00"), Currency: "USD", Source: "pm_card_visa", IdempotencyKey: "k"})
	var d *Declined
	if !errors.As(err, &d) || r != (Receipt{}) || marketplane.ErrorCode(err) != marketplane.ECONFLICT {
		t.Errorf("receipt %+v, error %v; want a decline", r, err)
	}
}

// TestStripeRefusedByStripe: a request stripe-mock refuses (here with a
// parameter Stripe's API does not know, added on the way) is the caller's
// error on "source": Stripe's answer names no field of the charge.
func TestStripeRefusedByStripe(t *testing.T) {
	t.Parallel()
	rec := &recorder{extra: "surcharge=5"}
	g := newStripe(t, rec.serve(t, stripeMock(t)))
	_, err := g.Charge(context.Background(), ChargeRequest{Amount: amount("50.00"), Currency: "USD",
		Source: "pm_card_visa", IdempotencyKey: "k"})
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID || e.Fields["source"] == "" {
		t.Errorf("error %v; want EINVALID on source", err)
	}
}

// stripeAnswers serves one canned answer of Stripe's API: what stripe-mock
// cannot play (it answers success to every valid request).
func stripeAnswers(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStripeErrors: Stripe's errors, as its API documents them, become
// Marketplane's: a card error a decline with its reason, a refused request
// the caller's error on its field, an idempotency key reused ECONFLICT,
// Stripe's failures, limits, a key it refuses and the network
// EUNAVAILABLE. Nothing is a receipt.
func TestStripeErrors(t *testing.T) {
	t.Parallel()
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	for _, c := range []struct {
		name     string
		base     string
		code     string
		declined string // the decline's reason
		field    string // the field of an EINVALID
	}{
		{"card declined", stripeAnswers(t, 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
			"message":"Your card has insufficient funds.","payment_intent":{"id":"pi_1","object":"payment_intent","status":"requires_payment_method"}}}`),
			marketplane.ECONFLICT, "insufficient_funds", ""},
		{"expired card", stripeAnswers(t, 402, `{"error":{"type":"card_error","code":"expired_card","message":"Your card has expired."}}`),
			marketplane.ECONFLICT, "expired_card", ""},
		{"no such payment method", stripeAnswers(t, 400, `{"error":{"type":"invalid_request_error","code":"resource_missing",
			"param":"payment_method","message":"No such PaymentMethod: 'pm_nope'"}}`), marketplane.EINVALID, "", "source"},
		{"amount too small", stripeAnswers(t, 400, `{"error":{"type":"invalid_request_error","code":"amount_too_small",
			"param":"amount","message":"Amount must be at least $0.50 usd"}}`), marketplane.EINVALID, "", "amount"},
		{"key reused", stripeAnswers(t, 400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`),
			marketplane.ECONFLICT, "", ""},
		{"bad API key", stripeAnswers(t, 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***"}}`),
			marketplane.EUNAVAILABLE, "", ""},
		{"rate limited", stripeAnswers(t, 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`),
			marketplane.EUNAVAILABLE, "", ""},
		{"stripe fails", stripeAnswers(t, 500, `{"error":{"type":"api_error","message":"Something went wrong"}}`),
			marketplane.EUNAVAILABLE, "", ""},
		{"network", closed, marketplane.EUNAVAILABLE, "", ""},
	} {
		g, err := NewStripe(StripeConfig{Key: "sk_test_123", APIBase: c.base, MaxNetworkRetries: 0})
		if err != nil {
			t.Fatal(err)
		}
		r, err := g.Charge(context.Background(), ChargeRequest{Amount: amount("50.00"), Currency: "USD", Source: "pm_card_visa", IdempotencyKey: "k"})
		if r != (Receipt{}) || marketplane.ErrorCode(err) != c.code {
			t.Errorf("%s: %+v, %v; want code %s", c.name, r, err, c.code)
			continue
		}
		var d *Declined
		if errors.As(err, &d) != (c.declined != "") || c.declined != "" && d.Reason != c.declined {
			t.Errorf("%s: %v; want declined %q", c.name, err, c.declined)
		}
		var e *marketplane.Error
		if c.field != "" && (!errors.As(err, &e) || e.Fields[c.field] == "") {
			t.Errorf("%s: %v; want a field error on %s", c.name, err, c.field)
		}
	}
}

// TestStripeRefusesBadRequests: what Marketplane can tell is wrong never
// reaches Stripe.
func TestStripeRefusesBadRequests(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	g := newStripe(t, srv.URL)
	for _, r := range []ChargeRequest{
		{Amount: amount("1.005"), Currency: "USD", Source: "pm_card_visa", IdempotencyKey: "k"},
		{Amount: amount("10.5"), Currency: "JPY", Source: "pm_card_visa", IdempotencyKey: "k"},
		{Amount: amount("-1"), Currency: "USD", Source: "pm_card_visa", IdempotencyKey: "k"},
		{Amount: amount("1.00"), Currency: "ZZZ", Source: "pm_card_visa", IdempotencyKey: "k"},
		{Amount: amount("1.00"), Currency: "USD", IdempotencyKey: "k"},
		{Amount: amount("1.00"), Currency: "USD", Source: "pm_card_visa"},
	} {
		if _, err := g.Charge(context.Background(), r); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("%+v: %v", r, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d calls reached Stripe", calls)
	}
	if _, err := NewStripe(StripeConfig{}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("no key: %v", err)
	}
	if _, err := NewStripe(StripeConfig{Key: "sk", APIBase: "ftp://x"}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("bad base: %v", err)
	}
}

// TestOfflineRefuses: an installation without a card gateway charges
// nothing and says why, on the source.
func TestOfflineRefuses(t *testing.T) {
	t.Parallel()
	r, err := Offline{}.Charge(context.Background(), ChargeRequest{Amount: amount("70.00"), Currency: "USD", Source: "tok_visa", IdempotencyKey: "k"})
	var e *marketplane.Error
	if r != (Receipt{}) || !errors.As(err, &e) || e.Code != marketplane.EINVALID || e.Message != NoCardGateway || e.Fields["source"] == "" {
		t.Errorf("offline: %+v, %v", r, err)
	}
}
