package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
	"golang.org/x/text/number"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
)

// The panels' messages, one JSON file per language under locales/ (key →
// message, with fmt verbs for arguments). English is complete by rule and
// the fallback; TestCatalogsComplete checks that every language has every
// key. German calls a subscription "Abonnement": "Vertrag" is only ever a
// contract.
//
//go:embed locales/*.json
var localeFS embed.FS

// languages are the panels' languages, English first: the matcher answers
// the first when nothing matches.
var languages = []language.Tag{language.English, language.German, language.French, language.Arabic, language.Hebrew}

// rightToLeft are the languages written from right to left; their pages
// carry dir="rtl" and the layout, built on logical CSS properties, mirrors.
var rightToLeft = map[language.Tag]bool{language.Arabic: true, language.Hebrew: true}

var (
	matcher  = language.NewMatcher(languages)
	messages = catalog.NewBuilder(catalog.Fallback(language.English))
	// keys are the message keys of each language's file, for the test.
	keys = map[language.Tag][]string{}
)

func init() {
	for _, tag := range languages {
		b, err := localeFS.ReadFile(path.Join("locales", tag.String()+".json"))
		if err != nil {
			panic(fmt.Sprintf("web: no messages for %s: %v", tag, err))
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("web: messages for %s: %v", tag, err))
		}
		for k, v := range m {
			if err := messages.SetString(tag, k, v); err != nil {
				panic(fmt.Sprintf("web: message %s of %s: %v", k, tag, err))
			}
			keys[tag] = append(keys[tag], k)
		}
		slices.Sort(keys[tag])
	}
}

// locale is a reader's language: its messages, direction and formats.
type locale struct {
	Tag  language.Tag
	Lang string // for <html lang>
	Dir  string // "ltr" or "rtl"
	p    *message.Printer
}

// T is the message key in the reader's language, with args put in.
func (l *locale) T(key string, args ...any) string { return l.p.Sprintf(key, args...) }

// Date renders a day in the reader's way ("" for none).
func (l *locale) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(l.T("format.date"))
}

// Number renders a whole number with the reader's grouping.
func (l *locale) Number(n int64) string { return l.p.Sprint(number.Decimal(n)) }

// Money renders an amount with its currency's code: "12.50 EUR". The
// digits are money's own (exact, the currency's decimals).
//
// The invoice package formats amounts the locale's way (separators,
// symbol placement) for its documents; when the panels show prices, that
// formatter moves to a package both share rather than being written
// twice.
func (l *locale) Money(m money.Micros, currency string) string {
	return m.Format(currency) + "\u00a0" + currency
}

// localeFor picks the reader's language: the user's own choice when it
// has one, then the browser's Accept-Language, then English.
func localeFor(r *http.Request, u *account.User) *locale {
	var prefs []language.Tag
	if u != nil && u.Locale != "" {
		if t, err := language.Parse(u.Locale); err == nil {
			prefs = append(prefs, t)
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		prefs = append(prefs, tags...)
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		i = 0
	}
	return newLocale(languages[i])
}

func newLocale(tag language.Tag) *locale {
	l := &locale{Tag: tag, Lang: tag.String(), Dir: "ltr", p: message.NewPrinter(tag, message.Catalog(messages))}
	if rightToLeft[tag] {
		l.Dir = "rtl"
	}
	return l
}
