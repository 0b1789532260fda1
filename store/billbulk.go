package store

// The renewals stage's writes, a chunk at a time. Billing a subscription
// by itself costs some twenty round trips (its RN order, its number, each
// tier's document, its number, its ledger entries …); at a million
// subscriptions the round trips, not the work, would set the pace. So the
// stage reads a chunk's subscriptions, buyers and terms in one query
// each, prices every subscription in Go, and writes the chunk's orders,
// documents and ledger entries with one multi-row statement each, their
// numbers taken for the whole chunk by one upsert per counter table. The
// numbers come out as one by one would give them: in the chunk's order,
// without gaps. This is the renewals' only writer: a chunk that fails is
// rolled back and billed again as chunks of one subscription (billMany),
// so the one that cannot be billed is isolated by the same writes.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/subscription"
)

// chunkWriter collects a chunk's writes until flush.
type chunkWriter struct {
	orders []*Order
	docs   []pendingDoc
	// charge are the (buyer, vendor) pairs whose invoices may be paid
	// from prepaid funds on the day.
	charge map[[2]int64]time.Time
	// Read ahead for the chunk.
	subs   map[int64]*subscription.Subscription
	buyers map[int64]*account.Account
	terms  map[int64]*account.Terms // customers' own terms ("{}": none)
}

// pendingDoc is a document waiting for its order's id.
type pendingDoc struct {
	doc    *Document
	order  *Order
	seller *account.Account
}

// readAhead loads the chunk's subscriptions (locked on PostgreSQL),
// customers and customers' own terms.
func (r *billRun) readAhead(ctx context.Context, tx *sql.Tx, ids []int64) (*chunkWriter, error) {
	db := r.db
	w := &chunkWriter{charge: map[[2]int64]time.Time{}, subs: map[int64]*subscription.Subscription{},
		buyers: map[int64]*account.Account{}, terms: map[int64]*account.Terms{}}
	rows, err := tx.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s WHERE `+db.anyID("s.id", 1)+
		` ORDER BY s.id`+db.lockRows("s"), db.idsArg(ids))
	if err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	subs, err := scanSubscriptions(rows)
	if err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	var customers []int64
	for _, s := range subs {
		w.subs[s.ID] = s
		customers = append(customers, s.CustomerID)
	}
	if len(customers) == 0 {
		return w, nil
	}
	arows, err := tx.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE `+db.anyID("id", 1), db.idsArg(sortedIDs(customers)))
	if err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	for arows.Next() {
		a, err := scanAccount(arows)
		if err != nil {
			arows.Close()
			return nil, fmt.Errorf("renewals: %w", err)
		}
		w.buyers[a.ID] = a
	}
	arows.Close()
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	type termsRow struct {
		id    int64
		terms string
	}
	trows, err := queryAll(ctx, tx, func(s scanner) (termsRow, error) {
		var t termsRow
		return t, s.Scan(&t.id, &t.terms)
	}, `SELECT account_id, terms FROM credit_control WHERE `+db.anyID("account_id", 1), db.idsArg(customers))
	if err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	for _, t := range trows {
		var own account.Terms
		if err := json.Unmarshal([]byte(t.terms), &own); err != nil {
			return nil, fmt.Errorf("terms of account %d: %w", t.id, err)
		}
		w.terms[t.id] = &own
	}
	return w, nil
}

// customerTerms are the terms seller gives customer buyer: its own, else
// those of its class.
func (w *chunkWriter) customerTerms(buyer, seller *account.Account) *account.Terms {
	if t, ok := w.terms[buyer.ID]; ok && *t != (account.Terms{}) {
		return t
	}
	t := seller.Selling.TermsFor(buyer)
	return &t
}

// flush writes what the chunk collected.
func (w *chunkWriter) flush(ctx context.Context, db *DB, tx *sql.Tx, now time.Time) error {
	if err := w.insertOrders(ctx, db, tx, now); err != nil {
		return err
	}
	var bulk []*Document
	for _, p := range w.docs {
		p.doc.OrderID = p.order.ID
		if p.seller.Selling.Invoicing == account.InvoiceOnStatement {
			if _, err := db.issueOrDefer(ctx, tx, p.seller, p.doc, now); err != nil {
				return err
			}
			continue
		}
		bulk = append(bulk, p.doc)
	}
	if err := insertDocuments(ctx, db, tx, bulk, now); err != nil {
		return err
	}
	return w.charges(ctx, db, tx)
}

// insertOrders numbers and inserts the chunk's RN orders and their tiers.
func (w *chunkWriter) insertOrders(ctx context.Context, db *DB, tx *sql.Tx, now time.Time) error {
	if len(w.orders) == 0 {
		return nil
	}
	var vendors []int64
	count := map[int64]int64{}
	for _, o := range w.orders {
		if count[o.VendorID] == 0 {
			vendors = append(vendors, o.VendorID)
		}
		count[o.VendorID]++
	}
	next, err := reserve(ctx, tx, `INSERT INTO order_counters (vendor_id, next) VALUES %s
		ON CONFLICT (vendor_id) DO UPDATE SET next = order_counters.next + excluded.next - 1 RETURNING vendor_id, next`,
		len(vendors), func(i int) []any { return []any{vendors[i], count[vendors[i]] + 1} },
		func(s scanner) (string, int64, error) {
			var v, n int64
			err := s.Scan(&v, &n)
			return fmt.Sprint(v), n, err
		})
	if err != nil {
		return fmt.Errorf("renewal numbers: %w", err)
	}
	first := map[int64]int64{}
	for _, v := range vendors {
		first[v] = next[fmt.Sprint(v)] - count[v]
	}
	byKey := map[string]*Order{}
	args := make([]any, 0, 13*len(w.orders))
	var vals []string
	for _, o := range w.orders {
		o.Number = first[o.VendorID]
		first[o.VendorID]++
		o.Status, o.Total, o.Currency = "completed", o.Quote.Total, o.Quote.Currency
		o.CreatedAt, o.UpdatedAt, o.FinishedAt, o.Version = now, now, now, 1
		details, err := json.Marshal(o.Details)
		if err != nil {
			return err
		}
		quote, err := json.Marshal(o.Quote)
		if err != nil {
			return err
		}
		n := len(args)
		vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, '', '', $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, 1)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+13, n+13))
		args = append(args, o.VendorID, o.CustomerID, o.Number, string(o.Type), string(o.Status), nullID(o.SubscriptionID),
			nullID(o.PlanID), o.Period, string(details), string(quote), int64(o.Total), o.Currency, tv(now))
		byKey[fmt.Sprint(o.VendorID, "/", o.Number)] = o
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO orders (vendor_id, customer_id, number, type, status, reason, message,
		subscription_id, plan_id, period_key, request, quote, total, currency, created_at, updated_at, finished_at, version)
		VALUES `+strings.Join(vals, ", ")+` RETURNING id, vendor_id, number`, args...)
	if err != nil {
		return fmt.Errorf("insert renewals: %w", err)
	}
	back, err := scanAll(rows, func(s scanner) ([3]int64, error) {
		var v [3]int64
		return v, s.Scan(&v[0], &v[1], &v[2])
	})
	if err != nil {
		return fmt.Errorf("insert renewals: %w", err)
	}
	for _, v := range back {
		o := byKey[fmt.Sprint(v[1], "/", v[2])]
		if o == nil {
			return fmt.Errorf("insert renewals: order %d/%d came back unasked", v[1], v[2])
		}
		o.ID = v[0]
	}
	args, vals = args[:0], vals[:0]
	for _, o := range w.orders {
		for _, t := range o.Tiers {
			b, err := json.Marshal(t.Quote)
			if err != nil {
				return err
			}
			n := len(args)
			vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7))
			args = append(args, o.ID, t.Tier, t.SellerID, t.BuyerID, t.PlanID, string(b), int64(t.Total))
		}
	}
	if len(vals) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_tiers (order_id, tier, seller_id, buyer_id, plan_id, quote, total) VALUES `+
		strings.Join(vals, ", "), args...); err != nil {
		return fmt.Errorf("insert renewal tiers: %w", err)
	}
	return nil
}

// insertDocuments issues docs, in order, as issueDocument would one by
// one: the same checks (one query for every buyer), gapless numbers per
// vendor and type, each document's two ledger entries.
func insertDocuments(ctx context.Context, db *DB, tx *sql.Tx, docs []*Document, now time.Time) error {
	if len(docs) == 0 {
		return nil
	}
	var buyers []int64
	seen := map[int64]bool{}
	for _, d := range docs {
		if err := d.check(); err != nil {
			return err
		}
		if !seen[d.AccountID] {
			seen[d.AccountID] = true
			buyers = append(buyers, d.AccountID)
		}
	}
	type dealRow struct {
		id, parent      int64
		currency, dealt string
	}
	deals, err := queryAll(ctx, tx, func(s scanner) (dealRow, error) {
		var x dealRow
		var dealt sql.NullString
		err := s.Scan(&x.id, &x.parent, &x.currency, &dealt)
		if dealt.Valid {
			x.dealt = dealt.String
		}
		return x, err
	}, `SELECT a.id, COALESCE(a.parent_id, 0), a.currency,
		(SELECT d.currency FROM documents d WHERE d.account_id = a.id AND d.vendor_id = a.parent_id
			ORDER BY d.account_id, d.vendor_id, d.id LIMIT 1)
		FROM accounts a WHERE `+db.anyID("a.id", 1), db.idsArg(sortedIDs(buyers)))
	if err != nil {
		return fmt.Errorf("documents: %w", err)
	}
	deal := map[int64]dealRow{}
	for _, x := range deals {
		deal[x.id] = x
	}
	type key struct {
		vendor int64
		typ    DocumentType
	}
	var keys []key
	count := map[key]int64{}
	for _, d := range docs {
		x, ok := deal[d.AccountID]
		if !ok || x.parent != d.VendorID || x.parent == 0 {
			return marketplane.Errorf(marketplane.EINVALID, "account %d is not a buyer of vendor %d", d.AccountID, d.VendorID)
		}
		if x.dealt != "" && x.dealt != d.Currency {
			return marketplane.Errorf(marketplane.EINVALID, "a document in %s between a buyer and a vendor that deal in %s", d.Currency, x.dealt)
		}
		if x.dealt == "" {
			// The first document between them sets their currency for
			// the chunk's later ones too.
			x.dealt = d.Currency
			deal[d.AccountID] = x
		}
		k := key{d.VendorID, d.Type}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
	}
	next, err := reserve(ctx, tx, `INSERT INTO document_counters (vendor_id, type, next) VALUES %s
		ON CONFLICT (vendor_id, type) DO UPDATE SET next = document_counters.next + excluded.next - 1 RETURNING vendor_id, type, next`,
		len(keys), func(i int) []any { return []any{keys[i].vendor, string(keys[i].typ), count[keys[i]] + 1} },
		func(s scanner) (string, int64, error) {
			var v, n int64
			var t string
			err := s.Scan(&v, &t, &n)
			return fmt.Sprint(v, "/", t), n, err
		})
	if err != nil {
		return fmt.Errorf("document numbers: %w", err)
	}
	first := map[key]int64{}
	for _, k := range keys {
		first[k] = next[fmt.Sprint(k.vendor, "/", string(k.typ))] - count[k]
	}
	byKey := map[string]*Document{}
	args := make([]any, 0, 16*len(docs))
	var vals []string
	for _, d := range docs {
		k := key{d.VendorID, d.Type}
		d.Number = fmt.Sprintf("%s-%06d", numberPrefix[d.Type], first[k])
		first[k]++
		body, err := d.prepare(now)
		if err != nil {
			return err
		}
		n := len(args)
		vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+14, n+15, n+16))
		args = append(args, d.VendorID, d.AccountID, string(d.Type), d.Number, string(d.Status), d.Currency, int64(d.Total),
			tv(d.IssuedOn), tv(d.DueOn), nullID(d.OrderID), body, d.ReverseCharge, tv(now), tv(d.ChargeOn), nullID(d.SubscriptionID), d.Purpose)
		byKey[fmt.Sprint(d.VendorID, "/", d.Number)] = d
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO documents (vendor_id, account_id, type, number, status, currency, total,
		issued_on, due_on, order_id, body, reverse_charge, created_at, charge_on, subscription_id, purpose)
		VALUES `+strings.Join(vals, ", ")+` RETURNING id, vendor_id, number`, args...)
	if err != nil {
		return fmt.Errorf("insert documents: %w", err)
	}
	type numbered struct {
		id, vendor int64
		number     string
	}
	back, err := scanAll(rows, func(s scanner) (numbered, error) {
		var x numbered
		return x, s.Scan(&x.id, &x.vendor, &x.number)
	})
	if err != nil {
		return fmt.Errorf("insert documents: %w", err)
	}
	for _, x := range back {
		d := byKey[fmt.Sprint(x.vendor, "/", x.number)]
		if d == nil {
			return fmt.Errorf("insert documents: %s of %d came back unasked", x.number, x.vendor)
		}
		d.ID = x.id
	}
	args, vals = args[:0], vals[:0]
	for _, d := range docs {
		n := len(args)
		vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, 'buyer', $%d, $%d), ($%d, $%d, $%d, 'vendor', $%d, $%d)",
			n+1, n+2, n+3, n+4, n+6, n+1, n+3, n+3, n+5, n+6))
		args = append(args, d.ID, d.AccountID, d.VendorID, int64(d.Total), -int64(d.Total), tv(now))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (document_id, account_id, vendor_id, side, amount, created_at) VALUES `+
		strings.Join(vals, ", "), args...); err != nil {
		return fmt.Errorf("post documents: %w", err)
	}
	return db.emitInvoices(ctx, tx, docs...)
}

// charges pays the chunk's invoices that are due for charging from the
// prepaid funds of the buyers that have some (one query finds them).
func (w *chunkWriter) charges(ctx context.Context, db *DB, tx *sql.Tx) error {
	if len(w.charge) == 0 {
		return nil
	}
	var buyers []int64
	for k := range w.charge {
		buyers = append(buyers, k[0])
	}
	withCredit, err := queryAll(ctx, tx, func(s scanner) ([2]int64, error) {
		var v [2]int64
		return v, s.Scan(&v[0], &v[1])
	}, `SELECT DISTINCT account_id, vendor_id FROM documents
		WHERE `+db.anyID("account_id", 1)+` AND type IN ('payment', 'credit_memo') AND applied < -total`, db.idsArg(sortedIDs(buyers)))
	if err != nil {
		return fmt.Errorf("prepaid funds: %w", err)
	}
	for _, k := range withCredit {
		day, ok := w.charge[k]
		if !ok {
			continue
		}
		if _, err := db.applyCredits(ctx, tx, k[0], k[1], day, false); err != nil {
			return err
		}
	}
	return nil
}

// reserve takes numbers from a counter table for several keys at once:
// q holds %s for the VALUES rows (each made by row, their next being
// count + 1), and returns each key's next after the upsert, from which
// the caller counts back.
func reserve(ctx context.Context, tx *sql.Tx, q string, n int, row func(i int) []any,
	scan func(scanner) (string, int64, error)) (map[string]int64, error) {
	var vals []string
	var args []any
	for i := range n {
		r := row(i)
		marks := make([]string, len(r))
		for j := range r {
			marks[j] = fmt.Sprintf("$%d", len(args)+j+1)
		}
		vals = append(vals, "("+strings.Join(marks, ", ")+")")
		args = append(args, r...)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(q, strings.Join(vals, ", ")), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		k, v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
