// Package text holds the rules for the text people read as a name: account
// and user names, logins, role names, catalog names. A name must show
// something, and must not carry the characters that make one text look
// like another (bidirectional overrides). Every domain Validate that
// checks a name asks here, so that the API, the CLI, the panels and
// catalog imports give the same answer.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsBidiControl reports whether r is a bidirectional embedding, override
// or isolate control (U+202A–U+202E, U+2066–U+2069). One of them in a
// name can reverse what follows it on screen ("exe.txt" shown for
// "txt.exe"), so no name holds one. The marks U+200E and U+200F, which
// only hint at direction, are allowed where a name has visible text.
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// invisible reports whether r shows nothing by itself: white space,
// control and format characters (Unicode Cf: zero-width space and
// joiners, direction marks, the byte order mark …).
func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// NameProblem says what is wrong with a name, or "" when nothing is:
// invalid UTF-8, a control character, a bidirectional control, or nothing
// visible (only spaces and invisible characters such as U+200B or
// U+FEFF). An empty name is the caller's to refuse or allow.
func NameProblem(s string) string {
	switch {
	case s == "":
		return ""
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case strings.IndexFunc(s, IsBidiControl) >= 0:
		return "must not contain bidirectional override or isolate characters (U+202A–U+202E, U+2066–U+2069)"
	case strings.IndexFunc(s, func(r rune) bool { return !invisible(r) }) < 0:
		return "must contain visible characters, not only spaces or invisible ones"
	}
	return ""
}

// LoginProblem is NameProblem for a login, which also holds no invisible
// format character anywhere: "ann" and "ann" with a zero-width space
// would be two logins that read the same.
func LoginProblem(s string) string {
	if p := NameProblem(s); p != "" {
		return p
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0 {
		return "must not contain invisible format characters (such as U+200B, U+200E, U+FEFF)"
	}
	return ""
}
