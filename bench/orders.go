package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
)

// The sale the orders and usage benchmarks share: the provider's connector
// "bench" (an in-memory service served by the benchmark itself, over HTTP
// on the loopback, as a vendor's connector would be), its starter plan
// priced and published, delegated to one reseller, and two customers of
// that reseller that differ only in their number of users.
const (
	// benchConnector is the name of the connector (its manifest's name):
	// the key of its template and the prefix of its resource types.
	benchConnector = "bench"
	// benchSecret signs the calls to it. The connector lives only as long
	// as the benchmark, on a loopback address.
	benchSecret = "bench-connector-secret"
	// saleResellerExt is the start of the external id of the reseller.
	saleResellerExt = "bench-sale-"
	// The customers' external ids and sizes: the Large accounts rule of
	// the issue compares an account of 10,000 users with one of 10.
	smallCustomerExt = "bench-users-10"
	largeCustomerExt = "bench-users-10000"
	smallUsers       = 10
	largeUsers       = 10000
	// userBatch is how many users one INSERT of the fixture writes.
	userBatch = 500
	// orderWorkers is how many orders are in flight at once: API clients
	// and provisioning workers of a busy server. SQLite queues the writes
	// of all of them on its one writer; PostgreSQL runs them side by side
	// except where they meet on the vendor's order counter.
	orderWorkers = 8
)

// benchOrder is what every order of the benchmarks asks for: 2 GB of
// storage (1 GB included), 20 connections (10 included), a database name.
func benchOrder(customerID, planID int64) store.OrderRequest {
	return store.OrderRequest{CustomerID: customerID, PlanID: planID, Period: "1m",
		Resources:  map[string]int64{benchConnector + ".storage_mb": 2048, benchConnector + ".connections": 20},
		Parameters: map[string]string{"db_name": "bench", "region": "eu"}}
}

// benchService is the connector's service: connectortest.Memory for
// tenants (synchronous: a create answers 201 with a ready tenant), and
// fixed usage readings for any tenant id, so that the usage benchmark's
// subscriptions, made in bulk, need no tenant of their own.
type benchService struct {
	*connectortest.Memory
	usageCalls atomic.Int64
}

// usageReadings are what the connector reports for every tenant: a gauge
// and a counter. Their time is left to the SDK (the time of the answer),
// so that every collection stores new readings.
var usageReadings = []connector.UsageReading{
	{Resource: "storage_mb", Value: connector.Units(1234)},
	{Resource: "requests", Value: connector.Units(56), Additive: true},
}

// Usage implements connector.Service.
func (s *benchService) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	s.usageCalls.Add(1)
	return append([]connector.UsageReading(nil), usageReadings...), nil
}

// sale is the fixture of the orders and usage benchmarks.
type sale struct {
	svc  *benchService
	srv  *http.Server
	orch *provisioning.Orchestrator
	// plan is the reseller's copy of the provider's plan: what its
	// customers buy.
	plan         *catalog.Plan
	small, large *account.Account
	// smallActor and largeActor are the customers' administrators, who
	// place the orders.
	smallActor, largeActor *account.Actor
}

// close stops the connector.
func (s *sale) close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// buildSale serves the connector, registers it (or points the
// registration of an earlier run at its new address), and makes or finds
// the plan, the reseller and the customers. The caller closes the sale.
func (r *runner) buildSale(ctx context.Context) (*sale, error) {
	db := r.db
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	s := &sale{svc: &benchService{Memory: &connectortest.Memory{}}}
	spec := connectortest.Manifest()
	spec.Name, spec.Description = benchConnector, "The benchmarks' in-memory connector."
	s.svc.Spec = &spec
	base, err := s.serve(db)
	if err != nil {
		return nil, err
	}
	if err := r.registerConnector(ctx, base); err != nil {
		s.close()
		return nil, err
	}
	// The orchestrator as `serve` builds it: the default client options
	// and usage concurrency.
	s.orch = &provisioning.Orchestrator{DB: db, Logger: r.log}
	if err := r.buildCustomers(ctx, s, prov); err != nil {
		s.close()
		return nil, err
	}
	r.log.Info("sale ready", "connector", base, "plan", s.plan.ID, "small customer", s.small.ID, "large customer", s.large.ID)
	return s, nil
}

// serve starts the connector and the platform's registration callback on
// one loopback listener and returns its base URL.
func (s *sale) serve(db *store.DB) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("connector: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(provisioning.CallbackPath, provisioning.CallbackHandler(db))
	mux.Handle("/", connector.Handler(s.svc, connector.Config{Secret: benchSecret, Logger: slog.New(slog.DiscardHandler)}))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// registerConnector registers the connector at base as a provider would
// (provisioning.Register: manifest, two-way check, catalog). A connector
// of an earlier run is registered at that run's address: it is moved to
// base first, as a redeployed connector would be.
func (r *runner) registerConnector(ctx context.Context, base string) error {
	db, sys := r.db, account.SystemActor()
	stored, err := db.Connector(ctx, sys, benchConnector)
	switch {
	case err == nil && stored.URL != base:
		stored.URL, stored.Secret = base, benchSecret
		if err := db.UpdateConnector(ctx, sys, stored); err != nil {
			return fmt.Errorf("move connector %s: %w", benchConnector, err)
		}
	case err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND:
		return err
	}
	if _, err := provisioning.Register(ctx, db, sys, provisioning.RegisterRequest{URL: base, Secret: benchSecret,
		CallbackBase: base}); err != nil {
		return fmt.Errorf("register connector %s: %w", benchConnector, err)
	}
	return nil
}

// buildCustomers prices and publishes the connector's starter plan (once),
// delegates it to the reseller, and makes the two customers with their
// users.
func (r *runner) buildCustomers(ctx context.Context, s *sale, prov *account.Account) error {
	db, sys := r.db, account.SystemActor()
	plan, err := db.PlanByKey(ctx, sys, prov.ID, provisioning.StarterPlanKey(benchConnector))
	if err != nil {
		return fmt.Errorf("starter plan of connector %s: %w", benchConnector, err)
	}
	if !plan.Published {
		priceStarter(plan)
		if err := db.UpdatePlan(ctx, sys, plan, nil); err != nil {
			return fmt.Errorf("price plan %s: %w", plan.Key, err)
		}
	}
	ids, err := ensureResellers(ctx, db, prov.ID, saleResellerExt, "Bench Sale Reseller ", 1)
	if err != nil {
		return err
	}
	reseller := ids[0]
	if s.plan, err = ensureCopy(ctx, db, plan.ID, reseller); err != nil {
		return err
	}
	if s.small, s.smallActor, err = r.ensureCustomer(ctx, reseller, smallCustomerExt, smallUsers); err != nil {
		return err
	}
	s.large, s.largeActor, err = r.ensureCustomer(ctx, reseller, largeCustomerExt, largeUsers)
	return err
}

// priceStarter prices the draft plan a registration made and publishes it:
// 10.00 a month, storage above 1 GB at 0.01 per MB, connections above 10
// at 0.50 each.
func priceStarter(p *catalog.Plan) {
	for i := range p.Periods {
		p.Periods[i].Recurring = catalog.Price{Amount: money.Micros(10_000_000)}
		p.Periods[i].ShowZeroPrice = false
	}
	for i := range p.Rates {
		rt := &p.Rates[i]
		switch rt.Key {
		case benchConnector + ".storage_mb":
			rt.Included, rt.Recurring = 1024, catalog.Price{Amount: money.Micros(10_000)}
		case benchConnector + ".connections":
			rt.Included, rt.Recurring = 10, catalog.Price{Amount: money.Micros(500_000)}
		}
	}
	p.Published = true
}

// ensureCopy returns the reseller's copy of plan planID, delegating it
// (20% markup, published) when missing.
func ensureCopy(ctx context.Context, db *store.DB, planID, resellerID int64) (*catalog.Plan, error) {
	for after := int64(0); ; {
		page, err := db.CopiesBatch(ctx, planID, after, syncBatch)
		if err != nil {
			return nil, err
		}
		for _, cp := range page {
			if cp.OwnerID == resellerID {
				return cp, nil
			}
		}
		if len(page) < syncBatch {
			break
		}
		after = page[len(page)-1].ID
	}
	cp, err := db.Delegate(ctx, account.SystemActor(), planID, resellerID, delegation.DelegateOptions{
		Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: "20"}, Publish: true})
	if err != nil {
		return nil, fmt.Errorf("delegate plan %d to reseller %d: %w", planID, resellerID, err)
	}
	return cp, nil
}

// ensureCustomer returns the customer ext of the reseller with its
// administrator's actor, making what is missing: the account, the
// administrator (one password hash, at the database's costs) and the other
// users, up to users in all.
//
// The other users are a fixture written in bulk straight into the users
// table (CreateUser hashes every password: 10,000 argon2id hashes would
// take minutes at production costs). They are ordinary rows: a login, a
// name, an e-mail address, the administrator's password hash and the
// support role.
func (r *runner) ensureCustomer(ctx context.Context, resellerID int64, ext string, users int) (*account.Account, *account.Actor, error) {
	db, sys := r.db, account.SystemActor()
	kids, err := db.ChildrenByExternalID(ctx, resellerID, account.Customer)
	if err != nil {
		return nil, nil, err
	}
	c := kids[ext]
	if c == nil {
		c = &account.Account{}
		fillAccount(c, account.Customer, resellerID, 0, fmt.Sprintf("Bench Customer with %d users", users))
		c.ExternalID = ext
		if err := db.CreateAccount(ctx, sys, c); err != nil {
			return nil, nil, fmt.Errorf("create customer %s: %w", ext, err)
		}
	}
	login := fmt.Sprintf("%s-%d-admin", ext, c.ID)
	u, err := db.UserByLogin(ctx, login)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		var admin *account.Role
		if admin, err = db.RoleByKey(ctx, account.RoleAdmin); err != nil {
			return nil, nil, err
		}
		u = &account.User{AccountID: c.ID, Login: login, DisplayName: "Administrator", Email: login + "@bench.example.com",
			RoleIDs: []int64{admin.ID}}
		err = db.CreateUser(ctx, sys, u, "bench-password-"+ext)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("administrator of %s: %w", ext, err)
	}
	actor, err := db.ActorForUser(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := r.fillUsers(ctx, c.ID, u.ID, users); err != nil {
		return nil, nil, fmt.Errorf("users of %s: %w", ext, err)
	}
	return c, actor, nil
}

// fillUsers adds users to account accountID until it has want, copying the
// password hash of its administrator adminID.
func (r *runner) fillUsers(ctx context.Context, accountID, adminID int64, want int) error {
	db := r.db
	var have int
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE account_id = $1`, accountID).Scan(&have); err != nil {
		return err
	}
	if have >= want {
		return nil
	}
	support, err := db.RoleByKey(ctx, account.RoleSupport)
	if err != nil {
		return err
	}
	var hash string
	if err := db.Read.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = $1`, adminID).Scan(&hash); err != nil {
		return err
	}
	r.log.Info("users", "account", accountID, "have", have, "want", want)
	now := db.Clock.Now().UTC().Format("2006-01-02T15:04:05.000000Z") // the store's text form of times
	for have < want {
		n := min(userBatch, want-have)
		var q strings.Builder
		q.WriteString(`INSERT INTO users (account_id, login, login_key, display_name, email, password_hash, created_at, updated_at) VALUES `)
		args := []any{accountID, hash, now}
		for i := range n {
			if i > 0 {
				q.WriteString(", ")
			}
			login := fmt.Sprintf("bench-%d-user-%05d", accountID, have+i)
			args = append(args, login, fmt.Sprintf("User %05d", have+i), login+"@bench.example.com")
			k := len(args)
			fmt.Fprintf(&q, "($1, $%d, $%d, $%d, $%d, $2, $3, $3)", k-2, k-2, k-1, k)
		}
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role_id) SELECT u.id, $1 FROM users u
				WHERE u.account_id = $2 AND NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)`, support.ID, accountID)
			return err
		})
		if err != nil {
			return err
		}
		have += n
	}
	return nil
}

// placeAndProvision places one order as actor and provisions it at once,
// as the provisioning task would when it picks the order up. The enqueue
// hook stands for the task: it captures the order in the transaction that
// places it. It returns the order's id and how long each half took.
func (s *sale) placeAndProvision(ctx context.Context, db *store.DB, actor *account.Actor, req store.OrderRequest) (int64, time.Duration, time.Duration, error) {
	start := time.Now()
	var id int64
	_, err := db.PlaceOrder(ctx, actor, req, func(_ *sql.Tx, o *store.Order) error { id = o.ID; return nil })
	if err != nil {
		return 0, 0, 0, fmt.Errorf("place order: %w", err)
	}
	placed := time.Now()
	if err := s.orch.Provision(ctx, id, false); err != nil {
		return 0, 0, 0, fmt.Errorf("provision order %d: %w", id, err)
	}
	return id, placed.Sub(start), time.Since(placed), nil
}

// runOrders measures placing and provisioning SCALE orders, orderWorkers
// at a time, each order provisioned by its worker right after it is
// placed. Orders alternate between the customer of 10 users and the
// customer of 10,000, so that both see the same database, the same
// neighbours and the same warm-up, and their latencies compare: the Large
// accounts rule says they must cost the same.
func runOrders(ctx context.Context, r *runner) error {
	setup := time.Now()
	s, err := r.buildSale(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	r.set("setup_s", time.Since(setup).Seconds())

	n := r.scale
	total := make([]time.Duration, n)
	placing := make([]time.Duration, n)
	provisionTimes := make([]time.Duration, n)
	ids := make([]int64, n)
	reqs := [2]store.OrderRequest{benchOrder(s.small.ID, s.plan.ID), benchOrder(s.large.ID, s.plan.ID)}
	actors := [2]*account.Actor{s.smallActor, s.largeActor}
	creates := s.svc.Calls("create")

	r.log.Info("orders", "count", n, "workers", orderWorkers)
	p := r.phase("ordering", "orders", n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range orderWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				id, place, prov, err := s.placeAndProvision(ctx, r.db, actors[i%2], reqs[i%2])
				if err != nil {
					cancel(fmt.Errorf("order %d of %d: %w", i+1, n, err))
					return
				}
				ids[i], placing[i], provisionTimes[i], total[i] = id, place, prov, place+prov
				p.add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	p.done()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	r.log.Info("orders done", "count", n, "elapsed", elapsed)

	// Every order completed, each with its own tenant.
	if err := r.checkCompleted(ctx, ids); err != nil {
		return err
	}
	if made := s.svc.Calls("create") - creates; made != n {
		return fmt.Errorf("the connector was asked for %d tenants for %d orders", made, n)
	}

	r.set("orders_s", elapsed.Seconds())
	r.set("orders_per_s", float64(n)/elapsed.Seconds())
	var small, large []time.Duration
	for i, d := range total {
		if i%2 == 0 {
			small = append(small, d)
		} else {
			large = append(large, d)
		}
	}
	r.setPercentiles("place", placing, 50, 99)
	r.setPercentiles("provision", provisionTimes, 50, 99)
	r.set("p50_ms", ms(percentile(total, 50)))
	r.set("p99_ms", ms(percentile(total, 99)))
	r.setPercentiles("users_10", small, 50, 99)
	r.setPercentiles("users_10000", large, 50, 99)
	// The ratio of the medians: the tail of either half is the other
	// workers' doing (they queue on SQLite's writer and the vendor's order
	// counter), the median is the order's own cost.
	r.set("users_10000_vs_10_ratio", float64(percentile(large, 50))/float64(percentile(small, 50)))
	return nil
}

// checkCompleted checks that the orders ids are completed and their
// subscriptions active at the connector's tenants.
func (r *runner) checkCompleted(ctx context.Context, ids []int64) error {
	lo, hi := ids[0], ids[0]
	for _, id := range ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	var orders int
	err := r.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders o
		JOIN subscriptions s ON s.id = o.subscription_id
		WHERE o.id >= $1 AND o.id <= $2 AND o.status = $3 AND s.status = 'active' AND s.connector = $4 AND s.tenant_id <> ''`,
		lo, hi, string(order.StatusCompleted), benchConnector).Scan(&orders)
	if err != nil {
		return fmt.Errorf("check orders: %w", err)
	}
	if orders < len(ids) {
		var status, msg string
		err := r.db.Read.QueryRowContext(ctx, `SELECT status, message FROM orders WHERE id >= $1 AND id <= $2 AND status <> $3
			ORDER BY id LIMIT 1`, lo, hi, string(order.StatusCompleted)).Scan(&status, &msg)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check orders: %w", err)
		}
		return fmt.Errorf("%d of %d orders completed with an active subscription; one is %s: %s", orders, len(ids), status, msg)
	}
	return nil
}
