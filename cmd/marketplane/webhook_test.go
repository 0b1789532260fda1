package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/webhook"
)

// receiver is a webhook endpoint that refuses its first fail requests
// with a 500 and checks every signature.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	fail   int
	got    []received
}

type received struct {
	status   int
	event    string
	delivery string
	body     map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		rc.t.Errorf("delivery %s: %v", r.Header.Get(webhook.HeaderDelivery), err)
	}
	rec := received{status: http.StatusOK, event: r.Header.Get(webhook.HeaderEvent), delivery: r.Header.Get(webhook.HeaderDelivery)}
	if err := json.Unmarshal(body, &rec.body); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	if rc.fail > 0 {
		rc.fail--
		rec.status = http.StatusInternalServerError
	}
	rc.got = append(rc.got, rec)
	w.WriteHeader(rec.status)
	io.WriteString(w, "seen "+rec.delivery)
}

// TestWebhookDelivery runs a server with its task workers and a receiver
// that fails twice: the payment's event is signed, retried with backoff
// and delivered on the third attempt, the log shows it, and a manual
// redelivery sends it again. Not parallel: it shortens the backoff of
// every server in the process while it runs.
func TestWebhookDelivery(t *testing.T) {
	saved := webhookBackoff
	webhookBackoff = func(int) time.Duration { return 50 * time.Millisecond }
	t.Cleanup(func() { webhookBackoff = saved })
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		cfg := testConfig(storetest.URL(t, e))
		// The receiver listens on 127.0.0.1, an internal address that
		// endpoints may reach only when the operator allows it.
		cfg.AllowPrivateWebhooks = true
		m, _ := start(t, cfg)
		ctx, sys := context.Background(), account.SystemActor()
		p, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := &account.Account{Kind: account.Customer, ParentID: p.ID, Name: "Customer", Address: account.Address{Country: "US"},
			Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
		if err := m.DB.CreateAccount(ctx, sys, c); err != nil {
			t.Fatal(err)
		}
		role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := m.DB.CreateAPIKey(ctx, sys, p.ID, role.ID, "webhooks", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		call := func(method, path string, body any, want int, out any) {
			t.Helper()
			var rd io.Reader
			if body != nil {
				b, _ := json.Marshal(body)
				rd = bytes.NewReader(b)
			}
			req, _ := http.NewRequest(method, m.URL()+api.Prefix+path, rd)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
			}
			if out != nil {
				if err := json.Unmarshal(b, out); err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
			}
		}
		rc := &receiver{t: t, fail: 2}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)

		var hook api.NewWebhookEndpoint
		call("POST", "/accounts/"+strconv.FormatInt(p.ID, 10)+"/webhooks",
			map[string]any{"url": srv.URL + "/hook", "event_types": []string{webhook.PaymentReceived}}, 201, &hook)
		rc.mu.Lock()
		rc.secret = hook.Secret
		rc.mu.Unlock()
		call("POST", "/accounts/"+strconv.FormatInt(c.ID, 10)+"/payments", map[string]any{"amount": "5.00", "method": "bank transfer"}, 201, nil)

		deliveries := "/webhooks/" + strconv.FormatInt(hook.ID, 10) + "/deliveries"
		waitFor := func(what string, done func(items []api.WebhookDelivery) bool) []api.WebhookDelivery {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for {
				var page api.Page[api.WebhookDelivery]
				call("GET", deliveries, nil, 200, &page)
				if done(page.Items) {
					return page.Items
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: deliveries %+v", what, page.Items)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		first := waitFor("the first delivery", func(items []api.WebhookDelivery) bool {
			return len(items) == 1 && items[0].Status != "pending"
		})[0]
		if first.Status != "succeeded" || first.Attempts != 3 || first.ResponseCode != 200 || first.ResponseBody != "seen "+strconv.FormatInt(first.ID, 10) ||
			first.EventType != webhook.PaymentReceived {
			t.Fatalf("first delivery %+v", first)
		}

		var again api.WebhookDelivery
		call("POST", "/webhook-deliveries/"+strconv.FormatInt(first.ID, 10)+"/redeliver", nil, 202, &again)
		if again.ID == first.ID || again.EventID != first.EventID || again.Status != "pending" {
			t.Fatalf("redelivery %+v", again)
		}
		items := waitFor("the redelivery", func(items []api.WebhookDelivery) bool {
			return len(items) == 2 && items[0].Status != "pending"
		})
		if items[0].ID != again.ID || items[0].Status != "succeeded" || items[0].Attempts != 1 {
			t.Fatalf("redelivery %+v", items[0])
		}

		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.got) != 4 {
			t.Fatalf("received %+v", rc.got)
		}
		for i, want := range []int{500, 500, 200, 200} {
			g := rc.got[i]
			if g.status != want || g.event != webhook.PaymentReceived || g.body["type"] != webhook.PaymentReceived ||
				g.body["id"] != float64(first.EventID) || g.body["account_id"] != float64(c.ID) {
				t.Errorf("request %d: %+v", i+1, g)
			}
		}
		if data, _ := rc.got[3].body["data"].(map[string]any); data["total"] != "-5.00" || rc.got[3].delivery != strconv.FormatInt(again.ID, 10) {
			t.Errorf("redelivered %+v", rc.got[3])
		}
		var events api.Page[api.Event]
		call("GET", "/events?account_id="+strconv.FormatInt(c.ID, 10), nil, 200, &events)
		if len(events.Items) != 1 || events.Items[0].ID != first.EventID {
			t.Errorf("events of the customer: %+v", events.Items)
		}
	})
}

// TestWebhookInternalRefused runs a server with the default settings: the
// API refuses an endpoint on 127.0.0.1, and an endpoint whose name pointed
// elsewhere when it was made (here: put in the store directly, as DNS
// rebinding would) gets its delivery refused at dial time, recorded in the
// log with the reason, and the receiver sees nothing. Not parallel: it
// shortens the backoff like TestWebhookDelivery.
func TestWebhookInternalRefused(t *testing.T) {
	saved := webhookBackoff
	webhookBackoff = func(int) time.Duration { return 50 * time.Millisecond }
	t.Cleanup(func() { webhookBackoff = saved })
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		m, _ := start(t, testConfig(storetest.URL(t, e)))
		ctx, sys := context.Background(), account.SystemActor()
		p, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := m.DB.CreateAPIKey(ctx, sys, p.ID, role.ID, "webhooks", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		call := func(method, path string, body any, want int) []byte {
			t.Helper()
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(method, m.URL()+api.Prefix+path, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
			}
			return out
		}
		var got sync.Mutex
		requests := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Lock()
			defer got.Unlock()
			requests++
		}))
		t.Cleanup(srv.Close)

		refused := call("POST", "/accounts/"+strconv.FormatInt(p.ID, 10)+"/webhooks",
			map[string]any{"url": srv.URL + "/hook", "event_types": []string{webhook.PaymentReceived}}, 400)
		if !bytes.Contains(refused, []byte(`"body.url"`)) || !bytes.Contains(refused, []byte("internal address")) {
			t.Errorf("refusal %s", refused)
		}

		hook := &webhook.Endpoint{AccountID: p.ID, URL: srv.URL + "/hook", EventTypes: []string{webhook.PaymentReceived}}
		if err := m.DB.CreateWebhookEndpoint(ctx, sys, hook); err != nil {
			t.Fatal(err)
		}
		c := &account.Account{Kind: account.Customer, ParentID: p.ID, Name: "Customer", Address: account.Address{Country: "US"},
			Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
		if err := m.DB.CreateAccount(ctx, sys, c); err != nil {
			t.Fatal(err)
		}
		call("POST", "/accounts/"+strconv.FormatInt(c.ID, 10)+"/payments", map[string]any{"amount": "5.00", "method": "bank transfer"}, 201)
		deadline := time.Now().Add(60 * time.Second)
		for {
			ds, err := m.DB.WebhookDeliveries(ctx, sys, hook.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 1 && ds[0].Attempts >= 2 {
				d := ds[0]
				if d.ResponseCode != 0 || !strings.Contains(d.Error, "internal addresses") || !strings.Contains(d.Error, "127.0.0.1") {
					t.Errorf("refused delivery %+v", d)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deliveries %+v", ds)
			}
			time.Sleep(50 * time.Millisecond)
		}
		got.Lock()
		defer got.Unlock()
		if requests != 0 {
			t.Errorf("the receiver got %d requests", requests)
		}
	})
}
