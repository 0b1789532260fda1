package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/webhook"
)

// TestWebhookEmit sells C (below A1, below A) a subscription with
// endpoints on A (every type), A1 (invoices only), B (A's sibling: every
// type) and C itself (orders only), and checks who gets which events: an
// endpoint gets its own account's events and those of every account below
// it, of its types, and never a sibling's.
func TestWebhookEmit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		var queued []store.QueuedDelivery
		db.OnEvent = func(ctx context.Context, tx *sql.Tx, ds []store.QueuedDelivery) error {
			queued = append(queued, ds...)
			return nil
		}
		endpoint := func(actor *account.Actor, acct *account.Account, types ...string) *webhook.Endpoint {
			t.Helper()
			e := &webhook.Endpoint{AccountID: acct.ID, URL: "https://hooks.example.com/" + acct.Name, EventTypes: types}
			if err := db.CreateWebhookEndpoint(st.ctx, actor, e); err != nil {
				t.Fatalf("endpoint of %s: %v", acct.Name, err)
			}
			if len(e.Secret) < 30 || e.ID == 0 {
				t.Fatalf("endpoint %+v", e)
			}
			return e
		}
		// Nothing is recorded while no endpoint listens.
		o := st.complete(t, st.buy(t, st.c, 5))
		if n := count(t, db, "events"); n != 0 {
			t.Fatalf("%d events with no endpoint", n)
		}
		all := webhook.Types
		eA := endpoint(st.a, st.A, all...)
		eA1 := endpoint(st.a1, st.A1, webhook.InvoiceIssued)
		eB := endpoint(st.b, st.B, all...)
		eC := endpoint(st.c, st.C, webhook.OrderCompleted)
		// A sibling's account is out of reach.
		_, err := db.WebhookEndpoints(st.ctx, st.b, st.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.WebhookDeliveries(st.ctx, st.b, eA.ID, 0, 0)
		wantCode(t, err, marketplane.ENOTFOUND)
		err = db.CreateWebhookEndpoint(st.ctx, st.c, &webhook.Endpoint{AccountID: st.C.ID, URL: "ftp://x", EventTypes: []string{"nope"}})
		wantCode(t, err, marketplane.EINVALID)

		o2 := st.complete(t, st.buy(t, st.c, 6))
		if _, err := db.ReceivePayment(st.ctx, st.a1, store.Payment{AccountID: st.C.ID, Amount: m("5.00"), Method: "bank transfer"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetSubscriptionStatus(st.ctx, st.a1, o.SubscriptionID, subscription.Suspended, "", nil); err != nil {
			t.Fatal(err)
		}
		types := func(actor *account.Actor, e *webhook.Endpoint) []string {
			t.Helper()
			ds, err := db.WebhookDeliveries(st.ctx, actor, e.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, d := range slices.Backward(ds) {
				if d.Status != store.DeliveryPending || d.Attempts != 0 {
					t.Errorf("new delivery %+v", d)
				}
				out = append(out, d.EventType)
			}
			return out
		}
		for _, c := range []struct {
			name  string
			actor *account.Actor
			e     *webhook.Endpoint
			want  []string
		}{
			// The order completes: each tier of the chain is invoiced (C by
			// A1, A1 by A, A by P: A is below or is each buyer, A1 of the
			// first two) and the subscription goes active.
			{"A", st.a, eA, []string{"invoice.issued", "invoice.issued", "invoice.issued", "subscription.status_changed", "order.completed",
				"payment.received", "subscription.status_changed"}},
			{"A1", st.a1, eA1, []string{"invoice.issued", "invoice.issued"}},
			{"B", st.b, eB, nil},
			{"C", st.c, eC, []string{"order.completed"}},
		} {
			if got := types(c.actor, c.e); !slices.Equal(got, c.want) {
				t.Errorf("deliveries to %s: %v, want %v", c.name, got, c.want)
			}
		}
		// One event per happening, whoever receives it; queued once per
		// delivery, on the endpoint's account.
		if n := count(t, db, "events"); n != 7 {
			t.Errorf("%d events, want 7", n)
		}
		if len(queued) != 10 || queued[0].AccountID != st.A.ID || queued[0].AccountPath != st.A.Path {
			t.Errorf("queued %+v", queued)
		}
		evs, err := db.Events(st.ctx, st.a1, store.EventFilter{AccountID: st.C.ID, Type: webhook.OrderCompleted})
		if err != nil || len(evs) != 1 {
			t.Fatalf("order events of C: %v, %v", evs, err)
		}
		var data struct {
			OrderID int64  `json:"order_id"`
			Total   string `json:"total"`
		}
		if err := json.Unmarshal(evs[0].Payload, &data); err != nil || data.OrderID != o2.ID || data.Total != o2.Total.String() {
			t.Errorf("order event %s (%v)", evs[0].Payload, err)
		}
		_, err = db.Events(st.ctx, st.b, store.EventFilter{AccountID: st.C.ID})
		wantCode(t, err, marketplane.ENOTFOUND)

		// Delivery: the job, an attempt that fails, the last one, and a
		// redelivery; a deleted endpoint takes its log with it.
		ds, _ := db.WebhookDeliveries(st.ctx, st.c, eC.ID, 0, 0)
		j, err := db.WebhookDeliveryJob(st.ctx, ds[0].ID)
		if err != nil || j.URL != eC.URL || len(j.Secrets) != 1 || j.Secrets[0] != eC.Secret || j.Event.Type != webhook.OrderCompleted {
			t.Fatalf("job %+v, %v", j, err)
		}
		if err := db.RecordWebhookAttempt(st.ctx, j.Delivery.ID, 1, webhook.Result{Code: 500, Excerpt: "down"}, false, st.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordWebhookAttempt(st.ctx, j.Delivery.ID, 2, webhook.Result{Code: 503}, true, st.clock.Now()); err != nil {
			t.Fatal(err)
		}
		ds, _ = db.WebhookDeliveries(st.ctx, st.c, eC.ID, 0, 0)
		if d := ds[0]; d.Status != store.DeliveryFailed || d.Attempts != 2 || d.ResponseCode != 503 || !d.NextAt.IsZero() {
			t.Errorf("failed delivery %+v", d)
		}
		_, err = db.Redeliver(st.ctx, st.b, ds[0].ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		re, err := db.Redeliver(st.ctx, st.c, ds[0].ID)
		if err != nil || re.Status != store.DeliveryPending || re.EventID != ds[0].EventID || re.ID == ds[0].ID {
			t.Fatalf("redelivery %+v, %v", re, err)
		}
		if err := db.RecordWebhookAttempt(st.ctx, re.ID, 1, webhook.Result{Code: 204}, false, st.clock.Now()); err != nil {
			t.Fatal(err)
		}
		j, _ = db.WebhookDeliveryJob(st.ctx, re.ID)
		if j.Delivery.Status != store.DeliverySucceeded {
			t.Errorf("redelivery after a 204: %+v", j.Delivery)
		}
		wantCode(t, db.DeleteWebhookEndpoint(st.ctx, st.b, eC.ID), marketplane.ENOTFOUND)
		if err := db.DeleteWebhookEndpoint(st.ctx, st.c, eC.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.WebhookDeliveryJob(st.ctx, re.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		if es, err := db.WebhookEndpoints(st.ctx, st.c, st.C.ID); err != nil || len(es) != 0 {
			t.Errorf("C's endpoints after the delete: %v, %v", es, err)
		}
	})
}

// TestWebhookBillingRun checks the billing run's bulk path: its renewal
// invoices are emitted one event each, to the endpoints above each buyer.
func TestWebhookBillingRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		o := st.complete(t, st.buy(t, st.c, 8))
		e := &webhook.Endpoint{AccountID: st.A1.ID, URL: "https://hooks.example.com/a1", EventTypes: []string{webhook.InvoiceIssued}}
		if err := db.CreateWebhookEndpoint(st.ctx, st.a1, e); err != nil {
			t.Fatal(err)
		}
		wantRun(t, "2027-02-10", billDay(t, db, day("2027-02-10")), 1, 3, "61.60")
		evs, err := db.Events(st.ctx, st.a1, store.EventFilter{AccountID: st.A1.ID})
		if err != nil {
			t.Fatal(err)
		}
		// C's invoice from A1 and A1's from A; A's from P is above A1.
		var buyers []int64
		for _, ev := range evs {
			var data struct {
				AccountID      int64 `json:"account_id"`
				SubscriptionID int64 `json:"subscription_id"`
			}
			if err := json.Unmarshal(ev.Payload, &data); err != nil || ev.Type != webhook.InvoiceIssued || data.SubscriptionID != o.SubscriptionID {
				t.Errorf("event %+v (%v)", ev, err)
			}
			buyers = append(buyers, data.AccountID)
		}
		slices.Sort(buyers)
		if want := []int64{st.A1.ID, st.C.ID}; !slices.Equal(buyers, want) {
			t.Errorf("invoice events for buyers %v, want %v", buyers, want)
		}
		if ds, err := db.WebhookDeliveries(st.ctx, st.a1, e.ID, 0, 0); err != nil || len(ds) != 2 {
			t.Errorf("deliveries %v, %v", ds, err)
		}
	})
}
