package store

// The days of the periodic billing task. Each seller's day is billed when
// it begins in the seller's time zone: the task looks, every hour, for the
// zones whose today has no finished run yet and runs each part (a zone's
// day, split in shards on PostgreSQL) once. A part that crashed is run
// again by the next look; the run itself is idempotent per date.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// BillingPart is one part of a day's billing: the sellers of one time
// zone, one shard of them.
type BillingPart struct {
	Day           time.Time // the day, midnight UTC
	Zone          string
	Shard, Shards int
}

// maxCatchUpDays bounds how far back the periodic task bills days it
// missed (the process was down): older days are for `marketplane bill
// --from --to`.
const maxCatchUpDays = 31

// PendingBillingParts lists the parts of the days to bill at now, oldest
// first: for each time zone of a selling account, every day from the day
// after its last finished run (at most 31 days back; today alone when it
// never ran; with no bound on a test clock, where a zone that never ran
// starts from its sellers' first day) up to its today, each in shards
// parts, that has not finished.
func (db *DB) PendingBillingParts(ctx context.Context, now time.Time, shards int) ([]BillingPart, error) {
	if shards < 1 {
		shards = 1
	}
	zones, err := queryAll(ctx, db.Read, func(r scanner) (string, error) {
		var z string
		return z, r.Scan(&z)
	}, `SELECT DISTINCT time_zone FROM accounts WHERE kind <> 'customer' AND status <> 'cancelled' ORDER BY time_zone`)
	if err != nil {
		return nil, fmt.Errorf("billing zones: %w", err)
	}
	var out []BillingPart
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue // Account.Validate admits only zones that load
		}
		today := order.Day(now, loc)
		var last time.Time
		if err := db.Read.QueryRowContext(ctx, `SELECT MAX(day) FROM billing_days WHERE zone = $1 AND finished_at IS NOT NULL`, z).
			Scan(ts(&last)); err != nil {
			return nil, fmt.Errorf("billing days of %s: %w", z, err)
		}
		from := today
		if !last.IsZero() {
			from = last.AddDate(0, 0, 1)
			// A test clock's every crossed day is billed (its moves are
			// bounded by MaxTestClockMove instead).
			if oldest := today.AddDate(0, 0, -maxCatchUpDays); from.Before(oldest) && !db.onTestClock() {
				from = oldest
			}
		} else if db.onTestClock() {
			// A sandbox that never billed bills from its sellers' first
			// day: its clock may have been moved before the first run.
			var first time.Time
			if err := db.Read.QueryRowContext(ctx, `SELECT MIN(created_at) FROM accounts
				WHERE time_zone = $1 AND kind <> 'customer' AND status <> 'cancelled'`, z).Scan(ts(&first)); err != nil {
				return nil, fmt.Errorf("billing days of %s: %w", z, err)
			}
			if d := order.Day(first, loc); !first.IsZero() && d.Before(today) && !d.Before(today.Add(-MaxTestClockMove)) {
				from = d
			}
		}
		for d := from; !d.After(today); d = d.AddDate(0, 0, 1) {
			for k := range shards {
				var done int
				if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM billing_days
					WHERE day = $1 AND zone = $2 AND shard = $3 AND shards = $4 AND finished_at IS NOT NULL`,
					tv(d), z, k, shards).Scan(&done); err != nil {
					return nil, fmt.Errorf("billing days of %s: %w", z, err)
				}
				if done == 0 {
					out = append(out, BillingPart{Day: d, Zone: z, Shard: k, Shards: shards})
				}
			}
		}
	}
	return out, nil
}

// RunBillingPart runs part p of a day's billing (BillDayWith for its zone
// and shard) and records it finished; running a finished part again does
// nothing and returns an empty result.
func (db *DB) RunBillingPart(ctx context.Context, p BillingPart, each SubscriptionHook) (BillRunResult, error) {
	if p.Zone == "" {
		return BillRunResult{}, marketplane.Errorf(marketplane.EINVALID, "a billing part needs its zone")
	}
	var done int
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM billing_days
		WHERE day = $1 AND zone = $2 AND shard = $3 AND shards = $4 AND finished_at IS NOT NULL`,
		tv(p.Day), p.Zone, p.Shard, p.Shards).Scan(&done); err != nil {
		return BillRunResult{}, fmt.Errorf("billing day: %w", err)
	}
	if done > 0 {
		return BillRunResult{On: p.Day, Totals: map[string]money.Micros{}}, nil
	}
	if err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO billing_days (day, zone, shard, shards, started_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (day, zone, shard, shards) DO UPDATE SET started_at = excluded.started_at`,
			tv(p.Day), p.Zone, p.Shard, p.Shards, tv(db.stamp()))
		return err
	}); err != nil {
		return BillRunResult{}, fmt.Errorf("billing day: %w", err)
	}
	shards := p.Shards
	if shards == 1 {
		shards = 0
	}
	res, err := db.BillDayWith(ctx, p.Day, BillOptions{OnSubscription: each, Zone: p.Zone, Shard: p.Shard, Shards: shards})
	if err != nil {
		return res, err
	}
	if err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE billing_days SET finished_at = $1 WHERE day = $2 AND zone = $3 AND shard = $4 AND shards = $5`,
			tv(db.stamp()), tv(p.Day), p.Zone, p.Shard, p.Shards)
		return err
	}); err != nil {
		return res, fmt.Errorf("billing day: %w", err)
	}
	return res, nil
}
