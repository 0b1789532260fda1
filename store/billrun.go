package store

// The daily billing run: renewals of live subscriptions whose period has
// ended, each an RN order with the customer's invoice from its vendor and
// every tier's invoice to the tier below; the expiry of subscriptions that
// do not renew (graced, suspended, terminated); trials converting to their
// paid periods; pending changes taking effect; due dates from payment
// terms; consolidated statements; automatic charges from prepaid funds;
// the usage of current periods; credit holds and releases. The rules of
// what a day charges are package billing's (billing.Due); this file walks
// the due subscriptions, feeds Due what it needs and stores what it says.
//
// Idempotence per date: the transaction that issues a subscription's
// invoices also moves its period on (renewals go in chunks of billChunk
// subscriptions per transaction), so that a second run of the same date
// finds its next billing date in the future and leaves it alone. A run
// that stops halfway (a crash) resumes where it was by being run again:
// what was billed is no longer due.
//
// Not here: frozen prices. Renewals are priced at the current plan's
// prices, because no snapshot of the plan as sold is stored: the
// subscriptions' frozen_prices flag is carried to pricing
// (order.Subscription.FrozenPrices) but nothing sets it yet.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
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
	// Charged is how many buyers had invoices paid from their prepaid
	// funds by automatic charges.
	Charged int
	// Stages are the run's stages in the order they ran, with the time
	// each took.
	Stages []BillStage
	// Held are the buyers the run put on credit hold and Released those
	// whose hold it lifted, in the order it did so.
	Held, Released []int64
	// Changed are the subscriptions whose status the run changed (expiry,
	// the suspensions and resumptions of holds and of pay-as-you-go
	// shortfalls), in the order it changed them; a subscription changed
	// twice in a run is there twice.
	Changed []BillChange
}

// BillChange is a subscription's status changed by a billing run.
type BillChange struct {
	SubscriptionID int64
	CustomerID     int64
	PlanID         int64
	To             subscription.Status
	Reason         string
}

// BillStage is one stage of a billing run and how long it took.
type BillStage struct {
	Name string // "renewals", "statements", "expiry", "charges", "usage", "credit"
	Took time.Duration
}

// BillFailure is a subscription the run could not bill, and why.
type BillFailure struct {
	SubscriptionID int64 // the subscription, or 0 for a buyer's failure
	AccountID      int64 // the buyer whose charge or credit review failed
	Err            error
}

// BillOptions tune a billing run.
type BillOptions struct {
	// OnSubscription runs for every subscription the run suspends,
	// resumes or ends, in the transaction of the change: the task that
	// applies it at the connector. nil means none.
	OnSubscription SubscriptionHook
	// Zone, when set, bills only the sellers in that IANA time zone (and
	// their buyers): the periodic task runs each zone's day when it begins
	// there.
	Zone string
	// Shard and Shards split the run across processes: with Shards > 1
	// this run takes the subscriptions and buyers whose id is Shard modulo
	// Shards (0 ≤ Shard < Shards). The parts may run at once.
	Shard, Shards int
}

// check validates the options.
func (o BillOptions) check() error {
	if o.Shards < 0 || o.Shard < 0 || (o.Shards > 1 && o.Shard >= o.Shards) || (o.Shards <= 1 && o.Shard != 0) {
		return marketplane.Errorf(marketplane.EINVALID, "shard %d of %d: want 0 ≤ shard < shards", o.Shard, o.Shards)
	}
	return nil
}

// BillDay bills the calendar day of on as BillDayWith without hooks.
func (db *DB) BillDay(ctx context.Context, on time.Time) (BillRunResult, error) {
	return db.BillDayWith(ctx, on, BillOptions{})
}

// BillDayWith runs the daily billing of the calendar day of on (its year,
// month and day, read in on's location, in every vendor's calendar), for
// every tier at once, in stages:
//
//   - renewals: every live subscription (active, suspended or graced)
//     that renews and whose next billing date is on or before that day
//     has its ended periods closed by billing.Due; the invoice of each is
//     issued to the customer and each tier above its vendor invoices the
//     tier below at its own price of the source plan, on the same dates;
//     the period moves on (with a pending change applied, a trial turned
//     into its paid period), billChunk subscriptions per transaction;
//   - statements: buyers of sellers whose statement day it is get their
//     waiting charges in one invoice;
//   - expiry: subscriptions that do not renew and whose period has ended
//     go graced, then suspended after the vendor's grace days, then
//     terminated after its hold days;
//   - charges: open invoices whose charge day has come are paid from the
//     buyer's prepaid funds and credits (automatic charge), one
//     transaction per buyer;
//   - usage: the usage of the current periods is rated for every buyer
//     that has some; a buyer whose available balance no longer covers it
//     has its pay-as-you-go services suspended after its delay days;
//   - credit: buyers with an invoice overdue beyond their grace days go on
//     credit hold, those whose temporary release ended come back on hold,
//     those that no longer owe are released.
//
// Subscriptions and buyers are read in batches of 500 in id order;
// renewals are written billChunk subscriptions to a transaction (a chunk
// that fails is billed again one subscription to a transaction), the
// other stages one subscription or buyer to a transaction, so panels and
// the API are never locked out for long. Every stage is idempotent per
// date: what was billed, charged or held is no longer due, so a second
// run of the same date changes nothing and a run that stopped halfway (a
// crash) finishes by being run again. A subscription or buyer that cannot be billed is
// reported in Failures and left as it was; the run goes on.
func (db *DB) BillDayWith(ctx context.Context, on time.Time, opt BillOptions) (BillRunResult, error) {
	if err := opt.check(); err != nil {
		return BillRunResult{}, err
	}
	y, m, d := on.Date()
	dayUTC := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	res := BillRunResult{On: dayUTC, Totals: map[string]money.Micros{}}
	run := newBillRun(db, dayUTC)
	run.opt = opt
	// Every status change of the run comes through its hook: the run
	// notes it for its result, kept only once its transaction commits
	// (see keep).
	run.each = func(tx *sql.Tx, sub *subscription.Subscription) error {
		run.pending.Changed = append(run.pending.Changed, BillChange{SubscriptionID: sub.ID, CustomerID: sub.CustomerID,
			PlanID: sub.PlanID, To: sub.Status, Reason: sub.StatusReason})
		if opt.OnSubscription != nil {
			return opt.OnSubscription(tx, sub)
		}
		return nil
	}
	run.res = &res
	stages := []struct {
		name string
		fn   func(context.Context, *BillRunResult) error
	}{
		{"renewals", run.renewals},
		{"statements", run.statements},
		{"expiry", run.expiry},
		{"charges", run.charges},
		{"usage", run.usageStage},
		{"credit", run.creditStage},
	}
	for _, st := range stages {
		start := time.Now()
		err := st.fn(ctx, &res)
		res.Stages = append(res.Stages, BillStage{Name: st.name, Took: time.Since(start)})
		if err != nil {
			return res, fmt.Errorf("billing %s, %s: %w", dayUTC.Format(time.DateOnly), st.name, err)
		}
	}
	return res, nil
}

// newBillRun is a run of the day held as midnight UTC.
func newBillRun(db *DB, day time.Time) *billRun {
	y, m, d := day.Date()
	return &billRun{db: db, y: y, m: m, d: d, day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		plans: map[int64]*planRow{}, classes: map[classKey]catalog.Class{}, sellers: map[int64]*account.Account{}, terms: map[int64]*account.Terms{},
		reviewed: map[int64]bool{}}
}

// renewals is the renewals stage.
func (r *billRun) renewals(ctx context.Context, res *BillRunResult) error {
	// next_billing_at holds the vendor's day as midnight UTC: the days up
	// to and including the billed one are those before the next midnight.
	cutoff := r.day.AddDate(0, 0, 1)
	var after int64
	for {
		cond, args := r.scope("s.vendor_id", "s.id", 3)
		ids, err := r.db.ids(ctx, `SELECT s.id FROM subscriptions s
			WHERE s.status IN ('active', 'suspended', 'graced') AND s.next_billing_at < $1 AND s.auto_renew <> 'off' AND s.id > $2`+cond+`
			ORDER BY s.id LIMIT $3`, append([]any{tv(cutoff), after, billBatch}, args...)...)
		if err != nil {
			return err
		}
		if err := r.billMany(ctx, ids, cutoff, res); err != nil {
			return err
		}
		if err := r.freshStatistics(ctx, res.Invoices); err != nil {
			return err
		}
		if len(ids) < billBatch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// scope is the condition that keeps a stage's rows to the run's zone
// and shard: vendorCol holds the seller's id, idCol the id the run is
// sharded on; n placeholders are taken already. Conditions are added only
// when set, so that PostgreSQL's cached plans stay those of the plain
// query.
func (r *billRun) scope(vendorCol, idCol string, n int) (string, []any) {
	var cond string
	var args []any
	if r.opt.Zone != "" {
		args = append(args, r.opt.Zone)
		cond += fmt.Sprintf(" AND %s IN (SELECT id FROM accounts WHERE time_zone = $%d)", vendorCol, n+len(args))
	}
	if r.opt.Shards > 1 {
		args = append(args, r.opt.Shards, r.opt.Shard)
		cond += fmt.Sprintf(" AND %s %% $%d = $%d", idCol, n+len(args)-1, n+len(args))
	}
	return cond, args
}

// ids runs a query of one id column.
func (db *DB) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	out, err := queryAll(ctx, db.Read, func(r scanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	return out, nil
}

// billRun is one run's state: the day and what it read once for all its
// subscriptions (plans are not changed by billing, so a plan read once
// serves the run; sellers' settings likewise).
type billRun struct {
	db      *DB
	y       int
	m       time.Month
	d       int
	day     time.Time // midnight UTC of the billed day
	each    SubscriptionHook
	opt     BillOptions
	plans   map[int64]*planRow
	classes map[classKey]catalog.Class
	sellers map[int64]*account.Account
	terms   map[int64]*account.Terms // resellers' terms as buyers
	// analyzed is the count of documents written at the last refresh of
	// the planner's statistics (PostgreSQL).
	analyzed int
	// reviewed are the buyers whose credit the usage stage reviewed; the
	// credit stage does not review them again.
	reviewed map[int64]bool
	// pending is what the transaction under way changed (holds, statuses);
	// keep adds it to res once that transaction has committed.
	pending BillRunResult
	res     *BillRunResult
}

// keep ends a transaction of the run whose outcome is err: the changes it
// noted go to the run's result when it committed, and are forgotten when
// it rolled back.
func (r *billRun) keep(err error) error {
	if err == nil && r.res != nil {
		r.res.Held = append(r.res.Held, r.pending.Held...)
		r.res.Released = append(r.res.Released, r.pending.Released...)
		r.res.Changed = append(r.res.Changed, r.pending.Changed...)
	}
	r.pending = BillRunResult{}
	return err
}

type classKey struct {
	owner int64
	key   string
}

// seller is account id (a vendor), read once per run.
func (r *billRun) seller(ctx context.Context, q querier, id int64) (*account.Account, error) {
	if a, ok := r.sellers[id]; ok {
		return a, nil
	}
	a, err := loadAccount(ctx, q, id)
	if err != nil {
		return nil, err
	}
	r.sellers[id] = a
	return a, nil
}

// documentFor is the document of a day's quote q from vendor to buyer for
// subscription subID: an invoice due after the buyer's net days and
// charged after its terms' delay, or a credit memo when q credits.
func documentFor(ctx context.Context, q querier, seller, buyer *account.Account, subID int64, quote *order.Quote, on time.Time, terms *account.Terms) (*Document, error) {
	typ := DocInvoice
	if quote.Total < 0 {
		typ = DocCreditMemo
	}
	doc := DocumentFromQuote(typ, seller.ID, buyer.ID, quote)
	doc.IssuedOn, doc.SubscriptionID = on, subID
	if typ == DocInvoice {
		if terms == nil {
			row, err := loadCreditRow(ctx, q, buyer, seller)
			if err != nil {
				return nil, err
			}
			terms = &row.terms
		}
		if buyer.PaymentTermsDays > 0 {
			doc.DueOn = on.AddDate(0, 0, buyer.PaymentTermsDays)
		}
		doc.ChargeOn = terms.ChargeOn(on)
	}
	return doc, nil
}

// subBilled is what billing one subscription did.
type subBilled struct {
	closed bool // a period closed
	issued []*Document
}

func (b subBilled) count(res *BillRunResult) {
	if b.closed {
		res.Subscriptions++
	}
	for _, d := range b.issued {
		res.Invoices++
		res.Totals[d.Currency] += d.Total
	}
}

// billChunk is how many subscriptions the renewals stage bills in one
// transaction: a commit per subscription would cost more than the
// subscription's own writes, a long transaction would hold the writer.
const billChunk = 50

// billMany bills ids in transactions of billChunk. A chunk that fails is
// rolled back whole and its subscriptions are billed again as chunks of
// one, each in its own transaction, through the same writer: the one
// that cannot be billed is reported and left as it was, the others are
// billed once. There is no second way to write a renewal, so the rare
// path writes the same rows as the common one.
func (r *billRun) billMany(ctx context.Context, ids []int64, cutoff time.Time, res *BillRunResult) error {
	for start := 0; start < len(ids); start += billChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := ids[start:min(start+billChunk, len(ids))]
		outs, err := r.billChunk(ctx, chunk, cutoff)
		if err == nil {
			for _, o := range outs {
				o.count(res)
			}
			continue
		}
		if len(chunk) == 1 {
			res.Failures = append(res.Failures, BillFailure{SubscriptionID: chunk[0], Err: err})
			continue
		}
		for _, id := range chunk {
			// A run stopped (shutdown, timeout) is not a failure of each
			// subscription left: the next run bills them.
			if err := ctx.Err(); err != nil {
				return err
			}
			outs, err := r.billChunk(ctx, []int64{id}, cutoff)
			if err != nil {
				res.Failures = append(res.Failures, BillFailure{SubscriptionID: id, Err: err})
				continue
			}
			outs[0].count(res)
		}
	}
	return nil
}

// billChunk bills the subscriptions ids in one transaction: their reads
// ahead, their pricing and one flush of their writes. It returns what
// each did, in ids' order, once the transaction has committed.
func (r *billRun) billChunk(ctx context.Context, ids []int64, cutoff time.Time) ([]subBilled, error) {
	outs := make([]subBilled, 0, len(ids))
	err := r.db.inTx(ctx, func(tx *sql.Tx) error {
		w, err := r.readAhead(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			out, err := r.billIn(ctx, tx, id, cutoff, w)
			if err != nil {
				return err
			}
			outs = append(outs, out)
		}
		return w.flush(ctx, r.db, tx, r.db.stamp())
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// billIn prices the ended periods of subscription id for w's chunk: the
// subscription, its customer and terms come from w's read ahead, its
// orders, documents and charges are left to w's flush, and the
// subscription's new period is saved in tx.
func (r *billRun) billIn(ctx context.Context, tx *sql.Tx, id int64, cutoff time.Time, w *chunkWriter) (subBilled, error) {
	db := r.db
	var issued []*Document
	closed := false
	err := func() error {
		sub := w.subs[id]
		if sub == nil {
			return marketplane.Errorf(marketplane.ENOTFOUND, "subscription %d not found", id)
		}
		// Read again under the lock: another run (or process) may have
		// billed it since the batch was read.
		if !sub.Live() || sub.AutoRenew == subscription.RenewOff || sub.NextBillingAt.IsZero() || !sub.NextBillingAt.Before(cutoff) {
			return nil
		}
		vendor, err := r.seller(ctx, tx, sub.VendorID)
		if err != nil {
			return err
		}
		buyer := w.buyers[sub.CustomerID]
		if buyer == nil {
			return marketplane.Errorf(marketplane.ENOTFOUND, "account %d not found", sub.CustomerID)
		}
		terms := db.vendorTerms(vendor, buyer)
		on := time.Date(r.y, r.m, r.d, 0, 0, 0, 0, terms.Location)
		day := order.Day(on, terms.Location)
		state, err := r.state(ctx, tx, sub)
		if err != nil {
			return err
		}
		chain, err := r.chain(ctx, tx, state.Plan)
		if err != nil {
			return fmt.Errorf("subscription %d: %w", sub.ID, err)
		}
		var pendingChain order.Chain
		if state.Pending != nil && state.Pending.Plan != nil {
			if pendingChain, err = r.chain(ctx, tx, state.Pending.Plan); err != nil {
				return fmt.Errorf("subscription %d: pending change: %w", sub.ID, err)
			}
		}
		// Readings matter only to plans that charge for usage.
		var usage []billing.Reading
		if metered(state.Plan) || (state.Pending != nil && state.Pending.Plan != nil && metered(state.Pending.Plan)) {
			if usage, err = r.usage(ctx, tx, sub, state.Plan, cutoff); err != nil {
				return err
			}
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
			closed = true
			// The renewal is an RN order of the vendor, completed as it is
			// billed, with every tier's side: what the customer sees in
			// its orders and each document points at.
			rn := &Order{Type: order.RN, VendorID: sub.VendorID, CustomerID: sub.CustomerID, SubscriptionID: sub.ID,
				PlanID: b.Subscription.Plan.ID, Period: b.Subscription.Period, Quote: b.Invoice,
				Details: OrderDetails{On: on, EffectiveOn: b.Subscription.PeriodStart}}
			if rn.Quote == nil {
				rn.Quote = &order.Quote{Currency: state.Plan.Currency}
			}
			// Each tier above the vendor bills the tier below for the
			// same period at its own price of the source plan.
			for i := 1; i < len(chain); i++ {
				ts := state.Clone()
				ts.Plan = chain[i]
				if ts.Pending != nil && pendingChain != nil && i < len(pendingChain) {
					ts.Pending.Plan = pendingChain[i]
				}
				seller, err := r.seller(ctx, tx, chain[i].OwnerID)
				if err != nil {
					return err
				}
				tierBuyer, err := r.seller(ctx, tx, chain[i-1].OwnerID)
				if err != nil {
					return err
				}
				// The same calendar day, read in the tier seller's zone:
				// midnight in the vendor's zone may be the day before in
				// a seller's zone to the west.
				tierTerms := db.vendorTerms(seller, tierBuyer)
				tierOn := time.Date(r.y, r.m, r.d, 0, 0, 0, 0, tierTerms.Location)
				tb, err := billing.Due(ts, usage, tierOn, tierTerms)
				if err != nil {
					return fmt.Errorf("subscription %d tier %d: %w", sub.ID, i, err)
				}
				q := tb.Invoice
				if q == nil {
					q = &order.Quote{Currency: chain[i].Currency}
				}
				tierPlan := chain[i].ID
				if ts.Pending != nil && tb.Subscription.Pending == nil && ts.Pending.Plan != nil {
					tierPlan = ts.Pending.Plan.ID // the change took effect with this period
				}
				rn.Tiers = append(rn.Tiers, OrderTier{Tier: i, SellerID: seller.ID, BuyerID: tierBuyer.ID, PlanID: tierPlan, Quote: q, Total: q.Total})
			}
			w.orders = append(w.orders, rn)
			sides := []struct {
				seller *account.Account
				buyer  *account.Account
				q      *order.Quote
			}{{vendor, buyer, rn.Quote}}
			for _, t := range rn.Tiers {
				seller, _ := r.seller(ctx, tx, t.SellerID)
				tierBuyer, _ := r.seller(ctx, tx, t.BuyerID)
				sides = append(sides, struct {
					seller *account.Account
					buyer  *account.Account
					q      *order.Quote
				}{seller, tierBuyer, t.Quote})
			}
			for i, sd := range sides {
				if zeroLines(sd.q) {
					continue
				}
				var terms *account.Terms
				switch {
				case sd.buyer.Kind != account.Customer:
					if terms, err = r.termsOf(ctx, tx, sd.buyer, sd.seller); err != nil {
						return err
					}
				default:
					terms = w.customerTerms(sd.buyer, sd.seller)
				}
				doc, err := documentFor(ctx, tx, sd.seller, sd.buyer, sub.ID, sd.q, day, terms)
				if err != nil {
					return err
				}
				if err := doc.check(); err != nil {
					return fmt.Errorf("subscription %d tier %d: invoice: %w", sub.ID, i, err)
				}
				w.docs = append(w.docs, pendingDoc{doc: doc, order: rn, seller: sd.seller})
				if sd.seller.Selling.Invoicing != account.InvoiceOnStatement {
					issued = append(issued, doc)
				}
			}
			if state.Pending != nil && b.Subscription.Pending == nil && pendingChain != nil {
				chain, pendingChain = pendingChain, nil
			}
			state = b.Subscription
		}
		if !closed {
			return nil
		}
		// Invoices whose terms charge at once are paid from the buyers'
		// prepaid funds when the chunk is flushed (delayed ones by the
		// charges stage later).
		for _, d := range issued {
			if d.Type == DocInvoice && !d.ChargeOn.After(day) {
				w.charge[[2]int64{d.AccountID, d.VendorID}] = day
			}
		}
		sub.PeriodStart, sub.PeriodEnd, sub.NextBillingAt = state.PeriodStart, state.PeriodEnd, state.PeriodEnd
		// A trial that turned into its paid period counts its periods
		// from the day it converted.
		sub.Period, sub.Anchor = state.Period, state.Anchor
		if len(state.Resources) > 0 && sub.Pending == nil {
			// A converted trial gains the paid period's default units.
			sub.Resources = maps.Clone(state.Resources)
		}
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
	}()
	return subBilled{closed: closed, issued: issued}, err
}

// chain is plan's chain of sources, each read once per run.
func (r *billRun) chain(ctx context.Context, q querier, plan *catalog.Plan) (order.Chain, error) {
	chain := order.Chain{plan}
	for p := plan; p.SourceID != 0; {
		if len(chain) > maxChain {
			return nil, fmt.Errorf("plan %d: sources deeper than %d tiers", plan.ID, maxChain)
		}
		src, err := r.plan(ctx, q, p.SourceID)
		if err != nil {
			return nil, fmt.Errorf("source of plan %d: %w", p.ID, err)
		}
		chain = append(chain, src.Plan)
		p = src.Plan
	}
	return chain, nil
}

// Expiry days when the vendor sets none: a week graced, then two weeks
// suspended, then terminated.
const (
	defaultExpiryGraceDays = 7
	defaultExpiryHoldDays  = 14
)

// expiry is the expiry stage: subscriptions that do not renew move along
// graced → suspended → terminated as their period's end recedes.
func (r *billRun) expiry(ctx context.Context, res *BillRunResult) error {
	cutoff := r.day.AddDate(0, 0, 1)
	var after int64
	for {
		cond, args := r.scope("s.vendor_id", "s.id", 3)
		ids, err := r.db.ids(ctx, `SELECT s.id FROM subscriptions s
			WHERE `+r.db.noIndex("s.status")+` IN ('active', 'graced', 'suspended') AND s.auto_renew = 'off' AND s.period_end < $1 AND s.id > $2`+cond+`
			ORDER BY s.id LIMIT $3`, append([]any{tv(cutoff), after, billBatch}, args...)...)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.expire(ctx, id); err != nil {
				res.Failures = append(res.Failures, BillFailure{SubscriptionID: id, Err: err})
			}
		}
		if len(ids) < billBatch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

func (r *billRun) expire(ctx context.Context, id int64) error {
	db := r.db
	return r.keep(db.inTx(ctx, func(tx *sql.Tx) error {
		sub, err := loadSubscription(ctx, tx, id, db.lockRows("s"))
		if err != nil {
			return err
		}
		if sub.AutoRenew != subscription.RenewOff || !sub.Live() {
			return nil
		}
		vendor, err := r.seller(ctx, tx, sub.VendorID)
		if err != nil {
			return err
		}
		grace, hold := defaultExpiryGraceDays, defaultExpiryHoldDays
		if vendor.Selling.ExpiryGraceDays != nil {
			grace = *vendor.Selling.ExpiryGraceDays
		}
		if vendor.Selling.ExpiryHoldDays != nil {
			hold = *vendor.Selling.ExpiryHoldDays
		}
		end := sub.PeriodEnd
		var to subscription.Status
		switch {
		case !r.day.Before(end.AddDate(0, 0, grace+hold)):
			to = subscription.Terminated
		case !r.day.Before(end.AddDate(0, 0, grace)):
			to = subscription.Suspended
		case !r.day.Before(end):
			to = subscription.Graced
		default:
			return nil
		}
		if sub.Status == to || (sub.Status == subscription.Suspended && sub.StatusReason != subscription.ReasonExpired && to == subscription.Suspended) {
			return nil
		}
		if sub.Status == subscription.Suspended && to == subscription.Graced {
			return nil // suspended for another reason: it stays so until its end
		}
		if err := subscription.Transition(sub.Status, to); err != nil {
			return fmt.Errorf("subscription %d: %w", sub.ID, err)
		}
		before := sub.Status
		sub.Status, sub.StatusReason, sub.NextBillingAt = to, subscription.ReasonExpired, time.Time{}
		if err := db.saveSubscription(ctx, tx, sub, db.stamp()); err != nil {
			return err
		}
		if r.each != nil {
			if err := r.each(tx, sub); err != nil {
				return err
			}
		}
		c, err := loadAccount(ctx, tx, sub.CustomerID)
		if err != nil {
			return err
		}
		if err := db.emitStatus(ctx, tx, sub, before, c.Path); err != nil {
			return err
		}
		return db.audit(ctx, tx, account.SystemActor(), c.ID, c.Path, "subscription.expire", "subscription", sub.ID,
			map[string]any{"status": []subscription.Status{before, to}})
	}))
}

// pair is a buyer and its vendor.
type pair struct{ buyer, vendor int64 }

// pairs reads (buyer, vendor) pairs of a query, batch by batch in buyer
// order, calling fn for each.
// q holds {scope} where the run's zone and shard conditions go, on
// vendorCol and idCol (see scope).
func (r *billRun) pairs(ctx context.Context, q, vendorCol, idCol string, arg any, fn func(pair) error, res *BillRunResult) error {
	cond, args := r.scope(vendorCol, idCol, 3)
	q = strings.Replace(q, "{scope}", cond, 1)
	var after int64
	for {
		ps, err := queryAll(ctx, r.db.Read, func(s scanner) (pair, error) {
			var p pair
			return p, s.Scan(&p.buyer, &p.vendor)
		}, q, append([]any{arg, after, billBatch}, args...)...)
		if err != nil {
			return fmt.Errorf("billing: %w", err)
		}
		for _, p := range ps {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(p); err != nil {
				res.Failures = append(res.Failures, BillFailure{AccountID: p.buyer, Err: err})
			}
		}
		if len(ps) < billBatch {
			return nil
		}
		after = ps[len(ps)-1].buyer
	}
}

// charges is the automatic charge stage: buyers with open invoices whose
// charge day has come and unapplied credits pay them from those.
func (r *billRun) charges(ctx context.Context, res *BillRunResult) error {
	return r.pairs(ctx, `SELECT d.account_id, MIN(d.vendor_id) FROM documents d
		WHERE d.type = 'invoice' AND d.status = 'open' AND d.charge_on <= $1 AND d.account_id > $2
		AND EXISTS (SELECT 1 FROM documents c WHERE c.account_id = d.account_id AND c.vendor_id = d.vendor_id
			AND c.type IN ('payment', 'credit_memo') AND c.applied < -c.total){scope}
		GROUP BY d.account_id ORDER BY d.account_id LIMIT $3`, "d.vendor_id", "d.account_id", tv(r.day), func(p pair) error {
		return r.db.inTx(ctx, func(tx *sql.Tx) error {
			n, err := r.db.applyCredits(ctx, tx, p.buyer, p.vendor, r.day, false)
			if n > 0 {
				res.Charged++
			}
			return err
		})
	}, res)
}

// creditStage reviews the buyers whose hold may change: an invoice
// overdue, a hold to lift, a temporary release or a pay-as-you-go
// shortfall running, terms that watch the credit limit.
func (r *billRun) creditStage(ctx context.Context, res *BillRunResult) error {
	return r.pairs(ctx, `SELECT a.id, a.parent_id FROM accounts a WHERE a.id > $2 AND (
			EXISTS (SELECT 1 FROM documents d WHERE d.account_id = a.id AND d.type = 'invoice' AND d.status = 'open' AND d.due_on < $1)
			OR a.status = 'credit_hold'
			OR EXISTS (SELECT 1 FROM credit_control c WHERE c.account_id = a.id
				AND (c.released_until IS NOT NULL OR c.payg_short_since IS NOT NULL OR c.terms LIKE '%hold_on_credit_limit%'))){scope}
		ORDER BY a.id LIMIT $3`, "a.parent_id", "a.id", tv(r.day), func(p pair) error {
		if r.reviewed[p.buyer] {
			return nil
		}
		return r.review(ctx, p.buyer)
	}, res)
}

// review reviews buyer's credit in a transaction of its own.
func (r *billRun) review(ctx context.Context, buyerID int64) error {
	return r.keep(r.db.inTx(ctx, func(tx *sql.Tx) error {
		buyer, err := loadAccount(ctx, tx, buyerID)
		if err != nil {
			return err
		}
		if buyer.ParentID == 0 {
			return nil
		}
		vendor, err := r.seller(ctx, tx, buyer.ParentID)
		if err != nil {
			return err
		}
		before := buyer.Status
		if err := r.db.reviewCredit(ctx, tx, buyer, vendor, r.day, r, r.each); err != nil {
			return err
		}
		// reviewCredit sets buyer's status when it holds or releases.
		switch {
		case before != account.StatusCreditHold && buyer.Status == account.StatusCreditHold:
			r.pending.Held = append(r.pending.Held, buyer.ID)
		case before == account.StatusCreditHold && buyer.Status != account.StatusCreditHold:
			r.pending.Released = append(r.pending.Released, buyer.ID)
		}
		return nil
	}))
}

// rate is the usage of sub's current period up to the run's day, rated at
// its plan's prices without tax, and whether its plan is pay-as-you-go.
func (r *billRun) rate(ctx context.Context, q querier, sub *subscription.Subscription, day time.Time) (money.Micros, bool, error) {
	state, err := r.state(ctx, q, sub)
	if err != nil {
		return 0, false, err
	}
	payg := state.Plan.Billing == catalog.PayAsYouGo
	usage, err := r.usage(ctx, q, sub, state.Plan, day.AddDate(0, 0, 1))
	if err != nil {
		return 0, false, err
	}
	if len(usage) == 0 {
		return 0, payg, nil
	}
	state.Pending = nil
	vendor, err := r.seller(ctx, q, sub.VendorID)
	if err != nil {
		return 0, false, err
	}
	t := r.db.vendorTerms(vendor, nil)
	// Billing the period at its end with the readings so far is the
	// usage charge the period has run up.
	b, err := billing.Due(state, usage, state.PeriodEnd, t)
	if err != nil {
		return 0, false, fmt.Errorf("subscription %d: %w", sub.ID, err)
	}
	var sum money.Micros
	if b.Invoice != nil {
		for _, l := range b.Invoice.Lines {
			if l.What == order.Usage || l.What == order.Overuse {
				sum += l.Amount
			}
		}
	}
	return sum, payg, nil
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
	rows, err := q.QueryContext(ctx, `SELECT resource, value, fraction, additive, at FROM usage_records
		WHERE subscription_id = $1 AND at >= $2 AND at < $3 ORDER BY at, resource`,
		sub.ID, tv(sub.PeriodStart.AddDate(0, 0, -1)), tv(cutoff.AddDate(0, 0, 1)))
	if err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", sub.ID, err)
	}
	type raw struct {
		resource string
		value    int64
		fraction int64
		additive bool
		at       time.Time
	}
	var recs []raw
	for rows.Next() {
		var u raw
		if err := rows.Scan(&u.resource, &u.value, &u.fraction, &u.additive, ts(&u.at)); err != nil {
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
	vendor, err := r.seller(ctx, q, sub.VendorID)
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
		out = append(out, billing.Reading{Resource: u.resource, On: order.Day(u.at, loc), Value: usageValue(u.value, u.fraction), Class: class})
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

// usageValue is a reading's value and fraction (millionths) as a decimal.
func usageValue(value, fraction int64) decimal.Decimal {
	if fraction == 0 {
		return decimal.MustNew(value, 0)
	}
	return decimal.MustNew(value*1_000_000+fraction, 6).Trim(0)
}

// metered reports whether plan charges for usage: pay-as-you-go, or a
// rate with an overuse price.
func metered(plan *catalog.Plan) bool {
	if plan.Billing == catalog.PayAsYouGo {
		return true
	}
	for _, r := range plan.Rates {
		if r.Overuse.Amount != 0 {
			return true
		}
	}
	return false
}

// termsOf are the terms of reseller buyer towards seller, read once per
// run (a run's renewals invoice the same resellers again and again).
func (r *billRun) termsOf(ctx context.Context, q querier, buyer, seller *account.Account) (*account.Terms, error) {
	if t, ok := r.terms[buyer.ID]; ok {
		return t, nil
	}
	row, err := loadCreditRow(ctx, q, buyer, seller)
	if err != nil {
		return nil, err
	}
	r.terms[buyer.ID] = &row.terms
	return &row.terms, nil
}

// analyzeEvery is how many documents a run writes between refreshes of
// PostgreSQL's statistics of the tables it grows.
const analyzeEvery = 20_000

// freshStatistics refreshes, on PostgreSQL, the planner's statistics of
// the tables the run grows once it has written analyzeEvery documents
// since the last refresh. PostgreSQL's own advice after adding much data
// is to ANALYZE; autovacuum may lag behind a billing day (or be off), and
// plans made for a nearly empty ledger scan it whole for every chunk.
func (r *billRun) freshStatistics(ctx context.Context, written int) error {
	if r.db.Engine != Postgres || written-r.analyzed < analyzeEvery {
		return nil
	}
	r.analyzed = written
	if _, err := r.db.Write.ExecContext(ctx, `ANALYZE documents, ledger_entries, orders, order_tiers`); err != nil {
		return fmt.Errorf("billing: refresh statistics: %w", err)
	}
	return nil
}
