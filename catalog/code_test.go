package catalog

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

var update = flag.Bool("update", false, "rewrite demo.yaml and testdata/demo.json in canonical form")

// testDocument is a small valid catalog: two resources of one office
// template, one plan category, a sales category tree of two, and two plans.
func testDocument() *Document {
	price := func(units float64) Price { return Price{Amount: money.Micros(units * 1e6)} }
	period := func(key string, n int, u Unit, amount float64, sort int) Period {
		return Period{Key: key, Duration: Duration{N: n, Unit: u}, Recurring: price(amount),
			Refund: Refund{FullDays: 30, After: RefundProrated}, Sort: sort, RecurringPer: PerPeriod}
	}
	rate := func(res string, included, max int64, amount float64, sort int) Rate {
		return Rate{Key: res, Resource: res, Included: included, Max: max, Recurring: price(amount), Display: Spinner, Sort: sort}
	}
	return &Document{
		Version: 1,
		Owner:   "Test Provider",
		ResourceTypes: []ResourceType{
			{Key: "mailbox", Name: Text{"en": "Mailbox", "de": "Postfach"}, Unit: "mailbox", Class: ClassLimit},
			{Key: "storage", Name: Text{"en": "Storage", "de": "Speicher"}, Unit: "GB", Class: ClassLimit},
		},
		Templates: []Template{
			{Key: "office", Name: Text{"en": "Office"}, Resources: []TemplateResource{{Resource: "mailbox", Limit: 1}, {Resource: "storage", Limit: 10}}},
		},
		PlanCategories: []PlanCategory{
			{Key: "editions", Name: Text{"en": "Editions"}, UniqueGroup: true},
		},
		SalesCategories: []SalesCategory{
			{Key: "top", Name: Text{"en": "Productivity"}, Position: 1, Holds: HoldsCategories, Displayed: true},
			{Key: "email", Parent: "top", Name: Text{"en": "Email"}, Position: 1, Holds: HoldsPlans, Displayed: true},
		},
		Plans: []Plan{
			{Key: "basic", Template: "office", Currency: "USD", Name: Text{"en": "Basic", "de": "Basis"}, Billing: ChargeInAdvance,
				Published: true, PlanCategory: "editions", SalesCategories: []string{"email"}, UpgradeTo: []string{"pro"},
				Periods: []Period{period("1m", 1, Month, 4, 1), period("12m", 12, Month, 40, 2)},
				Rates:   []Rate{rate("mailbox", 1, 10, 4, 1), rate("storage", 10, 100, 0.2, 2)}},
			{Key: "pro", Template: "office", Currency: "USD", Name: Text{"en": "Pro"}, Billing: ChargeInAdvance,
				Published: true, PlanCategory: "editions", SalesCategories: []string{"email"}, DowngradeTo: []string{"basic"},
				Periods: []Period{period("1m", 1, Month, 10, 1)},
				Rates:   []Rate{rate("mailbox", 5, Unlimited, 3, 1)}},
		},
	}
}

func encodeYAML(t *testing.T, d *Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeYAML(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJSON(t *testing.T, d *Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeJSON(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decode(t *testing.T, data []byte, format string) *Document {
	t.Helper()
	d, err := Decode(bytes.NewReader(data), format)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return d
}

func TestDemoDocument(t *testing.T) {
	t.Parallel()
	d, err := DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ResourceTypes) < 10 || len(d.Templates) < 3 || len(d.Plans) < 6 || len(d.Plans) > 8 {
		t.Errorf("demo has %d resource types, %d templates, %d plans", len(d.ResourceTypes), len(d.Templates), len(d.Plans))
	}
	// A few facts a reader of demo.yaml can check.
	plan := func(key string) *Plan {
		for i := range d.Plans {
			if d.Plans[i].Key == key {
				return &d.Plans[i]
			}
		}
		t.Fatalf("demo has no plan %q", key)
		return nil
	}
	basic := plan("office-basic")
	yearly, _ := basic.Period("12m")
	if yearly.RecurringPer != PerMonth || yearly.Recurring.Amount != 3_500_000 {
		t.Errorf("office-basic 12m: %+v, want 3.50 per month", yearly.Recurring)
	}
	if trial, ok := plan("office-standard").Period("trial"); !ok || !trial.Trial {
		t.Error("office-standard has no trial period")
	}
	if bundle, ok := plan("office-pro").Rate("office-pro-bundle"); !ok || !bundle.Composite() {
		t.Error("office-pro has no composite bundle")
	}
	if plan("vps-payg").Billing != PayAsYouGo {
		t.Error("vps-payg is not pay-as-you-go")
	}
	if p, _ := plan("pg-small").Period("1m"); p.Setup.Amount != 10_000_000 || p.Refund.NonRefundable != 10_000_000 {
		t.Errorf("pg-small 1m setup %s, non-refundable %s; want 10.00 both", p.Setup.Amount, p.Refund.NonRefundable)
	}
	for _, p := range d.Plans {
		if p.Currency != "USD" || p.Name["en"] == "" || p.Name["de"] == "" {
			t.Errorf("plan %s: currency %s, names %v", p.Key, p.Currency, p.Name)
		}
	}
	// Fresh copies: changing one does not change the next.
	d.Plans[0].Key = "changed"
	again, _ := DemoDocument()
	if again.Plans[0].Key == "changed" {
		t.Error("DemoDocument shares its plans between calls")
	}
}

// TestDemoRoundTrip checks that demo.yaml is in canonical form: decoding and
// encoding it gives the same bytes, in YAML and through JSON.
func TestDemoRoundTrip(t *testing.T) {
	t.Parallel()
	yamlDoc, err := os.ReadFile("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, yamlDoc, "")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	gotYAML, gotJSON := encodeYAML(t, d), encodeJSON(t, d)
	if *update {
		if err := os.WriteFile("demo.yaml", gotYAML, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/demo.json", gotJSON, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	jsonDoc, err := os.ReadFile("testdata/demo.json")
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "YAML → YAML", gotYAML, yamlDoc)
	checkSame(t, "YAML → JSON", gotJSON, jsonDoc)
	fromJSON := decode(t, jsonDoc, "")
	checkSame(t, "JSON → JSON", encodeJSON(t, fromJSON), jsonDoc)
	checkSame(t, "JSON → YAML", encodeYAML(t, fromJSON), yamlDoc)
}

func checkSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s: line %d is\n\t%q\nwant\n\t%q\n(go test ./catalog -update rewrites the files)", what, i+1, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
}

// TestRoundTrip checks the canonical form with everything a document can
// hold, in lists out of order, and texts that YAML must quote.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	d := testDocument()
	two := 2
	basic := &d.Plans[0]
	basic.Description = Text{"en": "line one\nline two\n", "de-AT": "  leading spaces", "fr": "trailing "}
	basic.Terms = Text{"en": "yes", "de": "no", "fr": "1.0", "it": "", "es": "# not a comment", "pt": "- not a list", "nl": "key: value", "pl": "tab\there", "sv": `"quoted"`, "ja": "日本語", "ru": "{not: flow}"}
	basic.Periods = append(basic.Periods, Period{Key: "trial", Duration: Duration{N: 14, Unit: Day}, Trial: true, ShowZeroPrice: true,
		Descriptions: FeeTexts{Setup: Text{"en": "Setup, free: really"}}, Refund: Refund{After: RefundNone}, Sort: 0, RecurringPer: PerPeriod})
	basic.Periods[0].Recurring = Price{Amount: 4_990_000, MaxRetail: 9_000_000, SuggestedRetail: 5_000_000}
	basic.Periods[0].Refund.NonRefundable = 125
	basic.Periods[0].AfterRefundDays = 90
	basic.Periods[0].Unpriced = true
	basic.Rates = append([]Rate{{Key: "bundle", Parts: []Part{{Resource: "storage", Units: 50}, {Resource: "mailbox", Units: 1}},
		Name: Text{"en": "Bundle"}, Max: Unlimited, Display: Slider, Sort: 3, Periods: []string{"1m", "12m"}, Measurable: true}}, basic.Rates...)
	basic.Rule = &PriceRule{Kind: RulePercent, Percent: "12.5", Fixed: 1_500_000, ExchangeRate: "0.92", Decimals: &two}
	basic.SellBelowCost, basic.ChangedUpstream = true, true
	basic.SalesCategories = []string{"email", "archive"}
	d.Plans[0], d.Plans[1] = d.Plans[1], d.Plans[0]
	d.SalesCategories[0], d.SalesCategories[1] = d.SalesCategories[1], d.SalesCategories[0]
	zero := 0
	d.Plans[0].Rule = &PriceRule{Kind: RuleCopy, Decimals: &zero}

	y := encodeYAML(t, d)
	j := encodeJSON(t, d)
	checkSame(t, "YAML", encodeYAML(t, decode(t, y, "yaml")), y)
	checkSame(t, "JSON", encodeJSON(t, decode(t, j, "json")), j)
	checkSame(t, "YAML → JSON", encodeJSON(t, decode(t, y, "yaml")), j)
	checkSame(t, "JSON → YAML", encodeYAML(t, decode(t, j, "json")), y)
	if changes := Diff(d, decode(t, y, "")); len(changes) != 0 {
		t.Errorf("Diff after a YAML round trip: %+v", changes)
	}

	// What a person reads.
	for _, want := range []string{
		"\n  - key: basic\n", // plans by key, though basic came second
		"recurring: {amount: \"4.99\", max_retail: \"9.00\", suggested_retail: \"5.00\"}",
		"non_refundable: \"0.000125\"",
		"sales_categories: [archive, email]",
		"periods: [12m, 1m]",
		"rule: {kind: copy, decimals: 0}",
		"en: |\n        line one\n        line two\n",
		"de: \"no\"",
		"fr: \"1.0\"",
	} {
		if !bytes.Contains(y, []byte(want)) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	if !bytes.Contains(j, []byte(`"amount": "4.99"`)) || bytes.Contains(j, []byte(`\u0026`)) {
		t.Errorf("JSON amounts or escaping:\n%s", j)
	}
	// Periods and rates by sort, then key: the trial (sort 0) first, the
	// bundle (sort 3) last.
	back := decode(t, y, "yaml")
	if p := back.Plans[0]; p.Periods[0].Key != "trial" || p.Rates[2].Key != "bundle" || p.Rates[2].Parts[0].Resource != "mailbox" {
		t.Errorf("order of periods, rates, parts: %+v", p)
	}
	// Encoding leaves the document as it was.
	if d.Plans[0].Key != "pro" || d.Plans[1].SalesCategories[0] != "email" {
		t.Error("encoding reordered the caller's document")
	}
}

// FuzzRoundTrip puts arbitrary text and amounts where a document holds
// them: the canonical form must survive a round trip in both formats.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Mailbox", "yes", "null", "~", "0x1F", "1e3", "a: b", "- x", "#", "\n", " x ", "\"", "'", "\\", "{[", "|", ">", "&a", "*a", "!tag", "%", "@", "`", "\t", "\u2028", "\ufeff", "\x00", "\xff", "a\r\nb", "<&>", "---", "..."} {
		f.Add(s, int64(4_990_000))
	}
	f.Add("x", int64(-1))
	f.Add("x", int64(9_223_372_036_854_775_807))
	f.Add("x", int64(-9_223_372_036_854_775_808))
	f.Fuzz(func(t *testing.T, s string, amount int64) {
		d := testDocument()
		d.Owner = s
		d.ResourceTypes[0].Name["en"] = s
		d.ResourceTypes[0].Unit = s
		d.ResourceTypes[1].Name[s] = "x"
		d.Plans[0].Description = Text{"en": s}
		d.Plans[0].Terms = Text{"de": s + "\n" + s}
		d.Plans[0].Periods[0].Descriptions.Setup = Text{"en": s}
		d.Plans[0].Periods[0].Recurring.Amount = money.Micros(amount)
		d.Plans[0].Rule = &PriceRule{Kind: RulePercent, Percent: s, Fixed: money.Micros(amount)}
		y, j := encodeYAML(t, d), encodeJSON(t, d)
		checkSame(t, "YAML", encodeYAML(t, decode(t, y, "yaml")), y)
		checkSame(t, "JSON", encodeJSON(t, decode(t, j, "json")), j)
		checkSame(t, "JSON → YAML", encodeYAML(t, decode(t, j, "json")), y)
	})
}

func TestDecodeDetectsFormat(t *testing.T) {
	t.Parallel()
	d := testDocument()
	bom := []byte("\ufeff")
	for _, data := range [][]byte{encodeYAML(t, d), encodeJSON(t, d), append([]byte(" \n\t"), encodeJSON(t, d)...),
		append(bom, encodeJSON(t, d)...), append(bom, encodeYAML(t, d)...)} {
		if got := decode(t, data, ""); len(Diff(d, got)) != 0 {
			t.Errorf("detected format of %.20q decoded differently", data)
		}
	}
	if _, err := Decode(strings.NewReader("version: 1"), "toml"); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("format toml: %v", err)
	}
}

// TestDecodeYAMLPlainScalars: a person may write amounts and decimal
// strings without quotes in YAML; they are read as the text written.
func TestDecodeYAMLPlainScalars(t *testing.T) {
	t.Parallel()
	src := `version: 1
resource_types:
  - {key: "2024", name: {en: 42}, unit: GB, class: limit}
plans:
  - key: basic
    periods:
      - key: 1m
        recurring: {amount: 20.5, max_retail: 30}
        refund: {non_refundable: 0.000125}
    rule: {kind: percent, percent: 015, exchange_rate: 0.92, fixed: 1}
`
	d := decode(t, []byte(src), "yaml")
	p := d.Plans[0]
	if got := p.Periods[0].Recurring; got.Amount != 20_500_000 || got.MaxRetail != 30_000_000 {
		t.Errorf("recurring = %+v", got)
	}
	if p.Periods[0].Refund.NonRefundable != 125 {
		t.Errorf("non_refundable = %d", p.Periods[0].Refund.NonRefundable)
	}
	if r := p.Rule; r.Percent != "015" || r.ExchangeRate != "0.92" || r.Fixed != 1_000_000 {
		t.Errorf("rule = %+v", r)
	}
	if d.ResourceTypes[0].Key != "2024" || d.ResourceTypes[0].Name["en"] != "42" {
		t.Errorf("resource type = %+v", d.ResourceTypes[0])
	}
}

// TestDecodeStrict: what a document may not say, and how the error names
// the place.
func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, format, in string
		field            string // "" for an error without fields
		want             string // in the field's message, or in the error
	}{
		{"unknown top field", "yaml", "version: 1\nowners: x\n", "owners", `did you mean "owner"? (line 2)`},
		{"unknown nested field", "yaml", "version: 1\nplans:\n  - key: basic\n    periods:\n      - key: 1m\n        refund: {fullDays: 3}\n",
			"plans[basic].periods[0].refund.fullDays", "unknown field; did you mean \"full_days\"? (line 6)"},
		{"unknown field lists the known", "yaml", "version: 1\nplans:\n  - key: basic\n    price: 3\n", "plans[basic].price", "known: key, template, currency"},
		{"unknown JSON field", "json", "{\"version\": 1,\n \"templates\": [{\"key\": \"office\",\n  \"resources\": [{\"resource\": \"mailbox\", \"limt\": 1}]}]}",
			"templates[office].resources[0].limt", "unknown field; did you mean \"limit\"? (line 3)"},
		{"index when the key is no key", "yaml", "version: 1\nplans:\n  - key: Bad Key\n    colour: red\n", "plans[0].colour", "unknown field"},
		{"string for a number", "yaml", "version: 1\nplans:\n  - key: basic\n    periods:\n      - duration: {n: \"1\", unit: month}\n",
			"plans[basic].periods[0].duration.n", "must be a whole number (line 5)"},
		{"fraction for a number", "json", `{"version": 1, "templates": [{"key": "t", "resources": [{"resource": "r", "limit": 1.5}]}]}`,
			"templates[t].resources[0].limit", "must be a whole number (line 1)"},
		{"JSON number for an amount", "json", "{\"version\": 1, \"plans\": [{\"key\": \"basic\", \"periods\": [\n{\"key\": \"1m\", \"recurring\": {\"amount\": 20000000}}]}]}",
			"plans[basic].periods[0].recurring.amount", "decimal string such as \"20.00\" (not micros, not a number) (line 2)"},
		{"bad amount", "yaml", "version: 1\nplans:\n  - key: basic\n    periods:\n      - recurring: {amount: \"20.001.5\"}\n",
			"plans[basic].periods[0].recurring.amount", "must be an amount"},
		{"too many decimals", "yaml", "version: 1\nplans:\n  - key: basic\n    rule: {kind: fixed, fixed: \"0.0000001\"}\n",
			"plans[basic].rule.fixed", "more than 6 decimals"},
		{"string for a bool", "yaml", "version: 1\nplan_categories:\n  - {key: c, unique_group: \"yes\"}\n", "plan_categories[c].unique_group", "must be true or false (line 3)"},
		{"object for a string", "yaml", "version: 1\nowner: {name: x}\n", "owner", "must be a string (line 2)"},
		{"number for a JSON string", "json", `{"version": 1, "owner": 42}`, "owner", "must be a string"},
		{"object for a list", "yaml", "version: 1\nplans: {key: basic}\n", "plans", "must be a list (line 2)"},
		{"list for a text", "yaml", "version: 1\nplan_categories:\n  - key: c\n    name: [en, de]\n", "plan_categories[c].name", "must be a mapping"},
		{"null in a text", "yaml", "version: 1\nplan_categories:\n  - key: c\n    name: {en: Plans, by month}\n", "plan_categories[c].name.by month", "has no value"},
		{"null in a list", "yaml", "version: 1\nplans:\n  -\n", "plans[0]", "must not be null"},
		{"duplicate field", "yaml", "version: 1\nowner: a\nowner: b\n", "owner", "appears twice (line 3)"},
		{"duplicate JSON field", "json", `{"version": 1, "plans": [{"key": "b", "key": "c"}]}`, "plans[b].key", "appears twice"},
		{"duplicate language", "yaml", "version: 1\nplan_categories:\n  - key: c\n    name: {en: a, en: b}\n", "plan_categories[c].name.en", "appears twice"},
		{"no version", "yaml", "owner: a\n", "version", "is required"},
		{"future version", "yaml", "version: 2\nfuture_field: x\n", "version", "unsupported format version 2"},
		{"version as text", "json", `{"version": "1"}`, "version", "must be the number 1"},
		{"not a mapping", "yaml", "- version: 1\n", "", "must be a mapping of fields"},
		{"empty", "yaml", "  \n", "", "empty"},
		{"two documents", "yaml", "version: 1\n---\nversion: 1\n", "", "one YAML document"},
		{"merge key", "yaml", "version: 1\nx: &x {owner: a}\n<<: *x\n", "", "merge keys"},
		{"YAML syntax", "yaml", "version: 1\nowner: [a\n", "", "line"},
		{"JSON syntax", "json", "{\"version\": 1,\n\"owner\": x}", "", "JSON syntax error at line 2"},
		{"JSON cut short", "json", `{"version": 1`, "", "ends too early"},
		{"JSON trailing value", "json", `{"version": 1} {}`, "", "more than one JSON value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(c.in), c.format)
			var e *marketplane.Error
			if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
				t.Fatalf("Decode = %v, want an EINVALID error", err)
			}
			if c.field == "" {
				if len(e.Fields) != 0 || !strings.Contains(e.Message, c.want) {
					t.Fatalf("error %q, want a message with %q", e.Error(), c.want)
				}
				return
			}
			if msg, ok := e.Fields[c.field]; !ok || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q, want field %s with %q", e.Error(), c.field, c.want)
			}
		})
	}
}

// TestDecodeAliases: anchors and aliases are read, but cannot blow up.
func TestDecodeAliases(t *testing.T) {
	t.Parallel()
	src := "version: 1\nplan_categories:\n  - {key: a, name: &n {en: Same}}\n  - {key: b, name: *n}\n"
	d := decode(t, []byte(src), "yaml")
	if d.PlanCategories[1].Name["en"] != "Same" {
		t.Errorf("alias: %+v", d.PlanCategories)
	}
	var bomb strings.Builder
	bomb.WriteString("version: 1\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		prev := "*x" + string(rune('0'+i-1))
		bomb.WriteString("x" + string(rune('0'+i)) + ": &x" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	if _, err := Decode(strings.NewReader(bomb.String()), "yaml"); err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("alias bomb: %v", err)
	}
}

func TestEncodeVersion(t *testing.T) {
	t.Parallel()
	d := testDocument()
	d.Version = 0
	if y := encodeYAML(t, d); !bytes.HasPrefix(y, []byte("version: 1\n")) {
		t.Errorf("version 0 is written as %.20q", y)
	}
	d.Version = 2
	if err := EncodeJSON(&bytes.Buffer{}, d); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("EncodeJSON of version 2: %v", err)
	}
}

// TestValidate: each rule names the object by key and the field by its
// path.
func TestValidate(t *testing.T) {
	t.Parallel()
	if err := testDocument().Validate(); err != nil {
		t.Fatalf("test document: %v", err)
	}
	cases := []struct {
		name   string
		change func(d *Document)
		field  string
		want   string
	}{
		{"version", func(d *Document) { d.Version = 0 }, "version", "must be 1"},
		{"resource type rule", func(d *Document) { d.ResourceTypes[0].Class = "meter" }, "resource_types[mailbox].class", "must be limit"},
		{"bad key by index", func(d *Document) { d.ResourceTypes[1].Key = "Storage GB" }, "resource_types[1].key", "lower-case"},
		{"duplicate resource type", func(d *Document) { d.ResourceTypes[1].Key = "mailbox" }, "resource_types[mailbox].key", "appears twice"},
		{"template resource", func(d *Document) { d.Templates[0].Resources[1].Resource = "disk" }, "templates[office].resources[1].resource", `no resource type "disk"`},
		{"duplicate template", func(d *Document) { d.Templates = append(d.Templates, d.Templates[0]) }, "templates[office].key", "appears twice"},
		{"plan category rule", func(d *Document) { d.PlanCategories[0].Name = nil }, "plan_categories[editions].name", "is required"},
		{"duplicate plan category", func(d *Document) { d.PlanCategories = append(d.PlanCategories, d.PlanCategories[0]) }, "plan_categories[editions].key", "appears twice"},
		{"sales parent missing", func(d *Document) { d.SalesCategories[1].Parent = "gone" }, "sales_categories[email].parent", "no such category"},
		{"sales parent holds plans", func(d *Document) { d.SalesCategories[0].Holds = HoldsPlans }, "sales_categories[email].parent", "holds plans"},
		{"sales cycle", func(d *Document) { d.SalesCategories[0].Parent = "email"; d.SalesCategories[1].Holds = HoldsCategories },
			"sales_categories[top].parent", "cycle"},
		{"duplicate sales category", func(d *Document) { d.SalesCategories = append(d.SalesCategories, d.SalesCategories[1]) }, "sales_categories[email].key", "appears twice"},
		{"plan rule", func(d *Document) { d.Plans[0].Periods[0].Recurring.Amount = -1 }, "plans[basic].periods[0].recurring.amount", "must not be negative"},
		{"plan template", func(d *Document) { d.Plans[0].Template = "mail" }, "plans[basic].template", `no service template "mail"`},
		{"plan category", func(d *Document) { d.Plans[0].PlanCategory = "other" }, "plans[basic].plan_category", `no plan category "other"`},
		{"plan sales category", func(d *Document) { d.Plans[1].SalesCategories = []string{"email", "shop"} }, "plans[pro].sales_categories[1]", `no sales category "shop"`},
		{"plan in a category of categories", func(d *Document) { d.Plans[1].SalesCategories = []string{"top"} }, "plans[pro].sales_categories[0]", "holds categories, not plans"},
		{"upgrade path", func(d *Document) { d.Plans[0].UpgradeTo = []string{"pro", "max"} }, "plans[basic].upgrade_to[1]", `no plan "max"`},
		{"rate resource", func(d *Document) { d.Plans[1].Rates[0] = Rate{Key: "disk", Resource: "disk", Display: Spinner} }, "plans[pro].rates[0].resource", `no resource type "disk"`},
		{"rate outside the template", func(d *Document) {
			d.ResourceTypes = append(d.ResourceTypes, ResourceType{Key: "disk", Name: Text{"en": "Disk"}, Unit: "GB", Class: ClassLimit})
			d.Plans[1].Rates[0] = Rate{Key: "disk", Resource: "disk", Display: Spinner}
		}, "plans[pro].rates[0].resource", `resource type "disk" is not in service template "office"`},
		{"part outside the template", func(d *Document) {
			d.ResourceTypes = append(d.ResourceTypes, ResourceType{Key: "disk", Name: Text{"en": "Disk"}, Unit: "GB", Class: ClassLimit})
			d.Plans[1].Rates[0] = Rate{Key: "b", Name: Text{"en": "B"}, Parts: []Part{{Resource: "mailbox", Units: 1}, {Resource: "disk", Units: 5}}, Display: Spinner}
		}, "plans[pro].rates[0].parts[1].resource", `not in service template "office"`},
		{"duplicate plan", func(d *Document) { d.Plans[1].Key = "basic" }, "plans[basic].key", "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := testDocument()
			c.change(d)
			err := d.Validate()
			var e *marketplane.Error
			if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
				t.Fatalf("Validate = %v, want EINVALID", err)
			}
			if msg, ok := e.Fields[c.field]; !ok || !strings.Contains(msg, c.want) {
				t.Fatalf("Validate = %v\nwant field %s with %q", err, c.field, c.want)
			}
		})
	}
}
