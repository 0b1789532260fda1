package main

import (
	"bufio"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/task"
)

// TestRestartResumesProvisioning stops a server while it provisions an
// order, as `serve` stops on SIGTERM, and starts another on the same
// database, on both engines. The connector is slow (each tenant stays
// provisioning for several polls), so the first server is cut short while
// it polls: its task is cancelled and left to run again. The second server
// runs it: the order completes on the connector's one tenant.
func TestRestartResumesProvisioning(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		rr := newRestartRig(t, e)
		c := testConfig(rr.dbURL)
		// The first server waits this long for its running tasks at
		// shutdown, far less than the connector takes.
		c.ShutdownTimeout = 300 * time.Millisecond
		first := &Main{Config: c}
		if err := first.Run(context.Background()); err != nil {
			first.Close()
			t.Fatalf("run: %v", err)
		}
		rr.waitForPoll(t)
		if err := first.Close(); err != nil {
			t.Logf("first server stopped: %v", err)
		}
		rr.wantWaiting(t)
		job := rr.job(t)
		if job.Status != task.StatusRetrying || job.Attempt != 1 {
			t.Fatalf("task after the shutdown: %s, attempt %d (%v)", job.Status, job.Attempt, job.Errors)
		}

		start(t, c)
		rr.wantCompleted(t, 60*time.Second)
		if job := rr.finished(t); job.Status != task.StatusCompleted || job.Attempt != 2 {
			t.Fatalf("task after the restart: %s, attempt %d", job.Status, job.Attempt)
		}
	})
}

// envServeDB names the database of the serve process that
// TestKillResumesProvisioning starts and kills.
const envServeDB = "MARKETPLANE_TEST_SERVE_DB"

// TestMain runs the tests, or, in the child that
// TestKillResumesProvisioning starts and kills, `marketplane serve` on the
// database it is given (the test binary run again, with no tests).
func TestMain(m *testing.M) {
	if dbURL := os.Getenv(envServeDB); dbURL != "" {
		os.Exit(run(context.Background(), []string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0", "--task-poll-interval", "50ms",
			"--password-hash-memory", "64", "--log-level", "error"}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKillResumesProvisioning kills `marketplane serve` (SIGKILL: nothing
// is cleaned up, the task stays "running" in the database) while it
// provisions an order, and starts another server on the same database, on
// both engines. The order stays provisioning while no process runs it;
// the new server rescues the task, runs it again with the same request id,
// and the order completes on the connector's one tenant.
//
// River rescues a task left running by a dead process once it has run
// longer than its kind's timeout plus the rescue margin (16 minutes for
// provisioning), since it cannot tell a dead process from a slow one. The
// test does not wait that long: it moves the task's start back a day, as
// if the time had passed. The rest runs as it would: the dead server's leadership expires
// (about 15 seconds), the new server's rescuer finds the task and schedules
// it after the kind's backoff (about 10 seconds), and its workers run it.
func TestKillResumesProvisioning(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		rr := newRestartRig(t, e)
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), envServeDB+"="+rr.dbURL)
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
		running := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "is running at") {
					close(running)
				}
			}
		}()
		select {
		case <-running:
		case <-time.After(30 * time.Second):
			t.Fatal("the serve process did not start")
		}
		rr.waitForPoll(t)
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		child.Wait()
		killed = true

		rr.wantWaiting(t)
		job := rr.job(t)
		if job.Status != task.StatusRunning || job.Attempt != 1 {
			t.Fatalf("task of the killed server: %s, attempt %d", job.Status, job.Attempt)
		}
		rr.backdate(t, job.ID, 24*time.Hour)

		start(t, testConfig(rr.dbURL))
		rr.wantCompleted(t, 90*time.Second)
		job = rr.finished(t)
		rescued := len(job.Errors) > 0 && strings.Contains(job.Errors[0].Message, "rescued")
		if job.Status != task.StatusCompleted || job.Attempt != 2 || !rescued {
			t.Fatalf("task after the restart: %s, attempt %d, errors %v", job.Status, job.Attempt, job.Errors)
		}
	})
}

// restartRig is a database with the in-memory connector registered, a
// customer, and the customer's order of the connector's plan queued for
// provisioning, as the API places it. The connector keeps every tenant
// provisioning for several polls, a second apart.
type restartRig struct {
	dbURL  string
	db     *store.DB
	mem    *connectortest.Memory
	tasks  *taskRunner
	order  *store.Order
	polled chan struct{} // a token per poll of a tenant
	polls  atomic.Int64
}

// restartSteps is how many polls a tenant stays provisioning: the first
// server sees one before it goes, the second the rest.
const restartSteps = 5

func newRestartRig(t *testing.T, e store.Engine) *restartRig {
	t.Helper()
	ctx := context.Background()
	rr := &restartRig{dbURL: storetest.URL(t, e), polled: make(chan struct{}, 100)}
	rr.db = storetest.OpenURL(t, rr.dbURL)
	if err := migrateAll(ctx, rr.db); err != nil {
		t.Fatal(err)
	}
	rr.mem = &connectortest.Memory{Steps: restartSteps, Hook: func(op, id string) error {
		if op == "get" {
			rr.polls.Add(1)
			select {
			case rr.polled <- struct{}{}:
			default:
			}
		}
		return nil
	}}
	const secret = "restart-secret"
	shop := provisioningtest.NewShop(t, rr.db)
	reg := shop.Register(t, provisioningtest.Serve(t, rr.mem, secret), secret, provisioning.Options{})
	plan := shop.Publish(t, reg.Created.PlanID, func(p *catalog.Plan) {
		p.Periods = []catalog.Period{provisioningtest.Monthly(0, money.Micros(10_000_000))}
	})
	customer := shop.Account(t, account.Customer, shop.Provider.ID, "Customer")
	buyer := shop.User(t, customer, "customer-admin")
	// An insert-only task manager, as a process that only serves the API
	// has: the order's task is queued in the order's transaction.
	var err error
	rr.tasks, err = newTaskRunner(rr.db, Config{TaskPollInterval: time.Second, TaskRetentionDays: 90}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rr.order, err = rr.db.PlaceOrder(ctx, buyer, store.OrderRequest{CustomerID: customer.ID, PlanID: plan.ID, Period: "1m",
		Parameters: map[string]string{"db_name": "restart"}}, func(tx *sql.Tx, o *store.Order) error {
		return rr.tasks.enqueueProvision(ctx, tx, o.ID, o.CustomerID, customer.Path)
	})
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	return rr
}

// waitForPoll waits until a server is polling the new tenant: the order is
// half-way through provisioning.
func (rr *restartRig) waitForPoll(t *testing.T) {
	t.Helper()
	select {
	case <-rr.polled:
	case <-time.After(30 * time.Second):
		t.Fatal("no server polled the tenant")
	}
	if n := len(rr.mem.Tenants()); n != 1 {
		t.Fatalf("the connector has %d tenants while provisioning", n)
	}
}

// wantWaiting checks that the order waits, still provisioning, with its
// subscription pending and the tenant still being made.
func (rr *restartRig) wantWaiting(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	o, err := rr.db.Order(ctx, account.SystemActor(), rr.order.ID)
	if err != nil {
		t.Fatal(err)
	}
	s, err := rr.db.Subscription(ctx, account.SystemActor(), o.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusProvisioning || s.Status != subscription.Pending {
		t.Fatalf("after the server went: order %s %q, subscription %s", o.Status, o.Message, s.Status)
	}
	for id, tn := range rr.mem.Tenants() {
		if tn.Status != connector.StatusProvisioning {
			t.Fatalf("tenant %s is %s after %d polls; the connector was meant to be still at work", id, tn.Status, rr.polls.Load())
		}
	}
}

// wantCompleted waits until the order completes and checks that the
// connector made exactly one tenant, the subscription's.
func (rr *restartRig) wantCompleted(t *testing.T, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	var o *store.Order
	for {
		var err error
		if o, err = rr.db.Order(ctx, account.SystemActor(), rr.order.ID); err != nil {
			t.Fatal(err)
		}
		if o.Status != order.StatusProvisioning || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if o.Status != order.StatusCompleted {
		t.Fatalf("order %s %q after the restart (task %+v)", o.Status, o.Message, rr.job(t))
	}
	s, err := rr.db.Subscription(ctx, account.SystemActor(), o.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	tenants := rr.mem.Tenants()
	if len(tenants) != 1 {
		t.Fatalf("the connector made %d tenants: %v", len(tenants), tenants)
	}
	if tn, ok := tenants[s.TenantID]; !ok || tn.Status != connector.StatusReady || s.Status != subscription.Active {
		t.Fatalf("subscription %s on tenant %q; the connector has %v", s.Status, s.TenantID, tenants)
	}
}

// job is the order's provisioning task.
func (rr *restartRig) job(t *testing.T) task.Info {
	t.Helper()
	infos, err := rr.tasks.List(context.Background(), task.Filter{Kind: provisionArgs{}.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 {
		t.Fatalf("%d provisioning tasks, want 1", len(infos))
	}
	return infos[0]
}

// finished waits a little for the order's provisioning task to be
// recorded finished (the task manager records outcomes in batches, just
// after the handler returns) and returns it.
func (rr *restartRig) finished(t *testing.T) task.Info {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		job := rr.job(t)
		if !job.FinalizedAt.IsZero() || time.Now().After(deadline) {
			return job
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// backdate moves the start of task id's run back by d, as if it had been
// running that much longer.
func (rr *restartRig) backdate(t *testing.T, id int64, d time.Duration) {
	t.Helper()
	var at any = time.Now().UTC().Add(-d)
	if rr.db.Engine == store.SQLite {
		// River's SQLite tables hold times as text in this layout.
		at = time.Now().UTC().Add(-d).Format("2006-01-02 15:04:05.000")
	}
	res, err := rr.db.Write.Exec(`UPDATE river_job SET attempted_at = $1 WHERE id = $2 AND state = 'running'`, at, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("task %d is not running", id)
	}
}
