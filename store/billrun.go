package store

// The daily billing run, first slice: renewals of live subscriptions whose
// period has ended, their recurring fees and the usage of the period that
// closed, each on one invoice from the subscription's vendor. The rules of
// what a day charges are package billing's (billing.Due); this file walks
// the due subscriptions, feeds Due what it needs and stores what it says.
//
// Idempotence per date: a subscription is billed in one transaction that
// issues its invoice and moves its period on, so that a second run of the
// same date finds its next billing date in the future and leaves it alone.
// A run that stops halfway (a crash) resumes where it was by being run
// again: what was billed is no longer due.
//
// Not yet here (issue 5): renewal orders, expiry of subscriptions that do
// not renew (graced, suspended, terminated), trials converting to paid
// periods, frozen-price snapshots (the current plan's prices apply), due
// dates from payment terms, automatic payments and credit control.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/billing"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// billBatch is how many due subscriptions the run reads at once; none is
// held in memory beyond its batch.
const billBatch = 500

// maxPeriodsPerRun bounds the periods one subscription closes in one run
// (a subscription not billed for years, or a period of a day): beyond it
// the rest waits for the next run.
const maxPeriodsPerRun = 400

// BillRunResult is what a billing run did.
type BillRunResult struct {
	// On is the day billed.
	On time.Time
	// Subscriptions is how many subscriptions had a period closed and
	// moved on.
	Subscriptions int
	// Invoices is how many invoices were issued (a period whose lines are
	// all zero issues none).
	Invoices int
	// Totals is the sum of the invoices issued, by currency.
	Totals map[string]money.Micros
	// Failures are the subscriptions the run could not bill (nothing of
	// theirs was changed); the run went on with the others.
	Failures []BillFailure
	// Stages are the run's stages in the order they ran, with the time
	// each took.
	Stages []BillStage
}

// BillStage is one stage of a billing run and how long it took.
type BillStage struct {
	Name string // "renewals", "usage", "charges", "credit"
	Took time.Duration
}

// BillFailure is a subscription the run could not bill, and why.
type BillFailure struct {
	SubscriptionID int64
	Err            error
}

// BillDay bills the calendar day of on (its year, month and day, read in
// on's location, in every vendor's calendar): every live subscription
// (active, suspended or graced) that renews and whose next billing date is
// on or before that day has its ended periods closed by billing.Due, the
// invoice of each issued and its period moved on (with a pending change
// applied), in one transaction per subscription. Subscriptions are read in
// batches of 500 in id order. A subscription that cannot be billed (see
// billing.Due's errors) is reported in the result's Failures and left as
// it was, and the run goes on; the error returned is for the run as a
// whole (reading the due subscriptions, a cancelled ctx).
func (db *DB) BillDay(ctx context.Context, on time.Time) (BillRunResult, error) {
	y, m, d := on.Date()
	dayUTC := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	res := BillRunResult{On: dayUTC, Totals: map[string]money.Micros{}}
	run := &billRun{db: db, y: y, m: m, d: d, plans: map[int64]*planRow{}, classes: map[classKey]catalog.Class{}}
	// next_billing_at holds the vendor's day as midnight UTC: the days up
	// to and including the billed one are those before the next midnight.
	cutoff := dayUTC.AddDate(0, 0, 1)
	var after int64
	for {
		ids, err := db.dueSubscriptions(ctx, cutoff, after)
		if err != nil {
			return res, err
		}
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := run.bill(ctx, id, cutoff, &res); err != nil {
				res.Failures = append(res.Failures, BillFailure{SubscriptionID: id, Err: err})
			}
		}
		if len(ids) < billBatch {
			return res, nil
		}
		after = ids[len(ids)-1]
	}
}

// dueSubscriptions is the next batch of ids of subscriptions due before
// cutoff, above after. The status and next_billing_at conditions are the
// subscriptions_billing index's.
func (db *DB) dueSubscriptions(ctx context.Context, cutoff time.Time, after int64) ([]int64, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT s.id FROM subscriptions s
		WHERE s.status IN ('active', 'suspended', 'graced') AND s.next_billing_at < $1 AND s.auto_renew <> 'off' AND s.id > $2
		ORDER BY s.id LIMIT $3`, tv(cutoff), after, billBatch)
	if err != nil {
		return nil, fmt.Errorf("due subscriptions: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("due subscriptions: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// billRun is one run's state: the day and what it read once for all its
// subscriptions (plans are not changed by billing, so a plan read once
// serves the run).
type billRun struct {
	db      *DB
	y       int
	m       time.Month
	d       int
	plans   map[int64]*planRow
	classes map[classKey]catalog.Class
}

type classKey struct {
	owner int64
	key   string
}

// bill closes the ended periods of subscription id in one transaction.
func (r *billRun) bill(ctx context.Context, id int64, cutoff time.Time, res *BillRunResult) error {
	db := r.db
	var issued []*Document
	billed := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		issued, billed = nil, false
		sub, err := loadSubscription(ctx, tx, id, db.lockRows("s"))
		if err != nil {
			return err
		}
		// Read again under the lock: another run (or process) may have
		// billed it since the batch was read.
		if !sub.Live() || sub.AutoRenew == subscription.RenewOff || sub.NextBillingAt.IsZero() || !sub.NextBillingAt.Before(cutoff) {
			return nil
		}
		vendor, err := loadAccount(ctx, tx, sub.VendorID)
		if err != nil {
			return err
		}
		buyer, err := loadAccount(ctx, tx, sub.CustomerID)
		if err != nil {
			return err
		}
		terms := db.vendorTerms(vendor, buyer)
		on := time.Date(r.y, r.m, r.d, 0, 0, 0, 0, terms.Location)
		state, err := r.state(ctx, tx, sub)
		if err != nil {
			return err
		}
		usage, err := r.usage(ctx, tx, sub, state.Plan, cutoff)
		if err != nil {
			return err
		}
		now := db.stamp()
		for range maxPeriodsPerRun {
			b, err := billing.Due(state, usage, on, terms)
			if err != nil {
				return fmt.Errorf("subscription %d: %w", sub.ID, err)
			}
			if b.Closed.To.IsZero() {
				break
			}
			billed = true
			if b.Invoice != nil && !zeroLines(b.Invoice) {
				doc := DocumentFromQuote(DocInvoice, sub.VendorID, sub.CustomerID, b.Invoice)
				doc.IssuedOn = order.Day(on, terms.Location)
				if err := db.issueDocument(ctx, tx, doc, now); err != nil {
					return fmt.Errorf("subscription %d: invoice: %w", sub.ID, err)
				}
				issued = append(issued, doc)
			}
			state = b.Subscription
		}
		if !billed {
			return nil
		}
		sub.PeriodStart, sub.PeriodEnd, sub.NextBillingAt = state.PeriodStart, state.PeriodEnd, state.PeriodEnd
		if sub.Pending != nil && state.Pending == nil {
			// billing applied the pending change with the new period.
			if sub.Pending.PlanID != 0 {
				sub.PlanID = sub.Pending.PlanID
			}
			if sub.Pending.Resources != nil {
				sub.Resources = sub.Pending.Resources
			}
			sub.Pending = nil
		}
		return db.saveSubscription(ctx, tx, sub, now)
	})
	if err != nil {
		return err
	}
	if billed {
		res.Subscriptions++
	}
	for _, d := range issued {
		res.Invoices++
		res.Totals[d.Currency] += d.Total
	}
	return nil
}

// zeroLines reports whether every line of q is zero (golden rule 8: such a
// document is not issued).
func zeroLines(q *order.Quote) bool {
	for _, l := range q.Lines {
		if l.Amount != 0 {
			return false
		}
	}
	return true
}

// plan is plan id, read once per run.
func (r *billRun) plan(ctx context.Context, q querier, id int64) (*planRow, error) {
	if p, ok := r.plans[id]; ok {
		return p, nil
	}
	p, err := loadPlan(ctx, q, id)
	if err != nil {
		return nil, err
	}
	r.plans[id] = p
	return p, nil
}

// state is billing's view of sub: pricingState with its pending change.
func (r *billRun) state(ctx context.Context, q querier, sub *subscription.Subscription) (*order.Subscription, error) {
	cur, err := r.plan(ctx, q, sub.PlanID)
	if err != nil {
		return nil, fmt.Errorf("subscription %d: %w", sub.ID, err)
	}
	if _, ok := cur.Plan.Period(sub.Period); !ok {
		return nil, fmt.Errorf("subscription %d: period %q is not in plan %d", sub.ID, sub.Period, cur.ID)
	}
	st := pricingState(sub, cur.Plan)
	if p := sub.Pending; p != nil {
		pend := &order.Pending{On: p.On, Resources: p.Resources}
		if p.PlanID != 0 && p.PlanID != sub.PlanID {
			next, err := r.plan(ctx, q, p.PlanID)
			if err != nil {
				return nil, fmt.Errorf("subscription %d: pending change: %w", sub.ID, err)
			}
			pend.Plan = next.Plan
		}
		st.Pending = pend
	}
	return st, nil
}

// usage is the readings of sub from the start of its current period on,
// as billing's readings: the resource classes are those of the resource
// types of the provider at the root of plan's chain. A reading of a
// resource without a type counts as a counter when the connector said it
// is additive, else as a level.
func (r *billRun) usage(ctx context.Context, q querier, sub *subscription.Subscription, plan *catalog.Plan, cutoff time.Time) ([]billing.Reading, error) {
	owner, err := r.rootOwner(ctx, q, plan)
	if err != nil {
		return nil, fmt.Errorf("subscription %d: %w", sub.ID, err)
	}
	// A day's margin either side: readings are timestamps, periods are
	// the vendor's days; billing keeps those inside the closed periods.
	rows, err := q.QueryContext(ctx, `SELECT resource, value, additive, at FROM usage_records
		WHERE subscription_id = $1 AND at >= $2 AND at < $3 ORDER BY at, resource`,
		sub.ID, tv(sub.PeriodStart.AddDate(0, 0, -1)), tv(cutoff.AddDate(0, 0, 1)))
	if err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", sub.ID, err)
	}
	type raw struct {
		resource string
		value    int64
		additive bool
		at       time.Time
	}
	var recs []raw
	for rows.Next() {
		var u raw
		if err := rows.Scan(&u.resource, &u.value, &u.additive, ts(&u.at)); err != nil {
			rows.Close()
			return nil, fmt.Errorf("usage of subscription %d: %w", sub.ID, err)
		}
		recs = append(recs, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", sub.ID, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	vendor, err := loadAccount(ctx, q, sub.VendorID)
	if err != nil {
		return nil, err
	}
	loc := r.db.vendorTerms(vendor, nil).Location
	out := make([]billing.Reading, 0, len(recs))
	for _, u := range recs {
		class, err := r.class(ctx, q, owner, u.resource)
		if err != nil {
			return nil, err
		}
		if class == "" {
			class = catalog.ClassGauge
			if u.additive {
				class = catalog.ClassCounter
			}
		}
		out = append(out, billing.Reading{Resource: u.resource, On: order.Day(u.at, loc), Value: decimal.MustNew(u.value, 0), Class: class})
	}
	return out, nil
}

// rootOwner is the owner of the original plan at the root of plan's chain:
// the provider whose resource types the chain sells.
func (r *billRun) rootOwner(ctx context.Context, q querier, plan *catalog.Plan) (int64, error) {
	p := plan
	for range maxChain {
		if p.SourceID == 0 {
			return p.OwnerID, nil
		}
		src, err := r.plan(ctx, q, p.SourceID)
		if err != nil {
			return 0, fmt.Errorf("source of plan %d: %w", p.ID, err)
		}
		p = src.Plan
	}
	return 0, fmt.Errorf("plan %d: sources deeper than %d tiers", plan.ID, maxChain)
}

// class is the class of owner's resource type key, read once per run; ""
// when owner has no such type.
func (r *billRun) class(ctx context.Context, q querier, owner int64, key string) (catalog.Class, error) {
	k := classKey{owner, key}
	if c, ok := r.classes[k]; ok {
		return c, nil
	}
	var c catalog.Class
	err := q.QueryRowContext(ctx, `SELECT class FROM resource_types WHERE owner_id = $1 AND key = $2`, owner, key).Scan(&c)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("resource type %q: %w", key, err)
	}
	r.classes[k] = c
	return c, nil
}
