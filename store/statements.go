package store

// Consolidated invoices: a seller whose Selling.Invoicing is "statement"
// does not invoice each order and renewal at once; their charges wait in
// unbilled_charges until the seller's statement day, when the billing
// run gathers each buyer's charges, oldest first, into one invoice (or
// credit memo, when credits outweigh charges) due after the buyer's net
// days.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// issueOrDefer issues doc from seller, or, when seller invoices on a
// statement day, keeps its lines for the statement; it reports whether
// doc was issued.
func (db *DB) issueOrDefer(ctx context.Context, tx *sql.Tx, seller *account.Account, doc *Document, now time.Time) (bool, error) {
	if seller.Selling.Invoicing != account.InvoiceOnStatement {
		return true, db.issueDocument(ctx, tx, doc, now)
	}
	lines, err := json.Marshal(doc.Lines)
	if err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO unbilled_charges (vendor_id, account_id, currency, subscription_id, order_id, day, lines, total,
		reverse_charge, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		doc.VendorID, doc.AccountID, doc.Currency, nullID(doc.SubscriptionID), nullID(doc.OrderID), tv(doc.IssuedOn), string(lines),
		int64(doc.Total), doc.ReverseCharge, tv(now))
	if err != nil {
		return false, fmt.Errorf("charges for the statement of account %d: %w", doc.AccountID, err)
	}
	return false, nil
}

// unbilled is what buyer's waiting charges from vendor sum to.
func unbilled(ctx context.Context, q querier, buyerID, vendorID int64) (money.Micros, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM unbilled_charges WHERE account_id = $1 AND vendor_id = $2`,
		buyerID, vendorID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unbilled charges of account %d: %w", buyerID, err)
	}
	return money.Micros(n), nil
}

// statements is the statement stage: buyers of sellers whose statement
// day it is get their waiting charges in one invoice.
func (r *billRun) statements(ctx context.Context, res *BillRunResult) error {
	return r.pairs(ctx, `SELECT u.account_id, MIN(u.vendor_id) FROM unbilled_charges u
		WHERE u.day <= $1 AND u.account_id > $2{scope} GROUP BY u.account_id ORDER BY u.account_id LIMIT $3`,
		"u.vendor_id", "u.account_id", tv(r.day), func(p pair) error {
			return r.statement(ctx, p, res)
		}, res)
}

func (r *billRun) statement(ctx context.Context, p pair, res *BillRunResult) error {
	db := r.db
	var doc *Document
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		doc = nil
		seller, err := r.seller(ctx, tx, p.vendor)
		if err != nil {
			return err
		}
		if seller.Selling.Invoicing == account.InvoiceOnStatement && !seller.Selling.IsStatementDay(r.day) {
			return nil
		}
		buyer, err := loadAccount(ctx, tx, p.buyer)
		if err != nil {
			return err
		}
		type row struct {
			id       int64
			currency string
			lines    string
			reverse  bool
		}
		rows, err := queryAll(ctx, tx, func(s scanner) (row, error) {
			var x row
			return x, s.Scan(&x.id, &x.currency, &x.lines, &x.reverse)
		}, `SELECT id, currency, lines, reverse_charge FROM unbilled_charges u WHERE account_id = $1 AND vendor_id = $2 AND day <= $3
			ORDER BY id`+db.lockRows("u"), p.buyer, p.vendor, tv(r.day))
		if err != nil {
			return fmt.Errorf("charges of account %d: %w", p.buyer, err)
		}
		if len(rows) == 0 {
			return nil
		}
		q := &order.Quote{Currency: rows[0].currency}
		for _, x := range rows {
			var lines []order.Line
			if err := json.Unmarshal([]byte(x.lines), &lines); err != nil {
				return fmt.Errorf("charge %d: %w", x.id, err)
			}
			for _, l := range lines {
				q.Lines = append(q.Lines, l)
				q.Total += l.Amount
			}
			q.ReverseCharge = q.ReverseCharge || x.reverse
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM unbilled_charges WHERE account_id = $1 AND vendor_id = $2 AND day <= $3 AND id <= $4`,
			p.buyer, p.vendor, tv(r.day), rows[len(rows)-1].id); err != nil {
			return fmt.Errorf("charges of account %d: %w", p.buyer, err)
		}
		if zeroLines(q) {
			return nil
		}
		d, err := documentFor(ctx, tx, seller, buyer, 0, q, r.day, nil)
		if err != nil {
			return err
		}
		if err := db.issueDocument(ctx, tx, d, db.stamp()); err != nil {
			return fmt.Errorf("statement of account %d: %w", p.buyer, err)
		}
		doc = d
		if d.Type == DocInvoice && d.ChargeOn.After(r.day) {
			return nil
		}
		_, err = db.applyCredits(ctx, tx, p.buyer, p.vendor, r.day, false)
		return err
	})
	if err == nil && doc != nil {
		res.Invoices++
		res.Totals[doc.Currency] += doc.Total
	}
	return err
}
