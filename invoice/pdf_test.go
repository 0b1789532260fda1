package invoice

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"codeberg.org/go-pdf/fpdf"
	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

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

// textCell is a piece of text written on a page: where it starts (mm from
// the page's left and top edges, of its baseline) and what it says.
type textCell struct {
	page int
	x, y float64
	text string
}

// readCells reads the text an uncompressed rendering writes: fpdf writes
// each cell's text as "BT x y Td (UTF-16BE) Tj ET", positions in points
// from the bottom left, pages in order.
func readCells(t *testing.T, pdf []byte) []textCell {
	t.Helper()
	const k = 72 / 25.4 // points per mm
	_, pageHeight := fpdf.New("P", "mm", "A4", "").GetPageSize()
	td := regexp.MustCompile(`BT ([\d.]+) ([\d.]+) Td \(`)
	var cells []textCell
	// Page contents are the streams between "/Contents" objects; in an
	// uncompressed fpdf file they come in page order, each after a
	// "/Length" header.
	for page, stream := range regexp.MustCompile(`(?s)<</Length \d+>>\nstream\n(.*?)endstream`).FindAllSubmatch(pdf, -1) {
		s := stream[1]
		for _, m := range td.FindAllSubmatchIndex(s, -1) {
			x, _ := strconv.ParseFloat(string(s[m[2]:m[3]]), 64)
			y, _ := strconv.ParseFloat(string(s[m[4]:m[5]]), 64)
			// The string runs to the first unescaped ")".
			var raw []byte
			for i := m[1]; i < len(s) && s[i] != ')'; i++ {
				if s[i] == '\\' {
					i++
					if s[i] == 'r' {
						raw = append(raw, '\r')
						continue
					}
				}
				raw = append(raw, s[i])
			}
			if len(raw)%2 != 0 {
				t.Fatalf("odd UTF-16 string %q", raw)
			}
			u := make([]uint16, len(raw)/2)
			for i := range u {
				u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
			}
			cells = append(cells, textCell{page: page + 1, x: x / k, y: pageHeight - y/k, text: string(utf16.Decode(u))})
		}
	}
	return cells
}

// texts are the texts of cells.
func texts(cells []textCell) []string {
	var s []string
	for _, c := range cells {
		s = append(s, c.text)
	}
	return s
}

// hasCell reports whether a cell says exactly s.
func hasCell(cells []textCell, s string) bool {
	for _, c := range cells {
		if c.text == s {
			return true
		}
	}
	return false
}

// hasText reports whether s is written, on one line or wrapped over
// lines that follow each other.
func hasText(cells []textCell, s string) bool {
	return strings.Contains(" "+strings.Join(texts(cells), " ")+" ", " "+s+" ")
}

// render renders d uncompressed and reads its cells.
func render(t *testing.T, v view) ([]byte, []textCell) {
	t.Helper()
	var b bytes.Buffer
	if err := writePDF(&b, v, false); err != nil {
		t.Fatal(err)
	}
	checkPDF(t, b.Bytes())
	return b.Bytes(), readCells(t, b.Bytes())
}

// measure is the width in mm of s in the regular font at the table's size,
// as fpdf measures when it wraps.
func measure(s string) float64 {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(font, "", regularFont)
	pdf.SetFont(font, "", fontSize)
	return pdf.GetStringWidth(s)
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
	// Only the glyphs used are embedded: the fonts are 1.4 MB.
	if b.Len() > 100_000 {
		t.Errorf("the PDF is %d bytes", b.Len())
	}
}

// TestPDFText reads the cells of an English invoice: every figure of the
// worked example in setup, each line's tax, both parties.
func TestPDFText(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	_, cells := render(t, newView(d, vendor, buyer))
	for _, want := range []string{"Invoice INV-000042", "INV-000042", "Jan 10, 2027", "Feb 9, 2027", "Open", "USD",
		"Gamma Reseller", "VAT ID US-99", "Delta Customer", "Mailboxes <extra>", "Jan 10, 2027 – Feb 9, 2027",
		"Description", "Period", "Qty", "Rate", "Tax", "Net (USD)",
		// Lines: net and tax at 19 %, each rounded on its own.
		"6.60", "1.25", "13.20", "2.51", "9.90", "1.88", "19 %", "3",
		// By rate, then totals.
		"Gross", "29.70", "5.64", "35.34", "Net total", "$29.70", "$5.64", "Total", "$35.34",
		"Payment", "Please pay $35.34 by Feb 9, 2027 (30 days net), quoting INV-000042 as the payment reference.",
		"Invoice INV-000042 · page 1 of 1",
	} {
		if !hasText(cells, strings.ReplaceAll(want, " %", "\u00a0%")) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("cells: %q", texts(cells))
	}
}

// TestPDFLanguages: a German and a French buyer read their invoice in
// their language, figures and days as they write them, tax named as they
// name it, both tax ids, a "×" as a "×".
func TestPDFLanguages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		locale string
		want   []string
	}{
		{"de-DE", []string{"Rechnung INV-000042", "Nummer", "Datum", "10.01.2027", "Fällig am", "09.02.2027", "Offen", "Währung",
			"VON", "AN", "USt-IdNr. DE111111111", "USt-IdNr. FR22222222222",
			"Beschreibung", "Zeitraum", "Menge", "Satz", "USt.", "Netto (EUR)", "10.01.2027 – 09.02.2027",
			"Basic: 3 × mailbox", "1.234,50", "234,56", "1,25", "19 %", "Brutto", "Summe netto", "1.247,64 €", "237,05 €",
			"Gesamtbetrag", "1.484,69 €", "Zahlung",
			"Bitte zahlen Sie 1.484,69 € bis zum 09.02.2027 (30 Tage netto) unter Angabe von INV-000042 als Verwendungszweck.",
			"Fragen zu diesem Beleg: Gamma Billing · billing@gamma.example · +49 30 1234567",
			"Rechnung INV-000042 · Seite 1 von 1"}},
		{"fr-FR", []string{"Facture INV-000042", "Numéro", "Échéance", "10/01/2027", "09/02/2027", "Ouverte", "Devise",
			"ÉMETTEUR", "DESTINATAIRE", "N° TVA DE111111111", "N° TVA FR22222222222",
			"Désignation", "Période", "Qté", "Taux", "TVA", "Montant HT (EUR)", "10/01/2027 – 09/02/2027",
			"Basic: 3 × mailbox", "1 234,50", "234,56", "TTC", "Total HT", "1 247,64 €", "237,05 €", "Total TTC", "1 484,69 €",
			"Paiement", "Facture INV-000042 · page 1 sur 1"}},
	} {
		t.Run(c.locale, func(t *testing.T) {
			t.Parallel()
			_, cells := render(t, newView(euroInvoice(t, c.locale)))
			for _, want := range c.want {
				// The locales' spaces are no-break spaces.
				if !hasText(cells, want) && !hasText(cells, strings.ReplaceAll(want, " %", "\u00a0%")) &&
					!hasText(cells, nbsp(want)) {
					t.Errorf("the PDF lacks %q", want)
				}
			}
			if t.Failed() {
				t.Logf("cells: %q", texts(cells))
			}
		})
	}
}

// nbsp writes s's spaces inside and before figures as no-break spaces, as
// French grouping and "1,00 €" do.
func nbsp(s string) string {
	return regexp.MustCompile(`(\d) (\d|€|%)`).ReplaceAllString(s, "$1\u00a0$2")
}

// TestPDFWraps: a long description wraps inside its column, whole, and
// the cells beside it stay whole on its first line.
func TestPDFWraps(t *testing.T) {
	t.Parallel()
	for _, locale := range []string{"en-US", "de-DE", "fr-FR"} {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			d, vendor, buyer := euroInvoice(t, locale)
			long := "Office 365 E3: 3 × mailbox, with archiving, data loss prevention and eDiscovery for the legal team " +
				"of the Zürich branch (Bürogebäude Süd), renewed for the period that the next column shows"
			d.Lines[1].Description = long
			v := newView(d, vendor, buyer)
			_, cells := render(t, v)
			period := v.Lines[1].Period
			// The description's lines are the cells at its column's left
			// from its first words to the next line of the table.
			var pieces []textCell
			var periodCell, netCell *textCell
			for i, c := range cells {
				switch {
				case strings.HasPrefix(c.text, "Office 365") || len(pieces) > 0 && c.x == pieces[0].x && c.text != v.Lines[2].Description:
					pieces = append(pieces, c)
				case c.text == period:
					periodCell = &cells[i]
				case c.text == v.Lines[1].Amount:
					netCell = &cells[i]
				}
				if c.text == v.Lines[2].Description {
					break
				}
			}
			if len(pieces) < 3 {
				t.Fatalf("the description is on %d lines: %q", len(pieces), texts(cells))
			}
			var got []string
			for i, p := range pieces {
				got = append(got, p.text)
				if w := measure(p.text); p.x+w > pageMargin+taxedColumns[0].width {
					t.Errorf("line %q ends at %.1f mm, past its column's end at %.1f mm", p.text, p.x+w, pageMargin+taxedColumns[0].width)
				}
				if i > 0 && p.y <= pieces[i-1].y {
					t.Errorf("line %q is not below the line before", p.text)
				}
			}
			if strings.Join(got, " ") != long {
				t.Errorf("the description reads %q", strings.Join(got, " "))
			}
			if periodCell == nil || netCell == nil {
				t.Fatalf("the period %q or the amount %q is not whole: %q", period, v.Lines[1].Amount, texts(cells))
			}
			if periodCell.y != pieces[0].y || netCell.y != pieces[0].y {
				t.Errorf("the period and the amount are not on the description's first line")
			}
			// The next line starts below the last line of the description.
			for _, c := range cells {
				if c.text == v.Lines[2].Description && c.y <= pieces[len(pieces)-1].y {
					t.Errorf("the next line overlaps the description")
				}
			}
		})
	}
}

// TestPDFPages: a long invoice runs over pages, the table's header on
// each, and a description taller than a page runs on.
func TestPDFPages(t *testing.T) {
	t.Parallel()
	d, vendor, buyer := setup(t)
	d.Lines, d.Total = nil, 0
	for i := range 120 {
		d.Lines = append(d.Lines, order.Line{What: order.Usage, Amount: amount("1.00"),
			Description: fmt.Sprintf("Usage %d of a resource whose description is long enough to need a second line in its column", i)})
		d.Total += amount("1.00")
	}
	d.Lines = append(d.Lines, order.Line{What: order.Usage, Amount: amount("1.00"),
		Description: strings.Repeat("A description longer than a page. ", 300)})
	d.Total += amount("1.00")
	pdf, cells := render(t, newView(d, vendor, buyer))
	pages := pageCount(t, pdf)
	if pages < 6 {
		t.Errorf("%d pages for 240 rows and a description of 150 lines", pages)
	}
	// Every page the table reaches has its header once.
	headers, rows := map[int]int{}, map[int]bool{}
	for _, c := range cells {
		if c.text == "Amount (USD)" {
			headers[c.page]++
		}
		if strings.HasPrefix(c.text, "Usage ") || strings.HasPrefix(c.text, "A description longer") {
			rows[c.page] = true
		}
		if !strings.Contains(c.text, " · ") && c.y > 297-pageMargin-footerHeight {
			t.Errorf("%q on page %d is in the footer or the bottom margin", c.text, c.page)
		}
	}
	if len(rows) < 5 {
		t.Errorf("the table is on %d pages", len(rows))
	}
	for p := range rows {
		if headers[p] != 1 {
			t.Errorf("the table's header is %d times on page %d", headers[p], p)
		}
	}
	if !hasCell(cells, "$121.00") {
		t.Errorf("no total")
	}
}

// TestPDFText reads the text with poppler's pdftotext, as a person's
// viewer does: a "×" is a "×", the German words, the tax to the cent,
// both tax ids, and a wrapped description beside an intact period.
// pdftotext comes with poppler-utils; CI installs it.
func TestPDFToText(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext is missing (apt package poppler-utils)")
		}
		t.Skip("pdftotext is missing (apt package poppler-utils)")
	}
	d, vendor, buyer := euroInvoice(t, "de-DE")
	d.Lines[0].Description = "Basic: 3 × mailbox, mit Archivierung und Aufbewahrung für die Rechtsabteilung der Niederlassung Zürich"
	var b bytes.Buffer
	if err := PDF(&b, d, vendor, buyer); err != nil {
		t.Fatal(err)
	}
	f := t.TempDir() + "/invoice.pdf"
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(out), "\u00a0", " ")
	for _, want := range []string{"Rechnung INV-000042", "3 × mailbox", "USt-IdNr. DE111111111", "USt-IdNr. FR22222222222",
		"Summe netto", "USt.", "237,05 €", "Gesamtbetrag", "1.484,69 €", "Verwendungszweck"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext reads no %q", want)
		}
	}
	// The description's first line, then the period and the amounts on
	// the same line of text, each whole.
	if !regexp.MustCompile(`Basic: 3 × mailbox,[^\n]*?\s+10\.01\.2027 – 09\.02\.2027\s+3\s+19 %\s+1,25\s+6,60`).MatchString(text) {
		t.Errorf("the first line of the table reads otherwise:\n%s", text)
	}
}
func BenchmarkPDF(b *testing.B) {
	d, vendor, buyer := euroInvoice(b, "de-DE")
	for b.Loop() {
		var w bytes.Buffer
		if err := PDF(&w, d, vendor, buyer); err != nil {
			b.Fatal(err)
		}
	}
}

var samples = flag.String("samples", "", "write the sample documents of TestSamples to this directory, to look at them (pdftoppm -png)")

// TestSamples renders the documents a person should look at before a
// change to the layout ships: an invoice in each language with a long
// description and a "×", a Hebrew and Arabic one, one over several pages,
// a paid one, a credit memo and a payment receipt. With -samples DIR they
// are written there as PDF and HTML.
func TestSamples(t *testing.T) {
	long := "Office 365 E3: 3 × mailbox, with archiving, data loss prevention and eDiscovery for the legal team " +
		"of the Zürich branch (Bürogebäude Süd)"
	docs := map[string]func() (*store.Document, *account.Account, *account.Account){}
	for _, locale := range []string{"en-US", "de-DE", "fr-FR"} {
		docs["invoice-"+locale] = func() (*store.Document, *account.Account, *account.Account) {
			d, vendor, buyer := euroInvoice(t, locale)
			d.Lines[1].Description = long
			return d, vendor, buyer
		}
	}
	docs["invoice-rtl"] = func() (*store.Document, *account.Account, *account.Account) {
		d, vendor, buyer := euroInvoice(t, "he-IL")
		buyer.Name, buyer.Address = "שלום טכנולוגיות בע״מ", account.Address{Line1: "רחוב הרצל 12", City: "תל אביב", Country: "IL"}
		vendor.Name = "شركة الأمل للتجارة"
		return d, vendor, buyer
	}
	docs["invoice-pages"] = func() (*store.Document, *account.Account, *account.Account) {
		d, vendor, buyer := euroInvoice(t, "de-DE")
		for i := range 60 {
			d.Lines = append(d.Lines, order.Line{What: order.Usage, Amount: amount("1.00"),
				Description: fmt.Sprintf("Nutzung %d: Speicher über dem Inklusivvolumen, abgerechnet nach Tagen", i)})
			d.Total += amount("1.00")
		}
		return d, vendor, buyer
	}
	docs["paid"] = func() (*store.Document, *account.Account, *account.Account) {
		d, vendor, buyer := euroInvoice(t, "fr-FR")
		d.Status, d.Applied = store.DocPaid, d.Total
		return d, vendor, buyer
	}
	docs["credit-memo"] = func() (*store.Document, *account.Account, *account.Account) {
		d, vendor, buyer := euroInvoice(t, "de-DE")
		d.Type, d.Number, d.Status, d.Total = store.DocCreditMemo, "CM-000001", store.DocNA, amount("-15.71")
		d.Lines = []order.Line{{What: order.ChangeCredit, Amount: amount("-13.20"), Description: "Basic: Gutschrift für die restlichen Tage"},
			{What: order.Tax, TaxRate: decimal.MustNew(19, 0), Amount: amount("-2.51")}}
		return d, vendor, buyer
	}
	docs["payment"] = func() (*store.Document, *account.Account, *account.Account) {
		d, vendor, buyer := euroInvoice(t, "en-GB")
		d.Type, d.Number, d.Status, d.Total, d.DueOn, d.Method = store.DocPayment, "PAY-000007", store.DocNA, amount("-1484.69"), time.Time{}, "bank transfer"
		d.Lines = []order.Line{{What: store.PaymentLine, Amount: amount("-1484.69"), Description: "Payment by bank transfer"}}
		return d, vendor, buyer
	}
	for name, doc := range docs {
		d, vendor, buyer := doc()
		var pdf, page bytes.Buffer
		if err := PDF(&pdf, d, vendor, buyer); err != nil {
			t.Fatal(err)
		}
		checkPDF(t, pdf.Bytes())
		if err := HTML(&page, d, vendor, buyer); err != nil {
			t.Fatal(err)
		}
		if *samples == "" {
			continue
		}
		for ext, b := range map[string][]byte{".pdf": pdf.Bytes(), ".html": page.Bytes()} {
			if err := os.WriteFile(filepath.Join(*samples, name+ext), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
