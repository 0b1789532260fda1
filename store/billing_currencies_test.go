package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBillingTwoCurrencies: two currencies in one tree. Provider P sells in
// USD (catSetup's office plan: setup 5.00, 10.00 a month, 5 mailboxes
// included, 2.50 each above). Reseller R-EUR keeps its accounts in EUR and
// sells a copy of the plan priced by the delegation rule "+20 % at 0.9137
// EUR to the dollar", each price rounded half away from zero to the cent:
//
//	price       P (USD)   × 0.9137 × 1.20   R-EUR (EUR)
//	setup         5.00        5.4822           5.48
//	recurring    10.00       10.9644          10.96
//	mailbox       2.50        2.7411           2.74
//
// Customer CE of R-EUR (in EUR) buys the copy with 8 mailboxes (3 above the
// 5 included) on 2027-01-10 and renews on 2027-02-10. CE is invoiced in EUR
// by R-EUR at R-EUR's prices; R-EUR is invoiced in USD by P at P's prices,
// for the same month (golden rule 9: the parent's price of the source
// plan, not a conversion of the customer's). On 2027-02-11 each buyer pays
// its vendor what it owes, in the currency the two deal in, and both
// balances go to zero:
//
//	on          type     from    to      currency  total   lines
//	2027-01-10  invoice  R-EUR   CE      EUR       24.66   setup 5.48, recurring 10.96, mailbox × 3 8.22
//	2027-01-10  invoice  P       R-EUR   USD       22.50   setup 5.00, recurring 10.00, mailbox × 3 7.50
//	2027-02-10  invoice  R-EUR   CE      EUR       19.18   recurring 10.96, mailbox × 3 8.22 (no setup)
//	2027-02-10  invoice  P       R-EUR   USD       17.50   recurring 10.00, mailbox × 3 7.50
//	2027-02-11  payment  R-EUR   P       USD       40.00   22.50 + 17.50
//	2027-02-11  payment  CE      R-EUR   EUR       43.84   24.66 + 19.18
//
// (a payment's from and to are the payer and the payee, and its total the
// amount received, as the golden files write payments). Then a document in
// the other currency between two accounts that already deal in one — EUR
// from P to R-EUR, USD from R-EUR to CE, a EUR payment from R-EUR to P — is
// refused with EINVALID and stores nothing; the same invoice in USD from P
// to R-EUR is accepted.
func TestBillingTwoCurrencies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := marketplane.NewTestClock(time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC)) // 10:00 in New York
		db.Clock = clock
		ct := catSetup(t, db)
		ctx := ct.ctx

		plan := officePlan(ct.P.ID, "office-basic")
		plan.Published = true
		if err := db.CreatePlan(ctx, ct.p, plan); err != nil {
			t.Fatalf("P's plan: %v", err)
		}
		mk := func(kind account.Kind, parent int64, name string) *account.Account {
			t.Helper()
			a := newAccount(kind, parent, name)
			a.Currency = "EUR"
			if err := db.CreateAccount(ctx, ct.sys, a); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			return a
		}
		reur := mk(account.Reseller, ct.P.ID, "R-EUR")
		ce := mk(account.Customer, reur.ID, "CE")
		_, reurAdmin := ct.user(t, reur, "admin-reur", ct.admin)
		_, ceAdmin := ct.user(t, ce, "admin-ce", ct.admin)
		names := map[int64]string{ct.P.ID: "P", reur.ID: "R-EUR", ce.ID: "CE"}

		cp, err := db.Delegate(ctx, ct.p, plan.ID, reur.ID, delegation.DelegateOptions{
			Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: "20", ExchangeRate: "0.9137"}, Publish: true})
		if err != nil {
			t.Fatalf("delegate to R-EUR: %v", err)
		}
		if got := []string{cp.Currency, cp.Periods[0].Setup.Amount.Format("EUR"), cp.Periods[0].Recurring.Amount.Format("EUR"),
			cp.Rates[0].Recurring.Amount.Format("EUR")}; !slices.Equal(got, []string{"EUR", "5.48", "10.96", "2.74"}) {
			t.Fatalf("R-EUR's copy: currency, setup, recurring, mailbox %v; want EUR 5.48 10.96 2.74", got)
		}

		const jan = " [2027-01-10, 2027-02-10) "
		const feb = " [2027-02-10, 2027-03-10) "
		sale := []string{"setup 5.48", "recurring" + jan + "10.96", "resource mailbox×3" + jan + "8.22"}
		saleP := []string{"setup 5.00", "recurring" + jan + "10.00", "resource mailbox×3" + jan + "7.50"}

		// The quote already speaks both currencies: the customer's in EUR,
		// the tier P sees in USD.
		req := store.OrderRequest{CustomerID: ce.ID, PlanID: cp.ID, Period: "1m", Resources: map[string]int64{"mailbox": 8}}
		q, err := db.Quote(ctx, ct.p, req)
		if err != nil {
			t.Fatalf("quote: %v", err)
		}
		wantMoney(t, "the quote", q.Quote, "EUR", sale, "24.66")
		if len(q.Tiers) != 1 || q.Tiers[0].SellerID != ct.P.ID || q.Tiers[0].BuyerID != reur.ID || q.Tiers[0].PlanID != plan.ID {
			t.Fatalf("the quote's tiers: %+v", q.Tiers)
		}
		wantMoney(t, "the quote's tier", q.Tiers[0].Quote, "USD", saleP, "22.50")

		o, err := db.PlaceOrder(ctx, ceAdmin, req, nil)
		if err != nil {
			t.Fatalf("CE's order: %v", err)
		}
		if o.Currency != "EUR" || o.Total.Format("EUR") != "24.66" {
			t.Errorf("order: %s %s, want EUR 24.66", o.Currency, o.Total.Format(o.Currency))
		}
		if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
			t.Fatalf("complete: %v", err)
		}

		res := billDay(t, db, day("2027-02-10"))
		if res.Subscriptions != 1 || res.Invoices != 2 || res.Totals["EUR"].Format("EUR") != "19.18" ||
			res.Totals["USD"].Format("USD") != "17.50" || len(res.Totals) != 2 {
			t.Errorf("the run of 2027-02-10: %d subscriptions, %d invoices, totals %v; want 1, 2, EUR 19.18 and USD 17.50",
				res.Subscriptions, res.Invoices, res.Totals)
		}
		balances := func(when, reurOwes, ceOwes string) {
			t.Helper()
			for _, b := range []struct {
				buyer, vendor int64
				currency      string
				want          string
			}{{reur.ID, ct.P.ID, "USD", reurOwes}, {ce.ID, reur.ID, "EUR", ceOwes}} {
				got, err := db.Balance(ctx, ct.sys, b.buyer, b.vendor)
				if err != nil {
					t.Fatal(err)
				}
				c, err := db.Credit(ctx, ct.sys, b.buyer)
				if err != nil {
					t.Fatal(err)
				}
				if got.Format(b.currency) != b.want || c.Currency != b.currency || c.Balance != got {
					t.Errorf("%s: %s owes %s %s (credit: %s %s), want %s %s", when, names[b.buyer], got.Format(b.currency),
						c.Currency, c.Balance.Format(c.Currency), b.currency, b.currency, b.want)
				}
			}
		}
		balances("after the renewal", "40.00", "43.84")

		clock.Set(time.Date(2027, 2, 11, 15, 0, 0, 0, time.UTC))
		payReur, err := db.RecordPayment(ctx, ct.p, reur.ID, m("40.00"), "wire in USD")
		if err != nil {
			t.Fatalf("R-EUR pays P: %v", err)
		}
		payCE, err := db.RecordPayment(ctx, reurAdmin, ce.ID, m("43.84"), "SEPA transfer")
		if err != nil {
			t.Fatalf("CE pays R-EUR: %v", err)
		}
		if payReur.Currency != "USD" || payCE.Currency != "EUR" {
			t.Errorf("payments in %s and %s, want USD and EUR", payReur.Currency, payCE.Currency)
		}
		balances("after the payments", "0.00", "0.00")

		type row struct {
			on, typ, from, to, currency, total string
			lines                              []string
		}
		want := []row{
			{"2027-01-10", "invoice", "R-EUR", "CE", "EUR", "24.66", sale},
			{"2027-01-10", "invoice", "P", "R-EUR", "USD", "22.50", saleP},
			{"2027-02-10", "invoice", "R-EUR", "CE", "EUR", "19.18", []string{"recurring" + feb + "10.96", "resource mailbox×3" + feb + "8.22"}},
			{"2027-02-10", "invoice", "P", "R-EUR", "USD", "17.50", []string{"recurring" + feb + "10.00", "resource mailbox×3" + feb + "7.50"}},
			{"2027-02-11", "payment", "R-EUR", "P", "USD", "40.00", nil},
			{"2027-02-11", "payment", "CE", "R-EUR", "EUR", "43.84", nil},
		}
		ledger := func() []*store.Document {
			t.Helper()
			docs, err := db.Documents(ctx, ct.sys, store.DocumentFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(docs) // in issue order
			return docs
		}
		docs := ledger()
		var got []row
		for _, d := range docs {
			r := row{d.IssuedOn.Format(time.DateOnly), string(d.Type), names[d.VendorID], names[d.AccountID], d.Currency,
				d.Total.Format(d.Currency), lines(&order.Quote{Currency: d.Currency, Lines: d.Lines})}
			if d.Type == store.DocPayment {
				// The payer to the payee, the amount received.
				r.from, r.to, r.total, r.lines = r.to, r.from, (-d.Total).Format(d.Currency), nil
			} else if d.Status != store.DocPaid {
				t.Errorf("%s %s of %s to %s is %s after the payments", d.Type, d.Number, r.from, r.to, d.Status)
			}
			got = append(got, r)
		}
		if !slices.EqualFunc(got, want, func(a, b row) bool {
			return a.on == b.on && a.typ == b.typ && a.from == b.from && a.to == b.to && a.currency == b.currency &&
				a.total == b.total && slices.Equal(a.lines, b.lines)
		}) {
			cells := func(r row) []string {
				return append([]string{r.on, r.typ, r.from, r.to, r.currency, r.total}, r.lines...)
			}
			t.Errorf("the ledger:\n%s\nwant\n%s", renderRows(got, cells), renderRows(want, cells))
		}

		// One currency between a buyer and its vendor: the first document
		// of the two set it, and nothing in another is issued.
		one := func(typ store.DocumentType, vendor, buyer int64, currency string) *store.Document {
			kind, amount := order.Recurring, m("1.00")
			if typ == store.DocPayment {
				kind, amount = store.PaymentLine, -amount
			}
			return &store.Document{Type: typ, VendorID: vendor, AccountID: buyer, Currency: currency, Total: amount,
				IssuedOn: day("2027-02-11"), Method: "cash", Lines: []order.Line{{What: kind, Amount: amount, Description: "test"}}}
		}
		for _, c := range []struct {
			about string
			doc   *store.Document
			deal  string
		}{
			{"a EUR invoice from P to R-EUR", one(store.DocInvoice, ct.P.ID, reur.ID, "EUR"), "USD"},
			{"a USD invoice from R-EUR to CE", one(store.DocInvoice, reur.ID, ce.ID, "USD"), "EUR"},
			{"a EUR payment from R-EUR to P", one(store.DocPayment, ct.P.ID, reur.ID, "EUR"), "USD"},
		} {
			err := db.IssueDocument(ctx, ct.sys, c.doc)
			if marketplane.ErrorCode(err) != marketplane.EINVALID || !strings.Contains(err.Error(), "deal in "+c.deal) {
				t.Errorf("%s: %v, want EINVALID: the two deal in %s", c.about, err, c.deal)
			}
		}
		if n := len(ledger()); n != len(want) {
			t.Errorf("%d documents after the refusals, want %d", n, len(want))
		}
		balances("after the refusals", "0.00", "0.00")
		if err := db.IssueDocument(ctx, ct.sys, one(store.DocInvoice, ct.P.ID, reur.ID, "USD")); err != nil {
			t.Errorf("the same invoice in USD: %v", err)
		}
		balances("after an invoice of 1.00 USD", "1.00", "0.00")
	})
}

// wantMoney checks a quote's currency, lines and total.
func wantMoney(t *testing.T, about string, q *order.Quote, currency string, want []string, total string) {
	t.Helper()
	if q == nil {
		t.Fatalf("%s: no quote", about)
	}
	if got := lines(q); !slices.Equal(got, want) {
		t.Errorf("%s: lines\n  %s\nwant\n  %s", about, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if q.Currency != currency || q.Total.Format(q.Currency) != total {
		t.Errorf("%s: %s %s, want %s %s", about, q.Currency, q.Total.Format(q.Currency), currency, total)
	}
}

func renderRows[R any](rows []R, cells func(R) []string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("  " + strings.Join(cells(r), "  ") + "\n")
	}
	return b.String()
}
