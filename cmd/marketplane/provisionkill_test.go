package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

// TestKillDuringProvisioningRescuesEveryOrder kills `marketplane serve`
// (SIGKILL) while it provisions 30 orders at a connector that takes 3
// seconds per create, on both engines. The provisioning tasks it was
// running stay "running" in the database under the dead process. An
// operator may retry such a task at once, since it is past its kind's
// timeout plus the rescue margin; the others are rescued by the next server
// by itself. Every order then ends completed (or failed with a reason),
// each on one tenant.
//
// The test does not wait out the provisioning runs' timeout
// (provisioning.AttemptTimeout): it moves the start of
// the dead runs back by the timeout plus the margin plus a few seconds, as
// if that time had passed since the crash, and no further (under the old
// rule, the longest kind's timeout plus an hour, nothing would be rescued).
// The rest runs in real time: the dead leader's term expires (about 15
// seconds), the new server's rescuer takes the runs, and its workers carry
// the orders.
func TestKillDuringProvisioningRescuesEveryOrder(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		const orders = 30
		dbURL := storetest.URL(t, e)
		db := storetest.OpenURL(t, dbURL)
		if err := migrateAll(ctx, db); err != nil {
			t.Fatal(err)
		}
		var creates atomic.Int64
		mem := &connectortest.Memory{Hook: func(op, id string) error {
			if op == "create" {
				creates.Add(1)
				time.Sleep(3 * time.Second) // the connector's slowness
			}
			return nil
		}}
		const secret = "kill-secret"
		shop := provisioningtest.NewShop(t, db)
		reg := shop.Register(t, provisioningtest.Serve(t, mem, secret), secret,
			provisioning.Options{Timeout: 10 * time.Second})
		plan := shop.Publish(t, reg.Created.PlanID, func(p *catalog.Plan) {
			p.Periods = []catalog.Period{provisioningtest.Monthly(0, money.Micros(10_000_000))}
		})
		customer := shop.Account(t, account.Customer, shop.Provider.ID, "Customer")
		buyer := shop.User(t, customer, "customer-admin")
		tasks, err := newTaskRunner(db, Config{TaskPollInterval: time.Second, TaskRetentionDays: 90}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, orders)
		for i := range ids {
			o, err := db.PlaceOrder(ctx, buyer, store.OrderRequest{CustomerID: customer.ID, PlanID: plan.ID, Period: "1m",
				Parameters: map[string]string{"db_name": fmt.Sprintf("kill%d", i)}}, func(tx *sql.Tx, o *store.Order) error {
				return tasks.enqueueProvision(ctx, tx, o.ID, o.CustomerID, customer.Path)
			})
			if err != nil {
				t.Fatalf("place order %d: %v", i, err)
			}
			ids[i] = o.ID
		}

		// The serve process works on the orders, 8 at a time; it is killed
		// once the second round of creates has begun.
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), envServeDB+"="+dbURL)
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		child.Stderr = os.Stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		t.Cleanup(func() {
			if !killed {
				child.Process.Kill()
				child.Wait()
			}
		})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
			}
		}()
		deadline := time.Now().Add(60 * time.Second)
		for creates.Load() < 10 {
			if time.Now().After(deadline) {
				t.Fatalf("the serve process started %d creates in a minute", creates.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		child.Wait()
		killed = true

		running, err := tasks.List(ctx, task.Filter{Kind: provisionArgs{}.Kind(), Status: task.StatusRunning})
		if err != nil {
			t.Fatal(err)
		}
		if len(running) == 0 {
			t.Fatal("no provisioning task was left running by the killed server")
		}
		// While the dead runs are younger than their timeout, an operator
		// is told they run.
		first := strconv.FormatInt(running[0].ID, 10)
		var stderr strings.Builder
		if code := run(ctx, []string{"tasks", "retry", first, "--db", dbURL}, &strings.Builder{}, &stderr); code == 0 ||
			!strings.Contains(stderr.String(), "is running") {
			t.Fatalf("tasks retry of a run within its timeout: exit %d, %q; want a conflict", code, stderr.String())
		}
		// The time passes: the timeout and the margin. That is the real
		// time a crash costs an order at most, and it must leave the
		// orders of a restarted installation done within five minutes.
		ago := provisioning.AttemptTimeout + task.DefaultRescueMargin + 5*time.Second
		if ago > 5*time.Minute-30*time.Second {
			t.Fatalf("a dead run is rescued %s after it began: orders would wait longer than 5 minutes after a restart", ago)
		}
		for _, r := range running {
			backdateRun(t, db, r.ID, ago)
		}
		// An operator retries one of them at once: no conflict now.
		var stdout strings.Builder
		stderr.Reset()
		if code := run(ctx, []string{"tasks", "retry", first, "--db", dbURL}, &stdout, &stderr); code != 0 {
			t.Fatalf("tasks retry of an abandoned run: exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "queued") {
			t.Fatalf("tasks retry printed %q, want the task queued", stdout.String())
		}

		// Restart: every order ends completed or failed with a reason.
		restarted := time.Now()
		start(t, testConfig(dbURL))
		deadline = time.Now().Add(3 * time.Minute)
		for _, id := range ids {
			for {
				o, err := db.Order(ctx, account.SystemActor(), id)
				if err != nil {
					t.Fatal(err)
				}
				if o.Status == order.StatusProvisioningFailed && o.Message == "" {
					t.Fatalf("order %d failed without a reason", id)
				}
				if o.Status == order.StatusProvisioningFailed {
					t.Logf("order %d failed: %s", id, o.Message)
					break
				}
				if o.Status == order.StatusCompleted {
					break
				}
				if time.Now().After(deadline) {
					infos, _ := tasks.List(ctx, task.Filter{Kind: provisionArgs{}.Kind(), Status: task.StatusRunning})
					t.Fatalf("order %d still %s %d minutes after the restart (%d tasks running)", id, o.Status,
						int(time.Since(restarted).Minutes()), len(infos))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Logf("%s: %d runs left by the killed server; every order finished %s after the restart",
			e, len(running), time.Since(restarted).Round(time.Second))
		if n := len(mem.Tenants()); n != orders {
			t.Fatalf("the connector holds %d tenants for %d orders", n, orders)
		}
	})
}

// backdateRun moves the start of task id's run, still marked running, back
// by ago from now, as if it had been running that long.
func backdateRun(t *testing.T, db *store.DB, id int64, ago time.Duration) {
	t.Helper()
	var at any = time.Now().UTC().Add(-ago)
	if db.Engine == store.SQLite {
		// River's SQLite tables hold times as text in this layout.
		at = time.Now().UTC().Add(-ago).Format("2006-01-02 15:04:05.000")
	}
	res, err := db.Write.Exec(`UPDATE river_job SET attempted_at = $1 WHERE id = $2 AND state = 'running'`, at, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("task %d is not running", id)
	}
}
