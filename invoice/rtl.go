package invoice

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/bidi"
)

// fpdf writes a string's characters left to right as they come and draws
// each character's own glyph. Hebrew and Arabic names and addresses need
// two more steps, which a browser takes for the HTML page: Arabic letters
// take the form their neighbours call for (shapeArabic), and right-to-left
// runs are laid out right to left (visual). Both are done for the cases a
// document meets (a name, an address, a description with a few numbers or
// Latin words in it), not for every rule of Unicode's: embedding levels
// deeper than two, and letters beyond the basic Arabic alphabet (Persian
// پ چ ژ گ), are printed in their stored order and isolated forms.

// arabicForms are the presentation forms of the Arabic letters U+0621 to
// U+064A: the isolated form, and whether the letter joins the next one
// (dual-joining: its final, initial and medial forms follow the isolated
// one) or only the one before (right-joining: its final form follows).
// Letters without forms join nothing.
var arabicForms = map[rune]struct {
	isolated rune
	dual     bool
}{
	0x0621: {0xFE80, false}, // hamza: joins nothing, see joinsBefore
	0x0622: {0xFE81, false}, 0x0623: {0xFE83, false}, 0x0624: {0xFE85, false}, 0x0625: {0xFE87, false},
	0x0626: {0xFE89, true}, 0x0627: {0xFE8D, false}, 0x0628: {0xFE8F, true}, 0x0629: {0xFE93, false},
	0x062A: {0xFE95, true}, 0x062B: {0xFE99, true}, 0x062C: {0xFE9D, true}, 0x062D: {0xFEA1, true},
	0x062E: {0xFEA5, true}, 0x062F: {0xFEA9, false}, 0x0630: {0xFEAB, false}, 0x0631: {0xFEAD, false},
	0x0632: {0xFEAF, false}, 0x0633: {0xFEB1, true}, 0x0634: {0xFEB5, true}, 0x0635: {0xFEB9, true},
	0x0636: {0xFEBD, true}, 0x0637: {0xFEC1, true}, 0x0638: {0xFEC5, true}, 0x0639: {0xFEC9, true},
	0x063A: {0xFECD, true}, 0x0641: {0xFED1, true}, 0x0642: {0xFED5, true}, 0x0643: {0xFED9, true},
	0x0644: {0xFEDD, true}, 0x0645: {0xFEE1, true}, 0x0646: {0xFEE5, true}, 0x0647: {0xFEE9, true},
	0x0648: {0xFEED, false}, 0x0649: {0xFEEF, false}, 0x064A: {0xFEF1, true},
}

// lamAlef are the ligatures of lam with the alefs, isolated (the final
// form follows).
var lamAlef = map[rune]rune{0x0622: 0xFEF5, 0x0623: 0xFEF7, 0x0625: 0xFEF9, 0x0627: 0xFEFB}

const (
	lam     = 0x0644
	tatweel = 0x0640
)

// transparent reports whether r is an Arabic mark that sits on a letter
// and leaves its joining alone (the harakat, the dagger alef).
func transparent(r rune) bool {
	return r >= 0x064B && r <= 0x065F || r == 0x0670
}

// joinsBefore reports whether r joins the letter before it; joinsAfter
// whether it joins the letter after it.
func joinsBefore(r rune) bool {
	f, ok := arabicForms[r]
	return r == tatweel || ok && f.isolated != 0xFE80
}

func joinsAfter(r rune) bool {
	return r == tatweel || arabicForms[r].dual
}

// shapeArabic gives each Arabic letter of s, in stored order, the form
// its neighbours call for, and writes lam followed by alef as their
// ligature.
//
//	شركة (sheen reh kaf teh marbuta) → ﺷ ﺮ ﻛ ﺔ: initial, final, initial, final
func shapeArabic(s string) string {
	rs := []rune(s)
	if !slices.ContainsFunc(rs, func(r rune) bool { _, ok := arabicForms[r]; return ok }) {
		return s
	}
	// neighbour is the letter before (step -1) or after (+1) rs[i], marks
	// skipped; 0 for none.
	neighbour := func(i, step int) (rune, int) {
		for j := i + step; j >= 0 && j < len(rs); j += step {
			if !transparent(rs[j]) {
				return rs[j], j
			}
		}
		return 0, -1
	}
	var out []rune
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		f, ok := arabicForms[r]
		if !ok {
			out = append(out, r)
			continue
		}
		before, _ := neighbour(i, -1)
		joinedBefore := joinsAfter(before) && joinsBefore(r)
		if next, j := neighbour(i, 1); r == lam && lamAlef[next] != 0 {
			lig := lamAlef[next]
			if joinedBefore {
				lig++
			}
			// The marks between lam and alef stay, after the ligature.
			out = append(out, lig)
			out = append(out, rs[i+1:j]...)
			i = j
			continue
		}
		next, _ := neighbour(i, 1)
		joinedAfter := f.dual && joinsBefore(next)
		form := f.isolated
		switch {
		case joinedBefore && joinedAfter:
			form += 3
		case joinedAfter:
			form += 2
		case joinedBefore:
			form++
		}
		out = append(out, form)
	}
	return string(out)
}

// visual reorders one line of text for a writer that goes left to right:
// the right-to-left runs reversed (brackets mirrored), and in a line whose
// first strong character is right to left, the runs in reverse order.
// Text without right-to-left characters is returned as it is.
//
//	"שלום 42" → "42 םולש"; "Invoice for שלום" → "Invoice for םולש"
func visual(s string) string {
	rtl := -1 // the line's direction: 1 right to left, 0 left to right, -1 not known yet
	mixed := false
	for _, r := range s {
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.R, bidi.AL:
			mixed = true
			if rtl < 0 {
				rtl = 1
			}
		case bidi.L:
			if rtl < 0 {
				rtl = 0
			}
		}
	}
	if !mixed {
		return s
	}
	var p bidi.Paragraph
	opt := bidi.DefaultDirection(bidi.LeftToRight)
	if rtl == 1 {
		opt = bidi.DefaultDirection(bidi.RightToLeft)
	}
	if _, err := p.SetString(s, opt); err != nil {
		return s
	}
	o, err := p.Order()
	if err != nil {
		return s
	}
	runs := make([]string, o.NumRuns())
	for i := range runs {
		run := o.Run(i)
		runs[i] = run.String()
		if run.Direction() == bidi.RightToLeft {
			runs[i] = reverse(runs[i])
		}
	}
	if rtl == 1 {
		slices.Reverse(runs)
	}
	return strings.Join(runs, "")
}

// reverse reverses s for a right-to-left run: its characters in reverse
// order, each keeping the marks that follow it (a fatha stays on its
// letter), brackets mirrored.
func reverse(s string) string {
	var clusters []string
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) && len(clusters) > 0 {
			clusters[len(clusters)-1] += string(r)
			continue
		}
		// Reversing one character mirrors it when it is a bracket.
		clusters = append(clusters, bidi.ReverseString(string(r)))
	}
	slices.Reverse(clusters)
	return strings.Join(clusters, "")
}
