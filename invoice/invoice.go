// Package invoice renders billing documents (store.Document) for people:
// as a self-contained, printable HTML page and as a PDF. Both show the
// same view of a document: its number, type and days, the vendor that
// issued it and the buyer it is addressed to, its lines with the days they
// pay for, tax, total and, for an invoice, what is still due.
//
// Amounts keep the exact digits of money.Micros.Format in the document's
// currency; only the separators follow the buyer's locale ("1,234.50" in
// en-US, "1.234,50" in de-DE), so that a rendering never rounds a figure
// the ledger holds. Days are ISO dates (2027-01-10), which no reader
// misreads. Labels are English for now.
//
// Signs: a document's lines are signed as their effect on what the buyer
// owes (store/ledger.go). A credit memo shows its credits negative, as
// credit memos do; a payment receipt shows the money received, positive.
package invoice

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

// titles name each type of document on its page.
var titles = map[store.DocumentType]string{
	store.DocInvoice:    "Invoice",
	store.DocCreditMemo: "Credit memo",
	store.DocPayment:    "Payment receipt",
	store.DocRefund:     "Refund",
	store.DocAdjustment: "Adjustment",
}

// statuses name an invoice's status on its page.
var statuses = map[store.DocumentStatus]string{
	store.DocOpen: "Open",
	store.DocPaid: "Paid",
	store.DocVoid: "Void",
}

// ReverseChargeNote is printed on documents whose buyer accounts for the
// tax (order.Quote.ReverseCharge).
const ReverseChargeNote = "Reverse charge: VAT to be accounted for by the recipient."

// view is a document as both renderings show it: every figure formatted,
// every optional part decided.
type view struct {
	Title, Number string
	Status        string // invoices only
	IssuedOn      string
	DueOn         string
	Currency      string
	Vendor, Buyer party
	Lines         []lineView
	// Subtotal is the sum of the lines that are not tax, shown when there
	// is tax.
	Subtotal string
	Taxes    []taxView
	Total    string
	// Paid and Due are what payments and credits covered of an invoice
	// and what is left; shown when something was covered.
	Paid, Due     string
	ReverseCharge bool
	// Method is how a payment came ("bank transfer").
	Method    string
	CreatedAt time.Time
}

// party is one side of a document.
type party struct {
	Name    string
	Address []string // the lines of the postal address, empty ones left out
	VATID   string
}

// lineView is a line of the table.
type lineView struct {
	Description string
	Period      string // "2027-01-10 – 2027-02-09", the last day included; "" on one-time lines
	Quantity    string
	Amount      string
}

// taxView is a tax line of the totals.
type taxView struct {
	Label, Amount string
}

// newView builds the view of d between vendor and buyer.
func newView(d *store.Document, vendor, buyer *account.Account) view {
	f := newAmounts(buyer.Locale, d.Currency)
	// What the buyer reads as positive: everything but payments as the
	// ledger signs it, payments as the money received.
	sign := money.Micros(1)
	if d.Type == store.DocPayment {
		sign = -1
	}
	v := view{Title: titles[d.Type], Number: d.Number, IssuedOn: day(d.IssuedOn), DueOn: day(d.DueOn),
		Currency: d.Currency, Vendor: partyOf(vendor), Buyer: partyOf(buyer), Total: f.format(sign * d.Total),
		ReverseCharge: d.ReverseCharge, Method: d.Method, CreatedAt: d.CreatedAt}
	if v.Title == "" {
		v.Title = "Document"
	}
	if d.Type == store.DocInvoice {
		v.Status = statuses[d.Status]
		if d.Applied != 0 {
			v.Paid, v.Due = f.format(d.Applied), f.format(d.Total-d.Applied)
		}
	}
	var subtotal money.Micros
	for _, l := range d.Lines {
		if l.What == order.Tax {
			label := l.Description
			if label == "" {
				label = "Tax " + l.TaxRate.String() + " %"
			}
			v.Taxes = append(v.Taxes, taxView{Label: label, Amount: f.format(sign * l.Amount)})
			continue
		}
		subtotal += l.Amount
		lv := lineView{Description: l.Description, Amount: f.format(sign * l.Amount)}
		if lv.Description == "" {
			lv.Description = string(l.What)
		}
		if !l.From.IsZero() && !l.To.IsZero() {
			// A line pays for [From, To): people read the last day paid.
			lv.Period = day(l.From) + " – " + day(l.To.AddDate(0, 0, -1))
		}
		if !l.Quantity.IsZero() {
			lv.Quantity = l.Quantity.String()
		}
		v.Lines = append(v.Lines, lv)
	}
	if len(v.Taxes) > 0 {
		v.Subtotal = f.format(sign * subtotal)
	}
	return v
}

func partyOf(a *account.Account) party {
	p := party{Name: a.Name, VATID: a.VATID}
	ad := a.Address
	city := strings.TrimSpace(ad.PostalCode + " " + ad.City)
	for _, s := range []string{ad.Line1, ad.Line2, city, ad.Region, ad.Country} {
		if s = strings.TrimSpace(s); s != "" {
			p.Address = append(p.Address, s)
		}
	}
	return p
}

// day is a ledger day as the documents show it; "" for none.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// amounts formats amounts of one currency for one locale.
type amounts struct {
	currency string
	p        *message.Printer
	// decimal and minus are the locale's decimal separator and minus
	// sign.
	decimal, minus string
}

// newAmounts formats amounts of currency for the locale (BCP 47); an
// unknown or empty locale formats as English does.
func newAmounts(locale, currency string) amounts {
	tag, err := language.Parse(locale)
	if err != nil {
		tag = language.English
	}
	p := message.NewPrinter(tag)
	a := amounts{currency: currency, p: p, decimal: ".", minus: "-"}
	// The locale's symbols, read off numbers whose digits are known.
	if s := p.Sprint(number.Decimal(1.5, number.Scale(1))); strings.HasPrefix(s, "1") && strings.HasSuffix(s, "5") && len(s) > 2 {
		a.decimal = s[1 : len(s)-1]
	}
	if s := p.Sprint(number.Decimal(-1)); strings.HasSuffix(s, "1") && len(s) > 1 {
		a.minus = s[:len(s)-1]
	}
	return a
}

// format renders m with the exact digits of money's Format and the
// locale's separators: the integer part goes through the locale's
// grouping (which an int64 keeps exact), the fraction is appended as it
// is.
func (a amounts) format(m money.Micros) string {
	s := m.Format(a.currency)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		// Format always gives digits; keep them rather than lose them.
		return m.Format(a.currency)
	}
	out := a.p.Sprint(number.Decimal(n))
	if frac != "" {
		out += a.decimal + frac
	}
	if neg {
		out = a.minus + out
	}
	return out
}
