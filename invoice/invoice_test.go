package invoice

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
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
		"<title>Invoice INV-000042</title>", "INV-000042",
		">6.60<", ">13.20<", ">9.90<", ">29.70<", ">5.64<", "35.34 USD",
		"2027-01-10 – 2027-02-09", "2027-02-09", ">Open<",
		"Gamma Reseller", "1 Vendor Way", "12345 Springfield", "VAT ID US-99", "Delta Customer", "2 Buyer Street",
		"Mailboxes &lt;extra&gt;", // escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Self-contained: nothing to fetch, nothing to run.
	for _, bad := range []string{"<script", "<link", "src=", "http://", "https://", ReverseChargeNote} {
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
		}, []string{ReverseChargeNote, "29.70 USD"}, []string{"Subtotal", "VAT 19 %"}},
		{"paid in part", func(d *store.Document, _ *account.Account) {
			d.Applied = amount("20.00")
		}, []string{"Paid", ">20.00<", "Amount due", "15.34 USD"}, nil},
		{"paid", func(d *store.Document, _ *account.Account) {
			d.Status, d.Applied = store.DocPaid, d.Total
		}, []string{">Paid<", "0.00 USD"}, nil},
		{"payment", func(d *store.Document, _ *account.Account) {
			d.Type, d.Number, d.Status, d.Total, d.DueOn, d.Method = store.DocPayment, "PAY-000007", store.DocNA, amount("-35.34"), time.Time{}, "bank transfer"
			d.Lines = []order.Line{{What: store.PaymentLine, Amount: amount("-35.34"), Description: "Payment by bank transfer"}}
		}, []string{"Payment receipt PAY-000007", ">35.34<", "35.34 USD", "Paid by bank transfer."}, []string{"-35.34", "Status", "Due"}},
		{"credit memo", func(d *store.Document, _ *account.Account) {
			d.Type, d.Number, d.Status, d.Total = store.DocCreditMemo, "CM-000001", store.DocNA, amount("-13.20")
			d.Lines = []order.Line{{What: order.ChangeCredit, Amount: amount("-13.20"), Description: "Unused days"}}
		}, []string{"Credit memo CM-000001", ">-13.20<", "-13.20 USD"}, nil},
		{"German buyer", func(d *store.Document, buyer *account.Account) {
			buyer.Locale = "de-DE"
			d.Lines[1].Amount, d.Lines[2].Amount, d.Total = amount("1234.50"), amount("-1.5"), amount("1245.24")
		}, []string{">1.234,50<", ">-1,50<", "1.245,24 USD"}, nil},
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

// pageCount reads the page count of a PDF's page tree, which stays
// uncompressed whatever the page contents.
func pageCount(t *testing.T, pdf []byte) int {
	t.Helper()
	m := regexp.MustCompile(`/Type /Pages\s*/Kids \[[^\]]*\]\s*/Count (\d+)`).FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("no page tree in the PDF")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// checkPDF checks the frame of a PDF: header, trailer, cross-reference
// table at the offset startxref names.
func checkPDF(t *testing.T, pdf []byte) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("the PDF starts with %q", pdf[:min(len(pdf), 8)])
	}
	if !bytes.HasSuffix(bytes.TrimSpace(pdf), []byte("%%EOF")) || !bytes.Contains(pdf, []byte("trailer")) {
		t.Errorf("no trailer")
	}
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("no startxref")
	}
	at, _ := strconv.Atoi(string(m[1]))
	if at >= len(pdf) || !bytes.HasPrefix(pdf[at:], []byte("xref")) {
		t.Errorf("startxref %d does not point at the cross-reference table", at)
	}
}

func TestPDF(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	var b bytes.Buffer
	if err := PDF(&b, d, vendor, buyer); err != nil {
		t.Fatal(err)
	}
	checkPDF(t, b.Bytes())
	if n := pageCount(t, b.Bytes()); n != 1 {
		t.Errorf("%d pages", n)
	}
	// The same document renders to the same bytes.
	var again bytes.Buffer
	if err := PDF(&again, d, vendor, buyer); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Errorf("two renderings differ")
	}
}

// TestPDFText reads the text of an uncompressed rendering.
func TestPDFText(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	d.ReverseCharge = true
	var b bytes.Buffer
	if err := writePDF(&b, newView(d, vendor, buyer), false); err != nil {
		t.Fatal(err)
	}
	checkPDF(t, b.Bytes())
	for _, want := range []string{"Invoice INV-000042", "(INV-000042)", "(6.60)", "(13.20)", "(9.90)", "(29.70)", "(5.64)",
		"(35.34 USD)", "(Gamma Reseller)", "(Delta Customer)", "(Mailboxes <extra>)", "(VAT 19 %)", ReverseChargeNote} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
}

// TestPDFPages: a long invoice runs over pages, the table's header on
// each.
func TestPDFPages(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	d.Lines, d.Total = nil, 0
	for i := range 120 {
		d.Lines = append(d.Lines, order.Line{What: order.Usage, Amount: amount("1.00"),
			Description: fmt.Sprintf("Usage %d of a resource whose description is long enough to need a second line in its column", i)})
		d.Total += amount("1.00")
	}
	var b bytes.Buffer
	if err := writePDF(&b, newView(d, vendor, buyer), false); err != nil {
		t.Fatal(err)
	}
	checkPDF(t, b.Bytes())
	pages := pageCount(t, b.Bytes())
	if pages < 3 {
		t.Errorf("%d pages for 240 rows", pages)
	}
	if n := bytes.Count(b.Bytes(), []byte("(Description)")); n != pages {
		t.Errorf("the table's header is on %d of %d pages", n, pages)
	}
	if !bytes.Contains(b.Bytes(), []byte("(120.00 USD)")) {
		t.Errorf("no total")
	}
}
