package notify

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	// The provider (1), an L1 reseller (7), its L2 reseller (42).
	const provider, l1, l2 = 1, 7, 42
	over := func(owner int64, lang, subject string) Override {
		tpl, _ := Default(OrderCompleted, lang)
		tpl.Subject = subject
		return Override{Owner: owner, Template: tpl, Version: 1}
	}
	cases := []struct {
		name              string
		chain             []int64
		overrides         []Override
		recipient, seller string
		owner             int64
		subject           string // "" for the provider's default
		lang              string
	}{
		{"provider's default", []int64{provider, l1}, nil, "de-DE", "en", 0, "", "de"},
		{"L1 override", []int64{provider, l1}, []Override{over(l1, "de", "L1 de")}, "de", "en", l1, "L1 de", "de"},
		{"L1 override used by its L2's customers", []int64{provider, l1, l2}, []Override{over(l1, "de", "L1 de")}, "de-AT", "en", l1, "L1 de", "de"},
		{"the nearest override wins", []int64{provider, l1, l2},
			[]Override{over(l1, "de", "L1 de"), over(l2, "de", "L2 de"), over(provider, "de", "P de")}, "de", "en", l2, "L2 de", "de"},
		{"the provider's own override", []int64{provider, l1}, []Override{over(provider, "de", "P de")}, "de", "en", provider, "P de", "de"},
		{"another branch's override does not apply", []int64{provider, l1}, []Override{over(99, "de", "other")}, "de", "en", 0, "", "de"},
		{"language first: the provider's German beats L1's English", []int64{provider, l1}, []Override{over(l1, "en", "L1 en")}, "de", "en", 0, "", "de"},
		{"unknown recipient language: the seller's default", []int64{provider, l1}, []Override{over(l1, "fr", "L1 fr")}, "ja", "fr-CA", l1, "L1 fr", "fr"},
		{"neither: English", []int64{provider, l1}, []Override{over(l1, "en", "L1 en")}, "ja", "", l1, "L1 en", "en"},
	}
	for _, c := range cases {
		got, err := Resolve(OrderCompleted, c.chain, c.overrides, c.recipient, c.seller)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		def, _ := Default(OrderCompleted, c.lang)
		want := c.subject
		if want == "" {
			want = def.Subject
		}
		if got.Owner != c.owner || got.Subject != want || got.Locale != c.lang {
			t.Errorf("%s: got owner %d %s %q, want owner %d %s %q", c.name, got.Owner, got.Locale, got.Subject, c.owner, c.lang, want)
		}
	}
	if _, err := Resolve("nope", []int64{provider}, nil, "en", "en"); err == nil {
		t.Error("unknown kind resolved")
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	parent, _ := Default(InvoiceIssued, "en")
	if d := Diff(parent, parent); d != "" {
		t.Errorf("diff of a copy:\n%s", d)
	}
	mine := parent
	mine.Subject = "Your ACME invoice {{.Document.Number}}"
	mine.Text = strings.Replace(parent.Text, "has been issued.", "is ready.", 1)
	d := Diff(parent, mine)
	for _, want := range []string{
		"--- parent/subject\n+++ override/subject\n",
		"-Invoice {{.Document.Number}} for {{money .Document.Total}}\n+Your ACME invoice {{.Document.Number}}\n",
		"--- parent/text\n+++ override/text\n",
		"+invoice {{.Document.Number}} for {{money .Document.Total}} is ready.",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "parent/html") {
		t.Errorf("diff shows the unchanged HTML:\n%s", d)
	}
}
