package provisioning_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/pgdbaas"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/task"
)

// TestEndToEndCreditHold takes a customer of a real PostgreSQL database
// (connectors/pgdbaas on the test's server) on and off credit hold, on both
// engines, the way golden scenario 14 does through the store alone: the
// customer buys on net 15 days with 3 grace days, automatic hold and
// suspend_all. Every suspension and resumption is queued in the
// transaction that decides it as the server queues it (a
// "subscription.status" task, store.SubscriptionHook), run by a task
// worker (provisioning.Orchestrator.ApplyStatus), and checked on the
// server: a suspended customer is locked out (its role cannot log in, its
// database refuses CONNECT, its open session is ended), a resumed one
// connects and finds its data.
//
//	2027-04-01 SO  pgdbaas-starter, 200 MB (100 above included), 5 connections
//	               setup 5.00 + recurring [04-01, 05-01) 20.00 + 100 × 0.05 = 5.00   = 30.00, due 04-16
//	2027-04-16 bill  due today                                                    active
//	2027-04-19 bill  due + 3 grace days                                           active
//	2027-04-20 bill  overdue beyond grace: 30.00          credit_hold, suspended at the connector
//	2027-04-21 release for 5 days (until 04-26)           active, resumed at the connector
//	2027-04-25 bill  the release runs                                             active
//	2027-04-26 bill  release over, 30.00 still owed       credit_hold, suspended at the connector
//	2027-04-27 payment 30.00: the invoice is paid         active, resumed at the connector
//	2027-04-28 bill  nothing owed                                                 active
func TestEndToEndCreditHold(t *testing.T) {
	t.Parallel()
	pgURL := os.Getenv(storetest.EnvPG)
	if pgURL == "" {
		t.Skipf("%s is not set: the PostgreSQL connector needs a real server on both engines (CI sets it)", storetest.EnvPG)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := newCreditRig(t, db, pgURL, time.Date(2027, 4, 1, 9, 0, 0, 0, time.UTC))
		plan := m.shop.Publish(t, m.draftPlanID, func(p *catalog.Plan) {
			p.Name = catalog.Text{"en": "PostgreSQL"}
			p.Periods = []catalog.Period{provisioningtest.Monthly(usd("5.00"), usd("20.00"))}
			for i := range p.Rates {
				r := &p.Rates[i]
				switch r.Key {
				case storageKey:
					r.Included, r.Min, r.Max, r.Recurring.Amount = 100, 100, 1000, usd("0.05")
				case connKey:
					r.Included, r.Min, r.Max, r.Recurring.Amount = 5, 1, 50, usd("1.00")
				}
			}
		})
		C, buyer := m.customer(t, "Customer C", 15, account.Terms{GraceDays: 3, Hold: account.HoldAutomatic, OnHold: account.SuspendAll})

		// 2027-04-01: the sale, provisioned by the worker.
		sub := m.buy(t, buyer, store.OrderRequest{CustomerID: C.ID, PlanID: plan.ID, Period: "1m",
			Resources: map[string]int64{storageKey: 200, connKey: 5}})
		m.wantService(t, sub, true)
		const month = " [2027-04-01, 2027-05-01) "
		invoice := []string{"2027-04-01 invoice due 2027-04-16 30.00",
			"  setup 5.00", "  recurring" + month + "20.00", "  resource " + storageKey + "×100" + month + "5.00"}
		m.wantDocuments(t, C.ID, [][]string{invoice}, []store.DocumentStatus{store.DocOpen})

		// Due on the 16th, overdue beyond the 3 grace days from the 20th.
		for _, d := range []int{16, 19} {
			m.bill(t, 2027, time.April, d)
			m.wantApplied(t, fmt.Sprintf("bill 04-%d", d))
			m.wantStanding(t, C.ID, sub.ID, account.StatusActive, subscription.Active, "")
		}
		m.wantService(t, sub, true)

		// 2027-04-20: on hold; the service is suspended at the connector,
		// and the session the customer has open is ended.
		live := connectTenant(t, sub.Attributes)
		m.bill(t, 2027, time.April, 20)
		m.wantApplied(t, "bill 04-20", fmt.Sprintf("subscription %d suspended", sub.ID))
		m.wantStanding(t, C.ID, sub.ID, account.StatusCreditHold, subscription.Suspended, subscription.ReasonCreditHold)
		m.wantService(t, sub, false)
		if _, err := live.Exec(ctx, `SELECT 1`); err == nil {
			t.Fatalf("the customer's session outlived the suspension")
		}
		c := m.credit(t, C.ID)
		if c.Open != usd("30.00") || c.Overdue != usd("30.00") || c.Balance != usd("30.00") {
			t.Fatalf("credit on hold: open %s, overdue %s, balance %s; want 30.00 each", c.Open, c.Overdue, c.Balance)
		}

		// 2027-04-21: released for 5 days by the vendor's staff.
		m.clock.Set(time.Date(2027, 4, 21, 9, 0, 0, 0, time.UTC))
		c, err := db.ReleaseCreditHold(ctx, m.shop.Admin, C.ID, 5, "payment on the way", m.hook)
		if err != nil {
			t.Fatalf("release: %v", err)
		}
		if c.Status != account.StatusActive || !c.ReleasedUntil.Equal(time.Date(2027, 4, 26, 0, 0, 0, 0, time.UTC)) ||
			c.ReleaseReason != "payment on the way" {
			t.Fatalf("credit after the release: %s until %s (%q)", c.Status, c.ReleasedUntil, c.ReleaseReason)
		}
		m.wantApplied(t, "release", fmt.Sprintf("subscription %d active", sub.ID))
		m.wantStanding(t, C.ID, sub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, sub, true)

		// The release holds through its last day, the 25th.
		m.bill(t, 2027, time.April, 25)
		m.wantApplied(t, "bill 04-25")
		m.wantStanding(t, C.ID, sub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, sub, true)

		// 2027-04-26: the release is over and the debt is still there.
		m.bill(t, 2027, time.April, 26)
		m.wantApplied(t, "bill 04-26", fmt.Sprintf("subscription %d suspended", sub.ID))
		m.wantStanding(t, C.ID, sub.ID, account.StatusCreditHold, subscription.Suspended, subscription.ReasonCreditHold)
		m.wantService(t, sub, false)
		if c := m.credit(t, C.ID); !c.ReleasedUntil.IsZero() {
			t.Fatalf("the ended release is still recorded until %s", c.ReleasedUntil)
		}

		// 2027-04-27: the customer pays; the payment settles the invoice
		// and lifts the hold in its transaction.
		m.clock.Set(time.Date(2027, 4, 27, 9, 0, 0, 0, time.UTC))
		if _, err := db.ReceivePayment(ctx, m.shop.Admin, store.Payment{AccountID: C.ID, Amount: usd("30.00"), Method: "bank transfer"}, m.hook); err != nil {
			t.Fatalf("payment: %v", err)
		}
		m.wantApplied(t, "payment", fmt.Sprintf("subscription %d active", sub.ID))
		m.wantStanding(t, C.ID, sub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, sub, true)
		m.wantDocuments(t, C.ID, [][]string{{"2027-04-27 payment -30.00", "  payment -30.00"}, invoice},
			[]store.DocumentStatus{store.DocNA, store.DocPaid})
		if c := m.credit(t, C.ID); c.Open != 0 || c.Overdue != 0 || c.Balance != 0 || c.PrepaidFunds != 0 {
			t.Fatalf("credit after the payment: open %s, overdue %s, balance %s, prepaid %s", c.Open, c.Overdue, c.Balance, c.PrepaidFunds)
		}

		// Nothing owed: the next run leaves the customer alone.
		m.bill(t, 2027, time.April, 28)
		m.wantApplied(t, "bill 04-28")
		m.wantStanding(t, C.ID, sub.ID, account.StatusActive, subscription.Active, "")
	})
}

// TestEndToEndPAYGDelayedSuspension runs golden scenario 16's two cases
// side by side on one PostgreSQL server, on both engines: two customers
// of a pay-as-you-go database (connectors/pgdbaas) with terms that suspend
// pay-as-you-go services 3 days after the available balance runs out.
// Each tops up 5.00 and uses 400 CPU-hours at 0.02 (8.00), which a meter
// reports as a counter; Late tops up only once suspended, InTime before
// the 3 days are over. Suspension and resumption go to the connector
// through the task worker as in TestEndToEndCreditHold.
//
//	                              Late                        InTime
//	2027-07-01 top-up 5.00, SO db-payg (no fees, nothing invoiced)
//	2027-07-09 usage 400 CPU-hours = 8.00
//	2027-07-10 bill               −3.00, short since 07-10    −3.00, short since 07-10
//	2027-07-11 bill               active                      active
//	2027-07-12 top-up 10.00                                   7.00, not short
//	2027-07-12 bill               active                      active
//	2027-07-13 bill               suspended at the connector  active
//	2027-07-14 top-up 10.00       7.00, resumed at the connector
//	2027-08-01 bill               invoice usage × 400 [07-01, 08-01) 8.00, charged from the funds:
//	                              paid, 7.00 left             paid, 7.00 left
func TestEndToEndPAYGDelayedSuspension(t *testing.T) {
	t.Parallel()
	pgURL := os.Getenv(storetest.EnvPG)
	if pgURL == "" {
		t.Skipf("%s is not set: the PostgreSQL connector needs a real server on both engines (CI sets it)", storetest.EnvPG)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := newCreditRig(t, db, pgURL, time.Date(2027, 7, 1, 9, 0, 0, 0, time.UTC))
		// CPU time is metered beside the connector (it reports storage
		// and connections only): a counter of the provider's own, bound
		// to nothing, so that provisioning passes no limit for it.
		if err := db.CreateResourceType(ctx, m.shop.Admin, &store.ResourceType{ResourceType: catalog.ResourceType{
			Key: cpuKey, Name: catalog.Text{"en": "CPU time"}, Unit: "CPU-hour", Class: catalog.ClassCounter}}); err != nil {
			t.Fatalf("resource type: %v", err)
		}
		plan := &catalog.Plan{OwnerID: m.shop.Provider.ID, Key: "db-payg", Template: "pgdbaas", Currency: "USD", Published: true,
			Name: catalog.Text{"en": "PostgreSQL pay-as-you-go"}, Billing: catalog.PayAsYouGo,
			Periods: []catalog.Period{provisioningtest.Monthly(0, 0)},
			Rates: []catalog.Rate{
				{Key: storageKey, Resource: storageKey, Included: 100, Min: 100, Max: 100, Display: catalog.Spinner},
				{Key: connKey, Resource: connKey, Included: 5, Min: 5, Max: 5, Display: catalog.Spinner, Sort: 1},
				{Key: cpuKey, Resource: cpuKey, Max: catalog.Unlimited, Overuse: catalog.Price{Amount: usd("0.02")},
					Measurable: true, Display: catalog.Spinner, Sort: 2},
			}}
		if err := db.CreatePlan(ctx, m.shop.Admin, plan); err != nil {
			t.Fatalf("db-payg: %v", err)
		}
		terms := account.Terms{PAYGSuspensionDelayDays: 3}
		late, lateBuyer := m.customer(t, "Late", 0, terms)
		inTime, inTimeBuyer := m.customer(t, "InTime", 0, terms)
		topUp := func(c *account.Account, amount string) {
			t.Helper()
			if _, err := db.ReceivePayment(ctx, m.shop.Admin, store.Payment{AccountID: c.ID, Amount: usd(amount), Method: "card 4242", TopUp: true}, m.hook); err != nil {
				t.Fatalf("top-up of %s: %v", c.Name, err)
			}
		}
		wantAvailable := func(c *account.Account, available string, shortSince time.Time) {
			t.Helper()
			cr := m.credit(t, c.ID)
			if cr.Available != usd(available) || !cr.PAYGShortSince.Equal(shortSince) {
				t.Fatalf("%s: available %s, short since %s; want %s, short since %s", c.Name, cr.Available, cr.PAYGShortSince.Format(time.DateOnly),
					available, shortSince.Format(time.DateOnly))
			}
		}

		// 2027-07-01: top-ups, then the orders: nothing to pay, so no
		// invoice.
		var subs []*subscription.Subscription
		for _, x := range []struct {
			c     *account.Account
			buyer *account.Actor
		}{{late, lateBuyer}, {inTime, inTimeBuyer}} {
			topUp(x.c, "5.00")
			m.wantApplied(t, "top-up of "+x.c.Name)
			sub := m.buy(t, x.buyer, store.OrderRequest{CustomerID: x.c.ID, PlanID: plan.ID, Period: "1m",
				Resources: map[string]int64{storageKey: 100, connKey: 5}, ConfirmZero: true})
			m.wantService(t, sub, true)
			m.wantDocuments(t, x.c.ID, [][]string{{"2027-07-01 payment -5.00", "  payment -5.00"}}, []store.DocumentStatus{store.DocNA})
			subs = append(subs, sub)
		}
		lateSub, inTimeSub := subs[0], subs[1]

		// 2027-07-09: 400 CPU-hours each, 8.00 against 5.00 of funds.
		for _, s := range subs {
			if _, err := db.RecordUsage(ctx, s.ID, []store.UsageReading{{Resource: cpuKey, Value: 400, Additive: true,
				At: time.Date(2027, 7, 9, 12, 0, 0, 0, time.UTC)}}); err != nil {
				t.Fatalf("usage: %v", err)
			}
		}
		short := time.Date(2027, 7, 10, 0, 0, 0, 0, time.UTC)
		for _, d := range []int{10, 11} {
			m.bill(t, 2027, time.July, d)
			m.wantApplied(t, fmt.Sprintf("bill 07-%d", d))
			wantAvailable(late, "-3.00", short)
			wantAvailable(inTime, "-3.00", short)
			m.wantStanding(t, late.ID, lateSub.ID, account.StatusActive, subscription.Active, "")
			m.wantStanding(t, inTime.ID, inTimeSub.ID, account.StatusActive, subscription.Active, "")
		}

		// 2027-07-12: InTime tops up in time; the shortfall is over.
		m.clock.Set(time.Date(2027, 7, 12, 9, 0, 0, 0, time.UTC))
		topUp(inTime, "10.00")
		m.wantApplied(t, "top-up of InTime")
		wantAvailable(inTime, "7.00", time.Time{})
		m.bill(t, 2027, time.July, 12)
		m.wantApplied(t, "bill 07-12")
		m.wantStanding(t, late.ID, lateSub.ID, account.StatusActive, subscription.Active, "")

		// 2027-07-13: Late has been short for its 3 days.
		m.bill(t, 2027, time.July, 13)
		m.wantApplied(t, "bill 07-13", fmt.Sprintf("subscription %d suspended", lateSub.ID))
		// Pay-as-you-go suspends the service, not the account.
		m.wantStanding(t, late.ID, lateSub.ID, account.StatusActive, subscription.Suspended, subscription.ReasonPAYGBalance)
		m.wantService(t, lateSub, false)
		m.wantStanding(t, inTime.ID, inTimeSub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, inTimeSub, true)
		wantAvailable(late, "-3.00", short)
		wantAvailable(inTime, "7.00", time.Time{})

		// 2027-07-14: Late's top-up covers the usage: resumed in the
		// top-up's transaction.
		m.clock.Set(time.Date(2027, 7, 14, 9, 0, 0, 0, time.UTC))
		topUp(late, "10.00")
		m.wantApplied(t, "top-up of Late", fmt.Sprintf("subscription %d active", lateSub.ID))
		m.wantStanding(t, late.ID, lateSub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, lateSub, true)
		wantAvailable(late, "7.00", time.Time{})

		// 2027-08-01: the month's usage is invoiced and charged from the
		// funds.
		m.bill(t, 2027, time.August, 1)
		m.wantApplied(t, "bill 08-01")
		usage := []string{"2027-08-01 invoice 8.00", "  usage " + cpuKey + "×400 [2027-07-01, 2027-08-01) 8.00"}
		statuses := []store.DocumentStatus{store.DocPaid, store.DocNA, store.DocNA}
		m.wantDocuments(t, late.ID, [][]string{usage, {"2027-07-14 payment -10.00", "  payment -10.00"},
			{"2027-07-01 payment -5.00", "  payment -5.00"}}, statuses)
		m.wantDocuments(t, inTime.ID, [][]string{usage, {"2027-07-12 payment -10.00", "  payment -10.00"},
			{"2027-07-01 payment -5.00", "  payment -5.00"}}, statuses)
		for _, c := range []*account.Account{late, inTime} {
			if cr := m.credit(t, c.ID); cr.PrepaidFunds != usd("7.00") || cr.Available != usd("7.00") || cr.Open != 0 {
				t.Fatalf("%s after the month: prepaid %s, available %s, open %s; want 7.00, 7.00, 0", c.Name, cr.PrepaidFunds, cr.Available, cr.Open)
			}
		}
		m.wantStanding(t, late.ID, lateSub.ID, account.StatusActive, subscription.Active, "")
		m.wantStanding(t, inTime.ID, inTimeSub.ID, account.StatusActive, subscription.Active, "")
		m.wantService(t, lateSub, true)
		m.wantService(t, inTimeSub, true)
	})
}

// cpuKey is the metered resource of the pay-as-you-go plan.
const cpuKey = "db-cpu-hours"

// provisionTask and statusTask are the server's task kinds that carry an
// order and a subscription's status to the connector, with the same kinds
// and arguments as cmd/marketplane registers.
type provisionTask struct {
	OrderID int64 `json:"order_id"`
}

// Kind names the task.
func (provisionTask) Kind() string { return "order.provision" }

type statusTask struct {
	SubscriptionID int64 `json:"subscription_id"`
	Version        int64 `json:"version"`
}

// Kind names the task.
func (statusTask) Kind() string { return "subscription.status" }

// creditRig is a provider selling databases of the PostgreSQL connector
// directly to its customers, with a task worker that runs what orders and
// status changes queue.
type creditRig struct {
	db          *store.DB
	clock       *marketplane.TestClock
	svc         *pgdbaas.Service
	server      *sql.DB
	shop        *provisioningtest.Shop
	draftPlanID int64
	tasks       *task.Manager
	// queued are the tasks queued since the last wantApplied: their ids
	// and what they do ("order 3", "subscription 2 suspended").
	queued []queuedTask
	// hook is the store's hook for status changes: it queues the
	// subscription.status task in the change's transaction, as
	// cmd/marketplane's enqueueStatus does.
	hook store.SubscriptionHook
}

type queuedTask struct {
	id   int64
	what string
}

// newCreditRig registers the connector on a managed server, and starts a
// task worker polling every 20ms; the clock starts at now.
func newCreditRig(t *testing.T, db *store.DB, pgURL string, now time.Time) *creditRig {
	t.Helper()
	ctx := context.Background()
	m := &creditRig{db: db, clock: marketplane.NewTestClock(now)}
	db.Clock = m.clock
	m.svc, m.server = managedServer(t, pgURL)
	m.shop = provisioningtest.NewShop(t, db)
	const secret = "pgdbaas-credit-secret"
	reg := m.shop.Register(t, provisioningtest.Serve(t, m.svc, secret), secret, provisioning.Options{})
	m.draftPlanID = reg.Created.PlanID

	if err := task.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate tasks: %v", err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("task worker logs:\n%s", logs.String())
		}
	})
	tm, err := task.New(db, task.Config{PollInterval: 20 * time.Millisecond, RetentionDays: -1},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	orch := &provisioning.Orchestrator{DB: db, Options: provisioning.Options{Timeout: 30 * time.Second}}
	// As cmd/marketplane registers them, with one attempt each: a failure
	// shows at once rather than after a backoff.
	task.Handle(tm, func(ctx context.Context, tk *task.Task[provisionTask]) error {
		return orch.Provision(ctx, tk.Args.OrderID, tk.Attempt >= tk.MaxAttempts)
	}, task.KindOptions{Queue: task.QueueProvisioning, MaxAttempts: 1, Timeout: time.Minute})
	task.Handle(tm, func(ctx context.Context, tk *task.Task[statusTask]) error {
		return orch.ApplyStatus(ctx, tk.Args.SubscriptionID)
	}, task.KindOptions{Queue: task.QueueProvisioning, MaxAttempts: 1, Timeout: time.Minute})
	if err := tm.Start(ctx); err != nil {
		t.Fatalf("start the task worker: %v", err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tm.Stop(stop); err != nil {
			t.Errorf("stop the task worker: %v", err)
		}
	})
	m.tasks = tm
	m.hook = func(tx *sql.Tx, s *subscription.Subscription) error {
		id, err := m.enqueue(ctx, tx, statusTask{SubscriptionID: s.ID, Version: s.Version}, s.CustomerID)
		if err == nil {
			m.queued = append(m.queued, queuedTask{id, fmt.Sprintf("subscription %d %s", s.ID, s.Status)})
		}
		return err
	}
	return m
}

// enqueue queues args in tx on the customer's account, unique by its
// arguments, and returns the task's id.
func (m *creditRig) enqueue(ctx context.Context, tx *sql.Tx, args task.Args, customerID int64) (int64, error) {
	var path string
	if err := tx.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, customerID).Scan(&path); err != nil {
		return 0, fmt.Errorf("account of customer %d: %w", customerID, err)
	}
	e, err := m.tasks.EnqueueTx(ctx, tx, args, task.ForAccount(customerID, path), task.UniqueByArgs())
	if err != nil {
		return 0, err
	}
	if e.Duplicate {
		return 0, fmt.Errorf("%s %s: already queued as task %d", args.Kind(), e.Args, e.ID)
	}
	return e.ID, nil
}

// customer creates a customer of the provider on net days with terms
// given by the provider's administrator, and an administrator of it who
// places its orders.
func (m *creditRig) customer(t *testing.T, name string, netDays int, terms account.Terms) (*account.Account, *account.Actor) {
	t.Helper()
	ctx := context.Background()
	a := &account.Account{Kind: account.Customer, ParentID: m.shop.Provider.ID, Name: name, Address: account.Address{Country: "US"},
		Locale: "en-US", Currency: "USD", TimeZone: "UTC", PaymentTermsDays: netDays}
	if err := m.db.CreateAccount(ctx, account.SystemActor(), a); err != nil {
		t.Fatalf("create account %s: %v", name, err)
	}
	if _, err := m.db.SetTerms(ctx, m.shop.Admin, a.ID, terms); err != nil {
		t.Fatalf("terms of %s: %v", name, err)
	}
	return a, m.shop.User(t, a, strings.ToLower(name)+"-admin")
}

// buy places req as buyer, lets the worker provision it, and returns the
// subscription, active with a ready tenant. The customer writes a note in
// its database, which wantService reads back.
func (m *creditRig) buy(t *testing.T, buyer *account.Actor, req store.OrderRequest) *subscription.Subscription {
	t.Helper()
	ctx := context.Background()
	o, err := m.db.PlaceOrder(ctx, buyer, req, func(tx *sql.Tx, o *store.Order) error {
		id, err := m.enqueue(ctx, tx, provisionTask{OrderID: o.ID}, o.CustomerID)
		if err == nil {
			m.queued = append(m.queued, queuedTask{id, fmt.Sprintf("order %d", o.ID)})
		}
		return err
	})
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	m.wantApplied(t, "order", fmt.Sprintf("order %d", o.ID))
	done, err := m.db.Order(ctx, account.SystemActor(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != order.StatusCompleted {
		t.Fatalf("order %d after provisioning: %s %s %q", done.Number, done.Status, done.Reason, done.Message)
	}
	sub, err := m.db.Subscription(ctx, account.SystemActor(), o.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != subscription.Active || sub.TenantID == "" || sub.TenantStatus != connector.StatusReady || sub.Attributes["uri"] == "" {
		t.Fatalf("subscription after provisioning: %+v", sub)
	}
	tenant := connectTenant(t, sub.Attributes)
	if _, err := tenant.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'hello')`); err != nil {
		t.Fatalf("the customer cannot use its database: %v", err)
	}
	tenant.Close(ctx)
	return sub
}

// bill runs the billing of the day with the status hook, at 09:00 UTC.
func (m *creditRig) bill(t *testing.T, y int, mo time.Month, d int) store.BillRunResult {
	t.Helper()
	m.clock.Set(time.Date(y, mo, d, 9, 0, 0, 0, time.UTC))
	res, err := m.db.BillDayWith(context.Background(), m.clock.Now(), store.BillOptions{OnSubscription: m.hook})
	if err != nil {
		t.Fatalf("bill %d-%02d-%02d: %v", y, mo, d, err)
	}
	for _, f := range res.Failures {
		t.Fatalf("bill %d-%02d-%02d: subscription %d, account %d: %v", y, mo, d, f.SubscriptionID, f.AccountID, f.Err)
	}
	return res
}

// wantApplied checks that step queued exactly the tasks want (in order),
// and waits for the worker to complete each.
func (m *creditRig) wantApplied(t *testing.T, step string, want ...string) {
	t.Helper()
	queued := m.queued
	m.queued = nil
	got := make([]string, len(queued))
	for i, q := range queued {
		got[i] = q.what
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s queued %q, want %q", step, got, want)
	}
	for _, q := range queued {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		info, err := m.tasks.WaitFor(ctx, q.id)
		cancel()
		if err != nil || info.Status != task.StatusCompleted {
			t.Fatalf("%s: task %d (%s) is %s: %v %+v", step, q.id, q.what, info.Status, err, info.Errors)
		}
	}
}

// wantStanding checks the account's status and its subscription's.
func (m *creditRig) wantStanding(t *testing.T, accountID, subID int64, acct account.Status, status subscription.Status, reason string) {
	t.Helper()
	ctx := context.Background()
	a, err := m.db.Account(ctx, account.SystemActor(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.db.Subscription(ctx, account.SystemActor(), subID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != acct || s.Status != status || s.StatusReason != reason {
		t.Fatalf("%s is %s with subscription %d %s (%q); want %s with %s (%q)", a.Name, a.Status, subID, s.Status, s.StatusReason,
			acct, status, reason)
	}
}

// wantService checks the tenant of sub at the connector and on the
// server: running, the customer connects with the attributes the
// platform keeps and reads its note; suspended, the connector says so,
// the role cannot log in, the database refuses it CONNECT, and a
// connection attempt is turned away.
func (m *creditRig) wantService(t *testing.T, sub *subscription.Subscription, running bool) {
	t.Helper()
	ctx := context.Background()
	want := connector.StatusReady
	if !running {
		want = connector.StatusSuspended
	}
	if tn, err := m.svc.Get(ctx, sub.TenantID); err != nil || tn.Status != want {
		t.Fatalf("tenant %s at the connector: %s, %v; want %s", sub.TenantID, tn.Status, err, want)
	}
	var canLogin, canConnect bool
	if err := m.server.QueryRowContext(ctx, `SELECT r.rolcanlogin, has_database_privilege(r.rolname, d.datname, 'CONNECT')
		FROM pg_roles r, pg_database d WHERE r.rolname = $1 AND d.datname = $2`,
		sub.Attributes["user"], sub.Attributes["database"]).Scan(&canLogin, &canConnect); err != nil {
		t.Fatalf("role %s on database %s: %v", sub.Attributes["user"], sub.Attributes["database"], err)
	}
	if canLogin != running || canConnect != running {
		t.Fatalf("database %s: login %t, connect %t; want %t", sub.Attributes["database"], canLogin, canConnect, running)
	}
	conn, err := pgx.Connect(ctx, sub.Attributes["uri"]+"?sslmode=disable")
	if !running {
		if err == nil {
			conn.Close(ctx)
			t.Fatalf("the customer of suspended database %s connected", sub.Attributes["database"])
		}
		// The role's NOLOGIN turns it away before the database's
		// privileges are looked at.
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "28000" {
			t.Fatalf("connecting to suspended database %s: %v, want a refused login (28000)", sub.Attributes["database"], err)
		}
		return
	}
	if err != nil {
		t.Fatalf("the customer cannot connect to database %s: %v", sub.Attributes["database"], err)
	}
	defer conn.Close(ctx)
	var body string
	if err := conn.QueryRow(ctx, `SELECT body FROM notes WHERE id = 1`).Scan(&body); err != nil || body != "hello" {
		t.Fatalf("the customer's note in %s: %q, %v", sub.Attributes["database"], body, err)
	}
}

// credit is where account id stands today.
func (m *creditRig) credit(t *testing.T, id int64) *store.Credit {
	t.Helper()
	c, err := m.db.Credit(context.Background(), account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantDocuments checks the documents of account id, newest first: each
// rendered as its head ("2027-04-01 invoice due 2027-04-16 30.00") and
// its lines as quoteLines writes them, indented; and their statuses.
func (m *creditRig) wantDocuments(t *testing.T, id int64, want [][]string, statuses []store.DocumentStatus) {
	t.Helper()
	docs, err := m.db.Documents(context.Background(), account.SystemActor(), store.DocumentFilter{AccountID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got, wantAll []string
	var gotStatus []store.DocumentStatus
	for _, d := range docs {
		head := d.IssuedOn.Format(time.DateOnly) + " " + string(d.Type)
		if !d.DueOn.IsZero() {
			head += " due " + d.DueOn.Format(time.DateOnly)
		}
		got = append(got, head+" "+d.Total.Format(d.Currency))
		for _, l := range quoteLines(&order.Quote{Currency: d.Currency, Lines: d.Lines}) {
			got = append(got, "  "+l)
		}
		gotStatus = append(gotStatus, d.Status)
	}
	for _, w := range want {
		wantAll = append(wantAll, w...)
	}
	if !slices.Equal(got, wantAll) || !slices.Equal(gotStatus, statuses) {
		t.Fatalf("documents of account %d:\n  %s\n  statuses %v\nwant\n  %s\n  statuses %v", id, strings.Join(got, "\n  "), gotStatus,
			strings.Join(wantAll, "\n  "), statuses)
	}
}

// syncBuffer is a buffer safe for the worker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
