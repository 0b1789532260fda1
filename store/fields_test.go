package store_test

import (
	"errors"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestSellerFieldsAreTheSellers: an account's own staff may edit its
// name, contact and selling settings, but not the terms its seller gives
// it (credit limit, net days, currency, tax status, the parent's external
// id); the staff above it may, and nothing is stored when refused.
func TestSellerFieldsAreTheSellers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		_, cAdmin := tr.user(t, tr.C, "c-admin", tr.admin)
		_, a1Admin := tr.user(t, tr.A1, "a1-admin", tr.admin)
		_, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		_, pAdmin := tr.user(t, tr.P, "p-admin", tr.admin)

		edits := []struct {
			field string
			edit  func(a *account.Account)
		}{
			{"credit_limit", func(a *account.Account) { a.CreditLimit = 99999999 * money.MicrosPerUnit }},
			{"payment_terms_days", func(a *account.Account) { a.PaymentTermsDays = 365 }},
			{"currency", func(a *account.Account) { a.Currency = "EUR" }},
			{"vat_id", func(a *account.Account) { a.VATID = "DE123456789" }},
			{"address.country", func(a *account.Account) { a.Address.Country = "DE" }},
			{"external_id", func(a *account.Account) { a.ExternalID = "mine-now" }},
		}
		for _, own := range []struct {
			who   string
			actor *account.Actor
			acct  *account.Account
		}{{"customer on itself", cAdmin, tr.C}, {"L2 reseller on itself", a1Admin, tr.A1}, {"L1 reseller on itself", aAdmin, tr.A}} {
			for _, e := range edits {
				before, _ := db.Account(tr.ctx, tr.sys, own.acct.ID)
				a := *before
				e.edit(&a)
				err := db.UpdateAccount(tr.ctx, own.actor, &a)
				var me *marketplane.Error
				if !errors.As(err, &me) || me.Code != marketplane.EFORBIDDEN || me.Fields[e.field] == "" {
					t.Errorf("%s setting %s: %v, want EFORBIDDEN naming the field", own.who, e.field, err)
				}
				after, _ := db.Account(tr.ctx, tr.sys, own.acct.ID)
				if after.Version != before.Version || after.CreditLimit != before.CreditLimit || after.PaymentTermsDays != before.PaymentTermsDays ||
					after.Currency != before.Currency || after.VATID != before.VATID || after.ExternalID != before.ExternalID {
					t.Errorf("%s setting %s: stored %+v", own.who, e.field, after)
				}
			}
		}

		// The account's own fields stay its own.
		c, _ := db.Account(tr.ctx, tr.sys, tr.C.ID)
		c.Name, c.Contact.Email, c.Locale, c.TimeZone = "Customer C GmbH", "ops@c.example", "de-DE", "Europe/Berlin"
		if err := db.UpdateAccount(tr.ctx, cAdmin, c); err != nil {
			t.Errorf("customer editing its own name and contact: %v", err)
		}
		a1, _ := db.Account(tr.ctx, tr.sys, tr.A1.ID)
		a1.Selling.Proration = account.ProrateNone
		if err := db.UpdateAccount(tr.ctx, a1Admin, a1); err != nil {
			t.Errorf("reseller setting how it sells: %v", err)
		}

		// The seller side sets them: the parent, a grandparent with reach,
		// and Marketplane itself.
		for _, seller := range []struct {
			who   string
			actor *account.Actor
			acct  *account.Account
		}{{"L2 parent", a1Admin, tr.C}, {"L1 grandparent", aAdmin, tr.C}, {"L1 parent of L2", aAdmin, tr.A1}, {"provider", pAdmin, tr.A}, {"system", tr.sys, tr.A1}} {
			a, _ := db.Account(tr.ctx, tr.sys, seller.acct.ID)
			for _, e := range edits {
				e.edit(a)
			}
			a.ExternalID = "crm-" + seller.who
			if err := db.UpdateAccount(tr.ctx, seller.actor, a); err != nil {
				t.Errorf("%s setting the seller's fields: %v", seller.who, err)
				continue
			}
			got, _ := db.Account(tr.ctx, tr.sys, seller.acct.ID)
			if got.CreditLimit.String() != "99999999.00" || got.PaymentTermsDays != 365 || got.Currency != "EUR" || got.VATID != "DE123456789" {
				t.Errorf("%s: stored %s, %d days, %s, %q", seller.who, got.CreditLimit, got.PaymentTermsDays, got.Currency, got.VATID)
			}
		}
		// The provider has nobody above it: its own staff set its fields.
		p, _ := db.Account(tr.ctx, tr.sys, tr.P.ID)
		p.Currency = "EUR"
		if err := db.UpdateAccount(tr.ctx, pAdmin, p); err != nil {
			t.Errorf("provider setting its own currency: %v", err)
		}
	})
}

// TestCurrencyFixedOnceUsed: an account's currency may change until it
// holds a subscription, document or ledger entry; then not even the
// seller or Marketplane itself may change it.
func TestCurrencyFixedOnceUsed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		_, a1Admin := tr.user(t, tr.A1, "a1-admin", tr.admin)
		c, _ := db.Account(tr.ctx, tr.sys, tr.C.ID)
		c.Currency = "EUR"
		if err := db.UpdateAccount(tr.ctx, a1Admin, c); err != nil {
			t.Fatalf("currency of a new account: %v", err)
		}
		c.Currency = "USD"
		if err := db.UpdateAccount(tr.ctx, a1Admin, c); err != nil {
			t.Fatalf("currency back: %v", err)
		}
		if _, err := db.ReceivePayment(tr.ctx, a1Admin, store.Payment{AccountID: tr.C.ID, Amount: 50 * money.MicrosPerUnit, Method: "bank transfer"}, nil); err != nil {
			t.Fatal(err)
		}
		for _, actor := range []*account.Actor{a1Admin, tr.sys} {
			c, _ = db.Account(tr.ctx, tr.sys, tr.C.ID)
			version := c.Version
			c.Currency = "EUR"
			err := db.UpdateAccount(tr.ctx, actor, c)
			var me *marketplane.Error
			if !errors.As(err, &me) || me.Code != marketplane.ECONFLICT || me.Fields["currency"] == "" {
				t.Errorf("currency change after a payment: %v, want ECONFLICT naming currency", err)
			}
			got, _ := db.Account(tr.ctx, tr.sys, tr.C.ID)
			if got.Currency != "USD" || got.Version != version {
				t.Errorf("after refused change: %s v%d", got.Currency, got.Version)
			}
		}
		// The seller (A1) sold in USD to C: its own currency is fixed too.
		a1, _ := db.Account(tr.ctx, tr.sys, tr.A1.ID)
		a1.Currency = "EUR"
		wantCode(t, db.UpdateAccount(tr.ctx, tr.sys, a1), marketplane.ECONFLICT)
	})
}
