package delegation

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// node is one plan in a random delegation tree.
type node struct {
	plan     *catalog.Plan
	parent   *node
	children []*node
	terms    Terms
}

// world is a random delegation tree and the random steps played on it.
type world struct {
	t     *testing.T
	r     *rand.Rand
	root  *node
	nodes []*node
	next  int64
}

func newWorld(t *testing.T, seed uint64) *world {
	w := &world{t: t, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), next: 2}
	w.root = &node{plan: sourcePlan()}
	// Sub-cent unit prices exercise rounding against cost.
	w.root.plan.Rates[1].Overuse.Amount = money.Micros(w.r.IntN(50_000))
	w.root.plan.Rates[0].Recurring.Amount = money.Micros(1_000_000 + w.r.IntN(2_000_000))
	w.nodes = []*node{w.root}
	return w
}

func (w *world) pick() *node { return w.nodes[w.r.IntN(len(w.nodes))] }

func (w *world) randomRule() catalog.PriceRule {
	switch w.r.IntN(5) {
	case 4:
		return catalog.PriceRule{Kind: catalog.RulePercent, Percent: fmt.Sprint(w.r.IntN(20)), ExchangeRate: "0.9137"}
	case 0:
		return catalog.PriceRule{Kind: catalog.RuleCopy}
	case 1:
		return catalog.PriceRule{Kind: catalog.RuleFixed, Fixed: money.Micros(w.r.IntN(3)) * 500_000}
	case 2:
		return catalog.PriceRule{Kind: catalog.RuleManual}
	default:
		return catalog.PriceRule{Kind: catalog.RulePercent, Percent: fmt.Sprint(w.r.IntN(30))}
	}
}

func (w *world) randomTerms() Terms {
	var t Terms
	for _, r := range AllRestrictions {
		if w.r.IntN(4) == 0 {
			t.Restrictions = append(t.Restrictions, r)
		}
	}
	t.ProhibitCascade = w.r.IntN(5) == 0
	return t
}

// delegate gives a random plan a new child copy.
func (w *world) delegate() {
	parent := w.pick()
	if len(w.nodes) > 40 {
		return
	}
	currency := parent.plan.Currency
	rule := w.randomRule()
	if rule.ExchangeRate != "" {
		currency = map[string]string{"USD": "EUR", "EUR": "USD"}[currency]
	}
	c, err := Delegate(parent.plan, w.next, currency, DelegateOptions{Rule: rule, Publish: w.r.IntN(2) == 0,
		SellBelowCost: w.r.IntN(6) == 0})
	if err != nil {
		// The only refusal possible here is a fixed markup pushing a price
		// over a cap; then nothing was made.
		return
	}
	c.ID = w.next
	w.next++
	n := &node{plan: c, parent: parent, terms: w.randomTerms()}
	parent.children = append(parent.children, n)
	w.nodes = append(w.nodes, n)
}

// edit changes a random plan the way its owner may.
func (w *world) edit() {
	n := w.pick()
	keys := []string{"names", "categories", "publication", "fees", "resource prices", "resource limits", "new period", "new resource"}
	e := edits[keys[w.r.IntN(len(keys))]]
	before := n.plan.Clone()
	e(n.plan)
	// Edits that the plan already had make duplicate keys; undo those.
	if err := n.plan.Validate(catalog.Known{}); err != nil {
		n.plan = before
		return
	}
	if n.parent != nil {
		if err := CheckPrices(n.parent.plan, n.plan); err != nil {
			n.plan = before
		}
	}
}

// sync runs a random sync from a random plan down its subtree, checking the
// invariants at every copy.
func (w *world) sync() {
	from := w.pick()
	opts := Options{}
	for _, o := range AllOptions {
		if w.r.IntN(2) == 0 {
			opts[o] = true
		}
	}
	oneLevel := w.r.IntN(4) == 0
	var walk func(src *node, depth int)
	walk = func(src *node, depth int) {
		for _, c := range src.children {
			old := c.plan.Clone()
			got, changes, err := Sync(src.plan, c.plan, opts, c.terms)
			if err != nil {
				w.t.Fatalf("sync %d→%d: %v", src.plan.ID, c.plan.ID, err)
			}
			w.check(src.plan, old, got, changes, c.terms)
			c.plan = got
			if oneLevel {
				c.plan.ChangedUpstream = true
				continue
			}
			if !c.terms.ProhibitCascade {
				walk(c, depth+1)
			}
		}
	}
	walk(from, 0)
}

// check holds the invariants of one sync step.
func (w *world) check(src, old, got *catalog.Plan, changes []Change, terms Terms) {
	w.t.Helper()
	// Every copy stays linked to its source and owner.
	if got.SourceID != src.ID || got.OwnerID != old.OwnerID || got.ID != old.ID {
		w.t.Fatalf("links changed: %d←%d, was %d←%d", got.ID, got.SourceID, old.ID, old.SourceID)
	}
	// Preview equals apply: the copy differs exactly where applied changes say.
	diff := diffPaths(w.t, old, got)
	var applied []string
	for _, c := range changes {
		if c.Applied() {
			applied = append(applied, c.Field)
		}
	}
	for _, d := range diff {
		if !coveredBy(d, applied) {
			w.t.Fatalf("copy %d changed at %s without an applied change (%v)", got.ID, d, applied)
		}
	}
	for _, a := range applied {
		if !anyUnder(diff, a) {
			w.t.Fatalf("copy %d: change %s reported but nothing changed", got.ID, a)
		}
	}
	// Restricted fields are untouched.
	guarded := map[Restriction][]string{
		RestrictTerms:           {"terms"},
		RestrictPlanCategories:  {"plan_category"},
		RestrictSalesCategories: {"sales_categories"},
		RestrictPublication:     {"published"},
	}
	for r, fields := range guarded {
		if !terms.Restricted(r) {
			continue
		}
		for _, f := range fields {
			if anyUnder(diff, f) {
				w.t.Fatalf("copy %d: %s changed although %s is restricted", got.ID, f, r)
			}
		}
	}
	if terms.Restricted(RestrictPricing) || (got.Rule != nil && got.Rule.Kind == catalog.RuleManual) {
		for _, pe := range old.Periods {
			now, _ := got.Period(pe.Key)
			if now.Recurring.Amount != pe.Recurring.Amount || now.Setup.Amount != pe.Setup.Amount {
				w.t.Fatalf("copy %d: blocked prices of %s changed", got.ID, pe.Key)
			}
		}
		for _, r := range old.Rates {
			now, _ := got.Rate(r.Key)
			if now.Recurring.Amount != r.Recurring.Amount || now.Overuse.Amount != r.Overuse.Amount {
				w.t.Fatalf("copy %d: blocked prices of %s changed", got.ID, r.Key)
			}
		}
	}
	// No price a sync sets is below cost (the source's price, converted)
	// unless the owner allowed selling at a loss.
	for _, c := range changes {
		if !c.Applied() || !strings.HasSuffix(c.Field, ".amount") {
			continue
		}
		own, ok1 := priceAt(got, c.Field)
		srcAmount, ok2 := priceAt(src, c.Field)
		if !ok1 || !ok2 {
			w.t.Fatalf("no price at %s", c.Field)
		}
		p, err := newPricer(got.Rule, src.Currency, got.Currency)
		if err != nil {
			w.t.Fatal(err)
		}
		cost, err := p.convert(srcAmount)
		if err != nil {
			w.t.Fatal(err)
		}
		if own < cost && !got.SellBelowCost {
			w.t.Fatalf("copy %d: sync set %s to %s, below cost %s", got.ID, c.Field, own, cost)
		}
	}
}

// priceAt finds the amount at a change's field, "periods[1m].recurring.amount".
func priceAt(p *catalog.Plan, field string) (money.Micros, bool) {
	kind, rest, _ := strings.Cut(field, "[")
	key, rest, _ := strings.Cut(rest, "].")
	name := strings.TrimSuffix(rest, ".amount")
	if kind == "periods" {
		pe, ok := p.Period(key)
		if !ok {
			return 0, false
		}
		m := map[string]money.Micros{"setup": pe.Setup.Amount, "recurring": pe.Recurring.Amount,
			"renewal": pe.Renewal.Amount, "cancellation": pe.Cancellation.Amount}
		v, ok := m[name]
		return v, ok
	}
	r, ok := p.Rate(key)
	if !ok {
		return 0, false
	}
	m := map[string]money.Micros{"setup": r.Setup.Amount, "recurring": r.Recurring.Amount, "overuse": r.Overuse.Amount}
	v, ok := m[name]
	return v, ok
}

func (w *world) play(steps int) {
	for i := 0; i < steps; i++ {
		switch w.r.IntN(3) {
		case 0:
			w.delegate()
		case 1:
			w.edit()
		default:
			w.sync()
		}
	}
}

// TestSyncProperties plays random sequences of delegations, edits and syncs
// and checks the invariants after every sync of every copy.
func TestSyncProperties(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 200; seed++ {
		w := newWorld(t, seed)
		w.play(60)
	}
}

// FuzzSyncProperties lets `go test -fuzz` search further seeds.
func FuzzSyncProperties(f *testing.F) {
	for _, s := range []uint64{1, 7, 42, 1234} {
		f.Add(s, uint8(40))
	}
	f.Fuzz(func(t *testing.T, seed uint64, steps uint8) {
		newWorld(t, seed).play(int(steps))
	})
}
