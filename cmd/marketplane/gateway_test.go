package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestServeCardGateway: serve without a Stripe key charges no card (the
// top-up is refused, nothing recorded); with a key it charges through
// Stripe's API (here stripe-mock, whose PaymentIntents never succeed, so
// the answer is a decline and nothing is recorded either).
func TestServeCardGateway(t *testing.T) {
	t.Parallel()
	mock := os.Getenv("MARKETPLANE_TEST_STRIPE")
	if mock == "" && os.Getenv("CI") == "true" {
		t.Fatal("MARKETPLANE_TEST_STRIPE is not set: CI must start stripe-mock (.ci/run)")
	}
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		var mu sync.Mutex
		var paths []string
		recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			if mock == "" {
				http.Error(w, "no stripe-mock", http.StatusBadGateway)
				return
			}
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, mock+r.URL.RequestURI(), r.Body)
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		}))
		t.Cleanup(recorder.Close)

		dbURL := storetest.URL(t, e)
		offline, _ := start(t, testConfig(dbURL))
		ctx, sys := context.Background(), account.SystemActor()
		p, err := offline.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		role, err := offline.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := offline.DB.CreateAPIKey(ctx, sys, p.ID, role.ID, "payments", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		buyer := &account.Account{Kind: account.Customer, ParentID: p.ID, Name: "Buyer", Locale: "en-US", Currency: "USD",
			TimeZone: "UTC", Address: account.Address{Country: "US"}}
		if err := offline.DB.CreateAccount(ctx, sys, buyer); err != nil {
			t.Fatal(err)
		}
		topUp := func(m *Main, key string) (int, map[string]any) {
			t.Helper()
			b, _ := json.Marshal(map[string]any{"amount": "70.00", "source": "tok_visa"})
			req, _ := http.NewRequest("POST", m.URL()+api.Prefix+"/accounts/"+strconv.FormatInt(buyer.ID, 10)+"/top-ups", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		payments := func() int {
			ds, err := offline.DB.Documents(ctx, sys, store.DocumentFilter{AccountID: buyer.ID, Type: store.DocPayment})
			if err != nil {
				t.Fatal(err)
			}
			return len(ds)
		}

		if code, body := topUp(offline, "offline-1"); code != 400 || body["detail"] != gateway.NoCardGateway {
			t.Errorf("top-up by card without a card gateway: %d %v", code, body)
		}
		if mock == "" {
			t.Skip("MARKETPLANE_TEST_STRIPE is not set: the Stripe half needs stripe-mock")
		}
		c := testConfig(dbURL)
		c.StripeKey, c.StripeAPIBase = "sk_test_123", recorder.URL
		stripe, _ := start(t, c)
		if code, body := topUp(stripe, "stripe-1"); code != 409 || body["detail"] != "card declined" {
			t.Errorf("top-up by card through stripe-mock: %d %v", code, body)
		}
		mu.Lock()
		got := strings.Join(paths, "; ")
		mu.Unlock()
		if got != "POST /v1/payment_intents account "+strconv.FormatInt(buyer.ID, 10)+" stripe-1" {
			t.Errorf("requests to Stripe: %s", got)
		}
		if n := payments(); n != 0 {
			t.Errorf("%d payments recorded", n)
		}
	})
}

// TestStripeKeyNotShown: the key is read from the environment but never
// shown as a default in --help.
func TestStripeKeyNotShown(t *testing.T) {
	t.Setenv("MARKETPLANE_STRIPE_KEY", "sk_live_secret")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	done := bindConfig(fs, &c)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	fs.PrintDefaults()
	if c.StripeKey != "sk_live_secret" || strings.Contains(help.String(), "sk_live_secret") || !strings.Contains(help.String(), "stripe-key") {
		t.Errorf("key %q; help:\n%s", c.StripeKey, help.String())
	}
	if err := fs.Parse([]string{"--stripe-key", "sk_test_flag"}); err != nil || done() != nil || c.StripeKey != "sk_test_flag" {
		t.Errorf("the flag wins: %q", c.StripeKey)
	}
}
