package api

import (
	"context"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestOwnTermsAreTheSellers: with its own key, a customer (and an L2
// reseller on itself) may not PATCH its credit limit, payment terms or
// currency: 403 naming the field, nothing stored; the parent may.
func TestOwnTermsAreTheSellers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		bodies := []struct {
			field string
			body  map[string]any
		}{
			{"credit_limit", map[string]any{"credit_limit": "99999999.00"}},
			{"payment_terms_days", map[string]any{"payment_terms_days": 365}},
			{"currency", map[string]any{"currency": "EUR"}},
		}
		for _, own := range []struct {
			who  string
			acct *account.Account
		}{{"C", f.C}, {"L2", f.L2}} {
			path := "/accounts/" + id(own.acct.ID)
			for _, b := range bodies {
				p := f.must(t, 403, own.who, "PATCH", path, b.body).Problem(t)
				if !slices.Contains(p.locations(), "body."+b.field) {
					t.Errorf("%s setting its own %s: errors at %v, want body.%s", own.who, b.field, p.locations(), b.field)
				}
			}
			var got Account
			f.must(t, 200, own.who, "GET", path, nil).JSON(t, &got)
			if got.CreditLimit != "0.00" || got.PaymentTermsDays != 0 || got.Currency != "USD" || got.Version != 1 {
				t.Errorf("%s after refused changes: %s, %d days, %s, v%d", own.who, got.CreditLimit, got.PaymentTermsDays, got.Currency, got.Version)
			}
			// Its own name is its own.
			f.must(t, 200, own.who, "PATCH", path, map[string]any{"name": own.acct.Name + " Ltd"})
		}
		// The parent sets them.
		for _, seller := range []struct {
			who  string
			acct *account.Account
		}{{"L2", f.C}, {"L1a", f.L2}} {
			var got Account
			f.must(t, 200, seller.who, "PATCH", "/accounts/"+id(seller.acct.ID),
				map[string]any{"credit_limit": "99999999.00", "payment_terms_days": 365, "currency": "EUR"}).JSON(t, &got)
			if got.CreditLimit != "99999999.00" || got.PaymentTermsDays != 365 || got.Currency != "EUR" {
				t.Errorf("%s setting its buyer's terms: %s, %d days, %s", seller.who, got.CreditLimit, got.PaymentTermsDays, got.Currency)
			}
		}
	})
}

// TestCurrencyFixedAfterPayment: once an account has a payment, PATCHing
// its currency is refused (409 naming currency), even for its parent.
func TestCurrencyFixedAfterPayment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		if _, err := db.ReceivePayment(context.Background(), account.SystemActor(),
			store.Payment{AccountID: f.C.ID, Amount: 50 * money.MicrosPerUnit, Method: "bank transfer"}, nil); err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"L2", "L1a", "P"} {
			p := f.must(t, 409, who, "PATCH", "/accounts/"+id(f.C.ID), map[string]any{"currency": "EUR"}).Problem(t)
			if !slices.Contains(p.locations(), "body.currency") {
				t.Errorf("%s: errors at %v, want body.currency", who, p.locations())
			}
		}
		var got Account
		f.must(t, 200, "C", "GET", "/accounts/"+id(f.C.ID), nil).JSON(t, &got)
		if got.Currency != "USD" {
			t.Errorf("currency %s after refused changes, want USD", got.Currency)
		}
	})
}
