package text

import "testing"

func TestNameProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in        string
		name, log bool // accepted as a name, as a login
	}{
		{"Acme GmbH", true, true},
		{"Ann", true, true},
		{"שלום Acme", true, true},
		{"", true, true}, // empty is the caller's to refuse
		{"\u200b", false, false},
		{"\u200b\u200b \ufeff", false, false},
		{"\u202e", false, false},
		{"\u200e", false, false},
		{"\u2066\u2069", false, false},
		{"  \t", false, false},
		{"Acme\u202egpj.exe", false, false},
		{"Acme \u2067Corp", false, false},
		{"\u200eשלום Acme", true, false}, // a direction mark beside visible text: a name, not a login
		{"ann\u200b", true, false},
		{"a\x00b", false, false},
		{"a\nb", false, false},
		{"\xff", false, false},
	}
	for _, c := range cases {
		if got := NameProblem(c.in) == ""; got != c.name {
			t.Errorf("NameProblem(%q) accepted %v, want %v (%s)", c.in, got, c.name, NameProblem(c.in))
		}
		if got := LoginProblem(c.in) == ""; got != c.log {
			t.Errorf("LoginProblem(%q) accepted %v, want %v (%s)", c.in, got, c.log, LoginProblem(c.in))
		}
	}
}
