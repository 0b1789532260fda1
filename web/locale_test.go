package web

import (
	"slices"
	"testing"
)

// TestCatalogsComplete checks that every language has every message key
// English has, and no key English lacks.
func TestCatalogsComplete(t *testing.T) {
	en := keys[languages[0]]
	for _, tag := range languages[1:] {
		for _, k := range en {
			if !slices.Contains(keys[tag], k) {
				t.Errorf("%s lacks %q", tag, k)
			}
		}
		for _, k := range keys[tag] {
			if !slices.Contains(en, k) {
				t.Errorf("%s has %q, which English lacks", tag, k)
			}
		}
	}
}
