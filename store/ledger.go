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
	// Applied is how much of the document has been matched against others
	// (a positive amount): of an invoice, what payments and credits
	// covered; of a payment or credit memo, what it has covered. The
	// unapplied rest of payments is the buyer's prepaid funds.
	Applied money.Micros
	// ChargeOn is, for an invoice, the first day an automatic charge may
	// take prepaid funds for it (its issue day, or later under a delayed
	// payment schedule); zero for other documents.
	ChargeOn time.Time
	// SubscriptionID is the subscription an invoice or credit memo bills,
	// 0 for none.
	SubscriptionID int64
	// Purpose of a payment: PurposeTopUp for prepaid funds taken by
	// automatic charges, "" for a payment of open invoices.
	Purpose string
	// GatewayRef of a payment charged through a card gateway is the
	// gateway's own id of the charge (Payment.GatewayRef); "" otherwise.
	// No two documents share one.
	GatewayRef string
}

// PurposeTopUp marks a payment made as prepaid funds (a top-up): automatic
// charges take it as invoices fall due, rather than it settling every open
// invoice at once.
const PurposeTopUp = "topup"

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
	case d.Type == DocInvoice && d.Total < 0, d.Type == DocRefund && d.Total <= 0,
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
		// An invoice is charged from prepaid funds when its day comes, and
		// a credit can complete what payments left open.
		if _, err := db.applyCredits(ctx, tx, d.AccountID, d.VendorID, d.IssuedOn, false); err != nil {
			return err
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
	// One currency between a buyer and its vendor keeps every balance a
	// sum of like amounts: the currency of their first document, which is
	// the vendor's plans' (a reseller selling in EUR may buy in USD from
	// a provider selling in USD). Before any document, a payment is in
	// the buyer's own currency. One round trip reads both.
	var parent int64
	var currency string
	var dealt sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(a.parent_id, 0), a.currency,
		(SELECT d.currency FROM documents d WHERE d.account_id = a.id AND d.vendor_id = $2 ORDER BY d.account_id, d.vendor_id, d.id LIMIT 1)
		FROM accounts a WHERE a.id = $1`, d.AccountID, d.VendorID).Scan(&parent, &currency, &dealt)
	if err != nil {
		return notFound(err, "account")
	}
	if parent != d.VendorID || parent == 0 {
		return marketplane.Errorf(marketplane.EINVALID, "account %d is not a buyer of vendor %d", d.AccountID, d.VendorID)
	}
	if dealt.Valid {
		currency = dealt.String
	}
	if currency != d.Currency && (dealt.Valid || d.Type == DocPayment) {
		return marketplane.Errorf(marketplane.EINVALID, "a document in %s between a buyer and a vendor that deal in %s", d.Currency, currency)
	}
	var n int64
	err = tx.QueryRowContext(ctx, `INSERT INTO document_counters (vendor_id, type, next) VALUES ($1, $2, 2)
		ON CONFLICT (vendor_id, type) DO UPDATE SET next = document_counters.next + 1 RETURNING next - 1`,
		d.VendorID, string(d.Type)).Scan(&n)
	if err != nil {
		return fmt.Errorf("document number: %w", err)
	}
	d.Number = fmt.Sprintf("%s-%06d", numberPrefix[d.Type], n)
	body, err := d.prepare(now)
	if err != nil {
		return err
	}
	var ref any // NULL: only charges through a gateway have one
	if d.GatewayRef != "" {
		ref = d.GatewayRef
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO documents (vendor_id, account_id, type, number, status, currency, total,
		issued_on, due_on, order_id, body, reverse_charge, created_at, charge_on, subscription_id, purpose, gateway_ref)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		d.VendorID, d.AccountID, string(d.Type), d.Number, string(d.Status), d.Currency, int64(d.Total),
		tv(d.IssuedOn), tv(d.DueOn), nullID(d.OrderID), body, d.ReverseCharge, tv(now),
		tv(d.ChargeOn), nullID(d.SubscriptionID), d.Purpose, ref).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("insert document %s: %w", d.Number, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ledger_entries (document_id, account_id, vendor_id, side, amount, created_at)
		VALUES ($1, $2, $3, 'buyer', $4, $6), ($1, $3, $3, 'vendor', $5, $6)`,
		d.ID, d.AccountID, d.VendorID, int64(d.Total), -int64(d.Total), tv(now))
	if err != nil {
		return fmt.Errorf("post document %s: %w", d.Number, err)
	}
	return db.emitInvoices(ctx, tx, d)
}

// prepare sets what issuing gives a numbered document (status, charge
// day, creation time) and returns its body.
func (d *Document) prepare(now time.Time) (string, error) {
	d.Status = DocNA
	d.Applied = 0
	if d.Type == DocInvoice {
		d.Status = DocOpen
		if d.Total == 0 {
			// A change whose credit and charge cancel out owes nothing.
			d.Status = DocPaid
		}
		if d.ChargeOn.IsZero() {
			d.ChargeOn = d.IssuedOn
		}
	} else {
		d.ChargeOn = time.Time{}
	}
	body, err := json.Marshal(documentBody{Lines: d.Lines, Method: d.Method})
	if err != nil {
		return "", fmt.Errorf("document %s: %w", d.Number, err)
	}
	d.CreatedAt = now
	return string(body), nil
}

// applyCredits matches the buyer's unapplied credits (payments and credit
// memos, oldest first) against its open invoices (oldest first) and marks
// each invoice covered in full paid. With all, every open invoice is
// taken (a payment of invoices); without, only those whose charge day has
// come by day (an automatic charge under the buyer's payment schedule). A
// credit may cover part of an invoice: the invoice stays open for the
// rest, and a later invoice is never covered before an earlier one. It
// returns the amount applied.
func (db *DB) applyCredits(ctx context.Context, tx *sql.Tx, buyerID, vendorID int64, day time.Time, all bool) (money.Micros, error) {
	type open struct {
		id   int64
		rest money.Micros
		full money.Micros
	}
	read := func(q string, args ...any) ([]open, error) {
		rows, err := tx.QueryContext(ctx, q+db.lockRows("d"), args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []open
		for rows.Next() {
			var o open
			if err := rows.Scan(&o.id, &o.rest, &o.full); err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		return out, rows.Err()
	}
	credits, err := read(`SELECT d.id, -d.total - d.applied, -d.total FROM documents d
		WHERE d.account_id = $1 AND d.vendor_id = $2 AND d.type IN ('payment', 'credit_memo') AND d.applied < -d.total
		ORDER BY d.issued_on, d.id`, buyerID, vendorID)
	if err != nil {
		return 0, fmt.Errorf("credits of account %d: %w", buyerID, err)
	}
	if len(credits) == 0 {
		return 0, nil
	}
	q := `SELECT d.id, d.total - d.applied, d.total FROM documents d
		WHERE d.account_id = $1 AND d.vendor_id = $2 AND d.type = 'invoice' AND d.status = 'open'`
	args := []any{buyerID, vendorID}
	if !all {
		q += ` AND d.charge_on <= $3`
		args = append(args, tv(day))
	}
	invoices, err := read(q+` ORDER BY d.issued_on, d.id`, args...)
	if err != nil {
		return 0, fmt.Errorf("open invoices of account %d: %w", buyerID, err)
	}
	var total money.Micros
	ci := 0
	for _, inv := range invoices {
		if ci == len(credits) {
			break
		}
		for inv.rest > 0 && ci < len(credits) {
			c := &credits[ci]
			n := min(inv.rest, c.rest)
			inv.rest -= n
			c.rest -= n
			total += n
			if _, err := tx.ExecContext(ctx, `UPDATE documents SET applied = applied + $1 WHERE id = $2`, int64(n), c.id); err != nil {
				return 0, fmt.Errorf("apply credit %d: %w", c.id, err)
			}
			if c.rest == 0 {
				ci++
			}
		}
		status := DocOpen
		if inv.rest == 0 {
			status = DocPaid
		}
		if _, err := tx.ExecContext(ctx, `UPDATE documents SET applied = $1, status = $2 WHERE id = $3`,
			int64(inv.full-inv.rest), string(status), inv.id); err != nil {
			return 0, fmt.Errorf("apply to invoice %d: %w", inv.id, err)
		}
	}
	return total, nil
}

// RecordPayment records a payment of amount received from the buyer by
// method that pays its open invoices, oldest first: ReceivePayment
// without hooks (a hold the payment clears is released, the
// subscriptions it suspended resumed, without queueing their tasks).
func (db *DB) RecordPayment(ctx context.Context, actor *account.Actor, accountID int64, amount money.Micros, method string) (*Document, error) {
	return db.ReceivePayment(ctx, actor, Payment{AccountID: accountID, Amount: amount, Method: method}, nil)
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
	d.issued_on, d.due_on, COALESCE(d.order_id, 0), d.body, d.reverse_charge, d.created_at,
	d.applied, d.charge_on, COALESCE(d.subscription_id, 0), d.purpose, COALESCE(d.gateway_ref, '')`

func scanDocument(r scanner, extra ...any) (*Document, error) {
	d := &Document{}
	var body string
	var total, applied int64
	dest := append([]any{&d.ID, &d.VendorID, &d.AccountID, &d.Type, &d.Number, &d.Status, &d.Currency, &total,
		ts(&d.IssuedOn), ts(&d.DueOn), &d.OrderID, &body, &d.ReverseCharge, ts(&d.CreatedAt),
		&applied, ts(&d.ChargeOn), &d.SubscriptionID, &d.Purpose, &d.GatewayRef}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.Total, d.Applied = money.Micros(total), money.Micros(applied)
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
