package store_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/webhook"
)

// TestWebhookRotation rotates A's endpoint secret with a day of overlap:
// a delivery during the day verifies with the new secret and with the old
// one; after the day (the store's clock) only with the new. Rotating with
// no overlap drops the previous secret at once. It also changes the
// endpoint: a stale version is refused, a sibling cannot reach it.
func TestWebhookRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		e := &webhook.Endpoint{AccountID: st.A.ID, URL: "https://hooks.example.com/a", EventTypes: []string{webhook.OrderCompleted}}
		if err := db.CreateWebhookEndpoint(st.ctx, st.a, e); err != nil {
			t.Fatal(err)
		}
		old := e.Secret
		rotated, err := db.RotateWebhookSecret(st.ctx, st.a, e.ID, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.Secret == old || len(rotated.Secret) < 30 || rotated.PreviousSecret != "" || rotated.Version != 2 ||
			!rotated.PreviousExpiresAt.Equal(st.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("rotated %+v", rotated)
		}
		if got, err := db.WebhookEndpoint(st.ctx, st.a, e.ID); err != nil || got.Secret != "" || got.PreviousSecret != "" ||
			!got.PreviousExpiresAt.Equal(rotated.PreviousExpiresAt) {
			t.Fatalf("read after the rotation %+v, %v", got, err)
		}
		_, err = db.RotateWebhookSecret(st.ctx, st.b, e.ID, time.Hour)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.RotateWebhookSecret(st.ctx, st.a, e.ID, 169*time.Hour)
		wantCode(t, err, marketplane.EINVALID)

		// A receiver that keeps the signature headers it gets.
		var mu sync.Mutex
		var headers []string
		var bodies [][]byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			headers, bodies = append(headers, r.Header.Get(webhook.HeaderSignature)), append(bodies, b)
		}))
		t.Cleanup(srv.Close)
		deliver := func() (header string, body []byte) {
			t.Helper()
			ds, err := db.WebhookDeliveries(st.ctx, st.a, e.ID, 0, 1)
			if err != nil || len(ds) == 0 {
				t.Fatalf("deliveries %v, %v", ds, err)
			}
			j, err := db.WebhookDeliveryJob(st.ctx, ds[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := j.Event.Body()
			if err != nil {
				t.Fatal(err)
			}
			res := webhook.Send(st.ctx, webhook.NewClient(true), srv.URL, j.Secrets, j.Event.Type, j.Delivery.ID, b, st.clock.Now())
			if !res.OK() {
				t.Fatalf("delivery: %+v", res)
			}
			mu.Lock()
			defer mu.Unlock()
			return headers[len(headers)-1], bodies[len(bodies)-1]
		}
		verifies := func(secret, header string, body []byte) bool {
			return webhook.Verify(secret, header, body, st.clock.Now(), 5*time.Minute) == nil
		}

		st.complete(t, st.buy(t, st.c, 5))
		h, b := deliver()
		if !verifies(rotated.Secret, h, b) || !verifies(old, h, b) || verifies("whsec_other", h, b) {
			t.Errorf("during the overlap: %s verifies new %v, old %v", h, verifies(rotated.Secret, h, b), verifies(old, h, b))
		}
		st.clock.Advance(24 * time.Hour)
		h, b = deliver() // the same delivery, sent again after the expiry
		if !verifies(rotated.Secret, h, b) || verifies(old, h, b) {
			t.Errorf("after the overlap: %s verifies new %v, old %v", h, verifies(rotated.Secret, h, b), verifies(old, h, b))
		}
		if got, _ := db.WebhookEndpoint(st.ctx, st.a, e.ID); !got.PreviousExpiresAt.IsZero() {
			t.Errorf("an expired previous secret still shows its expiry %s", got.PreviousExpiresAt)
		}

		// No overlap: the secret before stops at once.
		again, err := db.RotateWebhookSecret(st.ctx, st.a, e.ID, 0)
		if err != nil || !again.PreviousExpiresAt.IsZero() {
			t.Fatalf("rotation without overlap %+v, %v", again, err)
		}
		h, b = deliver()
		if !verifies(again.Secret, h, b) || verifies(rotated.Secret, h, b) {
			t.Errorf("after a rotation without overlap: %s", h)
		}

		// Changes: a stale version is refused, a sibling does not see it,
		// the read-only role may not, and the URL's form is checked.
		url, inactive := "https://hooks.example.com/a2", false
		_, err = db.UpdateWebhookEndpoint(st.ctx, st.a, e.ID, store.WebhookChange{URL: &url, Version: 1})
		wantCode(t, err, marketplane.EPRECONDITION)
		_, err = db.UpdateWebhookEndpoint(st.ctx, st.b, e.ID, store.WebhookChange{URL: &url})
		wantCode(t, err, marketplane.ENOTFOUND)
		bad := "https://u:p@hooks.example.com/"
		_, err = db.UpdateWebhookEndpoint(st.ctx, st.a, e.ID, store.WebhookChange{URL: &bad})
		wantCode(t, err, marketplane.EINVALID)
		_, err = db.UpdateWebhookEndpoint(st.ctx, st.a, e.ID, store.WebhookChange{EventTypes: []string{"order.shipped"}})
		wantCode(t, err, marketplane.EINVALID)
		got, err := db.UpdateWebhookEndpoint(st.ctx, st.a, e.ID, store.WebhookChange{URL: &url, Active: &inactive,
			EventTypes: []string{webhook.InvoiceIssued, webhook.OrderCompleted}, Version: again.Version})
		if err != nil || got.URL != url || got.Active || got.Version != again.Version+1 || got.Secret != "" ||
			!slices.Equal(got.EventTypes, []string{webhook.InvoiceIssued, webhook.OrderCompleted}) {
			t.Fatalf("changed %+v, %v", got, err)
		}
		// An inactive endpoint receives nothing.
		before := count(t, db, "webhook_deliveries")
		st.complete(t, st.buy(t, st.c, 2))
		if n := count(t, db, "webhook_deliveries"); n != before {
			t.Errorf("%d deliveries to an inactive endpoint", n-before)
		}
	})
}
