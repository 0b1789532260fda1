package provisioning_test

import (
	"context"
	cryptorand "crypto/rand"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/pgdbaas"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestEndToEndDatabaseSale sells a real PostgreSQL database through two
// reseller tiers and takes it through its whole life, on both engines: the
// PostgreSQL connector (connectors/pgdbaas) runs in the test behind the SDK,
// is registered the real way, and manages the test's PostgreSQL server.
//
// The catalog. The provider P prices the connector's draft plan
// "pgdbaas-starter" and adds "db-small", its downgrade; L1 copies both at
// +20 %, L2 copies L1's at +10 % (copies round to the cent, half away from
// zero: 0.06 × 1.1 = 0.066 → 0.07):
//
//	                             P       L1      L2
//	starter  setup              5.00    6.00    6.60
//	         recurring / month 20.00   24.00   26.40
//	         storage MB         0.05    0.06    0.07   100 included, 100–1000
//	         connection         1.00    1.20    1.32     5 included,   1–50
//	db-small recurring / month 10.00   12.00   13.20
//	         storage MB         0.05    0.06    0.07   100 included, 100–200
//	         connection         1.00    1.20    1.32     2 included,   1–10
//
// Both refund the whole period within 14 days, prorated after.
//
// The story (the customer C buys from L2; tier 1 is L1 selling to L2, tier
// 2 is P selling to L1; every amount is each tier's own price):
//
//	2027-03-01 SO  starter, 300 MB (200 above included), 10 connections (5 above), month [03-01, 04-01)
//	              C → L2: setup 6.60 + recurring 26.40 + 200 × 0.07 = 14.00 + 5 × 1.32 = 6.60   = 53.60
//	              tier 1: 6.00 + 24.00 + 200 × 0.06 = 12.00 + 5 × 1.20 = 6.00                    = 48.00
//	              tier 2: 5.00 + 20.00 + 200 × 0.05 = 10.00 + 5 × 1.00 = 5.00                    = 40.00
//	2027-03-05 CH  500 MB, 20 connections: 27 days left of 31, each line round(units × price × 27/31)
//	              C:      storage −200 × 0.07 = −14.00 → −12.19, +400 × 0.07 = 28.00 → 24.39
//	                      conns    −5 × 1.32 =  −6.60 →  −5.75,  +15 × 1.32 = 19.80 → 17.25  = 23.70
//	              tier 1: −12.00 → −10.45, 24.00 → 20.90, −6.00 → −5.23, 18.00 → 15.68       = 20.90
//	              tier 2: −10.00 →  −8.71, 20.00 → 17.42, −5.00 → −4.35, 15.00 → 13.06       = 17.42
//	2027-03-09 CH  down to db-small, 200 MB (100 above), 5 connections (3 above): 23 of 31 days left
//	              C:      credit −26.40 → −19.59, charge 13.20 → 9.79,
//	                      storage −28.00 → −20.77, +7.00 → 5.19, conns −19.80 → −14.69, +3.96 → 2.94 = −37.13
//	              tier 1: −24.00 → −17.81, 12.00 → 8.90, −24.00 → −17.81, 6.00 → 4.45,
//	                      −18.00 → −13.35, 3.60 → 2.67                                           = −32.95
//	              tier 2: −20.00 → −14.84, 10.00 → 7.42, −20.00 → −14.84, 5.00 → 3.71,
//	                      −15.00 → −11.13, 3.00 → 2.23                                           = −27.45
//	2027-03-12 CL  inside the 14 days: db-small's month refunded whole
//	              C:      −13.20, −100 × 0.07 = −7.00, −3 × 1.32 = −3.96                        = −24.16
//	              tier 1: −12.00, −6.00, −3.60                                                   = −21.60
//	              tier 2: −10.00, −5.00, −3.00                                                   = −18.00
//
// At each step the orchestrator carries the order to the connector, and the
// test looks at the server itself: the database and its role exist, the
// customer connects with the attributes the platform keeps and writes a
// table, the connection limit follows the orders, usage is collected, and
// after the cancellation the database and the role are gone.
func TestEndToEndDatabaseSale(t *testing.T) {
	t.Parallel()
	pgURL := os.Getenv(storetest.EnvPG)
	if pgURL == "" {
		t.Skipf("%s is not set: the PostgreSQL connector needs a real server on both engines (CI sets it)", storetest.EnvPG)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := account.SystemActor()
		clock := marketplane.NewTestClock(time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
		db.Clock = clock
		svc, server := managedServer(t, pgURL)
		shop := provisioningtest.NewShop(t, db)
		const connSecret = "pgdbaas-e2e-secret"
		reg := shop.Register(t, provisioningtest.Serve(t, svc, connSecret), connSecret, provisioning.Options{})
		if !slices.Equal(reg.Created.ResourceTypes, []string{connKey, storageKey}) || reg.Created.Template != "pgdbaas" {
			t.Fatalf("registration created %+v", reg.Created)
		}

		// The provider's catalog: db-small first, so that the starter's
		// downgrade path names a plan that exists.
		P := shop.Provider
		small := &catalog.Plan{OwnerID: P.ID, Key: "db-small", Template: "pgdbaas", Currency: "USD", Published: true,
			Name: catalog.Text{"en": "PostgreSQL small"}, Billing: catalog.ChargeInAdvance,
			Periods: []catalog.Period{provisioningtest.Monthly(0, usd("10.00"))},
			Rates: []catalog.Rate{
				{Key: storageKey, Resource: storageKey, Included: 100, Min: 100, Max: 200,
					Recurring: catalog.Price{Amount: usd("0.05")}, Display: catalog.Spinner},
				{Key: connKey, Resource: connKey, Included: 2, Min: 1, Max: 10,
					Recurring: catalog.Price{Amount: usd("1.00")}, Display: catalog.Spinner, Sort: 1},
			}}
		if err := db.CreatePlan(ctx, shop.Admin, small); err != nil {
			t.Fatalf("db-small: %v", err)
		}
		starter := shop.Publish(t, reg.Created.PlanID, func(p *catalog.Plan) {
			p.Name = catalog.Text{"en": "PostgreSQL"}
			p.Periods = []catalog.Period{provisioningtest.Monthly(usd("5.00"), usd("20.00"))}
			p.DowngradeTo = []string{"db-small"}
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

		// The tree: P → L1 → L2 → C, and the copies down to L2.
		L1 := shop.Account(t, account.Reseller, P.ID, "Reseller L1")
		L2 := shop.Account(t, account.Reseller, L1.ID, "Reseller L2")
		C := shop.Account(t, account.Customer, L2.ID, "Customer C")
		l1 := shop.User(t, L1, "l1-admin")
		buyer := shop.User(t, C, "c-admin")
		delegate := func(actor *account.Actor, src *catalog.Plan, to *account.Account, percent string) *catalog.Plan {
			t.Helper()
			cp, err := db.Delegate(ctx, actor, src.ID, to.ID, delegation.DelegateOptions{
				Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: percent}, Publish: true})
			if err != nil {
				t.Fatalf("delegate %s to %s: %v", src.Key, to.Name, err)
			}
			return cp
		}
		smallL1 := delegate(shop.Admin, small, L1, "20")
		smallL2 := delegate(l1, smallL1, L2, "10")
		starterL1 := delegate(shop.Admin, starter, L1, "20")
		starterL2 := delegate(l1, starterL1, L2, "10")
		for _, x := range []struct {
			plan *catalog.Plan
			want string
		}{
			{starter, "setup 5.00 recurring 20.00 storage 0.05 connections 1.00 down [db-small]"},
			{starterL1, "setup 6.00 recurring 24.00 storage 0.06 connections 1.20 down [db-small]"},
			{starterL2, "setup 6.60 recurring 26.40 storage 0.07 connections 1.32 down [db-small]"},
			{smallL1, "setup 0.00 recurring 12.00 storage 0.06 connections 1.20 down []"},
			{smallL2, "setup 0.00 recurring 13.20 storage 0.07 connections 1.32 down []"},
		} {
			if got := prices(x.plan); got != x.want {
				t.Fatalf("plan %s of %d: %s, want %s", x.plan.Key, x.plan.OwnerID, got, x.want)
			}
		}

		orch := &provisioning.Orchestrator{DB: db, Options: provisioning.Options{Timeout: 30 * time.Second}}
		var queued []int64
		enqueue := func(tx *sql.Tx, o *store.Order) error {
			queued = append(queued, o.ID)
			return nil
		}
		// provision runs the order's task once, as its first attempt, and
		// checks that the order completed.
		provision := func(o *store.Order) *store.Order {
			t.Helper()
			if len(queued) == 0 || queued[len(queued)-1] != o.ID {
				t.Fatalf("order %d was not queued in its transaction (queued %v)", o.ID, queued)
			}
			if err := orch.Provision(ctx, o.ID, false); err != nil {
				t.Fatalf("provision order %d (%s): %v", o.Number, o.Type, err)
			}
			done, err := db.Order(ctx, sys, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if done.Status != order.StatusCompleted || done.Reason != "" || done.FinishedAt.IsZero() {
				t.Fatalf("order %d (%s) after provisioning: %s %s %q", o.Number, o.Type, done.Status, done.Reason, done.Message)
			}
			return done
		}
		tier1 := func(plan *catalog.Plan, lines []string, total string) tierSide {
			return tierSide{seller: L1.ID, buyer: L2.ID, plan: plan.ID, side: side{lines, total}}
		}
		tier2 := func(plan *catalog.Plan, lines []string, total string) tierSide {
			return tierSide{seller: P.ID, buyer: L1.ID, plan: plan.ID, side: side{lines, total}}
		}

		// 2027-03-01: the sale. The customer sees its own side only.
		const month = " [2027-03-01, 2027-04-01) "
		so, err := db.PlaceOrder(ctx, buyer, store.OrderRequest{CustomerID: C.ID, PlanID: starterL2.ID, Period: "1m",
			Resources: map[string]int64{storageKey: 300, connKey: 10}, Parameters: map[string]string{"extensions": "pgcrypto"}}, enqueue)
		if err != nil {
			t.Fatalf("place order: %v", err)
		}
		if so.Number != 1 || so.Type != order.SO || so.VendorID != L2.ID || so.Status != order.StatusProvisioning || len(so.Tiers) != 0 {
			t.Fatalf("sales order %+v", so)
		}
		wantOrder(t, db, so.ID, side{[]string{
			"setup 6.60", "recurring" + month + "26.40",
			"resource " + storageKey + "×200" + month + "14.00", "resource " + connKey + "×5" + month + "6.60"}, "53.60"},
			tier1(starterL1, []string{
				"setup 6.00", "recurring" + month + "24.00",
				"resource " + storageKey + "×200" + month + "12.00", "resource " + connKey + "×5" + month + "6.00"}, "48.00"),
			tier2(starter, []string{
				"setup 5.00", "recurring" + month + "20.00",
				"resource " + storageKey + "×200" + month + "10.00", "resource " + connKey + "×5" + month + "5.00"}, "40.00"))
		if sub := wantSubscription(t, db, so.SubscriptionID, subscription.Pending, starterL2.ID, 300, 10); sub.TenantID != "" {
			t.Fatalf("a pending subscription has tenant %q", sub.TenantID)
		}
		provision(so)
		sub := wantSubscription(t, db, so.SubscriptionID, subscription.Active, starterL2.ID, 300, 10)
		if sub.Connector != "pgdbaas" || sub.TenantID == "" || sub.TenantStatus != connector.StatusReady ||
			sub.Attributes["database"] != "t_"+sub.TenantID || sub.Attributes["uri"] == "" {
			t.Fatalf("active subscription %+v", sub)
		}
		attrs := maps.Clone(sub.Attributes)
		dbName := attrs["database"]
		wantServer(t, server, dbName, 1, 10)
		wantLimits(t, svc, sub.TenantID, 300, 10)
		// The customer uses its database with what the platform shows it.
		tenant := connectTenant(t, attrs)
		if _, err := tenant.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'hello')`); err != nil {
			t.Fatalf("the customer cannot use its database: %v", err)
		}
		tenant.Close(ctx)

		// Usage: the connector measures the database; the readings are
		// stored under the resource types' keys.
		n, err := orch.CollectUsage(ctx)
		if err != nil || n != 2 {
			t.Fatalf("collect usage: %d readings, %v", n, err)
		}
		storage, err := db.Usage(ctx, buyer, sub.ID, storageKey, time.Unix(0, 0), time.Now().Add(time.Hour))
		if err != nil || len(storage) != 1 || storage[0].Value < 1 || storage[0].Additive {
			t.Fatalf("storage usage %+v, %v", storage, err)
		}
		if conns, err := db.Usage(ctx, buyer, sub.ID, connKey, time.Unix(0, 0), time.Now().Add(time.Hour)); err != nil || len(conns) != 1 {
			t.Fatalf("connection usage %+v, %v", conns, err)
		}

		// 2027-03-05: more storage and connections, prorated over the 27
		// days left of 31.
		clock.Set(time.Date(2027, 3, 5, 10, 0, 0, 0, time.UTC))
		const rest5 = " [2027-03-05, 2027-04-01) "
		up, err := db.ChangeOrder(ctx, buyer, sub.ID, store.ChangeRequest{Resources: map[string]int64{storageKey: 500, connKey: 20}}, enqueue)
		if err != nil {
			t.Fatalf("change order: %v", err)
		}
		if up.Number != 2 || up.Type != order.CH || up.PlanID != starterL2.ID {
			t.Fatalf("change order %+v", up)
		}
		wantOrder(t, db, up.ID, side{[]string{
			"resource " + storageKey + "×-200" + rest5 + "-12.19", "resource " + storageKey + "×400" + rest5 + "24.39",
			"resource " + connKey + "×-5" + rest5 + "-5.75", "resource " + connKey + "×15" + rest5 + "17.25"}, "23.70"},
			tier1(starterL1, []string{
				"resource " + storageKey + "×-200" + rest5 + "-10.45", "resource " + storageKey + "×400" + rest5 + "20.90",
				"resource " + connKey + "×-5" + rest5 + "-5.23", "resource " + connKey + "×15" + rest5 + "15.68"}, "20.90"),
			tier2(starter, []string{
				"resource " + storageKey + "×-200" + rest5 + "-8.71", "resource " + storageKey + "×400" + rest5 + "17.42",
				"resource " + connKey + "×-5" + rest5 + "-4.35", "resource " + connKey + "×15" + rest5 + "13.06"}, "17.42"))
		// The subscription changes when the connector has changed the
		// service, not when the order is placed.
		wantSubscription(t, db, sub.ID, subscription.Active, starterL2.ID, 300, 10)
		provision(up)
		wantSubscription(t, db, sub.ID, subscription.Active, starterL2.ID, 500, 20)
		wantServer(t, server, dbName, 1, 20)
		wantLimits(t, svc, sub.TenantID, 500, 20)

		// 2027-03-09: down to db-small, 23 days left of 31.
		clock.Set(time.Date(2027, 3, 9, 10, 0, 0, 0, time.UTC))
		const rest9 = " [2027-03-09, 2027-04-01) "
		down, err := db.ChangeOrder(ctx, buyer, sub.ID, store.ChangeRequest{PlanID: smallL2.ID,
			Resources: map[string]int64{storageKey: 200, connKey: 5}}, enqueue)
		if err != nil {
			t.Fatalf("downgrade: %v", err)
		}
		if down.Number != 3 || down.PlanID != smallL2.ID || down.Details.FromPlanID != starterL2.ID || down.Details.Deferred {
			t.Fatalf("downgrade order %+v", down)
		}
		wantOrder(t, db, down.ID, side{[]string{
			"change-credit" + rest9 + "-19.59", "change-charge" + rest9 + "9.79",
			"resource " + storageKey + "×-400" + rest9 + "-20.77", "resource " + storageKey + "×100" + rest9 + "5.19",
			"resource " + connKey + "×-15" + rest9 + "-14.69", "resource " + connKey + "×3" + rest9 + "2.94"}, "-37.13"},
			tier1(smallL1, []string{
				"change-credit" + rest9 + "-17.81", "change-charge" + rest9 + "8.90",
				"resource " + storageKey + "×-400" + rest9 + "-17.81", "resource " + storageKey + "×100" + rest9 + "4.45",
				"resource " + connKey + "×-15" + rest9 + "-13.35", "resource " + connKey + "×3" + rest9 + "2.67"}, "-32.95"),
			tier2(small, []string{
				"change-credit" + rest9 + "-14.84", "change-charge" + rest9 + "7.42",
				"resource " + storageKey + "×-400" + rest9 + "-14.84", "resource " + storageKey + "×100" + rest9 + "3.71",
				"resource " + connKey + "×-15" + rest9 + "-11.13", "resource " + connKey + "×3" + rest9 + "2.23"}, "-27.45"))
		provision(down)
		wantSubscription(t, db, sub.ID, subscription.Active, smallL2.ID, 200, 5)
		wantServer(t, server, dbName, 1, 5)
		wantLimits(t, svc, sub.TenantID, 200, 5)
		// The data survived the changes, and the credentials still work.
		tenant = connectTenant(t, attrs)
		var body string
		if err := tenant.QueryRow(ctx, `SELECT body FROM notes WHERE id = 1`).Scan(&body); err != nil || body != "hello" {
			t.Fatalf("the customer's data after the downgrade: %q, %v", body, err)
		}
		tenant.Close(ctx)

		// 2027-03-12: cancelled inside the 14 days of full refund.
		clock.Set(time.Date(2027, 3, 12, 10, 0, 0, 0, time.UTC))
		cl, err := db.CancelOrder(ctx, buyer, sub.ID, time.Time{}, enqueue)
		if err != nil {
			t.Fatalf("cancel: %v", err)
		}
		if cl.Number != 4 || cl.Type != order.CL || !cl.Details.EffectiveOn.Equal(time.Date(2027, 3, 12, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("cancellation order %+v", cl)
		}
		wantOrder(t, db, cl.ID, side{[]string{
			"refund -13.20", "refund " + storageKey + "×100 -7.00", "refund " + connKey + "×3 -3.96"}, "-24.16"},
			tier1(smallL1, []string{"refund -12.00", "refund " + storageKey + "×100 -6.00", "refund " + connKey + "×3 -3.60"}, "-21.60"),
			tier2(small, []string{"refund -10.00", "refund " + storageKey + "×100 -5.00", "refund " + connKey + "×3 -3.00"}, "-18.00"))
		// Until the connector has removed the database, the subscription
		// runs.
		wantSubscription(t, db, sub.ID, subscription.Active, smallL2.ID, 200, 5)
		provision(cl)
		gone := wantSubscription(t, db, sub.ID, subscription.Terminated, smallL2.ID, 200, 5)
		if gone.StatusReason != subscription.ReasonCancelled || gone.TenantStatus != connector.StatusDeleted {
			t.Fatalf("cancelled subscription %+v", gone)
		}
		wantServer(t, server, dbName, 0, 0)
		if tn, err := svc.Get(ctx, sub.TenantID); err != nil || tn.Status != connector.StatusDeleted {
			t.Fatalf("tenant after the cancellation: %+v, %v", tn, err)
		}
		// A terminated subscription has no usage to collect.
		if n, err := orch.CollectUsage(ctx); err != nil || n != 0 {
			t.Fatalf("usage after the cancellation: %d readings, %v", n, err)
		}
		if len(queued) != 4 {
			t.Fatalf("queued %v, want the four orders", queued)
		}
	})
}

// The connector's resource types, as registration names them.
const (
	storageKey = "pgdbaas.storage_mb"
	connKey    = "pgdbaas.connections"
)

func usd(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// prices renders the prices of a plan made for the test.
func prices(p *catalog.Plan) string {
	pe, _ := p.Period("1m")
	s, _ := p.Rate(storageKey)
	c, _ := p.Rate(connKey)
	return fmt.Sprintf("setup %s recurring %s storage %s connections %s down %v", pe.Setup.Amount, pe.Recurring.Amount,
		s.Recurring.Amount, c.Recurring.Amount, p.DowngradeTo)
}

// side is one side of an order: its lines, one per string as quoteLines
// renders them, and its total.
type side struct {
	lines []string
	total string
}

// tierSide is the wholesale side of a tier: who sells to whom from which
// plan.
type tierSide struct {
	seller, buyer, plan int64
	side
}

// quoteLines renders a quote one line per string, for tables a person can
// check: "resource pgdbaas.storage_mb×200 [2027-03-01, 2027-04-01) 14.00".
func quoteLines(q *order.Quote) []string {
	out := []string{}
	for _, l := range q.Lines {
		s := string(l.What)
		if l.Resource != "" {
			s += " " + l.Resource + "×" + l.Quantity.String()
		}
		if !l.From.IsZero() {
			s += fmt.Sprintf(" [%s, %s)", l.From.Format(time.DateOnly), l.To.Format(time.DateOnly))
		}
		out = append(out, s+" "+l.Amount.Format(q.Currency))
	}
	return out
}

func wantSide(t *testing.T, about string, q *order.Quote, total money.Micros, want side) {
	t.Helper()
	if got := quoteLines(q); !slices.Equal(got, want.lines) {
		t.Errorf("%s: lines\n  %s\nwant\n  %s", about, strings.Join(got, "\n  "), strings.Join(want.lines, "\n  "))
	}
	if q.Currency != "USD" || q.Total.Format("USD") != want.total || total != q.Total {
		t.Errorf("%s: total %s (stored %s) %s, want %s USD", about, q.Total.Format("USD"), total.Format("USD"), q.Currency, want.total)
	}
}

// wantOrder reads order id as stored, with every tier, and compares the
// customer's side and each tier's with the hand-computed ones.
func wantOrder(t *testing.T, db *store.DB, id int64, customer side, tiers ...tierSide) {
	t.Helper()
	o, err := db.Order(context.Background(), account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	about := fmt.Sprintf("order %d (%s)", o.Number, o.Type)
	wantSide(t, about+", customer", o.Quote, o.Total, customer)
	if len(o.Tiers) != len(tiers) {
		t.Fatalf("%s: %d tiers, want %d", about, len(o.Tiers), len(tiers))
	}
	for i, w := range tiers {
		g := o.Tiers[i]
		if g.Tier != i+1 || g.SellerID != w.seller || g.BuyerID != w.buyer || g.PlanID != w.plan {
			t.Errorf("%s: tier %d is %d: %d → %d of plan %d, want %d → %d of plan %d", about, i+1, g.Tier,
				g.SellerID, g.BuyerID, g.PlanID, w.seller, w.buyer, w.plan)
		}
		wantSide(t, fmt.Sprintf("%s, tier %d", about, i+1), g.Quote, g.Total, w.side)
	}
}

// wantSubscription checks the subscription's status, plan and limits.
func wantSubscription(t *testing.T, db *store.DB, id int64, status subscription.Status, planID, storage, conns int64) *subscription.Subscription {
	t.Helper()
	s, err := db.Subscription(context.Background(), account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != status || s.PlanID != planID || s.Resources[storageKey] != storage || s.Resources[connKey] != conns {
		t.Fatalf("subscription %d is %s on plan %d with %v; want %s on plan %d with %d MB and %d connections",
			id, s.Status, s.PlanID, s.Resources, status, planID, storage, conns)
	}
	return s
}

// managedServer is the PostgreSQL connector on the server at pgURL, with a
// state schema of its own, and an admin pool on that server for the test's
// checks. Tenants the test leaves are deleted, and the schema dropped, at
// the end.
func managedServer(t *testing.T, pgURL string) (*pgdbaas.Service, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	schema := "e2e_" + strings.ToLower(cryptorand.Text()[:12])
	svc, err := pgdbaas.New(ctx, pgdbaas.Config{AdminURL: pgURL, Schema: schema, Extensions: []string{"pgcrypto"}, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	server, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer svc.Close()
		defer server.Close()
		rows, err := server.QueryContext(ctx, `SELECT id FROM `+pgx.Identifier{schema, "tenants"}.Sanitize()+` WHERE status <> 'deleted'`)
		if err == nil {
			var ids []string
			for rows.Next() {
				var id string
				if rows.Scan(&id) == nil {
					ids = append(ids, id)
				}
			}
			rows.Close()
			for _, id := range ids {
				if _, err := svc.Delete(ctx, id); err != nil {
					t.Errorf("cleanup: tenant %s: %v", id, err)
				}
			}
		}
		if _, err := server.ExecContext(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return svc, server
}

// wantServer checks on the managed server that database name and its role
// exist (n = 1) or are gone (n = 0), and that both carry the connection
// limit.
func wantServer(t *testing.T, server *sql.DB, name string, n, connLimit int) {
	t.Helper()
	var dbs, roles int
	var dbLimit, roleLimit sql.NullInt64
	if err := server.QueryRow(`SELECT count(*), max(datconnlimit) FROM pg_database WHERE datname = $1`, name).Scan(&dbs, &dbLimit); err != nil {
		t.Fatal(err)
	}
	if err := server.QueryRow(`SELECT count(*), max(rolconnlimit) FROM pg_roles WHERE rolname = $1`, name).Scan(&roles, &roleLimit); err != nil {
		t.Fatal(err)
	}
	if dbs != n || roles != n {
		t.Fatalf("database %s: %d databases and %d roles on the server, want %d", name, dbs, roles, n)
	}
	if n > 0 && (dbLimit.Int64 != int64(connLimit) || roleLimit.Int64 != int64(connLimit)) {
		t.Fatalf("database %s: connection limit %d (role %d), want %d", name, dbLimit.Int64, roleLimit.Int64, connLimit)
	}
}

// wantLimits checks the limits the connector holds for tenant id.
func wantLimits(t *testing.T, svc *pgdbaas.Service, id string, storage, conns int64) {
	t.Helper()
	tn, err := svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{pgdbaas.ResourceStorage: storage, pgdbaas.ResourceConnections: conns}
	if tn.Status != connector.StatusReady || !maps.Equal(tn.Limits, want) {
		t.Fatalf("tenant %s at the connector: %s %v, want ready %v", id, tn.Status, tn.Limits, want)
	}
}

// connectTenant opens a session as the customer, with the attributes the
// platform keeps for it.
func connectTenant(t *testing.T, attrs map[string]string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), attrs["uri"]+"?sslmode=disable")
	if err != nil {
		t.Fatalf("connect as %s: %v", attrs["user"], err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
