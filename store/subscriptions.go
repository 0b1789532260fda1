package store

// Subscriptions: made by sales orders and changed by orders (orders.go);
// read, listed, their auto-renewal set and their status moved between
// active and suspended here, one by one or all of a customer's with its
// account's holds (followAccountHold). Restoring a terminated subscription
// is an order (restore.go).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/subscription"
)

// subscriptionColumns are the columns scanSubscription reads, from
// subscriptions aliased s.
const subscriptionColumns = `s.id, s.customer_id, s.vendor_id, s.plan_id, s.period_key, s.status, s.status_reason,
	s.start_at, s.anchor_at, s.period_start, s.period_end, s.next_billing_at, s.auto_renew, s.renew_days, s.frozen_prices,
	s.resources, s.parameters, s.pending_change, s.connector, s.tenant_id, s.tenant_status, s.attributes,
	s.version, s.created_at, s.updated_at`

func scanSubscription(r scanner, extra ...any) (*subscription.Subscription, error) {
	s := &subscription.Subscription{}
	var resources, params, attrs string
	var pending sql.NullString
	dest := append([]any{&s.ID, &s.CustomerID, &s.VendorID, &s.PlanID, &s.Period, &s.Status, &s.StatusReason,
		ts(&s.Start), ts(&s.Anchor), ts(&s.PeriodStart), ts(&s.PeriodEnd), ts(&s.NextBillingAt), &s.AutoRenew, &s.RenewDays,
		&s.FrozenPrices, &resources, &params, &pending, &s.Connector, &s.TenantID, &s.TenantStatus, &attrs,
		&s.Version, ts(&s.CreatedAt), ts(&s.UpdatedAt)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	for _, j := range []struct {
		text string
		into any
	}{{resources, &s.Resources}, {params, &s.Parameters}, {attrs, &s.Attributes}} {
		if err := json.Unmarshal([]byte(j.text), j.into); err != nil {
			return nil, fmt.Errorf("subscription %d: %w", s.ID, err)
		}
	}
	if pending.Valid && pending.String != "null" {
		s.Pending = &subscription.PendingChange{}
		if err := json.Unmarshal([]byte(pending.String), s.Pending); err != nil {
			return nil, fmt.Errorf("subscription %d pending change: %w", s.ID, err)
		}
	}
	return s, nil
}

// lockRows is the dialect's row lock for a SELECT in a write transaction:
// "FOR UPDATE OF alias" on PostgreSQL, so that two orders of one
// subscription queue; nothing on SQLite, whose single writer holds the
// whole database for the transaction.
func (db *DB) lockRows(alias string) string {
	if db.Engine == Postgres {
		return " FOR UPDATE OF " + alias
	}
	return ""
}

// jsonText is v as JSON text for a JSON column; nil maps become {}.
func jsonText[M ~map[string]V, V any](m M) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func pendingText(p *subscription.PendingChange) (any, error) {
	if p == nil {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// subscriptionJSON encodes the JSON columns of s.
func subscriptionJSON(s *subscription.Subscription) (resources, params, attrs string, pending any, err error) {
	if resources, err = jsonText(s.Resources); err != nil {
		return
	}
	if params, err = jsonText(s.Parameters); err != nil {
		return
	}
	if attrs, err = jsonText(s.Attributes); err != nil {
		return
	}
	pending, err = pendingText(s.Pending)
	return
}

// insertSubscription writes a new subscription and fills its id.
func (db *DB) insertSubscription(ctx context.Context, tx *sql.Tx, s *subscription.Subscription) error {
	resources, params, attrs, pending, err := subscriptionJSON(s)
	if err != nil {
		return fmt.Errorf("new subscription: %w", err)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO subscriptions (customer_id, vendor_id, plan_id, period_key, status, status_reason,
		start_at, anchor_at, period_start, period_end, next_billing_at, auto_renew, renew_days, frozen_prices,
		resources, parameters, pending_change, connector, tenant_id, tenant_status, attributes, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23)
		RETURNING id`,
		s.CustomerID, s.VendorID, s.PlanID, s.Period, string(s.Status), s.StatusReason,
		tv(s.Start), tv(s.Anchor), tv(s.PeriodStart), tv(s.PeriodEnd), tv(s.NextBillingAt), string(s.AutoRenew), s.RenewDays,
		s.FrozenPrices, resources, params, pending, s.Connector, s.TenantID, s.TenantStatus, attrs, s.Version, tv(s.CreatedAt)).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("insert subscription: %w", err)
	}
	return nil
}

// saveSubscription writes what orders and status changes move (plan,
// limits, status, pending change, tenant, renewal) over the stored
// subscription s.ID at s.Version, and moves the version on. The caller
// read s in the same transaction with its row locked.
func (db *DB) saveSubscription(ctx context.Context, tx *sql.Tx, s *subscription.Subscription, now time.Time) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("subscription %d: %w", s.ID, err)
	}
	resources, params, attrs, pending, err := subscriptionJSON(s)
	if err != nil {
		return fmt.Errorf("subscription %d: %w", s.ID, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET plan_id = $1, status = $2, status_reason = $3, period_start = $4,
		period_end = $5, next_billing_at = $6, auto_renew = $7, renew_days = $8, resources = $9, parameters = $10,
		pending_change = $11, connector = $12, tenant_id = $13, tenant_status = $14, attributes = $15,
		version = version + 1, updated_at = $16, period_key = $19, anchor_at = $20 WHERE id = $17 AND version = $18`,
		s.PlanID, string(s.Status), s.StatusReason, tv(s.PeriodStart), tv(s.PeriodEnd), tv(s.NextBillingAt),
		string(s.AutoRenew), s.RenewDays, resources, params, pending, s.Connector, s.TenantID, s.TenantStatus, attrs,
		tv(now), s.ID, s.Version, s.Period, tv(s.Anchor))
	if err != nil {
		return fmt.Errorf("save subscription %d: %w", s.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d was changed meanwhile; read it again", s.ID)
	}
	s.Version, s.UpdatedAt = s.Version+1, now
	return nil
}

// loadSubscription loads subscription id; suffix is appended to the query
// (a row lock).
func loadSubscription(ctx context.Context, q querier, id int64, suffix string) (*subscription.Subscription, error) {
	s, err := scanSubscription(q.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s WHERE s.id = $1`+suffix, id))
	if err != nil {
		return nil, notFound(err, "subscription")
	}
	return s, nil
}

// subscriptionFor loads subscription id with its customer's account and
// authorizes act on the customer (ENOTFOUND, worded as for a missing
// subscription, when out of reach). lock locks the subscription's row for
// the transaction.
func (db *DB) subscriptionFor(ctx context.Context, q querier, actor *account.Actor, act account.Action, id int64, lock bool) (*subscription.Subscription, *account.Account, error) {
	suffix := ""
	if lock {
		suffix = db.lockRows("s")
	}
	s, err := loadSubscription(ctx, q, id, suffix)
	if err != nil {
		return nil, nil, err
	}
	c, err := loadAccount(ctx, q, s.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	if err := account.Authorize(actor, act, account.Target{AccountID: c.ID, Path: c.Path}); err != nil {
		return nil, nil, hideAs(err, "subscription")
	}
	return s, c, nil
}

// Subscription returns subscription id if the actor may view the customer's
// subscriptions (ENOTFOUND otherwise).
func (db *DB) Subscription(ctx context.Context, actor *account.Actor, id int64) (*subscription.Subscription, error) {
	s, _, err := db.subscriptionFor(ctx, db.Read, actor, account.ViewSubscriptions, id, false)
	return s, err
}

// SubscriptionFilter selects subscriptions. With CustomerID the actor needs
// to view that customer's subscriptions; with VendorID (and no customer)
// that vendor's account (its sales); with neither, the list is the
// subscriptions of the customers in the actor's reach, found by one range
// of the accounts' paths. Pages are newest first.
type SubscriptionFilter struct {
	CustomerID int64
	VendorID   int64
	PlanID     int64
	Status     subscription.Status
	// BeforeID is the cursor: the id of the last subscription of the
	// previous page.
	BeforeID int64
	Limit    int
}

// Subscriptions lists subscriptions in the actor's reach.
func (db *DB) Subscriptions(ctx context.Context, actor *account.Actor, f SubscriptionFilter) ([]*subscription.Subscription, error) {
	sc, err := db.listScope(ctx, actor, account.ViewSubscriptions, "s", f.CustomerID, f.VendorID)
	if err != nil {
		return nil, err
	}
	if f.PlanID != 0 {
		sc.where("s.plan_id", f.PlanID)
	}
	if f.Status != "" {
		sc.where("s.status", string(f.Status))
	}
	if f.BeforeID != 0 {
		sc.args = append(sc.args, f.BeforeID)
		sc.conds = append(sc.conds, fmt.Sprintf("s.id < $%d", len(sc.args)))
	}
	q := `SELECT ` + subscriptionColumns + ` FROM subscriptions s` + sc.sql("s", clampLimit(f.Limit))
	rows, err := db.Read.QueryContext(ctx, q, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return scanSubscriptions(rows)
}

func scanSubscriptions(rows *sql.Rows) ([]*subscription.Subscription, error) {
	defer rows.Close()
	out := []*subscription.Subscription{}
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("subscriptions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SetAutoRenew sets how subscription id renews: off, or before its
// expiration by days (0: on the day it expires). The actor needs the
// change-auto-renew privilege on the customer. Errors: ENOTFOUND,
// EFORBIDDEN, EINVALID ("auto_renew", "renew_days"), ECONFLICT (a
// terminated subscription).
func (db *DB) SetAutoRenew(ctx context.Context, actor *account.Actor, id int64, mode subscription.AutoRenew, days int) (*subscription.Subscription, error) {
	var s *subscription.Subscription
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var c *account.Account
		var err error
		if s, c, err = db.subscriptionFor(ctx, tx, actor, account.ChangeAutoRenw, id, true); err != nil {
			return err
		}
		if err := subscription.CheckAutoRenew(mode, days); err != nil {
			return err
		}
		if s.Status == subscription.Terminated {
			return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d is terminated; it does not renew", s.ID)
		}
		old := []any{s.AutoRenew, s.RenewDays}
		if s.AutoRenew == mode && s.RenewDays == days {
			return nil
		}
		s.AutoRenew, s.RenewDays = mode, days
		if err := db.saveSubscription(ctx, tx, s, db.stamp()); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, c.ID, c.Path, "subscription.auto_renew", "subscription", s.ID,
			map[string]any{"auto_renew": []any{old[0], mode}, "renew_days": []any{old[1], days}})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SetSubscriptionStatus suspends or resumes subscription id, and lets
// billing (Marketplane itself) move expired subscriptions through graced,
// suspended and terminated. enqueue runs in the same transaction with the
// changed subscription: the provisioning task that suspends or resumes the
// service at the connector.
//
//   - The vendor's staff (accounts above the customer, managing its
//     subscriptions) suspend an active or graced subscription and resume a
//     suspended one; reason defaults to subscription.ReasonStaff.
//   - Marketplane itself (account.SystemActor: credit hold, billing) may
//     make every move of subscription.Transition except those that belong
//     to orders: into or out of pending, and restoring a terminated one.
//   - A customer does not suspend or resume its own subscriptions
//     (EFORBIDDEN).
//
// Errors: ENOTFOUND, EFORBIDDEN, EINVALID (status), ECONFLICT (a move the
// state machine or this method refuses).
func (db *DB) SetSubscriptionStatus(ctx context.Context, actor *account.Actor, id int64, status subscription.Status, reason string,
	enqueue func(tx *sql.Tx, s *subscription.Subscription) error) (*subscription.Subscription, error) {
	var s *subscription.Subscription
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var c *account.Account
		var err error
		if s, c, err = db.subscriptionFor(ctx, tx, actor, account.ManageSubscriptions, id, true); err != nil {
			return err
		}
		if err := staffOnly(actor, c.Path, "suspend or resume subscriptions"); err != nil {
			return err
		}
		from := s.Status
		if err := subscription.Transition(from, status); err != nil {
			return fmt.Errorf("subscription %d: %w", s.ID, err)
		}
		switch {
		case from == subscription.Pending || from == subscription.Terminated:
			return marketplane.Errorf(marketplane.ECONFLICT, "a %s subscription changes through its orders", from)
		case actor.System:
		case status == subscription.Suspended:
		case status == subscription.Active && from == subscription.Suspended:
		default:
			return marketplane.Errorf(marketplane.ECONFLICT, "staff suspend and resume subscriptions; %s → %s is billing's or an order's", from, status)
		}
		if reason == "" && status == subscription.Suspended && !actor.System {
			reason = subscription.ReasonStaff
		}
		if status == subscription.Active {
			reason = ""
		}
		s.Status, s.StatusReason = status, reason
		if err := db.saveSubscription(ctx, tx, s, db.stamp()); err != nil {
			return err
		}
		if err := db.emitStatus(ctx, tx, s, from, c.Path); err != nil {
			return err
		}
		if enqueue != nil {
			if err := enqueue(tx, s); err != nil {
				return fmt.Errorf("queue subscription %d: %w", s.ID, err)
			}
		}
		return db.audit(ctx, tx, actor, c.ID, c.Path, "subscription.status", "subscription", s.ID,
			map[string]any{"status": []subscription.Status{from, status}, "reason": reason})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// RecordTenantStatus records the tenant status the connector reported for
// subscription id once it applied the subscription's status (system use:
// the orchestrator, after suspending, resuming or deleting the service),
// so that a suspended subscription's service reads "suspended", not the
// "ready" of its provisioning. applied is the subscription status the
// connector was asked to follow: when the subscription has moved on since
// (a resume that overtook the suspend), the late answer is not recorded —
// the task of the newer status records its own. Recording moves the
// version on, as every change of what the subscription shows does.
// Errors: ENOTFOUND, EINVALID (tenant status not one of the protocol's).
func (db *DB) RecordTenantStatus(ctx context.Context, id int64, applied subscription.Status, tenantStatus string) (*subscription.Subscription, error) {
	if !connector.ValidStatus(tenantStatus) {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid tenant status",
			Fields: map[string]string{"tenant_status": fmt.Sprintf("%q is not a tenant status of the connector protocol", tenantStatus)}}
	}
	var s *subscription.Subscription
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if s, err = loadSubscription(ctx, tx, id, db.lockRows("s")); err != nil {
			return err
		}
		if s.Status != applied || s.TenantStatus == tenantStatus {
			return nil
		}
		s.TenantStatus = tenantStatus
		return db.saveSubscription(ctx, tx, s, db.stamp())
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// reasonAdminHold is the status reason of a subscription suspended because
// its account went on administrative hold. It differs from
// subscription.ReasonStaff on purpose: releasing the hold resumes what the
// hold suspended, never what staff suspended one by one for reasons of
// their own. (It belongs with the subscription package's reasons; it is
// here until that package takes it.)
const reasonAdminHold = "admin_hold"

// holdReasons are the status reasons of subscriptions suspended by their
// account's hold, by the hold.
var holdReasons = map[account.Status]string{
	account.StatusCreditHold: subscription.ReasonCreditHold,
	account.StatusAdminHold:  reasonAdminHold,
}

// holdBatch bounds how many of a customer's subscriptions a hold moves at
// once: a customer may have very many, and none is held in memory beyond
// its batch.
const holdBatch = 500

// followAccountHold makes the subscriptions of customer customerID follow
// its account's move from old to status, in tx: a hold (credit or
// administrative) suspends its active subscriptions with the hold's
// reason; the release of a hold (back to active) resumes those suspended
// by a hold, and only those. each runs per changed subscription (its
// status task); nil queues nothing. Graced subscriptions are left alone:
// they are billing's (expired), and a release must not make them active.
// Other moves (cancellation, pending) change no subscription.
func (db *DB) followAccountHold(ctx context.Context, tx *sql.Tx, customerID int64, old, status account.Status,
	each func(tx *sql.Tx, s *subscription.Subscription) error) (suspended, resumed int, err error) {
	if reason, ok := holdReasons[status]; ok {
		suspended, err = db.moveSubscriptions(ctx, tx, customerID, subscription.Active, nil, subscription.Suspended, reason, each)
		return suspended, 0, err
	}
	if _, wasHeld := holdReasons[old]; wasHeld && status == account.StatusActive {
		// Both holds' reasons: an account moved from one hold to the other
		// keeps the subscriptions the first one suspended.
		reasons := []string{subscription.ReasonCreditHold, reasonAdminHold}
		resumed, err = db.moveSubscriptions(ctx, tx, customerID, subscription.Suspended, reasons, subscription.Active, "", each)
		return 0, resumed, err
	}
	return 0, 0, nil
}

// moveSubscriptions moves the subscriptions of customer customerID in
// status from (and, with reasons, suspended for one of them) to status to
// with reason, holdBatch at a time in id order: each batch is read with
// its rows locked, changed by one UPDATE and handed to each one by one. It
// returns how many moved.
func (db *DB) moveSubscriptions(ctx context.Context, tx *sql.Tx, customerID int64, from subscription.Status, reasons []string,
	to subscription.Status, reason string, each func(tx *sql.Tx, s *subscription.Subscription) error) (int, error) {
	cond := `customer_id = $1 AND status = $2`
	args := []any{customerID, string(from)}
	if len(reasons) > 0 {
		marks := make([]string, len(reasons))
		for i, r := range reasons {
			args = append(args, r)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		cond += ` AND status_reason IN (` + strings.Join(marks, ", ") + `)`
	}
	n := len(args)
	batchSQL := fmt.Sprintf(`SELECT %s FROM subscriptions s WHERE %s AND s.id > $%d ORDER BY s.id LIMIT %d%s`,
		subscriptionColumns, cond, n+1, holdBatch, db.lockRows("s"))
	updateSQL := fmt.Sprintf(`UPDATE subscriptions SET status = $%d, status_reason = $%d, version = version + 1, updated_at = $%d
		WHERE %s AND id > $%d AND id <= $%d`, n+1, n+2, n+3, cond, n+4, n+5)
	now := db.stamp()
	moved := 0
	var after int64
	for {
		rows, err := tx.QueryContext(ctx, batchSQL, append(slices.Clone(args), after)...)
		if err != nil {
			return moved, fmt.Errorf("subscriptions of customer %d: %w", customerID, err)
		}
		batch, err := scanSubscriptions(rows)
		if err != nil || len(batch) == 0 {
			return moved, err
		}
		last := batch[len(batch)-1].ID
		res, err := tx.ExecContext(ctx, updateSQL, append(slices.Clone(args), string(to), reason, tv(now), after, last)...)
		if err != nil {
			return moved, fmt.Errorf("%s subscriptions of customer %d: %w", to, customerID, err)
		}
		// The batch's rows are locked; a count that differs means a
		// subscription appeared in the batch's range meanwhile, which its
		// hook would miss.
		if got, _ := res.RowsAffected(); got != int64(len(batch)) {
			return moved, marketplane.Errorf(marketplane.ECONFLICT,
				"the subscriptions of customer %d changed meanwhile; try again", customerID)
		}
		for _, s := range batch {
			s.Status, s.StatusReason, s.Version, s.UpdatedAt = to, reason, s.Version+1, now
			if each != nil {
				if err := each(tx, s); err != nil {
					return moved, fmt.Errorf("queue subscription %d: %w", s.ID, err)
				}
			}
		}
		if err := db.emitStatuses(ctx, tx, batch, from); err != nil {
			return moved, err
		}
		moved += len(batch)
		if len(batch) < holdBatch {
			return moved, nil
		}
		after = last
	}
}
