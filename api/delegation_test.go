package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

// providerPlan creates the provider's plan "basic" of planBody: 10.00 a
// month (capped at 20.00), 5.00 setup, 2.50 a mailbox.
func providerPlan(t *testing.T, f *fixture) Plan {
	t.Helper()
	withCatalog(t, f)
	var p Plan
	f.must(t, 201, "P", "POST", "/accounts/"+id(f.P.ID)+"/plans", planBody("basic")).JSON(t, &p)
	return p
}

func percentRule(p string) map[string]any { return map[string]any{"kind": "percent", "percent": p} }

func TestDelegateAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		src := providerPlan(t, f)
		delegate := "/plans/" + id(src.ID) + "/delegate"

		// The worked example: +20 % on 10.00 is 12.00, on 5.00 is 6.00,
		// on 2.50 is 3.00; the cap of 20.00 travels down unchanged.
		r := f.must(t, 201, "P", "POST", delegate, map[string]any{"child_id": f.L1a.ID, "rule": percentRule("20"), "publish": true})
		var cp Plan
		r.JSON(t, &cp)
		pe := cp.Periods[0]
		if cp.OwnerID != f.L1a.ID || cp.SourceID != src.ID || cp.Rule == nil || cp.Rule.Kind != "percent" || cp.Rule.Percent != "20" ||
			pe.Recurring.Amount != "12.00" || pe.Recurring.MaxRetail != "20.00" || pe.Setup.Amount != "6.00" ||
			cp.Rates[0].Recurring.Amount != "3.00" || !cp.Published || !cp.OnSale || cp.SellBelowCost || cp.Version != 1 {
			t.Errorf("copy %+v", cp)
		}
		if r.Header.Get("Location") != Prefix+"/plans/"+id(cp.ID) || r.Header.Get("ETag") != `"1"` {
			t.Errorf("headers %v", r.Header)
		}
		var got Plan
		f.must(t, 200, "L1a", "GET", "/plans/"+id(cp.ID), nil).JSON(t, &got)
		if got.Periods[0].Recurring.Amount != "12.00" {
			t.Errorf("the copy as its owner reads it: %+v", got)
		}
		// The child re-delegates its copy: 12.00 + 1.00 fixed = 13.00,
		// unpublished until L2 says so.
		var l2 Plan
		f.must(t, 201, "L1a", "POST", "/plans/"+id(cp.ID)+"/delegate",
			map[string]any{"child_id": f.L2.ID, "rule": map[string]any{"kind": "fixed", "fixed": "1.00"}}).JSON(t, &l2)
		if l2.Periods[0].Recurring.Amount != "13.00" || l2.Periods[0].Setup.Amount != "7.00" || l2.Published || l2.Rule.Fixed != "1.00" {
			t.Errorf("L2's copy %+v", l2)
		}

		// Bad input: refused with the field to fix, nothing stored.
		for _, c := range []struct {
			name   string
			who    string
			path   string
			body   map[string]any
			status int
			fields []string // locations of the field errors, sorted
		}{
			{"a grandchild", "P", delegate, map[string]any{"child_id": f.L2.ID}, 400, []string{"body.child_id"}},
			{"a customer", "L2", "/plans/" + id(l2.ID) + "/delegate", map[string]any{"child_id": f.C.ID}, 400, []string{"body.child_id"}},
			{"itself", "P", delegate, map[string]any{"child_id": f.P.ID}, 400, []string{"body.child_id"}},
			{"below cost", "P", delegate, map[string]any{"child_id": f.L1b.ID, "rule": percentRule("-10")}, 400,
				[]string{"body.periods[1m].recurring.amount", "body.periods[1m].setup.amount", "body.rates[mailbox].recurring.amount"}},
			{"an unknown rule", "P", delegate, map[string]any{"child_id": f.L1b.ID, "rule": map[string]any{"kind": "discount"}}, 400, []string{"body.rule.kind"}},
			{"a bad percent", "P", delegate, map[string]any{"child_id": f.L1b.ID, "rule": percentRule("lots")}, 400, []string{"body.rule.percent"}},
			{"a bad fixed amount", "P", delegate, map[string]any{"child_id": f.L1b.ID, "rule": map[string]any{"kind": "fixed", "fixed": "1,00"}}, 400, []string{"body.rule.fixed"}},
			{"no child", "P", delegate, map[string]any{"rule": percentRule("10")}, 400, []string{"body.child_id"}},
			{"a copy twice", "P", delegate, map[string]any{"child_id": f.L1a.ID}, 409, nil},
			{"a read-only key", "L1a-support", "/plans/" + id(cp.ID) + "/delegate", map[string]any{"child_id": f.L2.ID}, 403, nil},
			{"another's plan", "L1b", "/plans/" + id(cp.ID) + "/delegate", map[string]any{"child_id": f.L2.ID}, 404, nil},
			{"a missing plan", "P", "/plans/987654/delegate", map[string]any{"child_id": f.L1b.ID}, 404, nil},
		} {
			p := f.must(t, c.status, c.who, "POST", c.path, c.body).Problem(t)
			if !slices.Equal(p.locations(), c.fields) {
				t.Errorf("%s: field errors %v, want %v (%s)", c.name, p.locations(), c.fields, p.Detail)
			}
			if c.status == 404 && p.Detail != "plan not found" {
				t.Errorf("%s: %q", c.name, p.Detail)
			}
		}
		var copies Page[Plan]
		f.must(t, 200, "P", "GET", "/plans/"+id(src.ID)+"/copies", nil).JSON(t, &copies)
		if len(copies.Items) != 1 || copies.Items[0].ID != cp.ID {
			t.Errorf("copies after the refusals: %+v", copies.Items)
		}

		// Selling at a loss, when the child allows it: 10.00 − 10 % = 9.00.
		var loss Plan
		f.must(t, 201, "P", "POST", delegate, map[string]any{"child_id": f.L1b.ID, "rule": percentRule("-10"), "sell_below_cost": true}).JSON(t, &loss)
		if loss.Periods[0].Recurring.Amount != "9.00" || !loss.SellBelowCost {
			t.Errorf("copy below cost %+v", loss)
		}
	})
}

// TestSyncOptionsDocumented keeps the options' description in step with the
// options the delegation package knows.
func TestSyncOptionsDocumented(t *testing.T) {
	f, _ := reflect.TypeFor[SyncInput]().FieldByName("Options")
	for _, o := range delegation.AllOptions {
		if !strings.Contains(f.Tag.Get("doc"), string(o)+",") && !strings.Contains(f.Tag.Get("doc"), string(o)+";") {
			t.Errorf("option %s is not in the description of options", o)
		}
	}
}

// syncArgs stands for the task kind the server registers to apply sync runs.
type syncArgs struct {
	RunID int64 `json:"run_id"`
}

func (syncArgs) Kind() string { return "test.sync_run" }

// withTaskQueue rebuilds f's API with a real (insert-only) task manager
// behind EnqueueSync and returns the manager. While fail is set, the hook
// queues the task and then fails, as a transaction that cannot commit would.
func withTaskQueue(t *testing.T, f *fixture, fail *atomic.Bool) *task.Manager {
	t.Helper()
	ctx := context.Background()
	if err := task.Migrate(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	m, err := task.New(f.db, task.Config{InsertOnly: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	task.Handle(m, func(context.Context, *task.Task[syncArgs]) error { return nil }, task.KindOptions{Queue: task.QueueSync})
	enqueue := func(ctx context.Context, tx *sql.Tx, job SyncTask) error {
		if _, err := m.EnqueueTx(ctx, tx, syncArgs{RunID: job.RunID}, task.ForAccount(job.AccountID, job.AccountPath), task.UniqueByArgs()); err != nil {
			return err
		}
		if fail.Load() {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "the queue is down")
		}
		return nil
	}
	f.api = New(Config{DB: f.db, Version: "test", Tasks: f.tasks, Logger: slog.New(slog.DiscardHandler), EnqueueSync: enqueue})
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", f.api.Handler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return m
}

func TestSyncAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		src := providerPlan(t, f)
		// P's 10.00 → L1a +20 % = 12.00 → L2 +10 % = 13.20.
		var pa, pa2 Plan
		f.must(t, 201, "P", "POST", "/plans/"+id(src.ID)+"/delegate", map[string]any{"child_id": f.L1a.ID, "rule": percentRule("20")}).JSON(t, &pa)
		f.must(t, 201, "L1a", "POST", "/plans/"+id(pa.ID)+"/delegate", map[string]any{"child_id": f.L2.ID, "rule": percentRule("10")}).JSON(t, &pa2)
		if pa2.Periods[0].Recurring.Amount != "13.20" {
			t.Fatalf("L2's copy %+v", pa2)
		}
		base := "/plans/" + id(src.ID)
		fees := map[string]any{"options": []string{"fees", "resource_prices"}}

		// Without a task manager a run could never be applied: refused,
		// and nothing is stored.
		f.must(t, 503, "P", "POST", base+"/sync", fees).Problem(t)
		var runs Page[SyncRun]
		f.must(t, 200, "P", "GET", base+"/sync-runs", nil).JSON(t, &runs)
		if len(runs.Items) != 0 {
			t.Fatalf("runs without a task manager: %+v", runs.Items)
		}

		var fail atomic.Bool
		tasks := withTaskQueue(t, f, &fail)
		// The provider raises its price to 12.50 and the mailbox to 3.00.
		edit := planBody("basic")
		edit["periods"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "12.50", "max_retail": "20"}
		edit["rates"].([]any)[0].(map[string]any)["recurring"] = map[string]any{"amount": "3.00"}
		edit["name"] = map[string]string{"en": "Office Basic 2"}
		f.must(t, 200, "P", "PUT", base, edit)

		// The preview lists each copy down the tree with its changes.
		var pv SyncPreview
		f.must(t, 200, "P", "POST", base+"/sync/preview", fees).JSON(t, &pv)
		if pv.Copies != 2 || pv.Changes != 4 || pv.Skipped != 0 || pv.Truncated || len(pv.Items) != 2 {
			t.Fatalf("preview %+v", pv)
		}
		for i, want := range []struct {
			plan, owner int64
			depth       int
			fee, mbox   string
		}{{pa.ID, f.L1a.ID, 1, "12.00 → 15.00", "3.00 → 3.60"}, {pa2.ID, f.L2.ID, 2, "13.20 → 16.50", "3.30 → 3.96"}} {
			it := pv.Items[i]
			changes := map[string]string{}
			for _, c := range it.Changes {
				changes[c.Field] = c.Old + " → " + c.New + " " + c.Effective
			}
			if it.PlanID != want.plan || it.OwnerID != want.owner || it.Depth != want.depth || it.NewCopy ||
				changes["periods[1m].recurring.amount"] != want.fee+" next_billing" ||
				changes["rates[mailbox].recurring.amount"] != want.mbox+" next_billing" || len(changes) != 2 {
				t.Errorf("preview item %d: %+v", i, it)
			}
		}
		// …and changes nothing.
		var cur Plan
		f.must(t, 200, "L1a", "GET", "/plans/"+id(pa.ID), nil).JSON(t, &cur)
		if cur.Periods[0].Recurring.Amount != "12.00" || cur.Version != 1 {
			t.Errorf("the preview changed the copy: %+v", cur)
		}
		// One level: only L1a's copy, flagged until L1a syncs onward.
		f.must(t, 200, "P", "POST", base+"/sync/preview", map[string]any{"options": []string{"all"}, "one_level": true}).JSON(t, &pv)
		if pv.Copies != 1 || len(pv.Items) != 1 || pv.Items[0].PlanID != pa.ID ||
			!slices.ContainsFunc(pv.Items[0].Changes, func(c SyncChange) bool { return c.Field == "changed_upstream" }) ||
			!slices.ContainsFunc(pv.Items[0].Changes, func(c SyncChange) bool { return c.Field == "name" }) {
			t.Errorf("one-level preview %+v", pv)
		}

		// Unknown or no options: the field to fix is "options".
		for _, body := range []map[string]any{{"options": []string{"fees", "prices"}}, {"options": []string{}}} {
			for _, path := range []string{base + "/sync/preview", base + "/sync"} {
				p := f.must(t, 400, "P", "POST", path, body).Problem(t)
				if !slices.Equal(p.locations(), []string{"body.options"}) {
					t.Errorf("%s %v: %+v", path, body, p)
				}
			}
		}
		f.must(t, 403, "L1a-support", "POST", "/plans/"+id(pa.ID)+"/sync", fees).Problem(t)
		f.must(t, 404, "L1b", "POST", base+"/sync/preview", fees).Problem(t)

		// Apply: 202 with the queued run, its task queued with it on the
		// plan owner's account.
		r := f.must(t, 202, "P", "POST", base+"/sync", fees)
		var run SyncRun
		r.JSON(t, &run)
		if run.Status != "queued" || run.PlanID != src.ID || !slices.Equal(run.Options, []string{"fees", "resource_prices"}) ||
			run.OneLevel || run.FinishedAt != nil || r.Header.Get("Location") != Prefix+"/sync-runs/"+id(run.ID) {
			t.Fatalf("run %+v, headers %v", run, r.Header)
		}
		queued, err := tasks.List(ctx, task.Filter{Kind: syncArgs{}.Kind()})
		if err != nil {
			t.Fatal(err)
		}
		var args syncArgs
		if len(queued) != 1 || json.Unmarshal(queued[0].Args, &args) != nil || args.RunID != run.ID ||
			queued[0].Queue != task.QueueSync || queued[0].AccountID != f.P.ID || queued[0].AccountPath != f.P.Path {
			t.Fatalf("tasks %+v", queued)
		}
		// A run whose task cannot be queued is not stored, nor its task.
		fail.Store(true)
		f.must(t, 503, "P", "POST", base+"/sync", fees).Problem(t)
		fail.Store(false)
		f.must(t, 200, "P", "GET", base+"/sync-runs", nil).JSON(t, &runs)
		if queued, _ = tasks.List(ctx, task.Filter{Kind: syncArgs{}.Kind()}); len(runs.Items) != 1 || len(queued) != 1 {
			t.Fatalf("after a failed enqueue: runs %+v, tasks %d", runs.Items, len(queued))
		}

		// The task applies the run.
		if _, err := db.RunSync(ctx, run.ID, nil); err != nil {
			t.Fatal(err)
		}
		f.must(t, 200, "P", "GET", "/sync-runs/"+id(run.ID), nil).JSON(t, &run)
		if run.Status != "completed" || run.CopiesChanged != 2 || run.Changes != 4 || run.FinishedAt == nil || run.Error != "" {
			t.Errorf("finished run %+v", run)
		}
		for _, c := range []struct {
			who       string
			plan      int64
			fee, mbox string
		}{{"L1a", pa.ID, "15.00", "3.60"}, {"L2", pa2.ID, "16.50", "3.96"}} {
			f.must(t, 200, c.who, "GET", "/plans/"+id(c.plan), nil).JSON(t, &cur)
			if cur.Periods[0].Recurring.Amount != c.fee || cur.Rates[0].Recurring.Amount != c.mbox || cur.Name["en"] != "Office basic" {
				t.Errorf("%s's copy after the sync: %+v", c.who, cur)
			}
		}
		// Syncing again finds the copies in step.
		f.must(t, 200, "P", "POST", base+"/sync/preview", fees).JSON(t, &pv)
		if pv.Copies != 0 || len(pv.Items) != 0 {
			t.Errorf("preview after the sync %+v", pv)
		}

		// Runs page newest first; others cannot see them.
		var second SyncRun
		f.must(t, 202, "P", "POST", base+"/sync", map[string]any{"options": []string{"names"}, "one_level": true}).JSON(t, &second)
		f.must(t, 200, "P", "GET", base+"/sync-runs?limit=1", nil).JSON(t, &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID != second.ID || !runs.Items[0].OneLevel || runs.NextCursor == "" {
			t.Fatalf("first page %+v", runs)
		}
		f.must(t, 200, "P", "GET", base+"/sync-runs?limit=1&cursor="+runs.NextCursor, nil).JSON(t, &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID != run.ID || runs.Items[0].Status != "completed" {
			t.Errorf("second page %+v", runs)
		}
		f.must(t, 400, "P", "GET", base+"/sync-runs?cursor=nonsense", nil).Problem(t)
		for _, who := range []string{"L1a", "L1b"} {
			if p := f.must(t, 404, who, "GET", "/sync-runs/"+id(run.ID), nil).Problem(t); p.Detail != "sync run not found" {
				t.Errorf("%s: %+v", who, p)
			}
		}
		f.must(t, 404, "P", "GET", "/sync-runs/987654", nil).Problem(t)
	})
}
