package store

// The usage stage of the daily run, set-based: it walks the live
// subscriptions in id order (each batch continues where the last one
// stopped, so the walk reads the table once), rates the usage of their
// current periods from per-resource sums and highs read for the whole
// batch in one query, adds it up per buyer, and then reads what each buyer
// has (balance, credit limit, waiting charges, its pay-as-you-go state)
// 500 buyers at a time. Only a buyer whose available balance is short, or
// was short, is reviewed in a transaction of its own: on an ordinary day
// the stage writes nothing.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/billing"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// usageStage rates the usage of the current periods and reviews the
// buyers it leaves short (pay-as-you-go suspension).
func (r *billRun) usageStage(ctx context.Context, res *BillRunResult) error {
	cutoff := r.day.AddDate(0, 0, 1)
	rated := map[int64]money.Micros{}
	cond, args := r.scope("s.vendor_id", "s.customer_id", 3)
	var after int64
	for {
		subs, err := r.usageBatch(ctx, cond, args, after, cutoff)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			break
		}
		sums, err := r.usageSums(ctx, subs, cutoff)
		if err != nil {
			return err
		}
		for _, s := range subs {
			amount, err := r.rateSums(ctx, s, sums[s.ID])
			if err != nil {
				res.Failures = append(res.Failures, BillFailure{SubscriptionID: s.ID, Err: err})
				continue
			}
			rated[s.CustomerID] += amount
		}
		if len(subs) < billBatch {
			break
		}
		after = subs[len(subs)-1].ID
	}
	// Buyers that were short before are looked at too: a payment or the
	// end of a period may have set them right.
	shortBefore, err := queryAll(ctx, r.db.Read, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, `SELECT account_id FROM credit_control WHERE payg_short_since IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	buyers := make([]int64, 0, len(rated)+len(shortBefore))
	for id := range rated {
		buyers = append(buyers, id)
	}
	for _, id := range shortBefore {
		if _, ok := rated[id]; !ok {
			buyers = append(buyers, id)
		}
	}
	slices.Sort(buyers)
	for start := 0; start < len(buyers); start += billBatch {
		batch := buyers[start:min(start+billBatch, len(buyers))]
		short, err := r.shortBuyers(ctx, batch, rated)
		if err != nil {
			return err
		}
		for _, id := range short {
			if err := ctx.Err(); err != nil {
				return err
			}
			r.reviewed[id] = true
			if err := r.review(ctx, id); err != nil {
				res.Failures = append(res.Failures, BillFailure{AccountID: id, Err: err})
			}
		}
	}
	return nil
}

// usageBatch is the next batch of live subscriptions above after with
// usage in their current period. The walk must follow the primary key:
// SQLite without statistics takes the status index for selective and
// would read (and sort) every live subscription for each batch.
func (r *billRun) usageBatch(ctx context.Context, cond string, args []any, after int64, cutoff time.Time) ([]*subscription.Subscription, error) {
	rows, err := r.db.Read.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.id > $1 AND `+r.db.noIndex("s.status")+` IN ('active', 'suspended', 'graced')
		AND EXISTS (SELECT 1 FROM usage_records u WHERE u.subscription_id = s.id AND u.at >= s.period_start AND u.at < $2)`+cond+`
		ORDER BY s.id LIMIT $3`, append([]any{after, tv(cutoff), billBatch}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return scanSubscriptions(rows)
}

// usageSum is what the readings of one resource of a subscription's
// current period add up to, in millionths: their sum (a counter's usage)
// and their highest (a level's).
type usageSum struct {
	resource  string
	additive  bool
	sum, high int64
}

// usageSums reads the sums of the batch's readings in their current
// periods, by subscription.
func (r *billRun) usageSums(ctx context.Context, subs []*subscription.Subscription, cutoff time.Time) (map[int64][]usageSum, error) {
	ids := make([]int64, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	type row struct {
		sub int64
		usageSum
	}
	rows, err := queryAll(ctx, r.db.Read, func(s scanner) (row, error) {
		var x row
		return x, s.Scan(&x.sub, &x.resource, &x.additive, &x.sum, &x.high)
	}, `SELECT u.subscription_id, u.resource, u.additive,
			CAST(SUM(u.value * 1000000 + u.fraction) AS BIGINT), CAST(MAX(u.value * 1000000 + u.fraction) AS BIGINT)
		FROM usage_records u JOIN subscriptions s ON s.id = u.subscription_id
		WHERE `+r.db.anyID("u.subscription_id", 1)+` AND u.at >= s.period_start AND u.at < $2
		GROUP BY u.subscription_id, u.resource, u.additive`, r.db.idsArg(ids), tv(cutoff))
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	out := make(map[int64][]usageSum, len(subs))
	for _, x := range rows {
		out[x.sub] = append(out[x.sub], x.usageSum)
	}
	return out, nil
}

// rateSums is the usage charge sub's current period has run up, from its
// sums: billing the period at its end with one reading per resource (a
// counter's sum, a level's high) gives the usage and overuse lines it
// would invoice, without tax.
func (r *billRun) rateSums(ctx context.Context, sub *subscription.Subscription, sums []usageSum) (money.Micros, error) {
	if len(sums) == 0 {
		return 0, nil
	}
	state, err := r.state(ctx, r.db.Read, sub)
	if err != nil {
		return 0, err
	}
	owner, err := r.rootOwner(ctx, r.db.Read, state.Plan)
	if err != nil {
		return 0, err
	}
	readings := make([]billing.Reading, 0, len(sums))
	for _, u := range sums {
		class, err := r.class(ctx, r.db.Read, owner, u.resource)
		if err != nil {
			return 0, err
		}
		if class == "" {
			class = catalog.ClassGauge
			if u.additive {
				class = catalog.ClassCounter
			}
		}
		v := u.high
		if class == catalog.ClassCounter {
			v = u.sum
		}
		readings = append(readings, billing.Reading{Resource: u.resource, On: sub.PeriodStart, Value: decimal.MustNew(v, 6).Trim(0), Class: class})
	}
	state.Pending = nil
	vendor, err := r.seller(ctx, r.db.Read, sub.VendorID)
	if err != nil {
		return 0, err
	}
	b, err := billing.Due(state, readings, state.PeriodEnd, r.db.vendorTerms(vendor, nil))
	if err != nil {
		return 0, fmt.Errorf("subscription %d: %w", sub.ID, err)
	}
	var sum money.Micros
	if b.Invoice != nil {
		for _, l := range b.Invoice.Lines {
			if l.What == order.Usage || l.What == order.Overuse {
				sum += l.Amount
			}
		}
	}
	return sum, nil
}

// shortBuyers are the buyers of batch whose available balance (−balance
// − rated usage − waiting charges + credit limit) is below zero, or who
// were short before: those the review must look at.
func (r *billRun) shortBuyers(ctx context.Context, batch []int64, rated map[int64]money.Micros) ([]int64, error) {
	db := r.db
	arg := db.idsArg(batch)
	sums := func(q string) (map[int64]int64, error) {
		rows, err := queryAll(ctx, db.Read, func(s scanner) ([2]int64, error) {
			var v [2]int64
			return v, s.Scan(&v[0], &v[1])
		}, q, arg)
		if err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		m := make(map[int64]int64, len(rows))
		for _, v := range rows {
			m[v[0]] = v[1]
		}
		return m, nil
	}
	// Each buyer's entries are towards its parent only: its balance is
	// the sum of its buyer side.
	balance, err := sums(`SELECT account_id, CAST(SUM(amount) AS BIGINT) FROM ledger_entries
		WHERE side = 'buyer' AND ` + db.anyID("account_id", 1) + ` GROUP BY account_id`)
	if err != nil {
		return nil, err
	}
	limit, err := sums(`SELECT id, credit_limit FROM accounts WHERE ` + db.anyID("id", 1))
	if err != nil {
		return nil, err
	}
	waiting, err := sums(`SELECT account_id, CAST(SUM(total) AS BIGINT) FROM unbilled_charges
		WHERE ` + db.anyID("account_id", 1) + ` GROUP BY account_id`)
	if err != nil {
		return nil, err
	}
	before, err := sums(`SELECT account_id, 1 FROM credit_control WHERE payg_short_since IS NOT NULL AND ` + db.anyID("account_id", 1))
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, id := range batch {
		available := -balance[id] - int64(rated[id]) - waiting[id] + limit[id]
		if available < 0 || before[id] == 1 {
			out = append(out, id)
		}
	}
	return out, nil
}
