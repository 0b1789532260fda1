package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBillDayChunkWithAFailingSubscription: three customers of A1, C, C2
// and C3, each buy A1's basic with 8 mailboxes on 2027-01-10; on
// 2027-02-10 their three renewals fall in one chunk of the run. C2's
// renewal cannot be billed: in one case the database refuses the rows of
// its invoice (a trigger, as a constraint would), so the chunk's
// multi-row insert fails after its orders were written; in the other its
// subscription names a period its plan no longer has, so its pricing
// fails. Either way the chunk is rolled back and billed again one
// subscription per transaction: C and C3 are billed once each, as
// TestBillDayRenewal bills C alone (three invoices, 61.60 each):
//
//	C   23.10 to A1;  A1 21.00 to A;  A 17.50 to P
//	C3  23.10 to A1;  A1 21.00 to A;  A 17.50 to P     2 subscriptions, 6 invoices, 123.20
//
// C2 is reported as the run's one failure and keeps its period. The same
// day again bills nothing twice (C2 fails again); once the cause is gone,
// the day bills C2 alone, with the next numbers and no gap.
func TestBillDayChunkWithAFailingSubscription(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// break makes sub's renewal fail; mend undoes it.
		breakIt, mend func(t *testing.T, db *store.DB, buyer *account.Account, sub int64)
	}{
		{"the database refuses its invoice", refuseDocumentsOf, allowDocumentsOf},
		{"its period left its plan", func(t *testing.T, db *store.DB, _ *account.Account, sub int64) {
			exec(t, db, `UPDATE subscriptions SET period_key = 'gone' WHERE id = $1`, sub)
		}, func(t *testing.T, db *store.DB, _ *account.Account, sub int64) {
			exec(t, db, `UPDATE subscriptions SET period_key = '1m' WHERE id = $1`, sub)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				st := saleSetup(t, db)
				buyers := []*account.Account{st.C}
				for _, name := range []string{"Customer C2", "Customer C3"} {
					a := newAccount(account.Customer, st.A1.ID, name)
					if err := db.CreateAccount(st.ctx, st.sys, a); err != nil {
						t.Fatal(err)
					}
					buyers = append(buyers, a)
				}
				subs := make([]int64, len(buyers))
				for i, b := range buyers {
					o, err := db.PlaceOrder(st.ctx, st.a1, store.OrderRequest{CustomerID: b.ID, PlanID: st.basic["A1"].ID, Period: "1m",
						Resources: map[string]int64{"mailbox": 8}}, nil)
					if err != nil {
						t.Fatalf("order of %s: %v", b.Name, err)
					}
					subs[i] = st.complete(t, o).SubscriptionID
				}
				bad, badSub := buyers[1], subs[1]
				before := st.sub(t, badSub)
				c.breakIt(t, db, bad, badSub)

				res, err := db.BillDay(st.ctx, day("2027-02-10"))
				if err != nil {
					t.Fatalf("bill: %v", err)
				}
				wantRun(t, "2027-02-10", res, 2, 6, "123.20")
				if len(res.Failures) != 1 || res.Failures[0].SubscriptionID != badSub || res.Failures[0].Err == nil {
					t.Fatalf("failures %+v, want subscription %d alone", res.Failures, badSub)
				}
				t.Logf("reported: subscription %d: %v", badSub, res.Failures[0].Err)
				wantRenewals(t, st, buyers, []int{1, 0, 1})
				// A1's invoices: the three sales, then the two renewals
				// billed, numbered without a gap (the rolled-back chunk
				// took no numbers).
				wantNumbers(t, st, st.A1.ID, st.A.ID, "INV-000001", "INV-000002", "INV-000003", "INV-000004", "INV-000005")
				wantBalances(t, st, buyers, "52.80", "29.70", "52.80")
				if s := st.sub(t, badSub); s.Version != before.Version || !s.NextBillingAt.Equal(day("2027-02-10")) {
					t.Errorf("the failing subscription changed: version %d → %d, next billing %s", before.Version, s.Version, s.NextBillingAt)
				}

				// The same day again: the two billed are no longer due, the
				// third fails again.
				res, err = db.BillDay(st.ctx, day("2027-02-10"))
				if err != nil {
					t.Fatalf("bill again: %v", err)
				}
				wantRun(t, "2027-02-10 again", res, 0, 0, "")
				if len(res.Failures) != 1 || res.Failures[0].SubscriptionID != badSub {
					t.Errorf("failures again %+v, want subscription %d", res.Failures, badSub)
				}
				wantRenewals(t, st, buyers, []int{1, 0, 1})

				// The cause gone, the day bills the third alone.
				c.mend(t, db, bad, badSub)
				wantRun(t, "2027-02-10 mended", billDay(t, db, day("2027-02-10")), 1, 3, "61.60")
				wantRenewals(t, st, buyers, []int{1, 1, 1})
				wantNumbers(t, st, st.A1.ID, st.A.ID, "INV-000001", "INV-000002", "INV-000003", "INV-000004", "INV-000005", "INV-000006")
				wantBalances(t, st, buyers, "52.80", "52.80", "52.80")
				wantRun(t, "2027-02-10 once more", billDay(t, db, day("2027-02-10")), 0, 0, "")
				wantRenewals(t, st, buyers, []int{1, 1, 1})
			})
		})
	}
}

// wantRenewals checks each buyer's renewal (RN) orders, invoices and
// ledger entries: n[i] of each for buyers[i], each order with its two
// tiers and each tier's invoice, to the cent.
func wantRenewals(t *testing.T, st *saleTree, buyers []*account.Account, n []int) {
	t.Helper()
	for i, b := range buyers {
		inv := invoicesOf(t, st, b.ID)
		if len(inv) != n[i] {
			t.Errorf("%s: %d renewal invoices, want %d", b.Name, len(inv), n[i])
			continue
		}
		var orders int
		err := st.db.Read.QueryRowContext(st.ctx, `SELECT COUNT(*) FROM orders WHERE customer_id = $1 AND type = $2`, b.ID, string(order.RN)).Scan(&orders)
		if err != nil || orders != n[i] {
			t.Errorf("%s: %d renewal orders %v, want %d", b.Name, orders, err, n[i])
		}
		for _, d := range inv {
			wantQuote(t, b.Name+"'s renewal", &order.Quote{Currency: d.Currency, Lines: d.Lines, Total: d.Total}, []string{
				"recurring [2027-02-10, 2027-03-10) 13.20",
				"resource mailbox×3 [2027-02-10, 2027-03-10) 9.90",
			}, "23.10")
			rn, err := st.db.Order(st.ctx, st.sys, d.OrderID)
			if err != nil || len(rn.Tiers) != 2 || rn.Tiers[0].Total.Format("USD") != "21.00" || rn.Tiers[1].Total.Format("USD") != "17.50" {
				t.Errorf("%s's renewal order: %+v %v", b.Name, rn, err)
				continue
			}
			// Each of the order's three invoices (the customer's and the
			// two tiers') is posted once to each side of the ledger.
			var docs, entries int
			var sum int64
			err = st.db.Read.QueryRowContext(st.ctx, `SELECT COUNT(DISTINCT d.id), COUNT(*), COALESCE(SUM(CASE WHEN e.side = 'buyer' THEN e.amount ELSE 0 END), 0)
				FROM documents d JOIN ledger_entries e ON e.document_id = d.id WHERE d.order_id = $1`, d.OrderID).Scan(&docs, &entries, &sum)
			if err != nil || docs != 3 || entries != 6 || sum != int64(m("61.60")) {
				t.Errorf("%s's renewal: %d documents, %d ledger entries, buyers owe %d %v; want 3, 6, 61.60", b.Name, docs, entries, sum, err)
			}
		}
	}
}

// wantNumbers checks the numbers of the invoices seller issued to buyer,
// in the order they were issued.
func wantNumbers(t *testing.T, st *saleTree, buyer, seller int64, want ...string) {
	t.Helper()
	docs, err := st.db.Documents(st.ctx, st.sys, store.DocumentFilter{AccountID: buyer, Type: store.DocInvoice})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		if d.VendorID == seller {
			got = append(got, d.Number)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("invoices of %d from %d: %s; want %s", buyer, seller, strings.Join(got, " "), strings.Join(want, " "))
	}
}

// wantBalances checks what each buyer owes A1.
func wantBalances(t *testing.T, st *saleTree, buyers []*account.Account, want ...string) {
	t.Helper()
	for i, b := range buyers {
		bal, err := st.db.Balance(st.ctx, st.sys, b.ID, st.A1.ID)
		if err != nil || bal.Format("USD") != want[i] {
			t.Errorf("%s owes %s %v, want %s", b.Name, bal.Format("USD"), err, want[i])
		}
	}
}

// refuseDocumentsOf makes the database refuse every document row of
// buyer, as a failing constraint would: a trigger on either engine.
func refuseDocumentsOf(t *testing.T, db *store.DB, buyer *account.Account, _ int64) {
	t.Helper()
	if db.Engine == store.Postgres {
		exec(t, db, `CREATE FUNCTION refuse_document() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'documents of account % are refused', NEW.account_id; END $$`)
		exec(t, db, fmt.Sprintf(`CREATE TRIGGER refuse_documents BEFORE INSERT ON documents FOR EACH ROW
			WHEN (NEW.account_id = %d) EXECUTE FUNCTION refuse_document()`, buyer.ID))
		return
	}
	exec(t, db, fmt.Sprintf(`CREATE TRIGGER refuse_documents BEFORE INSERT ON documents WHEN NEW.account_id = %d
		BEGIN SELECT RAISE(ABORT, 'documents of this account are refused'); END`, buyer.ID))
}

// allowDocumentsOf drops refuseDocumentsOf's trigger.
func allowDocumentsOf(t *testing.T, db *store.DB, _ *account.Account, _ int64) {
	t.Helper()
	if db.Engine == store.Postgres {
		exec(t, db, `DROP TRIGGER refuse_documents ON documents`)
		return
	}
	exec(t, db, `DROP TRIGGER refuse_documents`)
}

// exec runs a statement of the test's own on db.
func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Write.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
