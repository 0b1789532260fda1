package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

// scrape reads url's figures, with a bearer token when one is given.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// waitFigure scrapes until a line of the figures matches re, or fails the
// test after a while.
func waitFigure(t *testing.T, url, token string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := scrape(t, url, token)
		if m := re.FindString(body); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no figure matches %s:\n%s", re, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetrics: after API and panel calls /metrics counts them by route
// pattern (the API's operation, not one /api/v1/ label; paths that exist
// nowhere as "unmatched", never the path), and shows the task queues'
// depth, failed task attempts by kind, the billing run's stages and an
// order's provisioning completed at its connector; the access log has a
// JSON line per request with the route pattern, never the path's ids or
// the key; on both engines.
func TestMetrics(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		dbURL := storetest.URL(t, e)
		db := storetest.OpenURL(t, dbURL)
		if err := migrateAll(ctx, db); err != nil {
			t.Fatal(err)
		}
		shop := provisioningtest.NewShop(t, db)
		const secret = "metrics-secret"
		reg := shop.Register(t, provisioningtest.Serve(t, &connectortest.Memory{}, secret), secret, provisioning.Options{Timeout: 10 * time.Second})
		plan := shop.Publish(t, reg.Created.PlanID, func(p *catalog.Plan) {
			p.Periods = []catalog.Period{provisioningtest.Monthly(0, money.Micros(10_000_000))}
		})
		customer := shop.Account(t, account.Customer, shop.Provider.ID, "Customer")
		buyer := shop.User(t, customer, "customer-admin")

		log := &syncBuffer{}
		m := &Main{Config: testConfig(dbURL), AccessLog: log, obs: observability{every: 50 * time.Millisecond}}
		m.Config.AccessLog = true
		if err := m.Run(ctx); err != nil {
			m.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })

		role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		key, token, err := m.DB.CreateAPIKey(ctx, account.SystemActor(), shop.Provider.ID, role.ID, "metrics", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		call := func(path string, want int) {
			t.Helper()
			req, _ := http.NewRequest("GET", m.URL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
			}
		}
		call(fmt.Sprintf("/api/v1/accounts/%d", customer.ID), 200)
		call(fmt.Sprintf("/api/v1/accounts/%d", shop.Provider.ID), 200)
		call("/api/v1/no-such-thing/4242", 404)
		call("/no-such-page/4242?token=secret-in-query", 404)
		call("/login", 200)

		// An order provisioned at the connector; a task attempt that fails
		// (its order does not exist); a task that waits an hour.
		o, err := m.DB.PlaceOrder(ctx, buyer, store.OrderRequest{CustomerID: customer.ID, PlanID: plan.ID, Period: "1m",
			Parameters: map[string]string{"db_name": "metrics"}}, func(tx *sql.Tx, o *store.Order) error {
			return m.Tasks.enqueueOrder(ctx, tx, o)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Tasks.Enqueue(ctx, provisionArgs{OrderID: o.ID + 1000}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Tasks.Enqueue(ctx, pruneArgs{}, task.ScheduledAt(time.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}

		url := m.MetricsURL()
		connector := regexp.QuoteMeta(reg.Connector.Name)
		for _, re := range []string{
			`marketplane_http_requests_total\{code="200",pattern="GET /api/v1/accounts/\{id\}"\} 2`,
			`marketplane_http_requests_total\{code="404",pattern="unmatched"\} 2`,
			`marketplane_http_requests_total\{code="200",pattern="GET /login"\} 1`,
			`marketplane_task_queue_depth\{queue="default",status="queued"\} [1-9]`,
			`marketplane_task_failures_total\{kind="` + regexp.QuoteMeta(provisionArgs{}.Kind()) + `"\} [1-9]`,
			`marketplane_billing_stage_duration_seconds_count\{stage="renewals"\} [1-9]`,
			`marketplane_billing_stage_duration_seconds_count\{stage="credit"\} [1-9]`,
			`marketplane_provisioning_outcomes_total\{connector="` + connector + `",outcome="completed"\} 1`,
		} {
			waitFigure(t, url, "", regexp.MustCompile(re))
		}
		_, body := scrape(t, url, "")
		for _, bad := range []string{`pattern="/api/v1/"`, `pattern="/"`, "4242", "no-such"} {
			if strings.Contains(body, bad) {
				t.Errorf("figures hold %q:\n%s", bad, body)
			}
		}

		// The access log: one JSON line per request, the route pattern,
		// the key's id as principal, no path, query or key.
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("access log line is not JSON: %q: %v", l, err)
			}
			lines = append(lines, v)
		}
		var found bool
		for _, v := range lines {
			if v["route"] != "GET /api/v1/accounts/{id}" {
				continue
			}
			found = true
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			if v["method"] != "GET" || v["status"] != float64(200) || v["principal"] != fmt.Sprintf("key:%d", key.ID) ||
				v["request_id"] == "" || v["bytes"].(float64) <= 0 || v["duration_ms"] == nil {
				t.Errorf("access log line: %v", v)
			}
			if _, err := time.Parse(time.RFC3339Nano, v["time"].(string)); err != nil {
				t.Errorf("access log time: %v", err)
			}
		}
		if !found {
			t.Errorf("no access log line for GET /api/v1/accounts/{id}:\n%s", log.String())
		}
		if s := log.String(); strings.Contains(s, token) || strings.Contains(s, "secret-in-query") || strings.Contains(s, "no-such") {
			t.Errorf("the access log holds a key, a query or a path:\n%s", s)
		}
	})
}

// TestMetricsAddr: with --metrics-addr /metrics is served on that address
// and not on the main one; with --metrics-token it answers only to the
// bearer of the token.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	c := testConfig(storetest.URL(t, store.SQLite))
	c.MetricsAddr = "127.0.0.1:0"
	c.MetricsToken = "scrape-token"
	m, _ := start(t, c)
	if !strings.HasSuffix(m.MetricsURL(), "/metrics") || strings.HasPrefix(m.MetricsURL(), m.URL()) {
		t.Fatalf("metrics at %s, server at %s", m.MetricsURL(), m.URL())
	}
	if code, _ := get(t, http.DefaultClient, m.URL()+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := scrape(t, m.URL()+"/metrics", c.MetricsToken); code != http.StatusNotFound || strings.Contains(body, "marketplane_") {
		t.Errorf("main listener /metrics: %d %.200s", code, body)
	}
	if code, _ := scrape(t, m.MetricsURL(), ""); code != http.StatusUnauthorized {
		t.Errorf("metrics without the token: %d", code)
	}
	if code, _ := scrape(t, m.MetricsURL(), "wrong"); code != http.StatusUnauthorized {
		t.Errorf("metrics with a wrong token: %d", code)
	}
	waitFigure(t, m.MetricsURL(), c.MetricsToken, regexp.MustCompile(`marketplane_http_requests_total\{code="200",pattern="GET /healthz"\} 1`))
}
