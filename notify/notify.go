// Package notify holds Marketplane's email notifications as pure rules:
// the kinds of message an event causes and the data each carries, the
// templates (a subject, an HTML body and a text body per kind and
// language), their rendering in the recipient's language, which version of
// a template applies to a recipient down the tree of sellers, and the diff
// of a seller's override against its parent's version. It imports no
// database and no network code: the store writes the rendered messages to
// its outbox in the transaction of the event, and a task delivers them.
package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// Kind names a message. Kinds are lower case words separated by dots, like
// the webhook events, and never change once messages of that kind exist.
type Kind string

// The kinds of message.
const (
	OrderCompleted        Kind = "order.completed"
	OrderFailed           Kind = "order.failed"
	InvoiceIssued         Kind = "invoice.issued"
	PaymentReceived       Kind = "payment.received"
	PaymentFailed         Kind = "payment.failed"
	CreditHold            Kind = "credit.hold"
	CreditRelease         Kind = "credit.release"
	TemporaryReleaseEnds  Kind = "credit.temporary_release_ending"
	SubscriptionSuspended Kind = "subscription.suspended"
	SubscriptionEnded     Kind = "subscription.terminated"
	RenewalComing         Kind = "subscription.renewal_coming"
	BalanceLow            Kind = "balance.low"
	TrialEnding           Kind = "trial.ending"
	PasswordReset         Kind = "user.password_reset"
	UserInvitation        Kind = "user.invitation"
)

// kinds are all the kinds, in the order a seller's list shows them.
var kinds = []Kind{
	OrderCompleted, OrderFailed, InvoiceIssued, PaymentReceived, PaymentFailed,
	CreditHold, CreditRelease, TemporaryReleaseEnds, SubscriptionSuspended, SubscriptionEnded,
	RenewalComing, BalanceLow, TrialEnding, PasswordReset, UserInvitation,
}

// Kinds returns every kind of message.
func Kinds() []Kind { return slices.Clone(kinds) }

// Valid reports whether k is a kind of message.
func (k Kind) Valid() bool { return slices.Contains(kinds, k) }

// Required reports whether a message of kind k always goes, whatever the
// recipient chose: what a buyer owes or can no longer use, and the
// messages a person asked for (a reset, an invitation).
func (k Kind) Required() bool {
	switch k {
	case InvoiceIssued, PaymentFailed, CreditHold, TemporaryReleaseEnds, SubscriptionSuspended,
		SubscriptionEnded, PasswordReset, UserInvitation:
		return true
	}
	return false
}

// Amount is an amount of money in a currency, rendered in the recipient's
// language ("€1,234.50", "1.234,50 €").
type Amount struct {
	Value    money.Micros
	Currency string
}

// Party is an account as a message names it.
type Party struct {
	Name  string
	Email string
}

// Order is the order a message is about.
type Order struct {
	Number string
	Plan   string
	Total  Amount
	// Reason says why an order failed.
	Reason string
}

// Document is the invoice or payment a message is about.
type Document struct {
	Number string
	Total  Amount
	// Due is the day an invoice is due (zero: on receipt).
	Due time.Time
	// Reason says why a payment failed.
	Reason string
}

// Subscription is the subscription a message is about.
type Subscription struct {
	Name string
	// On is the day of what the message announces: the renewal, the end
	// of a trial, the end of a temporary release.
	On    time.Time
	Total Amount // the renewal's price
}

// Data is what a message says. Every message names its recipient and the
// seller who sends it; the other fields are those of its kind (Fields).
type Data struct {
	Recipient    Party
	Seller       Party
	Order        *Order
	Document     *Document
	Subscription *Subscription
	// Balance is the pay-as-you-go balance running low.
	Balance *Amount
	// Link is where the recipient acts: a password reset, an invitation,
	// an invoice to pay.
	Link string
}

// Fields are the parts of Data a message of kind k needs.
func Fields(k Kind) []string {
	switch k {
	case OrderCompleted, OrderFailed:
		return []string{"Order"}
	case InvoiceIssued, PaymentReceived, PaymentFailed:
		return []string{"Document"}
	case TemporaryReleaseEnds, SubscriptionSuspended, SubscriptionEnded, RenewalComing, TrialEnding:
		return []string{"Subscription"}
	case BalanceLow:
		return []string{"Balance"}
	case PasswordReset, UserInvitation:
		return []string{"Link"}
	}
	return nil
}

// Validate reports the parts of d that a message of kind k needs and
// lacks, as an EINVALID error with a field error each.
func (d Data) Validate(k Kind) error {
	f := marketplane.FieldErrors{}
	if !k.Valid() {
		f["kind"] = fmt.Sprintf("unknown kind %q", k)
	}
	if d.Recipient.Name == "" {
		f["recipient.name"] = "required"
	}
	if d.Seller.Name == "" {
		f["seller.name"] = "required"
	}
	for _, name := range Fields(k) {
		missing := false
		switch name {
		case "Order":
			missing = d.Order == nil
		case "Document":
			missing = d.Document == nil
		case "Subscription":
			missing = d.Subscription == nil
		case "Balance":
			missing = d.Balance == nil
		case "Link":
			missing = d.Link == ""
		}
		if missing {
			f[name] = "required for " + string(k)
		}
	}
	return f.Err("message data")
}

// Sample is data for a preview or a test message of kind k, with every
// field of its kind set.
func Sample(k Kind) Data {
	day := time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)
	total := Amount{Value: 1234_500000, Currency: "EUR"}
	d := Data{Recipient: Party{Name: "Jane Doe", Email: "jane@example.com"}, Seller: Party{Name: "Example Reseller", Email: "billing@example.com"}}
	switch k {
	case OrderCompleted, OrderFailed:
		d.Order = &Order{Number: "SO-000123", Plan: "Office 50", Total: total}
		if k == OrderFailed {
			d.Order.Reason = "the service could not be created"
		}
	case InvoiceIssued, PaymentReceived, PaymentFailed:
		d.Document = &Document{Number: "INV-000042", Total: total, Due: day}
		if k == PaymentFailed {
			d.Document.Reason = "the card was declined"
		}
	case TemporaryReleaseEnds, SubscriptionSuspended, SubscriptionEnded, RenewalComing, TrialEnding:
		d.Subscription = &Subscription{Name: "Office 50", On: day, Total: total}
	case BalanceLow:
		d.Balance = &Amount{Value: 12_340000, Currency: "EUR"}
	case PasswordReset, UserInvitation:
		d.Link = "https://panel.example.com/welcome/abc123"
	}
	return d
}
