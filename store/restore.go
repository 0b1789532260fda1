package store

// Restoring a terminated subscription: an order, like every lifecycle
// change, so that the service comes back at the connector before the
// subscription counts as active again.

import (
	"context"
	"database/sql"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// RestoreSubscription places the order that restores terminated
// subscription id: a change order (CH) marked Details.Restore, on the
// subscription's plan and limits, priced at nothing (the restore itself
// costs nothing; the periods after it are billing's) and so needing no
// confirmation. Its provisioning resumes the service at the connector
// (provisioning.Orchestrator) and its completion makes the subscription
// active again (CompleteOrder). enqueue runs in the same transaction: the
// provisioning task.
//
// Only a service that still exists comes back: the subscription must be
// terminated, provisioned once, and its service not deleted (or being
// deleted) at the connector, as the connector last reported it. A
// completed cancellation deletes the service, so its subscription is not
// restored; one terminated by billing after its hold days keeps it.
// Restoring is the vendor's staff's decision (the actor manages the
// customer's subscriptions from an account above it), and the customer's
// account must allow orders. Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT
// (saying why the subscription cannot be restored).
func (db *DB) RestoreSubscription(ctx context.Context, actor *account.Actor, id int64, enqueue func(tx *sql.Tx, o *Order) error) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		sub, cust, err := db.subscriptionFor(ctx, tx, actor, account.ManageSubscriptions, id, true)
		if err != nil {
			return err
		}
		if err := staffOnly(actor, cust.Path, "restore subscriptions"); err != nil {
			return err
		}
		if err := restorable(sub); err != nil {
			return err
		}
		if err := mayOrder(cust); err != nil {
			return err
		}
		if err := noOpenOrder(ctx, tx, sub.ID); err != nil {
			return err
		}
		vendor, err := loadAccount(ctx, tx, sub.VendorID)
		if err != nil {
			return err
		}
		plan, err := loadPlan(ctx, tx, sub.PlanID)
		if err != nil {
			return err
		}
		on := db.Clock.Now()
		day := order.Day(on, db.vendorTerms(vendor, cust).Location)
		o = &Order{
			VendorID: sub.VendorID, CustomerID: sub.CustomerID, Type: order.CH, SubscriptionID: sub.ID, PlanID: sub.PlanID,
			Period: sub.Period, Quote: &order.Quote{Currency: plan.Plan.Currency, Lines: []order.Line{}, EffectiveOn: day},
			Details: OrderDetails{On: on, Period: sub.Period, Resources: sub.Resources, FromPlanID: sub.PlanID,
				FromResources: sub.Resources, EffectiveOn: day, Restore: true},
		}
		path = cust.Path
		return db.insertOrder(ctx, tx, actor, o, cust.Path, db.stamp(), enqueue)
	})
	if err != nil {
		return nil, err
	}
	o.Tiers = visibleTiers(actor, path, o.Tiers)
	return o, nil
}

// restorable says why subscription s cannot be restored, or nil.
func restorable(s *subscription.Subscription) error {
	switch {
	case s.Status != subscription.Terminated:
		return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d is %s; only a terminated subscription is restored", s.ID, s.Status)
	case s.StatusReason == subscription.ReasonOrderCancelled || (s.Connector != "" && s.TenantID == ""):
		return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d was never provisioned: it has no service to restore; place a new order", s.ID)
	case s.TenantStatus == connector.StatusDeleted || s.TenantStatus == connector.StatusDeleting:
		return marketplane.Errorf(marketplane.ECONFLICT, "the service of subscription %d was deleted at its connector; place a new order", s.ID)
	}
	return nil
}
