package invoice

import (
	"bytes"
	"io"
	"strings"

	"codeberg.org/go-pdf/fpdf"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// The PDF is A4 in millimetres, in the PDF's core Helvetica: nothing to
// embed, so files stay small. Core fonts speak Windows-1252, which covers
// the Latin scripts of Western and Central Europe; a character outside it
// prints as a dot (an embedded Unicode font would lift that limit).
const (
	pageMargin = 15.0
	lineHeight = 5.0
)

// The lines table: description, period, quantity, amount; 180 mm in all.
var columns = [4]struct {
	width float64
	align string
}{{85, "L"}, {45, "L"}, {20, "R"}, {30, "R"}}

// PDF writes d, issued by vendor to buyer, as a PDF: a header with the
// number, the days and the two parties, a table of the lines (description,
// period, quantity, amount), tax and total, and the reverse charge note
// when it applies. Nothing is written when rendering fails.
func PDF(w io.Writer, d *store.Document, vendor, buyer *account.Account) error {
	return writePDF(w, newView(d, vendor, buyer), true)
}

// writePDF renders v; compress false leaves the page contents readable,
// for tests.
func writePDF(w io.Writer, v view, compress bool) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetMargins(pageMargin, pageMargin, pageMargin)
	pdf.SetAutoPageBreak(false, pageMargin)
	// The document's own time, not the rendering's: the same document
	// renders to the same bytes.
	if !v.CreatedAt.IsZero() {
		pdf.SetCreationDate(v.CreatedAt)
		pdf.SetModificationDate(v.CreatedAt)
	}
	// Resources in a fixed order, for the same reason.
	pdf.SetCatalogSort(true)
	pdf.SetTitle(v.Title+" "+v.Number, true)
	pdf.SetAuthor(v.Vendor.Name, true)
	pdf.SetCreator("Marketplane", true)
	cp := pdf.UnicodeTranslatorFromDescriptor("")
	tr := func(s string) string { return cp(toCP1252.Replace(s)) }
	_, pageHeight := pdf.GetPageSize()
	bottom := pageHeight - pageMargin

	pdf.AddPage()
	// Title on the left, facts on the right.
	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(110, 9, tr(v.Title+" "+v.Number), "", 0, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	facts := [][2]string{{"Number", v.Number}, {"Issued", v.IssuedOn}}
	if v.DueOn != "" {
		facts = append(facts, [2]string{"Due", v.DueOn})
	}
	if v.Status != "" {
		facts = append(facts, [2]string{"Status", v.Status})
	}
	facts = append(facts, [2]string{"Currency", v.Currency})
	y := pageMargin
	for _, f := range facts {
		pdf.SetXY(pageMargin+110, y)
		pdf.CellFormat(30, lineHeight, tr(f[0]), "", 0, "L", false, 0, "")
		pdf.CellFormat(40, lineHeight, tr(f[1]), "", 0, "R", false, 0, "")
		y += lineHeight
	}

	// The parties, side by side.
	y += lineHeight
	top := y
	for i, p := range []struct {
		heading string
		party   party
	}{{"From", v.Vendor}, {"To", v.Buyer}} {
		x := pageMargin + float64(i)*90
		py := top
		pdf.SetXY(x, py)
		pdf.SetFont("Helvetica", "B", 8)
		pdf.CellFormat(85, lineHeight, strings.ToUpper(p.heading), "", 0, "L", false, 0, "")
		py += lineHeight
		pdf.SetFont("Helvetica", "B", 10)
		rows := append([]string{p.party.Name}, p.party.Address...)
		if p.party.VATID != "" {
			rows = append(rows, "VAT ID "+p.party.VATID)
		}
		for j, r := range rows {
			if j == 1 {
				pdf.SetFont("Helvetica", "", 10)
			}
			pdf.SetXY(x, py)
			pdf.CellFormat(85, lineHeight, tr(r), "", 0, "L", false, 0, "")
			py += lineHeight
		}
		y = max(y, py)
	}

	// The lines; the header is repeated on every page the table reaches.
	y += 2 * lineHeight
	header := func() {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.SetXY(pageMargin, y)
		for i, h := range []string{"Description", "Period", "Quantity", "Amount (" + v.Currency + ")"} {
			pdf.CellFormat(columns[i].width, lineHeight+1, tr(h), "B", 0, columns[i].align, false, 0, "")
		}
		y += lineHeight + 2
		pdf.SetFont("Helvetica", "", 10)
	}
	header()
	for _, l := range v.Lines {
		desc := pdf.SplitText(tr(l.Description), columns[0].width-2)
		if len(desc) == 0 {
			desc = []string{""}
		}
		height := float64(len(desc)) * lineHeight
		if y+height > bottom {
			pdf.AddPage()
			y = pageMargin
			header()
		}
		for i, s := range desc {
			pdf.SetXY(pageMargin, y+float64(i)*lineHeight)
			pdf.CellFormat(columns[0].width, lineHeight, s, "", 0, "L", false, 0, "")
		}
		pdf.SetXY(pageMargin+columns[0].width, y)
		for i, s := range []string{l.Period, l.Quantity, l.Amount} {
			pdf.CellFormat(columns[i+1].width, lineHeight, tr(s), "", 0, columns[i+1].align, false, 0, "")
		}
		y += height + 1
	}

	// Totals, under the amounts.
	type total struct {
		label, amount string
		bold          bool
	}
	var totals []total
	if v.Subtotal != "" {
		totals = append(totals, total{"Subtotal", v.Subtotal, false})
	}
	for _, t := range v.Taxes {
		totals = append(totals, total{t.Label, t.Amount, false})
	}
	totals = append(totals, total{"Total", v.Total + " " + v.Currency, true})
	if v.Paid != "" {
		totals = append(totals, total{"Paid", v.Paid, false}, total{"Amount due", v.Due + " " + v.Currency, true})
	}
	var notes []string
	if v.ReverseCharge {
		notes = append(notes, ReverseChargeNote)
	}
	if v.Method != "" {
		notes = append(notes, "Paid by "+v.Method+".")
	}
	if need := float64(len(totals)+len(notes)+2) * lineHeight; y+need > bottom {
		pdf.AddPage()
		y = pageMargin
	}
	y += lineHeight
	// Totals carry the currency: a wider amount column than the table's.
	const amountWidth = 40.0
	labelWidth := 180 - amountWidth
	for _, t := range totals {
		style, border := "", ""
		if t.bold {
			style, border = "B", "T"
		}
		pdf.SetFont("Helvetica", style, 10)
		pdf.SetXY(pageMargin, y)
		pdf.CellFormat(labelWidth, lineHeight, tr(t.label), "", 0, "R", false, 0, "")
		pdf.CellFormat(amountWidth, lineHeight, tr(t.amount), border, 0, "R", false, 0, "")
		y += lineHeight
	}
	pdf.SetFont("Helvetica", "", 10)
	y += lineHeight
	for _, n := range notes {
		pdf.SetXY(pageMargin, y)
		pdf.MultiCell(180, lineHeight, tr(n), "", "L", false)
		y = pdf.GetY()
	}

	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// toCP1252 maps what locales print outside Windows-1252 to what it has:
// the narrow no-break space of French grouping, the minus sign of
// Swedish, the direction marks of right-to-left locales.
var toCP1252 = strings.NewReplacer("\u202f", "\u00a0", "\u2212", "-", "\u200e", "", "\u200f", "")
