// Package invoice renders billing documents (store.Document) for people:
// as a self-contained, printable HTML page and as a PDF. Both show the
// same view of a document: its number, type and days, the vendor that
// issued it and the buyer it is addressed to, its lines with the days they
// pay for, tax, total and, for an invoice, what is still due.
//
// A document speaks its buyer's language: the buyer's account locale
// picks English, German or French words (locale.go; English when none
// fits) and the way days are written. Amounts keep the exact digits of
// money.Micros.Format in the document's currency; only the separators and
// the currency's symbol follow the locale ("$1,234.50" in en-US,
// "1.234,50 €" in de-DE), so that a rendering never rounds a figure the
// ledger holds. Line descriptions are the ledger's, as pricing wrote
// them.
//
// Signs: a document's lines are signed as their effect on what the buyer
// owes (store/ledger.go). A credit memo shows its credits negative, as
// credit memos do; a payment receipt shows the money received, positive.
package invoice

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govalues/decimal"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

// view is a document as both renderings show it: every word in the
// buyer's language, every figure formatted, every optional part decided.
type view struct {
	L             *labels
	Title, Number string
	Status        string // invoices only
	IssuedOn      string
	DueOn         string
	Currency      string
	Vendor, Buyer party
	// Taxed is whether the document has tax lines: its table then shows
	// each line's rate and tax beside its net amount, and a summary by
	// rate follows.
	Taxed     bool
	Lines     []lineView
	TaxGroups []taxGroup
	// NetTotal and TaxTotal are the sums of the lines and of the tax,
	// shown when Taxed.
	NetTotal, TaxTotal string
	// Total carries the currency's symbol, as do Paid and Due.
	Total string
	// Paid and Due are what payments and credits covered of an invoice
	// and what is left; shown when something was covered.
	Paid, Due string
	// Notes are the reverse charge note and how a payment came.
	Notes []string
	// Payment says how to pay an invoice with something left to pay: the
	// amount, the day, the reference and whom to ask.
	Payment []string
	// Footer names the document on each page of the PDF.
	Footer    string
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
	Period      string // "10 Jan 2027 – 9 Feb 2027", the last day included; "" on one-time lines
	Quantity    string
	// TaxRate and Tax are the line's rate and the tax on it, when the
	// document is taxed; Tax is "" where the document's tax lines do not
	// split into the lines' own (see lineTaxes).
	TaxRate, Tax string
	Amount       string
}

// taxGroup is the summary of the lines taxed at one rate.
type taxGroup struct {
	Rate, Net, Tax, Gross string
}

// newView builds the view of d between vendor and buyer.
func newView(d *store.Document, vendor, buyer *account.Account) view {
	l := labelsFor(buyer.Locale)
	f := newAmounts(buyer.Locale, d.Currency)
	// What the buyer reads as positive: everything but payments as the
	// ledger signs it, payments as the money received.
	sign := money.Micros(1)
	if d.Type == store.DocPayment {
		sign = -1
	}
	v := view{L: l, Title: l.title(d.Type), Number: d.Number, IssuedOn: l.day(d.IssuedOn), DueOn: l.day(d.DueOn),
		Currency: d.Currency, Vendor: partyOf(vendor), Buyer: partyOf(buyer), Total: f.money(sign * d.Total),
		CreatedAt: d.CreatedAt}
	v.Footer = v.Title + " " + v.Number
	due := d.Total - d.Applied
	if d.Type == store.DocInvoice {
		v.Status = l.Statuses[d.Status]
		if d.Applied != 0 {
			v.Paid, v.Due = f.money(d.Applied), f.money(due)
		}
	}

	taxes := lineTaxes(d.Lines, d.Currency)
	v.Taxed = len(taxes.groups) > 0
	var net, tax money.Micros
	for i, dl := range d.Lines {
		if dl.What == order.Tax {
			tax += dl.Amount
			continue
		}
		net += dl.Amount
		lv := lineView{Description: dl.Description, Amount: f.format(sign * dl.Amount)}
		if lv.Description == "" {
			lv.Description = string(dl.What)
		}
		if !dl.From.IsZero() && !dl.To.IsZero() {
			// A line pays for [From, To): people read the last day paid.
			lv.Period = l.day(dl.From) + " – " + l.day(dl.To.AddDate(0, 0, -1))
		}
		if !dl.Quantity.IsZero() {
			lv.Quantity = f.plain(dl.Quantity.String())
		}
		if v.Taxed {
			t := taxes.lines[i]
			lv.TaxRate = f.percent(t.rate, l)
			if t.split {
				lv.Tax = f.format(sign * t.tax)
			}
		}
		v.Lines = append(v.Lines, lv)
	}
	if v.Taxed {
		v.NetTotal, v.TaxTotal = f.money(sign*net), f.money(sign*tax)
		for _, g := range taxes.groups {
			v.TaxGroups = append(v.TaxGroups, taxGroup{Rate: f.percent(g.rate, l), Net: f.format(sign * g.net),
				Tax: f.format(sign * g.tax), Gross: f.format(sign * (g.net + g.tax))})
		}
	}

	if d.ReverseCharge {
		v.Notes = append(v.Notes, l.ReverseCharge)
	}
	if d.Method != "" {
		v.Notes = append(v.Notes, fmt.Sprintf(l.PaidBy, d.Method))
	}
	if d.Type == store.DocInvoice && d.Status == store.DocOpen && due > 0 {
		// The document's number is the reference that matches a bank
		// transfer to it.
		if d.DueOn.IsZero() || !d.DueOn.After(d.IssuedOn) {
			v.Payment = append(v.Payment, fmt.Sprintf(l.PayOnReceipt, f.money(due), d.Number))
		} else {
			v.Payment = append(v.Payment, fmt.Sprintf(l.PayBy, f.money(due), l.day(d.DueOn), order.Days(d.IssuedOn, d.DueOn), d.Number))
		}
		// The seller's own words on how to pay (its bank account, a
		// payment page), line by line as it wrote them.
		for _, line := range strings.Split(strings.ReplaceAll(vendor.Selling.PaymentInstructions, "\r\n", "\n"), "\n") {
			if line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " ")); line != "" {
				v.Payment = append(v.Payment, line)
			}
		}
		if c := contactOf(vendor); c != "" {
			v.Payment = append(v.Payment, fmt.Sprintf(l.Contact, c))
		}
	}
	return v
}

// lineTax is the tax of one line of a document.
type lineTax struct {
	rate decimal.Decimal
	tax  money.Micros
	// split is whether tax is the line's own share of its tax line: the
	// shares, each computed as pricing computes them, add up to the tax
	// line.
	split bool
}

// taxGroupSum is what the lines at one rate add up to.
type taxGroupSum struct {
	rate     decimal.Decimal
	net, tax money.Micros
}

// documentTaxes are a document's taxes by line (indexed as its lines)
// and by rate.
type documentTaxes struct {
	lines  map[int]lineTax
	groups []taxGroupSum
}

// lineTaxes reads the taxes of a document's lines. Pricing appends one
// tax line after the lines it taxes (order.Quote.AddTax), and a statement
// keeps each charge's lines and tax line in order, so every tax line
// taxes the lines since the previous one, at its rate. Each line's own
// tax is computed as pricing does, rounded on its own; when the shares
// do not add up to the tax line (a document not made that way), the
// lines show the rate without a share, and the tax line's amount, which
// is what the ledger holds, is what the totals show. Lines after the last
// tax line bear no tax: in a taxed document they form a group at 0 %.
// A document without tax lines has no groups.
func lineTaxes(lines []order.Line, currency string) documentTaxes {
	t := documentTaxes{lines: map[int]lineTax{}}
	groups := map[string]int{} // rate → index in t.groups
	group := func(rate decimal.Decimal) *taxGroupSum {
		key := rate.Trim(0).String()
		i, ok := groups[key]
		if !ok {
			i = len(t.groups)
			groups[key] = i
			t.groups = append(t.groups, taxGroupSum{rate: rate})
		}
		return &t.groups[i]
	}
	var pending []int
	for i, l := range lines {
		if l.What != order.Tax {
			pending = append(pending, i)
			continue
		}
		g := group(l.TaxRate)
		shares := make([]money.Micros, len(pending))
		var sum money.Micros
		for j, k := range pending {
			shares[j] = taxOf(lines[k].Amount, l.TaxRate, currency)
			sum += shares[j]
			g.net += lines[k].Amount
		}
		g.tax += l.Amount
		for j, k := range pending {
			t.lines[k] = lineTax{rate: l.TaxRate, tax: shares[j], split: sum == l.Amount}
		}
		pending = pending[:0]
	}
	if len(t.groups) > 0 && len(pending) > 0 {
		g := group(decimal.Zero)
		for _, k := range pending {
			g.net += lines[k].Amount
			t.lines[k] = lineTax{split: true}
		}
	}
	return t
}

// taxOf is the tax at rate on one line, as pricing computes it.
func taxOf(amount money.Micros, rate decimal.Decimal, currency string) money.Micros {
	q := &order.Quote{Currency: currency, Lines: []order.Line{{Amount: amount}}, Total: amount}
	if err := q.AddTax(order.TaxRule{Rate: rate}); err != nil {
		// A rate pricing refuses never made a tax line: no share.
		return 0
	}
	return q.Total - amount
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

// contactOf is whom a buyer asks about a document: the vendor's contact
// person, email and phone, those it has.
func contactOf(a *account.Account) string {
	var parts []string
	for _, s := range []string{a.Contact.Name, a.Contact.Email, a.Contact.Phone} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " · ")
}

// amounts formats amounts of one currency for one locale.
type amounts struct {
	currency string
	p        *message.Printer
	// point and minus are the locale's decimal separator and minus
	// sign.
	point, minus string
	// symbol is the currency's symbol in the locale ("€", "US$", "CHF"),
	// written after the amount when symbolAfter.
	symbol      string
	symbolAfter bool
	// spaceAfterSymbol sets a symbol written first apart from the
	// amount ("€ 1 234,50" in Austria).
	spaceAfterSymbol bool
}

// newAmounts formats amounts of the currency code for the locale (BCP
// 47); an unknown or empty locale formats as English does.
func newAmounts(locale, code string) amounts {
	tag, err := language.Parse(locale)
	if err != nil {
		tag = language.English
	}
	p := message.NewPrinter(tag)
	a := amounts{currency: code, p: p, point: ".", minus: "-", symbol: code}
	// The locale's symbols, read off numbers whose digits are known.
	if s := p.Sprint(number.Decimal(1.5, number.Scale(1))); strings.HasPrefix(s, "1") && strings.HasSuffix(s, "5") && len(s) > 2 {
		a.point = s[1 : len(s)-1]
	}
	if s := p.Sprint(number.Decimal(-1)); strings.HasSuffix(s, "1") && len(s) > 1 {
		a.minus = s[:len(s)-1]
	}
	if u, err := currency.ParseISO(code); err == nil {
		a.symbol = p.Sprint(currency.Symbol(u))
	}
	base, _ := tag.Base()
	region, _ := tag.Region()
	a.symbolAfter = symbolAfter[base.String()] && !symbolBefore[region.String()]
	a.spaceAfterSymbol = symbolAfter[base.String()] && symbolBefore[region.String()]
	return a
}

// symbolAfter are the languages that write the currency's symbol after
// the amount, "1.234,56 €" (CLDR's currency patterns; x/text does not
// expose them); the others write it before, "€1,234.56". symbolBefore
// are the regions where these languages write it before all the same,
// set apart by a space (Swiss and Austrian German: "CHF 1’234.56",
// "€ 1 234,56").
var (
	symbolAfter = map[string]bool{
		"de": true, "fr": true, "es": true, "it": true, "pt": true, "ca": true, "sv": true, "da": true,
		"nb": true, "no": true, "fi": true, "pl": true, "cs": true, "sk": true, "sl": true, "hr": true,
		"hu": true, "ro": true, "bg": true, "ru": true, "uk": true, "lt": true, "lv": true, "et": true,
		"el": true, "is": true, "vi": true,
	}
	symbolBefore = map[string]bool{"CH": true, "LI": true, "AT": true, "BR": true}
)

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
		out += a.point + frac
	}
	if neg {
		out = a.minus + out
	}
	return out
}

// money is format with the currency's symbol where the locale writes it:
// "€1,234.56", "1.234,56 €". A symbol of letters ("CHF") is set apart
// by a space on either side.
func (a amounts) money(m money.Micros) string {
	s := a.format(m)
	if a.symbolAfter {
		return s + "\u00a0" + a.symbol
	}
	sep := ""
	if r, _ := utf8.DecodeLastRuneInString(a.symbol); unicode.IsLetter(r) || a.spaceAfterSymbol {
		sep = "\u00a0"
	}
	return a.symbol + sep + s
}

// plain renders a plain decimal ("13.4", "-2") with the locale's
// decimal separator and minus sign, its digits as they are.
func (a amounts) plain(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	s = strings.Replace(s, ".", a.point, 1)
	if neg {
		s = a.minus + s
	}
	return s
}

// percent renders a tax rate: "19 %", "7,7 %".
func (a amounts) percent(rate decimal.Decimal, l *labels) string {
	return a.plain(rate.Trim(0).String()) + l.percentSep + "%"
}
