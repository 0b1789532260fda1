package invoice

import (
	"bytes"
	_ "embed"
	"html/template"
	"io"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// The page is one file with its styles inline and nothing to fetch, so
// that it prints and archives as it is.
//
//go:embed invoice.html
var pageSource string

var htmlPage = template.Must(template.New("invoice").Funcs(template.FuncMap{
	// party passes a party with the labels to the party template.
	"party": func(p party, l *labels) any {
		return struct {
			Party party
			L     *labels
		}{p, l}
	},
}).Parse(pageSource))

// HTML writes d, issued by vendor to buyer, as a self-contained HTML page
// (styles inline, no scripts, no links to fetch) laid out for printing on
// A4: the same words, figures and parts as the PDF, in the buyer's
// language. Nothing is written when rendering fails.
func HTML(w io.Writer, d *store.Document, vendor, buyer *account.Account) error {
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, newView(d, vendor, buyer)); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
