package store

// The panels' batched reads: what Home and a subscription's page show of
// many subscriptions or many resources, in a few queries whatever their
// number (one offer read per subscription and one usage read per gauge
// made a page of a thousand gauges take thousands of queries).

import (
	"context"
	"fmt"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
)

// OffersOf returns plans planIDs as buyer buyerID sees them, by plan id,
// reading the buyer's store once. A plan its vendor does not have on sale
// (another seller's, unpublished, waiting for prices, or missing) is
// absent from the answer, as Offer answers ENOTFOUND for it. Errors:
// those of Offers.
func (db *DB) OffersOf(ctx context.Context, actor *account.Actor, buyerID int64, planIDs []int64) (map[int64]*catalog.Offer, error) {
	sf, err := db.storefront(ctx, db.Read, actor, buyerID)
	if err != nil {
		return nil, err
	}
	onSale := map[int64]bool{}
	for _, id := range sf.onSale {
		onSale[id] = true
	}
	var ids []int64
	seen := map[int64]bool{}
	for _, id := range planIDs {
		if onSale[id] && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	out := map[int64]*catalog.Offer{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE `+db.anyID("p.id", 1), db.idsArg(ids))
	if err != nil {
		return nil, fmt.Errorf("offers: plans: %w", err)
	}
	plans, err := scanPlans(rows, "offers: plans")
	if err != nil {
		return nil, err
	}
	if err := db.loadOfferResources(ctx, db.Read, sf, plans...); err != nil {
		return nil, err
	}
	for _, p := range plans {
		// The store's list of plans on sale decided above; this keeps a
		// plan changed since then out as well.
		if p.OwnerID != sf.vendor.ID || !p.OnSale() {
			continue
		}
		o := catalog.OfferOf(p, sf.context())
		out[p.ID] = &o
	}
	return out, nil
}

// LatestUsage returns the latest reading (its whole units) of every
// resource of subscriptions subIDs of customer customerID measured in the
// subscription's current period before to: by subscription id, then by
// resource. A subscription of another customer is left out, as one with
// no readings is. The actor needs to view the customer's subscriptions
// (ENOTFOUND otherwise, worded as for a missing subscription).
func (db *DB) LatestUsage(ctx context.Context, actor *account.Actor, customerID int64, subIDs []int64, to time.Time) (map[int64]map[string]int64, error) {
	c, err := loadAccount(ctx, db.Read, customerID)
	if err != nil {
		return nil, hideAs(err, "subscription")
	}
	if err := account.Authorize(actor, account.ViewSubscriptions, account.Target{AccountID: c.ID, Path: c.Path}); err != nil {
		return nil, hideAs(err, "subscription")
	}
	out := map[int64]map[string]int64{}
	if len(subIDs) == 0 {
		return out, nil
	}
	// One reading per subscription, resource and time (a unique index on
	// the three), so the latest is the one at the latest time.
	rows, err := db.Read.QueryContext(ctx, `SELECT u.subscription_id, u.resource, u.value FROM usage_records u
		JOIN subscriptions s ON s.id = u.subscription_id
		WHERE s.customer_id = $1 AND `+db.anyID("s.id", 2)+` AND u.at >= s.period_start AND u.at < $3
		AND u.at = (SELECT MAX(v.at) FROM usage_records v WHERE v.subscription_id = u.subscription_id
			AND v.resource = u.resource AND v.at >= s.period_start AND v.at < $3)`,
		customerID, db.idsArg(subIDs), tv(to))
	if err != nil {
		return nil, fmt.Errorf("latest usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sub, value int64
		var res string
		if err := rows.Scan(&sub, &res, &value); err != nil {
			return nil, fmt.Errorf("latest usage: %w", err)
		}
		if out[sub] == nil {
			out[sub] = map[string]int64{}
		}
		out[sub][res] = value
	}
	return out, rows.Err()
}
