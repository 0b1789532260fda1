package notify

import (
	"errors"

	"github.com/marketplane/marketplane"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/money"
)

// Every kind has a provider's template in every language, and each renders
// its sample data without a missing field.
func TestEveryKindInEveryLanguage(t *testing.T) {
	t.Parallel()
	for _, lang := range Languages {
		for _, k := range Kinds() {
			tpl, ok := Default(k, lang)
			if !ok {
				t.Errorf("%s: no %s template", k, lang)
				continue
			}
			if err := tpl.Validate(); err != nil {
				t.Errorf("%s/%s: %v", k, lang, err)
			}
			if err := Sample(k).Validate(k); err != nil {
				t.Errorf("sample of %s: %v", k, err)
			}
		}
		if n := len(defaults[lang]); n != len(kinds) {
			t.Errorf("%s: %d templates for %d kinds (a kind the list does not know?)", lang, n, len(kinds))
		}
	}
}

func TestMoneyAndDatesInTheRecipientsLanguage(t *testing.T) {
	t.Parallel()
	day := time.Date(2027, 3, 5, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		locale string
		amount Amount
		money  string
		date   string
	}{
		{"en", Amount{1234_500000, "EUR"}, "€1,234.50", "5 Mar 2027"},
		{"en-US", Amount{1234_500000, "USD"}, "$1,234.50", "Mar 5, 2027"},
		{"en", Amount{-7_000000, "CHF"}, "CHF\u00a0-7.00", "5 Mar 2027"},
		{"de-DE", Amount{1234567_890000, "EUR"}, "1.234.567,89\u00a0€", "05.03.2027"},
		{"de-AT", Amount{5_000000, "JPY"}, "5\u00a0¥", "05.03.2027"},
		{"fr", Amount{1234_500000, "EUR"}, "1\u202f234,50\u00a0€", "05/03/2027"},
		{"he-IL", Amount{99_990000, "ILS"}, "99.99\u00a0₪", "05/03/2027"},
		{"ar", Amount{1000_000000, "USD"}, "1,000.00\u00a0US$", "05/03/2027"},
		{"xx-invalid", Amount{1_000000, "EUR"}, "€1.00", "5 Mar 2027"},
	}
	for _, c := range cases {
		f := formatterFor(c.locale)
		if got := f.Money(c.amount); got != c.money {
			t.Errorf("%s: Money(%s %s) = %q, want %q", c.locale, c.amount.Value, c.amount.Currency, got, c.money)
		}
		if got := f.Date(day); got != c.date {
			t.Errorf("%s: Date = %q, want %q", c.locale, got, c.date)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tpl, _ := Default(OrderCompleted, "de")
	d := Sample(OrderCompleted)
	d.Recipient.Name = "Jörg <b>&"
	d.Order.Total = Amount{Value: money.Micros(49_900000), Currency: "EUR"}
	m, err := tpl.Render("de-DE", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Ihre Bestellung SO-000123 ist abgeschlossen" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Gesamtbetrag: 49,90\u00a0€.") || !strings.Contains(m.Text, "Guten Tag Jörg <b>&,") {
		t.Errorf("text:\n%s", m.Text)
	}
	// The HTML body escapes what the data says.
	if !strings.Contains(m.HTML, "Jörg &lt;b&gt;&amp;") || strings.Contains(m.HTML, "<b>&") {
		t.Errorf("html:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, `lang="de" dir="ltr"`) {
		t.Errorf("html without its language:\n%s", m.HTML)
	}
	he, _ := Default(OrderCompleted, "he")
	if m, _ := he.Render("he", d); !strings.Contains(m.HTML, `dir="rtl"`) {
		t.Errorf("Hebrew html not right to left:\n%s", m.HTML)
	}

	// A subject cannot be made into two header lines by its data.
	d.Order.Number = "SO-1\r\nBcc: x@example.com"
	if m, _ := tpl.Render("de", d); strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject %q", m.Subject)
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	good, _ := Default(InvoiceIssued, "en")
	cases := []struct {
		name  string
		edit  func(*Template)
		field string
	}{
		{"kind", func(t *Template) { t.Kind = "invoice.eaten" }, "kind"},
		{"locale", func(t *Template) { t.Locale = "ja" }, "locale"},
		{"subject lines", func(t *Template) { t.Subject = "a\nb" }, "subject"},
		{"no text", func(t *Template) { t.Text = " " }, "text"},
		{"html syntax", func(t *Template) { t.HTML = "<p>{{.Document.Number</p>" }, "html"},
		// An invoice's message has no order.
		{"field of another kind", func(t *Template) { t.Text = "{{.Order.Number}}" }, "text"},
		{"unknown field", func(t *Template) { t.Subject = "{{.Nope}}" }, "subject"},
	}
	for _, c := range cases {
		tpl := good
		c.edit(&tpl)
		err := tpl.Validate()
		if err == nil || !strings.Contains(err.Error(), "invalid template") {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if fe := fieldErrors(err); fe[c.field] == "" {
			t.Errorf("%s: no error on %s: %v", c.name, c.field, fe)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

func fieldErrors(err error) map[string]string {
	var e *marketplane.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// A subject keeps the no-break space between an amount and its symbol.
func TestSubjectKeepsNoBreakSpaces(t *testing.T) {
	t.Parallel()
	tpl, _ := Default(InvoiceIssued, "de")
	m, err := tpl.Render("de", Sample(InvoiceIssued))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Rechnung INV-000042 über 1.234,50\u00a0€"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
}
