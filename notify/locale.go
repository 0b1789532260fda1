package notify

import (
	"strings"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Languages are the languages of the provider's default templates; every
// kind has a template in each.
var Languages = []string{"en", "de", "fr", "ar", "he"}

var matcher = language.NewMatcher([]language.Tag{language.English, language.German, language.French, language.Arabic, language.Hebrew})

// Language returns the language of Languages that serves locale (BCP 47:
// "de-AT" reads German), and false when none does.
func Language(locale string) (string, bool) {
	tag, err := language.Parse(locale)
	if err != nil || locale == "" {
		return "", false
	}
	_, i, conf := matcher.Match(tag)
	if conf == language.No {
		return "", false
	}
	return Languages[i], true
}

// numbers are how a language writes numbers, amounts and days. Digits are
// always the Latin ones: email clients, search and copy-paste handle them
// everywhere, and the invoices the messages announce print them too.
type numbers struct {
	group, point string
	// symbolAfter writes the currency's symbol after the amount,
	// "1.234,50 €"; else before, "€1,234.50".
	symbolAfter bool
	date        func(t time.Time) string
}

var numbersOf = map[string]numbers{
	"en": {group: ",", point: ".", date: func(t time.Time) string { return t.Format("2 Jan 2006") }},
	"de": {group: ".", point: ",", symbolAfter: true, date: func(t time.Time) string { return t.Format("02.01.2006") }},
	"fr": {group: "\u202f", point: ",", symbolAfter: true, date: func(t time.Time) string { return t.Format("02/01/2006") }},
	"ar": {group: ",", point: ".", symbolAfter: true, date: func(t time.Time) string { return t.Format("02/01/2006") }},
	"he": {group: ",", point: ".", symbolAfter: true, date: func(t time.Time) string { return t.Format("02/01/2006") }},
}

// formatter renders amounts and days for one locale.
type formatter struct {
	tag language.Tag
	n   numbers
}

func formatterFor(locale string) formatter {
	lang, ok := Language(locale)
	if !ok {
		lang = "en"
	}
	tag, err := language.Parse(locale)
	if err != nil || !ok {
		tag = language.English
	}
	n := numbersOf[lang]
	// In the United States the month comes first.
	if r, conf := tag.Region(); lang == "en" && conf == language.Exact && r.String() == "US" {
		n.date = func(t time.Time) string { return t.Format("Jan 2, 2006") }
	}
	return formatter{tag: tag, n: n}
}

// Money renders a: the exact digits of the currency's minor units, the
// language's separators and the currency's symbol in the language
// ("€1,234.50", "1.234,50 €", "1 234,50 €").
func (f formatter) Money(a Amount) string {
	s := a.Value.Format(a.Currency)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(f.n.group)
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac != "" {
		out += f.n.point + frac
	}
	if neg {
		out = "-" + out
	}
	symbol := a.Currency
	if u, err := currency.ParseISO(a.Currency); err == nil {
		symbol = message.NewPrinter(f.tag).Sprint(currency.Symbol(u))
	}
	if f.n.symbolAfter {
		return out + "\u00a0" + symbol
	}
	if len(symbol) > 1 && symbol[len(symbol)-1] >= 'A' && symbol[len(symbol)-1] <= 'Z' {
		return symbol + "\u00a0" + out
	}
	return symbol + out
}

// Date renders a day; "" for none.
func (f formatter) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return f.n.date(t)
}
