package web

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/invoice"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// billingDocuments is how many documents a page of Billing lists.
const billingDocuments = 50

// billingData is the Billing screen: the buyer's standing towards its
// vendor, its invoices and credit memos, its payments and every order
// waiting for payment. Prices says whether the reader may see amounts;
// without it every amount and the PDFs are left out.
type billingData struct {
	Prices    bool
	Documents bool
	Standing  *standing
	Invoices  []documentRow
	Payments  []documentRow
	Waiting   []string
	// Next is the cursor of the next page of documents (0: none); Paged
	// says this is not the first page.
	Next  int64
	Paged bool
}

// standing is the buyer's credit standing, as Billing shows it.
type standing struct {
	Status      string
	StatusClass string
	Balance     string
	Prepaid     string
	Open        string
	Overdue     string
	CreditLimit string
	Available   string
}

// documentRow is a billing document as a list shows it.
type documentRow struct {
	ID          int64
	Number      string
	Type        string
	Status      string
	StatusClass string
	IssuedOn    string
	DueOn       string
	Total       string
	// Due is what an open invoice still asks for.
	Due    string
	Method string
}

// billing shows the signed-in customer's billing, its documents a page at
// a time (?before= is the cursor: the last id of the previous page).
// Every read goes through the store's authorization (view billing
// documents, view orders).
func (w *Web) billing(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	if acct.ParentID == 0 {
		// The provider buys from nobody.
		w.renderNotFound(rw, r, u)
		return
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		var err error
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			w.renderNotFound(rw, r, u)
			return
		}
	}
	ctx := r.Context()
	l := localeFor(r, u)
	d := billingData{Prices: actor.ShowsPrices(), Documents: may(actor, account.ViewDocuments), Paged: before != 0}
	if d.Documents {
		c, err := w.cfg.DB.Credit(ctx, actor, acct.ID)
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		d.Standing = &standing{Status: l.T("account.status." + string(c.Status)), StatusClass: standingClass[c.Status]}
		if d.Prices {
			m := func(v money.Micros) string { return l.Money(v, c.Currency) }
			d.Standing.Balance, d.Standing.Prepaid, d.Standing.Open = m(c.Balance), m(c.PrepaidFunds), m(c.Open)
			d.Standing.Overdue, d.Standing.CreditLimit, d.Standing.Available = m(c.Overdue), m(c.CreditLimit), m(c.Available)
		}
		// One page of the ledger, newest first, every kind of document:
		// payments in their own table, the rest (invoices, credit memos,
		// refunds, adjustments) in the other.
		docs, err := w.cfg.DB.Documents(ctx, actor, store.DocumentFilter{AccountID: acct.ID, BeforeID: before, Limit: billingDocuments + 1})
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		if len(docs) > billingDocuments {
			docs = docs[:billingDocuments]
			d.Next = docs[len(docs)-1].ID
		}
		for _, doc := range docs {
			row := documentRowOf(l, doc, d.Prices)
			if doc.Type == store.DocPayment {
				d.Payments = append(d.Payments, row)
			} else {
				d.Invoices = append(d.Invoices, row)
			}
		}
	}
	if may(actor, account.ViewOrders) {
		var err error
		if d.Waiting, err = w.waitingForPayment(r, actor, l, acct.ID); err != nil {
			w.fail(rw, r, u, err)
			return
		}
	}
	w.render(rw, r, http.StatusOK, "billing.html", page{L: l, User: u, Account: acct, Title: l.T("billing.title"), Nav: "billing", Data: d})
}

// standingClass is the badge each account status wears (panel.css's
// status-* classes).
var standingClass = map[account.Status]string{account.StatusPending: "pending", account.StatusActive: "active",
	account.StatusCreditHold: "suspended", account.StatusAdminHold: "suspended", account.StatusCancelled: "terminated"}

// documentRowOf is doc in the reader's language; amounts only when the
// reader may see prices.
func documentRowOf(l *locale, doc *store.Document, prices bool) documentRow {
	row := documentRow{ID: doc.ID, Number: doc.Number, Type: l.T("doc.type." + string(doc.Type)),
		IssuedOn: l.Date(doc.IssuedOn), DueOn: l.Date(doc.DueOn), Method: doc.Method}
	if doc.Status != store.DocNA {
		row.Status, row.StatusClass = l.T("doc.status."+string(doc.Status)), string(doc.Status)
	}
	if prices {
		// A payment or credit memo lowers what the buyer owes: its total
		// is negative in the ledger, but the reader knows it as the
		// amount paid or credited.
		total := doc.Total
		if total < 0 {
			total = -total
		}
		row.Total = l.Money(total, doc.Currency)
		if doc.Status == store.DocOpen {
			row.Due = l.Money(doc.Total-doc.Applied, doc.Currency)
		}
	}
	return row
}

// documentPDF sends a billing document as PDF, the same document the API
// gives: invoice.PDF in the buyer's language. A reader without "show
// prices", or one the document is out of reach of, gets the 404 page.
func (w *Web) documentPDF(rw http.ResponseWriter, r *http.Request) {
	actor, u, _, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || !actor.ShowsPrices() {
		w.renderNotFound(rw, r, u)
		return
	}
	ctx := r.Context()
	doc, err := w.cfg.DB.Document(ctx, actor, id)
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	// The parties are read as the system, as the API does: whoever may
	// read a document reads the names and addresses printed on it,
	// though a customer may not read its vendor's account.
	sys := account.SystemActor()
	vendor, err := w.cfg.DB.Account(ctx, sys, doc.VendorID)
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	buyer, err := w.cfg.DB.Account(ctx, sys, doc.AccountID)
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	var b bytes.Buffer
	if err := invoice.PDF(&b, doc, vendor, buyer); err != nil {
		w.fail(rw, r, u, err)
		return
	}
	rw.Header().Set("Content-Type", "application/pdf")
	rw.Header().Set("Content-Disposition", `attachment; filename="`+doc.Number+`.pdf"`)
	rw.Header().Set("Cache-Control", "private, no-store")
	rw.Write(b.Bytes())
}
