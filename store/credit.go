package store

// Credit control: the payment terms a vendor gives each buyer, prepaid
// funds, automatic charges, credit hold and its temporary release, and the
// delayed suspension of pay-as-you-go services. The rules of the terms are
// package account's (account.Terms); this file applies them to the ledger.
//
// Who may do what: a buyer's terms and standing are read with
// account.ViewDocuments on the buyer; setting terms, payments and top-ups
// are the vendor's staff's (account.ManageDocuments, never on one's own
// account); putting on and releasing holds need the credit hold privilege
// (account.PutCreditHold, account.ReleaseCredit), never on one's own
// account.
//
// Every change of a buyer's hold happens in the transaction of its cause
// (a payment, the daily run's review, staff), and its subscriptions follow
// in the same transaction through the caller's hook (the task that
// suspends or resumes the service at its connector).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// SubscriptionHook runs in the transaction of each subscription a change
// suspends, resumes or ends: the task that applies it at the connector.
// Its error rolls the change back. nil means none.
type SubscriptionHook func(tx *sql.Tx, s *subscription.Subscription) error

// Credit is where a buyer stands towards its vendor on a day.
type Credit struct {
	AccountID int64
	VendorID  int64
	Currency  string
	Status    account.Status
	// NetDays are the account's payment terms days (due date = issue +
	// NetDays; 0: invoices have no due date).
	NetDays     int
	CreditLimit money.Micros
	// Terms are the terms that apply: the buyer's own (OwnTerms) if it
	// has any, else those its vendor gives its class of buyers.
	Terms, OwnTerms account.Terms
	// Balance is the sum of the buyer's ledger entries: what it owes
	// (negative: a credit in its favour).
	Balance money.Micros
	// PrepaidFunds are payments not yet applied to invoices.
	PrepaidFunds money.Micros
	// Open is what open invoices still ask for; Overdue the part of it
	// overdue beyond the grace days on the day asked.
	Open, Overdue money.Micros
	// RatedUsage is the usage of the current periods rated but not yet
	// invoiced.
	RatedUsage money.Micros
	// Unbilled are charges waiting for the seller's statement day.
	Unbilled money.Micros
	// Available is what the buyer may still spend: −Balance − RatedUsage
	// − Unbilled + CreditLimit. With no open invoice it is the README's "prepaid funds
	// − usage rated but not invoiced + credit limit"; open invoices count
	// against it because automatic charges will take them.
	Available money.Micros
	// HoldManual says the hold was put by staff: a payment does not lift
	// it.
	HoldManual bool
	// ReleasedUntil is the first day after a temporary release (zero when
	// none), with its reason.
	ReleasedUntil time.Time
	ReleaseReason string
	// PAYGShortSince is the first day the available balance no longer
	// covered pay-as-you-go usage; zero when it does.
	PAYGShortSince time.Time
}

// creditRow is a buyer's credit_control row (zero when it has none):
// terms are those that apply (the buyer's own, else its class's from the
// seller), own the buyer's own as stored ("{}": none).
type creditRow struct {
	terms          account.Terms
	own            account.Terms
	manual         bool
	releasedUntil  time.Time
	releaseReason  string
	paygShortSince time.Time
}

// loadCreditRow reads buyer's row; seller (nil: none) gives the terms of
// its class when the buyer has none of its own.
func loadCreditRow(ctx context.Context, q querier, buyer, seller *account.Account) (creditRow, error) {
	var r creditRow
	terms := "{}"
	err := q.QueryRowContext(ctx, `SELECT terms, hold_manual, released_until, release_reason, payg_short_since
		FROM credit_control WHERE account_id = $1`, buyer.ID).Scan(&terms, &r.manual, ts(&r.releasedUntil), &r.releaseReason, ts(&r.paygShortSince))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("credit control of account %d: %w", buyer.ID, err)
	}
	if err := json.Unmarshal([]byte(terms), &r.own); err != nil {
		return r, fmt.Errorf("terms of account %d: %w", buyer.ID, err)
	}
	r.terms = r.own
	if r.own == (account.Terms{}) && seller != nil {
		r.terms = seller.Selling.TermsFor(buyer)
	}
	return r, nil
}

func (db *DB) saveCreditRow(ctx context.Context, tx *sql.Tx, id int64, r creditRow) error {
	terms, err := json.Marshal(r.own)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO credit_control (account_id, terms, hold_manual, released_until, release_reason, payg_short_since, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id) DO UPDATE SET terms = excluded.terms, hold_manual = excluded.hold_manual,
			released_until = excluded.released_until, release_reason = excluded.release_reason,
			payg_short_since = excluded.payg_short_since, updated_at = excluded.updated_at`,
		id, string(terms), r.manual, tv(r.releasedUntil), r.releaseReason, tv(r.paygShortSince), tv(db.stamp()))
	if err != nil {
		return fmt.Errorf("credit control of account %d: %w", id, err)
	}
	return nil
}

// dealCurrency is the currency buyer and its vendor deal in: that of
// their first document, or the buyer's own before any.
func dealCurrency(ctx context.Context, q querier, buyer *account.Account, vendorID int64) (string, error) {
	var cur string
	err := q.QueryRowContext(ctx, `SELECT currency FROM documents WHERE account_id = $1 AND vendor_id = $2 ORDER BY id LIMIT 1`,
		buyer.ID, vendorID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return buyer.Currency, nil
	}
	if err != nil {
		return "", fmt.Errorf("currency of account %d: %w", buyer.ID, err)
	}
	return cur, nil
}

// today is the vendor's calendar day of the clock's now, as midnight UTC.
func (db *DB) today(vendor *account.Account) time.Time {
	return order.Day(db.Clock.Now(), db.vendorTerms(vendor, nil).Location)
}

// Credit is where account id stands towards its vendor today.
func (db *DB) Credit(ctx context.Context, actor *account.Actor, id int64) (*Credit, error) {
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewDocuments, id); err != nil {
		return nil, err
	}
	buyer, err := loadAccount(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if buyer.ParentID == 0 {
		return nil, marketplane.Errorf(marketplane.ECONFLICT, "the provider has no vendor")
	}
	vendor, err := loadAccount(ctx, db.Read, buyer.ParentID)
	if err != nil {
		return nil, err
	}
	return db.credit(ctx, db.Read, buyer, vendor, db.today(vendor), newBillRun(db, db.today(vendor)))
}

// credit computes buyer's Credit on day; run rates its usage.
func (db *DB) credit(ctx context.Context, q querier, buyer, vendor *account.Account, day time.Time, run *billRun) (*Credit, error) {
	row, err := loadCreditRow(ctx, q, buyer, vendor)
	if err != nil {
		return nil, err
	}
	cur, err := dealCurrency(ctx, q, buyer, vendor.ID)
	if err != nil {
		return nil, err
	}
	c := &Credit{AccountID: buyer.ID, VendorID: vendor.ID, Currency: cur, Status: buyer.Status,
		NetDays: buyer.PaymentTermsDays, CreditLimit: buyer.CreditLimit, Terms: row.terms, OwnTerms: row.own, HoldManual: row.manual,
		ReleasedUntil: row.releasedUntil, ReleaseReason: row.releaseReason, PAYGShortSince: row.paygShortSince}
	if c.Balance, err = balance(ctx, q, buyer.ID, vendor.ID); err != nil {
		return nil, err
	}
	var prepaid int64
	if err := q.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(-total - applied), 0) AS BIGINT) FROM documents
		WHERE account_id = $1 AND vendor_id = $2 AND type = 'payment' AND applied < -total`, buyer.ID, vendor.ID).Scan(&prepaid); err != nil {
		return nil, fmt.Errorf("prepaid funds of account %d: %w", buyer.ID, err)
	}
	c.PrepaidFunds = money.Micros(prepaid)
	rows, err := q.QueryContext(ctx, `SELECT total - applied, due_on FROM documents
		WHERE account_id = $1 AND vendor_id = $2 AND type = 'invoice' AND status = 'open'`, buyer.ID, vendor.ID)
	if err != nil {
		return nil, fmt.Errorf("open invoices of account %d: %w", buyer.ID, err)
	}
	for rows.Next() {
		var rest int64
		var due time.Time
		if err := rows.Scan(&rest, ts(&due)); err != nil {
			rows.Close()
			return nil, err
		}
		c.Open += money.Micros(rest)
		if row.terms.Overdue(due, day) {
			c.Overdue += money.Micros(rest)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rated, _, err := run.rated(ctx, q, buyer.ID, day)
	if err != nil {
		return nil, err
	}
	c.RatedUsage = rated
	if c.Unbilled, err = unbilled(ctx, q, buyer.ID, vendor.ID); err != nil {
		return nil, err
	}
	c.Available = -c.Balance - c.RatedUsage - c.Unbilled + c.CreditLimit
	return c, nil
}

// SetTerms sets the payment terms vendor staff give account id (its net
// days and credit limit stay the account's own fields). Errors:
// ENOTFOUND, EFORBIDDEN (not the vendor's staff), EINVALID.
func (db *DB) SetTerms(ctx context.Context, actor *account.Actor, id int64, t account.Terms) (*Credit, error) {
	return db.SetTermsIf(ctx, actor, id, t, nil)
}

// SetTermsIf is SetTerms with a precondition: ifMatch (nil: none) gets
// the buyer's own terms as stored, in the transaction that replaces them,
// and its error leaves them as they were. It is how the API's If-Match
// catches a change made since the client read the terms.
func (db *DB) SetTermsIf(ctx context.Context, actor *account.Actor, id int64, t account.Terms, ifMatch func(own account.Terms) error) (*Credit, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		tg, err := db.authorize(ctx, tx, actor, account.ManageDocuments, id)
		if err != nil {
			return err
		}
		if err := staffOnly(actor, tg.Path, "set payment terms"); err != nil {
			return err
		}
		buyer, err := loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if buyer.ParentID == 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "the provider has no vendor to give it terms")
		}
		if err := t.Validate(buyer.PaymentTermsDays); err != nil {
			return err
		}
		row, err := loadCreditRow(ctx, tx, buyer, nil)
		if err != nil {
			return err
		}
		if ifMatch != nil {
			if err := ifMatch(row.own); err != nil {
				return err
			}
		}
		old := row.own
		row.own = t
		if err := db.saveCreditRow(ctx, tx, id, row); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, id, tg.Path, "account.terms", "account", id, map[string]any{"terms": []account.Terms{old, t}})
	})
	if err != nil {
		return nil, err
	}
	return db.Credit(ctx, actor, id)
}

// Payment is money received from a buyer.
type Payment struct {
	AccountID int64
	// Amount is positive, in the buyer's currency, rounded to its minor
	// unit.
	Amount money.Micros
	// Method says how the money came ("bank transfer", "card 4242").
	Method string
	// TopUp makes the payment prepaid funds, taken by automatic charges as
	// invoices fall due; otherwise it pays open invoices at once, oldest
	// first, and only its rest becomes prepaid funds.
	TopUp bool
	// GatewayRef is the card gateway's own id of the charge that brought
	// the money (gateway.Receipt.ID); "" for money received otherwise.
	// One charge is recorded once: see ReceivePayment.
	GatewayRef string
}

// ReceivePayment records p as a payment document from the buyer's vendor
// dated the vendor's today, applies it (see Payment.TopUp), and reviews
// the buyer's credit at once: a hold the payment clears is released
// (unless put by staff) and a pay-as-you-go suspension it covers is
// cancelled, each subscription through each. It is the vendor's staff's:
// the actor needs account.ManageDocuments on the buyer from an account
// above it.
//
// A payment with a GatewayRef already recorded is not recorded again:
// ReceivePayment answers the payment recorded for that charge (a retry,
// from this process or another, before or after a restart), and of two
// recording one charge at once, one records it and the other answers it.
// A ref recorded for another buyer, amount or purpose is ECONFLICT.
//
// Errors: ENOTFOUND, EFORBIDDEN, EINVALID (amount, method), ECONFLICT.
func (db *DB) ReceivePayment(ctx context.Context, actor *account.Actor, p Payment, each SubscriptionHook) (*Document, error) {
	d, err := db.receivePayment(ctx, actor, p, each)
	if err != nil && p.GatewayRef != "" && isUniqueViolation(err) {
		// Another transaction recorded the charge after this one looked
		// for it (the unique index on gateway_ref refused the second):
		// looking again finds it.
		d, err = db.receivePayment(ctx, actor, p, each)
	}
	return d, err
}

func (db *DB) receivePayment(ctx context.Context, actor *account.Actor, p Payment, each SubscriptionHook) (*Document, error) {
	var d *Document
	what := "payment"
	if p.TopUp {
		what = "top-up"
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageDocuments, p.AccountID)
		if err != nil {
			return err
		}
		if err := staffOnly(actor, t.Path, "record payments"); err != nil {
			return err
		}
		buyer, err := loadAccount(ctx, tx, p.AccountID)
		if err != nil {
			return err
		}
		cur, err := dealCurrency(ctx, tx, buyer, buyer.ParentID)
		if err != nil {
			return err
		}
		var f marketplane.FieldErrors
		if p.Amount <= 0 || p.Amount.Round(cur) != p.Amount {
			f.Add("amount", fmt.Sprintf("%s is not a positive amount in %s", p.Amount, cur))
		}
		if p.Method == "" {
			f.Add("method", "required")
		}
		if err := f.Err(what); err != nil {
			return err
		}
		if buyer.ParentID == 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "the provider pays nobody")
		}
		if p.GatewayRef != "" {
			prior, err := paymentOfCharge(ctx, tx, p.GatewayRef)
			if err != nil {
				return err
			}
			if prior != nil {
				if prior.AccountID != p.AccountID || -prior.Total != p.Amount || (prior.Purpose == PurposeTopUp) != p.TopUp {
					return marketplane.Errorf(marketplane.ECONFLICT, "the gateway's charge %s is recorded as another payment", p.GatewayRef)
				}
				d = prior
				return nil
			}
		}
		vendor, err := loadAccount(ctx, tx, buyer.ParentID)
		if err != nil {
			return err
		}
		now := db.Clock.Now()
		day := db.today(vendor)
		desc := "Payment by " + p.Method
		if p.TopUp {
			desc = "Top-up by " + p.Method
		}
		d = &Document{Type: DocPayment, VendorID: vendor.ID, AccountID: buyer.ID, Currency: cur,
			Total: -p.Amount, IssuedOn: day, Method: p.Method, GatewayRef: p.GatewayRef,
			Lines: []order.Line{{What: PaymentLine, Amount: -p.Amount, Description: desc}}}
		if p.TopUp {
			d.Purpose = PurposeTopUp
		}
		if err := db.issueDocument(ctx, tx, d, now); err != nil {
			return err
		}
		if err := db.emitPayment(ctx, tx, d, t.Path); err != nil {
			return err
		}
		if _, err := db.applyCredits(ctx, tx, buyer.ID, vendor.ID, day, !p.TopUp); err != nil {
			return err
		}
		if err := db.reviewCredit(ctx, tx, buyer, vendor, day, newBillRun(db, day), each); err != nil {
			return err
		}
		changes := map[string]any{"number": d.Number, "amount": p.Amount.String(), "method": p.Method}
		if p.GatewayRef != "" {
			changes["gateway_ref"] = p.GatewayRef
		}
		return db.audit(ctx, tx, actor, buyer.ID, t.Path, "record "+what, "document", d.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// paymentOfCharge is the payment recorded for the gateway's charge ref,
// nil when there is none.
func paymentOfCharge(ctx context.Context, tx *sql.Tx, ref string) (*Document, error) {
	d, err := scanDocument(tx.QueryRowContext(ctx, `SELECT `+documentColumns+` FROM documents d WHERE d.gateway_ref = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("payment of charge %s: %w", ref, err)
	}
	return d, nil
}

// PutOnCreditHold puts account id on credit hold by hand (a payment does
// not release it; staff do). What the hold does to its services follows
// its terms (account.Terms.OnHold). Errors: ENOTFOUND, EFORBIDDEN,
// ECONFLICT (the provider, a cancelled account, already on hold).
func (db *DB) PutOnCreditHold(ctx context.Context, actor *account.Actor, id int64, reason string, each SubscriptionHook) (*Credit, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		buyer, vendor, path, err := db.holdTarget(ctx, tx, actor, account.PutCreditHold, id)
		if err != nil {
			return err
		}
		if buyer.Status == account.StatusCreditHold {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d is already on credit hold", id)
		}
		if buyer.Status != account.StatusActive {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d is %s", id, buyer.Status)
		}
		row, err := loadCreditRow(ctx, tx, buyer, vendor)
		if err != nil {
			return err
		}
		row.manual, row.releasedUntil, row.releaseReason = true, time.Time{}, ""
		if err := db.saveCreditRow(ctx, tx, id, row); err != nil {
			return err
		}
		n, err := db.hold(ctx, tx, buyer, row.terms, each)
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, id, path, "account.credit_hold", "account", id,
			map[string]any{"status": []account.Status{account.StatusActive, account.StatusCreditHold}, "reason": reason, "subscriptions_suspended": n})
	})
	if err != nil {
		return nil, err
	}
	return db.Credit(ctx, actor, id)
}

// ReleaseCreditHold releases account id from credit hold and resumes the
// services the hold suspended. With days > 0 the release is temporary:
// when the days are over and the debt that caused the hold is still
// there, the daily run puts the hold back. With days = 0 the release is
// for good for a hold put by hand; an automatic hold whose debt is still
// there comes back at the next daily run. The reason is required and
// audited. Errors: ENOTFOUND, EFORBIDDEN, EINVALID (days, reason),
// ECONFLICT (not on credit hold).
func (db *DB) ReleaseCreditHold(ctx context.Context, actor *account.Actor, id int64, days int, reason string, each SubscriptionHook) (*Credit, error) {
	var f marketplane.FieldErrors
	if days < 0 || days > 365 {
		f.Add("days", "must be between 0 and 365")
	}
	if reason == "" {
		f.Add("reason", "required")
	}
	if err := f.Err("release"); err != nil {
		return nil, err
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		buyer, vendor, path, err := db.holdTarget(ctx, tx, actor, account.ReleaseCredit, id)
		if err != nil {
			return err
		}
		if buyer.Status != account.StatusCreditHold {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d is not on credit hold", id)
		}
		row, err := loadCreditRow(ctx, tx, buyer, vendor)
		if err != nil {
			return err
		}
		day := db.today(vendor)
		row.manual = false
		row.releasedUntil, row.releaseReason = time.Time{}, reason
		if days > 0 {
			row.releasedUntil = day.AddDate(0, 0, days)
		}
		if err := db.saveCreditRow(ctx, tx, id, row); err != nil {
			return err
		}
		n, err := db.release(ctx, tx, buyer, each)
		if err != nil {
			return err
		}
		changes := map[string]any{"status": []account.Status{account.StatusCreditHold, account.StatusActive}, "reason": reason,
			"subscriptions_resumed": n}
		if days > 0 {
			changes["days"], changes["until"] = days, row.releasedUntil.Format(time.DateOnly)
		}
		return db.audit(ctx, tx, actor, id, path, "account.credit_release", "account", id, changes)
	})
	if err != nil {
		return nil, err
	}
	return db.Credit(ctx, actor, id)
}

// holdTarget authorizes act on account id for a hold change: never on
// one's own account, never the provider.
func (db *DB) holdTarget(ctx context.Context, tx *sql.Tx, actor *account.Actor, act account.Action, id int64) (buyer, vendor *account.Account, path string, err error) {
	t, err := db.authorize(ctx, tx, actor, act, id)
	if err != nil {
		return nil, nil, "", err
	}
	if !actor.System && account.Relate(actor.AccountPath, t.Path) == account.Self {
		return nil, nil, "", marketplane.Errorf(marketplane.EFORBIDDEN, "you may not change the credit hold of your own account")
	}
	if buyer, err = loadAccount(ctx, tx, id); err != nil {
		return nil, nil, "", err
	}
	if buyer.ParentID == 0 {
		return nil, nil, "", marketplane.Errorf(marketplane.ECONFLICT, "the provider's status cannot change")
	}
	if vendor, err = loadAccount(ctx, tx, buyer.ParentID); err != nil {
		return nil, nil, "", err
	}
	return buyer, vendor, t.Path, nil
}

// hold puts buyer on credit hold and suspends the services its terms say,
// returning how many.
func (db *DB) hold(ctx context.Context, tx *sql.Tx, buyer *account.Account, t account.Terms, each SubscriptionHook) (int, error) {
	if err := db.setStatus(ctx, tx, buyer, account.StatusCreditHold); err != nil {
		return 0, err
	}
	if err := db.notifyCreditHold(ctx, tx, buyer); err != nil {
		return 0, err
	}
	below := 0
	if buyer.Kind == account.Reseller && t.SuspendCustomers && t.Action() != account.BlockOrders {
		var err error
		if below, err = db.moveSubtree(ctx, tx, buyer, subscription.Active, "", subscription.Suspended, subscription.ReasonResellerHold, each); err != nil {
			return 0, err
		}
	}
	n, err := db.holdOwn(ctx, tx, buyer, t, each)
	return n + below, err
}

// holdOwn suspends what a hold of buyer suspends of its own services.
func (db *DB) holdOwn(ctx context.Context, tx *sql.Tx, buyer *account.Account, t account.Terms, each SubscriptionHook) (int, error) {
	switch t.Action() {
	case account.BlockOrders:
		return 0, nil
	case account.SuspendUnpaid:
		ids, err := queryAll(ctx, tx, func(r scanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		}, `SELECT DISTINCT s.id FROM subscriptions s JOIN documents d ON d.subscription_id = s.id
			WHERE s.customer_id = $1 AND d.account_id = s.customer_id AND s.status = 'active' AND d.type = 'invoice' AND d.status = 'open' ORDER BY s.id`, buyer.ID)
		if err != nil {
			return 0, fmt.Errorf("unpaid subscriptions of account %d: %w", buyer.ID, err)
		}
		return db.moveEach(ctx, tx, ids, subscription.Active, "", subscription.Suspended, subscription.ReasonCreditHold, each)
	default:
		n, _, err := db.followAccountHold(ctx, tx, buyer.ID, account.StatusActive, account.StatusCreditHold, each)
		return n, err
	}
}

// release lifts buyer's credit hold and resumes what the hold suspended.
func (db *DB) release(ctx context.Context, tx *sql.Tx, buyer *account.Account, each SubscriptionHook) (int, error) {
	if err := db.setStatus(ctx, tx, buyer, account.StatusActive); err != nil {
		return 0, err
	}
	_, n, err := db.followAccountHold(ctx, tx, buyer.ID, account.StatusCreditHold, account.StatusActive, each)
	if err != nil {
		return n, err
	}
	if buyer.Kind == account.Reseller {
		below, err := db.moveSubtree(ctx, tx, buyer, subscription.Suspended, subscription.ReasonResellerHold, subscription.Active, "", each)
		if err != nil {
			return n, err
		}
		n += below
	}
	// Pay-as-you-go services a top-up covered while the hold lasted come
	// back with its release.
	row, err := loadCreditRow(ctx, tx, buyer, nil)
	if err != nil || !row.paygShortSince.IsZero() {
		return n, err
	}
	ids, err := queryAll(ctx, tx, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, `SELECT id FROM subscriptions WHERE customer_id = $1 AND status = 'suspended' AND status_reason = $2 ORDER BY id`,
		buyer.ID, subscription.ReasonPAYGBalance)
	if err != nil {
		return n, fmt.Errorf("subscriptions of account %d: %w", buyer.ID, err)
	}
	m, err := db.moveEach(ctx, tx, ids, subscription.Suspended, subscription.ReasonPAYGBalance, subscription.Active, "", each)
	return n + m, err
}

func (db *DB) setStatus(ctx context.Context, tx *sql.Tx, a *account.Account, status account.Status) error {
	now := db.stamp()
	a.Status, a.Version, a.UpdatedAt = status, a.Version+1, now
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET status = $1, version = $2, updated_at = $3 WHERE id = $4`,
		status, a.Version, tv(now), a.ID); err != nil {
		return fmt.Errorf("set status of %d: %w", a.ID, err)
	}
	return nil
}

// moveSubtree moves the subscriptions of the customers below reseller in
// status from (and, with fromReason, suspended for it) as moveEach does.
func (db *DB) moveSubtree(ctx context.Context, tx *sql.Tx, reseller *account.Account, from subscription.Status, fromReason string,
	to subscription.Status, reason string, each SubscriptionHook) (int, error) {
	q := `SELECT s.id FROM subscriptions s JOIN accounts a ON a.id = s.customer_id
		WHERE a.path > $1 AND a.path < $2 AND s.status = $3`
	args := []any{reseller.Path, account.SubtreeEnd(reseller.Path), string(from)}
	if fromReason != "" {
		q += ` AND s.status_reason = $4`
		args = append(args, fromReason)
	}
	ids, err := queryAll(ctx, tx, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, q+` ORDER BY s.id`, args...)
	if err != nil {
		return 0, fmt.Errorf("subscriptions below account %d: %w", reseller.ID, err)
	}
	return db.moveEach(ctx, tx, ids, from, fromReason, to, reason, each)
}

// moveEach moves the subscriptions ids that are in status from (and, with
// reason, suspended for it) to status to with reason, one by one under
// lock, calling each; it returns how many moved. Their status events are
// emitted together at the end (one probe for endpoints, not one per
// subscription: the billing run's holds and pay-as-you-go suspensions
// come through here).
func (db *DB) moveEach(ctx context.Context, tx *sql.Tx, ids []int64, from subscription.Status, fromReason string,
	to subscription.Status, reason string, each SubscriptionHook) (int, error) {
	now := db.stamp()
	var moved []*subscription.Subscription
	for _, id := range ids {
		s, err := loadSubscription(ctx, tx, id, db.lockRows("s"))
		if err != nil {
			return len(moved), err
		}
		if s.Status != from || (fromReason != "" && s.StatusReason != fromReason) {
			continue
		}
		s.Status, s.StatusReason = to, reason
		if err := db.saveSubscription(ctx, tx, s, now); err != nil {
			return len(moved), err
		}
		if each != nil {
			if err := each(tx, s); err != nil {
				return len(moved), err
			}
		}
		moved = append(moved, s)
	}
	return len(moved), db.emitStatuses(ctx, tx, moved, from)
}

// reviewCredit applies buyer's terms on day: the automatic hold (put when
// an invoice is overdue beyond the grace days or, when the terms say so,
// the balance is beyond the credit limit, unless a temporary release
// runs; lifted when neither holds any more, unless put by hand) and the
// delayed suspension of pay-as-you-go services (suspended once the
// available balance has been short for the delay days, resumed when it
// is not short).
func (db *DB) reviewCredit(ctx context.Context, tx *sql.Tx, buyer, vendor *account.Account, day time.Time, run *billRun, each SubscriptionHook) error {
	if buyer.Status != account.StatusActive && buyer.Status != account.StatusCreditHold {
		return nil
	}
	c, err := db.credit(ctx, tx, buyer, vendor, day, run)
	if err != nil {
		return err
	}
	row, err := loadCreditRow(ctx, tx, buyer, vendor)
	if err != nil {
		return err
	}
	dirty := false
	if row.terms.Mode() == account.HoldAutomatic {
		owes := c.Overdue > 0 || (row.terms.HoldOnCreditLimit && c.Balance > c.CreditLimit)
		released := !row.releasedUntil.IsZero() && day.Before(row.releasedUntil)
		switch {
		case buyer.Status == account.StatusActive && owes && !released:
			if !row.releasedUntil.IsZero() {
				row.releasedUntil, row.releaseReason, dirty = time.Time{}, "", true
			}
			n, err := db.hold(ctx, tx, buyer, row.terms, each)
			if err != nil {
				return err
			}
			if err := db.audit(ctx, tx, account.SystemActor(), buyer.ID, buyer.Path, "account.credit_hold", "account", buyer.ID,
				map[string]any{"status": []account.Status{account.StatusActive, account.StatusCreditHold}, "overdue": c.Overdue.String(),
					"balance": c.Balance.String(), "subscriptions_suspended": n}); err != nil {
				return err
			}
		case buyer.Status == account.StatusCreditHold && !row.manual && !owes:
			n, err := db.release(ctx, tx, buyer, each)
			if err != nil {
				return err
			}
			if err := db.audit(ctx, tx, account.SystemActor(), buyer.ID, buyer.Path, "account.credit_release", "account", buyer.ID,
				map[string]any{"status": []account.Status{account.StatusCreditHold, account.StatusActive}, "reason": "paid",
					"subscriptions_resumed": n}); err != nil {
				return err
			}
		}
	}
	// Pay-as-you-go: short when usage outruns what the buyer has.
	short := c.Available < 0
	switch {
	case short && row.paygShortSince.IsZero():
		row.paygShortSince, dirty = day, true
	case !short && !row.paygShortSince.IsZero():
		row.paygShortSince, dirty = time.Time{}, true
	}
	payg, err := run.paygSubscriptions(ctx, tx, buyer.ID)
	if err != nil {
		return err
	}
	if short && !day.Before(row.paygShortSince.AddDate(0, 0, row.terms.PAYGSuspensionDelayDays)) {
		if _, err := db.moveEach(ctx, tx, payg, subscription.Active, "", subscription.Suspended, subscription.ReasonPAYGBalance, each); err != nil {
			return err
		}
	} else if !short && (buyer.Status == account.StatusActive || row.terms.Action() == account.BlockOrders) {
		// A top-up resumes pay-as-you-go services, but not while a hold
		// that suspends services lasts: its release resumes them.
		if _, err := db.moveEach(ctx, tx, payg, subscription.Suspended, subscription.ReasonPAYGBalance, subscription.Active, "", each); err != nil {
			return err
		}
	}
	if dirty {
		return db.saveCreditRow(ctx, tx, buyer.ID, row)
	}
	return nil
}

// paygSubscriptions are the ids of the live pay-as-you-go subscriptions
// of customer id.
func (r *billRun) paygSubscriptions(ctx context.Context, q querier, customerID int64) ([]int64, error) {
	subs, err := queryAll(ctx, q, func(s scanner) ([2]int64, error) {
		var v [2]int64
		return v, s.Scan(&v[0], &v[1])
	}, `SELECT id, plan_id FROM subscriptions WHERE customer_id = $1 AND status IN ('active', 'suspended') ORDER BY id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("subscriptions of account %d: %w", customerID, err)
	}
	var out []int64
	for _, s := range subs {
		p, err := r.plan(ctx, q, s[1])
		if err != nil {
			return nil, err
		}
		if p.Plan.Billing == catalog.PayAsYouGo {
			out = append(out, s[0])
		}
	}
	return out, nil
}

// rated is the usage of customer id's live subscriptions in their current
// periods up to day, rated at their plans' prices and not yet invoiced,
// and whether it has pay-as-you-go subscriptions.
func (r *billRun) rated(ctx context.Context, q querier, customerID int64, day time.Time) (money.Micros, bool, error) {
	subs, err := queryAll(ctx, q, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, `SELECT DISTINCT s.id FROM subscriptions s JOIN usage_records u ON u.subscription_id = s.id
		WHERE s.customer_id = $1 AND s.status IN ('active', 'suspended', 'graced') AND u.at >= s.period_start ORDER BY s.id`, customerID)
	if err != nil {
		return 0, false, fmt.Errorf("usage of account %d: %w", customerID, err)
	}
	var total money.Micros
	payg := false
	for _, id := range subs {
		sub, err := loadSubscription(ctx, q, id, "")
		if err != nil {
			return 0, false, err
		}
		amount, isPAYG, err := r.rate(ctx, q, sub, day)
		if err != nil {
			return 0, false, err
		}
		total += amount
		payg = payg || isPAYG
	}
	return total, payg, nil
}
