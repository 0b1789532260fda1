package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/bench"
	"github.com/marketplane/marketplane/demo"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/metrics"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/task"
	"github.com/marketplane/marketplane/web"
	"github.com/marketplane/marketplane/webhook"
)

// migrateAll applies Marketplane's and the task manager's migrations, under
// the database's migration lock so that several processes starting at once
// do not race.
func migrateAll(ctx context.Context, db *store.DB) error {
	return db.WithMigrationLock(ctx, func() error {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		if err := task.Migrate(ctx, db); err != nil {
			return fmt.Errorf("migrate tasks: %w", err)
		}
		return nil
	})
}

func loadDemo(ctx context.Context, db *store.DB, out io.Writer) error {
	_, err := demo.Load(ctx, db, out)
	return err
}

func benchNames() string { return strings.Join(bench.Names(), ", ") }

// runBench runs benchmark name on db with opt's scale and load run, and
// reports its figures.
func runBench(ctx context.Context, db *store.DB, name string, opt bench.Options, stdout, stderr io.Writer) error {
	opt.DB, opt.Progress = db, stderr
	res, err := bench.Run(ctx, name, opt)
	if err != nil {
		return err
	}
	return res.Report(stdout)
}

// taskRunner is the task manager of a process with Marketplane's own task
// kinds registered.
type taskRunner struct {
	*task.Manager
	orch *provisioning.Orchestrator
	// metrics are the server's figures (nil: none, as in the CLI); set
	// before the workers start.
	metrics *metrics.Metrics
}

// pruneArgs is the daily housekeeping task that deletes expired panel
// sessions and old login attempts.
type pruneArgs struct{}

// Kind names the task.
func (pruneArgs) Kind() string { return "account.prune_sessions" }

func newTaskRunner(db *store.DB, c Config, log *slog.Logger) (*taskRunner, error) {
	m, err := task.New(db, task.Config{
		PollInterval:  c.TaskPollInterval,
		RetentionDays: c.TaskRetentionDays,
		RescueMargin:  c.TaskRescueMargin,
		InsertOnly:    !c.Workers,
	}, log)
	if err != nil {
		return nil, err
	}
	task.Handle(m, func(ctx context.Context, t *task.Task[pruneArgs]) error {
		sessions, err := db.Sessions().PruneExpired(ctx, 1000)
		if err != nil {
			return err
		}
		attempts, err := db.PruneLoginAttempts(ctx)
		if err != nil {
			return err
		}
		keys, err := db.PruneIdempotencyKeys(ctx, 1000)
		if err != nil {
			return err
		}
		log.Info("pruned sessions, login attempts and idempotency keys", "sessions", sessions, "login_attempts", attempts, "idempotency_keys", keys)
		return nil
	}, task.KindOptions{Queue: task.QueueDefault, Priority: task.PriorityBackground, MaxAttempts: 5})
	m.Periodic(task.DailyAt(4, 0), func() task.Args { return pruneArgs{} }, true)
	// A run applies batch by batch and records its failure itself, so a
	// retry only helps a run whose process died or whose failure could not
	// be recorded; the timeout leaves room for tens of thousands of copies.
	task.Handle(m, runSyncTask(db), task.KindOptions{Queue: task.QueueSync, MaxAttempts: 5, Timeout: 30 * time.Minute})
	orch := &provisioning.Orchestrator{DB: db, Logger: log, Deadline: c.ProvisioningDeadline}
	// Provisioning retries passing faults (connector down, malformed
	// replies, 401 while a secret rotates, a 202 still unfinished) with
	// backoff, showing the cause and the next attempt on the order, until
	// the provisioning deadline: then the order fails with the reason for
	// staff to retry or cancel. The deadline ends the series; the attempts
	// (a day takes about 35 at the backoff's hour) are only a backstop.
	task.Handle(m, func(ctx context.Context, t *task.Task[provisionArgs]) error {
		return orch.ProvisionAttempt(ctx, t.Args.OrderID, provisioning.Attempt{Last: t.Attempt >= t.MaxAttempts, RetryAt: t.RetryAt})
	}, task.KindOptions{Queue: task.QueueProvisioning, MaxAttempts: 1000, Timeout: provisioning.AttemptTimeout})
	task.Handle(m, func(ctx context.Context, t *task.Task[subscriptionStatusArgs]) error {
		return orch.ApplyStatus(ctx, t.Args.SubscriptionID)
	}, task.KindOptions{Queue: task.QueueProvisioning, MaxAttempts: 10, Timeout: provisioning.AttemptTimeout})
	task.Handle(m, func(ctx context.Context, t *task.Task[collectUsageArgs]) error {
		n, err := orch.CollectUsage(ctx)
		log.Info("usage collected", "readings", n, "err", err)
		return err
	}, task.KindOptions{Queue: task.QueueProvisioning, Priority: task.PriorityLow, MaxAttempts: 3, Timeout: 30 * time.Minute})
	m.Periodic(task.Every(time.Hour), func() task.Args { return collectUsageArgs{} }, false)
	r := &taskRunner{Manager: m, orch: orch}
	orch.Outcome = func(connector, outcome string) { r.metrics.Provisioned(connector, outcome) }
	// Billing: every hour the planner queues the parts of the oldest day
	// that has begun in each of the sellers' time zones and is not billed
	// yet (days are billed in order: oldestDays); each part is a task of
	// its own, so that several workers (on PostgreSQL,
	// several processes) bill the shards of a day at once. A part is
	// idempotent, so a retried or repeated one bills nothing twice.
	task.Handle(m, func(ctx context.Context, t *task.Task[billingPlanArgs]) error {
		parts, err := db.PendingBillingParts(ctx, db.Clock.Now(), c.BillingShards)
		if err != nil {
			return err
		}
		for _, p := range oldestDays(parts) {
			if _, err := m.Enqueue(ctx, billingDayArgs{Day: p.Day.Format(time.DateOnly), Zone: p.Zone, Shard: p.Shard, Shards: p.Shards},
				task.UniqueByArgs()); err != nil {
				return err
			}
		}
		return nil
	}, task.KindOptions{Queue: task.QueueBilling, MaxAttempts: 3, Timeout: 5 * time.Minute})
	task.Handle(m, func(ctx context.Context, t *task.Task[billingDayArgs]) error {
		day, err := time.Parse(time.DateOnly, t.Args.Day)
		if err != nil {
			return err
		}
		res, err := db.RunBillingPart(ctx, store.BillingPart{Day: day, Zone: t.Args.Zone, Shard: t.Args.Shard, Shards: t.Args.Shards},
			func(tx *sql.Tx, s *subscription.Subscription) error { return r.enqueueStatus(ctx, tx, s) })
		if err != nil {
			return err
		}
		for _, st := range res.Stages {
			r.metrics.BillStage(st.Name, st.Took)
		}
		for _, f := range res.Failures {
			log.Warn("billing failure", "day", t.Args.Day, "zone", t.Args.Zone, "subscription", f.SubscriptionID, "account", f.AccountID, "err", f.Err)
		}
		log.Info("billing day", "day", t.Args.Day, "zone", t.Args.Zone, "shard", t.Args.Shard, "shards", t.Args.Shards,
			"subscriptions", res.Subscriptions, "invoices", res.Invoices, "failures", len(res.Failures))
		// The next day of the zone, if it has begun (after downtime, or
		// on a test clock moved forward), follows at once.
		_, err = m.Enqueue(ctx, billingPlanArgs{})
		return err
	}, task.KindOptions{Queue: task.QueueBilling, MaxAttempts: 10, Timeout: 2 * time.Hour})
	m.Periodic(task.Every(time.Hour), func() task.Args { return billingPlanArgs{} }, true)
	// Webhooks: the store queues a delivery in the transaction that
	// records its event; each attempt is written to the delivery log, and
	// a failed one is retried with backoff until the last attempt.
	// The delivery client refuses internal addresses at dial time (SSRF,
	// DNS rebinding) unless the operator allows them (development).
	task.Handle(m, deliverWebhook(db, webhook.NewClient(c.AllowPrivateWebhooks)), task.KindOptions{Queue: task.QueueNotifications,
		MaxAttempts: webhookAttempts, Backoff: webhookBackoff, Timeout: webhook.Timeout + 5*time.Second})
	db.OnEvent = r.enqueueDelivery
	r.wireNotifications(db, c.SMTP, log)
	return r, nil
}

// webhookDeliverArgs is the task that delivers an event to a webhook
// endpoint (one row of webhook_deliveries).
type webhookDeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind names the task.
func (webhookDeliverArgs) Kind() string { return "webhook.deliver" }

// webhookAttempts and webhookBackoff pace the attempts of a delivery:
// 30 s after the first failure, doubling up to six hours, ten attempts in
// all (about a day and a half). Tests shorten the backoff.
const webhookAttempts = 10

var webhookBackoff = task.ExponentialBackoff(30*time.Second, 6*time.Hour)

// deliverWebhook POSTs a delivery's event to its endpoint and records the
// attempt. It is idempotent: a delivery that is no longer pending (or
// whose endpoint was deleted) is left alone.
func deliverWebhook(db *store.DB, client *http.Client) func(ctx context.Context, t *task.Task[webhookDeliverArgs]) error {
	return func(ctx context.Context, t *task.Task[webhookDeliverArgs]) error {
		j, err := db.WebhookDeliveryJob(ctx, t.Args.DeliveryID)
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if j.Delivery.Status != store.DeliveryPending {
			return nil
		}
		body, err := j.Event.Body()
		if err != nil {
			return err
		}
		// The wall clock, not db.Clock: receivers check the signature's
		// time against their own clocks, and the retry is River's, in
		// real time too.
		now := time.Now()
		res := webhook.Send(ctx, client, j.URL, j.Secrets, j.Event.Type, j.Delivery.ID, body, now)
		last := t.Attempt >= t.MaxAttempts
		if err := db.RecordWebhookAttempt(ctx, j.Delivery.ID, t.Attempt, res, last, now.Add(webhookBackoff(t.Attempt))); err != nil {
			return err
		}
		switch {
		case res.OK():
			return nil
		case res.Err != nil:
			return fmt.Errorf("webhook delivery %d: %w", j.Delivery.ID, res.Err)
		}
		return fmt.Errorf("webhook delivery %d: the endpoint answered %d", j.Delivery.ID, res.Code)
	}
}

// enqueueDelivery queues the tasks of webhook deliveries in tx (the
// store's OnEvent), in one insert, each on its endpoint's account so that
// it shows in that account's task list.
func (r *taskRunner) enqueueDelivery(ctx context.Context, tx *sql.Tx, ds []store.QueuedDelivery) error {
	many := make([]task.Many, len(ds))
	for i, d := range ds {
		many[i] = task.Many{Args: webhookDeliverArgs{DeliveryID: d.ID}, Options: []task.Option{task.ForAccount(d.AccountID, d.AccountPath)}}
	}
	return r.EnqueueManyTx(ctx, tx, many)
}

// billingPlanArgs is the hourly task that queues the billing of the days
// that have begun (billingDayArgs).
type billingPlanArgs struct{}

// Kind names the task.
func (billingPlanArgs) Kind() string { return "billing.plan" }

// billingDayArgs bills one part of a day: the sellers of one time zone,
// one shard.
type billingDayArgs struct {
	Day    string `json:"day"`
	Zone   string `json:"zone"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
}

// Kind names the task.
func (billingDayArgs) Kind() string { return "billing.day" }

// provisionArgs is the task that carries an order to its connector; it is
// queued in the transaction that places the order.
type provisionArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind names the task.
func (provisionArgs) Kind() string { return "order.provision" }

// subscriptionStatusArgs is the task that suspends or resumes the service
// of a subscription at its connector after its status changed.
type subscriptionStatusArgs struct {
	SubscriptionID int64 `json:"subscription_id"`
	Version        int64 `json:"version"`
}

// Kind names the task.
func (subscriptionStatusArgs) Kind() string { return "subscription.status" }

// enqueueStatus queues the status task of s in tx, on the customer's account.
func (r *taskRunner) enqueueStatus(ctx context.Context, tx *sql.Tx, s *subscription.Subscription) error {
	var path string
	if err := tx.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, s.CustomerID).Scan(&path); err != nil {
		return fmt.Errorf("subscription %d: account of customer %d: %w", s.ID, s.CustomerID, err)
	}
	_, err := r.EnqueueTx(ctx, tx, subscriptionStatusArgs{SubscriptionID: s.ID, Version: s.Version},
		task.ForAccount(s.CustomerID, path), task.UniqueByArgs())
	return err
}

// collectUsageArgs is the periodic task that asks connectors for usage.
type collectUsageArgs struct{}

// Kind names the task.
func (collectUsageArgs) Kind() string { return "usage.collect" }

// enqueueProvision queues the provisioning of an order in tx, on the
// customer's account so that it shows in that account's task list.
func (r *taskRunner) enqueueProvision(ctx context.Context, tx *sql.Tx, orderID, customerID int64, customerPath string) error {
	_, err := r.EnqueueTx(ctx, tx, provisionArgs{OrderID: orderID}, task.ForAccount(customerID, customerPath), task.UniqueByArgs())
	return err
}

// enqueueOrder queues the provisioning of order o in tx, the transaction
// that places, changes, cancels or retries it (the API's EnqueueProvision).
// The task is filed under the customer's account, whose path the store's
// hook does not hand over, so it is read here in tx: reading it from the
// pool instead would take a second connection while tx holds one, and on
// PostgreSQL the pool is shared, so a burst of orders could wait on each
// other for good.
func (r *taskRunner) enqueueOrder(ctx context.Context, tx *sql.Tx, o *store.Order) error {
	var path string
	if err := tx.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, o.CustomerID).Scan(&path); err != nil {
		return fmt.Errorf("order %d: account of customer %d: %w", o.ID, o.CustomerID, err)
	}
	return r.enqueueProvision(ctx, tx, o.ID, o.CustomerID, path)
}

// syncRunArgs is the task that applies a sync run. The API queues it in the
// transaction that creates the run (store.CreateSyncRun's enqueue hook).
type syncRunArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind names the task.
func (syncRunArgs) Kind() string { return "delegation.sync" }

// runSyncTask applies the run of a task. It is idempotent as tasks must be:
// a finished run returns at once, and a half-done one resumes, since syncing
// a copy already in step changes nothing. A failed run fails its task too,
// so that the task list tells the truth; retrying it does not run the sync
// again (ask for a new run).
func runSyncTask(db *store.DB) func(ctx context.Context, t *task.Task[syncRunArgs]) error {
	return func(ctx context.Context, t *task.Task[syncRunArgs]) error {
		run, err := db.RunSync(ctx, t.Args.RunID, nil)
		if err != nil {
			return err
		}
		if run.Status == store.SyncFailed {
			return fmt.Errorf("sync run %d failed: %s", run.ID, run.Error)
		}
		return nil
	}
}

// enqueueSync queues the task of a sync run in tx, on the account of the
// synced plan's owner, so that it shows in that account's task list.
func (r *taskRunner) enqueueSync(ctx context.Context, tx *sql.Tx, job api.SyncTask) error {
	_, err := r.EnqueueTx(ctx, tx, syncRunArgs{RunID: job.RunID}, task.ForAccount(job.AccountID, job.AccountPath), task.UniqueByArgs())
	return err
}

func (m *Main) apiHandler(panels *web.Web) (http.Handler, error) {
	cards, err := m.cardGateway()
	if err != nil {
		return nil, err
	}
	a := api.New(api.Config{
		DB:          m.DB,
		Logger:      m.Logger,
		Version:     version,
		Tasks:       api.TaskManager(m.Tasks.Manager),
		EnqueueSync: m.Tasks.enqueueSync,
		// Orders queue their provisioning with them; suspensions and
		// resumptions (a subscription's, or all of an account's with its
		// credit or administrative hold) queue the task that applies
		// them at the connector (Orchestrator.ApplyStatus).
		EnqueueProvision: m.Tasks.enqueueOrder, EnqueueSubscriptionStatus: m.Tasks.enqueueStatus,
		PublicURL: m.Config.BaseURL,
		// Webhook endpoints on internal addresses only where the operator
		// allows them (development, tests).
		AllowPrivateWebhooks: m.Config.AllowPrivateWebhooks,
		// Each API key or panel user has its own budget, per process.
		RateLimit: m.Config.RateLimit,
		Authenticate: func(r *http.Request) (*account.Actor, error) {
			a, err := panels.Actor(r)
			if err != nil {
				return nil, nil
			}
			return a, nil
		},
		CallbackBase: m.callbackBase,
		Gateway:      cards,
	})
	return panels.LoadSession(a.Handler()), nil
}

// cardGateway is the gateway that charges cards: Stripe with a key, and
// otherwise none (gateway.Offline: card payments are refused, staff
// record money received by other means). A server never charges pretend
// cards.
func (m *Main) cardGateway() (gateway.Gateway, error) {
	if m.Config.StripeKey == "" {
		m.Logger.Info("no card gateway: card payments are refused (set --stripe-key to charge cards through Stripe)")
		return gateway.Offline{}, nil
	}
	g, err := gateway.NewStripe(gateway.StripeConfig{Key: m.Config.StripeKey, APIBase: m.Config.StripeAPIBase,
		MaxNetworkRetries: -1})
	if err != nil {
		return nil, fmt.Errorf("--stripe-key: %w", err)
	}
	m.Logger.Info("card gateway: Stripe", "api", cmp.Or(m.Config.StripeAPIBase, "https://api.stripe.com"))
	return g, nil
}

// cmdOpenAPI prints the OpenAPI document of the REST API (CI lints it).
func cmdOpenAPI(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("openapi", stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "marketplane-openapi")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, dir+"/openapi.db", store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := api.New(api.Config{DB: db, Version: version}).OpenAPI().MarshalJSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// cmdTasks looks after background tasks from the command line.
func cmdTasks(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("tasks: say list, show ID, retry ID or cancel ID")
	}
	action := args[0]
	fs := newFlagSet("tasks "+action, stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	status := fs.String("status", "", "list: only tasks with this status (queued, running, retrying, failed, completed, cancelled)")
	kind := fs.String("kind", "", "list: only tasks of this kind")
	queue := fs.String("queue", "", "list: only tasks of this queue")
	limit := fs.Int("limit", 50, "list: at most this many tasks (newest first)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	var id int64
	if action != "list" {
		if fs.NArg() != 1 {
			return usagef("tasks %s: give one task id", action)
		}
		if _, err := fmt.Sscan(fs.Arg(0), &id); err != nil || id <= 0 {
			return usagef("tasks %s: %q is not a task id", action, fs.Arg(0))
		}
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	c.Workers = false
	c.TaskPollInterval, c.TaskRetentionDays = time.Second, 90
	m, err := newTaskRunner(db, c, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	var infos []task.Info
	switch action {
	case "list":
		infos, err = m.List(ctx, task.Filter{Status: task.Status(*status), Kind: *kind, Queue: *queue, Limit: *limit})
	case "show":
		var i task.Info
		i, err = m.Get(ctx, id)
		infos = []task.Info{i}
	case "retry":
		var i task.Info
		i, err = m.Retry(ctx, id)
		infos = []task.Info{i}
	case "cancel":
		var i task.Info
		i, err = m.Cancel(ctx, id)
		infos = []task.Info{i}
	default:
		return usagef("tasks: unknown action %q: say list, show, retry or cancel", action)
	}
	if err != nil {
		return err
	}
	printTasks(stdout, infos, action == "show")
	return nil
}

func printTasks(w io.Writer, infos []task.Info, detail bool) {
	if len(infos) == 0 {
		fmt.Fprintln(w, "no tasks")
		return
	}
	fmt.Fprintf(w, "%-8s %-28s %-14s %-10s %-8s %s\n", "ID", "KIND", "QUEUE", "STATUS", "ATTEMPT", "CREATED")
	for _, i := range infos {
		fmt.Fprintf(w, "%-8d %-28s %-14s %-10s %d/%-6d %s\n", i.ID, i.Kind, i.Queue, i.Status, i.Attempt, i.MaxAttempts,
			i.CreatedAt.Format(time.RFC3339))
		if detail {
			fmt.Fprintf(w, "  args: %s\n", i.Args)
			if i.AccountPath != "" {
				fmt.Fprintf(w, "  account: %d (%s)\n", i.AccountID, i.AccountPath)
			}
			for _, e := range i.Errors {
				fmt.Fprintf(w, "  attempt %d at %s: %s\n", e.Attempt, e.At.Format(time.RFC3339), e.Message)
			}
		} else if n := len(i.Errors); n > 0 {
			fmt.Fprintf(w, "  last error: %s\n", i.Errors[n-1].Message)
		}
	}
}
