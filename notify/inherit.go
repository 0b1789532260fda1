package notify

import (
	"fmt"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// Override is a seller's own version of a template, which applies to its
// whole subtree until an account below overrides it in turn. Deleting it
// is "reset to parent": the subtree inherits the parent's version again.
type Override struct {
	Owner int64 // the seller's account
	Template
	Version int64
}

// Choice is the version of a template that applies, and where it comes
// from.
type Choice struct {
	Template
	// Owner is the account whose override it is; 0 for the provider's
	// default.
	Owner int64
	// Version is the override's version; 0 for the default.
	Version int64
}

// Inherited is the version of kind k in language lang (one of Languages)
// that the last account of chain sees: the nearest override up the chain,
// else the provider's default. chain holds the accounts from the provider
// down; overrides are those their accounts hold (others are ignored).
// false when nothing exists in lang.
func Inherited(k Kind, lang string, chain []int64, overrides []Override) (Choice, bool) {
	for i := len(chain) - 1; i >= 0; i-- {
		for _, o := range overrides {
			if o.Owner == chain[i] && o.Kind == k && o.Locale == lang {
				return Choice{Template: o.Template, Owner: o.Owner, Version: o.Version}, true
			}
		}
	}
	t, ok := Default(k, lang)
	return Choice{Template: t}, ok
}

// Resolve picks the template of kind k for a recipient whose sellers are
// chain (the provider first, the recipient's seller last). The language
// comes first: the recipient's, then the seller's default, then English;
// in the first of them that has any version, the nearest override up the
// chain wins, else the provider's default. So a seller's English override
// does not replace the provider's German for a German reader: the seller
// that wants its own words for German readers overrides German too.
func Resolve(k Kind, chain []int64, overrides []Override, recipientLocale, sellerLocale string) (Choice, error) {
	if !k.Valid() {
		return Choice{}, fmt.Errorf("notify: unknown kind %q", k)
	}
	for _, lang := range candidates(recipientLocale, sellerLocale) {
		if c, ok := Inherited(k, lang, chain, overrides); ok {
			return c, nil
		}
	}
	return Choice{}, fmt.Errorf("notify: no template of %s", k)
}

// candidates are the languages to try for a recipient, in order, each once.
func candidates(locales ...string) []string {
	var out []string
	for _, l := range append(locales, "en") {
		lang, ok := Language(l)
		if !ok {
			continue
		}
		dup := false
		for _, x := range out {
			dup = dup || x == lang
		}
		if !dup {
			out = append(out, lang)
		}
	}
	return out
}

// Diff is a unified line diff of each part of an override against its
// parent's current version, for a seller to see what it changed and what
// the parent changed since: "" when they are the same.
func Diff(parent, override Template) string {
	var b strings.Builder
	for _, p := range []struct{ name, a, b string }{
		{"subject", parent.Subject + "\n", override.Subject + "\n"},
		{"text", parent.Text, override.Text},
		{"html", parent.HTML, override.HTML},
	} {
		b.WriteString(udiff.Unified("parent/"+p.name, "override/"+p.name, p.a, p.b))
	}
	return b.String()
}
