package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

// catTree is the tree of setup with a small catalog and an administrator
// (catalog "manage") in each account:
//
//	P (provider): resource types mailbox, storage, sso; template "office"
//	├── A (L1) ── A1 (L2) ── C (customer)
//	└── B (L1)
type catTree struct {
	*tree
	p, a, b, a1, c *account.Actor
}

func catSetup(t *testing.T, db *store.DB) *catTree {
	t.Helper()
	ct := &catTree{tree: setup(t, db)}
	_, ct.p = ct.user(t, ct.P, "admin-p", ct.admin)
	_, ct.a = ct.user(t, ct.A, "admin-a", ct.admin)
	_, ct.b = ct.user(t, ct.B, "admin-b", ct.admin)
	_, ct.a1 = ct.user(t, ct.A1, "admin-a1", ct.admin)
	_, ct.c = ct.user(t, ct.C, "admin-c", ct.admin)
	for _, rt := range []catalog.ResourceType{
		{Key: "mailbox", Name: catalog.Text{"en": "Mailbox", "de": "Postfach"}, Unit: "mailbox", Class: catalog.ClassLimit},
		{Key: "storage", Name: catalog.Text{"en": "Storage"}, Unit: "GB", Class: catalog.ClassLimit},
		{Key: "sso", Name: catalog.Text{"en": "Single sign-on"}, Unit: "tenant", Class: catalog.ClassBoolean},
	} {
		if err := db.CreateResourceType(ct.ctx, ct.p, &store.ResourceType{ResourceType: rt}); err != nil {
			t.Fatalf("resource type %s: %v", rt.Key, err)
		}
	}
	tpl := &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"}, Connector: "office365",
		Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}, {Resource: "storage", Limit: catalog.Unlimited}}}}
	if err := db.CreateTemplate(ct.ctx, ct.p, tpl); err != nil {
		t.Fatalf("template: %v", err)
	}
	return ct
}

// officePlan is a valid original plan of owner: one monthly period and a
// mailbox rate, in USD.
func officePlan(owner int64, key string) *catalog.Plan {
	return &catalog.Plan{
		OwnerID: owner, Key: key, Template: "office", Currency: "USD",
		Name: catalog.Text{"en": "Office " + key}, Billing: catalog.ChargeInAdvance,
		Periods: []catalog.Period{{
			Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
			Setup: catalog.Price{Amount: 5_000_000}, Recurring: catalog.Price{Amount: 10_000_000, MaxRetail: 20_000_000},
			Refund: catalog.Refund{FullDays: 14, After: catalog.RefundProrated}, RecurringPer: catalog.PerPeriod, Sort: 1,
		}},
		Rates: []catalog.Rate{{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100,
			Recurring: catalog.Price{Amount: 2_500_000}, Display: catalog.Spinner, Sort: 1}},
	}
}

// copyOf is what delegation.Delegate would hand the store: p for owner,
// linked to p, with a copy rule.
func copyOf(p *catalog.Plan, owner int64) *catalog.Plan {
	c := p.Clone()
	c.ID, c.OwnerID, c.SourceID, c.Version = 0, owner, p.ID, 0
	c.Rule = &catalog.PriceRule{Kind: catalog.RuleCopy}
	c.Published = false
	return c
}

// same compares two plans by their JSON form and the store's fields.
func same(t *testing.T, got, want *catalog.Plan) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("plan differs:\n got %s\nwant %s", g, w)
	}
	if got.ID != want.ID || got.OwnerID != want.OwnerID || got.SourceID != want.SourceID || got.Version != want.Version ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("plan %d: ids, version or times differ: got %d/%d/%d v%d %v %v, want %d/%d/%d v%d %v %v", want.ID,
			got.ID, got.OwnerID, got.SourceID, got.Version, got.CreatedAt, got.UpdatedAt,
			want.ID, want.OwnerID, want.SourceID, want.Version, want.CreatedAt, want.UpdatedAt)
	}
}

// wantFields checks that err is EINVALID (or code) naming exactly fields.
func wantFields(t *testing.T, err error, code string, fields ...string) {
	t.Helper()
	wantCode(t, err, code)
	var e *marketplane.Error
	errors.As(err, &e)
	var got []string
	for k := range e.Fields {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("fields %v (%v), want %v", got, err, fields)
	}
}

func TestResourceTypesAndTemplates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx

		// Everyone signed in reads them, resellers and customers too.
		for _, who := range []*account.Actor{ct.p, ct.a, ct.a1, ct.c} {
			list, err := db.ResourceTypes(ctx, who)
			if err != nil || len(list) != 3 || list[0].Key != "mailbox" || list[1].Key != "sso" {
				t.Fatalf("resource types as %d: %v %v", who.AccountID, list, err)
			}
			rt, err := db.ResourceType(ctx, who, "mailbox")
			if err != nil || rt.Name["de"] != "Postfach" || rt.Class != catalog.ClassLimit || rt.Version != 1 || rt.CreatedAt.IsZero() {
				t.Fatalf("mailbox: %+v %v", rt, err)
			}
			tpls, err := db.Templates(ctx, who)
			if err != nil || len(tpls) != 1 || len(tpls[0].Resources) != 2 || tpls[0].Connector != "office365" {
				t.Fatalf("templates: %+v %v", tpls, err)
			}
		}
		_, err := db.ResourceType(ctx, ct.a, "nope")
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.ResourceTypes(ctx, nil)
		wantCode(t, err, marketplane.EUNAUTHORIZED)

		// Only the provider writes them.
		vcpu := func() *store.ResourceType {
			return &store.ResourceType{ResourceType: catalog.ResourceType{Key: "vcpu", Name: catalog.Text{"en": "vCPU"}, Unit: "vCPU-hour", Class: catalog.ClassCounter}}
		}
		for _, who := range []*account.Actor{ct.a, ct.c} {
			wantCode(t, db.CreateResourceType(ctx, who, vcpu()), marketplane.EFORBIDDEN)
			wantCode(t, db.CreateTemplate(ctx, who, &store.Template{Template: catalog.Template{Key: "vps", Name: catalog.Text{"en": "VPS"}}}), marketplane.EFORBIDDEN)
		}
		_, support := ct.user(t, ct.P, "support-p", ct.support)
		wantCode(t, db.CreateResourceType(ctx, support, vcpu()), marketplane.EFORBIDDEN)

		// Bad input: field errors, nothing stored.
		before := count(t, db, "resource_types")
		for _, c := range []struct {
			rt     catalog.ResourceType
			fields []string
		}{
			{catalog.ResourceType{Key: "Bad Key", Name: catalog.Text{"en": "x"}, Unit: "u", Class: catalog.ClassLimit}, []string{"key"}},
			{catalog.ResourceType{Key: "x", Unit: "u", Class: catalog.ClassLimit}, []string{"name"}},
			{catalog.ResourceType{Key: "x", Name: catalog.Text{"not a tag!": "x"}, Unit: "u", Class: catalog.ClassLimit}, []string{"name"}},
			{catalog.ResourceType{Key: "x", Name: catalog.Text{"en": "x"}, Class: catalog.ClassLimit}, []string{"unit"}},
			{catalog.ResourceType{Key: "x", Name: catalog.Text{"en": "x"}, Unit: "u", Class: "meter"}, []string{"class"}},
			{catalog.ResourceType{}, []string{"key", "name", "unit", "class"}},
		} {
			wantFields(t, db.CreateResourceType(ctx, ct.p, &store.ResourceType{ResourceType: c.rt}), marketplane.EINVALID, c.fields...)
		}
		dup := vcpu()
		dup.Key = "mailbox"
		wantFields(t, db.CreateResourceType(ctx, ct.p, dup), marketplane.ECONFLICT, "key")
		if count(t, db, "resource_types") != before {
			t.Fatal("refused creates left rows")
		}

		// Update with the version read; a stale version loses.
		rt, _ := db.ResourceType(ctx, ct.p, "storage")
		rt.Name["de"] = "Speicher"
		if err := db.UpdateResourceType(ctx, ct.p, rt); err != nil {
			t.Fatal(err)
		}
		if rt.Version != 2 {
			t.Errorf("version %d after update", rt.Version)
		}
		stale, _ := db.ResourceType(ctx, ct.p, "storage")
		stale.Version = 1
		stale.Unit = "TB"
		wantCode(t, db.UpdateResourceType(ctx, ct.p, stale), marketplane.EPRECONDITION)
		wantCode(t, db.UpdateResourceType(ctx, ct.a, rt), marketplane.EFORBIDDEN)
		missing := vcpu()
		wantCode(t, db.UpdateResourceType(ctx, ct.p, missing), marketplane.ENOTFOUND)
		got, _ := db.ResourceType(ctx, ct.a, "storage")
		if got.Name["de"] != "Speicher" || got.Unit != "GB" || got.Version != 2 || !got.UpdatedAt.Equal(rt.UpdatedAt) {
			t.Errorf("storage after updates: %+v", got)
		}

		// Templates: resources must exist, once each.
		bad := &store.Template{Template: catalog.Template{Key: "vps", Name: catalog.Text{"en": "VPS"},
			Resources: []catalog.TemplateResource{{Resource: "vcpu", Limit: 1}, {Resource: "mailbox", Limit: -2}, {Resource: "mailbox", Limit: 1}}}}
		wantFields(t, db.CreateTemplate(ctx, ct.p, bad), marketplane.EINVALID,
			"resources[0].resource", "resources[1].limit", "resources[2].resource")
		wantFields(t, db.CreateTemplate(ctx, ct.p, &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Again"}}}),
			marketplane.ECONFLICT, "key")
		if n := count(t, db, "templates"); n != 1 {
			t.Fatalf("%d templates", n)
		}
		tpl, _ := db.Template(ctx, ct.a, "office")
		tpl.Resources = append(tpl.Resources, catalog.TemplateResource{Resource: "sso", Limit: 1})
		if err := db.UpdateTemplate(ctx, ct.p, tpl); err != nil {
			t.Fatal(err)
		}
		tpl.Version = 1
		wantCode(t, db.UpdateTemplate(ctx, ct.p, tpl), marketplane.EPRECONDITION)
		got2, _ := db.Template(ctx, ct.c, "office")
		if len(got2.Resources) != 3 || got2.Version != 2 {
			t.Errorf("template after update: %+v", got2)
		}

		// Every change is in the provider's audit log.
		entries, err := db.AuditLog(ctx, ct.sys, store.AuditFilter{AccountID: ct.P.ID, Entity: "resource_type"})
		if err != nil || len(entries) != 4 || entries[0].Action != "resource_type.update" {
			t.Errorf("audit: %d entries, %v", len(entries), err)
		}
	})
}

func TestCategories(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		pc := func(owner int64, key string) *store.PlanCategory {
			return &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: owner, Key: key, Name: catalog.Text{"en": key}, UniqueGroup: true}}
		}
		provOffice := pc(ct.P.ID, "office")
		if err := db.CreatePlanCategory(ctx, ct.p, provOffice); err != nil {
			t.Fatal(err)
		}
		// A reseller manages its own categories, copied from its parent's
		// or its own.
		aOffice := pc(ct.A.ID, "office")
		aOffice.SourceID = provOffice.ID
		if err := db.CreatePlanCategory(ctx, ct.a, aOffice); err != nil {
			t.Fatal(err)
		}
		if err := db.CreatePlanCategory(ctx, ct.a, pc(ct.A.ID, "mail")); err != nil {
			t.Fatal(err)
		}
		// A source must be the parent's.
		bad := pc(ct.A1.ID, "office")
		bad.SourceID = provOffice.ID
		wantFields(t, db.CreatePlanCategory(ctx, ct.a1, bad), marketplane.EINVALID, "source_id")
		bad.SourceID = 0
		bad.Key, bad.Name = "", nil
		wantFields(t, db.CreatePlanCategory(ctx, ct.a1, bad), marketplane.EINVALID, "key", "name")
		wantFields(t, db.CreatePlanCategory(ctx, ct.a, pc(ct.A.ID, "mail")), marketplane.ECONFLICT, "key")
		// Siblings, children and customers do not reach A's catalog.
		wantCode(t, db.CreatePlanCategory(ctx, ct.b, pc(ct.A.ID, "x")), marketplane.ENOTFOUND)
		wantCode(t, db.CreatePlanCategory(ctx, ct.a1, pc(ct.A.ID, "x")), marketplane.ENOTFOUND)
		// Customers hold no catalog.
		wantCode(t, db.CreatePlanCategory(ctx, ct.a, pc(ct.C.ID, "x")), marketplane.ECONFLICT)
		if n := count(t, db, "plan_categories"); n != 3 {
			t.Fatalf("%d plan categories", n)
		}

		list, err := db.PlanCategories(ctx, ct.p, ct.A.ID) // the parent sees its child's
		if err != nil || len(list) != 2 || list[0].Key != "mail" || list[1].SourceID != provOffice.ID || !list[1].UniqueGroup {
			t.Fatalf("A's plan categories: %+v %v", list, err)
		}
		_, err = db.PlanCategories(ctx, ct.b, ct.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)

		got, _ := db.PlanCategory(ctx, ct.a, ct.A.ID, "office")
		got.Name = catalog.Text{"en": "Office suites"}
		got.UniqueGroup = false
		got.SourceID = 0 // ignored: the link stays
		if err := db.UpdatePlanCategory(ctx, ct.a, got); err != nil {
			t.Fatal(err)
		}
		got.Version = 1
		wantCode(t, db.UpdatePlanCategory(ctx, ct.a, got), marketplane.EPRECONDITION)
		wantCode(t, db.UpdatePlanCategory(ctx, ct.b, got), marketplane.ENOTFOUND)
		again, _ := db.PlanCategory(ctx, ct.a, ct.A.ID, "office")
		if again.Name["en"] != "Office suites" || again.UniqueGroup || again.SourceID != provOffice.ID || again.Version != 2 {
			t.Errorf("after update: %+v", again)
		}

		// Sales categories: a tree per seller.
		sc := func(key, parent string, pos int, holds catalog.Holds) *store.SalesCategory {
			return &store.SalesCategory{SalesCategory: catalog.SalesCategory{OwnerID: ct.A.ID, Key: key, Parent: parent,
				Name: catalog.Text{"en": key}, Position: pos, Holds: holds, Displayed: true}}
		}
		for _, c := range []*store.SalesCategory{
			sc("software", "", 2, catalog.HoldsCategories),
			sc("hosting", "", 1, catalog.HoldsCategories),
			sc("office", "software", 2, catalog.HoldsPlans),
			sc("security", "software", 1, catalog.HoldsPlans),
			sc("vps", "hosting", 1, catalog.HoldsPlans),
		} {
			if err := db.CreateSalesCategory(ctx, ct.a, c); err != nil {
				t.Fatalf("%s: %v", c.Key, err)
			}
		}
		wantFields(t, db.CreateSalesCategory(ctx, ct.a, sc("x", "office", 1, catalog.HoldsPlans)), marketplane.EINVALID, "parent")
		wantFields(t, db.CreateSalesCategory(ctx, ct.a, sc("x", "nope", 1, catalog.HoldsPlans)), marketplane.EINVALID, "parent")
		wantFields(t, db.CreateSalesCategory(ctx, ct.a, sc("x", "", 1, "things")), marketplane.EINVALID, "holds")
		wantFields(t, db.CreateSalesCategory(ctx, ct.a, sc("vps", "", 1, catalog.HoldsPlans)), marketplane.ECONFLICT, "key")
		wantCode(t, db.CreateSalesCategory(ctx, ct.b, sc("x", "", 1, catalog.HoldsPlans)), marketplane.ENOTFOUND)
		shelves, err := db.SalesCategories(ctx, ct.a, ct.A.ID)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, c := range shelves {
			order = append(order, c.Key)
		}
		if strings.Join(order, ",") != "hosting,vps,software,security,office" {
			t.Errorf("tree order %v", order)
		}

		// Moving a category below its own sub-category is a cycle.
		soft, _ := db.SalesCategory(ctx, ct.a, ct.A.ID, "software")
		soft.Parent = "hosting"
		soft.Holds = catalog.HoldsCategories
		if err := db.UpdateSalesCategory(ctx, ct.a, soft); err != nil {
			t.Fatalf("move software below hosting: %v", err)
		}
		host, _ := db.SalesCategory(ctx, ct.a, ct.A.ID, "hosting")
		host.Parent = "software"
		wantFields(t, db.UpdateSalesCategory(ctx, ct.a, host), marketplane.EINVALID, "parent")
		// A category with sub-categories keeps holding categories.
		host.Parent = ""
		host.Holds = catalog.HoldsPlans
		wantFields(t, db.UpdateSalesCategory(ctx, ct.a, host), marketplane.EINVALID, "holds")

		// Display is the owner's own setting: updates keep it.
		vps, err := db.SetSalesCategoryDisplayed(ctx, ct.a, ct.A.ID, "vps", false)
		if err != nil || vps.Displayed || vps.Version != 2 {
			t.Fatalf("hide vps: %+v %v", vps, err)
		}
		vps.Displayed = true
		vps.Name = catalog.Text{"en": "Virtual servers"}
		if err := db.UpdateSalesCategory(ctx, ct.a, vps); err != nil {
			t.Fatal(err)
		}
		vps, _ = db.SalesCategory(ctx, ct.p, ct.A.ID, "vps")
		if vps.Displayed || vps.Name["en"] != "Virtual servers" || vps.Version != 3 {
			t.Errorf("vps after update: %+v", vps)
		}
		_, err = db.SetSalesCategoryDisplayed(ctx, ct.b, ct.A.ID, "vps", true)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.SetSalesCategoryDisplayed(ctx, ct.a, ct.A.ID, "nope", true)
		wantCode(t, err, marketplane.ENOTFOUND)

		// A shelf with plans on it keeps holding plans.
		p := officePlan(ct.A.ID, "office-a")
		p.SalesCategories = []string{"vps"}
		if err := db.CreatePlan(ctx, ct.a, p); err != nil {
			t.Fatal(err)
		}
		vps.Holds = catalog.HoldsCategories
		wantFields(t, db.UpdateSalesCategory(ctx, ct.a, vps), marketplane.EINVALID, "holds")
	})
}

func TestPlanCreateReadUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		if err := db.CreatePlanCategory(ctx, ct.p, &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: ct.P.ID, Key: "office", Name: catalog.Text{"en": "Office"}}}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"shelf", "top"} {
			holds := catalog.HoldsPlans
			if k == "top" {
				holds = catalog.HoldsCategories
			}
			if err := db.CreateSalesCategory(ctx, ct.p, &store.SalesCategory{SalesCategory: catalog.SalesCategory{OwnerID: ct.P.ID, Key: k,
				Name: catalog.Text{"en": k}, Holds: holds, Displayed: true}}); err != nil {
				t.Fatal(err)
			}
		}

		basic := officePlan(ct.P.ID, "basic")
		basic.Published = true
		if err := db.CreatePlan(ctx, ct.p, basic); err != nil {
			t.Fatal(err)
		}
		p := officePlan(ct.P.ID, "premium")
		p.Description = catalog.Text{"en": "All of it", "de": "Alles"}
		p.PlanCategory, p.SalesCategories = "office", []string{"shelf"}
		p.DowngradeTo = []string{"basic"}
		p.Periods = append(p.Periods, catalog.Period{Key: "1y", Duration: catalog.Duration{N: 1, Unit: catalog.Year},
			Recurring: catalog.Price{Amount: 100_000_000}, Refund: catalog.Refund{FullDays: 30, After: catalog.RefundNone, NonRefundable: 1_000_000},
			RecurringPer: catalog.PerMonth, Sort: 2, Descriptions: catalog.FeeTexts{Recurring: catalog.Text{"en": "per month, billed yearly"}}})
		p.Rates = append(p.Rates, catalog.Rate{Key: "bundle", Parts: []catalog.Part{{Resource: "mailbox", Units: 1}, {Resource: "storage", Units: 50}},
			Name: catalog.Text{"en": "Mailbox with 50 GB"}, Included: 0, Min: 0, Max: catalog.Unlimited,
			Recurring: catalog.Price{Amount: 4_000_000}, Display: catalog.Slider, Sort: 2, Periods: []string{"1y"}})
		if err := db.CreatePlan(ctx, ct.p, p); err != nil {
			t.Fatal(err)
		}
		if p.ID == 0 || p.Version != 1 || p.CreatedAt.IsZero() {
			t.Fatalf("created %+v", p)
		}
		got, err := db.Plan(ctx, ct.p, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, p)
		byKey, err := db.PlanByKey(ctx, ct.p, ct.P.ID, "premium")
		if err != nil {
			t.Fatal(err)
		}
		same(t, byKey, p)

		// Every bad input is a field error and stores nothing.
		before := count(t, db, "plans")
		for _, c := range []struct {
			name   string
			edit   func(p *catalog.Plan)
			code   string
			fields []string
		}{
			{"currency of another account", func(p *catalog.Plan) { p.Currency = "EUR" }, marketplane.EINVALID, []string{"currency"}},
			{"key taken", func(p *catalog.Plan) { p.Key = "basic" }, marketplane.ECONFLICT, []string{"key"}},
			{"bad key", func(p *catalog.Plan) { p.Key = "Basic Plan" }, marketplane.EINVALID, []string{"key"}},
			{"no name", func(p *catalog.Plan) { p.Name = nil }, marketplane.EINVALID, []string{"name"}},
			{"unknown template", func(p *catalog.Plan) { p.Template = "vps" }, marketplane.EINVALID, []string{"template"}},
			{"billing", func(p *catalog.Plan) { p.Billing = "monthly" }, marketplane.EINVALID, []string{"billing"}},
			{"unknown plan category", func(p *catalog.Plan) { p.PlanCategory = "nope" }, marketplane.EINVALID, []string{"plan_category"}},
			{"unknown sales category", func(p *catalog.Plan) { p.SalesCategories = []string{"nope"} }, marketplane.EINVALID, []string{"sales_categories[0]"}},
			{"shelf of categories", func(p *catalog.Plan) { p.SalesCategories = []string{"shelf", "top"} }, marketplane.EINVALID, []string{"sales_categories[1]"}},
			{"unknown upgrade", func(p *catalog.Plan) { p.UpgradeTo = []string{"ultimate"} }, marketplane.EINVALID, []string{"upgrade_to[0]"}},
			{"no periods", func(p *catalog.Plan) { p.Periods = nil }, marketplane.EINVALID, []string{"periods"}},
			{"negative fee", func(p *catalog.Plan) { p.Periods[0].Setup.Amount = -1 }, marketplane.EINVALID, []string{"periods[0].setup.amount"}},
			{"above its cap", func(p *catalog.Plan) { p.Periods[0].Recurring.Amount = 30_000_000 }, marketplane.EINVALID, []string{"periods[0].recurring.amount"}},
			{"paid trial", func(p *catalog.Plan) {
				p.Periods = append(p.Periods, catalog.Period{Key: "1y", Duration: catalog.Duration{N: 1, Unit: catalog.Year},
					Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod})
				p.Periods[0].Trial = true
			}, marketplane.EINVALID, []string{"periods[0].trial"}},
			{"refund policy", func(p *catalog.Plan) { p.Periods[0].Refund.After = "" }, marketplane.EINVALID, []string{"periods[0].refund.after"}},
			{"days per month", func(p *catalog.Plan) {
				p.Periods[0].Duration = catalog.Duration{N: 14, Unit: catalog.Day}
				p.Periods[0].RecurringPer = catalog.PerMonth
			}, marketplane.EINVALID, []string{"periods[0].recurring_per"}},
			{"unknown resource", func(p *catalog.Plan) { p.Rates[0].Resource, p.Rates[0].Key = "vcpu", "vcpu" }, marketplane.EINVALID, []string{"rates[0].resource"}},
			{"included below unlimited", func(p *catalog.Plan) { p.Rates[0].Included = -2 }, marketplane.EINVALID, []string{"rates[0].included"}},
			{"max below included", func(p *catalog.Plan) { p.Rates[0].Max = 2 }, marketplane.EINVALID, []string{"rates[0].max"}},
			{"rate period", func(p *catalog.Plan) { p.Rates[0].Periods = []string{"2y"} }, marketplane.EINVALID, []string{"rates[0].periods[0]"}},
			{"display", func(p *catalog.Plan) { p.Rates[0].Display = "knob" }, marketplane.EINVALID, []string{"rates[0].display"}},
			{"a source", func(p *catalog.Plan) { p.SourceID = basic.ID }, marketplane.EINVALID, []string{"source_id"}},
			{"a price rule", func(p *catalog.Plan) { p.Rule = &catalog.PriceRule{Kind: catalog.RuleCopy} }, marketplane.EINVALID, []string{"rule"}},
			{"unpriced original", func(p *catalog.Plan) { p.Periods[0].Unpriced = true }, marketplane.EINVALID, []string{"periods[0].unpriced"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				bad := officePlan(ct.P.ID, "bad")
				c.edit(bad)
				wantFields(t, db.CreatePlan(ctx, ct.p, bad), c.code, c.fields...)
			})
		}
		if count(t, db, "plans") != before {
			t.Fatal("refused creates left rows")
		}

		// Update: the version read, and the same rules.
		up, _ := db.Plan(ctx, ct.p, p.ID)
		up.Periods[0].Recurring.Amount = 12_000_000
		up.Published = true
		up.Key = "premium-2026"
		if err := db.UpdatePlan(ctx, ct.p, up, nil); err != nil {
			t.Fatal(err)
		}
		if up.Version != 2 {
			t.Errorf("version %d", up.Version)
		}
		got, _ = db.Plan(ctx, ct.p, p.ID)
		same(t, got, up)
		stale, _ := db.Plan(ctx, ct.p, p.ID)
		stale.Version = 1
		wantCode(t, db.UpdatePlan(ctx, ct.p, stale, nil), marketplane.EPRECONDITION)
		clash, _ := db.Plan(ctx, ct.p, p.ID)
		clash.Key, clash.DowngradeTo = "basic", nil
		wantFields(t, db.UpdatePlan(ctx, ct.p, clash, nil), marketplane.ECONFLICT, "key")
		clash.Key, clash.Currency = "premium-2026", "EUR"
		wantFields(t, db.UpdatePlan(ctx, ct.p, clash, nil), marketplane.EINVALID, "currency")
		ghost := officePlan(ct.P.ID, "ghost")
		ghost.ID = 987654
		wantCode(t, db.UpdatePlan(ctx, ct.p, ghost, nil), marketplane.ENOTFOUND)
		got, _ = db.Plan(ctx, ct.p, p.ID)
		same(t, got, up)

		// Lists: key order, filters, pages.
		for i := range 5 {
			q := officePlan(ct.P.ID, fmt.Sprintf("extra-%d", i))
			q.Published = i%2 == 0
			if i == 4 {
				q.Template, q.Rates = "office", nil
				q.PlanCategory = "office"
			}
			if err := db.CreatePlan(ctx, ct.p, q); err != nil {
				t.Fatal(err)
			}
		}
		keys := func(f store.PlanFilter) string {
			t.Helper()
			list, err := db.ListPlans(ctx, ct.p, ct.P.ID, f)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range list {
				s = append(s, p.Key)
			}
			return strings.Join(s, ",")
		}
		yes, no := true, false
		for _, c := range []struct {
			f    store.PlanFilter
			want string
		}{
			{store.PlanFilter{}, "basic,extra-0,extra-1,extra-2,extra-3,extra-4,premium-2026"},
			{store.PlanFilter{Published: &yes}, "basic,extra-0,extra-2,extra-4,premium-2026"},
			{store.PlanFilter{Published: &no}, "extra-1,extra-3"},
			{store.PlanFilter{PlanCategory: "office"}, "extra-4,premium-2026"},
			{store.PlanFilter{SalesCategory: "shelf"}, "premium-2026"},
			{store.PlanFilter{Template: "office", Published: &no, After: "extra-1"}, "extra-3"},
			{store.PlanFilter{After: "extra-2", Limit: 2}, "extra-3,extra-4"},
			{store.PlanFilter{Template: "vps"}, ""},
		} {
			if got := keys(c.f); got != c.want {
				t.Errorf("filter %+v: %s, want %s", c.f, got, c.want)
			}
		}

		// Every change is audited on the owner.
		entries, _ := db.AuditLog(ctx, ct.sys, store.AuditFilter{AccountID: ct.P.ID, Entity: "plan"})
		if len(entries) != 8 || entries[len(entries)-1].Action != "plan.create" {
			t.Errorf("%d plan audit entries", len(entries))
		}
	})
}

func TestPlanAuthorization(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		// A reseller manages its own plans.
		own := officePlan(ct.A1.ID, "a1-own")
		own.Published = true
		if err := db.CreatePlan(ctx, ct.a1, own); err != nil {
			t.Fatal(err)
		}
		draft := officePlan(ct.A1.ID, "a1-draft")
		if err := db.CreatePlan(ctx, ct.a1, draft); err != nil {
			t.Fatal(err)
		}
		aPlan := officePlan(ct.A.ID, "a-own")
		aPlan.Published = true
		if err := db.CreatePlan(ctx, ct.a, aPlan); err != nil {
			t.Fatal(err)
		}
		// Above it, P and A see it; a sibling, a child and a customer do not.
		for _, who := range []*account.Actor{ct.p, ct.a, ct.a1} {
			if _, err := db.Plan(ctx, who, own.ID); err != nil {
				t.Errorf("account %d reads A1's plan: %v", who.AccountID, err)
			}
		}
		for _, who := range []*account.Actor{ct.b, ct.c} {
			_, err := db.Plan(ctx, who, own.ID)
			wantCode(t, err, marketplane.ENOTFOUND)
			_, err = db.ListPlans(ctx, who, ct.A1.ID, store.PlanFilter{})
			wantCode(t, err, marketplane.ENOTFOUND)
			up := own.Clone()
			wantCode(t, db.UpdatePlan(ctx, who, up, nil), marketplane.ENOTFOUND)
			wantCode(t, db.DeletePlan(ctx, who, own.ID), marketplane.ENOTFOUND)
			wantCode(t, db.CreatePlan(ctx, who, officePlan(ct.A1.ID, "intruder")), marketplane.ENOTFOUND)
		}
		_, err := db.Plan(ctx, ct.a1, aPlan.ID) // its parent's plan
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.Plan(ctx, ct.b, 987654)
		wantCode(t, err, marketplane.ENOTFOUND)
		// The same message for another's plan and a missing one.
		_, e1 := db.Plan(ctx, ct.b, own.ID)
		_, e2 := db.Plan(ctx, ct.b, 987654)
		if e1.Error() != e2.Error() {
			t.Errorf("%v vs %v", e1, e2)
		}
		// Read-only staff read but do not write.
		_, support := ct.user(t, ct.A1, "support-a1", ct.support)
		if _, err := db.Plan(ctx, support, own.ID); err != nil {
			t.Fatal(err)
		}
		up, _ := db.Plan(ctx, support, own.ID)
		wantCode(t, db.UpdatePlan(ctx, support, up, nil), marketplane.EFORBIDDEN)
		wantCode(t, db.CreatePlan(ctx, support, officePlan(ct.A1.ID, "x")), marketplane.EFORBIDDEN)
		// A customer holds no catalog.
		wantCode(t, db.CreatePlan(ctx, ct.a1, officePlan(ct.C.ID, "x")), marketplane.ECONFLICT)

		// A customer sees what its vendor has on sale, nothing else.
		forSale := func(who *account.Actor, vendor int64) (string, error) {
			list, err := db.PlansForSale(ctx, who, vendor, store.PlanFilter{})
			var s []string
			for _, p := range list {
				s = append(s, p.Key)
			}
			return strings.Join(s, ","), err
		}
		for _, who := range []*account.Actor{ct.c, ct.a1, ct.a} {
			got, err := forSale(who, ct.A1.ID)
			if err != nil || got != "a1-own" {
				t.Errorf("account %d: for sale at A1: %q %v", who.AccountID, got, err)
			}
		}
		for _, c := range []struct {
			who    *account.Actor
			vendor int64
		}{{ct.c, ct.A.ID}, {ct.c, ct.P.ID}, {ct.b, ct.A1.ID}, {ct.a1, ct.A.ID}, {ct.c, 987654}} {
			_, err := forSale(c.who, c.vendor)
			wantCode(t, err, marketplane.ENOTFOUND)
		}
		if p, err := db.PlanForSale(ctx, ct.c, own.ID); err != nil || p.Key != "a1-own" {
			t.Errorf("plan for sale: %v %v", p, err)
		}
		_, err = db.PlanForSale(ctx, ct.c, draft.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.PlanForSale(ctx, ct.c, aPlan.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		// Only the vendor's direct customers: a reseller below is not one.
		_, err = forSale(ct.a1, ct.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
	})
}

// copyTree adds to catTree a provider plan delegated to A and, from A's
// copy, to A1.
type copyTree struct {
	*catTree
	src, copyA, copyA1 *catalog.Plan
}

func copySetup(t *testing.T, db *store.DB) *copyTree {
	t.Helper()
	ct := &copyTree{catTree: catSetup(t, db)}
	ct.src = officePlan(ct.P.ID, "office-std")
	ct.src.Published = true
	if err := db.CreatePlan(ct.ctx, ct.p, ct.src); err != nil {
		t.Fatal(err)
	}
	ct.copyA = copyOf(ct.src, ct.A.ID)
	if err := db.InsertCopy(ct.ctx, ct.p, ct.copyA, delegation.CheckPrices); err != nil {
		t.Fatalf("copy to A: %v", err)
	}
	ct.copyA1 = copyOf(ct.copyA, ct.A1.ID)
	if err := db.InsertCopy(ct.ctx, ct.a, ct.copyA1, delegation.CheckPrices); err != nil {
		t.Fatalf("copy to A1: %v", err)
	}
	return ct
}

func TestInsertCopy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := copySetup(t, db)
		ctx := ct.ctx
		got, err := db.Plan(ctx, ct.a, ct.copyA.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, ct.copyA)
		if got.SourceID != ct.src.ID || got.Rule == nil || got.Rule.Kind != catalog.RuleCopy {
			t.Errorf("copy %+v", got)
		}
		// Every plan of the chain has the original as its root.
		var roots int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM plans WHERE root_id = $1`, ct.src.ID).Scan(&roots); err != nil || roots != 3 {
			t.Errorf("%d plans with root %d: %v", roots, ct.src.ID, err)
		}
		copies, err := db.Copies(ctx, ct.p, ct.src.ID, 0, 10)
		if err != nil || len(copies) != 1 || copies[0].ID != ct.copyA.ID {
			t.Errorf("copies of the source: %v %v", copies, err)
		}
		_, err = db.Copies(ctx, ct.b, ct.src.ID, 0, 10) // B sees P's plan? No: P is above B.
		wantCode(t, err, marketplane.ENOTFOUND)

		// More accounts to delegate to: a customer right below P, a
		// cancelled reseller, a reseller in euros.
		mk := func(kind account.Kind, name, currency string) *account.Account {
			a := newAccount(kind, ct.P.ID, name)
			a.Currency = currency
			if err := db.CreateAccount(ctx, ct.sys, a); err != nil {
				t.Fatal(err)
			}
			return a
		}
		cust := mk(account.Customer, "Customer of P", "USD")
		gone := mk(account.Reseller, "Gone reseller", "USD")
		if _, err := db.SetAccountStatus(ctx, ct.sys, gone.ID, account.StatusCancelled, false); err != nil {
			t.Fatal(err)
		}
		euro := mk(account.Reseller, "Euro reseller", "EUR")

		before := count(t, db, "plans")
		for _, c := range []struct {
			name   string
			actor  *account.Actor
			owner  int64
			edit   func(p *catalog.Plan)
			code   string
			fields []string
		}{
			{"grandchild", ct.p, ct.A1.ID, nil, marketplane.EINVALID, []string{"child_id"}},
			{"customer", ct.p, cust.ID, nil, marketplane.EINVALID, []string{"child_id"}},
			{"customer deeper", ct.p, ct.C.ID, nil, marketplane.EINVALID, []string{"child_id"}},
			{"the owner itself", ct.p, ct.P.ID, nil, marketplane.EINVALID, []string{"child_id"}},
			{"cancelled", ct.p, gone.ID, nil, marketplane.EINVALID, []string{"child_id"}},
			{"missing account", ct.p, 987654, nil, marketplane.EINVALID, []string{"child_id"}},
			{"duplicate copy", ct.p, ct.A.ID, nil, marketplane.ECONFLICT, nil},
			{"currency mismatch", ct.p, euro.ID, nil, marketplane.EINVALID, []string{"currency"}},
			{"bad field", ct.p, ct.B.ID, func(p *catalog.Plan) { p.Rates[0].Min = -1 }, marketplane.EINVALID, []string{"rates[0].min"}},
			{"below cost", ct.p, ct.B.ID, func(p *catalog.Plan) { p.Periods[0].Recurring.Amount = 1_000_000 }, marketplane.EINVALID,
				[]string{"periods[1m].recurring.amount"}},
			{"not the source's seller", ct.b, ct.B.ID, nil, marketplane.ENOTFOUND, nil},
			{"source missing", ct.p, ct.B.ID, func(p *catalog.Plan) { p.SourceID = 987654 }, marketplane.ENOTFOUND, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := copyOf(ct.src, c.owner)
				if c.edit != nil {
					c.edit(p)
				}
				err := db.InsertCopy(ctx, c.actor, p, delegation.CheckPrices)
				if c.fields != nil {
					wantFields(t, err, c.code, c.fields...)
				} else {
					wantCode(t, err, c.code)
				}
			})
		}
		if count(t, db, "plans") != before {
			t.Fatal("refused copies left rows")
		}
		// A batch is all or nothing; its errors name the copy.
		mkB2 := newAccount(account.Reseller, ct.P.ID, "Reseller B2")
		if err := db.CreateAccount(ctx, ct.sys, mkB2); err != nil {
			t.Fatal(err)
		}
		err = db.InsertCopies(ctx, ct.p, []*catalog.Plan{copyOf(ct.src, ct.B.ID), copyOf(ct.src, cust.ID), copyOf(ct.src, mkB2.ID)}, nil)
		wantFields(t, err, marketplane.EINVALID, "child_id")
		if !strings.Contains(err.Error(), "copy 1 of the batch") {
			t.Errorf("error does not name the copy: %v", err)
		}
		wantCode(t, db.InsertCopies(ctx, ct.p, []*catalog.Plan{copyOf(ct.src, ct.B.ID), copyOf(ct.src, ct.B.ID)}, nil), marketplane.ECONFLICT)
		other := officePlan(ct.P.ID, "office-pro")
		if err := db.CreatePlan(ctx, ct.p, other); err != nil {
			t.Fatal(err)
		}
		clash := copyOf(other, ct.B.ID)
		clash.Key = "office-std"
		wantFields(t, db.InsertCopies(ctx, ct.p, []*catalog.Plan{copyOf(ct.src, ct.B.ID), clash}, nil), marketplane.ECONFLICT, "key")
		if count(t, db, "plans") != before+1 {
			t.Fatal("refused batches left rows")
		}
		batch := []*catalog.Plan{copyOf(ct.src, ct.B.ID), copyOf(ct.src, mkB2.ID), copyOf(other, ct.B.ID)}
		if err := db.InsertCopies(ctx, ct.p, batch, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		for _, c := range batch {
			got, err := db.Plan(ctx, ct.p, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, c)
		}

		// With a rule converting the currency, the euro reseller may.
		eur := copyOf(ct.src, euro.ID)
		eur.Currency = "EUR"
		eur.Rule = &catalog.PriceRule{Kind: catalog.RuleManual, ExchangeRate: "0.9"}
		eur.Periods[0].Recurring.MaxRetail = 18_000_000 // the cap of 20.00 USD in euros
		if err := db.InsertCopy(ctx, ct.p, eur, delegation.CheckPrices); err != nil {
			t.Fatalf("euro copy: %v", err)
		}
	})
}

func TestUpdateCopyAndDelete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := copySetup(t, db)
		ctx := ct.ctx
		// The owner reprices and publishes its copy.
		c, _ := db.Plan(ctx, ct.a, ct.copyA.ID)
		c.Periods[0].Recurring.Amount = 12_000_000
		c.Name = catalog.Text{"en": "Office by A"}
		c.Published = true
		if err := db.UpdatePlan(ctx, ct.a, c, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		// Below cost: the check the caller passes refuses it.
		low, _ := db.Plan(ctx, ct.a, ct.copyA.ID)
		low.Periods[0].Recurring.Amount = 9_000_000
		wantFields(t, db.UpdatePlan(ctx, ct.a, low, delegation.CheckPrices), marketplane.EINVALID, "periods[1m].recurring.amount")
		// Without a check, the store holds only the catalog rules.
		if err := db.UpdatePlan(ctx, ct.a, low, nil); err != nil {
			t.Fatalf("no check: %v", err)
		}
		// What a copy is made of follows its source.
		for _, c := range []struct {
			name   string
			edit   func(p *catalog.Plan)
			fields []string
		}{
			{"template", func(p *catalog.Plan) { p.Template = "other" }, []string{"template"}},
			{"new period", func(p *catalog.Plan) {
				p.Periods = append(p.Periods, catalog.Period{Key: "1y", Duration: catalog.Duration{N: 1, Unit: catalog.Year},
					Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod})
			}, []string{"periods", "periods[1].key"}},
			{"duration", func(p *catalog.Plan) { p.Periods[0].Duration.N = 3 }, []string{"periods[0].duration"}},
			{"rate resource", func(p *catalog.Plan) { p.Rates[0].Resource, p.Rates[0].Key = "storage", "storage" }, []string{"rates[0].key"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				p, _ := db.Plan(ctx, ct.a, ct.copyA.ID)
				c.edit(p)
				err := db.UpdatePlan(ctx, ct.a, p, nil)
				wantCode(t, err, marketplane.EINVALID)
				var e *marketplane.Error
				errors.As(err, &e)
				for _, f := range c.fields {
					if e.Fields[f] == "" {
						t.Errorf("no error at %s: %v", f, err)
					}
				}
			})
		}
		// A sibling does not edit it.
		wantCode(t, db.UpdatePlan(ctx, ct.b, low, nil), marketplane.ENOTFOUND)

		// A copy that arrived unpriced waits for its owner.
		var plans []*catalog.Plan
		cp, _ := db.Plan(ctx, ct.a, ct.copyA.ID)
		cp.Periods[0].Unpriced = true
		plans = append(plans, cp)
		if err := db.SaveCopies(ctx, plans, nil, nil); err != nil {
			t.Fatal(err)
		}
		list, _ := db.PlansForSale(ctx, ct.a, ct.A.ID, store.PlanFilter{})
		if len(list) != 0 {
			t.Errorf("an unpriced copy is for sale: %v", list)
		}
		cp, _ = db.Plan(ctx, ct.a, ct.copyA.ID)
		if !cp.NeedsConfirmation() {
			t.Fatal("no confirmation needed")
		}
		cp.Periods[0].Unpriced = false
		cp.Periods[0].Recurring.Amount = 11_000_000
		if err := db.UpdatePlan(ctx, ct.a, cp, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		list, _ = db.PlansForSale(ctx, ct.a, ct.A.ID, store.PlanFilter{})
		if len(list) != 1 {
			t.Errorf("confirmed copy not for sale: %v", list)
		}

		// Deleting a plan with copies is refused; leaves first.
		wantCode(t, db.DeletePlan(ctx, ct.p, ct.src.ID), marketplane.ECONFLICT)
		wantCode(t, db.DeletePlan(ctx, ct.a, ct.copyA.ID), marketplane.ECONFLICT)
		wantCode(t, db.DeletePlan(ctx, ct.b, ct.copyA1.ID), marketplane.ENOTFOUND)
		for _, step := range []struct {
			actor *account.Actor
			id    int64
		}{{ct.a1, ct.copyA1.ID}, {ct.a, ct.copyA.ID}, {ct.p, ct.src.ID}} {
			if err := db.DeletePlan(ctx, step.actor, step.id); err != nil {
				t.Fatalf("delete %d: %v", step.id, err)
			}
		}
		if n := count(t, db, "plans"); n != 0 {
			t.Errorf("%d plans left", n)
		}
		if n := count(t, db, "plan_changes"); n != 0 {
			t.Errorf("%d plan changes left", n)
		}
		wantCode(t, db.DeletePlan(ctx, ct.p, ct.src.ID), marketplane.ENOTFOUND)
	})
}

func TestSaveCopies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := copySetup(t, db)
		ctx := ct.ctx
		copyB := copyOf(ct.src, ct.B.ID)
		if err := db.InsertCopy(ctx, ct.p, copyB, nil); err != nil {
			t.Fatal(err)
		}
		run := &store.SyncRun{SourcePlanID: ct.src.ID, Options: "resource_prices,fees"}
		if err := db.CreateSyncRun(ctx, ct.p, run, nil); err != nil {
			t.Fatal(err)
		}
		if run.Status != store.SyncQueued || run.Options != "fees,resource_prices" || run.RequestedBy == 0 {
			t.Errorf("run %+v", run)
		}

		// The engine reads the copies in batches and saves them back.
		batch, err := db.CopiesBatch(ctx, ct.src.ID, 0, 1)
		if err != nil || len(batch) != 1 || batch[0].ID != ct.copyA.ID {
			t.Fatalf("first batch: %v %v", batch, err)
		}
		rest, err := db.CopiesBatch(ctx, ct.src.ID, batch[0].ID, 10)
		if err != nil || len(rest) != 1 || rest[0].ID != copyB.ID {
			t.Fatalf("second batch: %v %v", rest, err)
		}
		batch = append(batch, rest...)
		var changes []store.PlanChange
		for _, p := range batch {
			p.Periods[0].Recurring.Amount = 11_000_000
			p.Rates[0].Max = 200
			p.ChangedUpstream = p.OwnerID == ct.A.ID
			changes = append(changes,
				store.PlanChange{PlanID: p.ID, Field: "periods[1m].recurring.amount", Old: "10.00", New: "11.00", Effective: delegation.EffectiveNextBilling},
				store.PlanChange{PlanID: p.ID, Field: "rates[mailbox].max", Old: "100", New: "200", Effective: delegation.EffectiveNow})
		}
		run.Status, run.Cursor, run.CopiesChanged, run.Changes = store.SyncRunning, fmt.Sprint(copyB.ID), 2, 4
		if err := db.SaveCopies(ctx, batch, changes, run); err != nil {
			t.Fatal(err)
		}
		for _, p := range batch {
			if p.Version != 2 {
				t.Errorf("plan %d: version %d", p.ID, p.Version)
			}
			got, err := db.Plan(ctx, ct.p, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, p)
		}
		if got, _ := db.Plan(ctx, ct.a, ct.copyA.ID); !got.ChangedUpstream {
			t.Error("changed upstream flag not saved")
		}
		// The change log and the run's progress went with the batch.
		log, err := db.PlanChanges(ctx, ct.a, ct.copyA.ID, 0, 10)
		if err != nil || len(log) != 2 {
			t.Fatalf("changes: %v %v", log, err)
		}
		if l := log[0]; l.Field != "rates[mailbox].max" || l.Effective != delegation.EffectiveNow || l.SyncRunID != run.ID ||
			l.Kind != store.ChangeSync || l.At.IsZero() || l.New != "200" {
			t.Errorf("newest change %+v", l)
		}
		older, _ := db.PlanChanges(ctx, ct.a, ct.copyA.ID, log[0].ID, 10)
		if len(older) != 1 || older[0].Effective != delegation.EffectiveNextBilling {
			t.Errorf("older changes %+v", older)
		}
		_, err = db.PlanChanges(ctx, ct.b, ct.copyA.ID, 0, 10)
		wantCode(t, err, marketplane.ENOTFOUND)
		saved, err := db.SyncRun(ctx, ct.p, run.ID)
		if err != nil || saved.Status != store.SyncRunning || saved.Cursor != fmt.Sprint(copyB.ID) || saved.Changes != 4 {
			t.Errorf("run after the batch: %+v %v", saved, err)
		}
		entries, _ := db.AuditLog(ctx, ct.sys, store.AuditFilter{AccountID: ct.B.ID, Entity: "plan"})
		if len(entries) == 0 || entries[0].Action != "plan.sync" || !strings.Contains(string(entries[0].Changes), "rates[mailbox].max") {
			t.Errorf("B's audit: %+v", entries)
		}

		// A copy changed meanwhile fails the whole batch; nothing is saved.
		stale, _ := db.CopiesBatch(ctx, ct.src.ID, 0, 10)
		stale[0].Periods[0].Recurring.Amount = 15_000_000
		stale[1].Version = 1
		nChanges := count(t, db, "plan_changes")
		err = db.SaveCopies(ctx, stale, []store.PlanChange{{PlanID: stale[0].ID, Field: "x", Effective: delegation.EffectiveNow}}, run)
		wantCode(t, err, marketplane.EPRECONDITION)
		if count(t, db, "plan_changes") != nChanges {
			t.Error("a refused batch left changes")
		}
		if got, _ := db.Plan(ctx, ct.p, stale[0].ID); got.Periods[0].Recurring.Amount != 11_000_000 || got.Version != 2 {
			t.Errorf("a refused batch changed plan %d: %+v", got.ID, got.Periods[0])
		}
		// Originals are not copies; invalid copies are refused.
		orig, _ := db.Plan(ctx, ct.p, ct.src.ID)
		wantCode(t, db.SaveCopies(ctx, []*catalog.Plan{orig}, nil, nil), marketplane.EINVALID)
		bad, _ := db.CopiesBatch(ctx, ct.src.ID, 0, 1)
		bad[0].Currency = "EUR"
		wantFields(t, db.SaveCopies(ctx, bad, nil, nil), marketplane.EINVALID, "currency")

		// Finishing the run stamps it and audits it; a finished run stays.
		run.Status = store.SyncCompleted
		if err := db.UpdateSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if run.FinishedAt.IsZero() {
			t.Error("no finish time")
		}
		run.Status = store.SyncRunning
		wantCode(t, db.UpdateSyncRun(ctx, run), marketplane.ECONFLICT)
		runs, err := db.SyncRuns(ctx, ct.p, ct.src.ID, 0, 10)
		if err != nil || len(runs) != 1 || runs[0].Status != store.SyncCompleted || runs[0].FinishedAt.IsZero() {
			t.Errorf("runs %+v %v", runs, err)
		}
		open, _ := db.OpenSyncRuns(ctx, 10)
		if len(open) != 0 {
			t.Errorf("open runs %+v", open)
		}
		// Options are checked; only the source's seller starts a sync.
		wantCode(t, db.CreateSyncRun(ctx, ct.p, &store.SyncRun{SourcePlanID: ct.src.ID, Options: "prices"}, nil), marketplane.EINVALID)
		wantCode(t, db.CreateSyncRun(ctx, ct.b, &store.SyncRun{SourcePlanID: ct.src.ID, Options: "fees"}, nil), marketplane.ENOTFOUND)
		_, err = db.SyncRun(ctx, ct.b, run.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		next := &store.SyncRun{SourcePlanID: ct.copyA.ID, Options: "all", OneLevel: true}
		if err := db.CreateSyncRun(ctx, ct.a, next, nil); err != nil {
			t.Fatal(err)
		}
		if open, _ := db.OpenSyncRuns(ctx, 10); len(open) != 1 || open[0].ID != next.ID || !open[0].OneLevel {
			t.Errorf("open runs %+v", open)
		}
		// Copies of many sources at once: a level of the tree.
		level, err := db.CopiesOfBatch(ctx, []int64{ct.copyA.ID, copyB.ID, ct.src.ID}, 0, 10)
		if err != nil || len(level) != 3 {
			t.Errorf("copies of a level: %d %v", len(level), err)
		}
		byID, err := db.PlansByIDs(ctx, []int64{ct.src.ID, ct.copyA1.ID, 987654})
		if err != nil || len(byID) != 2 || byID[ct.copyA1.ID].SourceID != ct.copyA.ID {
			t.Errorf("plans by ids: %v %v", byID, err)
		}
	})
}

func TestDelegationTerms(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		// No terms yet: the zero terms.
		got, err := db.DelegationTerms(ctx, ct.a, ct.A.ID)
		if err != nil || got.SetBy != 0 || len(got.Terms.Restrictions) != 0 || got.Terms.ProhibitCascade {
			t.Fatalf("no terms: %+v %v", got, err)
		}
		terms := delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPricing, delegation.RestrictSalesCategories}, ProhibitCascade: true}
		set, err := db.SetDelegationTerms(ctx, ct.p, ct.A.ID, terms)
		if err != nil || set.SetBy != ct.P.ID {
			t.Fatalf("set: %+v %v", set, err)
		}
		for _, who := range []*account.Actor{ct.a, ct.p} {
			got, err := db.DelegationTerms(ctx, who, ct.A.ID)
			if err != nil || !got.Terms.ProhibitCascade || !got.Terms.Restricted(delegation.RestrictPricing) || !got.UpdatedAt.Equal(set.UpdatedAt) {
				t.Errorf("terms as %d: %+v %v", who.AccountID, got, err)
			}
		}
		// A's parent sets them; A itself may not; B and A1 do not see them.
		_, err = db.SetDelegationTerms(ctx, ct.a, ct.A.ID, delegation.Terms{})
		wantCode(t, err, marketplane.EFORBIDDEN)
		_, err = db.SetDelegationTerms(ctx, ct.b, ct.A.ID, delegation.Terms{})
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.DelegationTerms(ctx, ct.b, ct.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.DelegationTerms(ctx, ct.a1, ct.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		// A sets its child's.
		if _, err := db.SetDelegationTerms(ctx, ct.a, ct.A1.ID, delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictTerms}}); err != nil {
			t.Fatal(err)
		}
		// Bad input.
		_, err = db.SetDelegationTerms(ctx, ct.p, ct.A.ID, delegation.Terms{Restrictions: []delegation.Restriction{"everything"}})
		wantFields(t, err, marketplane.EINVALID, "restrictions[0]")
		_, err = db.SetDelegationTerms(ctx, ct.a1, ct.C.ID, delegation.Terms{})
		wantCode(t, err, marketplane.EINVALID)
		_, err = db.SetDelegationTerms(ctx, ct.p, ct.P.ID, delegation.Terms{})
		wantCode(t, err, marketplane.EINVALID)
		_, err = db.SetDelegationTerms(ctx, ct.p, 987654, delegation.Terms{})
		wantCode(t, err, marketplane.ENOTFOUND)
		got, _ = db.DelegationTerms(ctx, ct.a, ct.A.ID)
		if len(got.Terms.Restrictions) != 2 {
			t.Errorf("terms changed by refused calls: %+v", got)
		}
		all, err := db.DelegationTermsOf(ctx, []int64{ct.A.ID, ct.A1.ID, ct.B.ID})
		if err != nil || len(all) != 2 || !all[ct.A.ID].ProhibitCascade || !all[ct.A1.ID].Restricted(delegation.RestrictTerms) {
			t.Errorf("terms of many: %+v %v", all, err)
		}
		entries, _ := db.AuditLog(ctx, ct.sys, store.AuditFilter{AccountID: ct.A.ID})
		found := false
		for _, e := range entries {
			found = found || e.Action == "delegation_terms.set"
		}
		if !found {
			t.Error("terms not audited")
		}
	})
}

func TestCopiesAdoptCategories(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		if err := db.CreatePlanCategory(ctx, ct.p, &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: ct.P.ID, Key: "office",
			Name: catalog.Text{"en": "Office"}, UniqueGroup: true}}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []catalog.SalesCategory{
			{Key: "software", Name: catalog.Text{"en": "Software"}, Holds: catalog.HoldsCategories, Position: 3, Displayed: true},
			{Key: "office", Parent: "software", Name: catalog.Text{"en": "Office"}, Holds: catalog.HoldsPlans, Position: 1, Displayed: true},
			{Key: "mail", Parent: "software", Name: catalog.Text{"en": "Mail"}, Holds: catalog.HoldsPlans, Position: 2, Displayed: false},
		} {
			c.OwnerID = ct.P.ID
			if err := db.CreateSalesCategory(ctx, ct.p, &store.SalesCategory{SalesCategory: c}); err != nil {
				t.Fatal(err)
			}
		}
		src := officePlan(ct.P.ID, "office")
		src.PlanCategory, src.SalesCategories = "office", []string{"office"}
		if err := db.CreatePlan(ctx, ct.p, src); err != nil {
			t.Fatal(err)
		}
		// A already has its own "software" shelf: it keeps it.
		if err := db.CreateSalesCategory(ctx, ct.a, &store.SalesCategory{SalesCategory: catalog.SalesCategory{OwnerID: ct.A.ID, Key: "software",
			Name: catalog.Text{"en": "Our software"}, Holds: catalog.HoldsCategories, Displayed: true}}); err != nil {
			t.Fatal(err)
		}
		copyA := copyOf(src, ct.A.ID)
		if err := db.InsertCopy(ctx, ct.p, copyA, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		copyA1 := copyOf(copyA, ct.A1.ID)
		if err := db.InsertCopy(ctx, ct.a, copyA1, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		shelves := func(owner int64) string {
			list, err := db.SalesCategories(ctx, ct.sys, owner)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, c := range list {
				s = append(s, fmt.Sprintf("%s<%s:%s:%v:%t", c.Key, c.Parent, c.Name["en"], c.SourceID != 0, c.Displayed))
			}
			return strings.Join(s, " ")
		}
		if got := shelves(ct.A.ID); got != "software<:Our software:false:true office<software:Office:true:true" {
			t.Errorf("A's shelves: %s", got)
		}
		if got := shelves(ct.A1.ID); got != "software<:Our software:true:true office<software:Office:true:true" {
			t.Errorf("A1's shelves: %s", got)
		}
		for _, acct := range []*account.Account{ct.A, ct.A1} {
			cats, _ := db.PlanCategories(ctx, ct.sys, acct.ID)
			if len(cats) != 1 || cats[0].Key != "office" || !cats[0].UniqueGroup || cats[0].SourceID == 0 {
				t.Errorf("plan categories of %s: %+v", acct.Name, cats)
			}
		}
		// A sync that files the copy on another shelf brings that shelf,
		// with the parent's display setting as the first own one.
		cp, _ := db.Plan(ctx, ct.sys, copyA.ID)
		cp.SalesCategories = []string{"office", "mail"}
		if err := db.SaveCopies(ctx, []*catalog.Plan{cp}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := shelves(ct.A.ID); got != "software<:Our software:false:true office<software:Office:true:true mail<software:Mail:true:false" {
			t.Errorf("A's shelves after the sync: %s", got)
		}
		// A key the parent does not have either is refused.
		cp, _ = db.Plan(ctx, ct.sys, copyA.ID)
		cp.SalesCategories = []string{"nowhere"}
		wantFields(t, db.SaveCopies(ctx, []*catalog.Plan{cp}, nil, nil), marketplane.EINVALID, "sales_categories[0]")
		entries, _ := db.AuditLog(ctx, ct.sys, store.AuditFilter{AccountID: ct.A1.ID, Entity: "sales_category"})
		if len(entries) != 2 || entries[0].Action != "sales_category.adopt" {
			t.Errorf("A1's audit: %+v", entries)
		}
	})
}
