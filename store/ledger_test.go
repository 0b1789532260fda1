package store_test

import (
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// workedQuote is an order of customer C from A1, priced by the order
// package's rules (lines rounded one by one, tax per line):
//
//	setup                               5.00
//	recurring [2027-01-10, 2027-02-10) 20.00
//	resource mailbox × 3 at 2.50        7.50
//	tax 19 %: 0.95 + 3.80 + 1.43 (1.425) = 6.18
//	total                              38.68
func workedQuote(t *testing.T) *order.Quote {
	t.Helper()
	from, to := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC)
	q := &order.Quote{Currency: "USD"}
	q.AddLine(order.Line{What: order.Setup, Amount: m("5.00"), Description: "Setup"})
	q.AddLine(order.Line{What: order.Recurring, From: from, To: to, Amount: m("20.00"), Description: "Office basic"})
	q.AddLine(order.Line{What: order.Resource, Resource: "mailbox", Quantity: decimal.MustNew(3, 0),
		From: from, To: to, Amount: m("7.50"), Description: "Mailboxes"})
	if err := q.AddTax(order.TaxRule{Rate: decimal.MustNew(19, 0)}); err != nil {
		t.Fatal(err)
	}
	return q
}

func jan(d int) time.Time { return time.Date(2027, 1, d, 0, 0, 0, 0, time.UTC) }

// issue issues a document of typ from the quote-like lines to C.
func issue(t *testing.T, tr *tree, typ store.DocumentType, on time.Time, amounts ...string) *store.Document {
	t.Helper()
	q := &order.Quote{Currency: "USD"}
	for _, a := range amounts {
		q.AddLine(order.Line{What: order.Recurring, Amount: m(a), Description: "line " + a})
	}
	d := store.DocumentFromQuote(typ, tr.A1.ID, tr.C.ID, q)
	d.IssuedOn = on
	if err := tr.db.IssueDocument(tr.ctx, tr.sys, d); err != nil {
		t.Fatalf("issue %s: %v", typ, err)
	}
	return d
}

func balanceOf(t *testing.T, tr *tree) string {
	t.Helper()
	b, err := tr.db.Balance(tr.ctx, tr.sys, tr.C.ID, tr.A1.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestIssueInvoiceFromQuote(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		q := workedQuote(t)
		if q.Total != m("38.68") {
			t.Fatalf("quote total %s, want 38.68", q.Total)
		}
		d := store.DocumentFromQuote(store.DocInvoice, tr.A1.ID, tr.C.ID, q)
		d.IssuedOn, d.DueOn = jan(10), jan(10).AddDate(0, 0, 30)
		if err := db.IssueDocument(tr.ctx, tr.sys, d); err != nil {
			t.Fatal(err)
		}
		if d.Number != "INV-000001" || d.Status != store.DocOpen {
			t.Fatalf("issued %s %s, want INV-000001 open", d.Number, d.Status)
		}
		got, err := db.Document(tr.ctx, tr.sys, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"setup 5.00", "recurring 20.00", "resource 7.50", "tax 6.18"}
		if len(got.Lines) != len(want) {
			t.Fatalf("lines %+v", got.Lines)
		}
		for i, l := range got.Lines {
			if s := string(l.What) + " " + l.Amount.String(); s != want[i] {
				t.Errorf("line %d: %s, want %s", i, s, want[i])
			}
		}
		if !got.Lines[2].Quantity.Equal(decimal.MustNew(3, 0)) || !got.Lines[2].From.Equal(jan(10)) ||
			!got.Lines[3].TaxRate.Equal(decimal.MustNew(19, 0)) {
			t.Errorf("line details lost: %+v", got.Lines)
		}
		if got.Total.String() != "38.68" || !got.IssuedOn.Equal(jan(10)) || !got.DueOn.Equal(jan(10).AddDate(0, 0, 30)) ||
			got.Number != "INV-000001" || got.Currency != "USD" || got.OrderID != 0 {
			t.Errorf("stored %+v", got)
		}
		if b := balanceOf(t, tr); b != "38.68" {
			t.Errorf("balance %s, want 38.68", b)
		}
		// The vendor's receivable side mirrors the buyer's: the ledger sums to zero.
		var sum int64
		if err := db.Read.QueryRow(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_entries`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != 0 || count(t, db, "ledger_entries") != 2 {
			t.Errorf("ledger sums to %d over %d entries, want 0 over 2", sum, count(t, db, "ledger_entries"))
		}
	})
}

func TestDocumentNumbersGapless(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		issue(t, tr, store.DocInvoice, jan(1), "10.00")
		// Fails half-way: the number is taken, then the document's insert
		// fails on an order that does not exist; all of it rolls back.
		q := &order.Quote{Currency: "USD"}
		q.AddLine(order.Line{What: order.Recurring, Amount: m("1.00")})
		bad := store.DocumentFromQuote(store.DocInvoice, tr.A1.ID, tr.C.ID, q)
		bad.IssuedOn, bad.OrderID = jan(2), 987654
		if err := db.IssueDocument(tr.ctx, tr.sys, bad); err == nil {
			t.Fatal("an invoice of a missing order was issued")
		}
		// A credit memo has a series of its own.
		cm := issue(t, tr, store.DocCreditMemo, jan(2), "-1.00")
		d2 := issue(t, tr, store.DocInvoice, jan(3), "20.00")
		d3 := issue(t, tr, store.DocInvoice, jan(4), "30.00")
		if cm.Number != "CM-000001" || d2.Number != "INV-000002" || d3.Number != "INV-000003" {
			t.Errorf("numbers %s %s %s, want CM-000001 INV-000002 INV-000003", cm.Number, d2.Number, d3.Number)
		}
		if n := count(t, db, "documents"); n != 4 {
			t.Errorf("%d documents, want 4", n)
		}
	})
}

func TestDocumentRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		cases := []struct {
			name string
			edit func(d *store.Document)
			code string
		}{
			{"no lines", func(d *store.Document) { d.Lines, d.Total = nil, 0 }, marketplane.ECONFLICT},
			{"zero lines", func(d *store.Document) {
				d.Lines, d.Total = []order.Line{{What: order.Setup}, {What: order.Recurring}}, 0
			}, marketplane.ECONFLICT},
			{"lines do not sum", func(d *store.Document) { d.Total = m("40.00") }, marketplane.EINVALID},
			{"unknown type", func(d *store.Document) { d.Type = "receipt" }, marketplane.EINVALID},
			{"unknown currency", func(d *store.Document) { d.Currency = "XXZ" }, marketplane.EINVALID},
			{"invoice below zero", func(d *store.Document) {
				d.Lines, d.Total = []order.Line{{What: order.Refund, Amount: m("-5.00")}}, m("-5.00")
			}, marketplane.EINVALID},
			{"not rounded", func(d *store.Document) {
				d.Lines, d.Total = []order.Line{{What: order.Usage, Amount: m("0.005")}}, m("0.005")
			}, marketplane.EINVALID},
			{"not the buyer's vendor", func(d *store.Document) { d.VendorID = tr.A.ID }, marketplane.EINVALID},
		}
		for _, c := range cases {
			d := store.DocumentFromQuote(store.DocInvoice, tr.A1.ID, tr.C.ID, workedQuote(t))
			d.IssuedOn = jan(1)
			c.edit(d)
			err := db.IssueDocument(tr.ctx, tr.sys, d)
			if marketplane.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
		}
		if err := db.IssueDocument(tr.ctx, tr.sys, &store.Document{Type: store.DocInvoice, VendorID: tr.A1.ID,
			AccountID: tr.C.ID, Currency: "USD", IssuedOn: jan(1)}); marketplane.ErrorCode(err) != marketplane.ECONFLICT || marketplane.ErrorMessage(err) != "nothing to issue" {
			t.Errorf("zero document: %v, want nothing to issue", err)
		}
		for _, table := range []string{"documents", "ledger_entries", "document_counters"} {
			if n := count(t, db, table); n != 0 {
				t.Errorf("%d rows in %s after refusals", n, table)
			}
		}
		// One currency between a buyer and its vendor: once they deal in
		// USD, a document in EUR is refused and stores nothing.
		usd := store.DocumentFromQuote(store.DocInvoice, tr.A1.ID, tr.C.ID, workedQuote(t))
		usd.IssuedOn = jan(1)
		if err := db.IssueDocument(tr.ctx, tr.sys, usd); err != nil {
			t.Fatal(err)
		}
		eur := store.DocumentFromQuote(store.DocInvoice, tr.A1.ID, tr.C.ID, workedQuote(t))
		eur.IssuedOn, eur.Currency = jan(2), "EUR"
		if err := db.IssueDocument(tr.ctx, tr.sys, eur); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("other currency: %v, want invalid", err)
		}
		if n := count(t, db, "documents"); n != 1 {
			t.Errorf("%d documents after the refused currency, want 1", n)
		}
	})
}

func TestBalanceAndPayments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		clock := marketplane.NewTestClock(time.Date(2027, 1, 20, 15, 0, 0, 0, time.UTC))
		db.Clock = clock
		_, a1 := tr.user(t, tr.A1, "a1-admin", tr.admin)
		status := func(d *store.Document) store.DocumentStatus {
			t.Helper()
			got, err := db.Document(tr.ctx, tr.sys, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}
		steps := []struct {
			step    string
			do      func() *store.Document
			balance string
		}{
			{"invoice 1", func() *store.Document { return issue(t, tr, store.DocInvoice, jan(1), "10.00", "2.35") }, "12.35"},
			{"invoice 2", func() *store.Document { return issue(t, tr, store.DocInvoice, jan(5), "20.00") }, "32.35"},
			{"credit memo", func() *store.Document { return issue(t, tr, store.DocCreditMemo, jan(6), "-2.35") }, "30.00"},
			{"payment 5.00", func() *store.Document { return pay(t, tr, a1, "5.00") }, "25.00"},
			{"payment 10.00", func() *store.Document { return pay(t, tr, a1, "10.00") }, "15.00"},
			{"invoice 3", func() *store.Document { return issue(t, tr, store.DocInvoice, jan(7), "7.50") }, "22.50"},
			{"payment 20.00", func() *store.Document { return pay(t, tr, a1, "20.00") }, "2.50"},
			{"payment 10.01", func() *store.Document { return pay(t, tr, a1, "10.01") }, "-7.51"},
		}
		docs := map[string]*store.Document{}
		// Paid invoices after each step: FIFO, an invoice only when fully covered.
		paid := map[string][]string{
			"invoice 1":     {},
			"invoice 2":     {},
			"credit memo":   {},
			"payment 5.00":  {},
			"payment 10.00": {"invoice 1"}, // 12.35 covered by 2.35 credit + 15.00 paid; invoice 2 (20.00) not yet
			"invoice 3":     {"invoice 1"},
			"payment 20.00": {"invoice 1", "invoice 2"}, // 2.50 still owed: invoice 3 (7.50) open
			"payment 10.01": {"invoice 1", "invoice 2", "invoice 3"},
		}
		for _, s := range steps {
			docs[s.step] = s.do()
			if b := balanceOf(t, tr); b != s.balance {
				t.Errorf("after %s: balance %s, want %s", s.step, b, s.balance)
			}
			want := map[string]bool{}
			for _, p := range paid[s.step] {
				want[p] = true
			}
			for _, inv := range []string{"invoice 1", "invoice 2", "invoice 3"} {
				d, ok := docs[inv]
				if !ok {
					continue
				}
				st := status(d)
				if want[inv] != (st == store.DocPaid) {
					t.Errorf("after %s: %s is %s", s.step, inv, st)
				}
			}
		}
		p := docs["payment 5.00"]
		if p.Number != "PAY-000001" || p.Total.String() != "-5.00" || p.Method != "bank transfer" ||
			!p.IssuedOn.Equal(jan(20)) || p.Status != store.DocNA {
			t.Errorf("payment %+v", p)
		}
		if _, err := db.RecordPayment(tr.ctx, a1, tr.C.ID, m("0.001"), "cash"); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("payment of 0.001: %v", err)
		}
		if _, err := db.RecordPayment(tr.ctx, a1, tr.C.ID, m("-1.00"), "cash"); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("negative payment: %v", err)
		}
	})
}

// pay records a payment from C by bank transfer, as actor.
func pay(t *testing.T, tr *tree, actor *account.Actor, amount string) *store.Document {
	t.Helper()
	d, err := tr.db.RecordPayment(tr.ctx, actor, tr.C.ID, m(amount), "bank transfer")
	if err != nil {
		t.Fatalf("payment of %s: %v", amount, err)
	}
	return d
}

func TestDocumentAuthorization(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		d := issue(t, tr, store.DocInvoice, jan(1), "10.00")
		_, c := tr.user(t, tr.C, "c-admin", tr.admin)
		_, a1 := tr.user(t, tr.A1, "a1-admin", tr.admin)
		_, a := tr.user(t, tr.A, "a-admin", tr.admin)
		_, b := tr.user(t, tr.B, "b-admin", tr.admin)
		for _, who := range []struct {
			name  string
			actor *account.Actor
			sees  bool
		}{{"buyer", c, true}, {"vendor", a1, true}, {"vendor's parent", a, true}, {"sibling", b, false}} {
			_, err := db.Document(tr.ctx, who.actor, d.ID)
			_, berr := db.Balance(tr.ctx, who.actor, tr.C.ID, tr.A1.ID)
			list, lerr := db.Documents(tr.ctx, who.actor, store.DocumentFilter{AccountID: tr.C.ID})
			if who.sees {
				if err != nil || berr != nil || lerr != nil || len(list) != 1 || list[0].Number != "INV-000001" {
					t.Errorf("%s: %v %v %v %d documents", who.name, err, berr, lerr, len(list))
				}
				continue
			}
			wantCode(t, err, marketplane.ENOTFOUND)
			wantCode(t, berr, marketplane.ENOTFOUND)
			wantCode(t, lerr, marketplane.ENOTFOUND)
			if _, err := db.RecordPayment(tr.ctx, who.actor, tr.C.ID, m("1.00"), "cash"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
				t.Errorf("%s records a payment: %v", who.name, err)
			}
		}
		// Lists without an account: the actor's reach.
		for _, who := range []struct {
			name  string
			actor *account.Actor
			n     int
		}{{"vendor", a1, 1}, {"vendor's parent", a, 1}, {"sibling", b, 0}} {
			list, err := db.Documents(tr.ctx, who.actor, store.DocumentFilter{Type: store.DocInvoice})
			if err != nil || len(list) != who.n {
				t.Errorf("%s lists %d documents (%v), want %d", who.name, len(list), err, who.n)
			}
		}
		list, err := db.Documents(tr.ctx, a1, store.DocumentFilter{VendorID: tr.A1.ID, Type: store.DocPayment})
		if err != nil || len(list) != 0 {
			t.Errorf("payments of A1: %d (%v)", len(list), err)
		}
		// The buyer cannot record its own payments: that is its vendor's staff's.
		if _, err := db.RecordPayment(tr.ctx, c, tr.C.ID, m("1.00"), "cash"); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("buyer records a payment: %v", err)
		}
	})
}
