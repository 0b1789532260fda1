package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v82"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// StripeConfig configures a Stripe gateway.
type StripeConfig struct {
	// Key is the secret API key of the Stripe account ("sk_live_…",
	// "sk_test_…" for test mode).
	Key string
	// APIBase overrides Stripe's API URL ("https://api.stripe.com"): for
	// stripe-mock in tests ("http://127.0.0.1:12111"). Empty: Stripe's.
	APIBase string
	// HTTPClient makes the calls; nil: the library's default (80 s
	// timeout).
	HTTPClient *http.Client
	// MaxNetworkRetries is how many times the library retries a call that
	// failed on the network or with a status Stripe marks as retryable,
	// with the same idempotency key (so a retry charges once). Negative:
	// the library's default (2).
	MaxNetworkRetries int
}

// Stripe charges cards through Stripe's PaymentIntents: one PaymentIntent
// per charge, created and confirmed in one call with the source as its
// payment method, under the charge's idempotency key, so that a retried
// charge (by the library or by a client of Marketplane with the same key)
// answers the same PaymentIntent rather than charging again. The receipt's
// ID is the PaymentIntent's id. It is safe for concurrent use.
type Stripe struct {
	client *stripe.Client
}

// NewStripe returns a Stripe gateway. Errors: EINVALID (no key, a bad
// APIBase).
func NewStripe(c StripeConfig) (*Stripe, error) {
	if c.Key == "" {
		return nil, marketplane.Errorf(marketplane.EINVALID, "stripe: an API key is required")
	}
	cfg := &stripe.BackendConfig{HTTPClient: c.HTTPClient,
		// The library logs every failed call at error level on its own
		// logger; Marketplane answers (and logs) the errors it returns.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if c.APIBase != "" {
		if !strings.HasPrefix(c.APIBase, "http://") && !strings.HasPrefix(c.APIBase, "https://") {
			return nil, marketplane.Errorf(marketplane.EINVALID, "stripe: API base %q is not an http(s) URL", c.APIBase)
		}
		cfg.URL = stripe.String(strings.TrimSuffix(c.APIBase, "/"))
	}
	if c.MaxNetworkRetries >= 0 {
		cfg.MaxNetworkRetries = stripe.Int64(int64(c.MaxNetworkRetries))
	}
	backends := &stripe.Backends{
		API:         stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect:     stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads:     stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
		MeterEvents: stripe.GetBackendWithConfig(stripe.MeterEventsBackend, cfg),
	}
	return &Stripe{client: stripe.NewClient(c.Key, stripe.WithBackends(backends))}, nil
}

// StripeAmount is amount of currency in Stripe's minor units: cents of
// USD (50.00 → 5000), yen of JPY (5000 → 5000), fils of KWD (1.250 →
// 1250). Stripe counts in the ISO 4217 minor unit except for ISK, which
// it takes in hundredths though the króna has none. ok is false when the
// currency is unknown or the amount is not a whole number of its minor
// unit.
func StripeAmount(amount money.Micros, currency string) (n int64, ok bool) {
	exp, ok := money.MinorUnits(currency)
	if !ok {
		return 0, false
	}
	if amount.Round(currency) != amount {
		return 0, false
	}
	if currency == "ISK" {
		exp = 2
	}
	unit := int64(1)
	for range 6 - exp {
		unit *= 10
	}
	return int64(amount) / unit, true
}

// Charge implements Gateway.
func (g *Stripe) Charge(ctx context.Context, r ChargeRequest) (Receipt, error) {
	var f marketplane.FieldErrors
	minor, ok := StripeAmount(r.Amount, r.Currency)
	if !ok || r.Amount <= 0 {
		f.Add("amount", fmt.Sprintf("%s is not a positive amount in %s", r.Amount, r.Currency))
	}
	if r.Source == "" {
		f.Add("source", "required")
	}
	if r.IdempotencyKey == "" {
		f.Add("idempotency_key", "required")
	}
	if err := f.Err("charge"); err != nil {
		return Receipt{}, err
	}
	p := &stripe.PaymentIntentCreateParams{
		Amount:   stripe.Int64(minor),
		Currency: stripe.String(strings.ToLower(r.Currency)),
		// The source is a PaymentMethod ("pm_card_visa") or a card token
		// ("tok_visa") made by Stripe's client libraries: Marketplane
		// never sees card numbers.
		PaymentMethod: stripe.String(r.Source),
		// Cards only, confirmed at once: no payment method that would
		// redirect the buyer somewhere, which a server cannot follow.
		PaymentMethodTypes: []*string{stripe.String("card")},
		Confirm:            stripe.Bool(true),
	}
	p.Context = ctx
	p.SetIdempotencyKey(r.IdempotencyKey)
	if r.AccountID != 0 {
		p.AddMetadata("marketplane_account_id", strconv.FormatInt(r.AccountID, 10))
	}
	// The card's brand and last digits name the payment for people.
	p.AddExpand("payment_method")
	pi, err := g.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return Receipt{}, stripeError(err)
	}
	return receiptOf(pi)
}

// receiptOf is the answer to a confirmed PaymentIntent. Only a succeeded
// one moved money; a card that needs its holder (3-D Secure) cannot be
// charged by a server and counts as declined, like one Stripe left
// without a working payment method.
func receiptOf(pi *stripe.PaymentIntent) (Receipt, error) {
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return Receipt{ID: pi.ID, Method: methodOf(pi)}, nil
	case stripe.PaymentIntentStatusRequiresAction:
		return Receipt{}, &Declined{Reason: "authentication_required"}
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		reason := "card_declined"
		if e := pi.LastPaymentError; e != nil {
			switch {
			case e.DeclineCode != "":
				reason = string(e.DeclineCode)
			case e.Code != "":
				reason = string(e.Code)
			}
		}
		return Receipt{}, &Declined{Reason: reason}
	case stripe.PaymentIntentStatusProcessing:
		// Money on its way, not yet there: nothing to record. The same
		// key asked again later answers the same PaymentIntent.
		return Receipt{}, marketplane.Errorf(marketplane.EUNAVAILABLE,
			"the card payment %s is still processing: retry with the same Idempotency-Key later", pi.ID)
	default:
		return Receipt{}, fmt.Errorf("stripe: payment intent %s is %s after confirmation", pi.ID, pi.Status)
	}
}

// methodOf says what a PaymentIntent charged, as a person reads it:
// "visa 4242" when Stripe expanded the payment method, its id otherwise.
func methodOf(pi *stripe.PaymentIntent) string {
	pm := pi.PaymentMethod
	switch {
	case pm == nil:
		return "card"
	case pm.Card != nil && pm.Card.Last4 != "":
		return string(pm.Card.Brand) + " " + pm.Card.Last4
	default:
		return "card " + pm.ID
	}
}

// stripeError maps an error of Stripe's library to Marketplane's: a card
// error is a *Declined; a request Stripe refuses is EINVALID on the field
// it names ("source" unless it is the amount or currency); an idempotency
// key used for another request is ECONFLICT; the network, Stripe's own
// failures, its rate limits and a key it does not accept are EUNAVAILABLE
// (the last is the operator's to fix, not the caller's). Stripe's error
// stays wrapped for the log.
func stripeError(err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: stripe: %w", marketplane.Errorf(marketplane.EUNAVAILABLE, "the card gateway cannot be reached"), err)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		reason := string(se.DeclineCode)
		if reason == "" {
			reason = string(se.Code)
		}
		if reason == "" {
			reason = "card_declined"
		}
		return &Declined{Reason: reason}
	case se.Type == stripe.ErrorTypeIdempotency:
		return marketplane.Errorf(marketplane.ECONFLICT, "the idempotency key was used for another charge")
	case se.Type == stripe.ErrorTypeInvalidRequest && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != http.StatusUnauthorized && se.HTTPStatusCode != http.StatusForbidden &&
		se.HTTPStatusCode != http.StatusTooManyRequests:
		field := "source"
		switch se.Param {
		case "amount", "currency":
			field = se.Param
		}
		msg := se.Msg
		if msg == "" {
			msg = "refused by the card gateway"
		}
		return fmt.Errorf("%w: stripe: %w", marketplane.FieldErrors{field: msg}.Err("charge"), err)
	default:
		return fmt.Errorf("%w: stripe: %s (status %d): %w", marketplane.Errorf(marketplane.EUNAVAILABLE, "the card gateway is unavailable"),
			se.Type, se.HTTPStatusCode, err)
	}
}
