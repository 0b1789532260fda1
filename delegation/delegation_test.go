package delegation

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

func usd(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func pr(s string) catalog.Price { return catalog.Price{Amount: usd(s)} }

// sourcePlan is the provider's plan of the worked examples.
func sourcePlan() *catalog.Plan {
	return &catalog.Plan{
		ID: 1, OwnerID: 1, Key: "mail-basic", Template: "mail", Currency: "USD",
		Name: catalog.Text{"en": "Mail Basic", "de": "Mail Basis"}, Description: catalog.Text{"en": "Mail for small teams"},
		Terms: catalog.Text{"en": "Terms v1"}, Billing: catalog.ChargeInAdvance, Published: true,
		PlanCategory: "mail-editions", SalesCategories: []string{"email"},
		Periods: []catalog.Period{{
			Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
			Setup: pr("5.00"), Recurring: catalog.Price{Amount: usd("10.00"), MaxRetail: usd("15.00")},
			Refund:       catalog.Refund{FullDays: 14, After: catalog.RefundProrated},
			Descriptions: catalog.FeeTexts{Recurring: catalog.Text{"en": "Monthly fee"}},
			Sort:         1, RecurringPer: catalog.PerPeriod,
		}},
		Rates: []catalog.Rate{
			{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100, Recurring: pr("2.00"), Overuse: pr("0.05"),
				Display: catalog.Spinner, Sort: 1, Category: "mail"},
			{Key: "storage", Resource: "storage", Included: 10, Min: 0, Max: catalog.Unlimited, Recurring: pr("0.10"),
				Overuse: pr("0.10"), Measurable: true, Display: catalog.Slider, Sort: 2, Category: "storage", Periods: []string{"1m"}},
		},
	}
}

func percent(p string) catalog.PriceRule {
	return catalog.PriceRule{Kind: catalog.RulePercent, Percent: p}
}

// TestWorkedChain: provider → L1 (+20 %) → L2 (+10 %), prices to the cent.
func TestWorkedChain(t *testing.T) {
	t.Parallel()
	src := sourcePlan()
	l1, err := Delegate(src, 2, "USD", DelegateOptions{Rule: percent("20"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	l1.ID = 2
	l2, err := Delegate(l1, 3, "USD", DelegateOptions{Rule: percent("10")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		what      string
		got, want money.Micros
	}{
		{"L1 monthly fee 10.00 × 1.20", l1.Periods[0].Recurring.Amount, usd("12.00")},
		{"L2 monthly fee 12.00 × 1.10", l2.Periods[0].Recurring.Amount, usd("13.20")},
		{"L1 setup 5.00 × 1.20", l1.Periods[0].Setup.Amount, usd("6.00")},
		{"L2 setup 6.00 × 1.10", l2.Periods[0].Setup.Amount, usd("6.60")},
		{"L1 mailbox overuse 0.05 × 1.20", l1.Rates[0].Overuse.Amount, usd("0.06")},
		{"L2 mailbox overuse 0.06 × 1.10 = 0.066 → 0.07", l2.Rates[0].Overuse.Amount, usd("0.07")},
		{"cap travels to L1", l1.Periods[0].Recurring.MaxRetail, usd("15.00")},
		{"cap travels to L2", l2.Periods[0].Recurring.MaxRetail, usd("15.00")},
		{"free stays free", l2.Periods[0].Renewal.Amount, 0},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.what, c.got, c.want)
		}
	}
	if l1.SourceID != 1 || l1.OwnerID != 2 || l2.SourceID != 2 || l2.OwnerID != 3 {
		t.Errorf("links: L1 %d←%d, L2 %d←%d", l1.OwnerID, l1.SourceID, l2.OwnerID, l2.SourceID)
	}
	if !l1.Published || l2.Published {
		t.Errorf("publication: L1 %v (asked), L2 %v (not asked)", l1.Published, l2.Published)
	}
	// The source is not touched by delegation.
	if src.Periods[0].Recurring.Amount != usd("10.00") || src.OwnerID != 1 {
		t.Error("delegation changed its source")
	}
}

func TestPriceRules(t *testing.T) {
	t.Parallel()
	four := 4
	zero := 0
	cases := []struct {
		name      string
		rule      catalog.PriceRule
		currency  string
		src, want string
	}{
		{"copy", catalog.PriceRule{Kind: catalog.RuleCopy}, "USD", "9.99", "9.99"},
		{"percent 15 of 9.99 = 11.4885", percent("15"), "USD", "9.99", "11.49"},
		{"percent 12.5 of 8.00", percent("12.5"), "USD", "8.00", "9.00"},
		{"percent half rounds away from zero: 0.25 × 1.1 = 0.275", percent("10"), "USD", "0.25", "0.28"},
		{"fixed 1.50", catalog.PriceRule{Kind: catalog.RuleFixed, Fixed: usd("1.50")}, "USD", "10.00", "11.50"},
		{"fixed keeps free free", catalog.PriceRule{Kind: catalog.RuleFixed, Fixed: usd("1.50")}, "USD", "0", "0"},
		{"four decimals", catalog.PriceRule{Kind: catalog.RulePercent, Percent: "10", Decimals: &four}, "USD", "0.0125", "0.0138"},
		{"a finer source keeps its scale: 0.0125 × 1.1 = 0.01375", percent("10"), "USD", "0.0125", "0.0138"},
		{"copy of a sub-cent price stays exact", catalog.PriceRule{Kind: catalog.RuleCopy}, "USD", "0.0125", "0.0125"},
		{"exchange USD→EUR 0.92", catalog.PriceRule{Kind: catalog.RuleCopy, ExchangeRate: "0.92"}, "EUR", "10.00", "9.20"},
		{"exchange to yen, no minor unit", catalog.PriceRule{Kind: catalog.RulePercent, Percent: "10", ExchangeRate: "150.5", Decimals: &zero}, "JPY", "9.99", "1654"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := newPricer(&c.rule, "USD", c.currency)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.derive(usd(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if got != usd(c.want) {
				t.Errorf("%s → %s, want %s", c.src, got, c.want)
			}
		})
	}
	// 9.99 × 150.5 = 1503.495 × 1.1 = 1653.8445 → 1654 (checked by hand above).
	bad := []struct {
		rule  catalog.PriceRule
		cur   string
		field string
	}{
		{catalog.PriceRule{Kind: catalog.RuleCopy}, "EUR", "rule.exchange_rate"},
		{catalog.PriceRule{Kind: catalog.RuleCopy, ExchangeRate: "-1"}, "EUR", "rule.exchange_rate"},
		{catalog.PriceRule{Kind: catalog.RulePercent, Percent: "lots"}, "USD", "rule.percent"},
		{catalog.PriceRule{Kind: catalog.RulePercent, Percent: "-150"}, "USD", "rule.percent"},
		{catalog.PriceRule{Kind: "magic"}, "USD", "rule.kind"},
	}
	for _, b := range bad {
		_, err := newPricer(&b.rule, "USD", b.cur)
		var e *marketplane.Error
		if !errors.As(err, &e) || e.Fields[b.field] == "" {
			t.Errorf("rule %+v to %s: %v, want a field error on %s", b.rule, b.cur, err, b.field)
		}
	}
}

func TestCostAndCaps(t *testing.T) {
	t.Parallel()
	src := sourcePlan()
	// A markup below zero would sell below cost.
	_, err := Delegate(src, 2, "USD", DelegateOptions{Rule: percent("-10")})
	var e *marketplane.Error
	if !errors.As(err, &e) || !strings.Contains(e.Fields["periods[1m].recurring.amount"], "below your cost 10.00") {
		t.Fatalf("below cost: %v", err)
	}
	// Unless the reseller allows selling at a loss.
	if _, err := Delegate(src, 2, "USD", DelegateOptions{Rule: percent("-10"), SellBelowCost: true}); err != nil {
		t.Fatalf("with sell-below-cost: %v", err)
	}
	// Above the cap of 15.00.
	_, err = Delegate(src, 2, "USD", DelegateOptions{Rule: percent("60")})
	if !errors.As(err, &e) || !strings.Contains(e.Fields["periods[1m].recurring.amount"], "above the maximum retail price 15.00") {
		t.Fatalf("above cap: %v", err)
	}
	// The copy may lower the cap for its own children; L2 inherits it.
	l1, err := Delegate(src, 2, "USD", DelegateOptions{Rule: percent("20")})
	if err != nil {
		t.Fatal(err)
	}
	l1.ID = 2
	l1.Periods[0].Recurring.MaxRetail = usd("14.00")
	if err := CheckPrices(src, l1); err != nil {
		t.Fatalf("lower cap refused: %v", err)
	}
	l2, err := Delegate(l1, 3, "USD", DelegateOptions{Rule: percent("10")})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Periods[0].Recurring.MaxRetail != usd("14.00") {
		t.Errorf("L2 cap %s, want L1's 14.00", l2.Periods[0].Recurring.MaxRetail)
	}
	// A higher cap than the parent's is refused.
	l1.Periods[0].Recurring.MaxRetail = usd("20.00")
	if err := CheckPrices(src, l1); err == nil {
		t.Error("a cap above the parent's accepted")
	}
	// A hand-edited price below cost is refused.
	l1.Periods[0].Recurring.MaxRetail = usd("15.00")
	l1.Periods[0].Recurring.Amount = usd("9.99")
	if err := CheckPrices(src, l1); err == nil {
		t.Error("a price below cost accepted")
	}
}

// change applies one kind of edit to a source plan.
type edit func(p *catalog.Plan)

// edits touch every part of the source that some option carries.
var edits = map[string]edit{
	"names": func(p *catalog.Plan) {
		p.Name["en"] = "Mail Basic 2"
		p.Description = catalog.Text{"en": "Better mail"}
		p.Terms = catalog.Text{"en": "Terms v2"}
	},
	"categories": func(p *catalog.Plan) {
		p.PlanCategory = "mail-pro"
		p.SalesCategories = []string{"email", "office"}
		p.Rates[0].Category = "mailboxes"
	},
	"publication": func(p *catalog.Plan) { p.Published = false },
	"fees": func(p *catalog.Plan) {
		p.Periods[0].Recurring.Amount = usd("11.00")
		p.Periods[0].Descriptions.Recurring = catalog.Text{"en": "Per month"}
		p.Periods[0].Refund.FullDays = 30
		p.Periods[0].ShowZeroPrice = true
		p.Periods[0].Sort = 5
	},
	"resource prices": func(p *catalog.Plan) {
		p.Rates[0].Recurring.Amount = usd("2.50")
		p.Rates[1].Overuse.Amount = usd("0.20")
	},
	"resource limits": func(p *catalog.Plan) {
		p.Rates[0].Included = 10
		p.Rates[0].Min = 2
		p.Rates[1].Max = 500
	},
	"new period": func(p *catalog.Plan) {
		p.Periods = append(p.Periods, catalog.Period{Key: "12m", Duration: catalog.Duration{N: 12, Unit: catalog.Month},
			Recurring: pr("100.00"), Refund: catalog.Refund{After: catalog.RefundNone}, Sort: 2, RecurringPer: catalog.PerPeriod})
		p.Rates[1].Periods = []string{"1m", "12m"}
	},
	"new resource": func(p *catalog.Plan) {
		p.Rates = append(p.Rates, catalog.Rate{Key: "archive", Resource: "archive", Max: catalog.Unlimited,
			Recurring: pr("1.00"), Display: catalog.Spinner, Sort: 3})
	},
}

// TestEachOptionChangesExactlyItsFields: every edit is made at the source;
// a sync with one option changes exactly that option's fields of the copy,
// and the change list says exactly what differs (preview = apply).
func TestEachOptionChangesExactlyItsFields(t *testing.T) {
	t.Parallel()
	expect := map[Option][]string{
		OptNames:          {"name", "description", "terms"},
		OptCategories:     {"plan_category", "sales_categories", "rates[mailbox].category"},
		OptPublication:    {"published"},
		OptFees:           {"periods[1m].recurring.amount", "periods[1m].descriptions.recurring", "periods[1m].refund.full_days", "periods[1m].show_zero_price", "periods[1m].sort"},
		OptResourcePrices: {"rates[mailbox].recurring.amount", "rates[storage].overuse.amount"},
		OptResourceLimits: {"rates[mailbox].included", "rates[mailbox].min", "rates[storage].max"},
		OptNewPeriods:     {"periods[12m]", "rates[storage].periods"},
		OptNewResources:   {"rates[archive]"},
		OptNewPlans:       nil, // plan-level: the store's sync engine acts on it
	}
	base := sourcePlan()
	copy0, err := Delegate(base, 2, "USD", DelegateOptions{Rule: percent("20"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	edited := base.Clone()
	for _, e := range edits {
		e(edited)
	}
	for opt, want := range expect {
		t.Run(string(opt), func(t *testing.T) {
			got, changes, err := Sync(edited, copy0, Options{opt: true}, Terms{})
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, c := range changes {
				if !c.Applied() {
					t.Errorf("unexpected skip: %+v", c)
				}
				fields = append(fields, c.Field)
			}
			sort.Strings(fields)
			w := slices.Clone(want)
			sort.Strings(w)
			if !slices.Equal(fields, w) {
				t.Errorf("changed %v, want %v", fields, w)
			}
			diff := diffPaths(t, copy0, got)
			for _, d := range diff {
				if !coveredBy(d, want) {
					t.Errorf("%s changed in the copy but belongs to no change of %s", d, opt)
				}
			}
			for _, w := range want {
				if !anyUnder(diff, w) {
					t.Errorf("change %s reported but the copy did not change there", w)
				}
			}
		})
	}
}

// TestRestrictionsBlockExactlyTheirFields: with every option on, each
// restriction leaves exactly its fields alone and reports them skipped.
func TestRestrictionsBlockExactlyTheirFields(t *testing.T) {
	t.Parallel()
	base := sourcePlan()
	copy0, err := Delegate(base, 2, "USD", DelegateOptions{Rule: percent("20"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	edited := base.Clone()
	for _, e := range edits {
		e(edited)
	}
	all := Options{}
	for _, o := range AllOptions {
		all[o] = true
	}
	blocked := map[Restriction][]string{
		RestrictPricing:            {"periods[1m].recurring.amount", "rates[mailbox].recurring.amount", "rates[storage].overuse.amount"},
		RestrictTerms:              {"terms", "periods[1m].refund.full_days"},
		RestrictPlanCategories:     {"plan_category"},
		RestrictSalesCategories:    {"sales_categories"},
		RestrictResourceCategories: {"rates[mailbox].category"},
		RestrictPublication:        {"published"},
	}
	_, free, err := Sync(edited, copy0, all, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	for r, fields := range blocked {
		t.Run(string(r), func(t *testing.T) {
			got, changes, err := Sync(edited, copy0, all, Terms{Restrictions: []Restriction{r}})
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, c := range changes {
				if !c.Applied() {
					skipped = append(skipped, c.Field)
					if !strings.Contains(c.Skipped, string(r)) {
						t.Errorf("%s skipped for %q", c.Field, c.Skipped)
					}
				}
			}
			sort.Strings(skipped)
			w := slices.Clone(fields)
			sort.Strings(w)
			if !slices.Equal(skipped, w) {
				t.Errorf("skipped %v, want %v", skipped, w)
			}
			// Everything else is applied as without the restriction.
			applied := 0
			for _, c := range changes {
				if c.Applied() {
					applied++
				}
			}
			if applied+len(skipped) != len(free) {
				t.Errorf("%d applied + %d skipped, want %d changes in all", applied, len(skipped), len(free))
			}
			diff := diffPaths(t, copy0, got)
			for _, f := range fields {
				if anyUnder(diff, f) {
					t.Errorf("restricted field %s changed", f)
				}
			}
			if r == RestrictPricing {
				if !got.NeedsConfirmation() || got.OnSale() {
					t.Error("new period and rate arrived priced although pricing is restricted")
				}
				pe, _ := got.Period("12m")
				ra, _ := got.Rate("archive")
				if !pe.Unpriced || !ra.Unpriced || pe.Recurring.Amount != 0 || ra.Recurring.Amount != 0 {
					t.Errorf("unpriced arrivals: period %+v rate %+v", pe, ra)
				}
			} else if got.NeedsConfirmation() {
				t.Error("needs confirmation without a pricing restriction")
			}
		})
	}
}

func TestManualPricesAreKept(t *testing.T) {
	t.Parallel()
	base := sourcePlan()
	c, err := Delegate(base, 2, "USD", DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RuleManual}})
	if err != nil {
		t.Fatal(err)
	}
	c.Periods[0].Recurring.Amount = usd("13.00")
	edited := base.Clone()
	edited.Periods[0].Recurring.Amount = usd("11.00")
	got, changes, err := Sync(edited, c, Options{OptFees: true}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Periods[0].Recurring.Amount != usd("13.00") || len(changes) != 1 || changes[0].Skipped != "priced by hand" {
		t.Errorf("manual price: %s, changes %+v", got.Periods[0].Recurring.Amount, changes)
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	t.Parallel()
	base := sourcePlan()
	c, _ := Delegate(base, 2, "USD", DelegateOptions{Rule: percent("20")})
	edited := base.Clone()
	for _, e := range edits {
		e(edited)
	}
	all := Options{}
	for _, o := range AllOptions {
		all[o] = true
	}
	once, _, err := Sync(edited, c, all, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	twice, changes, err := Sync(edited, once, all, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 || len(diffPaths(t, once, twice)) != 0 {
		t.Errorf("a second sync changed %v", changes)
	}
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := ParseOptions("fees, resource_prices")
	if err != nil || !o[OptFees] || !o[OptResourcePrices] || len(o) != 2 {
		t.Fatalf("parse: %v %v", o, err)
	}
	if o.String() != "fees,resource_prices" {
		t.Errorf("String = %q", o.String())
	}
	all, _ := ParseOptions("all")
	if len(all) != len(AllOptions) {
		t.Errorf("all = %v", all)
	}
	for _, bad := range []string{"", "fees,prices", ","} {
		if _, err := ParseOptions(bad); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("ParseOptions(%q) = %v", bad, err)
		}
	}
	for _, c := range []struct {
		rs    []Restriction
		field string
	}{
		{[]Restriction{"pricing", "colour"}, "restrictions[1]"},
		{[]Restriction{"pricing", "terms", "pricing"}, "restrictions[2]"},
	} {
		var me *marketplane.Error
		if err := (Terms{Restrictions: c.rs}).Validate(); !errors.As(err, &me) || len(me.Fields) != 1 || me.Fields[c.field] == "" {
			t.Errorf("restrictions %v: %v, want an error on %s", c.rs, err, c.field)
		}
	}
	if err := (Terms{Restrictions: []Restriction{"pricing", "terms"}}).Validate(); err != nil {
		t.Errorf("two restrictions: %v", err)
	}
}

// diffPaths lists the paths where two plans differ, with periods and rates
// addressed by key, as "periods[1m].recurring.amount".
func diffPaths(t *testing.T, a, b *catalog.Plan) []string {
	t.Helper()
	fa, fb := flatten(t, a), flatten(t, b)
	var out []string
	for k, v := range fa {
		if w, ok := fb[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func flatten(t *testing.T, p *catalog.Plan) map[string]string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(b, &v)
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, w := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, w)
			}
		case []any:
			for i, w := range x {
				key := fmt.Sprint(i)
				if m, ok := w.(map[string]any); ok && m["key"] != nil && (strings.HasSuffix(path, "periods") || strings.HasSuffix(path, "rates")) {
					key = fmt.Sprint(m["key"])
				} else if _, ok := w.(map[string]any); !ok {
					// Lists of plain values compare as a whole.
					b, _ := json.Marshal(x)
					out[path] = string(b)
					return
				}
				walk(path+"["+key+"]", w)
			}
		default:
			b, _ := json.Marshal(x)
			out[path] = string(b)
		}
	}
	walk("", v)
	return out
}

func coveredBy(path string, fields []string) bool {
	for _, f := range fields {
		if path == f || strings.HasPrefix(path, f+".") {
			return true
		}
	}
	return false
}

// anyUnder reports whether one of paths is f or lies below it.
func anyUnder(paths []string, f string) bool {
	for _, p := range paths {
		if p == f || strings.HasPrefix(p, f+".") {
			return true
		}
	}
	return false
}
