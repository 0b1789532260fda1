package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// subscriptionCopyColumns are the columns the usage fixture copies from one
// subscription to the next (all but the id and a pending change).
const subscriptionCopyColumns = `customer_id, vendor_id, plan_id, period_key, status, status_reason, start_at, anchor_at,
	period_start, period_end, next_billing_at, auto_renew, renew_days, frozen_prices, resources, parameters, connector,
	tenant_id, tenant_status, attributes, version, created_at, updated_at`

// runUsage measures one usage collection (Orchestrator.CollectUsage, the
// body of the periodic task) over SCALE running subscriptions of the
// benchmarks' connector, which answers every tenant with two readings.
//
// The subscriptions are a fixture: one order is placed and provisioned
// through the real path, then its subscription (and those of earlier runs
// of the orders benchmark) is copied row by row in SQL, doubling until
// there are SCALE, each copy with a tenant id of its own. The collector
// cannot tell them from provisioned ones: it walks the subscriptions table.
// A database that holds more running subscriptions of the connector than
// SCALE is refused: the figures would not be of SCALE. The collector asks
// every registered connector, so the benchmark wants a database without
// connectors of its own (one that the other benchmarks made is fine).
func runUsage(ctx context.Context, r *runner) error {
	setup := time.Now()
	s, err := r.buildSale(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	have, err := r.countRunning(ctx)
	if err != nil {
		return err
	}
	if have > r.scale {
		return fmt.Errorf("the database holds %d running subscriptions of connector %s, more than the scale %d: "+
			"use a fresh database or a larger scale", have, benchConnector, r.scale)
	}
	if have == 0 {
		if _, _, _, err := s.placeAndProvision(ctx, r.db, s.smallActor, benchOrder(s.small.ID, s.plan.ID)); err != nil {
			return err
		}
		have = 1
	}
	if err := r.copySubscriptions(ctx, have, r.scale); err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())

	before, err := r.countReadings(ctx)
	if err != nil {
		return err
	}
	calls := s.svc.usageCalls.Load()
	r.log.Info("collect usage", "subscriptions", r.scale, "concurrency", s.orch.UsageConcurrency)
	p := r.phase("collecting", "subscriptions", r.scale)
	stop := make(chan struct{})
	go func() {
		// The collector reports nothing while it runs; the connector's
		// count of calls moves the line.
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		shown := calls
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				now := s.svc.usageCalls.Load()
				p.add(int(now - shown))
				shown = now
			}
		}
	}()
	start := time.Now()
	collected, err := s.orch.CollectUsage(ctx)
	elapsed := time.Since(start)
	close(stop)
	p.done()
	if err != nil {
		return err
	}
	r.log.Info("usage collected", "readings", collected, "elapsed", elapsed)

	// One call per subscription, every reading stored once.
	after, err := r.countReadings(ctx)
	if err != nil {
		return err
	}
	want := r.scale * len(usageReadings)
	switch {
	case int(s.svc.usageCalls.Load()-calls) != r.scale:
		return fmt.Errorf("the connector was asked %d times for usage, want %d", s.svc.usageCalls.Load()-calls, r.scale)
	case collected != want:
		return fmt.Errorf("the collector stored %d readings, want %d", collected, want)
	case after-before != want:
		return fmt.Errorf("%d readings were added to usage_records, want %d", after-before, want)
	}
	r.set("collect_s", elapsed.Seconds())
	r.set("total_s", elapsed.Seconds()) // the figure of the issue: collection only, setup excluded
	r.set("subscriptions_per_s", float64(r.scale)/elapsed.Seconds())
	r.set("readings_per_s", float64(collected)/elapsed.Seconds())
	return nil
}

// countRunning counts the subscriptions whose usage the collector asks the
// connector for.
func (r *runner) countRunning(ctx context.Context) (int, error) {
	var n int
	err := r.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE connector = $1 AND status IN ('active', 'graced')`,
		benchConnector).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count subscriptions: %w", err)
	}
	return n, nil
}

func (r *runner) countReadings(ctx context.Context) (int, error) {
	var n int
	if err := r.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM usage_records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count readings: %w", err)
	}
	return n, nil
}

// copySubscriptions doubles the connector's active subscriptions, copying
// the oldest ones, until there are want; each copy gets the tenant id
// "copy-<its id>". One transaction per doubling.
func (r *runner) copySubscriptions(ctx context.Context, have, want int) error {
	if have >= want {
		return nil
	}
	r.log.Info("subscriptions", "have", have, "want", want)
	p := r.phase("subscriptions", "subscriptions", want)
	defer p.done()
	p.add(have)
	for have < want {
		k := min(have, want-have)
		err := r.db.InTx(ctx, func(tx *sql.Tx) error {
			var top int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM subscriptions`).Scan(&top); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionCopyColumns+`)
				SELECT `+subscriptionCopyColumns+` FROM subscriptions WHERE connector = $1 AND status = 'active'
				ORDER BY id LIMIT $2`, benchConnector, k); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE subscriptions SET tenant_id = 'copy-' || id WHERE id > $1`, top)
			return err
		})
		if err != nil {
			return fmt.Errorf("copy subscriptions: %w", err)
		}
		have += k
		p.add(k)
	}
	return nil
}
