package store

// Orders: a new subscription (SO), a change (CH) and a cancellation (CL),
// priced by the order package for the customer and for every tier above
// its vendor, numbered per vendor, and taken through the order state
// machine (order.Transition) by the provisioning orchestrator. The
// subscriptions they make and change are in subscriptions.go, usage in
// usage.go.
//
// Who may do what: orders and subscriptions are authorized on the
// customer's account (account.Authorize): a customer acts on itself, its
// vendor and the vendor's ancestors with reach act on it, anyone else gets
// ENOTFOUND. Staff actions (retry, cancel a stuck order, suspend) are for
// the accounts above the customer, not the customer itself.
//
// What the vendor's settings decide, and what is not here yet:
//   - payment and approval are not here yet: an order goes from placed
//     straight to provisioning. The state machine has waiting_approval and
//     waiting_payment, but no vendor setting asks for either; what guards
//     a sale today is the hold: a customer, its vendor or a reseller above
//     on credit or administrative hold is refused;
//   - tax: every sale, change and renewal is taxed at the vendor's rates
//     (Selling.TaxRates) by order.TaxFor, from the vendor's and the
//     buyer's countries and the buyer's VAT id (vendorTerms); a vendor
//     without rates charges none;
//   - proration and downgrade timing are the vendor's (Selling.Proration,
//     Selling.Downgrades, read by vendorTerms), with the order package's
//     defaults (prorate now, downgrade now) when it sets none; a deferred
//     downgrade waits in subscription.PendingChange for the next billing
//     date, where the billing run applies it;
//   - operating units are not here yet: every tier above the vendor gets
//     its wholesale side. Accounts have no operating-unit flag; when they
//     do, a tier whose buyer is an operating unit is left out (no charges
//     between it and its parent);
//   - renewals (RN) are the billing run's (billrun.go).
//
// Large accounts: placing an order reads the customer and vendor accounts,
// the plan and its sources, the template and the connector's manifest, and
// takes the vendor's counter. Nothing in the order path reads the users or
// the subscriptions of the account (BenchmarkPlaceOrder: 10 vs 10,000
// users).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/govalues/decimal"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// OrderRequest is an order for a new subscription.
type OrderRequest struct {
	CustomerID int64
	// PlanID is a plan on sale at the customer's vendor (its parent).
	PlanID int64
	// Period is the key of the plan's subscription period ("1m").
	Period string
	// Resources are the amounts wanted by rate key, included units
	// counted; rates left out get their default (see order.NewRequest).
	Resources map[string]int64
	// Parameters are the service parameters for the connector, checked
	// against its manifest when the connector is registered.
	Parameters map[string]string
	// ConfirmZero is the buyer's yes to an order that costs nothing.
	ConfirmZero bool
	// On is when the order is placed; zero means now (the database's
	// clock).
	On time.Time
}

// ChangeRequest is a change of a subscription: another plan on its
// upgrade or downgrade paths, new resource amounts, or both.
type ChangeRequest struct {
	// PlanID is the plan to change to; 0 keeps the current plan.
	PlanID int64
	// Resources are the new amounts by rate key; rates left out keep
	// theirs.
	Resources map[string]int64
	// On is when the change is ordered; zero means now.
	On time.Time
	// Proration overrides the vendor's proration mode for this change:
	// "prorate" (prorated charges now, invoiced as the vendor invoices),
	// "prorate_invoice" (prorated and invoiced at once, even by a vendor
	// that invoices on a statement day) or "none"; "" keeps the vendor's.
	Proration string
	// Period is the key of the billing period to change to ("12m"); ""
	// keeps the subscription's. A change of period starts the new period
	// on the change day (see order.QuoteChange).
	Period string
	// ConfirmZero is the buyer's yes to a change that costs nothing.
	ConfirmZero bool
}

// OrderTier is one tier's side of an order: the wholesale sale from Seller
// to Buyer at the seller's price of its plan, on the customer's dates with
// the customer's proration.
type OrderTier struct {
	// Tier 1 is the vendor's parent selling to the vendor, tier 2 the
	// parent of that one selling to it, and so on up to the provider.
	Tier     int
	SellerID int64
	BuyerID  int64
	// PlanID is the seller's plan: the source of the buyer's plan.
	PlanID int64
	Quote  *order.Quote
	Total  money.Micros
}

// OrderQuote is what an order would cost, for the customer and for the
// tiers the actor may see.
type OrderQuote struct {
	// CustomerID is the buyer.
	CustomerID int64
	Quote      *order.Quote
	// Tiers are the wholesale sides the actor may see: those bought by
	// the actor's account or by accounts below it. A customer sees none;
	// its vendor sees what it pays its parent; the provider sees all.
	Tiers []OrderTier
}

// OrderDetails is what an order was asked for and what it does to its
// subscription, stored with the order (its request).
type OrderDetails struct {
	// On is when the order was placed.
	On     time.Time `json:"on"`
	Period string    `json:"period,omitempty"`
	// Asked are the resource amounts as asked (nil: none named).
	Asked map[string]int64 `json:"asked,omitempty"`
	// Resources are the amounts after the order (SO, CH).
	Resources   map[string]int64  `json:"resources,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	ConfirmZero bool              `json:"confirm_zero,omitempty"`
	// FromPlanID, FromResources and FromPeriod are the subscription
	// before a change.
	FromPlanID    int64            `json:"from_plan_id,omitempty"`
	FromResources map[string]int64 `json:"from_resources,omitempty"`
	FromPeriod    string           `json:"from_period,omitempty"`
	// PeriodEnd is the end of the period a change of period starts on
	// EffectiveOn; zero for other orders.
	PeriodEnd time.Time `json:"period_end,omitzero"`
	// EffectiveOn is the day the order takes effect; Deferred marks a
	// change that waits for it (a downgrade at the next billing date).
	EffectiveOn time.Time `json:"effective_on,omitzero"`
	Deferred    bool      `json:"deferred,omitempty"`
	// InvoiceNow: the change is invoiced at once even when the seller
	// invoices on a statement day (proration mode prorate_invoice).
	InvoiceNow bool `json:"invoice_now,omitempty"`
	// Restore marks a change order that restores a terminated
	// subscription whose service still exists (RestoreSubscription): its
	// provisioning resumes the service, its completion makes the
	// subscription active again.
	Restore bool `json:"restore,omitempty"`
}

// Order is a stored order.
type Order struct {
	ID         int64
	VendorID   int64
	CustomerID int64
	// Number is the order's number at its vendor: 1, 2, 3 … without gaps.
	Number int64
	Type   order.Type
	Status order.Status
	// Reason says why an order stopped short (order.StatusReason);
	// Message says it in words (the connector's message on a failure).
	Reason  order.StatusReason
	Message string
	// SubscriptionID is the subscription the order makes or changes.
	SubscriptionID int64
	// PlanID is the plan sold (SO), the plan after the change (CH) or the
	// plan cancelled (CL).
	PlanID   int64
	Period   string
	Details  OrderDetails
	Quote    *order.Quote
	Total    money.Micros
	Currency string
	// Tiers are the wholesale sides the reader may see (see OrderQuote);
	// Order fills them, Orders leaves them nil.
	Tiers []OrderTier
	// CreatedBy is the user who placed the order; 0 for API keys and
	// Marketplane itself.
	CreatedBy  int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time // zero until completed or cancelled
	Version    int64
	// Provisioning is how provisioning goes while the connector fails.
	Provisioning ProvisioningProgress
}

// ProvisioningProgress is the failed attempts of an order's provisioning in
// the current series: since the order was placed, or since staff last
// retried it. All zero while no attempt failed.
type ProvisioningProgress struct {
	Attempts  int       // failed attempts
	LastError string    // the last failure in words, for the customer
	Since     time.Time // the first failure; the deadline counts from it
	LastAt    time.Time // when the last failure was recorded
	NextAt    time.Time // when the next attempt runs; zero when none is due
}

// TenantInfo is what the connector reported about a subscription's service
// when its order was provisioned.
type TenantInfo struct {
	// Connector is the connector's name; empty keeps the one the
	// subscription has (its template's).
	Connector string
	// TenantID is the connector's id of the service; empty keeps the
	// stored one.
	TenantID string
	// Status is the connector's tenant status ("ready", "deleted" …).
	Status string
	// Attributes are what the customer needs to use the service; nil keeps
	// the stored ones.
	Attributes map[string]string
}

// ----- placing orders -----

// Quote prices a new subscription as PlaceOrder would, without storing
// anything. The actor needs to view the customer's orders. The errors are
// PlaceOrder's.
func (db *DB) Quote(ctx context.Context, actor *account.Actor, req OrderRequest) (*OrderQuote, error) {
	s, err := db.priceNew(ctx, db.Read, actor, account.ViewOrders, req)
	if err != nil {
		return nil, err
	}
	if err := uniqueGroupConflict(ctx, db.Read, s.customer.ID, s.chain, 0, nil); err != nil {
		return nil, err
	}
	return &OrderQuote{CustomerID: s.customer.ID, Quote: s.quote, Tiers: visibleTiers(actor, s.customer.Path, s.tiers)}, nil
}

// PlaceOrder places a sales order (SO) for a new subscription of
// req.CustomerID to plan req.PlanID. The actor needs to manage the
// customer's orders. The plan must be on sale at the customer's vendor; the
// customer must not be on credit or administrative hold, nor cancelled.
//
// In one transaction it prices the order (order.QuoteNew, in the vendor's
// time zone) and every tier above the vendor (order.WholesaleNew along the
// plan's sources), takes the vendor's next order number, stores the order
// (status provisioning) with its tiers and a pending subscription, calls
// enqueue with the order (the provisioning task: the outbox rule), and
// records the audit entry. A failing enqueue stores nothing.
//
// Errors: ENOTFOUND (the customer is out of reach or missing), EFORBIDDEN,
// EINVALID with field reasons of the order package (order.FieldReason):
// "plan_id" not_on_sale, "customer_id", "period", "resources.KEY",
// "confirm_zero", "parameters.KEY" (unknown_parameter, invalid_value,
// required); ECONFLICT with the reason when the customer's or the vendor's
// account status forbids the order. Nothing is stored on error.
//
// The new subscription renews before its expiration (on the day it
// expires) unless SetAutoRenew says otherwise.
func (db *DB) PlaceOrder(ctx context.Context, actor *account.Actor, req OrderRequest, enqueue func(tx *sql.Tx, o *Order) error) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.priceNew(ctx, tx, actor, account.ManageOrders, req)
		if err != nil {
			return err
		}
		if err := db.checkUniqueGroup(ctx, tx, s.customer.ID, s.chain, 0); err != nil {
			return err
		}
		now := db.stamp()
		q := s.quote
		st := q.Subscription
		sub := &subscription.Subscription{
			CustomerID: s.customer.ID, VendorID: s.vendor.ID, PlanID: s.plan.ID, Period: st.Period,
			Status: subscription.Pending, Start: st.Start, Anchor: st.Anchor, PeriodStart: st.PeriodStart, PeriodEnd: st.PeriodEnd,
			NextBillingAt: st.PeriodEnd, AutoRenew: subscription.RenewBeforeExpiration, Resources: st.Resources,
			Parameters: s.params, Connector: s.connector, CreatedAt: now, UpdatedAt: now, Version: 1,
		}
		if err := sub.Validate(); err != nil {
			return fmt.Errorf("new subscription: %w", err)
		}
		if err := db.insertSubscription(ctx, tx, sub); err != nil {
			return err
		}
		o = &Order{
			VendorID: s.vendor.ID, CustomerID: s.customer.ID, Type: order.SO, SubscriptionID: sub.ID, PlanID: s.plan.ID,
			Period: st.Period, Quote: q,
			Details: OrderDetails{On: s.on, Period: st.Period, Asked: req.Resources, Resources: st.Resources,
				Parameters: s.params, ConfirmZero: req.ConfirmZero, EffectiveOn: q.EffectiveOn},
			Tiers: s.tiers,
		}
		path = s.customer.Path
		return db.insertOrder(ctx, tx, actor, o, s.customer.Path, now, enqueue)
	})
	if err != nil {
		return nil, err
	}
	o.Tiers = visibleTiers(actor, path, o.Tiers)
	return o, nil
}

// newSale is a priced new subscription with what it was priced from.
type newSale struct {
	customer, vendor *account.Account
	plan             *catalog.Plan
	on               time.Time
	quote            *order.Quote
	tiers            []OrderTier
	chain            order.Chain
	params           map[string]string
	connector        string
}

// priceNew authorizes act on the customer and prices req for the customer
// and every tier, reading through q (the read pool for a quote, the
// order's transaction for an order).
func (db *DB) priceNew(ctx context.Context, q querier, actor *account.Actor, act account.Action, req OrderRequest) (*newSale, error) {
	cust, err := db.customerFor(ctx, q, actor, act, req.CustomerID)
	if err != nil {
		return nil, err
	}
	if err := mayOrder(cust); err != nil {
		return nil, err
	}
	vendor, err := loadAccount(ctx, q, cust.ParentID)
	if err != nil {
		return nil, err
	}
	if err := maySell(vendor); err != nil {
		return nil, err
	}
	plan, err := planOnSale(ctx, q, vendor.ID, req.PlanID)
	if err != nil {
		return nil, err
	}
	chain, err := planChain(ctx, q, plan)
	if err != nil {
		return nil, err
	}
	// Every reseller up the chain buys the tier below's sale: one on hold
	// buys nothing, so nothing below it is sold (its customers' running
	// services go on).
	for i := 1; i < len(chain)-1; i++ {
		up, err := loadAccount(ctx, q, chain[i].OwnerID)
		if err != nil {
			return nil, err
		}
		if up.Status == account.StatusCreditHold || up.Status == account.StatusAdminHold {
			return nil, marketplane.Errorf(marketplane.ECONFLICT, "a reseller above the vendor is on hold: nothing below it is sold until the hold is released")
		}
	}
	s := &newSale{customer: cust, vendor: vendor, plan: plan, on: req.On, params: req.Parameters, chain: chain}
	if s.on.IsZero() {
		s.on = db.Clock.Now()
	}
	terms := db.vendorTerms(vendor, cust)
	nr := order.NewRequest{On: s.on, Period: req.Period, Resources: req.Resources, ConfirmZero: req.ConfirmZero}
	quote, quoteErr := order.QuoteNew(plan, nr, terms)
	var f marketplane.FieldErrors
	s.connector, err = db.checkParameters(ctx, q, &f, cust.Path, plan.Template, req.Parameters)
	if err != nil {
		return nil, err
	}
	if err := invalid("order", f, quoteErr); err != nil {
		return nil, err
	}
	s.quote = quote
	wholesale, err := order.WholesaleNew(chain, nr, terms)
	if err != nil {
		return nil, tierErr(err)
	}
	s.tiers = tiersOf(chain, wholesale)
	if s.params == nil {
		s.params = map[string]string{}
	}
	return s, nil
}

// insertOrder stores o (placed by actor, for the customer at path) in
// status provisioning with the vendor's next number and its tiers, calls
// enqueue and records the audit entry. It fills the order's id, number,
// status and bookkeeping.
func (db *DB) insertOrder(ctx context.Context, tx *sql.Tx, actor *account.Actor, o *Order, path string, now time.Time,
	enqueue func(tx *sql.Tx, o *Order) error) error {
	o.Status = order.StatusProvisioning
	if actor != nil && !actor.System {
		o.CreatedBy = actor.UserID
	}
	if err := insertOrderRow(ctx, tx, o, now); err != nil {
		return err
	}
	if enqueue != nil {
		if err := enqueue(tx, o); err != nil {
			return fmt.Errorf("queue order %d: %w", o.ID, err)
		}
	}
	return db.audit(ctx, tx, actor, o.CustomerID, path, "order.place", "order", o.ID, map[string]any{
		"type": o.Type, "number": o.Number, "vendor_id": o.VendorID, "subscription_id": o.SubscriptionID, "plan_id": o.PlanID,
		"total": o.Total.String(), "currency": o.Currency, "tiers": len(o.Tiers)})
}

// takeOrderNumber takes vendor's next order number. The upsert locks the
// vendor's counter row until the transaction ends, so concurrent orders of
// one vendor queue there and a rolled-back order gives its number back:
// numbers have no gaps.
func takeOrderNumber(ctx context.Context, tx *sql.Tx, vendorID int64) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO order_counters (vendor_id, next) VALUES ($1, 2)
		ON CONFLICT (vendor_id) DO UPDATE SET next = order_counters.next + 1 RETURNING next - 1`, vendorID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("order number of vendor %d: %w", vendorID, err)
	}
	return n, nil
}

// ChangeOrder places a change order (CH) for subscription subscriptionID:
// another plan of its vendor on the current plan's upgrade or downgrade
// paths, new resource amounts, another billing period, or several of
// these. The actor needs to manage the customer's subscriptions. The
// subscription must be active with no other order open, and the
// customer's account must allow orders.
//
// The change is priced by order.QuoteChange on the day of req.On inside the
// current period (credit for the days left of the old prices, charge for
// the new; a change of period charges the new period whole from that day;
// see its formula) and at every tier by order.WholesaleChange. The
// subscription changes when the order completes (CompleteOrder). A change
// to a plan of another plan category whose rule is one subscription per
// customer is refused while the customer holds one of that category
// (ECONFLICT naming both); an upgrade within the category is allowed.
// Errors as PlaceOrder's, with the order package's reasons "plan"
// not_allowed or in_trial, "period" unknown_period, in_trial or
// not_allowed, "on" outside_period, "resources" no_change, "confirm_zero"
// required; ECONFLICT for a subscription that is not active or has an open
// order.
func (db *DB) ChangeOrder(ctx context.Context, actor *account.Actor, subscriptionID int64, req ChangeRequest, enqueue func(tx *sql.Tx, o *Order) error) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if req.PlanID != 0 {
			// The customer's account is locked before the subscription, in
			// the order a hold locks them, for the unique-group check.
			if err := db.lockCustomerOf(ctx, tx, subscriptionID); err != nil {
				return err
			}
		}
		c, err := db.priceChange(ctx, tx, actor, account.ManageSubscriptions, subscriptionID, req)
		if err != nil {
			return err
		}
		if c.to != nil && c.to[0].PlanCategory != c.from[0].PlanCategory {
			if err := db.checkUniqueGroup(ctx, tx, c.sub.CustomerID, c.to, c.sub.ID); err != nil {
				return err
			}
		}
		sub, q := c.sub, c.quote
		after := q.Subscription
		planID, resources := after.Plan.ID, after.Resources
		deferred := after.Pending != nil
		if deferred {
			planID, resources = after.Pending.Plan.ID, after.Pending.Resources
		}
		details := OrderDetails{On: c.on, Period: after.Period, Asked: req.Resources, Resources: resources,
			FromPlanID: sub.PlanID, FromResources: sub.Resources, EffectiveOn: q.EffectiveOn, Deferred: deferred,
			InvoiceNow: c.mode == account.ProrateInvoice, ConfirmZero: req.ConfirmZero}
		if after.Period != sub.Period {
			details.FromPeriod, details.PeriodEnd = sub.Period, after.PeriodEnd
		}
		o = &Order{
			VendorID: sub.VendorID, CustomerID: sub.CustomerID, Type: order.CH, SubscriptionID: sub.ID, PlanID: planID,
			Period: after.Period, Quote: q, Details: details, Tiers: c.tiers,
		}
		path = c.customer.Path
		return db.insertOrder(ctx, tx, actor, o, c.customer.Path, db.stamp(), enqueue)
	})
	if err != nil {
		return nil, err
	}
	o.Tiers = visibleTiers(actor, path, o.Tiers)
	return o, nil
}

// QuoteChange prices a change of subscription subscriptionID as
// ChangeOrder would, without storing anything. The actor needs to view the
// customer's orders. The errors are ChangeOrder's.
func (db *DB) QuoteChange(ctx context.Context, actor *account.Actor, subscriptionID int64, req ChangeRequest) (*OrderQuote, error) {
	c, err := db.priceChange(ctx, db.Read, actor, account.ViewOrders, subscriptionID, req)
	if err != nil {
		return nil, err
	}
	if c.to != nil && c.to[0].PlanCategory != c.from[0].PlanCategory {
		if err := uniqueGroupConflict(ctx, db.Read, c.sub.CustomerID, c.to, c.sub.ID, nil); err != nil {
			return nil, err
		}
	}
	return &OrderQuote{CustomerID: c.customer.ID, Quote: c.quote, Tiers: visibleTiers(actor, c.customer.Path, c.tiers)}, nil
}

// pricedChange is a priced change with what it was priced from.
type pricedChange struct {
	sub      *subscription.Subscription
	customer *account.Account
	on       time.Time
	mode     string // the proration mode applied
	from, to order.Chain
	quote    *order.Quote
	tiers    []OrderTier
}

// priceChange authorizes act on the customer of subscription
// subscriptionID (its row locked when act is to manage it: the change's
// transaction) and prices req for the customer and every tier, reading
// through tx (the read pool for a quote).
func (db *DB) priceChange(ctx context.Context, tx querier, actor *account.Actor, act account.Action, subscriptionID int64, req ChangeRequest) (*pricedChange, error) {
	sub, cust, err := db.subscriptionFor(ctx, tx, actor, act, subscriptionID, act == account.ManageSubscriptions)
	if err != nil {
		return nil, err
	}
	if err := mayOrder(cust); err != nil {
		return nil, err
	}
	if sub.Status != subscription.Active {
		return nil, marketplane.Errorf(marketplane.ECONFLICT, "subscription %d is %s; only an active subscription changes", sub.ID, sub.Status)
	}
	vendor, cur, from, err := orderBasis(ctx, tx, sub)
	if err != nil {
		return nil, err
	}
	var to order.Chain
	var target *catalog.Plan
	if req.PlanID != 0 && req.PlanID != sub.PlanID {
		if target, err = planOnSale(ctx, tx, sub.VendorID, req.PlanID); err != nil {
			return nil, err
		}
		if to, err = planChain(ctx, tx, target); err != nil {
			return nil, err
		}
	}
	on := req.On
	if on.IsZero() {
		on = db.Clock.Now()
	}
	state := pricingState(sub, cur.Plan)
	terms := db.vendorTerms(vendor, cust)
	mode := vendor.Selling.Proration
	switch req.Proration {
	case "":
	case account.ProrateCharges, account.ProrateInvoice, account.ProrateNone:
		mode = req.Proration
		terms.Proration = prorationOf(mode)
	default:
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid change",
			Fields: map[string]string{"proration": "must be prorate, prorate_invoice or none"}}
	}
	cr := order.ChangeRequest{On: on, Plan: target, Resources: req.Resources, Period: req.Period, ConfirmZero: req.ConfirmZero}
	q, err := order.QuoteChange(state, cr, terms)
	if err != nil {
		return nil, err
	}
	wholesale, err := order.WholesaleChange(state, from, to, cr, terms)
	if err != nil {
		return nil, tierErr(err)
	}
	chain := from
	if to != nil {
		chain = to
	}
	return &pricedChange{sub: sub, customer: cust, on: on, mode: mode, from: from, to: to, quote: q,
		tiers: tiersOf(chain, wholesale)}, nil
}

// lockCustomerOf locks the account row of the customer of subscription
// id (PostgreSQL; SQLite's writer holds the whole database), so that the
// orders of one customer that the unique-group rule concerns queue.
func (db *DB) lockCustomerOf(ctx context.Context, tx *sql.Tx, id int64) error {
	var customerID int64
	err := tx.QueryRowContext(ctx, `SELECT customer_id FROM subscriptions WHERE id = $1`, id).Scan(&customerID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // subscriptionFor answers for the missing subscription
	}
	if err != nil {
		return fmt.Errorf("subscription %d: %w", id, err)
	}
	return db.lockAccount(ctx, tx, customerID)
}

func (db *DB) lockAccount(ctx context.Context, tx *sql.Tx, id int64) error {
	var got int64
	if err := tx.QueryRowContext(ctx, `SELECT a.id FROM accounts a WHERE a.id = $1`+db.lockRows("a"), id).Scan(&got); err != nil {
		return fmt.Errorf("lock account %d: %w", id, notFound(err, "account"))
	}
	return nil
}

// uniqueGroupOf returns the plan category that decides whether the plan
// chain[0] is sold one per customer: the category of the plan's key at
// the nearest seller up the chain that has one (a reseller's own category
// of the key, else its source's), or nil when none has or the one found
// allows several.
func uniqueGroupOf(ctx context.Context, q querier, chain order.Chain) (*PlanCategory, error) {
	for _, p := range chain {
		if p.PlanCategory == "" {
			return nil, nil
		}
		c, err := scanPlanCategory(q.QueryRowContext(ctx, `SELECT `+planCategoryColumns+` FROM plan_categories
			WHERE owner_id = $1 AND key = $2`, p.OwnerID, p.PlanCategory))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("plan category %q of seller %d: %w", p.PlanCategory, p.OwnerID, err)
		}
		if !c.UniqueGroup {
			return nil, nil
		}
		return c, nil
	}
	return nil, nil
}

// checkUniqueGroup enforces the plan category's "one subscription per
// customer" for an order of plan chain[0] by customer customerID: when
// the plan's category is a unique group, the customer's account row is
// locked (so that two orders of one customer queue here; the check below
// then reads what the first committed) and the order is refused
// (ECONFLICT) while the customer has another subscription, except, of
// that category's plans at the plan's seller: one not terminated
// (pending, active, suspended or graced), or one with an open change
// order to such a plan.
func (db *DB) checkUniqueGroup(ctx context.Context, tx *sql.Tx, customerID int64, chain order.Chain, except int64) error {
	return uniqueGroupConflict(ctx, tx, customerID, chain, except, func() error { return db.lockAccount(ctx, tx, customerID) })
}

// uniqueGroupConflict is checkUniqueGroup's check, reading through q; lock
// (nil for a quote, which reads what is committed) runs once the plan is
// known to be in a unique group, before the customer's subscriptions are
// read.
func uniqueGroupConflict(ctx context.Context, tx querier, customerID int64, chain order.Chain, except int64, lock func() error) error {
	cat, err := uniqueGroupOf(ctx, tx, chain)
	if err != nil || cat == nil {
		return err
	}
	if lock != nil {
		if err := lock(); err != nil {
			return err
		}
	}
	plan := chain[0]
	var id, planID int64
	var status string
	err = tx.QueryRowContext(ctx, `SELECT s.id, s.status, s.plan_id FROM subscriptions s JOIN plans p ON p.id = s.plan_id
		WHERE s.customer_id = $1 AND s.status <> 'terminated' AND p.owner_id = $2 AND p.plan_category = $3 AND s.id <> $4
		UNION ALL
		SELECT s.id, s.status, o.plan_id FROM orders o JOIN plans p ON p.id = o.plan_id JOIN subscriptions s ON s.id = o.subscription_id
		WHERE o.customer_id = $1 AND o.type = 'CH' AND o.status NOT IN ('completed', 'cancelled') AND p.owner_id = $2
			AND p.plan_category = $3 AND o.subscription_id <> $4
		ORDER BY 1 LIMIT 1`, customerID, plan.OwnerID, plan.PlanCategory, except).Scan(&id, &status, &planID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("subscriptions of customer %d in plan category %q: %w", customerID, plan.PlanCategory, err)
	}
	name := cat.Name.Get("en")
	if name == "" {
		name = cat.Key
	}
	return marketplane.Errorf(marketplane.ECONFLICT,
		"plan category %q (%s) sells one subscription per customer, and the customer has subscription %d (%s, plan %d) in it; "+
			"change that subscription's plan instead", cat.Key, name, id, status, planID)
}

// CancelOrder places a cancellation order (CL) for subscription
// subscriptionID on the day of on (zero: now). The actor needs the
// cancel-subscriptions privilege on the customer. The subscription must
// exist at the connector (active, suspended or graced) with no other order
// open; an account on hold may still cancel.
//
// The refund follows the period's refund policy (order.QuoteCancel: whole
// inside the full-refund window, then prorated or none, less the
// non-refundable part) and each tier refunds its buyer by its own plan's
// policy (order.WholesaleCancel). The subscription is terminated when the
// order completes. Errors: ENOTFOUND, EFORBIDDEN, EINVALID ("on"
// outside_period), ECONFLICT.
func (db *DB) CancelOrder(ctx context.Context, actor *account.Actor, subscriptionID int64, on time.Time, enqueue func(tx *sql.Tx, o *Order) error) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		sub, cust, err := db.subscriptionFor(ctx, tx, actor, account.CancelSubs, subscriptionID, true)
		if err != nil {
			return err
		}
		switch {
		case sub.Status == subscription.Pending:
			return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d is not provisioned yet; cancel its sales order instead", sub.ID)
		case !sub.Live():
			return marketplane.Errorf(marketplane.ECONFLICT, "subscription %d is %s already", sub.ID, sub.Status)
		}
		vendor, cur, chain, err := orderBasis(ctx, tx, sub)
		if err != nil {
			return err
		}
		if on.IsZero() {
			on = db.Clock.Now()
		}
		buyer, err := loadAccount(ctx, tx, sub.CustomerID)
		if err != nil {
			return err
		}
		state := pricingState(sub, cur.Plan)
		terms := db.vendorTerms(vendor, buyer)
		q, err := order.QuoteCancel(state, on, terms)
		if err != nil {
			return err
		}
		wholesale, err := order.WholesaleCancel(state, chain, on, terms)
		if err != nil {
			return tierErr(err)
		}
		o = &Order{
			VendorID: sub.VendorID, CustomerID: sub.CustomerID, Type: order.CL, SubscriptionID: sub.ID, PlanID: sub.PlanID,
			Period: sub.Period, Quote: q,
			Details: OrderDetails{On: on, Period: sub.Period, FromPlanID: sub.PlanID, FromResources: sub.Resources, EffectiveOn: q.EffectiveOn},
			Tiers:   tiersOf(chain, wholesale),
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

// ----- the order's life after placing -----

// CompleteOrder marks order orderID completed (system use: the
// provisioning orchestrator, when the connector reports the service done)
// and applies it to its subscription: a sales order activates it, a change
// applies the new plan and limits (or leaves a deferred change pending), a
// cancellation terminates it. tenant records what the connector reported.
// Completing a completed order changes nothing and returns it, so that a
// retried task is harmless. Errors: ENOTFOUND, ECONFLICT (the state machine
// refuses: a cancelled order, a failed one not retried).
func (db *DB) CompleteOrder(ctx context.Context, orderID int64, tenant TenantInfo) (*Order, error) {
	var o *Order
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var path string
		var err error
		o, path, err = db.loadOrder(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		if o.Status == order.StatusCompleted {
			return nil
		}
		if err := order.Transition(o.Status, order.StatusCompleted); err != nil {
			return fmt.Errorf("order %d: %w", o.ID, err)
		}
		sub, err := loadSubscription(ctx, tx, o.SubscriptionID, db.lockRows("s"))
		if err != nil {
			return err
		}
		before := sub.Status
		switch o.Type {
		case order.SO:
			if err := subscription.Transition(sub.Status, subscription.Active); err != nil {
				return fmt.Errorf("subscription %d: %w", sub.ID, err)
			}
			sub.Status, sub.StatusReason = subscription.Active, ""
		case order.CH:
			if o.Details.Restore {
				if err := subscription.Transition(sub.Status, subscription.Active); err != nil {
					return fmt.Errorf("subscription %d: %w", sub.ID, err)
				}
				sub.Status, sub.StatusReason = subscription.Active, ""
				break
			}
			if o.Details.Deferred {
				sub.Pending = &subscription.PendingChange{On: o.Details.EffectiveOn, PlanID: o.PlanID, Resources: o.Details.Resources}
			} else {
				sub.PlanID, sub.Resources, sub.Pending = o.PlanID, o.Details.Resources, nil
			}
			if d := o.Details; d.FromPeriod != "" && d.Period != sub.Period {
				// A change of period starts the new period on its day.
				sub.Period, sub.Anchor, sub.PeriodStart, sub.PeriodEnd = d.Period, d.EffectiveOn, d.EffectiveOn, d.PeriodEnd
				sub.NextBillingAt = d.PeriodEnd
			}
		case order.CL:
			if err := subscription.Transition(sub.Status, subscription.Terminated); err != nil {
				return fmt.Errorf("subscription %d: %w", sub.ID, err)
			}
			sub.Status, sub.StatusReason, sub.Pending = subscription.Terminated, subscription.ReasonCancelled, nil
		default:
			return marketplane.Errorf(marketplane.ECONFLICT, "%s orders are completed by billing", o.Type)
		}
		if tenant.Connector != "" {
			sub.Connector = tenant.Connector
		}
		if tenant.TenantID != "" {
			sub.TenantID = tenant.TenantID
		}
		if tenant.Status != "" {
			sub.TenantStatus = tenant.Status
		}
		if tenant.Attributes != nil {
			sub.Attributes = tenant.Attributes
		}
		now := db.stamp()
		if err := db.saveSubscription(ctx, tx, sub, now); err != nil {
			return err
		}
		o.FinishedAt = now
		if err := db.setOrderStatus(ctx, tx, o, order.StatusCompleted, "", "", now); err != nil {
			return err
		}
		if err := db.invoiceOrder(ctx, tx, o, now); err != nil {
			return err
		}
		if err := db.emitStatus(ctx, tx, sub, before, path); err != nil {
			return err
		}
		if err := db.emitOrderCompleted(ctx, tx, o, path); err != nil {
			return err
		}
		return db.audit(ctx, tx, account.SystemActor(), o.CustomerID, path, "order.complete", "order", o.ID, map[string]any{
			"number": o.Number, "type": o.Type, "subscription_id": sub.ID, "subscription_status": []subscription.Status{before, sub.Status},
			"tenant_id": sub.TenantID})
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// FailOrder marks order orderID provisioning_failed with reason (default
// order.ProvisioningFailed) and the connector's message (system use: the
// orchestrator, when retries are exhausted or the connector refused for
// good). Failing a failed order again replaces its reason and message.
// Staff then retry it (RetryOrder) or cancel it (CancelPendingOrder).
// Errors: ENOTFOUND, ECONFLICT (an order that is not being provisioned).
func (db *DB) FailOrder(ctx context.Context, orderID int64, reason order.StatusReason, message string) (*Order, error) {
	if reason == "" {
		reason = order.ProvisioningFailed
	}
	var o *Order
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var path string
		var err error
		o, path, err = db.loadOrder(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		if o.Status != order.StatusProvisioningFailed {
			if err := order.Transition(o.Status, order.StatusProvisioningFailed); err != nil {
				return fmt.Errorf("order %d: %w", o.ID, err)
			}
		}
		if err := db.setOrderStatus(ctx, tx, o, order.StatusProvisioningFailed, reason, message, db.stamp()); err != nil {
			return err
		}
		return db.audit(ctx, tx, account.SystemActor(), o.CustomerID, path, "order.fail", "order", o.ID,
			map[string]any{"number": o.Number, "reason": reason, "message": message})
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// RetryOrder puts a failed order back to provisioning and calls enqueue in
// the same transaction (the provisioning task, again). Staff only: the
// actor needs to manage orders of the customer from an account above it
// (or be Marketplane itself). Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT (the
// order is not provisioning_failed).
func (db *DB) RetryOrder(ctx context.Context, actor *account.Actor, id int64, enqueue func(tx *sql.Tx, o *Order) error) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, path, err = db.orderForStaff(ctx, tx, actor, id); err != nil {
			return err
		}
		if err := order.Transition(o.Status, order.StatusProvisioning); err != nil {
			return fmt.Errorf("order %d: %w", o.ID, err)
		}
		if o.Status != order.StatusProvisioningFailed {
			return marketplane.Errorf(marketplane.ECONFLICT, "order %d is %s; only a failed order is retried", o.ID, o.Status)
		}
		failed := o.Message
		if err := db.setOrderStatus(ctx, tx, o, order.StatusProvisioning, "", "", db.stamp()); err != nil {
			return err
		}
		if enqueue != nil {
			if err := enqueue(tx, o); err != nil {
				return fmt.Errorf("queue order %d: %w", o.ID, err)
			}
		}
		return db.audit(ctx, tx, actor, o.CustomerID, path, "order.retry", "order", o.ID,
			map[string]any{"number": o.Number, "failed_with": failed})
	})
	if err != nil {
		return nil, err
	}
	return db.withTiers(ctx, actor, o, path)
}

// CancelPendingOrder cancels an order that has not been provisioned: placed,
// waiting, or failed. Staff only (as RetryOrder). A cancelled sales order
// terminates its pending subscription; a cancelled change or cancellation
// leaves the subscription as it is. Errors: ENOTFOUND, EFORBIDDEN,
// ECONFLICT (the order is being provisioned or finished).
func (db *DB) CancelPendingOrder(ctx context.Context, actor *account.Actor, id int64) (*Order, error) {
	var o *Order
	var path string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, path, err = db.orderForStaff(ctx, tx, actor, id); err != nil {
			return err
		}
		if err := order.Transition(o.Status, order.StatusCancelled); err != nil {
			return fmt.Errorf("order %d: %w", o.ID, err)
		}
		now := db.stamp()
		if o.Type == order.SO && o.SubscriptionID != 0 {
			sub, err := loadSubscription(ctx, tx, o.SubscriptionID, db.lockRows("s"))
			if err != nil {
				return err
			}
			if sub.Status == subscription.Pending {
				sub.Status, sub.StatusReason = subscription.Terminated, subscription.ReasonOrderCancelled
				if err := db.saveSubscription(ctx, tx, sub, now); err != nil {
					return err
				}
			}
		}
		o.FinishedAt = now
		if err := db.setOrderStatus(ctx, tx, o, order.StatusCancelled, order.CancelledByStaff, o.Message, now); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, o.CustomerID, path, "order.cancel", "order", o.ID, map[string]any{"number": o.Number, "type": o.Type})
	})
	if err != nil {
		return nil, err
	}
	return db.withTiers(ctx, actor, o, path)
}

// setOrderStatus saves o's new status, reason and message (and FinishedAt)
// and moves its version on. No attempt is due after a change of status; an
// order that goes (back) to provisioning starts a new series of attempts.
func (db *DB) setOrderStatus(ctx context.Context, tx *sql.Tx, o *Order, status order.Status, reason order.StatusReason, message string, now time.Time) error {
	p := o.Provisioning
	p.NextAt = time.Time{}
	if status == order.StatusProvisioning {
		p = ProvisioningProgress{}
	}
	res, err := tx.ExecContext(ctx, `UPDATE orders SET status = $1, reason = $2, message = $3, finished_at = $4, updated_at = $5,
		version = version + 1, provision_attempts = $6, provision_error = $7, provision_since = $8, provision_last_at = $9,
		provision_next_at = NULL WHERE id = $10 AND version = $11`,
		string(status), string(reason), message, tv(o.FinishedAt), tv(now), p.Attempts, p.LastError, tv(p.Since), tv(p.LastAt),
		o.ID, o.Version)
	if err != nil {
		return fmt.Errorf("order %d: %w", o.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return marketplane.Errorf(marketplane.ECONFLICT, "order %d was changed meanwhile; read it again", o.ID)
	}
	o.Status, o.Reason, o.Message, o.UpdatedAt, o.Version, o.Provisioning = status, reason, message, now, o.Version+1, p
	return nil
}

// RecordProvisioningFailure records a failed attempt to provision order
// orderID that will be tried again at next (zero: no attempt is due), with
// its cause in words, and returns the order with its progress (system use:
// the orchestrator). The order's status does not change. An order no longer
// provisioning is returned as it is: its task ran late.
// Errors: ENOTFOUND.
func (db *DB) RecordProvisioningFailure(ctx context.Context, orderID int64, message string, next time.Time) (*Order, error) {
	var o *Order
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, _, err = db.loadOrder(ctx, tx, orderID, true); err != nil {
			return err
		}
		if o.Status != order.StatusProvisioning {
			return nil
		}
		now := db.stamp()
		p := o.Provisioning
		if p.Attempts == 0 || p.Since.IsZero() {
			p.Since = now
		}
		p.Attempts++
		p.LastError, p.LastAt, p.NextAt = message, now, next
		_, err = tx.ExecContext(ctx, `UPDATE orders SET provision_attempts = $1, provision_error = $2, provision_since = $3,
			provision_last_at = $4, provision_next_at = $5, updated_at = $6, version = version + 1 WHERE id = $7`,
			p.Attempts, p.LastError, tv(p.Since), tv(p.LastAt), tv(p.NextAt), tv(now), o.ID)
		if err != nil {
			return fmt.Errorf("order %d: %w", o.ID, err)
		}
		o.Provisioning, o.UpdatedAt, o.Version = p, now, o.Version+1
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ----- reading orders -----

// orderColumns are the columns scanOrder reads, from orders aliased o.
const orderColumns = `o.id, o.vendor_id, o.customer_id, o.number, o.type, o.status, o.reason, o.message,
	COALESCE(o.subscription_id, 0), COALESCE(o.plan_id, 0), o.period_key, o.request, o.quote, o.total, o.currency,
	COALESCE(o.created_by_user_id, 0), o.created_at, o.updated_at, o.finished_at, o.version,
	o.provision_attempts, o.provision_error, o.provision_since, o.provision_last_at, o.provision_next_at`

func scanOrder(r scanner, extra ...any) (*Order, error) {
	o := &Order{}
	var details, quote string
	var total int64
	dest := append([]any{&o.ID, &o.VendorID, &o.CustomerID, &o.Number, &o.Type, &o.Status, &o.Reason, &o.Message,
		&o.SubscriptionID, &o.PlanID, &o.Period, &details, &quote, &total, &o.Currency,
		&o.CreatedBy, ts(&o.CreatedAt), ts(&o.UpdatedAt), ts(&o.FinishedAt), &o.Version,
		&o.Provisioning.Attempts, &o.Provisioning.LastError, ts(&o.Provisioning.Since), ts(&o.Provisioning.LastAt),
		ts(&o.Provisioning.NextAt)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	o.Total = money.Micros(total)
	if err := json.Unmarshal([]byte(details), &o.Details); err != nil {
		return nil, fmt.Errorf("order %d request: %w", o.ID, err)
	}
	o.Quote = &order.Quote{}
	if err := json.Unmarshal([]byte(quote), o.Quote); err != nil {
		return nil, fmt.Errorf("order %d quote: %w", o.ID, err)
	}
	return o, nil
}

// loadOrder loads order id with its customer's path, locking its row for
// the transaction when lock is set (PostgreSQL; SQLite's single writer
// needs no lock).
func (db *DB) loadOrder(ctx context.Context, q querier, id int64, lock bool) (*Order, string, error) {
	var path string
	suffix := ""
	if lock {
		suffix = db.lockRows("o")
	}
	o, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderColumns+`, a.path FROM orders o
		JOIN accounts a ON a.id = o.customer_id WHERE o.id = $1`+suffix, id), &path)
	if err != nil {
		return nil, "", notFound(err, "order")
	}
	return o, path, nil
}

// orderForStaff loads order id for a staff action: the actor must manage
// orders of the customer from an account above it.
func (db *DB) orderForStaff(ctx context.Context, tx *sql.Tx, actor *account.Actor, id int64) (*Order, string, error) {
	o, path, err := db.loadOrder(ctx, tx, id, true)
	if err != nil {
		return nil, "", err
	}
	if err := account.Authorize(actor, account.ManageOrders, account.Target{AccountID: o.CustomerID, Path: path}); err != nil {
		return nil, "", hideAs(err, "order")
	}
	if err := staffOnly(actor, path, "retry or cancel orders"); err != nil {
		return nil, "", err
	}
	return o, path, nil
}

// staffOnly refuses an actor acting on its own account where the action is
// the vendor's staff's: those above the customer, and Marketplane itself.
func staffOnly(actor *account.Actor, customerPath, what string) error {
	if actor.System || account.Relate(actor.AccountPath, customerPath) != account.Self {
		return nil
	}
	return marketplane.Errorf(marketplane.EFORBIDDEN, "only the vendor's staff may %s", what)
}

// Order returns order id with the tiers the actor may see, if the actor may
// view the customer's orders (ENOTFOUND otherwise).
func (db *DB) Order(ctx context.Context, actor *account.Actor, id int64) (*Order, error) {
	o, path, err := db.loadOrder(ctx, db.Read, id, false)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, account.ViewOrders, account.Target{AccountID: o.CustomerID, Path: path}); err != nil {
		return nil, hideAs(err, "order")
	}
	return db.withTiers(ctx, actor, o, path)
}

// withTiers loads o's tiers and keeps those the actor may see.
func (db *DB) withTiers(ctx context.Context, actor *account.Actor, o *Order, path string) (*Order, error) {
	tiers, err := loadTiers(ctx, db.Read, o.ID)
	if err != nil {
		return nil, err
	}
	o.Tiers = visibleTiers(actor, path, tiers)
	return o, nil
}

// loadTiers reads every tier of order id, lowest first.
func loadTiers(ctx context.Context, q querier, id int64) ([]OrderTier, error) {
	rows, err := q.QueryContext(ctx, `SELECT tier, seller_id, buyer_id, plan_id, quote, total FROM order_tiers
		WHERE order_id = $1 ORDER BY tier`, id)
	if err != nil {
		return nil, fmt.Errorf("order %d tiers: %w", id, err)
	}
	defer rows.Close()
	var tiers []OrderTier
	for rows.Next() {
		var t OrderTier
		var quote string
		var total int64
		if err := rows.Scan(&t.Tier, &t.SellerID, &t.BuyerID, &t.PlanID, &quote, &total); err != nil {
			return nil, fmt.Errorf("order %d tiers: %w", id, err)
		}
		t.Total, t.Quote = money.Micros(total), &order.Quote{}
		if err := json.Unmarshal([]byte(quote), t.Quote); err != nil {
			return nil, fmt.Errorf("order %d tier %d: %w", id, t.Tier, err)
		}
		tiers = append(tiers, t)
	}
	return tiers, rows.Err()
}

// OrderFilter selects orders. With CustomerID the actor needs to view that
// customer's orders; with VendorID (and no customer) that vendor's account
// (its sales); with neither, the list is the orders of the customers in the
// actor's reach. Pages are newest first.
type OrderFilter struct {
	CustomerID     int64
	VendorID       int64
	SubscriptionID int64
	Type           order.Type
	Status         order.Status
	// BeforeID is the cursor: the id of the last order of the previous
	// page.
	BeforeID int64
	Limit    int
}

// Orders lists orders, without their tiers (Order has them).
func (db *DB) Orders(ctx context.Context, actor *account.Actor, f OrderFilter) ([]*Order, error) {
	sc, err := db.listScope(ctx, actor, account.ViewOrders, "o", f.CustomerID, f.VendorID)
	if err != nil {
		return nil, err
	}
	if f.SubscriptionID != 0 {
		sc.where("o.subscription_id", f.SubscriptionID)
	}
	if f.Type != "" {
		sc.where("o.type", string(f.Type))
	}
	if f.Status != "" {
		sc.where("o.status", string(f.Status))
	}
	if f.BeforeID != 0 {
		sc.args = append(sc.args, f.BeforeID)
		sc.conds = append(sc.conds, fmt.Sprintf("o.id < $%d", len(sc.args)))
	}
	q := `SELECT ` + orderColumns + ` FROM orders o` + sc.sql("o", clampLimit(f.Limit))
	rows, err := db.Read.QueryContext(ctx, q, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer rows.Close()
	out := []*Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// scope is the part of a list query that keeps it inside the actor's
// reach, with the list's own conditions added to it.
type scope struct {
	join  string
	conds []string
	args  []any
}

func (s *scope) where(col string, v any) {
	s.args = append(s.args, v)
	s.conds = append(s.conds, fmt.Sprintf("%s = $%d", col, len(s.args)))
}

// sql is the rest of the query after "FROM table alias": the join, the
// conditions, newest first, limit.
func (s *scope) sql(alias string, limit int) string {
	q := s.join
	if len(s.conds) > 0 {
		q += " WHERE " + strings.Join(s.conds, " AND ")
	}
	s.args = append(s.args, limit)
	return q + fmt.Sprintf(" ORDER BY %s.id DESC LIMIT $%d", alias, len(s.args))
}

// listScope authorizes a list of orders or subscriptions (table alias
// alias) and returns the conditions that keep it in the actor's reach: one
// customer, one vendor's sales, or every customer in the actor's subtree —
// one indexed range of the accounts' paths joined to the list, never a
// walk of the accounts.
func (db *DB) listScope(ctx context.Context, actor *account.Actor, act account.Action, alias string, customerID, vendorID int64) (*scope, error) {
	s := &scope{}
	switch {
	case customerID != 0:
		if _, err := db.authorize(ctx, db.Read, actor, act, customerID); err != nil {
			return nil, err
		}
		s.where(alias+".customer_id", customerID)
		if vendorID != 0 {
			s.where(alias+".vendor_id", vendorID)
		}
	case vendorID != 0:
		if _, err := db.authorize(ctx, db.Read, actor, act, vendorID); err != nil {
			return nil, err
		}
		s.where(alias+".vendor_id", vendorID)
	case actor != nil && actor.System:
	default:
		if actor == nil || actor.Disabled {
			return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "not signed in")
		}
		if err := account.Authorize(actor, act, account.Target{AccountID: actor.AccountID, Path: actor.AccountPath}); err != nil {
			return nil, err
		}
		if actor.Grants.Level(account.PrivAccounts) < account.View {
			// Without reach below its account, the actor sees its own.
			s.where(alias+".customer_id", actor.AccountID)
			break
		}
		s.join = " JOIN accounts a ON a.id = " + alias + ".customer_id"
		s.args = append(s.args, actor.AccountPath, account.SubtreeEnd(actor.AccountPath))
		s.conds = append(s.conds, fmt.Sprintf("a.path >= $%d AND a.path < $%d", len(s.args)-1, len(s.args)))
		if actor.Grants.Scope() != account.ScopeDescendants {
			// A reach of "children" sees one level below the actor.
			s.args = append(s.args, account.Depth(actor.AccountPath)+1)
			s.conds = append(s.conds, fmt.Sprintf("a.depth <= $%d", len(s.args)))
		}
	}
	return s, nil
}

// ----- pricing helpers -----

// customerFor loads account id, authorizes act on it and checks that it is
// a customer: only customers buy.
func (db *DB) customerFor(ctx context.Context, q querier, actor *account.Actor, act account.Action, id int64) (*account.Account, error) {
	c, err := loadAccount(ctx, q, id)
	if err != nil {
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return nil, marketplane.Errorf(marketplane.ENOTFOUND, "customer not found")
		}
		return nil, err
	}
	if err := account.Authorize(actor, act, account.Target{AccountID: c.ID, Path: c.Path}); err != nil {
		return nil, hideAs(err, "customer")
	}
	if c.Kind != account.Customer {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid order",
			Fields: map[string]string{"customer_id": fmt.Sprintf("account %d is a %s; only customers buy", c.ID, c.Kind)}}
	}
	return c, nil
}

// mayOrder refuses the orders that the customer's account status forbids,
// with the reason.
func mayOrder(c *account.Account) error {
	switch c.Status {
	case account.StatusCreditHold:
		return marketplane.Errorf(marketplane.ECONFLICT, "the account is on credit hold: it places no orders until the hold is released")
	case account.StatusAdminHold:
		return marketplane.Errorf(marketplane.ECONFLICT, "the account is on administrative hold: it places no orders until the hold is released")
	case account.StatusCancelled:
		return marketplane.Errorf(marketplane.ECONFLICT, "the account is cancelled")
	}
	return nil
}

// maySell refuses sales of a vendor that cannot sell: cancelled or on hold
// (its own purchase from its parent, the wholesale side, would be refused).
func maySell(v *account.Account) error {
	switch v.Status {
	case account.StatusCreditHold, account.StatusAdminHold:
		return marketplane.Errorf(marketplane.ECONFLICT, "the vendor's account is on hold: it sells nothing until the hold is released")
	case account.StatusCancelled:
		return marketplane.Errorf(marketplane.ECONFLICT, "the vendor's account is cancelled")
	}
	return nil
}

// ReasonNotOnSale is the field reason of an order for a plan that the
// customer's vendor does not sell: no such plan, another seller's plan, or
// one not published or waiting for its owner's prices. They read alike, so
// that plan ids cannot be probed.
const ReasonNotOnSale = "not_on_sale"

// planOnSale loads plan id if vendor sells it now (catalog.Plan.OnSale);
// otherwise an EINVALID error for "plan_id".
func planOnSale(ctx context.Context, q querier, vendorID, id int64) (*catalog.Plan, error) {
	r, err := loadPlan(ctx, q, id)
	if err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return nil, err
	}
	if err != nil || r.OwnerID != vendorID || !r.OnSale() {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid order",
			Fields: map[string]string{"plan_id": ReasonNotOnSale + ": no plan " + strconv.FormatInt(id, 10) + " is on sale at the customer's vendor"}}
	}
	return r.Plan, nil
}

// maxChain bounds the walk up a plan's sources: deeper trees are a cycle
// in the data.
const maxChain = 64

// planChain walks plan's sources up to the provider's original: the chain
// of plans every tier sells (order.Chain). One primary-key lookup per tier.
func planChain(ctx context.Context, q querier, plan *catalog.Plan) (order.Chain, error) {
	chain := order.Chain{plan}
	for p := plan; p.SourceID != 0; {
		if len(chain) > maxChain {
			return nil, fmt.Errorf("plan %d: sources deeper than %d tiers", plan.ID, maxChain)
		}
		src, err := loadPlan(ctx, q, p.SourceID)
		if err != nil {
			return nil, fmt.Errorf("source of plan %d: %w", p.ID, err)
		}
		chain = append(chain, src.Plan)
		p = src.Plan
	}
	return chain, nil
}

// tiersOf pairs the wholesale quotes with the chain's plans: quote i-1 is
// what the owner of chain[i] sells to the owner of chain[i-1].
func tiersOf(chain order.Chain, quotes []*order.Quote) []OrderTier {
	out := make([]OrderTier, 0, len(quotes))
	for i, q := range quotes {
		out = append(out, OrderTier{Tier: i + 1, SellerID: chain[i+1].OwnerID, BuyerID: chain[i].OwnerID,
			PlanID: chain[i+1].ID, Quote: q, Total: q.Total})
	}
	return out
}

// tierErr keeps the order package's refusals of a tier (an unpriced source,
// a tier that cannot hold the change) as they are, and makes a chain that
// does not hold together (a copy whose key its owner changed, an upgrade to
// a plan with other sources) a conflict the vendor must resolve.
func tierErr(err error) error {
	var e *marketplane.Error
	if errors.As(err, &e) {
		return err
	}
	return marketplane.Errorf(marketplane.ECONFLICT, "the tiers above the vendor cannot price this order: %v", err)
}

// visibleTiers keeps the tiers that actor may see: those whose buyer is the
// actor's account or an account below it. Buyers are ancestors of the
// customer at customerPath.
func visibleTiers(actor *account.Actor, customerPath string, tiers []OrderTier) []OrderTier {
	out := []OrderTier{}
	if actor != nil && actor.System {
		return append(out, tiers...)
	}
	if actor == nil {
		return out
	}
	for _, t := range tiers {
		if buyer := ancestorPath(customerPath, t.BuyerID); buyer != "" && account.Relate(actor.AccountPath, buyer) != account.Unrelated {
			out = append(out, t)
		}
	}
	return out
}

// ancestorPath is the path of the account id on path ("" if it is not on
// it).
func ancestorPath(path string, id int64) string {
	needle := "/" + strconv.FormatInt(id, 10) + "/"
	i := strings.Index(path, needle)
	if i < 0 {
		return ""
	}
	return path[:i+len(needle)]
}

// vendorTerms are the pricing terms of vendor v's sales to buyer: the
// vendor's time zone, its proration and downgrade settings, and the tax the
// vendor charges the buyer (by the buyer's country and VAT id).
func (db *DB) vendorTerms(v, buyer *account.Account) order.Terms {
	t := order.Terms{Proration: prorationOf(v.Selling.Proration), Downgrade: order.DowngradeTiming(v.Selling.Downgrades)}
	if len(v.Selling.TaxRates) > 0 && buyer != nil {
		rates := make(map[string]decimal.Decimal, len(v.Selling.TaxRates))
		for c, r := range v.Selling.TaxRates {
			if d, err := decimal.Parse(r); err == nil {
				rates[c] = d
			}
		}
		t.Tax = order.TaxFor(v.Address.Country, rates, order.Buyer{Country: buyer.Address.Country, VATID: buyer.VATID})
	}
	if loc, ok := db.zones.Load(v.TimeZone); ok {
		t.Location = loc.(*time.Location)
		return t
	}
	loc, err := time.LoadLocation(v.TimeZone)
	if err != nil || v.TimeZone == "" {
		// Account.Validate admits only zones that load; this is data
		// edited by hand.
		loc = time.UTC
	}
	db.zones.Store(v.TimeZone, loc)
	t.Location = loc
	return t
}

// pricingState is the order package's view of sub on plan: the current
// plan, period and limits. A pending change is not carried: a new change
// replaces it.
func pricingState(sub *subscription.Subscription, plan *catalog.Plan) *order.Subscription {
	pe, ok := plan.Period(sub.Period)
	return &order.Subscription{Plan: plan, Period: sub.Period, Start: sub.Start, Anchor: sub.Anchor,
		PeriodStart: sub.PeriodStart, PeriodEnd: sub.PeriodEnd, Resources: maps.Clone(sub.Resources),
		Trial: ok && pe.Trial, FrozenPrices: sub.FrozenPrices}
}

// orderBasis is what every order on an existing subscription starts from,
// once no other order is open on it: the vendor, the current plan and its
// chain of sources up to the provider (for the tiers' sides).
func orderBasis(ctx context.Context, tx querier, sub *subscription.Subscription) (*account.Account, *planRow, order.Chain, error) {
	if err := noOpenOrder(ctx, tx, sub.ID); err != nil {
		return nil, nil, nil, err
	}
	vendor, err := loadAccount(ctx, tx, sub.VendorID)
	if err != nil {
		return nil, nil, nil, err
	}
	cur, err := loadPlan(ctx, tx, sub.PlanID)
	if err != nil {
		return nil, nil, nil, err
	}
	chain, err := planChain(ctx, tx, cur.Plan)
	if err != nil {
		return nil, nil, nil, err
	}
	return vendor, cur, chain, nil
}

// noOpenOrder refuses a second order on a subscription while one is open:
// both would be priced from the same state.
func noOpenOrder(ctx context.Context, q querier, subscriptionID int64) error {
	var id, number int64
	var status order.Status
	err := q.QueryRowContext(ctx, `SELECT id, number, status FROM orders WHERE subscription_id = $1
		AND status NOT IN ('completed', 'cancelled') ORDER BY id LIMIT 1`, subscriptionID).Scan(&id, &number, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("open orders of subscription %d: %w", subscriptionID, err)
	}
	return marketplane.Errorf(marketplane.ECONFLICT, "order %d (number %d) of subscription %d is %s; finish or cancel it first",
		id, number, subscriptionID, status)
}

// Reasons of service parameter errors, in the form of the order package's
// field reasons.
const (
	ReasonUnknownParameter = "unknown_parameter"
	ReasonInvalidValue     = "invalid_value"
)

// checkParameters checks params against the manifest of the connector of
// template key (a template of the provider at the root of path) and returns
// the connector's name. Problems go to f as "parameters.KEY" with reasons.
// A template without a connector, or one whose connector is not in the
// registry (a catalog made by hand before its connector was registered),
// has no schema to check against: its parameters pass as given.
func (db *DB) checkParameters(ctx context.Context, q querier, f *marketplane.FieldErrors, path, key string, params map[string]string) (string, error) {
	ids := account.IDs(path)
	if len(ids) == 0 {
		return "", fmt.Errorf("account path %q: no provider", path)
	}
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM templates WHERE owner_id = $1 AND key = $2`, ids[0], key).Scan(&body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("template %s: %w", key, err)
	}
	var tpl catalog.Template
	if err := json.Unmarshal([]byte(body), &tpl); err != nil {
		return "", fmt.Errorf("template %s: %w", key, err)
	}
	if tpl.Connector == "" {
		return "", nil
	}
	reg, err := loadConnector(ctx, q, tpl.Connector)
	if err != nil || reg == nil {
		return tpl.Connector, err
	}
	m := reg.Manifest
	for k, v := range params {
		spec, ok := m.Parameter(k)
		if !ok {
			f.Add("parameters."+k, ReasonUnknownParameter+": connector "+tpl.Connector+" has no parameter "+strconv.Quote(k))
			continue
		}
		if msg := spec.Check(v); msg != "" {
			f.Add("parameters."+k, ReasonInvalidValue+": "+msg)
		}
	}
	for _, spec := range m.Parameters {
		if v, ok := params[spec.Key]; spec.Required && (!ok || v == "") {
			f.Add("parameters."+spec.Key, order.ReasonRequired+": "+describeParam(spec))
		}
	}
	return tpl.Connector, nil
}

func describeParam(p connector.ParamSpec) string {
	if p.Description != "" {
		return "is required (" + p.Description + ")"
	}
	return "is required"
}

// invoiceOrder issues the documents of completed order o into the ledger:
// the customer's invoice (or credit memo) from the vendor, then each
// tier's from the seller above to the tier below, dated the vendor's day
// the order was priced, due after each buyer's net days; a document whose
// lines are all zero is not issued (golden rule 8). Each buyer's prepaid
// funds pay its invoice at once when its terms charge at once.
func (db *DB) invoiceOrder(ctx context.Context, tx *sql.Tx, o *Order, now time.Time) error {
	vendor, err := loadAccount(ctx, tx, o.VendorID)
	if err != nil {
		return err
	}
	day := order.Day(o.Details.On, db.vendorTerms(vendor, nil).Location)
	type side struct {
		seller, buyer int64
		q             *order.Quote
	}
	sides := []side{{o.VendorID, o.CustomerID, o.Quote}}
	tiers, err := loadTiers(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	for _, t := range tiers {
		sides = append(sides, side{t.SellerID, t.BuyerID, t.Quote})
	}
	for _, sd := range sides {
		if sd.q == nil || zeroLines(sd.q) {
			continue
		}
		buyer, err := loadAccount(ctx, tx, sd.buyer)
		if err != nil {
			return err
		}
		seller, err := loadAccount(ctx, tx, sd.seller)
		if err != nil {
			return err
		}
		doc, err := documentFor(ctx, tx, seller, buyer, o.SubscriptionID, sd.q, day, nil)
		if err != nil {
			return err
		}
		doc.OrderID = o.ID
		var issued bool
		if o.Details.InvoiceNow {
			// Prorated and invoiced at once, whatever the seller's
			// invoicing.
			issued, err = true, db.issueDocument(ctx, tx, doc, now)
		} else {
			issued, err = db.issueOrDefer(ctx, tx, seller, doc, now)
		}
		if err != nil {
			return fmt.Errorf("order %d: %s of %d to %d: %w", o.Number, doc.Type, sd.seller, sd.buyer, err)
		}
		if !issued {
			continue
		}
		if _, err := db.applyCredits(ctx, tx, sd.buyer, sd.seller, day, false); err != nil {
			return err
		}
	}
	return nil
}

// insertOrderRow numbers o with its vendor's next number and stores it
// with its tiers, in o's status (FinishedAt set for a finished one).
func insertOrderRow(ctx context.Context, tx *sql.Tx, o *Order, now time.Time) error {
	var err error
	if o.Number, err = takeOrderNumber(ctx, tx, o.VendorID); err != nil {
		return err
	}
	o.Total, o.Currency = o.Quote.Total, o.Quote.Currency
	o.CreatedAt, o.UpdatedAt, o.Version = now, now, 1
	details, err := json.Marshal(o.Details)
	if err != nil {
		return fmt.Errorf("order request: %w", err)
	}
	quote, err := json.Marshal(o.Quote)
	if err != nil {
		return fmt.Errorf("order quote: %w", err)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO orders (vendor_id, customer_id, number, type, status, reason, message,
		subscription_id, plan_id, period_key, request, quote, total, currency, created_by_user_id, created_at, updated_at, finished_at, version)
		VALUES ($1, $2, $3, $4, $5, '', '', $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, 1) RETURNING id`,
		o.VendorID, o.CustomerID, o.Number, string(o.Type), string(o.Status), nullID(o.SubscriptionID), nullID(o.PlanID),
		o.Period, string(details), string(quote), int64(o.Total), o.Currency, nullID(o.CreatedBy), tv(now), tv(o.FinishedAt)).Scan(&o.ID)
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	return insertTiers(ctx, tx, o)
}

// insertTiers stores every tier of order o.
func insertTiers(ctx context.Context, tx *sql.Tx, o *Order) error {
	for _, t := range o.Tiers {
		b, err := json.Marshal(t.Quote)
		if err != nil {
			return fmt.Errorf("order tier %d: %w", t.Tier, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_tiers (order_id, tier, seller_id, buyer_id, plan_id, quote, total)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, o.ID, t.Tier, t.SellerID, t.BuyerID, t.PlanID, string(b), int64(t.Total)); err != nil {
			return fmt.Errorf("insert order tier %d: %w", t.Tier, err)
		}
	}
	return nil
}

// prorationOf is the pricing of a seller's proration mode: both prorating
// modes price alike (they differ in when the charge is invoiced).
func prorationOf(mode string) order.Proration {
	if mode == account.ProrateInvoice {
		return order.ProrateNow
	}
	return order.Proration(mode)
}
