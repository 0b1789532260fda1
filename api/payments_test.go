package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// process is another server process on f's database (or the same one
// after a restart): an API of its own, with its own card gateway g, nil
// for the default. It queues tasks as f's API does.
func process(t *testing.T, f *fixture, g gateway.Gateway) *fixture {
	t.Helper()
	p := *f
	p.api = New(Config{DB: f.db, Version: "test", Tasks: f.tasks, Logger: slog.New(slog.DiscardHandler),
		EnqueueProvision: f.api.enqueueProvision, EnqueueSubscriptionStatus: f.api.enqueueStatus, Gateway: g})
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", p.api.Handler())
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return &p
}

// TestTopUpsAcrossProcesses: card top-ups made by two server processes
// (or by one before and after a restart) are each recorded, with their
// own charge; a charge made by a process that died before recording it is
// recorded once by the retry that reaches another. C owes 19.80 (its
// order's invoice) before, which the first funds pay.
func TestTopUpsAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _, _ := billingSetup(t, db)
		cAcct := "/accounts/" + id(f.C.ID)
		credit := func() Credit { return decode[Credit](t, f.must(t, 200, "L2", "GET", cAcct+"/credit", nil)) }
		payments := func() []Document {
			return decode[Page[Document]](t, f.must(t, 200, "L2", "GET", "/documents?type=payment&account_id="+id(f.C.ID), nil)).Items
		}
		card := func(amount string) map[string]any { return map[string]any{"amount": amount, "source": "tok_visa"} }

		// Process 1 tops up 50.00; process 2 (started afresh, its gateway
		// knows nothing of process 1's) tops up 70.00 with another key.
		one, two := process(t, f, gatewaytest.New()), process(t, f, gatewaytest.New())
		first := decode[Document](t, one.must(t, 201, "L2", "POST", cAcct+"/top-ups", card("50.00"), "Idempotency-Key", "top-up-1"))
		second := decode[Document](t, two.must(t, 201, "L2", "POST", cAcct+"/top-ups", card("70.00"), "Idempotency-Key", "top-up-2"))
		if first.Total != "-50.00" || second.Total != "-70.00" || second.ID == first.ID || second.Number == first.Number ||
			first.GatewayRef == "" || second.GatewayRef == "" || first.GatewayRef == second.GatewayRef {
			t.Errorf("two top-ups: %+v and %+v", first, second)
		}
		// 120.00 paid in, of which the invoice's charge took 19.80.
		if c := credit(); c.PrepaidFunds != "100.20" || c.Balance != "-100.20" || c.Open != "0.00" {
			t.Errorf("C's credit after two top-ups %+v", c)
		}

		// Process 1 charged the card for a third top-up and died before
		// recording it; the card provider (shared by every process, like
		// Stripe) remembers the charge under its key. The client's retry
		// reaches process 2: the same charge, recorded once.
		provider := gatewaytest.New()
		lost, err := provider.Charge(t.Context(), gateway.ChargeRequest{AccountID: f.C.ID, Amount: usdAmount(t, "30.00"), Currency: "USD",
			Source: "tok_visa", IdempotencyKey: "account " + id(f.C.ID) + " top-up-3"})
		if err != nil {
			t.Fatal(err)
		}
		restarted := process(t, f, provider)
		third := decode[Document](t, restarted.must(t, 201, "L2", "POST", cAcct+"/top-ups", card("30.00"), "Idempotency-Key", "top-up-3"))
		again := decode[Document](t, restarted.must(t, 201, "L2", "POST", cAcct+"/top-ups", card("30.00"), "Idempotency-Key", "top-up-3"))
		if third.GatewayRef != lost.ID || again.ID != third.ID || provider.Charges() != 1 {
			t.Errorf("the retried top-up: %+v, then %+v; %d charges; want gateway ref %s", third, again, provider.Charges(), lost.ID)
		}
		if ps := payments(); len(ps) != 3 {
			t.Errorf("%d payments, want 3: %+v", len(ps), ps)
		}
		if c := credit(); c.PrepaidFunds != "130.20" || c.Balance != "-130.20" {
			t.Errorf("C's credit after three top-ups %+v", c)
		}
	})
}

func usdAmount(t *testing.T, s string) money.Micros {
	t.Helper()
	m, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOfflineRefusesCards: an installation without a card gateway (the
// default) records money received otherwise and refuses to charge a
// card, for top-ups and for orders placed and paid, with nothing recorded
// or placed.
func TestOfflineRefusesCards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		withOrders(t, f)
		_, _, l2 := saleChain(t, f)
		offline := process(t, f, nil)
		cAcct := "/accounts/" + id(f.C.ID)
		count := func(q string) int {
			var n int
			if err := db.Read.QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		const payments, orders = `SELECT COUNT(*) FROM documents WHERE type = 'payment'`, `SELECT COUNT(*) FROM orders`
		paid, placed := count(payments), count(orders)

		for i, c := range []struct {
			path  string
			body  map[string]any
			field string
		}{
			{cAcct + "/top-ups", map[string]any{"amount": "70.00", "source": "tok_visa"}, "body.source"},
			{cAcct + "/top-ups", map[string]any{"amount": "70.00", "source": "pm_card_visa"}, "body.source"},
			{"/orders", map[string]any{"customer_id": f.C.ID, "plan_id": l2.ID, "period": "1m", "payment_source": "tok_visa"}, "body.payment_source"},
		} {
			p := offline.must(t, 400, "L2", "POST", c.path, c.body, "Idempotency-Key", "offline-"+id(int64(i))).Problem(t)
			if p.Detail != gateway.NoCardGateway || !slices.Equal(p.locations(), []string{c.field}) {
				t.Errorf("%s %v: %+v", c.path, c.body, p)
			}
		}
		if n, o := count(payments), count(orders); n != paid || o != placed {
			t.Errorf("after the refusals: %d payments, %d orders; want %d, %d", n, o, paid, placed)
		}
		// A bank transfer and a cash top-up are recorded.
		offline.must(t, 201, "L2", "POST", cAcct+"/payments", map[string]any{"amount": "5.00", "method": "bank transfer"})
		top := decode[Document](t, offline.must(t, 201, "L2", "POST", cAcct+"/top-ups", map[string]any{"amount": "10.00", "method": "cash"}))
		if top.Method != "cash" || top.GatewayRef != "" {
			t.Errorf("cash top-up %+v", top)
		}
		if c := decode[Credit](t, offline.must(t, 200, "L2", "GET", cAcct+"/credit", nil)); c.Balance != "-15.00" || c.PrepaidFunds != "15.00" {
			t.Errorf("C's credit %+v", c)
		}
	})
}
