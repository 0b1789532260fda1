package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/task"
)

// The API benchmark's fixture: apiResellers resellers of the provider, each
// with a published copy of the provider's plan apiPlanKey (no connector)
// and apiCustomersPerReseller customers. Every client of the benchmark is
// one customer, with an API key of its own, ordering for itself.
const (
	apiResellers            = 8
	apiCustomersPerReseller = 4
	// apiResellerExt is the start of the resellers' external ids.
	apiResellerExt = "bench-api-"
	// apiPlanKey is the provider's plan the customers buy: the billing
	// fixture's monthly plan under a key of its own, so that neither
	// benchmark sees the other's subscriptions.
	apiPlanKey = "bench-api-monthly"
	// apiMaxErrorRatio is the share of failed requests above which the
	// benchmark fails: its figures would describe errors, not orders.
	apiMaxErrorRatio = 0.01
)

// apiClients is how many clients order at once: the 32. The test
// lowers it.
var apiClients = apiCustomersPerReseller * apiResellers

// apiOrderArgs is the server's provisioning task of an order (kind
// order.provision, cmd/marketplane's provisionArgs), queued by the
// benchmark's API in each order's transaction as the server's is: the
// outbox row is part of an order's cost. The benchmark's manager only
// inserts; a server started later on the database would provision them.
type apiOrderArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind names the task.
func (apiOrderArgs) Kind() string { return "order.provision" }

// apiClient is one client of the benchmark: a customer and its key.
type apiClient struct {
	customerID int64
	token      string
	body       []byte
}

// apiTally is what one client measured.
type apiTally struct {
	latencies []time.Duration // of the successful requests
	errors    int
	firstErr  string
}

// runAPI measures placing orders through the REST API over HTTP on the
// loopback: apiClients clients, each a customer with its own API key and
// its own connection, POST /api/v1/orders in a loop for SCALE seconds. The
// orders are only placed: they stay in status provisioning with their task
// queued, as no task worker runs (provisioning is the orders benchmark's
// business). A non-2xx answer or a failed request counts as an error;
// more than 1 % fails the benchmark.
func runAPI(ctx context.Context, r *runner) error {
	setup := time.Now()
	clients, err := r.buildAPIClients(ctx)
	if err != nil {
		return err
	}
	srv, err := r.serveAPI(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	var before int
	if err := r.countAPIOrders(ctx, &before); err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())

	duration := time.Duration(r.scale) * time.Second
	r.log.Info("ordering", "clients", len(clients), "duration", duration, "server", srv.URL)
	p := r.phase("ordering", "s", r.scale)
	tallies := make([]apiTally, len(clients))
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i, c := range clients {
		wg.Go(func() { tallies[i] = c.order(ctx, srv.URL, deadline) })
	}
	stopTicks := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.add(1)
			case <-stopTicks:
				return
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	close(stopTicks)
	p.done()
	if err := ctx.Err(); err != nil {
		return err
	}

	var lat []time.Duration
	errs, firstErr := 0, ""
	for _, t := range tallies {
		lat = append(lat, t.latencies...)
		errs += t.errors
		if firstErr == "" {
			firstErr = t.firstErr
		}
	}
	ok := len(lat)
	r.log.Info("orders done", "orders", ok, "errors", errs, "elapsed", elapsed)
	if errs > 0 {
		r.log.Warn("failed requests", "errors", errs, "requests", ok+errs, "first", firstErr)
	}
	if total := ok + errs; total == 0 || float64(errs) > apiMaxErrorRatio*float64(total) {
		return fmt.Errorf("%d of %d requests failed (first: %s)", errs, total, firstErr)
	}
	// Every 201 stored an order, and nothing else did.
	var after int
	if err := r.countAPIOrders(ctx, &after); err != nil {
		return err
	}
	if after-before != ok {
		return fmt.Errorf("%d orders stored for %d placed", after-before, ok)
	}

	r.set("orders_s", elapsed.Seconds())
	r.set("orders_per_s", float64(ok)/elapsed.Seconds())
	r.set("p50_ms", ms(percentile(lat, 50)))
	r.set("p99_ms", ms(percentile(lat, 99)))
	return nil
}

// order posts orders until deadline and returns what it measured. Each
// client has its own transport, hence its own connection, as separate
// API clients would.
func (c *apiClient) order(ctx context.Context, base string, deadline time.Time) apiTally {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	var t apiTally
	for ctx.Err() == nil && time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+api.Prefix+"/orders", bytes.NewReader(c.body))
		if err != nil {
			t.fail(err.Error())
			return t
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			t.fail(err.Error())
			continue
		}
		// Read the whole answer: it is part of the request's time, and
		// the connection is reused only once the body is drained.
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		switch {
		case err != nil:
			t.fail(err.Error())
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			t.fail(fmt.Sprintf("%s: %.300s", resp.Status, body))
		default:
			t.latencies = append(t.latencies, d)
		}
	}
	return t
}

func (t *apiTally) fail(msg string) {
	t.errors++
	if t.firstErr == "" {
		t.firstErr = msg
	}
}

// countAPIOrders counts the orders of the fixture's customers.
func (r *runner) countAPIOrders(ctx context.Context, n *int) error {
	err := r.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders o JOIN accounts c ON c.id = o.customer_id
		JOIN accounts v ON v.id = c.parent_id WHERE v.external_id LIKE $1`, apiResellerExt+"%").Scan(n)
	if err != nil {
		return fmt.Errorf("count orders: %w", err)
	}
	return nil
}

// serveAPI starts the REST API as the server builds it, with an
// insert-only task manager behind its provisioning hook, on a loopback
// listener. The caller closes the server.
func (r *runner) serveAPI(ctx context.Context) (*httptest.Server, error) {
	db := r.db
	if err := task.Migrate(ctx, db); err != nil {
		return nil, err
	}
	m, err := task.New(db, task.Config{InsertOnly: true}, r.log)
	if err != nil {
		return nil, err
	}
	task.Handle(m, func(context.Context, *task.Task[apiOrderArgs]) error { return nil },
		task.KindOptions{Queue: task.QueueProvisioning, MaxAttempts: 8, Timeout: 15 * time.Minute})
	// As the server's hook (cmd/marketplane: enqueueOrder): the customer's
	// path is read in the order's transaction, the task filed under it.
	enqueue := func(ctx context.Context, tx *sql.Tx, o *store.Order) error {
		var path string
		if err := tx.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, o.CustomerID).Scan(&path); err != nil {
			return fmt.Errorf("order %d: account of customer %d: %w", o.ID, o.CustomerID, err)
		}
		_, err := m.EnqueueTx(ctx, tx, apiOrderArgs{OrderID: o.ID}, task.ForAccount(o.CustomerID, path), task.UniqueByArgs())
		return err
	}
	a := api.New(api.Config{DB: db, Logger: r.log, Version: "bench", Tasks: api.TaskManager(m), EnqueueProvision: enqueue})
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", a.Handler())
	return httptest.NewServer(mux), nil
}

// buildAPIClients makes or finds the fixture and gives every client a new
// API key (a key's secret is shown only when it is made).
func (r *runner) buildAPIClients(ctx context.Context) ([]*apiClient, error) {
	db, sys := r.db, account.SystemActor()
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	plan, err := ensureAPIPlan(ctx, db, prov)
	if err != nil {
		return nil, err
	}
	admin, err := db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		return nil, err
	}
	resellers, err := ensureAPIResellers(ctx, db, prov)
	if err != nil {
		return nil, err
	}
	var all []*apiClient
	for _, res := range resellers {
		cp, err := ensureCopy(ctx, db, plan.ID, res.ID)
		if err != nil {
			return nil, err
		}
		customers, err := ensureAPICustomers(ctx, db, res)
		if err != nil {
			return nil, err
		}
		for _, c := range customers {
			body, err := json.Marshal(api.OrderInput{CustomerID: c.ID, PlanID: cp.ID, Period: "1m",
				Resources: map[string]int64{billDisk: 60}})
			if err != nil {
				return nil, err
			}
			all = append(all, &apiClient{customerID: c.ID, body: body})
		}
	}
	if apiClients > len(all) {
		return nil, fmt.Errorf("%d clients for %d customers", apiClients, len(all))
	}
	clients := all[:apiClients]
	for _, c := range clients {
		_, token, err := db.CreateAPIKey(ctx, sys, c.customerID, admin.ID, "bench api", time.Time{})
		if err != nil {
			return nil, fmt.Errorf("API key of customer %d: %w", c.customerID, err)
		}
		c.token = token
	}
	r.log.Info("clients ready", "clients", len(clients), "plan", plan.ID)
	return clients, nil
}

// ensureAPIPlan returns the provider's plan of the benchmark, making it
// (and the billing fixture's catalog it is cut from) when missing: 20.00
// a month in advance, disk 50 GB included and 0.50 a GB above.
func ensureAPIPlan(ctx context.Context, db *store.DB, prov *account.Account) (*catalog.Plan, error) {
	sys := account.SystemActor()
	p, err := db.PlanByKey(ctx, sys, prov.ID, apiPlanKey)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return p, err
	}
	if _, err := ensureBillCatalog(ctx, db, prov); err != nil {
		return nil, err
	}
	p = billPlan(billMonthly, prov.ID, prov.Currency)
	p.Key, p.Name = apiPlanKey, catalog.Text{"en": "Bench API Monthly"}
	if err := db.CreatePlan(ctx, sys, p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", apiPlanKey, err)
	}
	return p, nil
}

// ensureAPIResellers returns the fixture's resellers, making the missing
// ones in the provider's currency (the plan's copies are in it).
func ensureAPIResellers(ctx context.Context, db *store.DB, prov *account.Account) ([]*account.Account, error) {
	have, err := db.ChildrenByExternalID(ctx, prov.ID, account.Reseller)
	if err != nil {
		return nil, err
	}
	out := make([]*account.Account, apiResellers)
	var missing []*account.Account
	for i := range apiResellers {
		ext := fmt.Sprintf("%s%04d", apiResellerExt, i+1)
		if a, ok := have[ext]; ok {
			out[i] = a
			continue
		}
		a := &account.Account{}
		fillAccount(a, account.Reseller, prov.ID, i, fmt.Sprintf("Bench API Reseller %04d", i+1))
		a.ExternalID, a.Currency = ext, prov.Currency
		out[i] = a
		missing = append(missing, a)
	}
	if len(missing) > 0 {
		if err := db.CreateAccountsBulk(ctx, missing); err != nil {
			return nil, fmt.Errorf("create resellers: %w", err)
		}
	}
	return out, nil
}

// ensureAPICustomers returns the customers of reseller res, making the
// missing ones.
func ensureAPICustomers(ctx context.Context, db *store.DB, res *account.Account) ([]*account.Account, error) {
	have, err := db.ChildrenByExternalID(ctx, res.ID, account.Customer)
	if err != nil {
		return nil, err
	}
	out := make([]*account.Account, apiCustomersPerReseller)
	var missing []*account.Account
	for i := range apiCustomersPerReseller {
		ext := fmt.Sprintf("%s-%04d", res.ExternalID, i+1)
		if a, ok := have[ext]; ok {
			out[i] = a
			continue
		}
		a := &account.Account{}
		fillAccount(a, account.Customer, res.ID, i, fmt.Sprintf("Bench API Customer %s-%04d", res.ExternalID, i+1))
		a.ExternalID, a.Currency = ext, res.Currency
		out[i] = a
		missing = append(missing, a)
	}
	if len(missing) > 0 {
		if err := db.CreateAccountsBulk(ctx, missing); err != nil {
			return nil, fmt.Errorf("create customers: %w", err)
		}
	}
	return out, nil
}
