package invoice

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"unicode"

	"codeberg.org/go-pdf/fpdf"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// The PDF embeds DejaVu Sans (fonts/, under the Bitstream Vera licence in
// fonts/LICENSE): the PDF's core fonts speak Windows-1252 only, which
// printed "×" as "ï¿½" and has no Greek, Cyrillic, Hebrew or Arabic
// letters for the names and addresses of buyers. DejaVu Sans covers
// those; fpdf embeds only the glyphs a document uses, so a one-page
// invoice stays small.
var (
	//go:embed fonts/DejaVuSans.ttf
	regularFont []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	boldFont []byte
)

const (
	font       = "DejaVu"
	pageMargin = 15.0
	// pageWidth is the width between the margins of A4.
	pageWidth = 180.0
	fontSize  = 9.0
	// lineHeight is the height of a line of text at fontSize.
	lineHeight = 4.5
	// footerHeight is kept free at the bottom of each page for its footer.
	footerHeight = 8.0
)

// column is a column of a table: its width and alignment ("L", "R").
type column struct {
	width float64
	align string
}

// The lines table, 180 mm in all: description, period, quantity, (tax
// rate, tax,) amount.
var (
	plainColumns = []column{{86, "L"}, {48, "L"}, {18, "R"}, {28, "R"}}
	taxedColumns = []column{{56, "L"}, {48, "L"}, {14, "R"}, {14, "R"}, {20, "R"}, {28, "R"}}
)

// PDF writes d, issued by vendor to buyer, as a PDF in the buyer's
// language: a header with the number, the days and the two parties with
// their tax ids, a table of the lines (description, period, quantity,
// tax rate and tax of each line when the document is taxed, amount)
// whose cells wrap and whose header repeats on every page, the tax by
// rate and the totals, the notes, and for an invoice still to be paid how
// to pay it. Nothing is written when rendering fails.
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
	// Before the fonts: fpdf reserves the alias's glyphs in the subset.
	pdf.AliasNbPages("{nb}")
	pdf.AddUTF8FontFromBytes(font, "", regularFont)
	pdf.AddUTF8FontFromBytes(font, "B", boldFont)
	// The document's own time, not the rendering's: the same document
	// renders to the same bytes.
	if !v.CreatedAt.IsZero() {
		pdf.SetCreationDate(v.CreatedAt)
		pdf.SetModificationDate(v.CreatedAt)
	}
	// Resources in a fixed order, for the same reason.
	pdf.SetCatalogSort(true)
	pdf.SetTitle(clean(v.Title+" "+v.Number), true)
	pdf.SetAuthor(clean(v.Vendor.Name), true)
	pdf.SetCreator("Marketplane", true)
	pdf.SetLang(v.L.Lang)
	pdf.SetFooterFunc(func() {
		pdf.SetFont(font, "", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.SetXY(pageMargin, -pageMargin)
		pdf.CellFormat(pageWidth, 4, clean(fmt.Sprintf(v.L.Page, v.Footer, pdf.PageNo(), "{nb}")), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	_, pageHeight := pdf.GetPageSize()
	p := &page{pdf: pdf, bottom: pageHeight - pageMargin - footerHeight}
	p.newPage()

	// Title on the left, facts on the right.
	pdf.SetFont(font, "B", 16)
	title := p.wrap(v.Title+" "+v.Number, 100)
	for i, s := range title {
		pdf.SetXY(pageMargin, pageMargin+float64(i)*7)
		pdf.CellFormat(100, 7, s, "", 0, "L", false, 0, "")
	}
	facts := [][2]string{{v.L.Number, v.Number}, {v.L.Issued, v.IssuedOn}}
	if v.DueOn != "" {
		facts = append(facts, [2]string{v.L.Due, v.DueOn})
	}
	if v.Status != "" {
		facts = append(facts, [2]string{v.L.Status, v.Status})
	}
	facts = append(facts, [2]string{v.L.Currency, v.Currency})
	pdf.SetFont(font, "", fontSize)
	p.y = pageMargin
	for _, f := range facts {
		p.row(pageMargin+105, []column{{32, "L"}, {43, "R"}}, []string{f[0], f[1]})
	}
	p.y = max(p.y, pageMargin+float64(len(title))*7)

	// The parties, side by side.
	p.y += 2 * lineHeight
	top, end := p.y, p.y
	for i, side := range []struct {
		heading string
		party   party
	}{{v.L.From, v.Vendor}, {v.L.To, v.Buyer}} {
		p.y = top
		x := pageMargin + float64(i)*95
		pdf.SetFont(font, "B", 7)
		p.row(x, []column{{85, "L"}}, []string{strings.ToUpper(side.heading)})
		pdf.SetFont(font, "B", fontSize)
		p.row(x, []column{{85, "L"}}, []string{side.party.Name})
		pdf.SetFont(font, "", fontSize)
		rows := side.party.Address
		if side.party.VATID != "" {
			rows = append(rows[:len(rows):len(rows)], v.L.VATID+" "+side.party.VATID)
		}
		for _, r := range rows {
			p.row(x, []column{{85, "L"}}, []string{r})
		}
		end = max(end, p.y)
	}
	p.y = end

	// The lines; the header is repeated on every page the table reaches.
	p.y += 2 * lineHeight
	cols, head := plainColumns, []string{v.L.Description, v.L.Period, v.L.Quantity, v.L.Amount + " (" + v.Currency + ")"}
	if v.Taxed {
		cols = taxedColumns
		head = []string{v.L.Description, v.L.Period, v.L.Quantity, v.L.TaxRate, v.L.TaxName, v.L.Net + " (" + v.Currency + ")"}
	}
	p.header = func() {
		pdf.SetFont(font, "B", fontSize)
		p.row(pageMargin, cols, head)
		pdf.Line(pageMargin, p.y+0.5, pageMargin+pageWidth, p.y+0.5)
		p.y += 1.5
		pdf.SetFont(font, "", fontSize)
	}
	p.header()
	for _, l := range v.Lines {
		// A period too wide for its column breaks after its dash, not
		// inside a day.
		period := l.Period
		if pdf.GetStringWidth(period) > cols[1].width-2*pdf.GetCellMargin() {
			period = strings.Replace(period, " – ", " –\n", 1)
		}
		cells := []string{l.Description, period, l.Quantity, l.Amount}
		if v.Taxed {
			cells = []string{l.Description, period, l.Quantity, l.TaxRate, l.Tax, l.Amount}
		}
		p.row(pageMargin, cols, cells)
		pdf.SetDrawColor(200, 200, 200)
		pdf.Line(pageMargin, p.y+0.5, pageMargin+pageWidth, p.y+0.5)
		pdf.SetDrawColor(0, 0, 0)
		p.y += 1.5
	}
	p.header = nil

	// Under the table: the tax by rate on the left, the totals on the
	// right, kept together on one page.
	type total struct {
		label, amount string
		bold          bool
	}
	var totals []total
	if v.Taxed {
		totals = append(totals, total{v.L.NetTotal, v.NetTotal, false}, total{v.L.TaxTotal, v.TaxTotal, false})
	}
	totals = append(totals, total{v.L.Total, v.Total, true})
	if v.Paid != "" {
		totals = append(totals, total{v.L.Paid, v.Paid, false}, total{v.L.AmountDue, v.Due, true})
	}
	groupColumns := []column{{16, "R"}, {24, "R"}, {22, "R"}, {24, "R"}}
	rows := max(len(totals), len(v.TaxGroups)+1)
	if p.y+float64(rows+2)*lineHeight > p.bottom {
		p.newPage()
	}
	p.y += lineHeight
	top = p.y
	if v.Taxed {
		pdf.SetFont(font, "B", fontSize)
		p.row(pageMargin, groupColumns, []string{v.L.TaxRate, v.L.Net, v.L.TaxName, v.L.Gross})
		pdf.SetFont(font, "", fontSize)
		for _, g := range v.TaxGroups {
			p.row(pageMargin, groupColumns, []string{g.Rate, g.Net, g.Tax, g.Gross})
		}
	}
	end = p.y
	p.y = top
	for _, t := range totals {
		style := ""
		if t.bold {
			style = "B"
			pdf.Line(pageMargin+105, p.y, pageMargin+pageWidth, p.y)
		}
		pdf.SetFont(font, style, fontSize)
		p.row(pageMargin+105, []column{{40, "R"}, {35, "R"}}, []string{t.label, t.amount})
	}
	p.y = max(p.y, end)
	pdf.SetFont(font, "", fontSize)

	// Notes, then how to pay.
	if len(v.Notes) > 0 {
		p.y += lineHeight
		for _, n := range v.Notes {
			p.row(pageMargin, []column{{pageWidth, "L"}}, []string{n})
		}
	}
	if len(v.Payment) > 0 {
		p.y += lineHeight
		if p.y+float64(len(v.Payment)+2)*lineHeight > p.bottom {
			p.newPage()
		}
		pdf.SetFont(font, "B", fontSize)
		p.row(pageMargin, []column{{pageWidth, "L"}}, []string{v.L.Payment})
		pdf.SetFont(font, "", fontSize)
		for _, s := range v.Payment {
			p.row(pageMargin, []column{{pageWidth, "L"}}, []string{s})
		}
	}

	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// page is where the PDF is being written: the next line's top on the
// current page, the lowest a line may end, and the table header to
// repeat on a new page while a table runs.
type page struct {
	pdf    *fpdf.Fpdf
	y      float64
	bottom float64
	header func()
}

func (p *page) newPage() {
	p.pdf.AddPage()
	p.y = pageMargin
	if p.header != nil {
		p.header()
	}
}

// wrap splits s into the lines that fit width w in the current font; a
// word wider than w is cut where it must be, never left to run over.
// Hebrew and Arabic come out laid out for a left-to-right writer (rtl.go).
func (p *page) wrap(s string, w float64) []string {
	var lines []string
	for _, para := range strings.Split(shapeArabic(clean(s)), "\n") {
		if para == "" {
			lines = append(lines, "")
			continue
		}
		// Lines are cut in the stored order, then each is laid out.
		for _, l := range p.pdf.SplitText(para, w) {
			lines = append(lines, visual(l))
		}
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	return lines
}

// row writes one row of cells in columns from x, each cell wrapped to its
// column, as tall as its tallest cell. A row that fits on a page is not
// split; a taller one runs on over pages.
func (p *page) row(x float64, cols []column, cells []string) {
	wrapped := make([][]string, len(cols))
	n := 0
	for i, c := range cols {
		wrapped[i] = p.wrap(cells[i], c.width)
		n = max(n, len(wrapped[i]))
	}
	perPage := int((p.bottom - pageMargin) / lineHeight)
	for start := 0; start < n; {
		room := int((p.bottom - p.y) / lineHeight)
		if room < 1 || (start == 0 && n > room && n <= perPage) {
			p.newPage()
			continue
		}
		k := min(room, n-start)
		cx := x
		for i, c := range cols {
			for j := start; j < start+k && j < len(wrapped[i]); j++ {
				p.pdf.SetXY(cx, p.y+float64(j-start)*lineHeight)
				p.pdf.CellFormat(c.width, lineHeight, wrapped[i][j], "", 0, c.align, false, 0, "")
			}
			cx += c.width
		}
		p.y += float64(k) * lineHeight
		start += k
	}
}

// clean makes s printable with the embedded font: invalid UTF-8 and
// characters outside the Basic Multilingual Plane (which fpdf's UTF-16
// writer garbles) become U+FFFD, control characters spaces.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r > 0xFFFF:
			return '\uFFFD'
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, s)
}
