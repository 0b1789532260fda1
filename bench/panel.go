package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/web"
)

func init() {
	benchmarks["panel"] = benchmark{
		about: "build (or reuse) one customer with SCALE subscriptions, one of them with SCALE/5 limited " +
			"resources, each gauge with readings, then time the panel's Home and that subscription's page " +
			"through the real web handler, signed in (home_p95_ms, subscription_p95_ms …)",
		defaultScale: 5000,
		minScale:     5,
		run:          runPanel,
	}
}

const (
	// panelRequests is how many times each page is asked for.
	panelRequests = 50
	// panelReadings is how many readings every gauge of the fixture has,
	// one a day from its period's start.
	panelReadings = 10
	// panelPassword is the fixture user's password (a benchmark's
	// database is scratch unless the operator names one).
	panelPassword = "bench panel password"
	// panelHomeRows is how many subscriptions Home lists (web's
	// homeSubscriptions).
	panelHomeRows = 20
)

// panelFixture is the built fixture: the customer's user and its
// subscription with many resources.
type panelFixture struct {
	login     string
	big       int64
	resources int
}

// runPanel measures the server time of the panel's two busiest reads for a
// large customer: Home (its newest subscriptions with their gauges) and
// the page of a subscription with SCALE/5 gauges. Each answer is checked
// (status, the number of subscriptions and gauges shown) before it counts.
func runPanel(ctx context.Context, r *runner) error {
	setup := time.Now()
	f, err := r.buildPanel(ctx)
	if err != nil {
		return err
	}
	w, err := web.New(web.Config{DB: r.db, Version: "bench"})
	if err != nil {
		return err
	}
	cookie, err := panelSignIn(ctx, w, f.login)
	if err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())
	n := max(1, panelRequests/iterationDivisor)
	pages := []struct {
		name, path   string
		subs, meters int
	}{
		{"home", "/", min(panelHomeRows, r.scale), min(panelHomeRows, r.scale)},
		{"subscription", fmt.Sprintf("/subscriptions/%d", f.big), 1, f.resources},
	}
	for _, pg := range pages {
		d := make([]time.Duration, 0, n)
		// The first request warms the templates and the connections and is
		// not counted.
		for i := range n + 1 {
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(ctx, "GET", pg.path, nil)
			req.AddCookie(cookie)
			start := time.Now()
			w.ServeHTTP(rec, req)
			took := time.Since(start)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d", pg.path, rec.Code)
			}
			if i == 0 {
				if err := checkPanelPage(pg.path, rec.Body.String(), pg.subs, pg.meters); err != nil {
					return err
				}
				continue
			}
			d = append(d, took)
		}
		r.setPercentiles(pg.name, d, 50, 95)
	}
	if r.users > 0 {
		return r.panelLoad(ctx, w, f)
	}
	return nil
}

// panelLoad is the load run: r.users simulated users of the fixture's
// customer, each signed in with a session of its own and a connection of
// its own to a real server over loopback HTTP, ask for Home and then a
// subscription's page (the big one every tenth time, else one of Home's),
// one request after another, for r.duration. Figures: load_p50_ms and
// load_p95_ms as the clients see them, load_requests_per_s and
// load_error_ratio (answers other than 200, and failed requests).
func (r *runner) panelLoad(ctx context.Context, h http.Handler, f *panelFixture) error {
	var subs []int64
	rows, err := r.db.Read.QueryContext(ctx, `SELECT id FROM subscriptions WHERE customer_id =
		(SELECT customer_id FROM subscriptions WHERE id = $1) ORDER BY id DESC LIMIT $2`, f.big, panelHomeRows)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("load: %w", err)
		}
		subs = append(subs, id)
	}
	rows.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	// Sessions first, one after another: the sign-ins' password hashes
	// are not what this run measures.
	cookies := make([]*http.Cookie, r.users)
	for i := range cookies {
		if cookies[i], err = panelSignIn(ctx, h, f.login); err != nil {
			return fmt.Errorf("load: user %d: %w", i+1, err)
		}
	}
	type tally struct {
		took   []time.Duration
		errors int
	}
	tallies := make([]tally, r.users)
	deadline := time.Now().Add(r.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for u := range r.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: time.Minute,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			defer c.CloseIdleConnections()
			t := &tallies[u]
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				path := "/"
				if i%2 == 1 {
					path = fmt.Sprintf("/subscriptions/%d", subs[(u+i/2)%len(subs)])
					if (i/2)%10 == 9 {
						path = fmt.Sprintf("/subscriptions/%d", f.big)
					}
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
				req.AddCookie(cookies[u])
				began := time.Now()
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %d", path, resp.StatusCode)
					}
				}
				t.took = append(t.took, time.Since(began))
				if err != nil {
					t.errors++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errors := 0
	for _, t := range tallies {
		all = append(all, t.took...)
		errors += t.errors
	}
	if len(all) == 0 {
		return fmt.Errorf("load: no request made in %v", r.duration)
	}
	r.set("load_requests_per_s", float64(len(all))/elapsed.Seconds())
	r.set("load_error_ratio", float64(errors)/float64(len(all)))
	r.setPercentiles("load", all, 50, 95)
	r.log.Info("load", "users", r.users, "requests", len(all), "errors", errors)
	return nil
}

// checkPanelPage checks that a page shows what the fixture holds: subs
// subscriptions (Home's list items; a subscription's page has one) and
// meters gauges.
func checkPanelPage(path, body string, subs, meters int) error {
	gotSubs := strings.Count(body, `class="sub"`)
	if path != "/" {
		gotSubs = strings.Count(body, `id="subscription"`)
	}
	if gotMeters := strings.Count(body, "<meter "); gotSubs != subs || gotMeters != meters {
		return fmt.Errorf("GET %s shows %d subscriptions and %d gauges, want %d and %d", path, gotSubs, gotMeters, subs, meters)
	}
	return nil
}

// panelSignIn signs login in through the handler's sign-in form and
// returns the session cookie.
func panelSignIn(ctx context.Context, h http.Handler, login string) (*http.Cookie, error) {
	form := url.Values{"login": {login}, "password": {panelPassword}}
	req := httptest.NewRequestWithContext(ctx, "POST", "http://bench.localhost/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://bench.localhost")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "marketplane_session" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("sign in as %s: %d, no session", login, rec.Code)
}

// buildPanel makes the fixture where missing: the provider's resource
// types of the big plan (SCALE/5 of them) and the plan, the customer
// below the provider with its administrator, and in one transaction its
// SCALE subscriptions (the first on the big plan, the others on the
// billing fixture's monthly plan, one disk gauge each) with panelReadings readings
// of every gauge.
func (r *runner) buildPanel(ctx context.Context) (*panelFixture, error) {
	db := r.db
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	plans, err := ensureBillCatalog(ctx, db, prov)
	if err != nil {
		return nil, err
	}
	f := &panelFixture{login: fmt.Sprintf("bench-panel-%d", r.scale), resources: r.scale / 5}
	big, err := ensurePanelPlan(ctx, db, prov, f.resources)
	if err != nil {
		return nil, err
	}
	ext := fmt.Sprintf("bench-panel-%d", r.scale)
	kids, err := db.ChildrenByExternalID(ctx, prov.ID, account.Customer)
	if err != nil {
		return nil, err
	}
	if c, ok := kids[ext]; ok {
		var n int
		err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(CASE WHEN plan_id = $2 THEN id END), 0)
			FROM subscriptions WHERE customer_id = $1`, c.ID, big.ID).Scan(&n, &f.big)
		if err != nil {
			return nil, fmt.Errorf("panel fixture: %w", err)
		}
		if n != r.scale || f.big == 0 {
			return nil, fmt.Errorf("customer %s has %d subscriptions, want %d: the fixture was changed; use a fresh database", ext, n, r.scale)
		}
		return f, nil
	}
	c := &account.Account{}
	fillAccount(c, account.Customer, prov.ID, r.scale, fmt.Sprintf("Bench Panel Customer (%d)", r.scale))
	c.ExternalID, c.Currency = ext, prov.Currency
	if err := db.CreateAccount(ctx, account.SystemActor(), c); err != nil {
		return nil, fmt.Errorf("panel customer: %w", err)
	}
	admin, err := db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		return nil, err
	}
	u := &account.User{AccountID: c.ID, Login: f.login, Locale: "en", RoleIDs: []int64{admin.ID}}
	if err := db.CreateUser(ctx, account.SystemActor(), u, panelPassword); err != nil {
		return nil, fmt.Errorf("panel user: %w", err)
	}

	now := db.Clock.Now().UTC().Truncate(time.Microsecond)
	from := now.AddDate(0, 0, -(panelReadings + 2)).Truncate(24 * time.Hour)
	to := from.AddDate(0, 1, 0)
	keys := make([]string, f.resources)
	limits := map[string]int64{}
	for i := range keys {
		keys[i] = panelResource(i)
		limits[keys[i]] = int64(100 + i)
	}
	b, err := json.Marshal(limits)
	if err != nil {
		return nil, err
	}
	bigResources := string(b)
	monthly := plans[billMonthly].ID
	err = db.BulkLoad(ctx, func(ld *store.Loader) error {
		ids, err := ld.ReserveIDs(ctx, "subscriptions", r.scale)
		if err != nil {
			return err
		}
		// The big subscription is the oldest: Home lists the newest, each
		// with its one gauge, and the big one is a link away.
		f.big = ids[0]
		err = ld.Insert(ctx, "subscriptions", billSubColumns, r.scale, func(i int) ([]any, error) {
			s := billSub{period: "1m", from: from, to: to, start: from, anchor: from,
				resources: fmt.Sprintf(`{%q:%d}`, billDisk, 50+10*(i%3))}
			plan := monthly
			if ids[i] == f.big {
				s.resources, plan = bigResources, big.ID
			}
			return s.row(ids[i], c.ID, prov.ID, plan, now), nil
		})
		if err != nil {
			return err
		}
		// Readings: every resource of the big subscription, then every
		// other subscription's disk, panelReadings each.
		gauges := f.resources + r.scale - 1
		return ld.Insert(ctx, "usage_records", billUsageColumns, gauges*panelReadings, func(i int) ([]any, error) {
			g, d := i/panelReadings, i%panelReadings
			at := from.AddDate(0, 0, d).Add(12 * time.Hour)
			sub, res := f.big, billDisk
			if g < f.resources {
				res = keys[g]
			} else {
				sub = ids[1+g-f.resources]
			}
			return []any{sub, res, int64(40 + (7*g+13*d)%41), false, at, at.Add(5 * time.Minute)}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("panel subscriptions: %w", err)
	}
	// As for the billing fixture: PostgreSQL plans with statistics.
	if db.Engine == store.Postgres {
		if _, err := db.Write.ExecContext(ctx, `ANALYZE`); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}
	return f, nil
}

func panelResource(i int) string { return fmt.Sprintf("bench-panel-r%04d", i+1) }

// ensurePanelPlan makes the provider's plan with n limited resources (and
// their resource types) where missing, published, and returns it.
func ensurePanelPlan(ctx context.Context, db *store.DB, prov *account.Account, n int) (*catalog.Plan, error) {
	sys := account.SystemActor()
	key := fmt.Sprintf("bench-panel-%d", n)
	p, err := db.PlanByKey(ctx, sys, prov.ID, key)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return p, err
	}
	p = &catalog.Plan{OwnerID: prov.ID, Key: key, Template: billTemplate, Currency: prov.Currency, Published: true,
		Name: catalog.Text{"en": fmt.Sprintf("Bench Panel %d", n)}, Billing: catalog.ChargeInAdvance,
		Periods: []catalog.Period{{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
			Recurring: catalog.Price{Amount: 10_000_000}, Refund: catalog.Refund{After: catalog.RefundProrated},
			RecurringPer: catalog.PerPeriod, Sort: 1}}}
	for i := range n {
		k := panelResource(i)
		rt := catalog.ResourceType{Key: k, Name: catalog.Text{"en": fmt.Sprintf("Resource %04d", i+1)}, Unit: "unit",
			Class: catalog.ClassLimit, Category: "storage"}
		err := db.CreateResourceType(ctx, sys, &store.ResourceType{ResourceType: rt})
		if err != nil && marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			return nil, fmt.Errorf("resource type %s: %w", k, err)
		}
		p.Rates = append(p.Rates, catalog.Rate{Key: k, Resource: k, Included: 100, Max: catalog.Unlimited,
			Recurring: catalog.Price{Amount: 100_000}, Display: catalog.Spinner, Sort: i + 1})
	}
	if err := db.CreatePlan(ctx, sys, p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", key, err)
	}
	return p, nil
}
