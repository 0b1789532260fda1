package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// catalogContract holds the catalog to the document: resource types and
// templates, plan and sales categories, delegation terms, plans with their
// delegation and syncs, and the provider's connectors.
//
// Besides the contract's world it builds the provider's plan "cat-basic"
// (planBody: 10.00 a month, 2.50 a mailbox) delegated to L1a at +20 %,
// then repriced to 12.50 and 3.00 and synced (fees and resource prices),
// which brought L1a's copy to 15.00 and 3.60 and logged two changes; the
// provider's plan "cat-doomed", to delete; and a key of C whose rate
// budget is spent, for the lists everyone signed in reads, which refuse
// nothing else.
func catalogContract(t *testing.T, c *contract) []contractCase {
	t.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	pAcct, l1a, l1b := "/accounts/"+id(c.P.ID), "/accounts/"+id(c.L1a.ID), "/accounts/"+id(c.L1b.ID)

	var src, doomed, cp Plan
	c.must(t, 201, "P", "POST", pAcct+"/plans", planBody("cat-basic")).JSON(t, &src)
	c.must(t, 201, "P", "POST", pAcct+"/plans", planBody("cat-doomed")).JSON(t, &doomed)
	c.must(t, 201, "P", "POST", "/plans/"+id(src.ID)+"/delegate",
		map[string]any{"child_id": c.L1a.ID, "rule": percentRule("20")}).JSON(t, &cp)
	repriced := planBody("cat-basic")
	repriced["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "12.50", "max_retail": "20"}
	repriced["rates"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "3.00"}
	c.must(t, 200, "P", "PUT", "/plans/"+id(src.ID), repriced, "If-Match", `"1"`)
	run := &store.SyncRun{SourcePlanID: src.ID, Options: "fees,resource_prices"}
	if err := c.db.CreateSyncRun(ctx, sys, run, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.RunSync(ctx, run.ID, nil); err != nil {
		t.Fatal(err)
	}
	throttled := catalogThrottledKey(t, c)
	// Another connector that calls itself "memory", at another URL.
	impostor := serveVendor(t, serveMemory(nil, "another-secret"))
	// A connector that was shut down: nothing listens at its URL.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	srcPath, cpPath, doomedPath := "/plans/"+id(src.ID), "/plans/"+id(cp.ID), "/plans/"+id(doomed.ID)
	alphaPlan := "/plans/" + id(c.alpha.planID)
	name := func(s string) map[string]string { return map[string]string{"en": s} }
	etag := func(want string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			if got := r.Header.Get("ETag"); got != want {
				t.Errorf("ETag %q, want %q", got, want)
			}
		}
	}
	keysOf := func(r *response) []string {
		var page struct{ Items []struct{ Key string } }
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Key)
		}
		return out
	}
	holds := func(want ...string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			got := keysOf(r)
			for _, k := range want {
				if !slices.Contains(got, k) {
					t.Errorf("list %v does not hold %s", got, k)
				}
			}
		}
	}
	exactly := func(want ...string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			if got := keysOf(r); !slices.Equal(got, want) {
				t.Errorf("list %v, want %v", got, want)
			}
		}
	}
	noSecret := func(t *testing.T, r *response) {
		if strings.Contains(string(r.Body), connectorSecret) || strings.Contains(string(r.Body), "another-secret") {
			t.Errorf("a connector's secret shows: %s", r.Body)
		}
	}

	rtBody := map[string]any{"key": "seat", "name": name("Seat"), "unit": "seat", "class": "limit"}
	rtUpdate := map[string]any{"name": name("Seat"), "unit": "user", "class": "limit"}
	tplBody := map[string]any{"key": "cat-suite", "name": name("Suite"),
		"resources": []any{map[string]any{"resource": "mailbox", "limit": 3}}}
	tplUpdate := map[string]any{"name": name("Suite"), "resources": []any{map[string]any{"resource": "storage", "limit": -1}}}
	shelf := l1a + "/sales-categories/" + c.alpha.shelfKey
	belowCost := planBody("cat-basic")
	belowCost["rule"] = map[string]any{"kind": "manual"}
	belowCost["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "9.00", "max_retail": "20"}
	renamed := planBody("cat-basic")
	renamed["periods"] = repriced["periods"]
	renamed["rates"] = repriced["rates"]
	renamed["name"] = name("Office Basic Plus")
	badAmount := planBody("cat-bad")
	badAmount["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "ten"}

	return []contractCase{
		// ----- resource types: everyone signed in reads, the provider writes -----
		{op: "list-resource-types", name: "a customer reads them", who: "C", method: "GET", path: "/resource-types", want: 200,
			check: exactly("mailbox", "storage")},
		{op: "list-resource-types", name: "over the rate limit", who: throttled, method: "GET", path: "/resource-types", want: 429,
			check: catalogRetryAfter},
		{op: "list-resource-types", name: "one a page", who: "C", method: "GET", path: "/resource-types?limit=1", want: 200,
			check: exactly("mailbox")},
		{op: "list-resource-types", name: "another list's cursor", who: "C", method: "GET",
			path: "/resource-types?cursor=" + encodeCursor(cursorTemplates, "office"), want: 400, field: "query.cursor"},
		{op: "create-resource-type", name: "the provider", who: "P", method: "POST", path: "/resource-types", body: rtBody, want: 201,
			check: func(t *testing.T, r *response) {
				var rt ResourceType
				r.JSON(t, &rt)
				if rt.Key != "seat" || rt.Unit != "seat" || rt.Class != "limit" || rt.Version != 1 ||
					r.Header.Get("Location") != Prefix+"/resource-types/seat" || r.Header.Get("ETag") != `"1"` {
					t.Errorf("created %+v, headers %v", rt, r.Header)
				}
			}},
		{op: "create-resource-type", name: "unknown class", who: "P", method: "POST", path: "/resource-types",
			body: map[string]any{"key": "meter", "name": name("Meter"), "unit": "u", "class": "meter"}, want: 400, field: "body.class"},
		{op: "create-resource-type", name: "key taken", who: "P", method: "POST", path: "/resource-types",
			body: map[string]any{"key": "mailbox", "name": name("Mailbox"), "unit": "u", "class": "limit"}, want: 409, field: "body.key"},
		{op: "create-resource-type", name: "a name in no language", who: "P", method: "POST", path: "/resource-types",
			body: map[string]any{"key": "tagless", "name": map[string]string{"not a tag!": "x"}, "unit": "u", "class": "limit"}, want: 400, field: "body.name"},
		{op: "create-resource-type", name: "a reseller", who: "L1a", method: "POST", path: "/resource-types",
			body: map[string]any{"key": "intruder", "name": name("Intruder"), "unit": "u", "class": "limit"}, want: 403},
		{op: "get-resource-type", name: "a reseller reads it", who: "L2", method: "GET", path: "/resource-types/seat", want: 200,
			check: etag(`"1"`)},
		{op: "get-resource-type", name: "missing", who: "L2", method: "GET", path: "/resource-types/nope", want: 404},
		{op: "update-resource-type", name: "current If-Match", who: "P", method: "PUT", path: "/resource-types/seat", body: rtUpdate,
			header: []string{"If-Match", `"1"`}, want: 200, check: func(t *testing.T, r *response) {
				var rt ResourceType
				r.JSON(t, &rt)
				if rt.Unit != "user" || rt.Version != 2 || r.Header.Get("ETag") != `"2"` {
					t.Errorf("updated %+v, ETag %q", rt, r.Header.Get("ETag"))
				}
			}},
		{op: "update-resource-type", name: "stale If-Match", who: "P", method: "PUT", path: "/resource-types/seat", body: rtUpdate,
			header: []string{"If-Match", `"1"`}, want: 412},
		{op: "update-resource-type", name: "another key in the body", who: "P", method: "PUT", path: "/resource-types/seat",
			body: map[string]any{"key": "chair", "name": name("Seat"), "unit": "user", "class": "limit"}, want: 400, field: "body.key"},
		{op: "update-resource-type", name: "missing", who: "P", method: "PUT", path: "/resource-types/nope", body: rtUpdate, want: 404},
		{op: "update-resource-type", name: "a reseller", who: "L1a", method: "PUT", path: "/resource-types/seat", body: rtUpdate, want: 403},
		{op: "get-resource-type", name: "the refused calls changed nothing", who: "C", method: "GET", path: "/resource-types/seat", want: 200,
			check: etag(`"2"`)},

		// ----- service templates -----
		{op: "list-templates", name: "a customer reads them", who: "C", method: "GET", path: "/templates", want: 200,
			check: exactly("office")},
		{op: "list-templates", name: "over the rate limit", who: throttled, method: "GET", path: "/templates", want: 429,
			check: catalogRetryAfter},
		{op: "list-templates", name: "limit out of range", who: "C", method: "GET", path: "/templates?limit=0", want: 400, field: "query.limit"},
		{op: "create-template", name: "the provider", who: "P", method: "POST", path: "/templates", body: tplBody, want: 201,
			check: func(t *testing.T, r *response) {
				var tpl Template
				r.JSON(t, &tpl)
				if tpl.Key != "cat-suite" || len(tpl.Resources) != 1 || tpl.Resources[0] != (TemplateResource{"mailbox", 3}) ||
					r.Header.Get("Location") != Prefix+"/templates/cat-suite" {
					t.Errorf("created %+v, headers %v", tpl, r.Header)
				}
			}},
		{op: "create-template", name: "unknown resource type", who: "P", method: "POST", path: "/templates",
			body: map[string]any{"key": "vps", "name": name("VPS"), "resources": []any{map[string]any{"resource": "vcpu", "limit": 1}}},
			want: 400, field: "body.resources[0].resource"},
		{op: "create-template", name: "key taken", who: "P", method: "POST", path: "/templates",
			body: map[string]any{"key": "office", "name": name("Office")}, want: 409},
		{op: "create-template", name: "a reseller", who: "L1a", method: "POST", path: "/templates",
			body: map[string]any{"key": "intruder", "name": name("Intruder")}, want: 403},
		{op: "get-template", name: "a reseller reads it", who: "L2", method: "GET", path: "/templates/office", want: 200,
			check: func(t *testing.T, r *response) {
				var tpl Template
				r.JSON(t, &tpl)
				if len(tpl.Resources) != 2 || tpl.Resources[1] != (TemplateResource{"storage", -1}) {
					t.Errorf("office %+v", tpl)
				}
			}},
		{op: "get-template", name: "missing", who: "C", method: "GET", path: "/templates/nope", want: 404},
		{op: "update-template", name: "current If-Match", who: "P", method: "PUT", path: "/templates/cat-suite", body: tplUpdate,
			header: []string{"If-Match", `"1"`}, want: 200, check: func(t *testing.T, r *response) {
				var tpl Template
				r.JSON(t, &tpl)
				if tpl.Version != 2 || len(tpl.Resources) != 1 || tpl.Resources[0] != (TemplateResource{"storage", -1}) {
					t.Errorf("updated %+v", tpl)
				}
			}},
		{op: "update-template", name: "stale If-Match", who: "P", method: "PUT", path: "/templates/cat-suite", body: tplUpdate,
			header: []string{"If-Match", `"1"`}, want: 412},
		{op: "update-template", name: "another key in the body", who: "P", method: "PUT", path: "/templates/cat-suite",
			body: map[string]any{"key": "other", "name": name("Suite")}, want: 400, field: "body.key"},
		{op: "update-template", name: "missing", who: "P", method: "PUT", path: "/templates/nope", body: tplUpdate, want: 404},
		{op: "update-template", name: "a limit below -1", who: "P", method: "PUT", path: "/templates/cat-suite",
			body: map[string]any{"name": name("Suite"), "resources": []any{map[string]any{"resource": "mailbox", "limit": -5}}},
			want: 400, field: "body.resources[0].limit"},
		{op: "update-template", name: "a reseller", who: "L1a", method: "PUT", path: "/templates/cat-suite", body: tplUpdate, want: 403},

		// ----- plan categories -----
		{op: "list-plan-categories", name: "own", who: "L1a", method: "GET", path: l1a + "/plan-categories", want: 200,
			check: exactly(c.alpha.catKey)},
		{op: "list-plan-categories", name: "a sibling's", who: "L1b", method: "GET", path: l1a + "/plan-categories", want: 404},
		{op: "create-plan-category", name: "own", who: "L1a", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": "cat-suites", "name": name("Suites"), "unique_group": true}, want: 201,
			check: func(t *testing.T, r *response) {
				var pc PlanCategory
				r.JSON(t, &pc)
				if pc.Key != "cat-suites" || !pc.UniqueGroup || pc.Version != 1 ||
					r.Header.Get("Location") != Prefix+l1a+"/plan-categories/cat-suites" {
					t.Errorf("created %+v, headers %v", pc, r.Header)
				}
			}},
		{op: "create-plan-category", name: "key taken", who: "L1a", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": c.alpha.catKey, "name": name("Again")}, want: 409},
		{op: "create-plan-category", name: "empty key", who: "L1a", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": "", "name": name("No key")}, want: 400, field: "body.key"},
		{op: "create-plan-category", name: "name of the wrong type", who: "L1a", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": "typed", "name": "Typed"}, want: 400, field: "body.name"},
		{op: "create-plan-category", name: "a read-only key", who: "L1a-support", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": "support", "name": name("Support")}, want: 403},
		{op: "create-plan-category", name: "a sibling's account", who: "L1b", method: "POST", path: l1a + "/plan-categories",
			body: map[string]any{"key": "intruder", "name": name("Intruder")}, want: 404},
		{op: "update-plan-category", name: "current If-Match", who: "L1a", method: "PUT", path: l1a + "/plan-categories/" + c.alpha.catKey,
			body: map[string]any{"name": name("Alpha suites"), "unique_group": true}, header: []string{"If-Match", `"1"`}, want: 200,
			check: func(t *testing.T, r *response) {
				var pc PlanCategory
				r.JSON(t, &pc)
				if pc.Name["en"] != "Alpha suites" || !pc.UniqueGroup || pc.Version != 2 || r.Header.Get("ETag") != `"2"` {
					t.Errorf("updated %+v", pc)
				}
			}},
		{op: "update-plan-category", name: "stale If-Match", who: "L1a", method: "PUT", path: l1a + "/plan-categories/" + c.alpha.catKey,
			body: map[string]any{"name": name("Lost")}, header: []string{"If-Match", `"1"`}, want: 412},
		{op: "update-plan-category", name: "another key in the body", who: "L1a", method: "PUT", path: l1a + "/plan-categories/" + c.alpha.catKey,
			body: map[string]any{"key": "other", "name": name("Other")}, want: 400, field: "body.key"},
		{op: "update-plan-category", name: "missing", who: "L1a", method: "PUT", path: l1a + "/plan-categories/nope",
			body: map[string]any{"name": name("Nope")}, want: 404},
		{op: "update-plan-category", name: "a read-only key", who: "L1a-support", method: "PUT", path: l1a + "/plan-categories/" + c.alpha.catKey,
			body: map[string]any{"name": name("Support")}, want: 403},
		{op: "list-plan-categories", name: "the parent reads them", who: "P", method: "GET", path: l1a + "/plan-categories", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[PlanCategory]
				r.JSON(t, &page)
				if len(page.Items) != 2 || page.Items[0].Key != c.alpha.catKey || page.Items[0].Name["en"] != "Alpha suites" ||
					page.Items[1].Key != "cat-suites" {
					t.Errorf("categories %+v", page.Items)
				}
			}},

		// ----- sales categories -----
		{op: "list-sales-categories", name: "own", who: "L1a", method: "GET", path: l1a + "/sales-categories", want: 200,
			check: exactly(c.alpha.shelfKey)},
		{op: "list-sales-categories", name: "a sibling's", who: "L1b", method: "GET", path: l1a + "/sales-categories", want: 404},
		{op: "create-sales-category", name: "a shelf of shelves", who: "L1a", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": "cat-software", "name": name("Software"), "holds": "categories", "position": 2}, want: 201,
			check: func(t *testing.T, r *response) {
				var sc SalesCategory
				r.JSON(t, &sc)
				if sc.Holds != "categories" || !sc.Displayed || sc.Position != 2 ||
					r.Header.Get("Location") != Prefix+l1a+"/sales-categories/cat-software" {
					t.Errorf("created %+v, headers %v", sc, r.Header)
				}
			}},
		{op: "create-sales-category", name: "a hidden sub-shelf", who: "L1a", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": "cat-office", "name": name("Office"), "holds": "plans", "parent": "cat-software", "displayed": false},
			want: 201, check: func(t *testing.T, r *response) {
				var sc SalesCategory
				r.JSON(t, &sc)
				if sc.Parent != "cat-software" || sc.Displayed {
					t.Errorf("created %+v", sc)
				}
			}},
		{op: "create-sales-category", name: "unknown holds", who: "L1a", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": "boxes", "name": name("Boxes"), "holds": "boxes"}, want: 400, field: "body.holds"},
		{op: "create-sales-category", name: "under a shelf of plans", who: "L1a", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": "nested", "name": name("Nested"), "holds": "plans", "parent": c.alpha.shelfKey}, want: 400, field: "body.parent"},
		{op: "create-sales-category", name: "key taken", who: "L1a", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": c.alpha.shelfKey, "name": name("Again"), "holds": "plans"}, want: 409},
		{op: "create-sales-category", name: "a customer's", who: "L2", method: "POST", path: "/accounts/" + id(c.C.ID) + "/sales-categories",
			body: map[string]any{"key": "shelf", "name": name("Shelf"), "holds": "plans"}, want: 409},
		{op: "create-sales-category", name: "a read-only key", who: "L1a-support", method: "POST", path: l1a + "/sales-categories",
			body: map[string]any{"key": "support", "name": name("Support"), "holds": "plans"}, want: 403},
		{op: "update-sales-category", name: "current If-Match", who: "L1a", method: "PUT", path: shelf,
			body:   map[string]any{"name": name("Alpha apps"), "holds": "plans", "parent": "cat-software", "position": 3},
			header: []string{"If-Match", `"1"`}, want: 200, check: func(t *testing.T, r *response) {
				var sc SalesCategory
				r.JSON(t, &sc)
				if sc.Name["en"] != "Alpha apps" || sc.Parent != "cat-software" || sc.Position != 3 || !sc.Displayed || sc.Version != 2 {
					t.Errorf("updated %+v", sc)
				}
			}},
		{op: "update-sales-category", name: "stale If-Match", who: "L1a", method: "PUT", path: shelf,
			body: map[string]any{"name": name("Lost"), "holds": "plans"}, header: []string{"If-Match", `"1"`}, want: 412},
		{op: "update-sales-category", name: "display through PUT", who: "L1a", method: "PUT", path: shelf,
			body: map[string]any{"name": name("Hidden"), "holds": "plans", "displayed": false}, want: 400, field: "body.displayed"},
		{op: "update-sales-category", name: "below itself", who: "L1a", method: "PUT", path: l1a + "/sales-categories/cat-software",
			body: map[string]any{"name": name("Software"), "holds": "categories", "parent": "cat-software"}, want: 400, field: "body.parent"},
		{op: "update-sales-category", name: "missing", who: "L1a", method: "PUT", path: l1a + "/sales-categories/nope",
			body: map[string]any{"name": name("Nope"), "holds": "plans"}, want: 404},
		{op: "update-sales-category", name: "a read-only key", who: "L1a-support", method: "PUT", path: shelf,
			body: map[string]any{"name": name("Support"), "holds": "plans"}, want: 403},
		{op: "display-sales-category", name: "hide", who: "L1a", method: "POST", path: shelf + "/display",
			body: map[string]any{"displayed": false}, want: 200, check: func(t *testing.T, r *response) {
				var sc SalesCategory
				r.JSON(t, &sc)
				if sc.Displayed || sc.Name["en"] != "Alpha apps" || sc.Version != 3 || r.Header.Get("ETag") != `"3"` {
					t.Errorf("hidden %+v", sc)
				}
			}},
		{op: "display-sales-category", name: "no choice", who: "L1a", method: "POST", path: shelf + "/display",
			body: map[string]any{}, want: 400, field: "body.displayed"},
		{op: "display-sales-category", name: "malformed JSON", who: "L1a", method: "POST", path: shelf + "/display",
			raw: `{"displayed": tru`, want: 400, field: "body"},
		{op: "display-sales-category", name: "missing", who: "L1a", method: "POST", path: l1a + "/sales-categories/nope/display",
			body: map[string]any{"displayed": true}, want: 404},
		{op: "display-sales-category", name: "a sibling's", who: "L1b", method: "POST", path: shelf + "/display",
			body: map[string]any{"displayed": true}, want: 404},
		{op: "display-sales-category", name: "a read-only key", who: "L1a-support", method: "POST", path: shelf + "/display",
			body: map[string]any{"displayed": true}, want: 403},
		{op: "list-sales-categories", name: "in tree order", who: "L1a-support", method: "GET", path: l1a + "/sales-categories", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[SalesCategory]
				r.JSON(t, &page)
				var got []string
				for _, sc := range page.Items {
					got = append(got, sc.Key+"/"+sc.Parent+"/"+map[bool]string{true: "shown", false: "hidden"}[sc.Displayed])
				}
				want := []string{"cat-software//shown", "cat-office/cat-software/hidden", c.alpha.shelfKey + "/cat-software/hidden"}
				if !slices.Equal(got, want) {
					t.Errorf("tree %v, want %v", got, want)
				}
			}},

		// ----- delegation terms -----
		{op: "get-delegation-terms", name: "never set", who: "L1a", method: "GET", path: l1a + "/delegation-terms", want: 200,
			check: func(t *testing.T, r *response) {
				var dt DelegationTerms
				r.JSON(t, &dt)
				if dt.ChildID != c.L1a.ID || dt.SetBy != 0 || len(dt.Restrictions) != 0 || dt.UpdatedAt != nil || r.Header.Get("ETag") != `"t0"` {
					t.Errorf("terms %+v, ETag %q", dt, r.Header.Get("ETag"))
				}
			}},
		{op: "get-delegation-terms", name: "a sibling's", who: "L1b", method: "GET", path: l1a + "/delegation-terms", want: 404},
		{op: "set-delegation-terms", name: "the parent", who: "P", method: "PUT", path: l1b + "/delegation-terms",
			body:   map[string]any{"restrictions": []string{"pricing", "publication"}, "prohibit_cascade": true},
			header: []string{"If-Match", `"t0"`}, want: 200, check: func(t *testing.T, r *response) {
				var dt DelegationTerms
				r.JSON(t, &dt)
				if dt.ChildID != c.L1b.ID || dt.SetBy != c.P.ID || !dt.ProhibitCascade || !slices.Equal(dt.Restrictions, []string{"pricing", "publication"}) ||
					dt.UpdatedAt == nil || r.Header.Get("ETag") == `"t0"` {
					t.Errorf("terms %+v, ETag %q", dt, r.Header.Get("ETag"))
				}
			}},
		{op: "set-delegation-terms", name: "stale If-Match", who: "P", method: "PUT", path: l1b + "/delegation-terms",
			body: map[string]any{}, header: []string{"If-Match", `"t0"`}, want: 412},
		{op: "set-delegation-terms", name: "unknown restriction", who: "P", method: "PUT", path: l1b + "/delegation-terms",
			body: map[string]any{"restrictions": []string{"everything"}}, want: 400, field: "body.restrictions[0]"},
		{op: "set-delegation-terms", name: "a restriction twice", who: "P", method: "PUT", path: l1b + "/delegation-terms",
			body: map[string]any{"restrictions": []string{"pricing", "pricing"}}, want: 400, field: "body.restrictions[1]"},
		{op: "set-delegation-terms", name: "the provider, which has no parent", who: "P", method: "PUT", path: pAcct + "/delegation-terms",
			body: map[string]any{}, want: 400},
		{op: "set-delegation-terms", name: "a customer", who: "L2", method: "PUT", path: "/accounts/" + id(c.C.ID) + "/delegation-terms",
			body: map[string]any{}, want: 400},
		{op: "set-delegation-terms", name: "the child itself", who: "L1b", method: "PUT", path: l1b + "/delegation-terms",
			body: map[string]any{}, want: 403},
		{op: "set-delegation-terms", name: "a sibling's", who: "L1b", method: "PUT", path: l1a + "/delegation-terms",
			body: map[string]any{}, want: 404},
		{op: "get-delegation-terms", name: "the child reads what its parent set", who: "L1b", method: "GET", path: l1b + "/delegation-terms",
			want: 200, check: func(t *testing.T, r *response) {
				var dt DelegationTerms
				r.JSON(t, &dt)
				if dt.SetBy != c.P.ID || len(dt.Restrictions) != 2 {
					t.Errorf("terms after the refused calls %+v", dt)
				}
			}},

		// ----- plans -----
		{op: "list-account-plans", name: "first page", who: "L1a", method: "GET", path: l1a + "/plans?limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[Plan]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].Key != "alpha-plan" || page.NextCursor != encodeCursor(cursorPlans, "alpha-plan") {
					t.Errorf("first page %+v", page)
				}
			}},
		{op: "list-account-plans", name: "next page", who: "L1a", method: "GET",
			path: l1a + "/plans?limit=1&cursor=" + encodeCursor(cursorPlans, "alpha-plan"), want: 200, check: exactly("cat-basic")},
		{op: "list-account-plans", name: "unpublished", who: "L1a", method: "GET", path: l1a + "/plans?published=false&template=office",
			want: 200, check: exactly("cat-basic")},
		{op: "list-account-plans", name: "a published filter that is not a boolean", who: "L1a", method: "GET", path: l1a + "/plans?published=maybe",
			want: 400, field: "query.published"},
		{op: "list-account-plans", name: "a cursor of another list", who: "L1a", method: "GET",
			path: l1a + "/plans?cursor=" + encodeCursor(cursorPlanCopies, "1"), want: 400, field: "query.cursor"},
		{op: "list-account-plans", name: "a limit out of range", who: "L1a", method: "GET", path: l1a + "/plans?limit=0", want: 400, field: "query.limit"},
		{op: "list-account-plans", name: "a sibling's", who: "L1b", method: "GET", path: l1a + "/plans", want: 404},
		{op: "create-plan", name: "the provider", who: "P", method: "POST", path: pAcct + "/plans", body: planBody("cat-new"), want: 201,
			check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if pl.Key != "cat-new" || pl.OwnerID != c.P.ID || pl.Periods[0].Recurring.Amount != "10.00" || pl.Periods[0].Setup.Amount != "5.00" ||
					pl.Rates[0].Recurring.Amount != "2.50" || !pl.OnSale || r.Header.Get("Location") != Prefix+"/plans/"+id(pl.ID) {
					t.Errorf("created %+v, headers %v", pl, r.Header)
				}
			}},
		{op: "create-plan", name: "a trial that converts", who: "P", method: "POST", path: pAcct + "/plans",
			body: func() map[string]any {
				b := planBody("cat-trial")
				b["periods"] = append(b["periods"].([]any), map[string]any{"key": "14d", "duration": map[string]any{"n": 14, "unit": "day"},
					"trial": true, "converts_to": "1m"})
				return b
			}(), want: 201, check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if len(pl.Periods) != 2 || pl.Periods[1].ConvertsTo != "1m" || !pl.Periods[1].Trial {
					t.Errorf("created periods %+v", pl.Periods)
				}
			}},
		{op: "create-plan", name: "a trial that converts to a trial", who: "P", method: "POST", path: pAcct + "/plans",
			body: func() map[string]any {
				b := planBody("cat-trial-loop")
				b["periods"] = append(b["periods"].([]any), map[string]any{"key": "14d", "duration": map[string]any{"n": 14, "unit": "day"},
					"trial": true, "converts_to": "14d"})
				return b
			}(), want: 400, field: "body.periods[1].converts_to"},
		{op: "create-plan", name: "an amount that is not one", who: "P", method: "POST", path: pAcct + "/plans", body: badAmount,
			want: 400, field: "body.periods[0].recurring.amount"},
		{op: "create-plan", name: "unknown billing", who: "P", method: "POST", path: pAcct + "/plans",
			body: func() map[string]any { b := planBody("cat-billing"); b["billing"] = "whenever"; return b }(), want: 400, field: "body.billing"},
		{op: "create-plan", name: "key taken", who: "P", method: "POST", path: pAcct + "/plans", body: planBody("cat-basic"), want: 409, field: "body.key"},
		{op: "create-plan", name: "a customer's", who: "L2", method: "POST", path: "/accounts/" + id(c.C.ID) + "/plans", body: planBody("cat-customer"), want: 409},
		{op: "create-plan", name: "a price rule on an original", who: "P", method: "POST", path: pAcct + "/plans",
			body: func() map[string]any {
				b := planBody("cat-ruled")
				b["rule"] = map[string]any{"kind": "copy"}
				return b
			}(), want: 400, field: "body.rule"},
		{op: "create-plan", name: "a read-only key", who: "L1a-support", method: "POST", path: l1a + "/plans", body: planBody("cat-support"), want: 403},
		{op: "create-plan", name: "a sibling's account", who: "L1b", method: "POST", path: l1a + "/plans", body: planBody("cat-intruder"), want: 404},
		{op: "get-plan", name: "a synced copy", who: "L1a", method: "GET", path: cpPath, want: 200, check: func(t *testing.T, r *response) {
			var pl Plan
			r.JSON(t, &pl)
			if pl.SourceID != src.ID || pl.OwnerID != c.L1a.ID || pl.Periods[0].Recurring.Amount != "15.00" ||
				pl.Rates[0].Recurring.Amount != "3.60" || pl.Published || pl.Rule == nil || pl.Rule.Kind != "percent" ||
				r.Header.Get("ETag") != etagOf(pl.Version) {
				t.Errorf("copy %+v, ETag %q", pl, r.Header.Get("ETag"))
			}
		}},
		{op: "get-plan", name: "a sibling's", who: "L1b", method: "GET", path: cpPath, want: 404},
		{op: "get-plan", name: "missing", who: "P", method: "GET", path: "/plans/987654", want: 404},
		{op: "get-plan", name: "an id that is not a number", who: "P", method: "GET", path: "/plans/abc", want: 400, field: "path.id"},
		{op: "update-plan", name: "current If-Match", who: "P", method: "PUT", path: srcPath, body: renamed,
			header: []string{"If-Match", `"2"`}, want: 200, check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if pl.Name["en"] != "Office Basic Plus" || pl.Periods[0].Recurring.Amount != "12.50" || pl.Version != 3 || r.Header.Get("ETag") != `"3"` {
					t.Errorf("updated %+v", pl)
				}
			}},
		{op: "update-plan", name: "stale If-Match", who: "P", method: "PUT", path: srcPath, body: renamed,
			header: []string{"If-Match", `"2"`}, want: 412},
		{op: "update-plan", name: "a copy below its cost", who: "L1a", method: "PUT", path: cpPath, body: belowCost,
			want: 400, field: "body.periods[1m].recurring.amount"},
		{op: "update-plan", name: "a read-only key", who: "L1a-support", method: "PUT", path: alphaPlan, body: planBody("alpha-plan"), want: 403},
		{op: "update-plan", name: "a sibling's", who: "L1b", method: "PUT", path: cpPath, body: belowCost, want: 404},
		{op: "patch-plan", name: "a merge patch with read-only members", who: "P", method: "PATCH", path: srcPath,
			body:   map[string]any{"description": name("Patched"), "id": 987654, "version": 99, "on_sale": false, "created_at": "2000-01-01T00:00:00Z"},
			header: []string{"Content-Type", "application/merge-patch+json", "If-Match", `"3"`}, want: 200, check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if pl.ID != src.ID || pl.Description["en"] != "Patched" || pl.Name["en"] != "Office Basic Plus" ||
					pl.Periods[0].Recurring.Amount != "12.50" || !pl.OnSale || pl.Version != 4 || r.Header.Get("ETag") != `"4"` {
					t.Errorf("patched %+v", pl)
				}
			}},
		{op: "patch-plan", name: "null removes a member", who: "P", method: "PATCH", path: srcPath,
			body: map[string]any{"description": nil}, header: []string{"Content-Type", "application/merge-patch+json"}, want: 200,
			check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if pl.Description != nil || pl.Name["en"] != "Office Basic Plus" || pl.Version != 5 {
					t.Errorf("patched %+v", pl)
				}
			}},
		{op: "patch-plan", name: "stale If-Match", who: "P", method: "PATCH", path: srcPath, body: map[string]any{"description": name("Stale")},
			header: []string{"Content-Type", "application/merge-patch+json", "If-Match", `"3"`}, want: 412},
		{op: "patch-plan", name: "not an object", who: "P", method: "PATCH", path: srcPath, raw: `[1]`,
			header: []string{"Content-Type", "application/merge-patch+json"}, want: 400, field: "body"},
		{op: "patch-plan", name: "a member of the wrong type", who: "P", method: "PATCH", path: srcPath, body: map[string]any{"periods": "monthly"},
			header: []string{"Content-Type", "application/merge-patch+json"}, want: 400, field: "body.periods"},
		{op: "patch-plan", name: "an amount that is not one", who: "P", method: "PATCH", path: srcPath,
			body:   map[string]any{"periods": []any{map[string]any{"key": "1m", "duration": map[string]any{"n": 1, "unit": "month"}, "recurring": map[string]any{"amount": "1e3"}}}},
			header: []string{"Content-Type", "application/merge-patch+json"}, want: 400, field: "body.periods[0].recurring.amount"},
		{op: "patch-plan", name: "a read-only key", who: "L1a-support", method: "PATCH", path: alphaPlan, body: map[string]any{"published": false},
			header: []string{"Content-Type", "application/merge-patch+json"}, want: 403},
		{op: "patch-plan", name: "a sibling's", who: "L1b", method: "PATCH", path: cpPath, body: map[string]any{"published": false},
			header: []string{"Content-Type", "application/merge-patch+json"}, want: 404},

		// ----- delegation and sync -----
		{op: "list-plan-copies", name: "one copy", who: "P", method: "GET", path: srcPath + "/copies", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[Plan]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].ID != cp.ID || page.NextCursor != "" {
					t.Errorf("copies %+v", page)
				}
			}},
		{op: "list-plan-copies", name: "a sibling's", who: "L1b", method: "GET", path: srcPath + "/copies", want: 404},
		{op: "list-plan-copies", name: "a cursor that is not one", who: "P", method: "GET", path: srcPath + "/copies?cursor=nonsense",
			want: 400, field: "query.cursor"},
		{op: "preview-plan-sync", name: "the new name", who: "P", method: "POST", path: srcPath + "/sync/preview",
			body: map[string]any{"options": []string{"names"}}, want: 200, check: func(t *testing.T, r *response) {
				var pv SyncPreview
				r.JSON(t, &pv)
				if pv.Copies != 1 || pv.Changes != 1 || pv.Skipped != 0 || len(pv.Items) != 1 {
					t.Fatalf("preview %+v", pv)
				}
				it := pv.Items[0]
				if it.PlanID != cp.ID || it.OwnerID != c.L1a.ID || it.Depth != 1 || len(it.Changes) != 1 ||
					it.Changes[0].Field != "name" || !strings.Contains(it.Changes[0].New, "Office Basic Plus") {
					t.Errorf("preview item %+v", it)
				}
			}},
		{op: "preview-plan-sync", name: "unknown option", who: "P", method: "POST", path: srcPath + "/sync/preview",
			body: map[string]any{"options": []string{"fees", "prices"}}, want: 400, field: "body.options"},
		{op: "preview-plan-sync", name: "a sibling's", who: "L1b", method: "POST", path: cpPath + "/sync/preview",
			body: map[string]any{"options": []string{"all"}}, want: 404},
		{op: "get-plan", name: "the preview changed nothing", who: "L1a", method: "GET", path: cpPath, want: 200,
			check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				if pl.Name["en"] != "Office cat-basic" {
					t.Errorf("copy after the preview %+v", pl.Name)
				}
			}},
		{op: "sync-plan", name: "the provider", who: "P", method: "POST", path: srcPath + "/sync",
			body: map[string]any{"options": []string{"names"}, "one_level": true}, want: 202, check: func(t *testing.T, r *response) {
				var sr SyncRun
				r.JSON(t, &sr)
				if sr.Status != "queued" || sr.PlanID != src.ID || !slices.Equal(sr.Options, []string{"names"}) || !sr.OneLevel ||
					sr.FinishedAt != nil || r.Header.Get("Location") != Prefix+"/sync-runs/"+id(sr.ID) {
					t.Errorf("run %+v, headers %v", sr, r.Header)
				}
			}},
		{op: "sync-plan", name: "no options", who: "P", method: "POST", path: srcPath + "/sync",
			body: map[string]any{"options": []string{}}, want: 400, field: "body.options"},
		{op: "sync-plan", name: "malformed JSON", who: "P", method: "POST", path: srcPath + "/sync",
			raw: `{"options": ["fees"`, want: 400},
		{op: "sync-plan", name: "a read-only key", who: "L1a-support", method: "POST", path: cpPath + "/sync",
			body: map[string]any{"options": []string{"fees"}}, want: 403},
		{op: "sync-plan", name: "a sibling's", who: "L1b", method: "POST", path: srcPath + "/sync",
			body: map[string]any{"options": []string{"fees"}}, want: 404},
		{op: "list-plan-sync-runs", name: "newest first", who: "P", method: "GET", path: srcPath + "/sync-runs?limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[SyncRun]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].Status != "queued" || !slices.Equal(page.Items[0].Options, []string{"names"}) ||
					page.NextCursor != encodeCursor(cursorSyncRuns, id(page.Items[0].ID)) {
					t.Errorf("first page %+v", page)
				}
			}},
		{op: "list-plan-sync-runs", name: "before the newest", who: "P", method: "GET",
			path: srcPath + "/sync-runs?cursor=" + encodeCursor(cursorSyncRuns, id(run.ID+1)), want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[SyncRun]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].ID != run.ID || page.Items[0].Status != "completed" {
					t.Errorf("older runs %+v", page)
				}
			}},
		{op: "list-plan-sync-runs", name: "a cursor that is not one", who: "P", method: "GET", path: srcPath + "/sync-runs?cursor=nonsense",
			want: 400, field: "query.cursor"},
		{op: "list-plan-sync-runs", name: "a sibling's", who: "L1b", method: "GET", path: alphaPlan + "/sync-runs", want: 404},
		{op: "get-sync-run", name: "a completed run", who: "P", method: "GET", path: "/sync-runs/" + id(run.ID), want: 200,
			check: func(t *testing.T, r *response) {
				var sr SyncRun
				r.JSON(t, &sr)
				if sr.Status != "completed" || sr.PlanID != src.ID || sr.CopiesChanged != 1 || sr.Changes != 2 || sr.FinishedAt == nil ||
					!slices.Equal(sr.Options, []string{"fees", "resource_prices"}) {
					t.Errorf("run %+v", sr)
				}
			}},
		{op: "get-sync-run", name: "a queued run of its own plan", who: "L1a-support", method: "GET", path: "/sync-runs/" + id(c.alpha.syncRunID),
			want: 200, check: func(t *testing.T, r *response) {
				var sr SyncRun
				r.JSON(t, &sr)
				if sr.Status != "queued" || sr.PlanID != c.alpha.planID || sr.FinishedAt != nil {
					t.Errorf("run %+v", sr)
				}
			}},
		{op: "get-sync-run", name: "its parent's", who: "L1a", method: "GET", path: "/sync-runs/" + id(run.ID), want: 404},
		{op: "get-sync-run", name: "missing", who: "P", method: "GET", path: "/sync-runs/987654", want: 404},
		{op: "list-plan-changes", name: "newest first", who: "L1a", method: "GET", path: cpPath + "/changes?limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[PlanChange]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.NextCursor == "" {
					t.Errorf("first page %+v", page)
				}
			}},
		{op: "list-plan-changes", name: "what the sync changed", who: "L1a", method: "GET", path: cpPath + "/changes", want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[PlanChange]
				r.JSON(t, &page)
				got := map[string]string{}
				for _, ch := range page.Items {
					if ch.PlanID != cp.ID || ch.SyncRunID != run.ID {
						t.Errorf("change %+v", ch)
					}
					got[ch.Field] = ch.Old + " → " + ch.New + " " + ch.Effective
				}
				want := map[string]string{"periods[1m].recurring.amount": "12.00 → 15.00 next_billing",
					"rates[mailbox].recurring.amount": "3.00 → 3.60 next_billing"}
				if len(got) != len(want) || got["periods[1m].recurring.amount"] != want["periods[1m].recurring.amount"] ||
					got["rates[mailbox].recurring.amount"] != want["rates[mailbox].recurring.amount"] || page.NextCursor != "" {
					t.Errorf("changes %v, want %v", got, want)
				}
			}},
		{op: "list-plan-changes", name: "a limit that is not a number", who: "L1a", method: "GET", path: cpPath + "/changes?limit=many",
			want: 400, field: "query.limit"},
		{op: "list-plan-changes", name: "a cursor that is not one", who: "L1a", method: "GET", path: cpPath + "/changes?cursor=nonsense",
			want: 400, field: "query.cursor"},
		{op: "list-plan-changes", name: "a sibling's", who: "L1b", method: "GET", path: cpPath + "/changes", want: 404},
		{op: "delegate-plan", name: "to the other child", who: "P", method: "POST", path: srcPath + "/delegate",
			body: map[string]any{"child_id": c.L1b.ID, "rule": map[string]any{"kind": "fixed", "fixed": "1.00"}, "publish": true}, want: 201,
			check: func(t *testing.T, r *response) {
				var pl Plan
				r.JSON(t, &pl)
				// 12.50 + 1.00, 5.00 + 1.00, 3.00 + 1.00.
				if pl.OwnerID != c.L1b.ID || pl.SourceID != src.ID || pl.Periods[0].Recurring.Amount != "13.50" ||
					pl.Periods[0].Setup.Amount != "6.00" || pl.Rates[0].Recurring.Amount != "4.00" || !pl.Published ||
					pl.Rule == nil || pl.Rule.Fixed != "1.00" || r.Header.Get("Location") != Prefix+"/plans/"+id(pl.ID) {
					t.Errorf("copy %+v, headers %v", pl, r.Header)
				}
			}},
		{op: "delegate-plan", name: "a copy twice", who: "P", method: "POST", path: srcPath + "/delegate",
			body: map[string]any{"child_id": c.L1b.ID}, want: 409},
		{op: "delegate-plan", name: "a grandchild", who: "P", method: "POST", path: srcPath + "/delegate",
			body: map[string]any{"child_id": c.L2.ID}, want: 400, field: "body.child_id"},
		{op: "delegate-plan", name: "unknown rule", who: "P", method: "POST", path: srcPath + "/delegate",
			body: map[string]any{"child_id": c.L1b.ID, "rule": map[string]any{"kind": "discount"}}, want: 400, field: "body.rule.kind"},
		{op: "delegate-plan", name: "a percent rule without its percent", who: "P", method: "POST", path: srcPath + "/delegate",
			body: map[string]any{"child_id": c.L1b.ID, "rule": map[string]any{"kind": "percent"}}, want: 400, field: "body.rule.percent"},
		{op: "delegate-plan", name: "a read-only key", who: "L1a-support", method: "POST", path: cpPath + "/delegate",
			body: map[string]any{"child_id": c.L2.ID}, want: 403},
		{op: "delegate-plan", name: "a sibling's", who: "L1b", method: "POST", path: cpPath + "/delegate",
			body: map[string]any{"child_id": c.L2.ID}, want: 404},
		{op: "list-plan-copies", name: "after the first", who: "P", method: "GET",
			path: srcPath + "/copies?cursor=" + encodeCursor(cursorPlanCopies, id(cp.ID)), want: 200,
			check: func(t *testing.T, r *response) {
				var page Page[Plan]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].OwnerID != c.L1b.ID {
					t.Errorf("copies after L1a's %+v", page)
				}
			}},
		{op: "delete-plan", name: "a plan with copies", who: "P", method: "DELETE", path: srcPath, want: 409},
		{op: "delete-plan", name: "stale If-Match", who: "P", method: "DELETE", path: doomedPath, header: []string{"If-Match", `"9"`}, want: 412},
		{op: "delete-plan", name: "a read-only key", who: "L1a-support", method: "DELETE", path: cpPath, want: 403},
		{op: "delete-plan", name: "a sibling's", who: "L1b", method: "DELETE", path: cpPath, want: 404},
		{op: "delete-plan", name: "current If-Match", who: "P", method: "DELETE", path: doomedPath, header: []string{"If-Match", `"1"`}, want: 204},
		{op: "get-plan", name: "deleted", who: "P", method: "GET", path: doomedPath, want: 404},
		{op: "delete-plan", name: "deleted already", who: "P", method: "DELETE", path: doomedPath, want: 404},

		// ----- connectors: the provider's -----
		{op: "list-connectors", name: "none yet", who: "P", method: "GET", path: "/connectors", want: 200, check: exactly()},
		{op: "list-connectors", name: "a reseller", who: "L1a", method: "GET", path: "/connectors", want: 403},
		{op: "register-connector", name: "dry run", who: "P", method: "POST", path: "/connectors",
			body: registerBody(c.vendor.url, connectorSecret, true), want: 200, check: func(t *testing.T, r *response) {
				noSecret(t, r)
				var reg ConnectorRegistration
				r.JSON(t, &reg)
				if !reg.DryRun || !reg.New || reg.Connector.Name != "memory" || reg.Created.Plan == nil || reg.Created.Plan.ID != 0 ||
					r.Header.Get("Location") != "" {
					t.Errorf("dry run %s", r.Body)
				}
			}},
		{op: "register-connector", name: "new", who: "P", method: "POST", path: "/connectors",
			body: registerBody(c.vendor.url, connectorSecret, false), want: 201, check: func(t *testing.T, r *response) {
				noSecret(t, r)
				var reg ConnectorRegistration
				r.JSON(t, &reg)
				if reg.DryRun || !reg.New || reg.Connector.Status != "registered" || reg.Connector.URL != c.vendor.url ||
					reg.Created.Template != "memory" || reg.Created.Plan == nil || reg.Created.Plan.Key != "memory-starter" ||
					r.Header.Get("Location") != Prefix+"/connectors/memory" {
					t.Errorf("registration %s", r.Body)
				}
			}},
		{op: "register-connector", name: "again, unchanged", who: "P", method: "POST", path: "/connectors",
			body: registerBody(c.vendor.url, connectorSecret, false), want: 200, check: func(t *testing.T, r *response) {
				var reg ConnectorRegistration
				r.JSON(t, &reg)
				if reg.New || reg.DryRun || len(reg.Changes) != 0 || reg.ManifestChanged {
					t.Errorf("again %s", r.Body)
				}
			}},
		{op: "register-connector", name: "its name at another URL", who: "P", method: "POST", path: "/connectors",
			body: registerBody(impostor.url, "another-secret", false), want: 409, field: "body.url", check: noSecret},
		{op: "register-connector", name: "no secret", who: "P", method: "POST", path: "/connectors",
			body: map[string]any{"url": c.vendor.url, "secret": ""}, want: 400, field: "body.secret"},
		{op: "register-connector", name: "not an http URL", who: "P", method: "POST", path: "/connectors",
			body: map[string]any{"url": "ftp://example.com", "secret": "x"}, want: 400, field: "body.url"},
		{op: "register-connector", name: "unreachable", who: "P", method: "POST", path: "/connectors",
			body: registerBody(gone.URL, connectorSecret, false), want: 503, check: func(t *testing.T, r *response) {
				if p := r.Problem(t); !strings.Contains(p.Detail, "cannot be reached") {
					t.Errorf("unreachable: %+v", p)
				}
			}},
		{op: "register-connector", name: "a reseller", who: "L1a", method: "POST", path: "/connectors",
			body: registerBody(c.vendor.url, connectorSecret, false), want: 403},
		{op: "list-connectors", name: "the registered one", who: "P", method: "GET", path: "/connectors", want: 200,
			check: func(t *testing.T, r *response) {
				noSecret(t, r)
				var page Page[Connector]
				r.JSON(t, &page)
				if len(page.Items) != 1 || page.Items[0].Name != "memory" || page.Items[0].URL != c.vendor.url {
					t.Errorf("connectors %+v", page.Items)
				}
			}},
		{op: "get-connector", name: "registered", who: "P", method: "GET", path: "/connectors/memory", want: 200,
			check: func(t *testing.T, r *response) {
				noSecret(t, r)
				var cn Connector
				r.JSON(t, &cn)
				if cn.Status != "registered" || cn.ManifestVersion != "1.0.0" || len(cn.Manifest.Resources) != 4 || cn.LastCheckedAt == nil ||
					r.Header.Get("ETag") != `"1"` {
					t.Errorf("connector %s, ETag %q", r.Body, r.Header.Get("ETag"))
				}
			}},
		{op: "get-connector", name: "missing", who: "P", method: "GET", path: "/connectors/nope", want: 404},
		{op: "get-connector", name: "a name too long", who: "P", method: "GET", path: "/connectors/" + strings.Repeat("n", 64), want: 400, field: "path.name"},
		{op: "get-connector", name: "a reseller", who: "L1a", method: "GET", path: "/connectors/memory", want: 403},
		{op: "refresh-connector", name: "dry run", who: "P", method: "POST", path: "/connectors/memory/refresh",
			body: map[string]any{"dry_run": true}, want: 200, check: func(t *testing.T, r *response) {
				noSecret(t, r)
				var reg ConnectorRegistration
				r.JSON(t, &reg)
				if !reg.DryRun || reg.New || reg.ManifestChanged || len(reg.Changes) != 0 || reg.PreviousManifestVersion != "1.0.0" {
					t.Errorf("refresh dry run %s", r.Body)
				}
			}},
		{op: "refresh-connector", name: "no body", who: "P", method: "POST", path: "/connectors/memory/refresh", want: 200,
			check: func(t *testing.T, r *response) {
				var reg ConnectorRegistration
				r.JSON(t, &reg)
				if reg.DryRun || reg.New || reg.Connector.Status != "registered" {
					t.Errorf("refresh %s", r.Body)
				}
			}},
		{op: "refresh-connector", name: "dry_run of the wrong type", who: "P", method: "POST", path: "/connectors/memory/refresh",
			body: map[string]any{"dry_run": "yes"}, want: 400, field: "body.dry_run"},
		{op: "refresh-connector", name: "malformed JSON", who: "P", method: "POST", path: "/connectors/memory/refresh",
			raw: `nope`, want: 400, field: "body"},
		{op: "refresh-connector", name: "missing", who: "P", method: "POST", path: "/connectors/nope/refresh", want: 404},
		{op: "refresh-connector", name: "a reseller", who: "L1a", method: "POST", path: "/connectors/memory/refresh", want: 403},
		{op: "list-resource-types", name: "with the connector's", who: "L2", method: "GET", path: "/resource-types", want: 200,
			check: holds("mailbox", "memory.storage_mb", "seat", "storage")},
		{op: "list-templates", name: "with the connector's", who: "L2", method: "GET", path: "/templates", want: 200,
			check: exactly("cat-suite", "memory", "office")},
	}
}

// catalogThrottledKey gives C a second admin key, named "C-throttled",
// whose rate budget is spent, and sets c's API to limit that key alone:
// every other principal's bucket is unlimited. It returns the key's name.
func catalogThrottledKey(t *testing.T, c *contract) string {
	t.Helper()
	k, token, err := c.db.CreateAPIKey(context.Background(), account.SystemActor(), c.C.ID, c.roles[account.RoleAdmin].ID,
		"throttled", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	spent := rate.NewLimiter(rate.Every(time.Hour), 1)
	spent.AllowN(now, 1)
	c.api.limiter = &rateLimiter{limit: rate.Inf, burst: 1, refilled: 24 * time.Hour, now: time.Now, lastSweep: now,
		buckets: map[string]*bucket{principal(&account.Actor{KeyID: k.ID}): {limiter: spent, used: now}}}
	c.keys["C-throttled"] = token
	return "C-throttled"
}

// catalogRetryAfter checks a 429's Retry-After: about the hour the spent
// bucket takes to give a token back.
func catalogRetryAfter(t *testing.T, r *response) {
	// The hour less the time the group took to get here.
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 3000 || s > 3600 {
		t.Errorf("Retry-After %q, want about an hour", r.Header.Get("Retry-After"))
	}
}
