// Package account holds the account tree (provider, resellers, customers),
// users, roles and privileges, and the one authorization function that
// decides every "may actor A do X on account T" question.
package account

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govalues/decimal"
	"golang.org/x/text/language"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/text"
)

// Kind is the place of an account in the tree.
type Kind string

// Account kinds. Exactly one provider sits at the root; resellers may sit at
// any depth below it; customers are leaves.
const (
	Provider Kind = "provider"
	Reseller Kind = "reseller"
	Customer Kind = "customer"
)

// Status is the commercial state of an account.
type Status string

// Account statuses.
const (
	StatusPending    Status = "pending"
	StatusActive     Status = "active"
	StatusCreditHold Status = "credit_hold"
	StatusAdminHold  Status = "admin_hold"
	StatusCancelled  Status = "cancelled"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusActive, StatusCreditHold, StatusAdminHold, StatusCancelled:
		return true
	}
	return false
}

// Contact is the person to talk to at an account.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// Address is a postal address; Country is ISO 3166-1 alpha-2.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Account is a node of the account tree.
type Account struct {
	ID       int64
	ParentID int64 // 0 for the provider
	// Path is the materialized path of ids from the root, "/1/7/42/", so that
	// "everything under R" is one indexed range query.
	Path     string
	Depth    int // 0 for the provider, 1 for L1 resellers and their customers …
	Kind     Kind
	Name     string
	Contact  Contact
	Address  Address
	Locale   string // BCP 47, e.g. "en-US"
	Currency string // ISO 4217, e.g. "USD"
	TimeZone string // IANA, e.g. "Europe/Berlin"
	Status   Status
	// CreditLimit is how far the balance may go below zero before credit
	// control acts (billing reads it).
	CreditLimit money.Micros
	// PaymentTermsDays is the net days of invoices (Net30 …); billing
	// refines payment terms.
	PaymentTermsDays int
	// VATID is the account's VAT (or other sales tax) registration, for
	// reverse charge of sales between businesses of different countries.
	VATID string
	// Selling holds the account's settings as a seller (provider and
	// resellers): proration of changes, timing of downgrades, tax rates.
	Selling Selling
	// ExternalID is an optional key owned by an integration (or the demo),
	// unique under the same parent, so that imports can be idempotent.
	ExternalID string
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Selling is how an account sells to its customers.
type Selling struct {
	// Proration of mid-period changes: "prorate" (the default: prorated
	// charges now), "prorate_invoice" (prorated and invoiced at once) or
	// "none".
	Proration string `json:"proration,omitempty"`
	// Downgrades take effect "now" (the default) or wait for the
	// "next_billing_date".
	Downgrades string `json:"downgrades,omitempty"`
	// TaxRates are the tax in percent the seller charges buyers of each
	// country, e.g. {"DE": "19"}; buyers of other countries pay none.
	TaxRates map[string]string `json:"tax_rates,omitempty"`
	// ExpiryGraceDays are the days a subscription that does not renew
	// keeps running (graced) after its period ends, and ExpiryHoldDays
	// the days it is then suspended before it is terminated; nil means
	// the defaults (7 and 14).
	ExpiryGraceDays *int `json:"expiry_grace_days,omitempty"`
	ExpiryHoldDays  *int `json:"expiry_hold_days,omitempty"`
	// Invoicing is when the seller's charges become invoices:
	// InvoiceOnCompletion (the default: each order and each renewal at
	// once) or InvoiceOnStatement (gathered into one consolidated invoice
	// per buyer on StatementDay of each month; the last day of a shorter
	// month).
	Invoicing    string `json:"invoicing,omitempty"`
	StatementDay int    `json:"statement_day,omitempty"`
	// CustomerTerms and ResellerTerms are the payment terms of the
	// seller's buyers of each class that have none of their own (what a
	// hold does, grace days, delays …); nil means the defaults.
	CustomerTerms *Terms `json:"customer_terms,omitempty"`
	ResellerTerms *Terms `json:"reseller_terms,omitempty"`
	// PaymentInstructions tell the seller's buyers how to pay its
	// invoices (bank, IBAN and BIC, a payment page), printed under
	// "Payment" on every open invoice; a few lines of plain text.
	PaymentInstructions string `json:"payment_instructions,omitempty"`
}

// MaxPaymentInstructions bounds Selling.PaymentInstructions: what fits
// under an invoice's totals.
const MaxPaymentInstructions = 1000

// TermsFor are the payment terms the seller gives buyer when the buyer
// has none of its own: those of its class.
func (s Selling) TermsFor(buyer *Account) Terms {
	if buyer.Kind == Reseller && s.ResellerTerms != nil {
		return *s.ResellerTerms
	}
	if buyer.Kind == Customer && s.CustomerTerms != nil {
		return *s.CustomerTerms
	}
	return Terms{}
}

// Proration modes of changes (Selling.Proration): prorated charges now,
// invoiced as the seller invoices (the default); prorated and invoiced at
// once, even by a seller that invoices on a statement day; no proration.
const (
	ProrateCharges = "prorate"
	ProrateInvoice = "prorate_invoice"
	ProrateNone    = "none"
)

// Invoicing modes (Selling.Invoicing).
const (
	InvoiceOnCompletion = "on_completion"
	InvoiceOnStatement  = "statement"
)

// IsStatementDay reports whether day (a calendar day) is s's statement
// day: StatementDay (default 1) of its month, or the month's last day
// when the month is shorter.
func (s Selling) IsStatementDay(day time.Time) bool {
	want := s.StatementDay
	if want == 0 {
		want = 1
	}
	last := time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return day.Day() == min(want, last)
}

// Level is the name panels use for a reseller's depth: L1, L2 …; empty for
// the provider and customers.
func (a *Account) Level() string {
	if a.Kind != Reseller {
		return ""
	}
	return "L" + itoa(a.Depth)
}

// Validate checks the fields a user can set. It returns an EINVALID
// *marketplane.Error with one message per bad field.
func (a *Account) Validate() error {
	var f marketplane.FieldErrors
	name := strings.TrimSpace(a.Name)
	switch {
	case name == "":
		f.Add("name", "is required")
	case utf8.RuneCountInString(name) > 200:
		f.Add("name", "must be at most 200 characters")
	case text.NameProblem(name) != "":
		f.Add("name", text.NameProblem(name))
	}
	if p := text.NameProblem(a.Contact.Name); p != "" {
		f.Add("contact.name", p)
	}
	switch a.Kind {
	case Provider, Reseller, Customer:
	default:
		f.Add("kind", "must be provider, reseller or customer")
	}
	if a.Kind == Provider && a.ParentID != 0 {
		f.Add("parent_id", "the provider has no parent")
	}
	if a.Kind != Provider && a.ParentID == 0 {
		f.Add("parent_id", "is required")
	}
	if !a.Status.Valid() {
		f.Add("status", "must be one of pending, active, credit_hold, admin_hold, cancelled")
	}
	if !isCountry(a.Address.Country) {
		f.Add("address.country", "must be an ISO 3166 two-letter code such as US")
	}
	if a.Locale == "" {
		f.Add("locale", "is required")
	} else if _, err := language.Parse(a.Locale); err != nil {
		f.Add("locale", "must be a language tag such as en-US")
	}
	if !money.ValidCurrency(a.Currency) {
		f.Add("currency", "must be the ISO 4217 code of a currency in circulation, such as USD")
	}
	if a.TimeZone == "" {
		f.Add("time_zone", "is required")
	} else if _, err := time.LoadLocation(a.TimeZone); err != nil || a.TimeZone == "Local" {
		f.Add("time_zone", "must be an IANA time zone such as Europe/Berlin")
	}
	if a.Contact.Email != "" && !strings.Contains(a.Contact.Email, "@") {
		f.Add("contact.email", "must be an e-mail address")
	}
	if a.CreditLimit < 0 {
		f.Add("credit_limit", "must not be negative")
	}
	if a.PaymentTermsDays < 0 || a.PaymentTermsDays > 365 {
		f.Add("payment_terms_days", "must be between 0 and 365")
	}
	if len(a.VATID) > 30 || strings.IndexFunc(a.VATID, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	}) >= 0 {
		f.Add("vat_id", "must be at most 30 upper-case letters, digits or '-'")
	}
	switch a.Selling.Proration {
	case "", ProrateCharges, ProrateInvoice, ProrateNone:
	default:
		f.Add("selling.proration", "must be prorate, prorate_invoice or none")
	}
	switch a.Selling.Downgrades {
	case "", "now", "next_billing_date":
	default:
		f.Add("selling.downgrades", "must be now or next_billing_date")
	}
	switch a.Selling.Invoicing {
	case "", InvoiceOnCompletion, InvoiceOnStatement:
	default:
		f.Add("selling.invoicing", "must be on_completion or statement")
	}
	if a.Selling.StatementDay < 0 || a.Selling.StatementDay > 31 {
		f.Add("selling.statement_day", "must be a day of the month, 1 to 31")
	}
	for name, d := range map[string]*int{"expiry_grace_days": a.Selling.ExpiryGraceDays, "expiry_hold_days": a.Selling.ExpiryHoldDays} {
		if d != nil && (*d < 0 || *d > 365) {
			f.Add("selling."+name, "must be between 0 and 365")
		}
	}
	if pi := a.Selling.PaymentInstructions; len(pi) > MaxPaymentInstructions {
		f.Add("selling.payment_instructions", fmt.Sprintf("must be at most %d bytes", MaxPaymentInstructions))
	} else if p := instructionsProblem(pi); p != "" {
		f.Add("selling.payment_instructions", p)
	}
	for c, r := range a.Selling.TaxRates {
		if !isCountry(c) {
			f.Add("selling.tax_rates."+c, "must be keyed by an ISO 3166 two-letter country code")
			continue
		}
		d, err := money.ParseDecimal(r)
		if err != nil || d.Sign() < 0 || d.Cmp(decimal.MustNew(100, 0)) > 0 {
			f.Add("selling.tax_rates."+c, "must be a percentage between 0 and 100, such as 19 or 7.7")
		}
	}
	for name, t := range map[string]*Terms{"customer_terms": a.Selling.CustomerTerms, "reseller_terms": a.Selling.ResellerTerms} {
		if t == nil {
			continue
		}
		var e *marketplane.Error
		if err := t.Validate(0); errors.As(err, &e) {
			for k, v := range e.Fields {
				f.Add("selling."+name+"."+k, v)
			}
		}
	}
	if len(a.ExternalID) > 100 {
		f.Add("external_id", "must be at most 100 characters")
	}
	return f.Err("account")
}

// CanHaveChildren reports whether accounts may be created below a.
func (a *Account) CanHaveChildren() bool { return a.Kind != Customer }

func isCountry(s string) bool {
	if len(s) != 2 {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.String() == s
}

// instructionsProblem says what is wrong with payment instructions: they
// are lines of text, so line breaks and tabs are the only control
// characters they hold, and each line is held to the rules of a name.
func instructionsProblem(s string) string {
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p := text.NameProblem(strings.ReplaceAll(line, "\t", " ")); p != "" && strings.TrimSpace(line) != "" {
			return "each line " + p
		}
	}
	return ""
}
