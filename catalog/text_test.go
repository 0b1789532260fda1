package catalog

import (
	"testing"
	"time"
)

func TestTextFallsBackByLanguage(t *testing.T) {
	t.Parallel()
	name := Text{"en": "Mailbox", "de": "Postfach", "fr-CA": "Boîte aux lettres"}
	cases := []struct{ locale, want string }{
		{"de", "Postfach"},
		{"de-AT", "Postfach"},       // regional variant falls back to its language
		{"fr", "Boîte aux lettres"}, // language finds its only regional text
		{"ja-JP", "Mailbox"},        // no match: English
		{"not a tag!", "Mailbox"},   // unreadable locale: English
		{"en-GB", "Mailbox"},
	}
	for _, c := range cases {
		if got := name.Get(c.locale); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.locale, got, c.want)
		}
	}
	if got := (Text{"de": "Nur Deutsch"}).Get("ja"); got != "Nur Deutsch" {
		t.Errorf("a lone text is the fallback: %q", got)
	}
	if (Text{}).Get("en") != "" {
		t.Error("empty text")
	}
}

func TestDurationKeepsTheAnchorDay(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time {
		v, _ := time.Parse("2006-01-02", s)
		return v
	}
	cases := []struct {
		from string
		dur  Duration
		want string
	}{
		{"2027-01-31", Duration{1, Month}, "2027-02-28"},
		{"2027-01-31", Duration{2, Month}, "2027-03-31"},
		{"2028-01-31", Duration{1, Month}, "2028-02-29"},
		{"2027-03-31", Duration{1, Month}, "2027-04-30"},
		{"2027-01-15", Duration{12, Month}, "2028-01-15"},
		{"2028-02-29", Duration{1, Year}, "2029-02-28"},
		{"2027-01-15", Duration{14, Day}, "2027-01-29"},
	}
	for _, c := range cases {
		if got := c.dur.AddTo(d(c.from)); !got.Equal(d(c.want)) {
			t.Errorf("%s + %s = %s, want %s", c.from, c.dur, got.Format("2006-01-02"), c.want)
		}
	}
	if (Duration{12, Month}).String() != "12m" || (Duration{1, Year}).Months() != 12 {
		t.Error("duration forms")
	}
}

// TestTextInOneLanguageIsCheap: a text with one language answers any
// locale with it, without building a language matcher (a subscription
// page names a thousand resources this way).
func TestTextInOneLanguageIsCheap(t *testing.T) {
	name := Text{"en": "Disk"}
	if allocs := testing.AllocsPerRun(100, func() { name.Get("de-AT") }); allocs != 0 {
		t.Errorf("Get allocates %v times", allocs)
	}
	if got := name.Get("de-AT"); got != "Disk" {
		t.Errorf("Get = %q", got)
	}
}
