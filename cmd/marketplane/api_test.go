package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/client"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// apiWorld is a server started as `marketplane serve` starts it (without
// workers: the test completes orders as their provisioning would), with a
// reseller R selling its plan "office" to five customers C[0…4], and the
// API keys of R and of the provider P.
type apiWorld struct {
	m        *Main
	R        *account.Account
	C        []*account.Account
	plan     int64
	keyR     string
	keyP     string
	provider *account.Account
}

func newAPIWorld(t *testing.T, e store.Engine) *apiWorld {
	t.Helper()
	c := testConfig(storetest.URL(t, e))
	c.Workers = false
	m, _ := start(t, c)
	ctx, sys := context.Background(), account.SystemActor()
	w := &apiWorld{m: m}
	var err error
	if w.provider, err = m.DB.Provider(ctx); err != nil {
		t.Fatal(err)
	}
	newAcct := func(parent *account.Account, kind account.Kind, name string) *account.Account {
		a := &account.Account{Kind: kind, ParentID: parent.ID, Name: name, Address: account.Address{Country: "US"},
			Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
		if err := m.DB.CreateAccount(ctx, sys, a); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return a
	}
	w.R = newAcct(w.provider, account.Reseller, "Reseller Ltd")
	for i := range 5 {
		w.C = append(w.C, newAcct(w.R, account.Customer, fmt.Sprintf("Customer %d", i)))
	}
	admin, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	key := func(a *account.Account) string {
		_, k, err := m.DB.CreateAPIKey(ctx, sys, a.ID, admin.ID, "cli test", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	w.keyR, w.keyP = key(w.R), key(w.provider)

	// The catalog, made through the client as in package client's test.
	asP, err := newAPIClient(m.URL(), w.keyP)
	if err != nil {
		t.Fatal(err)
	}
	asR, _ := newAPIClient(m.URL(), w.keyR)
	ptr := func(s string) *string { return &s }
	rt, err := asP.CreateResourceTypeWithResponse(ctx, nil, client.ResourceTypeInput{Key: ptr("mailbox"),
		Name: map[string]string{"en": "Mailbox"}, Unit: "mailbox", Class: client.ResourceTypeInputClassLimit})
	mustStatus(t, "resource type", rt, err, 201)
	tpl, err := asP.CreateTemplateWithResponse(ctx, nil, client.TemplateInput{Key: ptr("office"),
		Name: map[string]string{"en": "Office"}, Resources: &[]client.TemplateResource{{Resource: "mailbox", Limit: 10}}})
	mustStatus(t, "template", tpl, err, 201)
	yes := true
	plan, err := asR.CreatePlanWithResponse(ctx, w.R.ID, nil, client.PlanInput{
		Key: "office", Template: "office", Currency: "USD", Name: map[string]string{"en": "Office"},
		Billing: client.PlanInputBillingAdvance, Published: &yes,
		Periods: &[]client.Period{{Key: "1m", Duration: client.Duration{N: 1, Unit: client.DurationUnitMonth},
			Setup: &client.Price{Amount: ptr("6.60")}, Recurring: &client.Price{Amount: ptr("13.20")}}},
		Rates: &[]client.Rate{{Key: "mailbox", Resource: ptr("mailbox"), Included: 5, Min: 1, Max: 100,
			Recurring: &client.Price{Amount: ptr("3.30")}}},
	})
	mustStatus(t, "plan", plan, err, 201)
	w.plan = plan.JSON201.Id
	return w
}

func mustStatus(t *testing.T, what string, r apiResponse, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.StatusCode() != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode(), want, r.GetBody())
	}
}

// cli runs "marketplane api --url … --api-key key ARGS…".
func (w *apiWorld) cli(key string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"api", "--url", w.m.URL(), "--api-key", key}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs the CLI, wants exit 0 and decodes its JSON output into v.
func (w *apiWorld) ok(t *testing.T, key string, v any, args ...string) string {
	t.Helper()
	code, out, errOut := w.cli(key, args...)
	if code != 0 {
		t.Fatalf("api %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("api %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return out
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// TestAPICommands: a reseller's integration, from a shell, reads its own
// account, places an order of 8 mailboxes for a customer (29.70: setup
// 6.60 + month 13.20 + 3 mailboxes above the 5 included × 3.30), finds the
// invoice its completion issued and saves its PDF, pages through its
// customers, and gets the API's problems as readable lines.
func TestAPICommands(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newAPIWorld(t, e)
		ctx := context.Background()
		C := w.C[0]

		var me client.Account
		out := w.ok(t, w.keyR, &me, "accounts", "me")
		if me.Id != w.R.ID || me.Name != "Reseller Ltd" || me.Kind != "reseller" {
			t.Errorf("accounts me: %s", out)
		}
		if !strings.HasPrefix(out, "{\n  \"") {
			t.Errorf("accounts me is not indented JSON:\n%s", out)
		}

		// Flags after the verb, the resource given twice: a map of flags.
		var o client.Order
		out = w.ok(t, w.keyR, &o, "orders", "place", "--customer", id(C.ID), "--plan", id(w.plan), "--period", "1m",
			"--resource", "mailbox=8", "--idempotency-key", "cli-1")
		if o.CustomerId != C.ID || o.VendorId != w.R.ID || o.PlanId != w.plan || o.Total == nil || *o.Total != "29.70" ||
			o.Status != client.OrderStatusProvisioning || o.Resources == nil || (*o.Resources)["mailbox"] != 8 {
			t.Fatalf("orders place: %s", out)
		}
		// The same key again is a replay: the same order, not a second one.
		var again client.Order
		w.ok(t, w.keyR, &again, "orders", "place", "--customer", id(C.ID), "--plan", id(w.plan), "--period", "1m",
			"--resource", "mailbox=8", "--idempotency-key", "cli-1")
		if again.Id != o.Id {
			t.Errorf("replayed order %d, first %d", again.Id, o.Id)
		}
		if _, err := w.m.DB.CompleteOrder(ctx, o.Id, store.TenantInfo{TenantID: "tenant-1", Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		var got client.Order
		w.ok(t, w.keyR, &got, "orders", "get", id(o.Id))
		if got.Status != client.OrderStatusCompleted {
			t.Errorf("orders get: status %s after completion", got.Status)
		}

		var docs client.PageDocument
		out = w.ok(t, w.keyR, &docs, "documents", "list", "--account", id(C.ID))
		if docs.Items == nil || len(*docs.Items) != 1 {
			t.Fatalf("documents list --account C: %s", out)
		}
		inv := (*docs.Items)[0]
		if inv.Type != client.DocumentTypeInvoice || inv.AccountId != C.ID || inv.Total == nil || *inv.Total != "29.70" ||
			inv.OrderId == nil || *inv.OrderId != o.Id {
			t.Errorf("C's invoice: %s", out)
		}
		pdf := filepath.Join(t.TempDir(), "invoice.pdf")
		if out := w.ok(t, w.keyR, nil, "documents", "pdf", id(inv.Id), "--out", pdf); out != "" {
			t.Errorf("documents pdf printed %q", out)
		}
		b, err := os.ReadFile(pdf)
		if err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
			t.Errorf("documents pdf wrote %.20q (%v)", b, err)
		}

		if code, out, _ := w.cli(w.keyR, "documents", "pdf", id(inv.Id), "--out", "-"); code != 0 || !strings.HasPrefix(out, "%PDF") {
			t.Errorf("documents pdf --out -: exit %d, %.20q", code, out)
		}

		// An operations team suspends and resumes the subscription.
		var sub client.Subscription
		w.ok(t, w.keyR, &sub, "subscriptions", "suspend", id(o.SubscriptionId))
		if sub.Status != "suspended" {
			t.Errorf("subscriptions suspend: status %s", sub.Status)
		}
		w.ok(t, w.keyR, &sub, "subscriptions", "resume", id(o.SubscriptionId))
		if sub.Status != "active" {
			t.Errorf("subscriptions resume: status %s", sub.Status)
		}

		// More mailboxes: priced first, then placed as a change order of
		// the same total; a change that names nothing is refused.
		if code, _, errOut := w.cli(w.keyR, "subscriptions", "change", id(o.SubscriptionId)); code != 2 ||
			!strings.Contains(errOut, "--plan, --period or --resource") {
			t.Errorf("subscriptions change without a change: exit %d, %q", code, errOut)
		}
		var q client.Quote
		out = w.ok(t, w.keyR, &q, "subscriptions", "quote-change", id(o.SubscriptionId), "--resource", "mailbox=10")
		if q.Total == nil || q.Resources["mailbox"] != 10 {
			t.Fatalf("subscriptions quote-change: %s", out)
		}
		var ch client.Order
		out = w.ok(t, w.keyR, &ch, "subscriptions", "change", id(o.SubscriptionId), "--resource", "mailbox=10", "--idempotency-key", "cli-ch")
		if ch.Type != client.OrderTypeCH || ch.SubscriptionId != o.SubscriptionId || ch.Total == nil || *ch.Total != *q.Total {
			t.Errorf("subscriptions change: %s (quoted %s)", out, *q.Total)
		}

		// One row per item under a header, in the columns of the thing.
		code, out, errOut := w.cli(w.keyR, "--output", "table", "subscriptions", "list", "--customer", id(C.ID))
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "ID CUSTOMER_ID PLAN_ID STATUS PERIOD PERIOD_END AUTO_RENEW" ||
			strings.Fields(lines[1])[0] != id(o.SubscriptionId) || strings.Fields(lines[1])[1] != id(C.ID) || strings.Fields(lines[1])[3] != "active" {
			t.Errorf("subscriptions list --output table: exit %d\n%s%s", code, out, errOut)
		}

		// The provider's operations team sees the order's provisioning task.
		var tasks client.PageTask
		out = w.ok(t, w.keyP, &tasks, "tasks", "list", "--status", "queued")
		var kinds []string
		if tasks.Items != nil {
			for _, k := range *tasks.Items {
				kinds = append(kinds, k.Kind)
			}
		}
		if !slices.Contains(kinds, "order.provision") || !slices.Contains(kinds, "subscription.status") {
			t.Errorf("tasks list --status queued: %s", out)
		}
	})
}

// TestAPIPages: lists follow next_cursor with --all, as JSON (one array)
// and as a table (one header), while a page alone keeps its cursor.
func TestAPIPages(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newAPIWorld(t, e)
		var want []string
		for _, c := range w.C {
			want = append(want, c.Name)
		}

		var one client.PageAccount
		w.ok(t, w.keyR, &one, "accounts", "list", "--limit", "2")
		if one.Items == nil || len(*one.Items) != 2 || one.NextCursor == nil {
			t.Fatalf("one page of 2: %+v", one)
		}
		var rest client.PageAccount
		w.ok(t, w.keyR, &rest, "accounts", "list", "--limit", "2", "--cursor", *one.NextCursor)
		if rest.Items == nil || len(*rest.Items) != 2 || (*rest.Items)[0].Id == (*one.Items)[0].Id {
			t.Errorf("the page after the cursor: %+v", rest)
		}

		var all []client.Account
		out := w.ok(t, w.keyR, &all, "accounts", "list", "--under", id(w.R.ID), "--limit", "2", "--all")
		var names []string
		for _, a := range all {
			names = append(names, a.Name)
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("accounts list --all over pages of 2: %q, want %q\n%s", names, want, out)
		}

		code, out, errOut := w.cli(w.keyR, "accounts", "list", "--limit", "2", "--all", "--output", "table")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != 0 || len(lines) != 6 || !strings.HasPrefix(lines[0], "ID ") {
			t.Fatalf("accounts list --all --output table: exit %d\n%s%s", code, out, errOut)
		}
		for i, l := range lines[1:] {
			if f := strings.Fields(l); f[0] != id(w.C[i].ID) || f[1] != "customer" || !strings.Contains(l, want[i]) {
				t.Errorf("row %d: %q, want customer %d %s", i+1, l, w.C[i].ID, want[i])
			}
		}
	})
}

// TestAPIErrors: the API's problems, bad command lines and a missing key.
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newAPIWorld(t, e)
		C := w.C[0]
		cases := []struct {
			name     string
			key      string
			args     []string
			code     int
			stderr   []string // lines (or their beginnings) expected in stderr
			noStdout bool
		}{
			{"unknown plan", w.keyR, []string{"orders", "place", "--customer", id(C.ID), "--plan", "999999", "--period", "1m"}, 1,
				[]string{"marketplane: 400 Bad Request: invalid order\n", "  body.plan_id: not_on_sale: no plan 999999 is on sale at the customer's vendor\n"}, true},
			{"missing order", w.keyR, []string{"orders", "get", "999999"}, 1, []string{"marketplane: 404 Not Found"}, true},
			{"no api key", "", []string{"accounts", "me"}, 2, []string{"marketplane api: no API key: pass --api-key KEY or set MARKETPLANE_API_KEY"}, true},
			{"wrong api key", "mpk_nonsense", []string{"accounts", "me"}, 1, []string{"marketplane: 401 Unauthorized"}, true},
			{"unknown verb", w.keyR, []string{"orders", "fly"}, 2, []string{`marketplane api: unknown resource and verb "orders fly"`}, true},
			{"bad flag", w.keyR, []string{"orders", "list", "--bogus"}, 2, []string{"flag provided but not defined: -bogus", "Usage: marketplane api orders list"}, true},
			{"missing order flags", w.keyR, []string{"orders", "place", "--customer", id(C.ID)}, 2, []string{"marketplane api: an order needs --plan, --period"}, true},
			{"id not a number", w.keyR, []string{"orders", "get", "x"}, 2, []string{`marketplane api: ID: "x" is not a number`}, true},
			{"bad output", w.keyR, []string{"--output", "xml", "accounts", "me"}, 2, []string{`marketplane api: --output: "xml" is not json or table`}, true},
			{"bad resource", w.keyR, []string{"orders", "place", "--resource", "mailbox"}, 2, []string{`invalid value "mailbox" for flag -resource: "mailbox" is not key=N`}, true},
		}
		for _, c := range cases {
			code, out, errOut := w.cli(c.key, c.args...)
			if code != c.code || (c.noStdout && out != "") {
				t.Errorf("%s: exit %d, want %d; stdout %q\nstderr:\n%s", c.name, code, c.code, out, errOut)
				continue
			}
			for _, want := range c.stderr {
				if !strings.HasPrefix(errOut, want) && !strings.Contains(errOut, "\n"+want) {
					t.Errorf("%s: stderr lacks a line %q:\n%s", c.name, want, errOut)
				}
			}
		}
	})
}
