package api

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// withCatalog gives the provider of f the resource types mailbox and
// storage and the template "office" (once per fixture).
func withCatalog(t *testing.T, f *fixture) {
	t.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	if _, err := f.db.Template(ctx, sys, "office"); err == nil {
		return
	}
	for _, key := range []string{"mailbox", "storage"} {
		rt := &store.ResourceType{ResourceType: catalog.ResourceType{Key: key, Name: catalog.Text{"en": key}, Unit: "unit", Class: catalog.ClassLimit}}
		if err := f.db.CreateResourceType(ctx, sys, rt); err != nil {
			t.Fatal(err)
		}
	}
	tpl := &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"},
		Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}, {Resource: "storage", Limit: -1}}}}
	if err := f.db.CreateTemplate(ctx, sys, tpl); err != nil {
		t.Fatal(err)
	}
}

// planBody is a valid body of POST /accounts/{id}/plans and PUT /plans/{id}.
func planBody(key string) map[string]any {
	return map[string]any{
		"key": key, "template": "office", "currency": "USD", "name": map[string]string{"en": "Office " + key},
		"billing": "advance", "published": true,
		"periods": []any{map[string]any{
			"key": "1m", "duration": map[string]any{"n": 1, "unit": "month"},
			"setup": map[string]any{"amount": "5"}, "recurring": map[string]any{"amount": "10.00", "max_retail": "20"},
			"refund": map[string]any{"full_days": 14, "after": "prorated"},
		}},
		"rates": []any{map[string]any{"key": "mailbox", "resource": "mailbox", "included": 5, "min": 1, "max": 100,
			"recurring": map[string]any{"amount": "2.50"}}},
	}
}

func TestResourceTypesAndTemplatesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		body := map[string]any{"key": "mailbox", "name": map[string]string{"en": "Mailbox"}, "unit": "mailbox", "class": "limit"}
		r := f.must(t, 201, "P", "POST", "/resource-types", body)
		var rt ResourceType
		r.JSON(t, &rt)
		if rt.Key != "mailbox" || rt.Class != "limit" || rt.Version != 1 || r.Header.Get("ETag") != `"1"` ||
			r.Header.Get("Location") != Prefix+"/resource-types/mailbox" {
			t.Errorf("created %+v, headers %v", rt, r.Header)
		}
		// Only the provider writes them; everyone reads them.
		f.must(t, 403, "L1a", "POST", "/resource-types", body).Problem(t)
		f.must(t, 403, "C", "PUT", "/resource-types/mailbox", body).Problem(t)
		var list struct{ Items []ResourceType }
		f.must(t, 200, "C", "GET", "/resource-types", nil).JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name["en"] != "Mailbox" {
			t.Errorf("list %+v", list)
		}
		f.must(t, 401, "", "GET", "/resource-types", nil).Problem(t)
		r = f.must(t, 200, "L2", "GET", "/resource-types/mailbox", nil)
		r.JSON(t, &rt)
		if rt.Unit != "mailbox" || r.Header.Get("ETag") != `"1"` {
			t.Errorf("read %+v %v", rt, r.Header)
		}
		if p := f.must(t, 404, "L2", "GET", "/resource-types/nope", nil).Problem(t); p.Detail != "resource type not found" {
			t.Errorf("404 %+v", p)
		}
		// Bad input, conflicts.
		p := f.must(t, 400, "P", "POST", "/resource-types", map[string]any{"key": "Bad Key", "name": map[string]string{}, "unit": "", "class": "limit"}).Problem(t)
		if want := []string{"body.key", "body.name", "body.unit"}; !slices.Equal(p.locations(), want) {
			t.Errorf("field errors %v, want %v", p.locations(), want)
		}
		f.must(t, 400, "P", "POST", "/resource-types", map[string]any{"key": "x", "name": map[string]string{"en": "x"}, "unit": "u", "class": "meter"})
		p = f.must(t, 409, "P", "POST", "/resource-types", body).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.key"}) {
			t.Errorf("conflict %+v", p)
		}
		// Updates with If-Match.
		body["unit"] = "seat"
		r = f.must(t, 200, "P", "PUT", "/resource-types/mailbox", body, "If-Match", `"1"`)
		if r.Header.Get("ETag") != `"2"` {
			t.Errorf("ETag %q", r.Header.Get("ETag"))
		}
		f.must(t, 412, "P", "PUT", "/resource-types/mailbox", body, "If-Match", `"1"`).Problem(t)
		body["key"] = "other"
		p = f.must(t, 400, "P", "PUT", "/resource-types/mailbox", body).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.key"}) {
			t.Errorf("key change %+v", p)
		}
		delete(body, "key")
		f.must(t, 200, "P", "PUT", "/resource-types/mailbox", body) // no If-Match: last writer wins
		f.must(t, 404, "P", "PUT", "/resource-types/nope", body).Problem(t)

		// Templates.
		tpl := map[string]any{"key": "office", "name": map[string]string{"en": "Office"}, "connector": "o365",
			"resources": []any{map[string]any{"resource": "mailbox", "limit": 10}}}
		r = f.must(t, 201, "P", "POST", "/templates", tpl)
		var got Template
		r.JSON(t, &got)
		if got.Connector != "o365" || len(got.Resources) != 1 || got.Resources[0].Limit != 10 {
			t.Errorf("template %+v", got)
		}
		f.must(t, 403, "L1a", "POST", "/templates", tpl)
		bad := map[string]any{"key": "vps", "name": map[string]string{"en": "VPS"}, "resources": []any{map[string]any{"resource": "vcpu", "limit": 1}}}
		p = f.must(t, 400, "P", "POST", "/templates", bad).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.resources[0].resource"}) {
			t.Errorf("unknown resource %+v", p)
		}
		tpl["resources"] = []any{}
		f.must(t, 200, "P", "PUT", "/templates/office", tpl, "If-Match", `"1"`).JSON(t, &got)
		if len(got.Resources) != 0 || got.Version != 2 {
			t.Errorf("updated template %+v", got)
		}
		f.must(t, 412, "P", "PUT", "/templates/office", tpl, "If-Match", `"1"`).Problem(t)
		delete(tpl, "key")
		if p := f.must(t, 404, "P", "PUT", "/templates/nope", tpl).Problem(t); p.Detail != "service template not found" {
			t.Errorf("404 %+v", p)
		}
		f.must(t, 401, "", "GET", "/templates", nil).Problem(t)
		f.must(t, 200, "L2", "GET", "/templates/office", nil).JSON(t, &got)
		var tpls struct{ Items []Template }
		f.must(t, 200, "C", "GET", "/templates", nil).JSON(t, &tpls)
		if len(tpls.Items) != 1 {
			t.Errorf("templates %+v", tpls)
		}
		if p := f.must(t, 404, "C", "GET", "/templates/nope", nil).Problem(t); p.Detail != "service template not found" {
			t.Errorf("404 %+v", p)
		}
	})
}

func TestCategoriesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		base := "/accounts/" + id(f.L1a.ID)
		r := f.must(t, 201, "L1a", "POST", base+"/plan-categories", map[string]any{"key": "office", "name": map[string]string{"en": "Office"}, "unique_group": true})
		if r.Header.Get("Location") != Prefix+base+"/plan-categories/office" {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}
		f.must(t, 409, "L1a", "POST", base+"/plan-categories", map[string]any{"key": "office", "name": map[string]string{"en": "Again"}})
		f.must(t, 400, "L1a", "POST", base+"/plan-categories", map[string]any{"key": "", "name": map[string]string{"en": "x"}})
		f.must(t, 404, "L1b", "POST", base+"/plan-categories", map[string]any{"key": "x", "name": map[string]string{"en": "x"}})
		var pc PlanCategory
		f.must(t, 200, "L1a", "PUT", base+"/plan-categories/office", map[string]any{"name": map[string]string{"en": "Office suites"}}, "If-Match", `"1"`).JSON(t, &pc)
		if pc.UniqueGroup || pc.Name["en"] != "Office suites" || pc.Version != 2 {
			t.Errorf("updated %+v", pc)
		}
		f.must(t, 412, "L1a", "PUT", base+"/plan-categories/office", map[string]any{"name": map[string]string{"en": "Lost"}}, "If-Match", `"1"`)
		if p := f.must(t, 404, "L1a", "PUT", base+"/plan-categories/nope", map[string]any{"name": map[string]string{"en": "x"}}).Problem(t); p.Detail != "plan category not found" {
			t.Errorf("404 %+v", p)
		}
		var pcs struct{ Items []PlanCategory }
		f.must(t, 200, "P", "GET", base+"/plan-categories", nil).JSON(t, &pcs)
		if len(pcs.Items) != 1 || pcs.Items[0].Key != "office" {
			t.Errorf("list %+v", pcs)
		}
		f.must(t, 404, "L2", "GET", base+"/plan-categories", nil)
		f.must(t, 409, "L2", "POST", "/accounts/"+id(f.C.ID)+"/plan-categories", map[string]any{"key": "x", "name": map[string]string{"en": "x"}})

		// Sales categories: a tree with the seller's own display setting.
		for _, c := range []map[string]any{
			{"key": "software", "name": map[string]string{"en": "Software"}, "holds": "categories", "position": 2},
			{"key": "hosting", "name": map[string]string{"en": "Hosting"}, "holds": "plans", "position": 1},
			{"key": "office", "name": map[string]string{"en": "Office"}, "holds": "plans", "parent": "software", "displayed": false},
		} {
			f.must(t, 201, "L1a", "POST", base+"/sales-categories", c)
		}
		p := f.must(t, 400, "L1a", "POST", base+"/sales-categories",
			map[string]any{"key": "x", "name": map[string]string{"en": "x"}, "holds": "plans", "parent": "hosting"}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.parent"}) {
			t.Errorf("parent holding plans %+v", p)
		}
		var scs struct{ Items []SalesCategory }
		f.must(t, 200, "L1a", "GET", base+"/sales-categories", nil).JSON(t, &scs)
		var order []string
		for _, c := range scs.Items {
			order = append(order, c.Key)
		}
		if strings.Join(order, ",") != "hosting,software,office" || scs.Items[2].Displayed || !scs.Items[0].Displayed {
			t.Errorf("tree %+v", scs.Items)
		}
		var sc SalesCategory
		f.must(t, 200, "L1a", "POST", base+"/sales-categories/office/display", map[string]any{"displayed": true}).JSON(t, &sc)
		if !sc.Displayed || sc.Version != 2 {
			t.Errorf("displayed %+v", sc)
		}
		upd := map[string]any{"name": map[string]string{"en": "Office apps"}, "holds": "plans", "parent": "software", "position": 3}
		f.must(t, 200, "L1a", "PUT", base+"/sales-categories/office", upd, "If-Match", `"2"`).JSON(t, &sc)
		if !sc.Displayed || sc.Name["en"] != "Office apps" || sc.Position != 3 {
			t.Errorf("updated %+v", sc)
		}
		upd["displayed"] = false
		p = f.must(t, 400, "L1a", "PUT", base+"/sales-categories/office", upd).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.displayed"}) {
			t.Errorf("display through PUT %+v", p)
		}
		if p := f.must(t, 404, "L1a", "POST", base+"/sales-categories/nope/display", map[string]any{"displayed": true}).Problem(t); p.Detail != "sales category not found" {
			t.Errorf("404 %+v", p)
		}
		f.must(t, 404, "L1b", "GET", base+"/sales-categories", nil)
	})
}

func TestPlansAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		withCatalog(t, f)
		ctx := context.Background()
		r := f.must(t, 201, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", planBody("basic"))
		var pl Plan
		r.JSON(t, &pl)
		if pl.OwnerID != f.P.ID || pl.Periods[0].Recurring.Amount != "10.00" || pl.Periods[0].Recurring.MaxRetail != "20.00" ||
			pl.Periods[0].Setup.Amount != "5.00" || pl.Periods[0].RecurringPer != "period" || pl.Rates[0].Display != "spinner" ||
			!pl.OnSale || pl.NeedsConfirmation || pl.Version != 1 || r.Header.Get("Location") != Prefix+"/plans/"+id(pl.ID) {
			t.Errorf("created %+v", pl)
		}
		f.must(t, 201, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", func() map[string]any {
			b := planBody("draft")
			b["published"] = false
			return b
		}())
		r = f.must(t, 200, "P", "GET", "/plans/"+id(pl.ID), nil)
		if r.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag %q", r.Header.Get("ETag"))
		}

		// Bad input: the API's amounts and the domain's rules together.
		bad := planBody("bad")
		bad["currency"] = "EUR"
		bad["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "ten"}
		p := f.must(t, 400, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", bad).Problem(t)
		if !slices.Contains(p.locations(), "body.periods[0].recurring.amount") {
			t.Errorf("bad amount %+v", p)
		}
		bad["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "10"}
		p = f.must(t, 400, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", bad).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.currency"}) {
			t.Errorf("currency %+v", p)
		}
		p = f.must(t, 409, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", planBody("basic")).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.key"}) {
			t.Errorf("key %+v", p)
		}
		f.must(t, 404, "L1b", "POST", "/accounts/"+id(f.L1a.ID)+"/plans", planBody("intruder"))

		// Lists page by key.
		var page Page[Plan]
		f.must(t, 200, "P", "GET", "/accounts/"+id(f.P.ID)+"/plans?limit=1", nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Key != "basic" || page.NextCursor == "" {
			t.Fatalf("first page %+v", page)
		}
		f.must(t, 200, "P", "GET", "/accounts/"+id(f.P.ID)+"/plans?limit=1&cursor="+page.NextCursor, nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Key != "draft" {
			t.Errorf("second page %+v", page)
		}
		f.must(t, 200, "P", "GET", "/accounts/"+id(f.P.ID)+"/plans?published=false&template=office", nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Key != "draft" {
			t.Errorf("unpublished %+v", page)
		}
		f.must(t, 400, "P", "GET", "/accounts/"+id(f.P.ID)+"/plans?cursor=nonsense", nil)

		// Update with If-Match.
		up := planBody("basic")
		up["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "12.50", "max_retail": "20"}
		f.must(t, 200, "P", "PUT", "/plans/"+id(pl.ID), up, "If-Match", `"1"`).JSON(t, &pl)
		if pl.Periods[0].Recurring.Amount != "12.50" || pl.Version != 2 {
			t.Errorf("updated %+v", pl)
		}
		f.must(t, 412, "P", "PUT", "/plans/"+id(pl.ID), up, "If-Match", `"1"`).Problem(t)

		// A copy for L1a, delegated through the store.
		src, err := db.Plan(ctx, account.SystemActor(), pl.ID)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := delegation.Delegate(src, f.L1a.ID, "USD", delegation.DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RuleCopy}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InsertCopy(ctx, account.SystemActor(), cp, delegation.CheckPrices); err != nil {
			t.Fatal(err)
		}
		var c Plan
		f.must(t, 200, "L1a", "GET", "/plans/"+id(cp.ID), nil).JSON(t, &c)
		if c.SourceID != pl.ID || c.Rule == nil || c.Rule.Kind != "copy" || c.Periods[0].Recurring.Amount != "12.50" {
			t.Fatalf("copy %+v", c)
		}
		f.must(t, 404, "L1b", "GET", "/plans/"+id(cp.ID), nil)
		// The owner reprices its copy, not below its cost.
		cb := planBody("basic")
		cb["rule"] = map[string]any{"kind": "manual"}
		cb["published"] = true
		cb["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "9.00", "max_retail": "20"}
		p = f.must(t, 400, "L1a", "PUT", "/plans/"+id(cp.ID), cb).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.periods[1m].recurring.amount"}) {
			t.Errorf("below cost %+v", p)
		}
		cb["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "15.00", "max_retail": "20"}
		f.must(t, 200, "L1a", "PUT", "/plans/"+id(cp.ID), cb).JSON(t, &c)
		if c.Periods[0].Recurring.Amount != "15.00" || c.Rule.Kind != "manual" || !c.OnSale {
			t.Errorf("repriced copy %+v", c)
		}
		var copies Page[Plan]
		f.must(t, 200, "P", "GET", "/plans/"+id(pl.ID)+"/copies", nil).JSON(t, &copies)
		if len(copies.Items) != 1 || copies.Items[0].ID != cp.ID {
			t.Errorf("copies %+v", copies)
		}
		f.must(t, 404, "L1b", "GET", "/plans/"+id(pl.ID)+"/copies", nil)

		// A sync's change log shows on the copy.
		cur, _ := db.Plan(ctx, account.SystemActor(), cp.ID)
		cur.Rates[0].Max = 200
		if err := db.SaveCopies(ctx, []*catalog.Plan{cur}, []store.PlanChange{
			{PlanID: cp.ID, Field: "rates[mailbox].max", Old: "100", New: "200", Effective: delegation.EffectiveNow},
			{PlanID: cp.ID, Field: "name", Old: "x", New: "y"},
		}, nil); err != nil {
			t.Fatal(err)
		}
		var changes Page[PlanChange]
		f.must(t, 200, "L1a", "GET", "/plans/"+id(cp.ID)+"/changes?limit=1", nil).JSON(t, &changes)
		if len(changes.Items) != 1 || changes.Items[0].Field != "name" || changes.Items[0].Effective != "n/a" || changes.NextCursor == "" {
			t.Fatalf("changes %+v", changes)
		}
		f.must(t, 200, "L1a", "GET", "/plans/"+id(cp.ID)+"/changes?limit=1&cursor="+changes.NextCursor, nil).JSON(t, &changes)
		if len(changes.Items) != 1 || changes.Items[0].Effective != "now" {
			t.Errorf("older changes %+v", changes)
		}
		f.must(t, 404, "L1b", "GET", "/plans/"+id(cp.ID)+"/changes", nil)

		// Deleting: not while copies exist; a stale If-Match loses.
		f.must(t, 409, "P", "DELETE", "/plans/"+id(pl.ID), nil).Problem(t)
		f.must(t, 412, "L1a", "DELETE", "/plans/"+id(cp.ID), nil, "If-Match", `"1"`)
		f.must(t, 204, "L1a", "DELETE", "/plans/"+id(cp.ID), nil)
		f.must(t, 204, "P", "DELETE", "/plans/"+id(pl.ID), nil)
		if p := f.must(t, 404, "P", "GET", "/plans/"+id(pl.ID), nil).Problem(t); p.Detail != "plan not found" {
			t.Errorf("404 %+v", p)
		}
	})
}

func TestDelegationTermsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		path := "/accounts/" + id(f.L1a.ID) + "/delegation-terms"
		var terms DelegationTerms
		r := f.must(t, 200, "L1a", "GET", path, nil)
		r.JSON(t, &terms)
		if terms.SetBy != 0 || len(terms.Restrictions) != 0 || r.Header.Get("ETag") != `"t0"` {
			t.Errorf("no terms %+v %v", terms, r.Header)
		}
		r = f.must(t, 200, "P", "PUT", path, map[string]any{"restrictions": []string{"pricing", "publication"}, "prohibit_cascade": true}, "If-Match", `"t0"`)
		r.JSON(t, &terms)
		if terms.SetBy != f.P.ID || !terms.ProhibitCascade || len(terms.Restrictions) != 2 || terms.UpdatedAt == nil {
			t.Errorf("set %+v", terms)
		}
		etag := r.Header.Get("ETag")
		r = f.must(t, 200, "L1a", "GET", path, nil)
		if r.Header.Get("ETag") != etag {
			t.Errorf("ETag %q after PUT, %q after GET", etag, r.Header.Get("ETag"))
		}
		f.must(t, 412, "P", "PUT", path, map[string]any{}, "If-Match", `"t0"`)
		// With the clock stopped, a second change still makes the first
		// tag stale.
		saleClock(db)
		r = f.must(t, 200, "P", "PUT", path, map[string]any{"restrictions": []string{"pricing"}}, "If-Match", etag)
		second := r.Header.Get("ETag")
		r = f.must(t, 200, "P", "PUT", path, map[string]any{"restrictions": []string{"pricing", "publication"}, "prohibit_cascade": true},
			"If-Match", second)
		if third := r.Header.Get("ETag"); third == second || second == etag {
			t.Errorf("ETags %q, %q, %q after three changes", etag, second, third)
		}
		f.must(t, 412, "P", "PUT", path, map[string]any{}, "If-Match", second).Problem(t)
		f.must(t, 403, "L1a", "PUT", path, map[string]any{}).Problem(t)
		p := f.must(t, 400, "P", "PUT", path, map[string]any{"restrictions": []string{"everything"}}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.restrictions[0]"}) {
			t.Errorf("unknown restriction %+v", p)
		}
		f.must(t, 400, "L2", "PUT", "/accounts/"+id(f.C.ID)+"/delegation-terms", map[string]any{}).Problem(t)
		f.must(t, 404, "L1b", "GET", path, nil)
		f.must(t, 404, "L1b", "PUT", path, map[string]any{})
		f.must(t, 200, "L1a", "GET", path, nil).JSON(t, &terms)
		if len(terms.Restrictions) != 2 {
			t.Errorf("terms changed by refused calls: %+v", terms)
		}
	})
}

// TestPlanPathsKeepTheirPlans: a plan another plan lists as an upgrade is
// neither renamed nor deleted under it (409, nothing changes); once the
// path is gone, both are allowed.
func TestPlanPathsKeepTheirPlans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		withCatalog(t, f)
		plans := "/accounts/" + id(f.L1a.ID) + "/plans"
		var pro, basic Plan
		f.must(t, 201, "L1a", "POST", plans, planBody("pro")).JSON(t, &pro)
		body := planBody("basic")
		body["upgrade_to"] = []string{"pro"}
		f.must(t, 201, "L1a", "POST", plans, body).JSON(t, &basic)

		p := f.must(t, 409, "L1a", "PUT", "/plans/"+id(pro.ID), planBody("premium")).Problem(t)
		if !strings.Contains(p.Detail, "basic") {
			t.Errorf("rename refused with %q, want the plan that names it", p.Detail)
		}
		f.must(t, 409, "L1a", "DELETE", "/plans/"+id(pro.ID), nil).Problem(t)
		var got Plan
		f.must(t, 200, "L1a", "GET", "/plans/"+id(pro.ID), nil).JSON(t, &got)
		if got.Key != "pro" || got.Version != pro.Version {
			t.Errorf("pro after the refusals: key %q version %d", got.Key, got.Version)
		}
		// Changing pro without renaming it is fine.
		f.must(t, 200, "L1a", "PUT", "/plans/"+id(pro.ID), planBody("pro"))

		f.must(t, 200, "L1a", "PUT", "/plans/"+id(basic.ID), planBody("basic"))
		f.must(t, 200, "L1a", "PUT", "/plans/"+id(pro.ID), planBody("premium")).JSON(t, &got)
		if got.Key != "premium" {
			t.Errorf("renamed to %q", got.Key)
		}
		f.must(t, 204, "L1a", "DELETE", "/plans/"+id(pro.ID), nil)
	})
}
