package gateway

import (
	"context"

	"github.com/marketplane/marketplane"
)

// Offline is the gateway of an installation without a card provider: it
// charges nothing. Money received outside the platform (bank transfers,
// cash, cheques) is recorded by staff as a payment with its method; a
// request to charge a card is refused, so that no payment is ever booked
// as a card charge where no money moved. The zero value is ready.
type Offline struct{}

// NoCardGateway is the refusal of Offline.
const NoCardGateway = "no card gateway is configured on this installation"

// Charge implements Gateway: it refuses every charge with EINVALID
// NoCardGateway, on the field "source", whatever the request, and charges
// nothing.
func (Offline) Charge(ctx context.Context, r ChargeRequest) (Receipt, error) {
	return Receipt{}, &marketplane.Error{Code: marketplane.EINVALID, Message: NoCardGateway,
		Fields: marketplane.FieldErrors{"source": NoCardGateway + ": record money received otherwise with a method (\"bank transfer\")"}}
}
