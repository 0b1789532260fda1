package scenario

import (
	"fmt"
	"sort"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// Compare checks what case i of s expects against what the player
// produced, within what the player could play: documents dated before the
// stop (all of them when every step was played), except payments, which
// billing issues. It returns the differences, one readable line each, to
// the cent (none means they agree), and what it could not check.
func Compare(s *Scenario, i int, r *Result) (diffs, unchecked []string) {
	return compare(s, i, r, false)
}

// CompareStore is Compare for what the store player produced: it keeps a
// ledger, so payments are compared too.
func CompareStore(s *Scenario, i int, r *StoreResult) (diffs, unchecked []string) {
	return compare(s, i, &r.Result, true)
}

func compare(s *Scenario, i int, r *Result, ledger bool) (diffs, unchecked []string) {
	k := &s.Cases[i]
	for _, j := range r.Skipped {
		unchecked = append(unchecked, fmt.Sprintf("step %d (%s %s): billing's, passed over", j+1, k.Steps[j].On, k.Steps[j].Do))
	}
	if !r.StopOn.IsZero() {
		unchecked = append(unchecked, fmt.Sprintf("steps %d to %d: billing's, from the bill step of %s on", r.Stop+1, len(k.Steps), r.StopOn.Format(time.DateOnly)))
	}
	inScope := func(on time.Time, typ string) bool {
		return (ledger || typ != "payment") && (r.StopOn.IsZero() || on.Before(r.StopOn))
	}
	exp := k.Expect
	if exp == nil {
		exp = &Expect{}
	}

	// Refused orders.
	if e := exp.Error; e != nil {
		switch {
		case len(r.Errors) != 1:
			diffs = append(diffs, fmt.Sprintf("expected one order refused with %s: %s; got %d refusals %v", e.Field, e.Reason, len(r.Errors), r.Errors))
		default:
			if got, ok := order.FieldReason(r.Errors[0].Err, e.Field); !ok || got != e.Reason {
				diffs = append(diffs, fmt.Sprintf("step %d: refused with %v, want %s: %s", r.Errors[0].Step+1, r.Errors[0].Err, e.Field, e.Reason))
			}
		}
	} else {
		for _, se := range r.Errors {
			diffs = append(diffs, fmt.Sprintf("step %d (%s %s): %v", se.Step+1, k.Steps[se.Step].On, k.Steps[se.Step].Do, se.Err))
		}
	}

	// Documents, pairwise in issue order.
	var got []Issued
	for _, d := range r.Documents {
		if inScope(d.On, d.Type) {
			got = append(got, d)
		} else {
			unchecked = append(unchecked, fmt.Sprintf("issued %s %s on the billing day: compared with billing", d.On.Format(time.DateOnly), d.Type))
		}
	}
	if exp.Documents == nil {
		// A ledger's case that lists no documents (16: top-ups and checks)
		// is judged by its checks; the documents have nothing to match.
		if len(got) > 0 && !ledger {
			unchecked = append(unchecked, fmt.Sprintf("%d documents issued; the case lists none to compare", len(got)))
		}
	} else {
		var want []Document
		for _, d := range exp.Documents {
			if inScope(d.On.Time, d.Type) {
				want = append(want, d)
			} else {
				unchecked = append(unchecked, fmt.Sprintf("expected %s %s total %s: billing's", d.On, d.Type, d.Total.Text))
			}
		}
		for n := range max(len(want), len(got)) {
			switch {
			case n >= len(got):
				diffs = append(diffs, fmt.Sprintf("document %d (%s %s, total %s): missing", n+1, want[n].On, want[n].Type, want[n].Total.Text))
			case n >= len(want):
				diffs = append(diffs, fmt.Sprintf("document %d (%s %s, total %s): not expected", n+1, got[n].On.Format(time.DateOnly), got[n].Type, got[n].Total.Format(got[n].Currency)))
			default:
				diffs = append(diffs, diffDocument(n+1, want[n], got[n])...)
			}
		}
	}

	// Margins, month by month.
	if len(exp.Margins) > 0 {
		checked := false
		for _, month := range months(got) {
			next := month.AddDate(0, 1, 0)
			if !r.StopOn.IsZero() && r.StopOn.Before(next) {
				continue // the month is not over when the player stops
			}
			checked = true
			for _, tier := range sortedKeys(exp.Margins) {
				w := exp.Margins[tier]
				want, _ := w.Money()
				if m := margin(got, tier, month, next); m != want {
					diffs = append(diffs, fmt.Sprintf("margin of %s in %s: %s, want %s", tier, month.Format("2006-01"), m.Format(s.Currency), exp.Margins[tier].Text))
				}
			}
		}
		if !checked {
			unchecked = append(unchecked, "margins: no whole month played")
		}
	}
	return diffs, unchecked
}

func diffDocument(n int, want Document, got Issued) []string {
	var out []string
	at := fmt.Sprintf("document %d (%s %s)", n, want.On, want.Type)
	cur := got.Currency
	wantTotal, _ := want.Total.Money()
	field := func(name, w, g string) {
		if w != g {
			out = append(out, fmt.Sprintf("%s: %s %s, want %s", at, name, g, w))
		}
	}
	field("date", want.On.String(), date(got.On))
	field("type", want.Type, got.Type)
	field("from", want.From, got.From)
	field("to", want.To, got.To)
	field("due", want.Due.String(), date(got.Due))
	field("reverse charge", fmt.Sprint(want.ReverseCharge), fmt.Sprint(got.ReverseCharge))
	for j := range max(len(want.Lines), len(got.Lines)) {
		switch {
		case j >= len(got.Lines):
			w := want.Lines[j]
			out = append(out, fmt.Sprintf("%s: line %d (%s %s): missing", at, j+1, w.What, w.Amount.Text))
		case j >= len(want.Lines):
			g := got.Lines[j]
			out = append(out, fmt.Sprintf("%s: line %d (%s %s): not expected", at, j+1, g.What, g.Amount.Format(cur)))
		default:
			w, g := want.Lines[j], got.Lines[j]
			lat := fmt.Sprintf("%s: line %d (%s)", at, j+1, w.What)
			line := func(name, w, g string) {
				if w != g {
					out = append(out, fmt.Sprintf("%s: %s %s, want %s", lat, name, g, w))
				}
			}
			line("kind", w.What, string(g.What))
			line("resource", w.Resource, g.Resource)
			line("quantity", number(w.Quantity), numberOf(g.Quantity))
			line("from", w.From.String(), date(g.From))
			line("to", w.To.String(), date(g.To))
			line("tax rate", number(w.Rate), numberOf(g.TaxRate))
			if a, _ := w.Amount.Money(); a != g.Amount {
				out = append(out, fmt.Sprintf("%s: amount %s, want %s", lat, g.Amount.Format(cur), w.Amount.Text))
			}
		}
	}
	if wantTotal != got.Total {
		out = append(out, fmt.Sprintf("%s: total %s, want %s", at, got.Total.Format(cur), want.Total.Text))
	}
	return out
}

func date(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateOnly)
}

// number renders an expected number for comparison: "-" when absent, else
// its value without trailing zeros ("3", "23.5").
func number(d *Decimal) string {
	if d == nil {
		return "-"
	}
	return d.Trim(0).String()
}

func numberOf(d decimal.Decimal) string {
	if d.IsZero() {
		return "-"
	}
	return d.Trim(0).String()
}

// months lists the first days of the months with documents.
func months(docs []Issued) []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, d := range docs {
		m := time.Date(d.On.Year(), d.On.Month(), 1, 0, 0, 0, 0, time.UTC)
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// margin is what tier invoiced its children less what its parent invoiced
// it, over [from, to), tax left out.
func margin(docs []Issued, tier string, from, to time.Time) money.Micros {
	var m money.Micros
	for _, d := range docs {
		if d.On.Before(from) || !d.On.Before(to) {
			continue
		}
		for _, l := range d.Lines {
			if l.What == order.Tax {
				continue
			}
			if d.From == tier {
				m += l.Amount
			}
			if d.To == tier {
				m -= l.Amount
			}
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
