package store_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// ioTree is the tree of setup with the provider named as in the demo
// catalog (the document's owner label is the account's name) and an
// administrator in each seller.
type ioTree struct {
	*tree
	p, a, b *account.Actor
}

func ioSetup(t *testing.T, db *store.DB) *ioTree {
	t.Helper()
	it := &ioTree{tree: setup(t, db)}
	it.P.Name = "Marketplane Demo Provider"
	if err := db.UpdateAccount(it.ctx, it.sys, it.P); err != nil {
		t.Fatalf("rename provider: %v", err)
	}
	_, it.p = it.user(t, it.P, "admin-p", it.admin)
	_, it.a = it.user(t, it.A, "admin-a", it.admin)
	_, it.b = it.user(t, it.B, "admin-b", it.admin)
	return it
}

func demoDocument(t *testing.T) *catalog.Document {
	t.Helper()
	d, err := catalog.DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// importDemo imports the demo catalog into the provider.
func (it *ioTree) importDemo(t *testing.T) []catalog.Change {
	t.Helper()
	changes, err := it.db.ImportCatalog(it.ctx, it.p, it.P.ID, demoDocument(t), store.ImportOptions{})
	if err != nil {
		t.Fatalf("import demo catalog: %v", err)
	}
	return changes
}

// catalogRows counts the rows of every catalog table and the audit log.
func catalogRows(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"resource_types", "templates", "plan_categories", "sales_categories", "plans", "audit_log"} {
		out[table] = count(t, db, table)
	}
	var versions int
	if err := db.Read.QueryRow(`SELECT COALESCE(SUM(version), 0) FROM plans`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	out["plan versions"] = versions
	return out
}

func sameRows(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s went from %d to %d", what, k, v, after[k])
		}
	}
}

func encoded(t *testing.T, d *catalog.Document, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	encode := catalog.EncodeYAML
	if format == "json" {
		encode = catalog.EncodeJSON
	}
	if err := encode(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCatalogRoundTrip is the Done-means line "Import/export round-trips the
// demo catalog byte for byte", and importing it twice changes nothing.
func TestCatalogRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		it := ioSetup(t, db)
		changes := it.importDemo(t)
		kinds := map[catalog.Kind]int{}
		for _, c := range changes {
			if c.Action != catalog.Create {
				t.Errorf("first import: %+v", c)
			}
			kinds[c.Kind]++
		}
		want := map[catalog.Kind]int{catalog.KindResourceType: 14, catalog.KindTemplate: 4, catalog.KindPlanCategory: 3,
			catalog.KindSalesCategory: 6, catalog.KindPlan: 8}
		for k, n := range want {
			if kinds[k] != n {
				t.Errorf("first import created %d %s, want %d", kinds[k], k, n)
			}
		}
		// Parents before children, in the order applied.
		var order []string
		for _, c := range changes {
			if c.Kind == catalog.KindSalesCategory {
				order = append(order, c.Key)
			}
		}
		if len(order) != 6 || order[0] != "infrastructure" || order[1] != "productivity" {
			t.Errorf("sales categories created in order %v", order)
		}

		doc, err := db.ExportCatalog(it.ctx, it.p, it.P.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ format, file string }{{"yaml", "../catalog/demo.yaml"}, {"json", "../catalog/testdata/demo.json"}} {
			want, err := os.ReadFile(f.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := encoded(t, doc, f.format); !bytes.Equal(got, want) {
				t.Errorf("export as %s differs from %s:\n%s", f.format, f.file, got)
			}
		}

		// The same document again, and the export itself: nothing to do,
		// nothing written.
		before := catalogRows(t, db)
		for _, again := range []*catalog.Document{demoDocument(t), doc} {
			changes, err := db.ImportCatalog(it.ctx, it.p, it.P.ID, again, store.ImportOptions{Delete: true})
			if err != nil || len(changes) != 0 {
				t.Fatalf("second import: %+v, %v", changes, err)
			}
		}
		sameRows(t, "second import", before, catalogRows(t, db))
	})
}

func TestCatalogDryRunAndChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		it := ioSetup(t, db)
		ctx := it.ctx
		empty := catalogRows(t, db)
		changes, err := db.ImportCatalog(ctx, it.p, it.P.ID, demoDocument(t), store.ImportOptions{DryRun: true})
		if err != nil || len(changes) != 35 {
			t.Fatalf("dry run into an empty catalog: %d changes, %v", len(changes), err)
		}
		sameRows(t, "dry run", empty, catalogRows(t, db))
		it.importDemo(t)

		// The provider hides a shelf; the display setting is its own and
		// an import neither shows it as a change nor sets it back.
		if _, err := db.SetSalesCategoryDisplayed(ctx, it.p, it.P.ID, "domains", false); err != nil {
			t.Fatal(err)
		}

		// A new price, a plan gone, a new plan category.
		doc := demoDocument(t)
		for i := range doc.Plans {
			if doc.Plans[i].Key == "office-basic" {
				doc.Plans[i].Periods[0].Recurring.Amount = 5_000_000
			}
		}
		doc.Plans = removeKey(doc.Plans, "domain-registration")
		doc.PlanCategories = append(doc.PlanCategories, catalog.PlanCategory{Key: "addons", Name: catalog.Text{"en": "Add-ons"}})

		before := catalogRows(t, db)
		want := []catalog.Change{
			{Action: catalog.Create, Kind: catalog.KindPlanCategory, Key: "addons"},
			{Action: catalog.Update, Kind: catalog.KindPlan, Key: "office-basic", Fields: []catalog.FieldChange{
				{Path: "periods[1m].recurring.amount", Old: `"4.00"`, New: `"5.00"`}}},
			{Action: catalog.Delete, Kind: catalog.KindPlan, Key: "domain-registration"},
		}
		changes, err = db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{DryRun: true, Delete: true})
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, changes, want)
		sameRows(t, "dry run", before, catalogRows(t, db))

		// Without Delete the plan stays and is not reported.
		changes, err = db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, changes, want[:2])
		p, err := db.PlanByKey(ctx, it.p, it.P.ID, "office-basic")
		if err != nil || p.Periods[0].Recurring.Amount != 5_000_000 || p.Version != 2 {
			t.Fatalf("office-basic after the import: %+v, %v", p, err)
		}
		if _, err := db.PlanByKey(ctx, it.p, it.P.ID, "domain-registration"); err != nil {
			t.Fatalf("a plan absent from the document was deleted without Delete: %v", err)
		}
		if after := catalogRows(t, db); after["audit_log"] != before["audit_log"]+2 {
			t.Errorf("audit rows %d → %d, want 2 more", before["audit_log"], after["audit_log"])
		}

		changes, err = db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{Delete: true})
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, changes, want[2:])
		if _, err := db.PlanByKey(ctx, it.p, it.P.ID, "domain-registration"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("deleted plan: %v", err)
		}
		sc, err := db.SalesCategory(ctx, it.p, it.P.ID, "domains")
		if err != nil || sc.Displayed {
			t.Errorf("the import set the display setting back: %+v, %v", sc, err)
		}
	})
}

func removeKey(plans []catalog.Plan, key string) []catalog.Plan {
	var out []catalog.Plan
	for _, p := range plans {
		if p.Key != key {
			out = append(out, p)
		}
	}
	return out
}

func wantChanges(t *testing.T, got, want []catalog.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Action != w.Action || g.Kind != w.Kind || g.Key != w.Key || len(g.Fields) != len(w.Fields) {
			t.Fatalf("change %d: %+v, want %+v", i, g, w)
		}
		for j := range w.Fields {
			if g.Fields[j] != w.Fields[j] {
				t.Errorf("change %d field %d: %+v, want %+v", i, j, g.Fields[j], w.Fields[j])
			}
		}
	}
}

// TestCatalogImportRefusesBadDocuments checks that a bad document is
// refused whole, with every field named by its path, and nothing stored.
func TestCatalogImportRefusesBadDocuments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		it := ioSetup(t, db)
		ctx := it.ctx
		cases := []struct {
			name   string
			change func(d *catalog.Document)
			fields []string
		}{
			{"bad field and unknown resource", func(d *catalog.Document) {
				d.ResourceTypes[0].Class = "weird"
				d.Templates[0].Resources[0].Resource = "nope"
			}, []string{"resource_types[domain].class", "templates[domains].resources[0].resource",
				// The plan sells a resource its template no longer has.
				"plans[domain-registration].rates[0].resource"}},
			{"negative price", func(d *catalog.Document) {
				d.Plans[1].Periods[0].Recurring.Amount = -1
			}, []string{"plans[office-basic].periods[0].recurring.amount"}},
			{"another currency, a rule on an original", func(d *catalog.Document) {
				d.Plans[0].Currency = "EUR"
				d.Plans[2].Rule = &catalog.PriceRule{Kind: catalog.RulePercent, Percent: "10"}
			}, []string{"plans[domain-registration].currency", "plans[office-pro].rule"}},
			{"version", func(d *catalog.Document) { d.Version = 2 }, []string{"version"}},
		}
		before := catalogRows(t, db)
		for _, c := range cases {
			doc := demoDocument(t)
			c.change(doc)
			_, err := db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{})
			t.Run(c.name, func(t *testing.T) { wantFields(t, err, marketplane.EINVALID, c.fields...) })
		}
		sameRows(t, "refused imports", before, catalogRows(t, db))

		// A refusal half-way (a plan with copies cannot be deleted) undoes
		// what came before it in the same import.
		it.importDemo(t)
		src, err := db.PlanByKey(ctx, it.p, it.P.ID, "domain-registration")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delegate(ctx, it.p, src.ID, it.A.ID, delegation.DelegateOptions{}); err != nil {
			t.Fatal(err)
		}
		before = catalogRows(t, db)
		doc := demoDocument(t)
		doc.Plans = removeKey(doc.Plans, "domain-registration")
		doc.PlanCategories = append(doc.PlanCategories, catalog.PlanCategory{Key: "addons", Name: catalog.Text{"en": "Add-ons"}})
		_, err = db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{Delete: true})
		wantCode(t, err, marketplane.ECONFLICT)
		if msg := marketplane.ErrorMessage(err); msg != "delete plan domain-registration: the plan has 1 delegated copies (Reseller A), which resellers sell; it is not deleted while they exist" {
			t.Errorf("message %q", msg)
		}
		sameRows(t, "refused delete", before, catalogRows(t, db))

		// A reseller does not import into the provider's catalog; a
		// customer holds none.
		_, err = db.ImportCatalog(ctx, it.a, it.P.ID, demoDocument(t), store.ImportOptions{DryRun: true})
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.ImportCatalog(ctx, it.p, it.C.ID, &catalog.Document{Version: 1}, store.ImportOptions{})
		wantCode(t, err, marketplane.ECONFLICT)
	})
}

// TestCatalogOfReseller checks a reseller's catalog as code: its copies
// with their rules, categories adopted with them, no resource types; an
// import edits its copies' own fields under the delegation price rules; a
// sibling sees nothing.
func TestCatalogOfReseller(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		it := ioSetup(t, db)
		ctx := it.ctx
		it.importDemo(t)
		src, err := db.PlanByKey(ctx, it.p, it.P.ID, "vps-standard")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delegate(ctx, it.p, src.ID, it.A.ID, delegation.DelegateOptions{
			Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: "20"}, Publish: true}); err != nil {
			t.Fatal(err)
		}

		doc, err := db.ExportCatalog(ctx, it.a, it.A.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Owner != "Reseller A" || len(doc.ResourceTypes) != 0 || len(doc.Templates) != 0 || len(doc.Plans) != 1 ||
			len(doc.PlanCategories) != 1 || len(doc.SalesCategories) != 2 {
			t.Fatalf("reseller's export:\n%s", encoded(t, doc, "yaml"))
		}
		cp := &doc.Plans[0]
		if cp.Key != "vps-standard" || cp.Rule == nil || cp.Rule.Kind != catalog.RulePercent || cp.Rule.Percent != "20" || !cp.Published {
			t.Fatalf("the copy: %+v", cp)
		}
		if _, err := db.ExportCatalog(ctx, it.b, it.A.ID); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("a sibling exports A's catalog: %v", err)
		}
		if _, err := db.ImportCatalog(ctx, it.b, it.A.ID, doc, store.ImportOptions{DryRun: true}); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("a sibling imports into A's catalog: %v", err)
		}
		// The provider above sees it.
		if _, err := db.ExportCatalog(ctx, it.p, it.A.ID); err != nil {
			t.Fatalf("the provider exports A's catalog: %v", err)
		}

		// Re-importing its own export changes nothing.
		changes, err := db.ImportCatalog(ctx, it.a, it.A.ID, doc, store.ImportOptions{Delete: true})
		if err != nil || len(changes) != 0 {
			t.Fatalf("reseller re-import: %+v, %v", changes, err)
		}

		// The copy's own fields: a price and a name.
		cost := src.Periods[0].Recurring.Amount // the provider's price is A's cost
		cp.Periods[0].Recurring.Amount = cost + 5_000_000
		cp.Name["en"] = "Database S"
		changes, err = db.ImportCatalog(ctx, it.a, it.A.ID, doc, store.ImportOptions{})
		if err != nil || len(changes) != 1 || len(changes[0].Fields) != 2 {
			t.Fatalf("edit the copy: %+v, %v", changes, err)
		}
		got, err := db.PlanByKey(ctx, it.a, it.A.ID, "vps-standard")
		if err != nil || got.Periods[0].Recurring.Amount != cost+5_000_000 || got.Name["en"] != "Database S" || got.SourceID != src.ID {
			t.Fatalf("the copy after the import: %+v, %v", got, err)
		}

		// Below cost, a period of its own, resource types: refused.
		bad := demoDocument(t)
		bad.PlanCategories, bad.SalesCategories, bad.Templates = doc.PlanCategories, doc.SalesCategories, nil
		bad.Plans = []catalog.Plan{*cp.Clone()}
		bad.Plans[0].Periods[0].Recurring.Amount = cost - 1_000_000
		bad.Plans[0].Periods = append(bad.Plans[0].Periods, bad.Plans[0].Periods[0])
		bad.Plans[0].Periods[2].Key = "6m"
		_, err = db.ImportCatalog(ctx, it.a, it.A.ID, bad, store.ImportOptions{})
		wantFields(t, err, marketplane.EINVALID, "resource_types", "plans[vps-standard].periods", "plans[vps-standard].periods[2].key")
		bad.ResourceTypes, bad.Plans[0].Periods = nil, bad.Plans[0].Periods[:2]
		_, err = db.ImportCatalog(ctx, it.a, it.A.ID, bad, store.ImportOptions{})
		wantFields(t, err, marketplane.EINVALID, "plans[vps-standard].periods[1m].recurring.amount")

		// A plan of its own, made of the provider's template.
		own := *src.Clone()
		own.Key, own.UpgradeTo, own.DowngradeTo, own.ID, own.OwnerID, own.SourceID = "vps-dev", nil, nil, 0, 0, 0
		doc.Plans = append(doc.Plans, own)
		changes, err = db.ImportCatalog(ctx, it.a, it.A.ID, doc, store.ImportOptions{})
		if err != nil || len(changes) != 1 || changes[0].Action != catalog.Create || changes[0].Key != "vps-dev" {
			t.Fatalf("reseller's own plan: %+v, %v", changes, err)
		}
	})
}

// TestCatalogImportEveryKind updates and deletes objects of every kind by
// import, deletes in the order that leaves nothing dangling.
func TestCatalogImportEveryKind(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		it := ioSetup(t, db)
		ctx := it.ctx
		it.importDemo(t)
		doc := demoDocument(t)
		doc.ResourceTypes[2].Name["de"] = "E-Mail-Postfach" // mailbox
		doc.Templates[1].Connector = "office365"            // office
		doc.PlanCategories[2].UniqueGroup = true            // servers
		doc.SalesCategories[4].Position = 4                 // domains
		before := catalogRows(t, db)
		changes, err := db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, changes, []catalog.Change{
			{Action: catalog.Update, Kind: catalog.KindResourceType, Key: "mailbox", Fields: []catalog.FieldChange{{Path: "name.de", Old: `"Postfach"`, New: `"E-Mail-Postfach"`}}},
			{Action: catalog.Update, Kind: catalog.KindTemplate, Key: "office", Fields: []catalog.FieldChange{{Path: "connector", Old: `"office"`, New: `"office365"`}}},
			{Action: catalog.Update, Kind: catalog.KindPlanCategory, Key: "servers", Fields: []catalog.FieldChange{{Path: "unique_group", Old: "", New: "true"}}},
			{Action: catalog.Update, Kind: catalog.KindSalesCategory, Key: "domains", Fields: []catalog.FieldChange{{Path: "position", Old: "3", New: "4"}}},
		})
		if after := catalogRows(t, db); after["audit_log"] != before["audit_log"]+4 {
			t.Errorf("audit rows %d → %d, want 4 more", before["audit_log"], after["audit_log"])
		}
		rt, err := db.ResourceType(ctx, it.p, "mailbox")
		if err != nil || rt.Name["de"] != "E-Mail-Postfach" || rt.Version != 2 {
			t.Errorf("mailbox: %+v, %v", rt, err)
		}

		// Domains leave the catalog: the plan first, the resource types
		// it was made of last.
		doc.Plans = removeKey(doc.Plans, "domain-registration")
		doc.SalesCategories = slices.DeleteFunc(doc.SalesCategories, func(c catalog.SalesCategory) bool { return c.Key == "domains" })
		doc.Templates = slices.DeleteFunc(doc.Templates, func(x catalog.Template) bool { return x.Key == "domains" })
		doc.ResourceTypes = slices.DeleteFunc(doc.ResourceTypes, func(x catalog.ResourceType) bool { return strings.HasPrefix(x.Key, "domain") })
		changes, err = db.ImportCatalog(ctx, it.p, it.P.ID, doc, store.ImportOptions{Delete: true})
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, changes, []catalog.Change{
			{Action: catalog.Delete, Kind: catalog.KindPlan, Key: "domain-registration"},
			{Action: catalog.Delete, Kind: catalog.KindSalesCategory, Key: "domains"},
			{Action: catalog.Delete, Kind: catalog.KindTemplate, Key: "domains"},
			{Action: catalog.Delete, Kind: catalog.KindResourceType, Key: "domain-privacy"},
			{Action: catalog.Delete, Kind: catalog.KindResourceType, Key: "domain"},
		})
		got, err := db.ExportCatalog(ctx, it.p, it.P.ID)
		if err != nil {
			t.Fatal(err)
		}
		if changes := catalog.Diff(got, doc); len(changes) != 0 {
			t.Errorf("the catalog is not the document: %+v", changes)
		}
	})
}
