package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// reportTree is the tree of setup with a customer of its own below A and
// two below B, one of them billed in euros:
//
//	P (provider)
//	├── A (L1 reseller)
//	│   ├── A1 (L2 reseller)
//	│   │   └── C (customer)
//	│   └── CA (customer)
//	└── B (L1 reseller)
//	    ├── CB (customer)
//	    └── CE (customer, EUR)
type reportTree struct {
	*tree
	CA, CB, CE *account.Account
}

func reportSetup(t *testing.T, db *store.DB) *reportTree {
	t.Helper()
	tr := &reportTree{tree: setup(t, db)}
	mk := func(parent *account.Account, name, currency string) *account.Account {
		t.Helper()
		a := newAccount(account.Customer, parent.ID, name)
		a.Currency = currency
		if err := db.CreateAccount(tr.ctx, tr.sys, a); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return a
	}
	tr.CA = mk(tr.A, "Customer CA", "USD")
	tr.CB = mk(tr.B, "Customer CB", "USD")
	tr.CE = mk(tr.B, "Customer CE", "EUR")
	return tr
}

// bill issues a document of typ and one line of amount from buyer's parent
// to buyer, issued and due on the days given (a zero due: none).
func bill(t *testing.T, tr *tree, buyer *account.Account, typ store.DocumentType, issued, due time.Time, amount string) *store.Document {
	t.Helper()
	q := &order.Quote{Currency: buyer.Currency}
	q.AddLine(order.Line{What: order.Recurring, Amount: m(amount), Description: string(typ) + " " + amount})
	d := store.DocumentFromQuote(typ, buyer.ParentID, buyer.ID, q)
	d.IssuedOn, d.DueOn = issued, due
	if err := tr.db.IssueDocument(tr.ctx, tr.sys, d); err != nil {
		t.Fatalf("issue %s of %s to %s: %v", typ, amount, buyer.Name, err)
	}
	return d
}

// date is a day of 2027 as the ledger keeps days: midnight UTC.
func date(month time.Month, d int) time.Time { return time.Date(2027, month, d, 0, 0, 0, 0, time.UTC) }

// salesOfTwoMonths issues the documents of the revenue and margin examples,
// January and February 2027, with one on each side of the range and the
// documents that bill nothing:
//
//	P → A   invoice Jan 5 100.00, credit memo Jan 20 −10.00, invoice Feb 5 120.00
//	P → B   invoice Jan 5  80.00, invoice Feb 5 80.00, credit memo Feb 10 −5.50
//	A → CA  invoice Jan 6  70.00, invoice Feb 6 90.00
//	A → A1  invoice Jan 7  50.00, credit memo Feb 15 −4.25
//	A1 → C  invoice Jan 8  65.00
//	B → CB  invoice Jan 9 100.00, credit memo Jan 25 −12.34, invoice Feb 9 100.00
//	B → CE  invoice Feb 12 45.67 EUR
//
//	outside [Jan 1, Mar 1): P → A invoices Dec 31, 2026 777.00 and Mar 1 999.00
//	billing nothing:        CA pays A 70.00 (Feb 20), A refunds CA 5.00 (Feb 21)
func salesOfTwoMonths(t *testing.T, tr *reportTree) {
	t.Helper()
	tr.db.Clock = marketplane.NewTestClock(time.Date(2027, 2, 20, 15, 0, 0, 0, time.UTC))
	none := time.Time{}
	bill(t, tr.tree, tr.A, store.DocInvoice, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), none, "777.00")
	bill(t, tr.tree, tr.A, store.DocInvoice, date(1, 5), date(2, 4), "100.00")
	bill(t, tr.tree, tr.B, store.DocInvoice, date(1, 5), date(2, 4), "80.00")
	bill(t, tr.tree, tr.CA, store.DocInvoice, date(1, 6), none, "70.00")
	bill(t, tr.tree, tr.A1, store.DocInvoice, date(1, 7), none, "50.00")
	bill(t, tr.tree, tr.C, store.DocInvoice, date(1, 8), none, "65.00")
	bill(t, tr.tree, tr.CB, store.DocInvoice, date(1, 9), none, "100.00")
	bill(t, tr.tree, tr.A, store.DocCreditMemo, date(1, 20), none, "-10.00")
	bill(t, tr.tree, tr.CB, store.DocCreditMemo, date(1, 25), none, "-12.34")
	bill(t, tr.tree, tr.A, store.DocInvoice, date(2, 5), none, "120.00")
	bill(t, tr.tree, tr.B, store.DocInvoice, date(2, 5), none, "80.00")
	bill(t, tr.tree, tr.CA, store.DocInvoice, date(2, 6), none, "90.00")
	bill(t, tr.tree, tr.CB, store.DocInvoice, date(2, 9), none, "100.00")
	bill(t, tr.tree, tr.B, store.DocCreditMemo, date(2, 10), none, "-5.50")
	bill(t, tr.tree, tr.CE, store.DocInvoice, date(2, 12), none, "45.67")
	bill(t, tr.tree, tr.A1, store.DocCreditMemo, date(2, 15), none, "-4.25")
	if _, err := tr.db.RecordPayment(tr.ctx, tr.sys, tr.CA.ID, m("70.00"), "bank transfer"); err != nil {
		t.Fatal(err)
	}
	bill(t, tr.tree, tr.CA, store.DocRefund, date(2, 21), none, "5.00")
	bill(t, tr.tree, tr.A, store.DocInvoice, date(3, 1), none, "999.00")
}

func revenueLines(rows []store.RevenueRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %s %s", r.Month.Format("2006-01-02"), r.Currency, r.Revenue, r.Cost, r.Margin))
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestReportRevenue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := reportSetup(t, db)
		salesOfTwoMonths(t, tr)
		// month, currency, revenue (sold), cost (bought), margin.
		cases := []struct {
			vendor *account.Account
			from   time.Time
			want   []string
		}{
			{tr.P, date(1, 1), []string{
				"2027-01-01 USD 170.00 0.00 170.00", // 100.00 − 10.00 to A, 80.00 to B; the provider buys nothing
				"2027-02-01 USD 194.50 0.00 194.50", // 120.00 to A, 80.00 − 5.50 to B
			}},
			{tr.A, date(1, 1), []string{
				"2027-01-01 USD 120.00 90.00 30.00",  // 70.00 to CA + 50.00 to A1; 100.00 − 10.00 from P
				"2027-02-01 USD 85.75 120.00 -34.25", // 90.00 to CA − 4.25 to A1; 120.00 from P
			}},
			{tr.B, date(1, 1), []string{
				"2027-01-01 USD 87.66 80.00 7.66",   // 100.00 − 12.34 to CB; 80.00 from P
				"2027-02-01 EUR 45.67 0.00 45.67",   // to CE, in its own currency
				"2027-02-01 USD 100.00 74.50 25.50", // 100.00 to CB; 80.00 − 5.50 from P
			}},
			{tr.A1, date(1, 1), []string{
				"2027-01-01 USD 65.00 50.00 15.00",
				"2027-02-01 USD 0.00 -4.25 4.25", // a credit from its vendor lowers its cost
			}},
			{tr.C, date(1, 1), []string{
				"2027-01-01 USD 0.00 65.00 -65.00", // a customer only buys
			}},
			{tr.P, date(2, 1), []string{"2027-02-01 USD 194.50 0.00 194.50"}},
			{tr.CA, date(2, 20), []string{}}, // its payment (Feb 20) and refund (Feb 21) bill nothing
		}
		for _, c := range cases {
			rows, err := db.Revenue(tr.ctx, tr.sys, c.vendor.ID, c.from, date(3, 1))
			if err != nil {
				t.Fatalf("revenue of %s: %v", c.vendor.Name, err)
			}
			sameLines(t, fmt.Sprintf("revenue of %s from %s", c.vendor.Name, c.from.Format("Jan 2")), revenueLines(rows), c.want)
		}
		// A day in the vendor's time zone is the same ledger day.
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Revenue(tr.ctx, tr.sys, tr.P.ID, time.Date(2027, 2, 1, 0, 0, 0, 0, ny), time.Date(2027, 3, 1, 0, 0, 0, 0, ny))
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "revenue of P from February, New York", revenueLines(rows), []string{"2027-02-01 USD 194.50 0.00 194.50"})
		_, err = db.Revenue(tr.ctx, tr.sys, tr.P.ID, date(3, 1), date(3, 1))
		wantCode(t, err, marketplane.EINVALID)
		_, err = db.Revenue(tr.ctx, tr.sys, tr.P.ID, time.Time{}, date(3, 1))
		wantCode(t, err, marketplane.EINVALID)
	})
}

func TestReportMargins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := reportSetup(t, db)
		salesOfTwoMonths(t, tr)
		line := func(r store.MarginRow) string {
			return fmt.Sprintf("%d %s %s %s %s %s", r.ResellerID, r.Name, r.Currency, r.Revenue, r.Cost, r.Margin)
		}
		want := func(a *account.Account, rest string) string { return fmt.Sprintf("%d %s %s", a.ID, a.Name, rest) }
		margins := func(actor *account.Actor, vendor *account.Account) []string {
			t.Helper()
			rows, err := db.Margins(tr.ctx, actor, vendor.ID, date(1, 1), date(3, 1))
			if err != nil {
				t.Fatalf("margins below %s: %v", vendor.Name, err)
			}
			out := []string{}
			for _, r := range rows {
				out = append(out, line(r))
			}
			return out
		}
		// currency, revenue, cost, margin over January and February.
		belowP := []string{
			want(tr.A, "USD 205.75 210.00 -4.25"), // sold 120.00 + 85.75, bought 90.00 + 120.00
			want(tr.B, "EUR 45.67 0.00 45.67"),
			want(tr.B, "USD 187.66 154.50 33.16"), // sold 87.66 + 100.00, bought 80.00 + 74.50
		}
		sameLines(t, "margins below P", margins(tr.sys, tr.P), belowP)
		// A1 is A's reseller; CA is a customer and has no margin.
		sameLines(t, "margins below A", margins(tr.sys, tr.A), []string{want(tr.A1, "USD 65.00 45.75 19.25")})
		sameLines(t, "margins below B", margins(tr.sys, tr.B), []string{})

		// Staff of P whose reach is its children see A's and B's sales
		// but not A1's: A1's row is left out, as Documents leaves it out.
		g, err := account.NewGrants([]account.Grant{
			{Privilege: account.PrivAccounts, Level: "view", Scope: account.ScopeChildren},
			{Privilege: account.PrivDocuments, Level: "view"},
		})
		if err != nil {
			t.Fatal(err)
		}
		children := &account.Actor{UserID: 1, AccountID: tr.P.ID, AccountPath: tr.P.Path, Grants: g}
		sameLines(t, "margins below P, reach of children", margins(children, tr.P), belowP)
		sameLines(t, "margins below A, reach of children", margins(children, tr.A), []string{})
		if _, err := db.Documents(tr.ctx, children, store.DocumentFilter{VendorID: tr.A1.ID}); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("documents of A1 with a reach of children: %v, want not found", err)
		}
	})
}

func TestReportAging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := reportSetup(t, db)
		c2 := newAccount(account.Customer, tr.A1.ID, "Customer C2")
		c2.Currency = "EUR"
		if err := db.CreateAccount(tr.ctx, tr.sys, c2); err != nil {
			t.Fatal(err)
		}
		on := date(6, 30)
		before := func(n int) time.Time { return on.AddDate(0, 0, -n) }
		// A1's invoices to C, each issued 30 days before its due day
		// unless said otherwise; days are counted back from June 30.
		invoices := []struct {
			issued, due time.Time
			amount      string
			bucket      string
		}{
			{before(130), before(100), "40.00", "over 90"}, // the oldest: 30.00 paid below, 10.00 still owed
			{before(121), before(91), "1.00", "over 90"},
			{before(120), before(90), "2.00", "61–90"},
			{before(70), time.Time{}, "8.00", "61–90"}, // no due day: due on its issue day
			{before(75), before(45), "25.00", "31–60"},
			{before(61), before(31), "4.00", "31–60"},
			{before(60), before(30), "5.00", "1–30"},
			{before(40), before(10), "15.00", "1–30"},
			{before(30), on, "3.00", "current"}, // due on the day: not yet past due
			{before(15), on.AddDate(0, 0, 15), "12.00", "current"},
			{on.AddDate(0, 0, 2), on.AddDate(0, 0, 32), "99.00", "not issued yet"},
		}
		for _, inv := range invoices {
			bill(t, tr.tree, tr.C, store.DocInvoice, inv.issued, inv.due, inv.amount)
		}
		// C2 pays its older invoice in full: only the later one is owed.
		bill(t, tr.tree, c2, store.DocInvoice, before(40), before(10), "20.00")
		bill(t, tr.tree, c2, store.DocInvoice, before(5), on.AddDate(0, 0, 25), "7.50")
		// A's invoice to A1 is A's receivable, not A1's.
		bill(t, tr.tree, tr.A1, store.DocInvoice, before(200), before(170), "6.00")
		db.Clock = marketplane.NewTestClock(on.Add(15 * time.Hour))
		if _, err := db.RecordPayment(tr.ctx, tr.sys, tr.C.ID, m("30.00"), "bank transfer"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RecordPayment(tr.ctx, tr.sys, c2.ID, m("20.00"), "bank transfer"); err != nil {
			t.Fatal(err)
		}

		line := func(r store.AgingRow) string {
			return fmt.Sprintf("%d %s %s | %s %s %s %s %s | %s", r.AccountID, r.Name, r.Currency,
				r.Current, r.Days1To30, r.Days31To60, r.Days61To90, r.Over90, r.Total)
		}
		aging := func(actor *account.Actor, vendor *account.Account, on time.Time) []string {
			t.Helper()
			rows, err := db.Aging(tr.ctx, actor, vendor.ID, on)
			if err != nil {
				t.Fatalf("aging of %s: %v", vendor.Name, err)
			}
			out := []string{}
			for _, r := range rows {
				out = append(out, line(r))
			}
			return out
		}
		// buyer, currency | current, 1–30, 31–60, 61–90, over 90 | total
		sameLines(t, "aging of A1 on June 30", aging(tr.sys, tr.A1, on), []string{
			fmt.Sprintf("%d Customer C USD | 15.00 20.00 29.00 10.00 11.00 | 85.00", tr.C.ID),
			fmt.Sprintf("%d Customer C2 EUR | 7.50 0.00 0.00 0.00 0.00 | 7.50", c2.ID),
		})
		sameLines(t, "aging of A on June 30", aging(tr.sys, tr.A, on), []string{
			fmt.Sprintf("%d Reseller A1 USD | 0.00 0.00 0.00 0.00 6.00 | 6.00", tr.A1.ID),
		})
		// Twenty days earlier every invoice is twenty days younger, the
		// 12.00 one of C and the 7.50 one of C2 are not issued yet and
		// C2's older one is paid (as it stands now): C2 owes nothing.
		sameLines(t, "aging of A1 on June 10", aging(tr.sys, tr.A1, before(20)), []string{
			fmt.Sprintf("%d Customer C USD | 18.00 34.00 8.00 13.00 0.00 | 73.00", tr.C.ID),
		})
		_, err := db.Aging(tr.ctx, tr.sys, tr.A1.ID, time.Time{})
		wantCode(t, err, marketplane.EINVALID)
	})
}

func TestReportAuthorization(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := reportSetup(t, db)
		salesOfTwoMonths(t, tr)
		_, p := tr.user(t, tr.P, "p-admin", tr.admin)
		_, a := tr.user(t, tr.A, "a-admin", tr.admin)
		_, b := tr.user(t, tr.B, "b-admin", tr.admin)
		_, c := tr.user(t, tr.C, "c-admin", tr.admin)
		_, ca := tr.user(t, tr.CA, "ca-support", tr.support)
		reports := func(actor *account.Actor, vendorID int64) []error {
			_, rerr := db.Revenue(tr.ctx, actor, vendorID, date(1, 1), date(3, 1))
			_, merr := db.Margins(tr.ctx, actor, vendorID, date(1, 1), date(3, 1))
			_, aerr := db.Aging(tr.ctx, actor, vendorID, date(3, 1))
			return []error{rerr, merr, aerr}
		}
		cases := []struct {
			who    string
			actor  *account.Actor
			vendor int64
			code   string // "" when the actor sees the vendor's reports
		}{
			{"the provider on A", p, tr.A.ID, ""},
			{"A on itself", a, tr.A.ID, ""},
			{"A on its reseller A1", a, tr.A1.ID, ""},
			{"A on the provider", a, tr.P.ID, marketplane.ENOTFOUND},
			{"B on its sibling A", b, tr.A.ID, marketplane.ENOTFOUND},
			{"B on A's reseller A1", b, tr.A1.ID, marketplane.ENOTFOUND},
			{"A on its sibling B", a, tr.B.ID, marketplane.ENOTFOUND},
			{"C on its vendor A1", c, tr.A1.ID, marketplane.ENOTFOUND},
			{"CA on itself", ca, tr.CA.ID, ""},
			{"A on an account that does not exist", a, 987654, marketplane.ENOTFOUND},
		}
		for _, k := range cases {
			for i, err := range reports(k.actor, k.vendor) {
				if got := marketplane.ErrorCode(err); got != k.code {
					t.Errorf("%s, report %d: %q (%v), want %q", k.who, i, got, err, k.code)
				}
			}
		}
		// What B sees of its own is its own: the sibling's sales are not in it.
		rows, err := db.Revenue(tr.ctx, b, tr.B.ID, date(1, 1), date(3, 1))
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "revenue of B as B", revenueLines(rows), []string{
			"2027-01-01 USD 87.66 80.00 7.66",
			"2027-02-01 EUR 45.67 0.00 45.67",
			"2027-02-01 USD 100.00 74.50 25.50",
		})
	})
}
