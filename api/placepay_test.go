package api

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestPlaceAndPay: C orders L2's plan (setup 6.60 + month 13.20 = 19.80)
// and pays with a card in the same call: the card is charged 19.80, the
// payment recorded as C's prepaid funds, and the order's invoice is paid
// by them when the order completes. A declined card places nothing and
// records nothing; a retry with the same Idempotency-Key charges once.
func TestPlaceAndPay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		saleClock(db)
		withOrders(t, f)
		_, _, l2 := saleChain(t, f)
		charges := func() int { return f.api.gateway.(*gatewaytest.Gateway).Charges() }
		orders := func() int {
			rows, err := db.Orders(ctx, account.SystemActor(), store.OrderFilter{CustomerID: f.C.ID})
			if err != nil {
				t.Fatal(err)
			}
			return len(rows)
		}
		body := func(source string) map[string]any {
			return map[string]any{"customer_id": f.C.ID, "plan_id": l2.ID, "period": "1m", "payment_source": source}
		}

		f.must(t, 409, "C", "POST", "/orders", body("tok_declined")).Problem(t)
		if n, c := orders(), charges(); n != 0 || c != 0 {
			t.Fatalf("after a declined card: %d orders, %d charges", n, c)
		}

		o := decode[Order](t, f.must(t, 201, "C", "POST", "/orders", body("tok_visa"), "Idempotency-Key", "buy-1"))
		f.must(t, 201, "C", "POST", "/orders", body("tok_visa"), "Idempotency-Key", "buy-1")
		if n, c := orders(), charges(); n != 1 || c != 1 {
			t.Fatalf("after paying and a replay: %d orders, %d charges; want 1, 1", n, c)
		}
		credit := decode[Credit](t, f.must(t, 200, "L2", "GET", "/accounts/"+id(f.C.ID)+"/credit", nil))
		if credit.PrepaidFunds != "19.80" {
			t.Errorf("prepaid funds before completion %s, want 19.80", credit.PrepaidFunds)
		}
		if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		docs := decode[Page[Document]](t, f.must(t, 200, "C", "GET", "/documents?account_id="+id(f.C.ID)+"&type=invoice", nil)).Items
		if len(docs) != 1 || docs[0].Total != "19.80" || docs[0].Status != "paid" || docs[0].AmountDue != "0.00" {
			t.Errorf("the order's invoice: %+v", docs)
		}
		credit = decode[Credit](t, f.must(t, 200, "L2", "GET", "/accounts/"+id(f.C.ID)+"/credit", nil))
		if credit.PrepaidFunds != "0.00" || credit.Balance != "0.00" {
			t.Errorf("after completion: prepaid %s balance %s, want 0.00 0.00", credit.PrepaidFunds, credit.Balance)
		}
	})
}
