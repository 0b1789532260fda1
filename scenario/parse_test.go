package scenario

import (
	"strings"
	"testing"
)

const valid = `name: upgrade
about: a worked example
currency: USD
plans:
  - id: basic
    upgrades_to: [pro]
    periods: [{duration: 1M, recurring: "12.00"}]
    resources:
      - {id: seat, included: 1, max: 9, recurring: "2.00", kind: limit}
  - id: pro
    periods: [{duration: 1M, recurring: "36.00"}]
steps:
  - {on: 2027-03-01, do: order, plan: basic, duration: 1M}
  - {on: 2027-03-17, do: change, to: pro}
expect:
  documents:
    - on: 2027-03-01
      type: invoice
      lines: [{what: recurring, from: 2027-03-01, to: 2027-04-01, amount: "12.00"}]
      total: "12.00"
    - on: 2027-03-17
      type: invoice
      lines:
        - {what: change-credit, from: 2027-03-17, to: 2027-04-01, amount: "-5.81"}
        - {what: change-charge, from: 2027-03-17, to: 2027-04-01, amount: "17.42"}
      total: "11.61"
`

func TestParse(t *testing.T) {
	t.Parallel()
	s, err := Parse(strings.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 1 || len(s.Cases[0].Steps) != 2 || s.Steps != nil {
		t.Fatalf("top-level steps were not made a case: %+v", s)
	}
	st := s.Cases[0].Steps[0]
	if st.On.String() != "2027-03-01" || st.Do != Order || st.Duration != "1M" {
		t.Errorf("first step %+v", st)
	}
	l := s.Cases[0].Expect.Documents[1].Lines[0]
	if l.Amount.Text != "-5.81" || l.From.String() != "2027-03-17" {
		t.Errorf("line %+v", l)
	}
}

// Nothing a scenario says may be ignored: each of these is refused.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		about, old, new, want string
	}{
		{"an unknown top-level field", "currency: USD\n", "currency: USD\nvendors: {}\n", "vendors"},
		{"an unknown step field", "do: change, to: pro}", "do: change, to: pro, prorate: true}", "prorate"},
		{"an unknown period field", `recurring: "36.00"}`, `recurring: "36.00", renew: true}`, "renew"},
		{"an unknown line field", `amount: "17.42"}`, `amount: "17.42", note: x}`, "note"},
		{"a field the verb does not take", "do: change, to: pro}", "do: change, to: pro, duration: 1M}", "change takes no duration"},
		{"a missing required field", "do: order, plan: basic, duration: 1M}", "do: order, plan: basic}", "order needs duration"},
		{"an unknown verb", "do: change, to: pro}", "do: upgrade, to: pro}", `do "upgrade"`},
		{"steps out of date order", "on: 2027-03-17, do: change", "on: 2027-02-17, do: change", "date order"},
		{"an unknown plan", "do: order, plan: basic", "do: order, plan: gold", `no plan "gold"`},
		{"an unknown period", "plan: basic, duration: 1M}", "plan: basic, duration: 12M}", "no period 12M"},
		{"a bad duration", `{duration: 1M, recurring: "36.00"}`, `{duration: 1 month, recurring: "36.00"}`, "duration"},
		{"an unknown line kind", "what: change-charge", "what: upgrade-charge", "upgrade-charge"},
		{"an unknown document type", "type: invoice\n      lines:\n        -", "type: bill\n      lines:\n        -", "type"},
		{"a bad date", "on: 2027-03-17\n", "on: 2027-03-32\n", "not a date"},
		{"an amount that is not a number", `total: "11.61"`, `total: "eleven"`, "not a decimal"},
		{"an unknown resource kind", "kind: limit", "kind: gauge", "kind"},
		{"an unknown upgrade target", "upgrades_to: [pro]", "upgrades_to: [max]", `no plan "max"`},
		{"both steps and cases", "expect:\n", "cases: [{steps: [{on: 2027-03-01, do: bill}]}]\nexpect:\n", "either steps"},
		{"a duplicate key", "currency: USD\n", "currency: USD\ncurrency: EUR\n", "already defined"},
		{"an unknown currency", "currency: USD", "currency: ABC", "currency"},
		{"a tax rate on a non-tax line", `amount: "-5.81"}`, `amount: "-5.81", rate: "19"}`, "rate goes with tax"},
		{"a paid period that converts", `{duration: 1M, recurring: "36.00"}`, `{duration: 1M, recurring: "36.00", converts_to: 1M}`, "converts_to, but it is not a trial"},
		{"a trial converting to a period the plan lacks", `[{duration: 1M, recurring: "36.00"}]`,
			`[{duration: 14D, trial: true, recurring: "0.00", converts_to: 12M}, {duration: 1M, recurring: "36.00"}]`, "converts to 12M, which is not a paid period"},
		{"a trial converting to itself", `[{duration: 1M, recurring: "36.00"}]`,
			`[{duration: 14D, trial: true, recurring: "0.00", converts_to: 14D}, {duration: 1M, recurring: "36.00"}]`, "converts to 14D, which is not a paid period"},
	}
	for _, c := range cases {
		if !strings.Contains(valid, c.old) {
			t.Fatalf("%s: %q is not in the valid scenario", c.about, c.old)
		}
		_, err := Parse(strings.NewReader(strings.Replace(valid, c.old, c.new, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one about %q", c.about, err, c.want)
		}
	}
}

// Compare must see every difference, to the cent: each mutation of the
// expected documents is reported.
func TestCompareFindsDifferences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		about, old, new, want string
	}{
		{"a cent off", `amount: "17.42"`, `amount: "17.43"`, "line 2 (change-charge): amount 17.42, want 17.43"},
		{"a total off", `total: "11.61"`, `total: "11.62"`, "total 11.61, want 11.62"},
		{"a wrong date", "{what: change-charge, from: 2027-03-17", "{what: change-charge, from: 2027-03-18", "from 2027-03-17, want 2027-03-18"},
		{"a wrong kind", "what: change-charge", "what: recurring", "kind change-charge, want recurring"},
		{"a missing line", "        - {what: change-charge, from: 2027-03-17, to: 2027-04-01, amount: \"17.42\"}\n", "", "line 2 (change-charge 17.42): not expected"},
		{"a line too many", "lines: [{what: recurring, from: 2027-03-01, to: 2027-04-01, amount: \"12.00\"}]",
			"lines: [{what: recurring, from: 2027-03-01, to: 2027-04-01, amount: \"12.00\"}, {what: setup, amount: \"1.00\"}]", "line 2 (setup 1.00): missing"},
		{"a resource line", `{what: recurring, from: 2027-03-01, to: 2027-04-01, amount: "12.00"}`,
			`{what: recurring, resource: seat, quantity: 2, from: 2027-03-01, to: 2027-04-01, amount: "12.00"}`, "resource , want seat"},
		{"a credit memo instead of an invoice", "    - on: 2027-03-17\n      type: invoice", "    - on: 2027-03-17\n      type: credit_memo", "type invoice, want credit_memo"},
		{"reverse charge", "    - on: 2027-03-17\n      type: invoice", "    - on: 2027-03-17\n      type: invoice\n      reverse_charge: true", "reverse charge false, want true"},
		{"a document too many", "expect:\n  documents:\n", "expect:\n  documents:\n    - {on: 2027-03-01, type: invoice, lines: [], total: \"0.00\"}\n", "not expected"},
		{"an error that does not come", "expect:\n", "expect:\n  error: {field: resources.seat, reason: below_minimum}\n", "expected one order refused"},
		{"a refusal that was not expected", "do: order, plan: basic, duration: 1M}", "do: order, plan: basic, duration: 1M, resources: {seat: 10}}", "above_maximum"},
	}
	for _, c := range cases {
		if !strings.Contains(valid, c.old) {
			t.Fatalf("%s: %q is not in the valid scenario", c.about, c.old)
		}
		s, err := Parse(strings.NewReader(strings.Replace(valid, c.old, c.new, 1)))
		if err != nil {
			t.Fatalf("%s: %v", c.about, err)
		}
		r, err := Play(s, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.about, err)
		}
		diffs, _ := Compare(s, 0, r)
		if !strings.Contains(strings.Join(diffs, "\n"), c.want) {
			t.Errorf("%s: differences\n  %s\nwant one saying %q", c.about, strings.Join(diffs, "\n  "), c.want)
		}
	}
	s, err := Parse(strings.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Play(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, unchecked := Compare(s, 0, r); len(diffs)+len(unchecked) > 0 {
		t.Errorf("the valid scenario: %v %v", diffs, unchecked)
	}
}
