package store

// The ledger: billing documents (invoices, credit memos, payments, refunds,
// adjustments) that a vendor issues to a buyer — its child account — and
// the double-entry ledger they post to. Every document posts one pair of
// equal and opposite entries: the buyer's side (account_id = the buyer,
// amount = the document's total) and the vendor's receivable side
// (account_id = the vendor, amount = −total). What a buyer owes its vendor
// is the sum of its buyer-side entries, never a stored number that can
// drift.
//
// Signs: a document's total is its effect on what the buyer owes, so the
// sum of its lines is its total and its buyer-side entry at once:
// invoices and refunds are positive, credit memos and payments negative,
// adjustments either way.
//
// Numbers are gapless per vendor and type (INV-000001, CM-000001 …), taken
// from document_counters inside the issuing transaction like order
// numbers: a document that is refused or rolled back uses no number.
//
// Who may do what: documents are authorized on the buyer's account like
// orders (account.ViewDocuments): the buyer sees its own, its vendor and
// the vendor's ancestors with reach see them, anyone else gets ENOTFOUND.
// Issuing and recording payments is account.ManageDocuments on the buyer.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// DocumentType is the kind of a billing document.
type DocumentType string

// Document types.
const (
	DocInvoice    DocumentType = "invoice"
	DocCreditMemo DocumentType = "credit_memo"
	DocPayment    DocumentType = "payment"
	DocRefund     DocumentType = "refund"
	DocAdjustment DocumentType = "adjustment"
)

// numberPrefix is the prefix of each type's number series.
var numberPrefix = map[DocumentType]string{
	DocInvoice:    "INV",
	DocCreditMemo: "CM",
	DocPayment:    "PAY",
	DocRefund:     "RF",
	DocAdjustment: "ADJ",
}

// DocumentStatus is where an invoice stands; documents of other types have
// no status of their own (DocNA).
type DocumentStatus string

// Document statuses.
const (
	DocOpen DocumentStatus = "open" // an invoice not yet fully covered by payments and credits
	DocPaid DocumentStatus = "paid" // an invoice fully covered (payments apply oldest first)
	DocVoid DocumentStatus = "void"
	DocNA   DocumentStatus = "n/a" // every document that is not an invoice
)

// PaymentLine is the kind of the one line of a payment document; the order
// package's kinds are what orders charge, a payment charges nothing.
const PaymentLine order.Kind = "payment"

// Document is a billing document and its lines.
type Document struct {
	ID        int64
	VendorID  int64 // who issues it: the buyer's parent
	AccountID int64 // the buyer
	Type      DocumentType
	Number    string // "INV-000001", set when issued
	Status    DocumentStatus
	Currency  string
	// Total is the sum of Lines, signed as the document's effect on what
	// the buyer owes (see the file comment).
	Total         money.Micros
	IssuedOn      time.Time // midnight UTC of the vendor's day
	DueOn         time.Time // zero when not due on a day
	OrderID       int64     // the order it bills, 0 for none
	Lines         []order.Line
	Method        string // payments: how the money came ("bank transfer")
	ReverseCharge bool
	CreatedAt     time.Time
}

// documentBody is the JSON of the body column.
type documentBody struct {
	Lines  []order.Line `json:"lines"`
	Method string       `json:"method,omitempty"`
}

// DocumentFromQuote is the document of type typ for the lines, total,
// currency and reverse charge of q, from vendor to buyer; the caller sets
// the days and the order.
func DocumentFromQuote(typ DocumentType, vendorID, buyerID int64, q *order.Quote) *Document {
	return &Document{Type: typ, VendorID: vendorID, AccountID: buyerID, Currency: q.Currency,
		Total: q.Total, Lines: append([]order.Line(nil), q.Lines...), ReverseCharge: q.ReverseCharge}
}

// check validates d before it is issued: a known type, a currency, lines
// rounded to the currency's minor unit that sum to the total, with the sign
// of the type. A document whose lines are all zero is refused with
// ECONFLICT "nothing to issue" (golden rule 8).
func (d *Document) check() error {
	var f marketplane.FieldErrors
	if _, ok := numberPrefix[d.Type]; !ok {
		f.Add("type", fmt.Sprintf("unknown document type %q", d.Type))
	}
	if _, ok := money.MinorUnits(d.Currency); !ok {
		f.Add("currency", fmt.Sprintf("unknown currency %q", d.Currency))
	}
	if d.IssuedOn.IsZero() {
		f.Add("issued_on", "required")
	}
	if err := f.Err("document"); err != nil {
		return err
	}
	var sum money.Micros
	zero := true
	for i, l := range d.Lines {
		if l.Amount.Round(d.Currency) != l.Amount {
			f.Add(fmt.Sprintf("lines[%d].amount", i), fmt.Sprintf("%s is not rounded to %s's minor unit", l.Amount, d.Currency))
		}
		sum += l.Amount
		zero = zero && l.Amount == 0
	}
	if zero {
		return marketplane.Errorf(marketplane.ECONFLICT, "nothing to issue")
	}
	if sum != d.Total {
		f.Add("total", fmt.Sprintf("the lines sum to %s, not %s", sum, d.Total))
	}
	switch {
	case (d.Type == DocInvoice || d.Type == DocRefund) && d.Total <= 0,
		(d.Type == DocCreditMemo || d.Type == DocPayment) && d.Total >= 0:
		f.Add("total", fmt.Sprintf("a %s of %s: wrong sign", d.Type, d.Total))
	}
	return f.Err("document")
}

// IssueDocument numbers and stores d and posts its ledger entries, in one
// transaction; it fills ID, Number, Status and CreatedAt. The actor needs
// account.ManageDocuments on the buyer. Errors: ENOTFOUND (the buyer is
// out of reach or missing), EFORBIDDEN, ECONFLICT ("nothing to issue": all
// lines zero), EINVALID (type, currency, lines that do not sum to the
// total, a vendor that is not the buyer's parent, a currency other than
// the buyer's).
func (db *DB) IssueDocument(ctx context.Context, actor *account.Actor, d *Document) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageDocuments, d.AccountID)
		if err != nil {
			return err
		}
		now := db.Clock.Now()
		if err := db.issueDocument(ctx, tx, d, now); err != nil {
			return err
		}
		if d.Type == DocCreditMemo {
			// A credit can complete what payments left open.
			if err := db.settleInvoices(ctx, tx, d.AccountID, d.VendorID); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, actor, d.AccountID, t.Path, "issue "+string(d.Type), "document", d.ID,
			map[string]any{"number": d.Number, "total": d.Total.String(), "currency": d.Currency})
	})
}

// issueDocument is IssueDocument inside tx, without authorization, for
// callers that compose it with other writes (the billing run, order
// completion).
func (db *DB) issueDocument(ctx context.Context, tx *sql.Tx, d *Document, now time.Time) error {
	if err := d.check(); err != nil {
		return err
	}
	var parent int64
	var currency string
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(parent_id, 0), currency FROM accounts WHERE id = $1`, d.AccountID).
		Scan(&parent, &currency)
	if err != nil {
		return notFound(err, "account")
	}
	if parent != d.VendorID || parent == 0 {
		return marketplane.Errorf(marketplane.EINVALID, "account %d is not a buyer of vendor %d", d.AccountID, d.VendorID)
	}
	if currency != d.Currency {
		// One currency per buyer keeps every balance a sum of like amounts.
		return marketplane.Errorf(marketplane.EINVALID, "a document in %s to an account billed in %s", d.Currency, currency)
	}
	var n int64
	err = tx.QueryRowContext(ctx, `INSERT INTO document_counters (vendor_id, type, next) VALUES ($1, $2, 2)
		ON CONFLICT (vendor_id, type) DO UPDATE SET next = document_counters.next + 1 RETURNING next - 1`,
		d.VendorID, string(d.Type)).Scan(&n)
	if err != nil {
		return fmt.Errorf("document number: %w", err)
	}
	d.Number = fmt.Sprintf("%s-%06d", numberPrefix[d.Type], n)
	d.Status = DocNA
	if d.Type == DocInvoice {
		d.Status = DocOpen
	}
	body, err := json.Marshal(documentBody{Lines: d.Lines, Method: d.Method})
	if err != nil {
		return fmt.Errorf("document %s: %w", d.Number, err)
	}
	d.CreatedAt = now
	err = tx.QueryRowContext(ctx, `INSERT INTO documents (vendor_id, account_id, type, number, status, currency, total,
		issued_on, due_on, order_id, body, reverse_charge, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		d.VendorID, d.AccountID, string(d.Type), d.Number, string(d.Status), d.Currency, int64(d.Total),
		tv(d.IssuedOn), tv(d.DueOn), nullID(d.OrderID), string(body), d.ReverseCharge, tv(now)).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("insert document %s: %w", d.Number, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ledger_entries (document_id, account_id, vendor_id, side, amount, created_at)
		VALUES ($1, $2, $3, 'buyer', $4, $6), ($1, $3, $3, 'vendor', $5, $6)`,
		d.ID, d.AccountID, d.VendorID, int64(d.Total), -int64(d.Total), tv(now))
	if err != nil {
		return fmt.Errorf("post document %s: %w", d.Number, err)
	}
	return nil
}

// settleInvoices marks the buyer's open invoices paid, oldest first, as
// far as the ledger covers them: of the open invoices' sum, all but what
// the buyer still owes (its balance, when positive) has been paid or
// credited. An invoice is paid only when covered in full, and a later one
// never before an earlier one (FIFO). Working from the balance instead of
// one payment's amount counts credit memos and earlier overpayments too.
func (db *DB) settleInvoices(ctx context.Context, tx *sql.Tx, buyerID, vendorID int64) error {
	owed, err := balance(ctx, tx, buyerID, vendorID)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.total FROM documents d
		WHERE d.account_id = $1 AND d.vendor_id = $2 AND d.type = 'invoice' AND d.status = 'open'
		ORDER BY d.issued_on, d.id`+db.lockRows("d"), buyerID, vendorID)
	if err != nil {
		return fmt.Errorf("open invoices: %w", err)
	}
	type open struct {
		id    int64
		total money.Micros
	}
	var invoices []open
	var sum money.Micros
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.total); err != nil {
			rows.Close()
			return fmt.Errorf("open invoices: %w", err)
		}
		invoices = append(invoices, o)
		sum += o.total
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open invoices: %w", err)
	}
	covered := sum - max(owed, 0)
	for _, o := range invoices {
		if o.total > covered {
			break
		}
		covered -= o.total
		if _, err := tx.ExecContext(ctx, `UPDATE documents SET status = 'paid' WHERE id = $1`, o.id); err != nil {
			return fmt.Errorf("invoice %d paid: %w", o.id, err)
		}
	}
	return nil
}

// RecordPayment records a payment of amount (positive, in the buyer's
// currency) received from the buyer by method, as a payment document from
// the buyer's vendor dated the vendor's today, and marks the invoices it
// covers paid (settleInvoices). It is the vendor's staff's: the actor needs
// account.ManageDocuments on the buyer from an account above it. Errors:
// ENOTFOUND, EFORBIDDEN, EINVALID (an amount that is not positive or not
// rounded to the currency's minor unit, no method).
func (db *DB) RecordPayment(ctx context.Context, actor *account.Actor, accountID int64, amount money.Micros, method string) (*Document, error) {
	var d *Document
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageDocuments, accountID)
		if err != nil {
			return err
		}
		if err := staffOnly(actor, t.Path, "record payments"); err != nil {
			return err
		}
		buyer, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, accountID))
		if err != nil {
			return notFound(err, "account")
		}
		var f marketplane.FieldErrors
		if amount <= 0 || amount.Round(buyer.Currency) != amount {
			f.Add("amount", fmt.Sprintf("%s is not a positive amount in %s", amount, buyer.Currency))
		}
		if method == "" {
			f.Add("method", "required")
		}
		if err := f.Err("payment"); err != nil {
			return err
		}
		vendor, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, buyer.ParentID))
		if err != nil {
			return notFound(err, "vendor")
		}
		now := db.Clock.Now()
		d = &Document{Type: DocPayment, VendorID: vendor.ID, AccountID: buyer.ID, Currency: buyer.Currency,
			Total: -amount, IssuedOn: order.Day(now, db.vendorTerms(vendor, nil).Location), Method: method,
			Lines: []order.Line{{What: PaymentLine, Amount: -amount, Description: "Payment by " + method}}}
		if err := db.issueDocument(ctx, tx, d, now); err != nil {
			return err
		}
		if err := db.settleInvoices(ctx, tx, buyer.ID, vendor.ID); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, buyer.ID, t.Path, "record payment", "document", d.ID,
			map[string]any{"number": d.Number, "amount": amount.String(), "method": method})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Balance is what account owes vendor: the sum of its ledger entries
// towards that vendor (negative: the vendor owes the account, a credit).
// The actor needs account.ViewDocuments on the account. Errors: ENOTFOUND,
// EFORBIDDEN.
func (db *DB) Balance(ctx context.Context, actor *account.Actor, accountID, vendorID int64) (money.Micros, error) {
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewDocuments, accountID); err != nil {
		return 0, err
	}
	return balance(ctx, db.Read, accountID, vendorID)
}

func balance(ctx context.Context, q querier, accountID, vendorID int64) (money.Micros, error) {
	var b int64
	// SUM of BIGINT is numeric on PostgreSQL: cast it back to an integer.
	err := q.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_entries
		WHERE account_id = $1 AND vendor_id = $2 AND side = 'buyer'`, accountID, vendorID).Scan(&b)
	if err != nil {
		return 0, fmt.Errorf("balance of account %d: %w", accountID, err)
	}
	return money.Micros(b), nil
}

// ----- reading documents -----

const documentColumns = `d.id, d.vendor_id, d.account_id, d.type, d.number, d.status, d.currency, d.total,
	d.issued_on, d.due_on, COALESCE(d.order_id, 0), d.body, d.reverse_charge, d.created_at`

func scanDocument(r scanner, extra ...any) (*Document, error) {
	d := &Document{}
	var body string
	var total int64
	dest := append([]any{&d.ID, &d.VendorID, &d.AccountID, &d.Type, &d.Number, &d.Status, &d.Currency, &total,
		ts(&d.IssuedOn), ts(&d.DueOn), &d.OrderID, &body, &d.ReverseCharge, ts(&d.CreatedAt)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.Total = money.Micros(total)
	var b documentBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, fmt.Errorf("document %d body: %w", d.ID, err)
	}
	d.Lines, d.Method = b.Lines, b.Method
	return d, nil
}

// Document returns document id if the actor may view the buyer's
// documents (ENOTFOUND otherwise).
func (db *DB) Document(ctx context.Context, actor *account.Actor, id int64) (*Document, error) {
	var path string
	d, err := scanDocument(db.Read.QueryRowContext(ctx, `SELECT `+documentColumns+`, a.path FROM documents d
		JOIN accounts a ON a.id = d.account_id WHERE d.id = $1`, id), &path)
	if err != nil {
		return nil, notFound(err, "document")
	}
	if err := account.Authorize(actor, account.ViewDocuments, account.Target{AccountID: d.AccountID, Path: path}); err != nil {
		return nil, hideAs(err, "document")
	}
	return d, nil
}

// DocumentFilter selects documents. With AccountID the actor needs to view
// that buyer's documents; with VendorID (and no account) the vendor's (its
// sales); with neither, the list is the documents of the buyers in the
// actor's reach. Pages are newest first.
type DocumentFilter struct {
	AccountID int64
	VendorID  int64
	Type      DocumentType
	// BeforeID is the cursor: the id of the last document of the previous
	// page.
	BeforeID int64
	Limit    int
}

// Documents lists documents.
func (db *DB) Documents(ctx context.Context, actor *account.Actor, f DocumentFilter) ([]*Document, error) {
	sc, err := db.listScope(ctx, actor, account.ViewDocuments, "d", f.AccountID, f.VendorID)
	if err != nil {
		return nil, err
	}
	if f.Type != "" {
		sc.where("d.type", string(f.Type))
	}
	if f.BeforeID != 0 {
		sc.args = append(sc.args, f.BeforeID)
		sc.conds = append(sc.conds, fmt.Sprintf("d.id < $%d", len(sc.args)))
	}
	// listScope speaks of orders' customer_id: the buyer is its name here,
	// so that the reach rules stay in one place. Both engines flatten this
	// subquery into the plain table.
	q := `SELECT ` + documentColumns + ` FROM (SELECT documents.*, account_id AS customer_id FROM documents) d` +
		sc.sql("d", clampLimit(f.Limit))
	rows, err := db.Read.QueryContext(ctx, q, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	out := []*Document{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("documents: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
