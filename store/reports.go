package store

// Billing reports read from the ledger (store/ledger.go): what a vendor
// sold and bought per month, the margins of the resellers directly below
// it, and the aging of what its buyers owe it.
//
// Definitions, for vendor V over the days [from, to):
//
//   - revenue is what V billed its buyers: the totals of the invoices minus
//     the credit memos V issued (vendor_id = V);
//   - cost is what V was billed: the totals of the invoices minus the credit
//     memos V received from its own vendor (account_id = V);
//   - margin = revenue − cost, in each currency on its own (amounts of
//     different currencies are never added).
//
// Payments, refunds and adjustments move money but bill nothing: they are
// in none of the three. Void invoices never happened and count nowhere.
// Totals are signed as their effect on what the buyer owes (ledger.go), so
// summing invoices and credit memos subtracts the credits by itself.
//
// Who may read them: each report is authorized like Documents() with a
// VendorID, with account.ViewDocuments on V (the vendor's own staff and its
// ancestors with reach; anyone else gets ENOTFOUND). Margins also shows a
// reseller's own sales, so each of its rows needs the same on that reseller
// and rows beyond the actor's reach are left out, as lists leave out what
// the actor cannot see.
//
// Every sum is taken in SQL, so memory stays bounded by the number of rows
// answered, never by the number of documents.

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// RevenueRow is what a vendor billed and was billed in one currency in one
// calendar month.
type RevenueRow struct {
	Month    time.Time // the first day of the month, midnight UTC
	Currency string
	Revenue  money.Micros // invoices minus credit memos the vendor issued
	Cost     money.Micros // invoices minus credit memos the vendor received
	Margin   money.Micros // Revenue − Cost
}

// MarginRow is the revenue, cost and margin of one reseller directly below
// a vendor in one currency.
type MarginRow struct {
	ResellerID int64
	Name       string // the reseller's name, for display
	Currency   string
	Revenue    money.Micros // invoices minus credit memos the reseller issued
	Cost       money.Micros // invoices minus credit memos the reseller received from the vendor
	Margin     money.Micros // Revenue − Cost
}

// AgingRow is what one buyer owes a vendor in one currency on a day, by
// how many days its invoices are past due.
type AgingRow struct {
	AccountID  int64  // the buyer
	Name       string // the buyer's name, for display
	Currency   string
	Current    money.Micros // not yet due (due on the day or later)
	Days1To30  money.Micros // 1 to 30 days past due
	Days31To60 money.Micros
	Days61To90 money.Micros
	Over90     money.Micros // more than 90 days past due
	Total      money.Micros // the sum of the five buckets
}

// billed selects the documents that bill: invoices and credit memos, void
// ones left out, issued on a day of [$2, $3).
const billed = `d.type IN ('invoice', 'credit_memo') AND d.status <> 'void'
	AND d.issued_on >= $2 AND d.issued_on < $3`

// reportDays checks a report's [from, to) and turns both into days as the
// ledger keeps them.
func reportDays(from, to time.Time) (time.Time, time.Time, error) {
	var f marketplane.FieldErrors
	if from.IsZero() {
		f.Add("from", "required")
	}
	if to.IsZero() {
		f.Add("to", "required")
	}
	from, to = ledgerDay(from), ledgerDay(to)
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		f.Add("to", "must be after from")
	}
	return from, to, f.Err("report")
}

// ledgerDay is the calendar day of t, in t's own location, as the ledger
// keeps days: midnight UTC (order.Day). A caller may pass a vendor's
// midnight or the ledger's own and gets the same day.
func ledgerDay(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return order.Day(t, t.Location())
}

// Revenue is vendorID's revenue, cost and margin per calendar month of the
// documents' issue days and per currency, over the days [from, to) (see the
// file comment). Months without documents have no row; rows are ordered by
// month, then currency. Errors: ENOTFOUND (the vendor is out of reach or
// missing), EFORBIDDEN, EINVALID (no from or to, to not after from).
func (db *DB) Revenue(ctx context.Context, actor *account.Actor, vendorID int64, from, to time.Time) ([]RevenueRow, error) {
	from, to, err := reportDays(from, to)
	if err != nil {
		return nil, err
	}
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewDocuments, vendorID); err != nil {
		return nil, err
	}
	// SQL sums per issue day: months are not portable SQL (issued_on is
	// TEXT on SQLite and timestamptz on PostgreSQL), so Go folds the days,
	// at most one row per day and currency, into their months. SUM of
	// BIGINT is numeric on PostgreSQL: cast it back to an integer.
	type day struct {
		on           time.Time
		currency     string
		sold, bought int64
	}
	days, err := queryAll(ctx, db.Read, func(r scanner) (day, error) {
		var d day
		err := r.Scan(ts(&d.on), &d.currency, &d.sold, &d.bought)
		return d, err
	}, `SELECT s.issued_on, s.currency, CAST(SUM(s.sold) AS BIGINT), CAST(SUM(s.bought) AS BIGINT) FROM (
			SELECT d.issued_on, d.currency, d.total AS sold, 0 AS bought FROM documents d
			WHERE d.vendor_id = $1 AND `+billed+`
			UNION ALL
			SELECT d.issued_on, d.currency, 0, d.total FROM documents d
			WHERE d.account_id = $1 AND `+billed+`
		) s GROUP BY s.issued_on, s.currency`, vendorID, tv(from), tv(to))
	if err != nil {
		return nil, fmt.Errorf("revenue of vendor %d: %w", vendorID, err)
	}
	type key struct {
		month    time.Time
		currency string
	}
	at := map[key]int{}
	out := []RevenueRow{}
	for _, d := range days {
		k := key{time.Date(d.on.Year(), d.on.Month(), 1, 0, 0, 0, 0, time.UTC), d.currency}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, RevenueRow{Month: k.month, Currency: k.currency})
		}
		out[i].Revenue += money.Micros(d.sold)
		out[i].Cost += money.Micros(d.bought)
	}
	for i := range out {
		out[i].Margin = out[i].Revenue - out[i].Cost
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Month.Equal(out[j].Month) {
			return out[i].Month.Before(out[j].Month)
		}
		return out[i].Currency < out[j].Currency
	})
	return out, nil
}

// Margins is the revenue, cost and margin over the days [from, to) of each
// reseller whose parent is vendorID, per currency (see the file comment): a
// reseller's cost is what vendorID billed it. Resellers without documents
// in the range have no row, nor have resellers whose documents the actor
// may not view; rows are ordered by reseller id, then currency. Errors:
// ENOTFOUND (the vendor is out of reach or missing), EFORBIDDEN, EINVALID
// (no from or to, to not after from).
func (db *DB) Margins(ctx context.Context, actor *account.Actor, vendorID int64, from, to time.Time) ([]MarginRow, error) {
	from, to, err := reportDays(from, to)
	if err != nil {
		return nil, err
	}
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewDocuments, vendorID); err != nil {
		return nil, err
	}
	type row struct {
		MarginRow
		path string
	}
	// Each branch starts from the vendor's resellers (accounts_parent) and
	// reaches their documents by an index: what they sold (documents_vendor)
	// and what they bought from the vendor (documents_account).
	rows, err := queryAll(ctx, db.Read, func(r scanner) (row, error) {
		var x row
		var sold, bought int64
		err := r.Scan(&x.ResellerID, &x.Name, &x.path, &x.Currency, &sold, &bought)
		x.Revenue, x.Cost = money.Micros(sold), money.Micros(bought)
		x.Margin = x.Revenue - x.Cost
		return x, err
	}, `SELECT r.id, r.name, r.path, s.currency, CAST(SUM(s.sold) AS BIGINT), CAST(SUM(s.bought) AS BIGINT) FROM (
			SELECT d.vendor_id AS reseller_id, d.currency, d.total AS sold, 0 AS bought
			FROM accounts r JOIN documents d ON d.vendor_id = r.id
			WHERE r.parent_id = $1 AND r.kind = 'reseller' AND `+billed+`
			UNION ALL
			SELECT d.account_id, d.currency, 0, d.total
			FROM accounts r JOIN documents d ON d.account_id = r.id AND d.vendor_id = $1
			WHERE r.parent_id = $1 AND r.kind = 'reseller' AND `+billed+`
		) s JOIN accounts r ON r.id = s.reseller_id
		GROUP BY r.id, r.name, r.path, s.currency ORDER BY r.id, s.currency`, vendorID, tv(from), tv(to))
	if err != nil {
		return nil, fmt.Errorf("margins below vendor %d: %w", vendorID, err)
	}
	out := []MarginRow{}
	for _, x := range rows {
		// A reseller's revenue is its own sales, which Documents shows only
		// to those who may view the reseller's documents: an actor whose
		// reach ends at the vendor (a reach of "children" one level up, or
		// none below its own account) does not see them.
		err := account.Authorize(actor, account.ViewDocuments, account.Target{AccountID: x.ResellerID, Path: x.path})
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, x.MarginRow)
	}
	return out, nil
}

// Aging is what the buyers of vendorID owe it on its open invoices on the
// day on, per buyer and currency, bucketed by days past due of the
// invoices issued on or before on: current (due on the day or later),
// 1–30, 31–60, 61–90 and over 90 days. An invoice without a due day is due
// on its issue day. What an invoice owes is its total less what payments
// and credits have covered of it (applied), so an invoice paid in part
// ages by its rest. Prepaid funds not yet applied to an invoice are not
// netted off: aging is of invoices, the balance is Balance's. Buyers who
// owe nothing have no row; rows are ordered by buyer id, then currency.
//
// Statuses and applied amounts are read as they stand now: a past day ages
// the invoices still open today, it does not undo later payments.
//
// Errors: ENOTFOUND (the vendor is out of reach or missing), EFORBIDDEN,
// EINVALID (no day).
func (db *DB) Aging(ctx context.Context, actor *account.Actor, vendorID int64, on time.Time) ([]AgingRow, error) {
	if on.IsZero() {
		return nil, marketplane.Errorf(marketplane.EINVALID, "aging: a day is required")
	}
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewDocuments, vendorID); err != nil {
		return nil, err
	}
	on = ledgerDay(on)
	// Days are midnights, so "due at least 30 days before on" is a
	// comparison with on − 30 days, the same on both engines.
	const q = `SELECT u.account_id, a.name, u.currency,
			CAST(SUM(CASE WHEN u.bucket = 0 THEN u.owed ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN u.bucket = 1 THEN u.owed ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN u.bucket = 2 THEN u.owed ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN u.bucket = 3 THEN u.owed ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN u.bucket = 4 THEN u.owed ELSE 0 END) AS BIGINT)
		FROM (
			SELECT d.account_id, d.currency, d.total - d.applied AS owed,
				CASE WHEN COALESCE(d.due_on, d.issued_on) >= $2 THEN 0
					WHEN COALESCE(d.due_on, d.issued_on) >= $3 THEN 1
					WHEN COALESCE(d.due_on, d.issued_on) >= $4 THEN 2
					WHEN COALESCE(d.due_on, d.issued_on) >= $5 THEN 3
					ELSE 4 END AS bucket
			FROM documents d
			WHERE d.vendor_id = $1 AND d.type = 'invoice' AND d.status = 'open'
				AND d.issued_on <= $2 AND d.total > d.applied
		) u JOIN accounts a ON a.id = u.account_id
		GROUP BY u.account_id, a.name, u.currency ORDER BY u.account_id, u.currency`
	rows, err := queryAll(ctx, db.Read, func(r scanner) (AgingRow, error) {
		var x AgingRow
		var b [5]int64
		err := r.Scan(&x.AccountID, &x.Name, &x.Currency, &b[0], &b[1], &b[2], &b[3], &b[4])
		x.Current, x.Days1To30, x.Days31To60, x.Days61To90, x.Over90 =
			money.Micros(b[0]), money.Micros(b[1]), money.Micros(b[2]), money.Micros(b[3]), money.Micros(b[4])
		x.Total = x.Current + x.Days1To30 + x.Days31To60 + x.Days61To90 + x.Over90
		return x, err
	}, q, vendorID, tv(on), tv(on.AddDate(0, 0, -30)), tv(on.AddDate(0, 0, -60)), tv(on.AddDate(0, 0, -90)))
	if err != nil {
		return nil, fmt.Errorf("aging of vendor %d: %w", vendorID, err)
	}
	return rows, nil
}
