package invoice

import (
	"bytes"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

func amount(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// setup returns an invoice a person can check, with its two parties:
//
//	setup fee                               6.60
//	Basic, monthly  2027-01-10 – 2027-02-09  13.20
//	Mailboxes       2027-01-10 – 2027-02-09  3   9.90
//	subtotal                                29.70
//	VAT 19 %                                 5.64
//	total                                   35.34
func setup(t *testing.T) (*store.Document, *account.Account, *account.Account) {
	t.Helper()
	vendor := &account.Account{ID: 2, Name: "Gamma Reseller", Locale: "en-US",
		Address: account.Address{Line1: "1 Vendor Way", City: "Springfield", PostalCode: "12345", Country: "US"}, VATID: "US-99"}
	buyer := &account.Account{ID: 3, Name: "Delta Customer", Locale: "en-US",
		Address: account.Address{Line1: "2 Buyer Street", City: "Shelbyville", Country: "US"}}
	d := &store.Document{ID: 9, VendorID: 2, AccountID: 3, Type: store.DocInvoice, Number: "INV-000042", Status: store.DocOpen,
		Currency: "USD", Total: amount("35.34"), IssuedOn: date("2027-01-10"), DueOn: date("2027-02-09"),
		CreatedAt: time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC),
		Lines: []order.Line{
			{What: order.Setup, Amount: amount("6.60"), Description: "Setup fee"},
			{What: order.Recurring, From: date("2027-01-10"), To: date("2027-02-10"), Amount: amount("13.20"), Description: "Basic, monthly"},
			{What: order.Resource, Resource: "mailbox", Quantity: decimal.MustNew(3, 0), From: date("2027-01-10"), To: date("2027-02-10"),
				Amount: amount("9.90"), Description: "Mailboxes <extra>"},
			{What: order.Tax, TaxRate: decimal.MustNew(19, 0), Amount: amount("5.64"), Description: "VAT 19 %"},
		}}
	return d, vendor, buyer
}

func TestHTML(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	var b bytes.Buffer
	if err := HTML(&b, d, vendor, buyer); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<html lang="en">`, "<title>Invoice INV-000042</title>", "INV-000042",
		">6.60<", ">1.25<", ">13.20<", ">2.51<", ">9.90<", ">1.88<", ">19\u00a0%<", ">$29.70<", ">$5.64<", ">$35.34<",
		"Jan 10, 2027 – Feb 9, 2027", "Feb 9, 2027", ">Open<", ">Net (USD)<", ">Gross<",
		"Please pay $35.34 by Feb 9, 2027 (30 days net), quoting INV-000042 as the payment reference.",
		"Gamma Reseller", "1 Vendor Way", "12345 Springfield", "VAT ID US-99", "Delta Customer", "2 Buyer Street",
		"Mailboxes &lt;extra&gt;", // escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Self-contained: nothing to fetch, nothing to run.
	for _, bad := range []string{"<script", "<link", "src=", "http://", "https://", english.ReverseCharge} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
}

// TestHTMLKinds: what each kind of document adds to or changes on the page.
func TestHTMLKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(d *store.Document, buyer *account.Account)
		want   []string
		absent []string
	}{
		{"reverse charge", func(d *store.Document, _ *account.Account) {
			d.ReverseCharge, d.Lines, d.Total = true, d.Lines[:3], amount("29.70")
		}, []string{english.ReverseCharge, ">$29.70<"}, []string{"Net total", "19\u00a0%", ">Rate<"}},
		{"paid in part", func(d *store.Document, _ *account.Account) {
			d.Applied = amount("20.00")
		}, []string{"Paid", ">$20.00<", "Amount due", ">$15.34<", "Please pay $15.34 by"}, nil},
		{"paid", func(d *store.Document, _ *account.Account) {
			d.Status, d.Applied = store.DocPaid, d.Total
		}, []string{">Paid<", ">$0.00<"}, []string{"Please pay"}},
		{"payment", func(d *store.Document, _ *account.Account) {
			d.Type, d.Number, d.Status, d.Total, d.DueOn, d.Method = store.DocPayment, "PAY-000007", store.DocNA, amount("-35.34"), time.Time{}, "bank transfer"
			d.Lines = []order.Line{{What: store.PaymentLine, Amount: amount("-35.34"), Description: "Payment by bank transfer"}}
		}, []string{"Payment receipt PAY-000007", ">35.34<", ">$35.34<", "Paid by bank transfer."}, []string{"-35.34", "Status", "Due", "Please pay"}},
		{"credit memo", func(d *store.Document, _ *account.Account) {
			d.Type, d.Number, d.Status, d.Total = store.DocCreditMemo, "CM-000001", store.DocNA, amount("-13.20")
			d.Lines = []order.Line{{What: order.ChangeCredit, Amount: amount("-13.20"), Description: "Unused days"}}
		}, []string{"Credit memo CM-000001", ">-13.20<", ">$-13.20<"}, []string{"Please pay"}},
		{"due on receipt", func(d *store.Document, _ *account.Account) {
			d.DueOn = d.IssuedOn
		}, []string{"Please pay $35.34 on receipt, quoting INV-000042 as the payment reference."}, []string{"days net"}},
		{"German buyer", func(d *store.Document, buyer *account.Account) {
			buyer.Locale = "de-DE"
			d.Lines[1].Amount, d.Lines[2].Amount, d.Total = amount("1234.50"), amount("-1.5"), amount("1245.24")
		}, []string{`<html lang="de">`, "Rechnung INV-000042", ">1.234,50<", ">-1,50<", ">1.245,24\u00a0$<", ">USt.<",
			// The shares no longer add up to the tax line: the lines show
			// their rate without a share.
			"<td class=\"num\">19\u00a0%</td><td class=\"num\"></td>"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, vendor, buyer := setup(t)
			c.change(d, buyer)
			var b bytes.Buffer
			if err := HTML(&b, d, vendor, buyer); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range c.absent {
				if strings.Contains(b.String(), w) {
					t.Errorf("the page holds %q", w)
				}
			}
		})
	}
}

// TestAmounts: the exact digits of money's Format with the locale's
// separators.
func TestAmounts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		locale, currency, amount, want string
	}{
		{"en-US", "USD", "1234567.5", "1,234,567.50"},
		{"en-US", "USD", "-0.5", "-0.50"},
		{"en-US", "USD", "0.015", "0.015"}, // finer than the minor unit: never rounded
		{"de-DE", "EUR", "1234567.5", "1.234.567,50"},
		{"de-CH", "CHF", "1234.5", "1’234.50"},
		{"fr-FR", "EUR", "1234.5", "1\u00a0234,50"},
		{"sv-SE", "SEK", "-1234.5", "−1\u00a0234,50"},
		{"en-IN", "INR", "1234567", "12,34,567.00"},
		{"ja-JP", "JPY", "1234567", "1,234,567"},
		{"ar-KW", "KWD", "1.25", "1.250"},
		{"", "USD", "9223372036854.775807", "9,223,372,036,854.775807"}, // the largest amount, exact
		{"not a locale", "USD", "1234", "1,234.00"},
	} {
		if got := newAmounts(c.locale, c.currency).format(amount(c.amount)); got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.locale, c.currency, c.amount, got, c.want)
		}
	}
}

// euroInvoice is an invoice of a German vendor to a French business, in
// euros, for a buyer of locale, a person can check:
//
//	Basic: 3 × mailbox   01-10 – 02-09   3   19 %    1.25      6.60
//	Basic, monthly       01-10 – 02-09       19 %  234.56  1,234.50   (234.555 rounds away)
//	Setup fee                                19 %    1.24      6.54
//	net 1,247.64 + tax 237.05 = 1,484.69
func euroInvoice(t testing.TB, locale string) (*store.Document, *account.Account, *account.Account) {
	t.Helper()
	vendor := &account.Account{ID: 2, Name: "Gamma GmbH", Locale: "de-DE", VATID: "DE111111111",
		Address: account.Address{Line1: "Hauptstraße 1", City: "Berlin", PostalCode: "10115", Country: "DE"},
		Contact: account.Contact{Name: "Gamma Billing", Email: "billing@gamma.example", Phone: "+49 30 1234567"},
		Selling: account.Selling{PaymentInstructions: "Commerzbank Berlin\r\n\tIBAN: DE89 3704 0044 0532 0130 00\n\nBIC: COBADEFFXXX"}}
	buyer := &account.Account{ID: 3, Name: "Delta SARL", Locale: locale, VATID: "FR22222222222",
		Address: account.Address{Line1: "2 rue de l'Église", City: "Lyon", PostalCode: "69002", Country: "FR"}}
	d := &store.Document{ID: 9, VendorID: 2, AccountID: 3, Type: store.DocInvoice, Number: "INV-000042", Status: store.DocOpen,
		Currency: "EUR", Total: amount("1484.69"), IssuedOn: date("2027-01-10"), DueOn: date("2027-02-09"),
		CreatedAt: time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC),
		Lines: []order.Line{
			{What: order.Resource, Resource: "mailbox", Quantity: decimal.MustNew(3, 0), From: date("2027-01-10"), To: date("2027-02-10"),
				Amount: amount("6.60"), Description: "Basic: 3 × mailbox"},
			{What: order.Recurring, From: date("2027-01-10"), To: date("2027-02-10"), Amount: amount("1234.50"), Description: "Basic, monthly"},
			{What: order.Setup, Amount: amount("6.54"), Description: "Setup fee"},
			{What: order.Tax, TaxRate: decimal.MustNew(19, 0), Amount: amount("237.05"), Description: "Tax 19%"},
		}}
	return d, vendor, buyer
}

// TestSameWords: the HTML page and the PDF say the same words in each
// language: the title, every label the document uses, how to pay.
func TestSameWords(t *testing.T) {
	t.Parallel()
	for _, locale := range []string{"en-GB", "de-DE", "fr-FR"} {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			d, vendor, buyer := euroInvoice(t, locale)
			v := newView(d, vendor, buyer)
			l := v.L
			words := []string{v.Title + " " + v.Number, l.Number, l.Issued, l.Due, l.Status, v.Status, l.Currency,
				l.VATID + " " + vendor.VATID, l.VATID + " " + buyer.VATID, l.Description, l.Period, l.Quantity, l.TaxRate,
				l.TaxName, l.Net + " (EUR)", l.Gross, l.NetTotal, l.TaxTotal, l.Total, l.Payment, v.Lines[0].Period,
				v.Lines[1].Amount, v.Lines[1].Tax, v.TaxGroups[0].Rate, v.TaxGroups[0].Gross, v.Total}
			words = append(words, v.Payment...)
			// The seller's payment instructions, line by line.
			if !slices.Contains(v.Payment, "IBAN: DE89 3704 0044 0532 0130 00") || !slices.Contains(v.Payment, "BIC: COBADEFFXXX") ||
				!slices.Contains(v.Payment, "Commerzbank Berlin") || slices.Contains(v.Payment, "") {
				t.Errorf("payment lines %q lack the seller's instructions", v.Payment)
			}
			var b bytes.Buffer
			if err := HTML(&b, d, vendor, buyer); err != nil {
				t.Fatal(err)
			}
			// html/template writes "+" as "&#43;".
			page := html.UnescapeString(b.String())
			_, cells := render(t, v)
			for _, w := range words {
				if !strings.Contains(page, ">"+w+"<") {
					t.Errorf("the page lacks %q", w)
				}
				if !hasText(cells, w) {
					t.Errorf("the PDF lacks %q", w)
				}
			}
			for _, w := range []string{l.From, l.To} {
				if !strings.Contains(page, ">"+w+"<") || !hasCell(cells, strings.ToUpper(w)) {
					t.Errorf("%q is not on both", w)
				}
			}
		})
	}
}

// TestLineTaxes: how a document's tax lines split into its lines' own
// tax and into groups by rate.
func TestLineTaxes(t *testing.T) {
	t.Parallel()
	line := func(a string) order.Line { return order.Line{What: order.Recurring, Amount: amount(a)} }
	tax := func(rate int64, a string) order.Line {
		return order.Line{What: order.Tax, TaxRate: decimal.MustNew(rate, 0), Amount: amount(a)}
	}
	type share struct {
		rate, tax string
		split     bool
	}
	type group struct{ rate, net, tax string }
	for _, c := range []struct {
		name   string
		lines  []order.Line
		shares map[int]share
		groups []group
	}{
		{"no tax", []order.Line{line("10.00"), line("5.00")}, map[int]share{}, nil},
		{"one rate, each line rounded on its own",
			// 0.03 at 19 % is 0.0057 → 0.01; twice is 0.02, where 19 % of
			// 0.06 would be 0.01.
			[]order.Line{line("0.03"), line("0.03"), tax(19, "0.02")},
			map[int]share{0: {"19", "0.01", true}, 1: {"19", "0.01", true}},
			[]group{{"19", "0.06", "0.02"}}},
		{"a statement of two charges at two rates, then an untaxed line",
			[]order.Line{line("15.00"), line("4.06"), tax(19, "3.62"), line("10.00"), tax(7, "0.70"), line("1.00")},
			map[int]share{0: {"19", "2.85", true}, 1: {"19", "0.77", true}, 3: {"7", "0.70", true}, 5: {"0", "0", true}},
			[]group{{"19", "19.06", "3.62"}, {"7", "10.00", "0.70"}, {"0", "1.00", "0"}}},
		{"the same rate twice is one group",
			[]order.Line{line("10.00"), tax(19, "1.90"), line("20.00"), tax(19, "3.80")},
			map[int]share{0: {"19", "1.90", true}, 2: {"19", "3.80", true}},
			[]group{{"19", "30.00", "5.70"}}},
		{"a tax line the shares do not make: rate shown, no share, the ledger's sum in the group",
			[]order.Line{line("10.00"), line("10.00"), tax(19, "4.00")},
			map[int]share{0: {"19", "1.90", false}, 1: {"19", "1.90", false}},
			[]group{{"19", "20.00", "4.00"}}},
		{"a credit memo: negative lines, negative tax",
			[]order.Line{line("-13.20"), tax(19, "-2.51")},
			map[int]share{0: {"19", "-2.51", true}},
			[]group{{"19", "-13.20", "-2.51"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := lineTaxes(c.lines, "EUR")
			if len(got.lines) != len(c.shares) {
				t.Errorf("%d lines with tax, want %d", len(got.lines), len(c.shares))
			}
			for i, w := range c.shares {
				g := got.lines[i]
				if g.rate.Trim(0).String() != w.rate || g.tax != amount(w.tax) || g.split != w.split {
					t.Errorf("line %d: %s %% %s split %v, want %s %% %s split %v", i, g.rate, g.tax, g.split, w.rate, w.tax, w.split)
				}
			}
			if len(got.groups) != len(c.groups) {
				t.Fatalf("%d groups, want %d", len(got.groups), len(c.groups))
			}
			for i, w := range c.groups {
				g := got.groups[i]
				if g.rate.Trim(0).String() != w.rate || g.net != amount(w.net) || g.tax != amount(w.tax) {
					t.Errorf("group %d: %s %% net %s tax %s, want %s %% net %s tax %s", i, g.rate, g.net, g.tax, w.rate, w.net, w.tax)
				}
			}
		})
	}
}

// TestLabelsFor: the buyer's locale picks the language; English when none
// fits.
func TestLabelsFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ locale, lang, day string }{
		{"en-US", "en", "Jan 10, 2027"},
		{"en", "en", "Jan 10, 2027"},
		{"en-GB", "en", "10 Jan 2027"},
		{"de-DE", "de", "10.01.2027"},
		{"de-AT", "de", "10.01.2027"},
		{"de-CH", "de", "10.01.2027"},
		{"fr-FR", "fr", "10/01/2027"},
		{"fr-CA", "fr", "10/01/2027"},
		{"es-ES", "en", "10 Jan 2027"},
		{"ja-JP", "en", "10 Jan 2027"},
		{"", "en", "10 Jan 2027"},
		{"not a locale", "en", "10 Jan 2027"},
	} {
		l := labelsFor(c.locale)
		if l.Lang != c.lang || l.day(date("2027-01-10")) != c.day {
			t.Errorf("%q: %s %s, want %s %s", c.locale, l.Lang, l.day(date("2027-01-10")), c.lang, c.day)
		}
	}
	// Every language names every type and status.
	for _, l := range languages {
		for _, d := range []store.DocumentType{store.DocInvoice, store.DocCreditMemo, store.DocPayment, store.DocRefund, store.DocAdjustment} {
			if l.Titles[d] == "" {
				t.Errorf("%s has no title for %s", l.Lang, d)
			}
		}
		for _, s := range []store.DocumentStatus{store.DocOpen, store.DocPaid, store.DocVoid} {
			if l.Statuses[s] == "" {
				t.Errorf("%s has no name for %s", l.Lang, s)
			}
		}
	}
}

// TestMoney: amounts with the currency's symbol where the locale writes
// it.
func TestMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		locale, currency, amount, want string
	}{
		{"en-US", "USD", "1234.56", "$1,234.56"},
		{"en-US", "EUR", "-1234.56", "€-1,234.56"},
		{"en-GB", "USD", "1234.56", "US$1,234.56"},
		{"de-DE", "EUR", "1234.56", "1.234,56\u00a0€"},
		{"fr-FR", "EUR", "1234.56", "1\u00a0234,56\u00a0€"},
		{"de-CH", "CHF", "1234.5", "CHF\u00a01’234.50"},
		{"de-AT", "EUR", "1234.5", "€\u00a01\u00a0234,50"},
		{"ja-JP", "JPY", "1234567", "￥1,234,567"},
	} {
		if got := newAmounts(c.locale, c.currency).money(amount(c.amount)); got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.locale, c.currency, c.amount, got, c.want)
		}
	}
}

// TestUnprintable: text the font cannot carry as it comes (characters
// beyond the Basic Multilingual Plane, invalid UTF-8, control characters)
// prints as U+FFFD or a space, and the rest of the cell stays.
func TestUnprintable(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	d.Lines[0].Description = "Setup 🚀 fee \xff\x01done"
	buyer.Name = "Ünïcödé Ωμέγα Россия"
	_, cells := render(t, newView(d, vendor, buyer))
	for _, want := range []string{"Setup \ufffd fee \ufffd done", "Ünïcödé Ωμέγα Россия"} {
		if !hasCell(cells, want) {
			t.Errorf("the PDF lacks %q: %q", want, texts(cells))
		}
	}
}

// TestRightToLeft: Arabic letters take their joined forms and
// right-to-left runs are laid out right to left, with numbers and Latin
// words in them kept left to right.
func TestRightToLeft(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"Basic, monthly", "Basic, monthly"},
		// Hebrew: reversed; in a Hebrew line the number comes first.
		{"שלום", "םולש"},
		{"שלום 42", "42 םולש"},
		{"Invoice for שלום בע״מ", "Invoice for מ״עב םולש"},
		{"(שלום)", "(םולש)"},
		// Arabic: sheen reh kaf teh marbuta, shaped then reversed.
		{"شركة", "\ufe94\ufedb\ufeae\ufeb7"},
		// A lone letter is isolated; lam alef is one ligature; the marks
		// (fatha) stay on their letter and leave the joining alone.
		{"ب", "\ufe8f"},
		{"سلام", "\ufee1\ufefc\ufeb3"},
		{"بَب", "\ufe90\ufe91\u064e"},
	} {
		if got := visual(shapeArabic(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
	// The PDF writes a Hebrew and an Arabic party as they are read.
	d, vendor, buyer := setup(t)
	buyer.Name, vendor.Name = "שלום בע״מ", "شركة"
	_, cells := render(t, newView(d, vendor, buyer))
	for _, want := range []string{"מ״עב םולש", "\ufe94\ufedb\ufeae\ufeb7"} {
		if !hasCell(cells, want) {
			t.Errorf("the PDF lacks %q: %q", want, texts(cells))
		}
	}
}
