package store_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/webhook"
)

// statusSteps are the subscription.status_changed events actor sees about
// the subtree of account id, oldest first, as "sub previous→status reason".
func statusSteps(t *testing.T, db *store.DB, st *saleTree, actor *account.Actor, id int64) []string {
	t.Helper()
	evs, err := db.Events(st.ctx, actor, store.EventFilter{AccountID: id, Type: webhook.SubscriptionStatusChanged})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, ev := range slices.Backward(evs) {
		var data struct {
			SubscriptionID int64  `json:"subscription_id"`
			CustomerID     int64  `json:"customer_id"`
			Status         string `json:"status"`
			Previous       string `json:"previous_status"`
			Reason         string `json:"reason"`
		}
		if err := json.Unmarshal(ev.Payload, &data); err != nil || data.CustomerID != ev.AccountID {
			t.Errorf("event %s (%v)", ev.Payload, err)
		}
		steps = append(steps, fmt.Sprintf("%d %s→%s %s", data.SubscriptionID, data.Previous, data.Status, data.Reason))
	}
	return steps
}

// TestWebhookExpiryEvents: C's subscription does not renew and the daily
// run moves it graced → suspended → terminated; A1's endpoint (above C)
// receives one subscription.status_changed per step, in the run's
// transaction, and B's (a sibling) nothing.
func TestWebhookExpiryEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		if _, err := db.SetAutoRenew(st.ctx, st.c, sub, subscription.RenewOff, 0); err != nil {
			t.Fatal(err)
		}
		eA1 := &webhook.Endpoint{AccountID: st.A1.ID, URL: "https://hooks.example.com/a1", EventTypes: []string{webhook.SubscriptionStatusChanged}}
		if err := db.CreateWebhookEndpoint(st.ctx, st.a1, eA1); err != nil {
			t.Fatal(err)
		}
		eB := &webhook.Endpoint{AccountID: st.B.ID, URL: "https://hooks.example.com/b", EventTypes: webhook.Types}
		if err := db.CreateWebhookEndpoint(st.ctx, st.b, eB); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"2027-02-09", "2027-02-10", "2027-02-16", "2027-02-17", "2027-03-03", "2027-03-04"} {
			billDay(t, db, day(d))
		}
		if s := st.sub(t, sub); s.Status != subscription.Terminated {
			t.Fatalf("subscription %s, want terminated", s.Status)
		}
		steps := statusSteps(t, db, st, st.a1, st.A1.ID)
		want := []string{
			fmt.Sprintf("%d active→graced expired", sub),
			fmt.Sprintf("%d graced→suspended expired", sub),
			fmt.Sprintf("%d suspended→terminated expired", sub),
		}
		if !slices.Equal(steps, want) {
			t.Errorf("status events %v, want %v", steps, want)
		}
		if ds, err := db.WebhookDeliveries(st.ctx, st.a1, eA1.ID, 0, 0); err != nil || len(ds) != 3 {
			t.Errorf("A1's deliveries %v, %v", ds, err)
		}
		if ds, err := db.WebhookDeliveries(st.ctx, st.b, eB.ID, 0, 0); err != nil || len(ds) != 0 {
			t.Errorf("B's deliveries %v, %v", ds, err)
		}
	})
}

// TestWebhookCreditHoldEvents: C's terms suspend unpaid services on hold.
// The run of 01-21 finds C's second invoice overdue, holds C and suspends
// the second subscription; A1's endpoint receives that change, and the
// payment that releases the hold sends the resumption.
func TestWebhookCreditHoldEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		cust, err := db.Account(ctx, st.sys, st.C.ID)
		if err != nil {
			t.Fatal(err)
		}
		cust.PaymentTermsDays = 10
		if err := db.UpdateAccount(ctx, st.sys, cust); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetTerms(ctx, st.a1, st.C.ID, account.Terms{OnHold: account.SuspendUnpaid}); err != nil {
			t.Fatal(err)
		}
		first, second := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID, st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		e := &webhook.Endpoint{AccountID: st.A1.ID, URL: "https://hooks.example.com/a1", EventTypes: []string{webhook.SubscriptionStatusChanged}}
		if err := db.CreateWebhookEndpoint(ctx, st.a1, e); err != nil {
			t.Fatal(err)
		}
		st.clock.Set(time.Date(2027, 1, 15, 15, 0, 0, 0, time.UTC))
		if _, err := db.RecordPayment(ctx, st.a1, st.C.ID, m("29.70"), "bank transfer"); err != nil {
			t.Fatal(err)
		}
		billDay(t, db, day("2027-01-20"))
		if steps := statusSteps(t, db, st, st.a1, st.A1.ID); len(steps) != 0 {
			t.Fatalf("status events before the hold: %v", steps)
		}
		billDay(t, db, day("2027-01-21"))
		suspended := fmt.Sprintf("%d active→suspended %s", second, subscription.ReasonCreditHold)
		if steps := statusSteps(t, db, st, st.a1, st.A1.ID); !slices.Equal(steps, []string{suspended}) {
			t.Fatalf("status events of the hold %v, want [%s] (not %d)", steps, suspended, first)
		}
		st.clock.Set(time.Date(2027, 1, 21, 15, 0, 0, 0, time.UTC))
		if _, err := db.RecordPayment(ctx, st.a1, st.C.ID, m("29.70"), "bank transfer"); err != nil {
			t.Fatal(err)
		}
		want := []string{suspended, fmt.Sprintf("%d suspended→active ", second)}
		if steps := statusSteps(t, db, st, st.a1, st.A1.ID); !slices.Equal(steps, want) {
			t.Errorf("status events after the payment %v, want %v", steps, want)
		}
		if ds, err := db.WebhookDeliveries(ctx, st.a1, e.ID, 0, 0); err != nil || len(ds) != 2 {
			t.Errorf("deliveries %v, %v", ds, err)
		}
	})
}
