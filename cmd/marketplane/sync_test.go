package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

// syncCatalog gives db's provider (made if there is none) the plan "basic",
// 10.00 a month and 2.50 a mailbox, delegated to a new reseller at +20 %
// (12.00 and 3.00); then the provider raises the fee to 12.50, so that the
// copy is out of step until a sync carries the fees (15.00).
func syncCatalog(t *testing.T, db *store.DB) (provider *account.Account, src, cp *catalog.Plan) {
	t.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	provider, err := db.Provider(ctx)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		provider = &account.Account{Name: "Provider", Locale: "en-US", Currency: "USD", TimeZone: "UTC", Address: account.Address{Country: "US"}}
		err = db.CreateProvider(ctx, provider)
	}
	if err != nil {
		t.Fatal(err)
	}
	reseller := &account.Account{Kind: account.Reseller, ParentID: provider.ID, Name: "Reseller", Locale: "en-US", Currency: "USD",
		TimeZone: "UTC", Address: account.Address{Country: "US"}}
	if err := db.CreateAccount(ctx, sys, reseller); err != nil {
		t.Fatal(err)
	}
	rt := &store.ResourceType{ResourceType: catalog.ResourceType{Key: "mailbox", Name: catalog.Text{"en": "Mailbox"}, Unit: "mailbox", Class: catalog.ClassLimit}}
	if err := db.CreateResourceType(ctx, sys, rt); err != nil {
		t.Fatal(err)
	}
	tpl := &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"},
		Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}}}}
	if err := db.CreateTemplate(ctx, sys, tpl); err != nil {
		t.Fatal(err)
	}
	src = &catalog.Plan{OwnerID: provider.ID, Key: "basic", Template: "office", Currency: "USD", Published: true,
		Name: catalog.Text{"en": "Office Basic"}, Billing: catalog.ChargeInAdvance,
		Periods: []catalog.Period{{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
			Recurring: catalog.Price{Amount: 10_000_000}, Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod}},
		Rates: []catalog.Rate{{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100,
			Recurring: catalog.Price{Amount: 2_500_000}, Display: catalog.Spinner}},
	}
	if err := db.CreatePlan(ctx, sys, src); err != nil {
		t.Fatal(err)
	}
	cp, err = db.Delegate(ctx, sys, src.ID, reseller.ID, delegation.DelegateOptions{
		Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: "20"}, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	src.Periods[0].Recurring.Amount = 12_500_000
	if err := db.UpdatePlan(ctx, sys, src, nil); err != nil {
		t.Fatal(err)
	}
	return provider, src, cp
}

func monthlyFee(t *testing.T, db *store.DB, planID int64) string {
	t.Helper()
	p, err := db.Plan(context.Background(), account.SystemActor(), planID)
	if err != nil {
		t.Fatal(err)
	}
	return p.Periods[0].Recurring.Amount.String()
}

func TestSyncCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "sync.db")
	db := storetest.OpenURL(t, dbPath)
	_, src, cp := syncCatalog(t, db)
	plan := fmt.Sprint(src.ID)

	for _, c := range []struct {
		name string
		args []string
		code int
		out  []string // each expected in stdout+stderr
	}{
		{"no plan", []string{"sync", "--options", "fees", "--db", dbPath}, 2, []string{"give one plan id"}},
		{"not a plan id", []string{"sync", "basic", "--options", "fees", "--db", dbPath}, 2, []string{`"basic" is not a plan id`}},
		{"no options", []string{"sync", plan, "--db", dbPath}, 2, []string{"--options is required", "resource_prices"}},
		{"unknown option", []string{"sync", plan, "--options", "fees,prices", "--db", dbPath}, 2, []string{`unknown option "prices"`}},
		{"unknown plan", []string{"sync", "987654", "--options", "fees", "--dry-run", "--db", dbPath}, 1, []string{"marketplane sync: not_found: plan not found"}},
		{"unknown plan, applied", []string{"sync", "987654", "--options", "fees", "--db", dbPath}, 1, []string{"plan not found"}},
		{"dry run", []string{"sync", plan, "--options", "fees,resource_prices", "--dry-run", "--db", dbPath}, 0, []string{
			fmt.Sprintf("Dry run: what would change in syncing the copies of plan %s \"basic\" (account %d) with fees,resource_prices.\n", plan, src.OwnerID),
			fmt.Sprintf("account %d, plan %d (depth 1)\n  periods[1m].recurring.amount 12.00 → 15.00\n", cp.OwnerID, cp.ID),
			"Would change 1 copy (0 new): 1 change, 0 skipped. Nothing was changed."}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(ctx, c.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		for _, want := range c.out {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no %q in the output:\n%s", c.name, want, all)
			}
		}
		if code != c.code {
			t.Errorf("%s: exit %d, want %d:\n%s", c.name, code, c.code, all)
		}
	}
	if fee := monthlyFee(t, db, cp.ID); fee != "12.00" {
		t.Fatalf("the dry run changed the copy: %s", fee)
	}

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"sync", plan, "--options", "fees,resource_prices", "--db", dbPath}, &stdout, &stderr); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "Syncing the copies of plan "+plan) ||
		!strings.Contains(stdout.String(), "Sync run 1 completed: 1 copy changed (0 new), 1 change, 0 skipped, in ") ||
		!strings.Contains(stderr.String(), "sync run 1 queued") {
		t.Errorf("sync output:\n%s%s", stdout.String(), stderr.String())
	}
	if fee := monthlyFee(t, db, cp.ID); fee != "15.00" {
		t.Errorf("the copy's fee after the sync: %s, want 15.00", fee)
	}
	runs, err := db.SyncRuns(ctx, account.SystemActor(), src.ID, 0, 10)
	if err != nil || len(runs) != 1 || runs[0].Status != store.SyncCompleted || runs[0].RequestedBy != 0 {
		t.Errorf("runs %+v, %v", runs, err)
	}

	// The provider restricts the reseller's pricing and raises the fee
	// again: the dry run shows the change kept out, and why.
	if _, err := db.SetDelegationTerms(ctx, account.SystemActor(), cp.OwnerID,
		delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPricing}}); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Plan(ctx, account.SystemActor(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Periods[0].Recurring.Amount = 15_000_000
	if err := db.UpdatePlan(ctx, account.SystemActor(), cur, nil); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	code := run(ctx, []string{"sync", plan, "--options", "fees", "--dry-run", "--db", dbPath}, &stdout, &stderr)
	if want := "  periods[1m].recurring.amount skipped: restricted: pricing (15.00 → 18.00)\n" +
		"Would change 1 copy (0 new): 0 changes, 1 skipped."; code != 0 || !strings.Contains(stdout.String(), want) {
		t.Errorf("dry run with a restriction: exit %d, want %q in\n%s", code, want, stdout.String())
	}

	// Nothing else is out of step: a dry run of every option, one level,
	// finds nothing more to do.
	stdout.Reset()
	code = run(ctx, []string{"sync", plan, "--options", "all", "--one-level", "--dry-run", "--db", dbPath}, &stdout, &stderr)
	all, _ := delegation.ParseOptions("all")
	if code != 0 || !strings.Contains(stdout.String(), "with "+all.String()+", direct copies only.") ||
		!strings.Contains(stdout.String(), "Would change 1 copy (0 new): 0 changes, 1 skipped.") {
		t.Errorf("second dry run: exit %d\n%s", code, stdout.String())
	}
}

// TestSyncThroughServer asks a running server for a sync over the API: the
// run is queued with its task, a worker applies it, and the copy follows.
func TestSyncThroughServer(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		m, _ := start(t, testConfig(storetest.URL(t, e)))
		provider, src, cp := syncCatalog(t, m.DB)
		role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := m.DB.CreateAPIKey(ctx, account.SystemActor(), provider.ID, role.ID, "sync test", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		call := func(method, path, body string) (int, http.Header, []byte) {
			t.Helper()
			req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			return resp.StatusCode, resp.Header, b.Bytes()
		}
		code, h, body := call("POST", fmt.Sprintf("/api/v1/plans/%d/sync", src.ID), `{"options": ["fees"]}`)
		if code != http.StatusAccepted || h.Get("Location") == "" {
			t.Fatalf("POST sync: %d %s", code, body)
		}
		var run struct {
			ID            int64
			Status        string
			CopiesChanged int `json:"copies_changed"`
		}
		deadline := time.Now().Add(15 * time.Second)
		for run.Status != "completed" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			code, _, body = call("GET", h.Get("Location"), "")
			if code != 200 || json.Unmarshal(body, &run) != nil || run.Status == "failed" {
				t.Fatalf("GET run: %d %s", code, body)
			}
		}
		if run.Status != "completed" || run.CopiesChanged != 1 {
			t.Fatalf("run %+v", run)
		}
		if fee := monthlyFee(t, m.DB, cp.ID); fee != "15.00" {
			t.Errorf("the copy's fee after the sync: %s, want 15.00", fee)
		}
		tasks, err := m.Tasks.List(ctx, task.Filter{Kind: syncRunArgs{}.Kind(), AccountPath: provider.Path})
		if err != nil || len(tasks) != 1 || tasks[0].Queue != task.QueueSync || tasks[0].AccountID != provider.ID {
			t.Fatalf("tasks %+v, %v", tasks, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if info, err := m.Tasks.WaitFor(wctx, tasks[0].ID, task.StatusCompleted); err != nil {
			t.Errorf("task %+v: %v", info, err)
		}
	})
}

// TestSyncTaskHandler runs the handler of the "delegation.sync" task as a
// worker would, on each state a run can be in when its task (re)runs.
func TestSyncTaskHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	_, src, cp := syncCatalog(t, db)
	handle := runSyncTask(db)
	newRun := func() *store.SyncRun {
		run := &store.SyncRun{SourcePlanID: src.ID, Options: "fees"}
		if err := db.CreateSyncRun(ctx, account.SystemActor(), run, nil); err != nil {
			t.Fatal(err)
		}
		return run
	}
	taskOf := func(run *store.SyncRun) *task.Task[syncRunArgs] {
		return &task.Task[syncRunArgs]{Kind: "delegation.sync", Attempt: 1, MaxAttempts: 5, Args: syncRunArgs{RunID: run.ID}}
	}

	// Queued: applied.
	run := newRun()
	if err := handle(ctx, taskOf(run)); err != nil {
		t.Fatal(err)
	}
	if fee := monthlyFee(t, db, cp.ID); fee != "15.00" {
		t.Errorf("fee after the task: %s", fee)
	}
	// Run again (at least once delivery): nothing more happens.
	if err := handle(ctx, taskOf(run)); err != nil {
		t.Errorf("second delivery: %v", err)
	}
	// Interrupted half-way (status running): resumed and completed.
	run = newRun()
	run.Status = store.SyncRunning
	if err := db.UpdateSyncRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := handle(ctx, taskOf(run)); err != nil {
		t.Errorf("resumed run: %v", err)
	}
	if got, err := db.SyncRun(ctx, account.SystemActor(), run.ID); err != nil || got.Status != store.SyncCompleted {
		t.Errorf("resumed run %+v, %v", got, err)
	}
	// Failed: the task fails too, naming why.
	run = newRun()
	run.Status, run.Error = store.SyncFailed, "plan 7: price rule: rule.exchange_rate"
	if err := db.UpdateSyncRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := handle(ctx, taskOf(run)); err == nil || !strings.Contains(err.Error(), "failed: plan 7: price rule") {
		t.Errorf("failed run: %v", err)
	}
	// Unknown run: an error, so that the task shows it.
	if err := handle(ctx, taskOf(&store.SyncRun{ID: 987654})); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		t.Errorf("unknown run: %v", err)
	}
}
