package store_test

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestStatementInvoices: A1 gathers its charges into one invoice per buyer
// on the 1st of each month; A above it invoices at once. C buys A1's basic
// with 8 mailboxes on 2027-01-10 and again on 2027-01-20, each
//
//	setup 6.60 + recurring 13.20 + 3 mailboxes × 3.30 = 9.90   → 29.70
//
// so nothing reaches C's ledger until 2027-02-01, when one invoice carries
// the six lines, 59.40; A invoices A1 for each sale at once (setup 6.00 + 12.00 + 3 × 3.00 = 27.00 each).
// The renewals of 02-10 and 02-20 (23.10 each) wait as unbilled charges —
// C's available balance counts them — until the statement of 03-01: one
// invoice of 46.20 with four lines.
func TestStatementInvoices(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := t.Context()
		a1, err := db.Account(ctx, st.sys, st.A1.ID)
		if err != nil {
			t.Fatal(err)
		}
		a1.Selling.Invoicing, a1.Selling.StatementDay = account.InvoiceOnStatement, 1
		if err := db.UpdateAccount(ctx, st.sys, a1); err != nil {
			t.Fatal(err)
		}
		st.complete(t, st.buy(t, st.c, 8))
		st.clock.Set(time.Date(2027, 1, 20, 15, 0, 0, 0, time.UTC))
		st.complete(t, st.buy(t, st.c, 8))
		docs := func(buyer int64) []*store.Document {
			t.Helper()
			d, err := db.Documents(ctx, st.sys, store.DocumentFilter{AccountID: buyer})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := docs(st.C.ID); len(d) != 0 {
			t.Fatalf("C has %d documents before its statement day", len(d))
		}
		if d := docs(st.A1.ID); len(d) != 2 || d[0].Total.Format("USD") != "27.00" || d[1].Total.Format("USD") != "27.00" {
			t.Fatalf("A's invoices to A1: %+v", d)
		}
		billDay(t, db, day("2027-01-31"))
		if d := docs(st.C.ID); len(d) != 0 {
			t.Fatalf("C has %d documents on 01-31", len(d))
		}
		res := billDay(t, db, day("2027-02-01"))
		got := docs(st.C.ID)
		if res.Invoices != 1 || len(got) != 1 || got[0].Total.Format("USD") != "59.40" || len(got[0].Lines) != 6 ||
			got[0].VendorID != st.A1.ID || !got[0].IssuedOn.Equal(day("2027-02-01")) || got[0].Number != "INV-000001" {
			t.Fatalf("statement of 02-01: %d invoices; C's documents %+v", res.Invoices, got)
		}
		for _, d := range []string{"2027-02-10", "2027-02-20"} {
			billDay(t, db, day(d))
		}
		st.clock.Set(time.Date(2027, 2, 25, 15, 0, 0, 0, time.UTC))
		c, err := db.Credit(ctx, st.sys, st.C.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Unbilled.Format("USD") != "46.20" || c.Balance.Format("USD") != "59.40" || c.Available.Format("USD") != "-105.60" {
			t.Errorf("C on 02-25: unbilled %s balance %s available %s; want 46.20, 59.40, -105.60",
				c.Unbilled.Format("USD"), c.Balance.Format("USD"), c.Available.Format("USD"))
		}
		if n := len(docs(st.C.ID)); n != 1 {
			t.Errorf("C has %d documents before the March statement, want 1", n)
		}
		billDay(t, db, day("2027-03-01"))
		got = docs(st.C.ID)
		if len(got) != 2 || got[0].Total.Format("USD") != "46.20" || len(got[0].Lines) != 4 || got[0].Number != "INV-000002" {
			t.Fatalf("statement of 03-01: %+v", got)
		}
		if again := billDay(t, db, day("2027-03-01")); again.Invoices != 0 {
			t.Errorf("the statement day again issued %d invoices", again.Invoices)
		}
	})
}

// TestProrationModes: A1 invoices on the 1st; C buys 8 mailboxes on
// 2027-01-10 (29.70, waiting for the statement) and on 2027-01-26, 15 of
// the period's 31 days left, goes to 10 mailboxes: the 2 more cost
// 2 × 3.30 × 15 / 31 = 3.19 (the credit of the 3 paid ones, −4.79, and the
// charge of the 5, 7.98). By the change's proration mode:
//
//	prorate          3.19 waits for the statement: C owes nothing yet, 32.89 unbilled
//	prorate_invoice  an invoice of 3.19 at once, 29.70 unbilled
//	none             nothing charged, 29.70 unbilled
func TestProrationModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode              string
		invoice, unbilled string
	}{
		{"prorate", "", "32.89"},
		{"prorate_invoice", "3.19", "29.70"},
		{"none", "", "29.70"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				st := saleSetup(t, db)
				ctx := t.Context()
				a1, err := db.Account(ctx, st.sys, st.A1.ID)
				if err != nil {
					t.Fatal(err)
				}
				a1.Selling.Invoicing = account.InvoiceOnStatement
				if err := db.UpdateAccount(ctx, st.sys, a1); err != nil {
					t.Fatal(err)
				}
				sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
				st.clock.Set(time.Date(2027, 1, 26, 15, 0, 0, 0, time.UTC))
				o, err := db.ChangeOrder(ctx, st.c, sub, store.ChangeRequest{Resources: map[string]int64{"mailbox": 10}, Proration: c.mode,
					ConfirmZero: c.mode == "none"}, nil) // without proration the change costs nothing now: the buyer confirms it
				if err != nil {
					t.Fatal(err)
				}
				st.complete(t, o)
				docs, err := db.Documents(ctx, st.sys, store.DocumentFilter{AccountID: st.C.ID})
				if err != nil {
					t.Fatal(err)
				}
				got := ""
				if len(docs) == 1 {
					got = docs[0].Total.Format("USD")
				}
				if len(docs) > 1 || got != c.invoice {
					t.Errorf("C's documents: %d, %q; want %q", len(docs), got, c.invoice)
				}
				credit, err := db.Credit(ctx, st.sys, st.C.ID)
				if err != nil {
					t.Fatal(err)
				}
				if credit.Unbilled.Format("USD") != c.unbilled {
					t.Errorf("unbilled %s, want %s", credit.Unbilled.Format("USD"), c.unbilled)
				}
			})
		})
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		sub := st.complete(t, st.buy(t, st.c, 8)).SubscriptionID
		_, err := db.ChangeOrder(t.Context(), st.c, sub, store.ChangeRequest{Resources: map[string]int64{"mailbox": 10}, Proration: "later"}, nil)
		if marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("an unknown proration mode: %v, want invalid", err)
		}
	})
}
