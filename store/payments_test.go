package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestPaymentGatewayRef: a charge of a card gateway is recorded once,
// however often and by however many at once it is recorded; different
// charges are different payments; money received otherwise has no ref and
// any number of payments.
func TestPaymentGatewayRef(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		db.Clock = marketplane.NewTestClock(time.Date(2027, 1, 20, 15, 0, 0, 0, time.UTC))
		receive := func(p store.Payment) (*store.Document, error) {
			return db.ReceivePayment(tr.ctx, tr.sys, p, nil)
		}
		card := func(ref, amount string) store.Payment {
			return store.Payment{AccountID: tr.C.ID, Amount: m(amount), Method: "card visa 4242", TopUp: true, GatewayRef: ref}
		}

		first, err := receive(card("pi_1", "50.00"))
		if err != nil {
			t.Fatal(err)
		}
		if first.GatewayRef != "pi_1" || first.Number != "PAY-000001" {
			t.Errorf("first payment %+v", first)
		}
		// Recorded again (a retry, another process, after a restart): the
		// same payment.
		again, err := receive(card("pi_1", "50.00"))
		if err != nil || again.ID != first.ID || again.Number != first.Number {
			t.Errorf("the charge recorded again: %+v, %v; want document %d", again, err, first.ID)
		}
		// Another charge is another payment, whatever its method says.
		second, err := receive(card("pi_2", "70.00"))
		if err != nil || second.ID == first.ID || second.GatewayRef != "pi_2" {
			t.Fatalf("a second charge: %+v, %v", second, err)
		}
		// One ref for another amount, buyer or purpose is refused.
		for _, p := range []store.Payment{
			card("pi_1", "60.00"),
			{AccountID: tr.A1.ID, Amount: m("50.00"), Method: "card visa 4242", TopUp: true, GatewayRef: "pi_1"},
			{AccountID: tr.C.ID, Amount: m("50.00"), Method: "card visa 4242", GatewayRef: "pi_1"},
		} {
			if _, err := receive(p); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
				t.Errorf("%+v: %v, want a conflict", p, err)
			}
		}
		// Bank transfers have no ref: two of one amount are two payments.
		for range 2 {
			if _, err := receive(store.Payment{AccountID: tr.C.ID, Amount: m("5.00"), Method: "bank transfer"}); err != nil {
				t.Fatal(err)
			}
		}

		// Ten recording one charge at once: one payment, and each answers it.
		var wg sync.WaitGroup
		got := make([]*store.Document, 10)
		errs := make([]error, 10)
		for i := range got {
			wg.Go(func() { got[i], errs[i] = receive(card("pi_race", "12.34")) })
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("racing %d: %v", i, errs[i])
			}
			if got[i].ID != got[0].ID {
				t.Errorf("racing recordings answered documents %d and %d", got[0].ID, got[i].ID)
			}
		}

		var payments, raced int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM documents WHERE type = 'payment'`).Scan(&payments); err != nil {
			t.Fatal(err)
		}
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM documents WHERE gateway_ref = 'pi_race'`).Scan(&raced); err != nil {
			t.Fatal(err)
		}
		// pi_1, pi_2, two bank transfers, pi_race.
		if payments != 5 || raced != 1 {
			t.Errorf("%d payments (%d of the raced charge), want 5 (1)", payments, raced)
		}
		// -50.00 - 70.00 - 5.00 - 5.00 - 12.34
		if b := balanceOf(t, tr); b != "-142.34" {
			t.Errorf("balance %s, want -142.34", b)
		}
	})
}
