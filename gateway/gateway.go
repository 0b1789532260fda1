// Package gateway charges buyers' payment sources (cards and the like)
// through a payment service provider. Marketplane records the money a
// charge brings as a payment in its ledger (store.ReceivePayment); the
// gateway only moves it.
//
// Gateway is the one interface. Stripe charges cards through Stripe;
// Offline is the gateway of an installation without a card provider: it
// charges nothing and says so, and staff record the money received by
// other means (bank transfers, cash) as payments. Tests charge the fake
// cards of package gateway/gatewaytest.
package gateway

import (
	"context"
	"errors"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// Gateway charges payment sources.
type Gateway interface {
	// Charge takes r.Amount from r.Source. A request repeated with the
	// same IdempotencyKey charges once and answers the first answer again,
	// so that a caller that lost the answer (a timeout, a crash before
	// recording it) may safely ask again.
	//
	// Errors: EINVALID (amount, currency, source), ECONFLICT (the
	// idempotency key was used for another request), a *Declined (its
	// code is ECONFLICT) when the source's issuer refuses the charge,
	// EUNAVAILABLE when the provider cannot be reached.
	//
	// A receipt's ID is the provider's own id of the charge, unique across
	// every process and restart of Marketplane: the ledger keeps it as the
	// payment's gateway reference and records each one once.
	Charge(ctx context.Context, r ChargeRequest) (Receipt, error)
}

// ChargeRequest asks a gateway to charge a source.
type ChargeRequest struct {
	// AccountID is the buyer whose source is charged, for the provider's
	// records.
	AccountID int64
	// Amount is positive, in Currency, rounded to its minor unit.
	Amount   money.Micros
	Currency string
	// Source is the provider's token of the card or account charged
	// ("tok_visa"); Marketplane never sees card numbers.
	Source string
	// IdempotencyKey names the charge: the same key charges once.
	IdempotencyKey string
}

// Receipt is a charge made.
type Receipt struct {
	// ID is the provider's id of the charge ("pi_3Mtw…"), for
	// reconciliation and refunds; the payment recorded for it keeps it as
	// its gateway reference.
	ID string
	// Method says what was charged, as a person reads it ("visa 4242").
	Method string
}

// Declined is a charge the source's issuer refused: the request was fine,
// the money is not there. It unwraps to a Marketplane error with code
// ECONFLICT and the message "card declined", so that transports answer it
// like any other refusal of the current state; errors.As finds the reason.
//
// ECONFLICT rather than EPRECONDITION: the API answers EPRECONDITION with
// 412, which HTTP reserves for failed conditional headers (If-Match), and
// clients meet a 412 by reading the resource again, which never helps
// with a declined card.
type Declined struct {
	// Reason is the provider's reason: "card_declined",
	// "insufficient_funds".
	Reason string
}

// Error implements error.
func (d *Declined) Error() string { return "card declined (" + d.Reason + ")" }

// Unwrap gives the Marketplane error transports map.
func (d *Declined) Unwrap() error {
	return marketplane.Errorf(marketplane.ECONFLICT, "card declined")
}

// IsDeclined reports whether err is a declined charge.
func IsDeclined(err error) bool {
	var d *Declined
	return errors.As(err, &d)
}
