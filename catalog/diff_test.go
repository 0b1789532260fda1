package catalog

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDiffOfTheSameCatalogIsEmpty(t *testing.T) {
	t.Parallel()
	demo, err := DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	if changes := Diff(demo, demo); len(changes) != 0 {
		t.Errorf("Diff(demo, demo) = %+v", changes)
	}
	// Importing what was exported: the same catalog in another order and
	// with amounts written another way.
	again := decode(t, encodeJSON(t, demo), "json")
	slices.Reverse(again.Plans)
	slices.Reverse(again.SalesCategories)
	for i := range again.Plans {
		slices.Reverse(again.Plans[i].Periods)
		slices.Reverse(again.Plans[i].Rates)
	}
	if changes := Diff(demo, again); len(changes) != 0 {
		t.Errorf("Diff after reordering = %+v", changes)
	}
	src := "version: 1\nplan_categories:\n  - {key: c, name: {en: C}}\nplans:\n  - key: p\n    periods:\n      - {key: 1m, recurring: {amount: 4}}\n"
	same := "version: 1\nplan_categories:\n  - {key: c, name: {en: C}}\nplans:\n  - key: p\n    periods:\n      - {key: 1m, recurring: {amount: \"4.000\"}, descriptions: {}}\n"
	if changes := Diff(decode(t, []byte(src), "yaml"), decode(t, []byte(same), "yaml")); len(changes) != 0 {
		t.Errorf("Diff of 4 and \"4.000\" = %+v", changes)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(d *Document)
		want   []Change
	}{
		{"create resource type", func(d *Document) {
			d.ResourceTypes = append(d.ResourceTypes, ResourceType{Key: "archive", Name: Text{"en": "Archive"}, Unit: "GB", Class: ClassLimit})
		}, []Change{{Action: Create, Kind: KindResourceType, Key: "archive"}}},
		{"update resource type", func(d *Document) {
			d.ResourceTypes[0].Name["de"] = "E-Mail-Postfach"
			d.ResourceTypes[0].Unit = "box"
			d.ResourceTypes[0].Category = "email"
		}, []Change{{Action: Update, Kind: KindResourceType, Key: "mailbox", Fields: []FieldChange{
			{Path: "name.de", Old: `"Postfach"`, New: `"E-Mail-Postfach"`},
			{Path: "unit", Old: `"mailbox"`, New: `"box"`},
			{Path: "category", Old: "", New: `"email"`},
		}}}},
		{"delete resource type", func(d *Document) { d.ResourceTypes = d.ResourceTypes[:1] },
			[]Change{{Action: Delete, Kind: KindResourceType, Key: "storage"}}},
		{"create template", func(d *Document) {
			d.Templates = append(d.Templates, Template{Key: "mail", Name: Text{"en": "Mail"}, Resources: []TemplateResource{{Resource: "mailbox", Limit: 1}}})
		}, []Change{{Action: Create, Kind: KindTemplate, Key: "mail"}}},
		{"update template", func(d *Document) {
			d.Templates[0].Connector = "office365"
			d.Templates[0].Resources = []TemplateResource{{Resource: "mailbox", Limit: 2}}
		}, []Change{{Action: Update, Kind: KindTemplate, Key: "office", Fields: []FieldChange{
			{Path: "connector", Old: "", New: `"office365"`},
			{Path: "resources[mailbox].limit", Old: "1", New: "2"},
			{Path: "resources[storage]", Old: `{"resource":"storage","limit":10}`, New: ""},
		}}}},
		{"delete template", func(d *Document) { d.Templates = nil },
			[]Change{{Action: Delete, Kind: KindTemplate, Key: "office"}}},
		{"create plan category", func(d *Document) {
			d.PlanCategories = append(d.PlanCategories, PlanCategory{Key: "addons", Name: Text{"en": "Add-ons"}})
		}, []Change{{Action: Create, Kind: KindPlanCategory, Key: "addons"}}},
		{"update plan category", func(d *Document) { d.PlanCategories[0].UniqueGroup = false },
			[]Change{{Action: Update, Kind: KindPlanCategory, Key: "editions", Fields: []FieldChange{{Path: "unique_group", Old: "true", New: ""}}}}},
		{"delete plan category", func(d *Document) { d.PlanCategories = nil },
			[]Change{{Action: Delete, Kind: KindPlanCategory, Key: "editions"}}},
		{"create sales categories, parents first", func(d *Document) {
			d.SalesCategories = append(d.SalesCategories,
				SalesCategory{Key: "a-child", Parent: "z-parent", Name: Text{"en": "Child"}, Holds: HoldsPlans},
				SalesCategory{Key: "z-parent", Name: Text{"en": "Parent"}, Position: 2, Holds: HoldsCategories})
		}, []Change{{Action: Create, Kind: KindSalesCategory, Key: "z-parent"}, {Action: Create, Kind: KindSalesCategory, Key: "a-child"}}},
		{"update sales category", func(d *Document) {
			d.SalesCategories[1].Position = 2
			d.SalesCategories[1].Displayed = false
			d.SalesCategories[1].Name = Text{"en": "Email", "de": "E-Mail"}
		}, []Change{{Action: Update, Kind: KindSalesCategory, Key: "email", Fields: []FieldChange{
			{Path: "name.de", Old: "", New: `"E-Mail"`},
			{Path: "position", Old: "1", New: "2"},
			{Path: "displayed", Old: "true", New: "false"},
		}}}},
		{"delete sales categories, children first", func(d *Document) { d.SalesCategories = nil },
			[]Change{{Action: Delete, Kind: KindSalesCategory, Key: "email"}, {Action: Delete, Kind: KindSalesCategory, Key: "top"}}},
		{"update plan", func(d *Document) {
			p := &d.Plans[0]
			p.SalesCategories = []string{"offers", "email"}
			p.Periods[0].Recurring.Amount = 5_000_000
			p.Periods = append(p.Periods, Period{Key: "24m", Duration: Duration{N: 24, Unit: Month}, Recurring: Price{Amount: 70_000_000},
				Refund: Refund{FullDays: 30, After: RefundProrated}, Sort: 3, RecurringPer: PerPeriod})
			p.Rates = p.Rates[:1]
			p.Rule = &PriceRule{Kind: RulePercent, Percent: "20"}
		}, []Change{{Action: Update, Kind: KindPlan, Key: "basic", Fields: []FieldChange{
			{Path: "sales_categories", Old: `["email"]`, New: `["email","offers"]`},
			{Path: "periods[1m].recurring.amount", Old: `"4.00"`, New: `"5.00"`},
			{Path: "periods[24m]", Old: "", New: `{"key":"24m","duration":{"n":24,"unit":"month"},"setup":{"amount":"0.00"},"recurring":{"amount":"70.00"},"renewal":{"amount":"0.00"},"cancellation":{"amount":"0.00"},"refund":{"full_days":30,"after":"prorated","non_refundable":"0.00"},"sort":3,"recurring_per":"period"}`},
			{Path: "rates[storage]", Old: `{"key":"storage","resource":"storage","included":10,"min":0,"max":100,"setup":{"amount":"0.00"},"recurring":{"amount":"0.20"},"overuse":{"amount":"0.00"},"display":"spinner","sort":2}`, New: ""},
			{Path: "rule", Old: "", New: `{"kind":"percent","percent":"20"}`},
		}}}},
		{"rename plan", func(d *Document) { d.Plans[1].Key = "premium" }, []Change{
			{Action: Create, Kind: KindPlan, Key: "premium"},
			{Action: Delete, Kind: KindPlan, Key: "pro"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			current, desired := testDocument(), testDocument()
			c.change(desired)
			got := Diff(current, desired)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Diff =\n%s\nwant\n%s", formatChanges(t, got), formatChanges(t, c.want))
			}
			// Applying the change and diffing again gives nothing.
			if again := Diff(desired, desired); len(again) != 0 {
				t.Errorf("second import: %+v", again)
			}
		})
	}
}

func formatChanges(t *testing.T, changes []Change) string {
	t.Helper()
	var b strings.Builder
	for _, c := range changes {
		b.WriteString("\t" + string(c.Action) + " " + string(c.Kind) + " " + c.Key + "\n")
		for _, f := range c.Fields {
			b.WriteString("\t\t" + f.Path + ": " + f.Old + " → " + f.New + "\n")
		}
	}
	return b.String()
}

// TestDiffOrder: an import plan applies in order without breaking a
// reference: creates and updates by dependency, deletes in reverse.
func TestDiffOrder(t *testing.T) {
	t.Parallel()
	keys := func(changes []Change) []string {
		var s []string
		for _, c := range changes {
			s = append(s, string(c.Action)+" "+string(c.Kind)+" "+c.Key)
		}
		return s
	}
	created := keys(Diff(nil, testDocument()))
	want := []string{
		"create resource_type mailbox", "create resource_type storage",
		"create template office",
		"create plan_category editions",
		"create sales_category top", "create sales_category email",
		"create plan basic", "create plan pro",
	}
	if !slices.Equal(created, want) {
		t.Errorf("Diff(nil, doc) =\n%q\nwant\n%q", created, want)
	}
	deleted := keys(Diff(testDocument(), &Document{Version: 1}))
	want = []string{
		"delete plan pro", "delete plan basic",
		"delete sales_category email", "delete sales_category top",
		"delete plan_category editions",
		"delete template office",
		"delete resource_type storage", "delete resource_type mailbox",
	}
	if !slices.Equal(deleted, want) {
		t.Errorf("Diff(doc, empty) =\n%q\nwant\n%q", deleted, want)
	}
	current, desired := testDocument(), testDocument()
	desired.ResourceTypes[1].Key = "disk"
	desired.Plans[0].Name["en"] = "Basic mail"
	mixed := keys(Diff(current, desired))
	want = []string{"create resource_type disk", "update plan basic", "delete resource_type storage"}
	if !slices.Equal(mixed, want) {
		t.Errorf("mixed = %q, want %q", mixed, want)
	}
}

func TestFormatDiff(t *testing.T) {
	t.Parallel()
	current, desired := testDocument(), testDocument()
	desired.ResourceTypes = append(desired.ResourceTypes, ResourceType{Key: "archive", Name: Text{"en": "Archive"}, Unit: "GB", Class: ClassLimit})
	basic := &desired.Plans[0]
	basic.Name["en"] = "Basic mail"
	basic.Periods[0].Recurring.Amount = 5_000_000
	basic.Periods[0].Recurring.MaxRetail = 8_000_000
	basic.Periods = basic.Periods[:1]
	basic.Rates = append(basic.Rates, Rate{Key: "bundle", Name: Text{"en": "Bundle"}, Parts: []Part{{Resource: "mailbox", Units: 1}}, Max: -1, Display: Spinner, Sort: 3})
	desired.SalesCategories = desired.SalesCategories[:1]

	var b bytes.Buffer
	if err := FormatDiff(&b, Diff(current, desired)); err != nil {
		t.Fatal(err)
	}
	want := `+ resource_type archive
~ plan basic: name.en Basic → "Basic mail"
~ plan basic: periods[1m].recurring.amount 4.00 → 5.00
~ plan basic: periods[1m].recurring.max_retail (none) → 8.00
~ plan basic: periods[12m] removed
~ plan basic: rates[bundle] added {"key":"bundle","parts":[{"resource":"mailbox","units":1}],"name":{"en":"Bundle"},"included":0,"min":0,"max":-1,"setup":{"amount":"0.00"},"recurring":{"amount":"0.00"},"overuse":{"amount":"0.00"},"display":"spinner","sort":3}
- sales_category email
1 to create, 1 to update, 1 to delete
`
	if b.String() != want {
		t.Errorf("FormatDiff =\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := FormatDiff(&b, nil); err != nil || b.String() != "No changes.\n" {
		t.Errorf("FormatDiff(nil) = %q, %v", b.String(), err)
	}
}
