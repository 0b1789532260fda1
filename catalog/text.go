// Package catalog holds what a seller sells: resource types, service
// templates, service plans with their subscription periods and resource
// rates, plan categories and sales categories, and their validation rules.
// It imports neither SQL nor HTTP; the store persists it and the delegation
// package copies it down the reseller tree.
package catalog

import (
	"sort"

	"golang.org/x/text/language"
)

// Text is a text in several languages, keyed by BCP 47 tag ("en", "de-DE").
type Text map[string]string

// Get returns the text for locale, falling back by language matching (a
// "de-AT" reader gets "de"), then to English, then to any text at all, so
// that a name is never empty when one exists.
func (t Text) Get(locale string) string {
	if len(t) == 0 {
		return ""
	}
	if s, ok := t[locale]; ok {
		return s
	}
	if len(t) == 1 {
		// The only text is the answer whatever the locale matches: a
		// page of a thousand names in one language builds no matcher.
		for _, s := range t {
			return s
		}
	}
	tags := make([]language.Tag, 0, len(t))
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// English first, so that it is the matcher's fallback.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "en" && keys[j] != "en" })
	for _, k := range keys {
		tag, err := language.Parse(k)
		if err != nil {
			tag = language.Und
		}
		tags = append(tags, tag)
	}
	want, err := language.Parse(locale)
	if err == nil {
		_, i, conf := language.NewMatcher(tags).Match(want)
		if conf > language.No {
			return t[keys[i]]
		}
	}
	return t[keys[0]]
}

// Clone returns a copy of t.
func (t Text) Clone() Text {
	if t == nil {
		return nil
	}
	out := make(Text, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// Equal reports whether t and o hold the same texts.
func (t Text) Equal(o Text) bool {
	if len(t) != len(o) {
		return false
	}
	for k, v := range t {
		if w, ok := o[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func validText(t Text) bool {
	for k := range t {
		if _, err := language.Parse(k); err != nil {
			return false
		}
	}
	return true
}
