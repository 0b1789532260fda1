package demo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/demo"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestYearOfBilling simulates 2027 on the demo marketplace, on both
// engines: every third demo customer (100, under all twelve resellers,
// in USD and EUR) buys one of the demo's plans in January through its
// reseller's staff, monthly or yearly, most with resources above what the
// plan includes; a few buy the pay-as-you-go server and report its usage
// every day, the small databases report storage above what they include
// once a month; ten days into a period some customers add mailboxes
// (April), upgrade Office Basic to Pro (May) and PostgreSQL S to L
// (June), one cancels its yearly Office Basic (July); every buyer,
// customers and resellers, pays what it owes every other Monday. The daily
// billing run runs for each of the 365 days, none left out.
//
// Then the year's ledger must hold together, every figure read from the
// tables apart from the store's reports and compared with them
// (checkYear):
//
//   - every monthly subscription renewed eleven times, every yearly one
//     not at all, and each ends the year in its period up to January 2028;
//   - every document a customer got for a subscription (an order's or a
//     renewal's) has one document per sale up its vendor's chain to the
//     provider, same subscription, day, order and type, in the seller's
//     currency, each tier's total at or above the tier above's and within
//     its markup over it; every line of a monthly renewal, at every tier,
//     is its quantity at the seller's own price;
//   - every reseller's revenue (the invoices less the credit memos it
//     issued) is what its children received from it, its cost what its
//     parent issued to it, and Revenue and Margins report both; the
//     provider's revenue is what the L1 resellers bought;
//   - every document posts a buyer's and a vendor's entry that sum to zero,
//     every buyer's entries are its documents, every vendor's side is minus
//     its buyers'.
//
// Pay-as-you-go buyers are few on purpose: the usage stage reviews each of
// them every day, and with twenty of them the 365 runs took 70 s on
// PostgreSQL; with eight they take about 30 s (10 s on SQLite).
func TestYearOfBilling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		y := newYear(t, db)
		start := time.Now()
		y.run(t)
		t.Logf("%s: the year (orders, usage, payments and 365 billing runs) took %v; %d subscriptions in the sample",
			db.Engine, time.Since(start).Round(time.Millisecond), len(y.subs))
		checkYear(t, y)
	})
}

// The simulated year.
var (
	yearStart = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	yearEnd   = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
)

// markup is what a demo reseller adds over its parent's prices: the
// demo's 20 % at L1 and 10 % at L2, in percent.
var markup = map[int]int64{1: 20, 2: 10}

// yearAccount is an account of the demo tree as the checks need it.
type yearAccount struct {
	id, parent int64
	kind       account.Kind
	currency   string
	name       string
	zone       string // its time zone
	level      int    // 0 the provider, 1 an L1 reseller, 2 an L2 reseller, 3 … a customer below either
}

// tier names a's place in the tree.
func (a *yearAccount) tier() string {
	switch {
	case a.level == 0:
		return "provider"
	case a.kind == account.Customer:
		return "customer"
	}
	return fmt.Sprintf("L%d %d", a.level, a.id)
}

// yearSub is a subscription of the sample and what the year does to it.
type yearSub struct {
	id        int64
	customer  *yearAccount
	key       string // the plan's key at the start
	period    string
	ordered   time.Time // the day of the sales order
	cancelled bool
	payg      bool // reports vCPU hours, RAM hours and traffic every day
	storage   bool // reports its database storage on the 10th of each month
}

// year is the simulation's state.
type year struct {
	db       *store.DB
	clock    *marketplane.TestClock
	sys      *account.Actor
	accounts map[int64]*yearAccount
	// staff are an administrator of each reseller: orders are placed by
	// the customer's reseller, as its panel would.
	staff map[int64]*account.Actor
	plans map[string]int64 // reseller id/plan key → the reseller's copy
	subs  []*yearSub
	// events are what happens on a day besides billing, in order.
	events map[time.Time][]func(t *testing.T)
	// orders are the orders completed, with whether their customer's
	// quote had a line to issue.
	orders   map[int64]bool
	failures int
	runs     time.Duration
	stages   map[string]time.Duration
}

func newYear(t *testing.T, db *store.DB) *year {
	t.Helper()
	ctx := context.Background()
	y := &year{db: db, clock: marketplane.NewTestClock(yearStart.Add(8 * time.Hour)), sys: account.SystemActor(),
		accounts: map[int64]*yearAccount{}, staff: map[int64]*account.Actor{}, plans: map[string]int64{},
		events: map[time.Time][]func(t *testing.T){}, orders: map[int64]bool{}, stages: map[string]time.Duration{}}
	db.Clock = y.clock
	sum, err := demo.Load(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT id, COALESCE(parent_id, 0), kind, currency, name, time_zone FROM accounts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var customers []*yearAccount
	for rows.Next() {
		a := &yearAccount{}
		if err := rows.Scan(&a.id, &a.parent, &a.kind, &a.currency, &a.name, &a.zone); err != nil {
			t.Fatal(err)
		}
		y.accounts[a.id] = a
		if a.kind == account.Customer {
			customers = append(customers, a)
		}
	}
	rows.Close()
	for _, a := range y.accounts {
		for p := a; p.parent != 0; p = y.accounts[p.parent] {
			a.level++
		}
	}
	for _, lg := range sum.Logins {
		if strings.HasPrefix(lg.Kind, "reseller") {
			if y.staff[lg.AccountID], err = db.ActorForUser(ctx, lg.UserID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(customers) != 300 || len(y.staff) != 12 {
		t.Fatalf("the demo has %d customers and %d reseller administrators, want 300 and 12", len(customers), len(y.staff))
	}
	for k := 0; k*3 < len(customers); k++ {
		y.plan(t, k, customers[k*3])
	}
	return y
}

// plan schedules what the k-th customer of the sample, c, does in the
// year. Its sales order is on the (k mod 28 + 1)-th of January, so that
// its monthly renewals fall on that day of every month; its product is
// the k mod 9-th below.
func (y *year) plan(t *testing.T, k int, c *yearAccount) {
	day := yearStart.AddDate(0, 0, k%28)
	// Changes come ten days into a period, so that they are prorated.
	mid := func(month time.Month) time.Time { return time.Date(2027, month, day.Day()+10, 0, 0, 0, 0, time.UTC) }
	var b buy
	var then func(s *yearSub)
	switch k % 9 {
	case 0: // Office Basic monthly, 3 mailboxes (1 included); every other one goes Pro in May
		b = buy{"office-basic", "1m", map[string]int64{"mailbox": 3, "office-storage": 20}, false}
		if (k/9)%2 == 0 {
			then = func(s *yearSub) {
				y.at(mid(time.May), func(t *testing.T) {
					y.change(t, s, "office-pro", map[string]int64{"mailbox": 3, "office-storage": 100})
				})
			}
		}
	case 1: // Office Basic yearly; the first is cancelled in July
		b = buy{"office-basic", "12m", map[string]int64{"mailbox": 2}, false}
		if k == 1 {
			then = func(s *yearSub) {
				y.at(time.Date(2027, time.July, 15, 0, 0, 0, 0, time.UTC), func(t *testing.T) { y.cancel(t, s) })
			}
		}
	case 2: // Office Pro monthly, 12 mailboxes (10 included)
		b = buy{"office-pro", "1m", map[string]int64{"mailbox": 12}, false}
	case 3: // PostgreSQL S monthly, storage used above what it includes; every other one goes L in June
		b = buy{"pg-small", "1m", map[string]int64{"pg-database": 4, "pg-storage": 30}, false}
		if (k/9)%2 == 1 {
			then = func(s *yearSub) {
				y.at(mid(time.June), func(t *testing.T) {
					y.change(t, s, "pg-large", map[string]int64{"pg-database": 4, "pg-storage": 200, "pg-connections": 500, "pg-backup": 1})
				})
			}
		}
	case 4: // PostgreSQL L yearly
		b = buy{"pg-large", "12m", nil, false}
	case 5: // Cloud VPS monthly, 4 vCPUs (2 included), 8 GB RAM (4 included)
		b = buy{"vps-standard", "1m", map[string]int64{"vps-vcpu": 4, "vps-ram": 8}, false}
	case 6: // Cloud VPS pay-as-you-go, or yearly with the defaults
		// Few pay-as-you-go buyers: the usage stage reviews each of them
		// every day of the year, the dearest part of the run.
		b = buy{"vps-payg", "1m", nil, true}
		if k%18 != 6 {
			b = buy{"vps-standard", "12m", nil, false}
		}
	case 7: // a domain with privacy, yearly
		b = buy{"domain-registration", "1y", map[string]int64{"domain-privacy": 1}, false}
	case 8: // Office Standard monthly (not its trial), 8 mailboxes (5 included), 12 from April
		b = buy{"office-standard", "1m", map[string]int64{"mailbox": 8}, false}
		then = func(s *yearSub) {
			y.at(mid(time.April), func(t *testing.T) { y.change(t, s, "", map[string]int64{"mailbox": 12}) })
		}
	}
	y.at(day, func(t *testing.T) {
		s := y.buy(t, c, b)
		if s == nil {
			return
		}
		s.storage = b.key == "pg-small"
		if then != nil {
			then(s)
		}
		if k%50 == 4 {
			// A few customers also run a pay-as-you-go server.
			y.buy(t, c, buy{"vps-payg", "1m", nil, true})
		}
	})
}

// at schedules fn on day.
func (y *year) at(day time.Time, fn func(t *testing.T)) {
	y.events[day] = append(y.events[day], fn)
}

// planID is reseller's copy of the demo plan key.
func (y *year) planID(t *testing.T, reseller int64, key string) int64 {
	t.Helper()
	k := fmt.Sprintf("%d/%s", reseller, key)
	if id, ok := y.plans[k]; ok {
		return id
	}
	p, err := y.db.PlanByKey(context.Background(), y.sys, reseller, key)
	if err != nil {
		t.Fatalf("reseller %d's plan %s: %v", reseller, key, err)
	}
	y.plans[k] = p.ID
	return p.ID
}

// complete completes order o as its provisioning would.
func (y *year) complete(t *testing.T, o *store.Order) bool {
	t.Helper()
	if _, err := y.db.CompleteOrder(context.Background(), o.ID, store.TenantInfo{Status: "ready"}); err != nil {
		t.Errorf("complete %s order %d of customer %d (%s %s): %v", o.Type, o.ID, o.CustomerID, o.Currency, o.Total, err)
		return false
	}
	y.orders[o.ID] = o.Quote != nil && hasAmount(o.Quote.Lines)
	return true
}

func hasAmount(lines []order.Line) bool {
	for _, l := range lines {
		if l.Amount != 0 {
			return true
		}
	}
	return false
}

// buy is a sales order: a plan's key, its period and resources, and the
// buyer's yes to a price of zero (pay-as-you-go costs nothing up front).
type buy struct {
	key, period string
	resources   map[string]int64
	confirmZero bool
}

// buy places and completes customer c's order b of its reseller's plan.
func (y *year) buy(t *testing.T, c *yearAccount, b buy) *yearSub {
	t.Helper()
	o, err := y.db.PlaceOrder(context.Background(), y.staff[c.parent], store.OrderRequest{CustomerID: c.id,
		PlanID: y.planID(t, c.parent, b.key), Period: b.period, Resources: b.resources, ConfirmZero: b.confirmZero}, nil)
	if err != nil {
		t.Errorf("customer %d orders %s %s: %v", c.id, b.key, b.period, err)
		return nil
	}
	s := &yearSub{id: o.SubscriptionID, customer: c, key: b.key, period: b.period, ordered: dayOf(y.clock.Now()), payg: b.key == "vps-payg"}
	y.subs = append(y.subs, s)
	if !y.complete(t, o) {
		return nil
	}
	return s
}

// change changes s to the reseller's plan key ("" keeps its plan) with
// resources.
func (y *year) change(t *testing.T, s *yearSub, key string, resources map[string]int64) {
	t.Helper()
	req := store.ChangeRequest{Resources: resources}
	if key != "" {
		req.PlanID = y.planID(t, s.customer.parent, key)
	}
	o, err := y.db.ChangeOrder(context.Background(), y.staff[s.customer.parent], s.id, req, nil)
	if err != nil {
		t.Errorf("subscription %d (%s) changes to %q %v: %v", s.id, s.key, key, resources, err)
		return
	}
	y.complete(t, o)
}

// cancel cancels s today.
func (y *year) cancel(t *testing.T, s *yearSub) {
	t.Helper()
	o, err := y.db.CancelOrder(context.Background(), y.staff[s.customer.parent], s.id, time.Time{}, nil)
	if err != nil {
		t.Errorf("cancel subscription %d: %v", s.id, err)
		return
	}
	if y.complete(t, o) {
		s.cancelled = true
	}
}

// weekOf is the number of whole weeks from the start of the year to d.
func weekOf(d time.Time) int { return int(d.Sub(yearStart).Hours()) / (7 * 24) }

// dayOf is t's UTC calendar day.
func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// run plays the year: each day at noon UTC (the same calendar day in
// every demo time zone) the payments of every other Monday, the day's
// orders, the day's usage, then the billing run of the day.
func (y *year) run(t *testing.T) {
	ctx := context.Background()
	for d := yearStart; d.Before(yearEnd); d = d.AddDate(0, 0, 1) {
		y.clock.Set(d.Add(12 * time.Hour))
		if d.Weekday() == time.Monday && weekOf(d)%2 == 0 {
			y.pay(t)
		}
		for _, fn := range y.events[d] {
			fn(t)
		}
		y.usage(t, d)
		start := time.Now()
		res, err := y.db.BillDay(ctx, d)
		y.runs += time.Since(start)
		for _, st := range res.Stages {
			y.stages[st.Name] += st.Took
		}
		if err != nil {
			t.Fatalf("bill %s: %v", d.Format(time.DateOnly), err)
		}
		for _, f := range res.Failures {
			if y.failures++; y.failures <= 10 {
				t.Errorf("bill %s: subscription %d, account %d: %v", d.Format(time.DateOnly), f.SubscriptionID, f.AccountID, f.Err)
			}
		}
	}
	if y.failures > 10 {
		t.Errorf("… %d billing failures in all", y.failures)
	}
	t.Logf("%s: 365 billing runs took %v (%v)", y.db.Engine, y.runs.Round(time.Millisecond), y.stages)
}

// pay has every buyer that owes its vendor pay it all, by bank transfer.
// Every other Monday, so that no invoice is overdue (the shortest net
// terms of the demo are 14 days, grace 0: an invoice is overdue the day
// after it is due): a customer on hold could not change its
// subscriptions, and a reseller on hold sells nothing.
func (y *year) pay(t *testing.T) {
	ctx := context.Background()
	owed := map[int64]int64{}
	rows, err := y.db.Read.QueryContext(ctx, `SELECT account_id, CAST(SUM(total) AS BIGINT) FROM documents
		GROUP BY account_id ORDER BY account_id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id, sum int64
		if err := rows.Scan(&id, &sum); err != nil {
			t.Fatal(err)
		}
		if sum > 0 {
			owed[id] = sum
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		if _, err := y.db.RecordPayment(ctx, y.sys, id, money.Micros(owed[id]), "bank transfer"); err != nil {
			t.Errorf("%s: account %d pays %d: %v", y.clock.Now().Format(time.DateOnly), id, owed[id], err)
		}
	}
}

// usage reports the day's readings at noon: the pay-as-you-go servers'
// counters every day, the small databases' storage on the 10th (45 GB,
// above their 20 included).
func (y *year) usage(t *testing.T, d time.Time) {
	at := d.Add(12 * time.Hour)
	var batch []store.SubscriptionUsage
	for _, s := range y.subs {
		if s.cancelled || s.ordered.After(d) {
			continue
		}
		switch {
		case s.payg:
			batch = append(batch, store.SubscriptionUsage{SubscriptionID: s.id, Readings: []store.UsageReading{
				{Resource: "vps-vcpu-hours", Value: 48, Additive: true, At: at},
				{Resource: "vps-ram-hours", Value: 96, Additive: true, At: at},
				{Resource: "vps-traffic", Value: 5, Additive: true, At: at},
			}})
		case s.storage && d.Day() == 10:
			batch = append(batch, store.SubscriptionUsage{SubscriptionID: s.id, Readings: []store.UsageReading{
				{Resource: "pg-storage", Value: 45, At: at},
			}})
		}
	}
	if len(batch) == 0 {
		return
	}
	if _, err := y.db.RecordUsageBatch(context.Background(), batch); err != nil {
		t.Fatalf("usage of %s: %v", d.Format(time.DateOnly), err)
	}
}
