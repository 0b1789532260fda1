package store

// Usage: the readings connectors report for subscriptions, stored for
// billing (pay-as-you-go, overuse) and gauges in the panels, and the walk
// over running subscriptions that the usage collector makes.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/subscription"
)

// UsageReading is one measurement of a resource of a subscription, as the
// connector reported it.
type UsageReading struct {
	// Resource is the connector's resource key.
	Resource string
	// Value is the amount in the resource's unit, whole units.
	Value int64
	// Fraction is the part of a unit beyond Value, in millionths
	// (0 ≤ Fraction < 1,000,000), for meters that read fractions (73.5 GB
	// is Value 73, Fraction 500000).
	Fraction int64
	// Additive readings are amounts consumed since the previous reading
	// (a counter); others are the current value (a gauge).
	Additive bool
	// At is when the value was measured; zero means when it is recorded.
	At time.Time
}

// UsageValue splits v, an amount with at most six decimal places, into
// the Value and Fraction of a reading (13.4 is 13 and 400000). A negative
// v is split too, for checkReading to refuse; false when v has more
// places or does not fit.
func UsageValue(v decimal.Decimal) (value, fraction int64, ok bool) {
	if v.Trim(6).Scale() > 6 {
		return 0, 0, false
	}
	m, err := v.Mul(decimal.MustNew(1_000_000, 0))
	if err != nil {
		return 0, 0, false
	}
	micros, _, ok := m.Int64(0)
	if !ok {
		return 0, 0, false
	}
	// Floor division: -0.5 is -1 and 500000, which checkReading refuses
	// for its negative Value.
	value, fraction = micros/1_000_000, micros%1_000_000
	if fraction < 0 {
		value, fraction = value-1, fraction+1_000_000
	}
	return value, fraction, true
}

// Amount returns the reading's value with its fraction: 13.4 for Value 13
// and Fraction 400000.
func (r UsageReading) Amount() decimal.Decimal {
	return decimal.MustNew(r.Value*1_000_000+r.Fraction, 6).Trim(0)
}

// UsageRecord is a stored reading.
type UsageRecord struct {
	ID             int64
	SubscriptionID int64
	UsageReading
	CollectedAt time.Time
}

// SubscriptionUsage is the readings of one subscription, for
// RecordUsageBatch.
type SubscriptionUsage struct {
	SubscriptionID int64
	Readings       []UsageReading
}

// RecordUsage stores readings of subscription subscriptionID (system use:
// the usage collector) and returns how many were new. See
// RecordUsageBatch.
func (db *DB) RecordUsage(ctx context.Context, subscriptionID int64, readings []UsageReading) (int, error) {
	return db.RecordUsageBatch(ctx, []SubscriptionUsage{{SubscriptionID: subscriptionID, Readings: readings}})
}

// usageRowsPerInsert bounds the rows of one multi-row INSERT of readings.
const usageRowsPerInsert = 200

// RecordUsageBatch stores the readings of many subscriptions in one
// transaction with multi-row inserts (system use: the usage collector saves
// a batch of subscriptions at once) and returns how many readings were new.
// A reading of a subscription, resource and time that is stored already is
// skipped, so that collecting twice (a retried task) counts usage once.
// Errors: ENOTFOUND (a subscription), EINVALID (a reading without a
// resource or with a negative value); nothing is stored then.
func (db *DB) RecordUsageBatch(ctx context.Context, batch []SubscriptionUsage) (int, error) {
	var rows []usageRow
	var ids []int64
	var f marketplane.FieldErrors
	now := db.stamp()
	for i, b := range batch {
		ids = append(ids, b.SubscriptionID)
		for j, r := range b.Readings {
			checkReading(&f, fmt.Sprintf("batch[%d].readings[%d]", i, j), r)
			if r.At.IsZero() {
				r.At = now
			}
			rows = append(rows, usageRow{b.SubscriptionID, r})
		}
	}
	if err := f.Err("usage"); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	inserted := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		found := map[int64]bool{}
		res, err := tx.QueryContext(ctx, `SELECT id FROM subscriptions WHERE `+db.anyID("id", 1), db.idsArg(sortedIDs(ids)))
		if err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		for res.Next() {
			var id int64
			if err := res.Scan(&id); err != nil {
				res.Close()
				return fmt.Errorf("record usage: %w", err)
			}
			found[id] = true
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		for _, id := range ids {
			if !found[id] {
				return marketplane.Errorf(marketplane.ENOTFOUND, "subscription %d not found", id)
			}
		}
		inserted, err = insertUsage(ctx, tx, rows, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

// checkReading adds to f what is wrong with reading r, whose fields are
// named below at.
func checkReading(f *marketplane.FieldErrors, at string, r UsageReading) {
	if r.Resource == "" {
		f.Add(at+".resource", "is required")
	}
	if r.Value < 0 {
		f.Add(at+".value", "must not be negative")
	}
	if r.Fraction < 0 || r.Fraction >= 1_000_000 {
		f.Add(at+".fraction", "must be millionths between 0 and 999999")
	}
}

// maxReportedReadings bounds the readings of one ReportUsage call.
const maxReportedReadings = 1000

// ReportUsage stores readings of subscription subscriptionID that its
// vendor's side metered itself (a distributor reporting through the API
// rather than a connector's collector) and returns them as stored. Only
// the staff of the accounts above the customer with the privilege to
// manage its subscriptions report usage: usage is billed, and a customer
// reporting its own would set its own bill (EFORBIDDEN). The readings
// follow the rules of RecordUsageBatch (a reading stored already is kept
// as it was and answered as stored), and more: each names a resource the
// subscription's plan rates (a reading of another would never be billed)
// and none is measured after now or before the subscription began.
// Errors: ENOTFOUND (the subscription, or one out of reach), EFORBIDDEN,
// EINVALID (fields "readings", "readings[i].resource",
// "readings[i].value", "readings[i].at");
// nothing is stored on an error.
func (db *DB) ReportUsage(ctx context.Context, actor *account.Actor, subscriptionID int64, readings []UsageReading) ([]UsageRecord, error) {
	now := db.stamp()
	var out []UsageRecord
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		s, c, err := db.subscriptionFor(ctx, tx, actor, account.ManageSubscriptions, subscriptionID, false)
		if err != nil {
			return err
		}
		if err := staffOnly(actor, c.Path, "report usage"); err != nil {
			return err
		}
		plan, err := loadPlan(ctx, tx, s.PlanID)
		if err != nil {
			return fmt.Errorf("plan of subscription %d: %w", s.ID, err)
		}
		rated := map[string]bool{}
		for _, r := range plan.Plan.Rates {
			rated[r.Key] = true
		}
		var f marketplane.FieldErrors
		switch {
		case len(readings) == 0:
			f.Add("readings", "must hold at least one reading")
		case len(readings) > maxReportedReadings:
			f.Add("readings", fmt.Sprintf("must hold at most %d readings", maxReportedReadings))
		}
		rows := make([]usageRow, len(readings))
		for i, r := range readings {
			at := fmt.Sprintf("readings[%d]", i)
			checkReading(&f, at, r)
			if r.Resource != "" && !rated[r.Resource] {
				f.Add(at+".resource", fmt.Sprintf("%q is not a resource of the subscription's plan", r.Resource))
			}
			// Stored to the microsecond: the answer is found by what is
			// stored.
			r.At = r.At.UTC().Truncate(time.Microsecond)
			switch {
			case r.At.IsZero():
				r.At = now
			case r.At.After(now):
				f.Add(at+".at", "must not be in the future")
			case r.At.Before(s.Start.AddDate(0, 0, -1)):
				// The first day is the vendor's, which may begin up to a
				// day before midnight UTC.
				f.Add(at+".at", "must not be before the subscription began")
			}
			rows[i] = usageRow{s.ID, r}
		}
		if err := f.Err("usage"); err != nil {
			return err
		}
		n, err := insertUsage(ctx, tx, rows, now)
		if err != nil {
			return err
		}
		if out, err = storedReadings(ctx, tx, s.ID, rows); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, c.ID, c.Path, "subscription.usage", "subscription", s.ID,
			map[string]any{"readings": len(rows), "new": n})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// storedReadings are the stored records of rows (readings of subscription
// sub), in the order of rows: one query over the time span of rows, the
// records of other readings in it left out.
func storedReadings(ctx context.Context, tx *sql.Tx, sub int64, rows []usageRow) ([]UsageRecord, error) {
	// Times as microseconds: map keys compare exactly what is stored.
	type key struct {
		resource string
		at       int64
	}
	from, to := rows[0].r.At, rows[0].r.At
	for _, r := range rows {
		if r.r.At.Before(from) {
			from = r.r.At
		}
		if r.r.At.After(to) {
			to = r.r.At
		}
	}
	recs, err := queryAll(ctx, tx, func(s scanner) (UsageRecord, error) {
		var u UsageRecord
		return u, s.Scan(&u.ID, &u.SubscriptionID, &u.Resource, &u.Value, &u.Fraction, &u.Additive, ts(&u.At), ts(&u.CollectedAt))
	}, `SELECT id, subscription_id, resource, value, fraction, additive, at, collected_at FROM usage_records
		WHERE subscription_id = $1 AND at >= $2 AND at <= $3`, sub, tv(from), tv(to))
	if err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", sub, err)
	}
	byKey := make(map[key]UsageRecord, len(recs))
	for _, u := range recs {
		byKey[key{u.Resource, u.At.UnixMicro()}] = u
	}
	out := make([]UsageRecord, 0, len(rows))
	seen := map[key]bool{}
	for _, r := range rows {
		k := key{r.r.Resource, r.r.At.UnixMicro()}
		u, ok := byKey[k]
		if !ok {
			return nil, fmt.Errorf("usage of subscription %d: reading of %s at %s not stored", sub, k.resource, r.r.At.Format(time.RFC3339Nano))
		}
		// A reading given twice is one record.
		if !seen[k] {
			seen[k] = true
			out = append(out, u)
		}
	}
	return out, nil
}

// usageRow is a reading of a subscription, ready to insert.
type usageRow struct {
	sub int64
	r   UsageReading
}

// insertUsage inserts rows, collected at now, in tx with multi-row inserts
// and returns how many were new: a reading of a subscription, resource and
// time stored already is skipped.
func insertUsage(ctx context.Context, tx *sql.Tx, rows []usageRow, now time.Time) (int, error) {
	inserted := 0
	for start := 0; start < len(rows); start += usageRowsPerInsert {
		chunk := rows[start:min(start+usageRowsPerInsert, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO usage_records (subscription_id, resource, value, fraction, additive, at, collected_at) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, r.sub, r.r.Resource, r.r.Value, r.r.Fraction, r.r.Additive, tv(r.r.At), tv(now))
		}
		q.WriteString(` ON CONFLICT (subscription_id, resource, at) DO NOTHING`)
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return 0, fmt.Errorf("record usage: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("record usage: %w", err)
		}
		inserted += int(n)
	}
	return inserted, nil
}

// maxUsageRows bounds what one Usage call returns.
const maxUsageRows = 10_000

// Usage lists the readings of subscription subscriptionID measured in
// [from, to), of one resource or of all when resource is empty, oldest
// first. The actor needs to view the customer's subscriptions. A range
// holding more than 10,000 readings is refused (EINVALID): ask for a
// shorter one, or page through it with UsagePage.
func (db *DB) Usage(ctx context.Context, actor *account.Actor, subscriptionID int64, resource string, from, to time.Time) ([]UsageRecord, error) {
	out, err := db.UsagePage(ctx, actor, subscriptionID, resource, from, to, UsageKey{}, maxUsageRows+1)
	if err != nil {
		return nil, err
	}
	if len(out) > maxUsageRows {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid usage range",
			Fields: map[string]string{"to": fmt.Sprintf("the range holds more than %d readings; ask for a shorter one", maxUsageRows)}}
	}
	return out, nil
}

// UsageKey is where a page of readings resumes: after the reading of
// Resource at At (a subscription has one reading per resource and time).
// The zero key starts at the beginning of the range.
type UsageKey struct {
	At       time.Time
	Resource string
}

// UsagePage is up to limit readings of Usage's range, in its order, after
// the reading at key: the API pages through a range with it, however many
// readings the range holds.
func (db *DB) UsagePage(ctx context.Context, actor *account.Actor, subscriptionID int64, resource string, from, to time.Time, after UsageKey, limit int) ([]UsageRecord, error) {
	if _, _, err := db.subscriptionFor(ctx, db.Read, actor, account.ViewSubscriptions, subscriptionID, false); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid usage range",
			Fields: map[string]string{"to": "must be after from"}}
	}
	q := `SELECT id, subscription_id, resource, value, fraction, additive, at, collected_at FROM usage_records
		WHERE subscription_id = $1 AND at >= $2 AND at < $3`
	args := []any{subscriptionID, tv(from), tv(to)}
	if resource != "" {
		args = append(args, resource)
		q += fmt.Sprintf(" AND resource = $%d", len(args))
	}
	if !after.At.IsZero() {
		args = append(args, tv(after.At), after.Resource)
		q += fmt.Sprintf(" AND (at > $%d OR at = $%d AND resource > $%d)", len(args)-1, len(args)-1, len(args))
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY at, resource LIMIT $%d", len(args))
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", subscriptionID, err)
	}
	defer rows.Close()
	out := []UsageRecord{}
	for rows.Next() {
		var u UsageRecord
		if err := rows.Scan(&u.ID, &u.SubscriptionID, &u.Resource, &u.Value, &u.Fraction, &u.Additive, ts(&u.At), ts(&u.CollectedAt)); err != nil {
			return nil, fmt.Errorf("usage of subscription %d: %w", subscriptionID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage of subscription %d: %w", subscriptionID, err)
	}
	return out, nil
}

// ActiveSubscriptionsBatch returns up to limit (at most 500) running
// subscriptions of connector (active or graced: their services are in use)
// with ids above afterID, in id order (system use: the usage collector
// walks them batch by batch with the last id as cursor).
func (db *DB) ActiveSubscriptionsBatch(ctx context.Context, connector string, afterID int64, limit int) ([]*subscription.Subscription, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.connector = $1 AND s.status IN ('active', 'graced') AND s.id > $2 ORDER BY s.id LIMIT $3`,
		connector, afterID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("subscriptions of connector %s: %w", connector, err)
	}
	return scanSubscriptions(rows)
}
