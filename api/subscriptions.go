package api

// The subscription routes: reading and listing subscriptions, ordering a
// change or a cancellation (each an order with its provisioning task, see
// orders.go), setting auto-renewal, the staff's suspension and
// resumption, and the restore of a terminated subscription (an order
// too). A subscription's lifecycle never changes straight in the
// database: suspend and resume queue the task that suspends or resumes the
// service at the connector, through Config.EnqueueSubscriptionStatus, and
// answer 503 without it. The store authorizes every call
// (store/subscriptions.go).

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// AutoRenew is how a subscription renews.
type AutoRenew struct {
	Mode string `json:"mode" enum:"off,before_expiration" doc:"off: it expires at the end of its period unless renewed by hand; before_expiration: renewed days before the period ends."`
	Days int    `json:"days,omitempty" minimum:"0" maximum:"365" doc:"How many days before the period ends it renews (0: on the day it ends); 0 when mode is off."`
}

// PendingChange is a change that waits for a later day (a downgrade at the
// next billing date).
type PendingChange struct {
	On        string           `json:"on" format:"date"`
	PlanID    int64            `json:"plan_id"`
	Resources map[string]int64 `json:"resources"`
}

// Subscription is what a customer has bought: a plan of its vendor, with
// its current period, resource limits and the state of its service.
type Subscription struct {
	ID            int64             `json:"id"`
	CustomerID    int64             `json:"customer_id"`
	VendorID      int64             `json:"vendor_id" doc:"The account that sold it."`
	PlanID        int64             `json:"plan_id"`
	Period        string            `json:"period" example:"1m" doc:"The key of the plan's subscription period."`
	Status        string            `json:"status" enum:"pending,active,suspended,graced,terminated" doc:"pending: sold, not provisioned yet; graced: expired but running for the grace days."`
	StatusReason  string            `json:"status_reason,omitempty" example:"credit_hold" doc:"Why it is suspended, graced or terminated: credit_hold, admin_hold (its account's holds), reseller_hold (a reseller above it is on hold), payg_balance (pay-as-you-go usage outran the balance), staff, expired, cancelled or order_cancelled."`
	Start         string            `json:"start" format:"date" doc:"The first day, in the vendor's calendar."`
	PeriodStart   string            `json:"period_start" format:"date"`
	PeriodEnd     string            `json:"period_end" format:"date" doc:"The day after the current period: the period is [period_start, period_end)."`
	NextBillingAt string            `json:"next_billing_at" format:"date"`
	AutoRenew     AutoRenew         `json:"auto_renew"`
	FrozenPrices  bool              `json:"frozen_prices" doc:"Renewals keep the prices of the sale. No subscription is sold so today: renewals take the plan's current prices, which a sync changes from the next billing date."`
	Resources     map[string]int64  `json:"resources" doc:"Limits by rate key, included units counted; -1 is unlimited."`
	Parameters    map[string]string `json:"parameters"`
	Pending       *PendingChange    `json:"pending_change,omitempty"`
	Connector     string            `json:"connector,omitempty" doc:"The connector that provisions the service."`
	TenantID      string            `json:"tenant_id,omitempty" doc:"The connector's id of the service."`
	TenantStatus  string            `json:"tenant_status,omitempty" doc:"The service's last known state at the connector."`
	Attributes    map[string]string `json:"attributes,omitzero" doc:"What the customer needs to use the service, as the connector reported it (connection details, credentials); absent from lists: read the subscription for them."`
	Version       int64             `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// ChangeInput orders a change of a subscription.
type ChangeInput struct {
	PlanID    int64            `json:"plan_id,omitempty" doc:"Another plan of the vendor on the current plan's upgrade or downgrade paths; absent keeps the plan."`
	Resources map[string]int64 `json:"resources,omitempty" maxProperties:"500" example:"{\"mailbox\": 10}" doc:"New amounts by rate key, included units counted; rates left out keep theirs."`
	Proration string           `json:"proration,omitempty" enum:"prorate,prorate_invoice,none" doc:"Overrides the vendor's proration mode for this change: prorated charges now, prorated and invoiced at once, or no proration."`
	Period    string           `json:"period,omitempty" maxLength:"50" example:"12m" doc:"The key of another subscription period of the plan (monthly to annual); absent keeps the period. The new period starts on the day of the change: the unused days of the current one are credited and the new one is charged whole."`
	// ConfirmZero is the buyer's yes to a change for nothing.
	ConfirmZero bool `json:"confirm_zero,omitempty" doc:"Yes to a change that costs nothing (a total of zero); a subscription in its free trial and a downgrade deferred to the next billing date need none."`
}

// request is the change as the store takes it.
func (in *ChangeInput) request() store.ChangeRequest {
	return store.ChangeRequest{PlanID: in.PlanID, Resources: in.Resources, Proration: in.Proration, Period: in.Period,
		ConfirmZero: in.ConfirmZero}
}

// nonNil is m, or an empty map for nil: the API shows maps as {}, never
// null.
func nonNil[M ~map[K]V, K comparable, V any](m M) M {
	if m == nil {
		return M{}
	}
	return m
}

// subscriptionView is s as the API shows it; with attributes, the
// service's attributes too. Lists leave them out: they may hold
// credentials, which a page of many customers' subscriptions should not
// carry in bulk.
func subscriptionView(s *subscription.Subscription, withAttributes bool) Subscription {
	out := Subscription{ID: s.ID, CustomerID: s.CustomerID, VendorID: s.VendorID, PlanID: s.PlanID, Period: s.Period,
		Status: string(s.Status), StatusReason: s.StatusReason, Start: dateOut(s.Start), PeriodStart: dateOut(s.PeriodStart),
		PeriodEnd: dateOut(s.PeriodEnd), NextBillingAt: dateOut(s.NextBillingAt),
		AutoRenew:    AutoRenew{Mode: string(s.AutoRenew), Days: s.RenewDays},
		FrozenPrices: s.FrozenPrices, Resources: nonNil(s.Resources), Parameters: nonNil(s.Parameters),
		Connector: s.Connector, TenantID: s.TenantID, TenantStatus: s.TenantStatus,
		Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if withAttributes {
		out.Attributes = nonNil(s.Attributes)
	}
	if p := s.Pending; p != nil {
		out.Pending = &PendingChange{On: dateOut(p.On), PlanID: p.PlanID, Resources: nonNil(p.Resources)}
	}
	return out
}

type subscriptionIDPath struct {
	ID int64 `path:"id" doc:"Subscription id."`
}

type subscriptionActionInput struct {
	ID int64 `path:"id" doc:"Subscription id."`
	Conditional
}

type changeSubscriptionInput struct {
	ID int64 `path:"id" doc:"Subscription id."`
	Conditional
	Body ChangeInput
}

type autoRenewInput struct {
	ID int64 `path:"id" doc:"Subscription id."`
	Conditional
	Body AutoRenew
}

type subscriptionOutput struct {
	ETag string `header:"ETag"`
	Body Subscription
}

func subscriptionResponse(s *subscription.Subscription) *subscriptionOutput {
	return &subscriptionOutput{ETag: etagOf(s.Version), Body: subscriptionView(s, true)}
}

type listSubscriptionsInput struct {
	CustomerID int64  `query:"customer_id" doc:"Only the subscriptions of this customer."`
	VendorID   int64  `query:"vendor_id" doc:"Only the subscriptions this seller sold."`
	PlanID     int64  `query:"plan_id" doc:"Only the subscriptions of this plan."`
	Status     string `query:"status" enum:"pending,active,suspended,graced,terminated"`
	PageParams
}

type subscriptionPage struct {
	Body Page[Subscription]
}

const cursorSubscriptions = "sub"

// autoRenewFields maps the subscription package's field names to the
// body's.
var autoRenewFields = map[string]string{"auto_renew": "mode", "renew_days": "days"}

func (a *API) subscriptionRoutes() {
	const tag = "Subscriptions"
	register(a, op{id: "list-subscriptions", method: http.MethodGet, path: "/subscriptions", tag: tag,
		summary:     "List subscriptions",
		description: "Newest first. Without customer_id or vendor_id, the subscriptions of every customer in the caller's reach."},
		a.listSubscriptions)
	register(a, op{id: "get-subscription", method: http.MethodGet, path: "/subscriptions/{id}", tag: tag,
		summary: "Get a subscription"}, a.getSubscription)
	register(a, op{id: "change-subscription", method: http.MethodPost, path: "/subscriptions/{id}/change", tag: tag,
		summary: "Order a change of plan, resource amounts or billing period",
		description: "Places a change order (CH), priced for the days left of the current period: a credit for the old prices " +
			"and a charge for the new, each line rounded, and the same at every tier. A change of billing period (period) " +
			"credits the unused days of the current period and charges the new period whole from the day of the change. " +
			"A change that costs nothing needs confirm_zero. The subscription changes when the order's provisioning " +
			"completes. Only an active subscription without another open order changes; a change to a plan of another " +
			"plan category sold one per customer, while the customer holds one of it, answers 409.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}},
		a.changeSubscription)
	register(a, op{id: "quote-subscription-change", method: http.MethodPost, path: "/subscriptions/{id}/change/quote", tag: tag,
		summary: "Price a change of plan, resource amounts or billing period",
		description: "What ordering the change would cost, line by line, with the wholesale sides the caller may see; " +
			"the same checks as ordering it, and nothing is stored. effective_on is the day the change takes effect; resources, period and " +
			"period_end are the subscription's after it.",
		errors: []int{http.StatusConflict}},
		a.quoteChange)
	register(a, op{id: "cancel-subscription", method: http.MethodPost, path: "/subscriptions/{id}/cancel", tag: tag,
		summary: "Order the cancellation of a subscription",
		description: "Places a cancellation order (CL) whose refund lines follow the period's refund policy (whole within the " +
			"full-refund days, then prorated or none); each tier refunds its buyer by its own plan's policy. The " +
			"subscription is terminated when the service is removed.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}},
		a.cancelSubscription)
	register(a, op{id: "set-subscription-auto-renew", method: http.MethodPut, path: "/subscriptions/{id}/auto-renew", tag: tag,
		summary: "Set how a subscription renews",
		errors:  []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.setAutoRenew)
	register(a, op{id: "suspend-subscription", method: http.MethodPost, path: "/subscriptions/{id}/suspend", tag: tag,
		summary: "Suspend a subscription",
		description: "Staff of the accounts above the customer suspend an active or graced subscription; " +
			"the service is suspended at the connector by a task queued with the change.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}}, a.suspendSubscription)
	register(a, op{id: "resume-subscription", method: http.MethodPost, path: "/subscriptions/{id}/resume", tag: tag,
		summary: "Resume a suspended subscription",
		description: "Staff of the accounts above the customer resume a subscription they suspended, " +
			"by a task queued with the change.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}}, a.resumeSubscription)
	register(a, op{id: "restore-subscription", method: http.MethodPost, path: "/subscriptions/{id}/restore", tag: tag,
		summary: "Order the restore of a terminated subscription",
		description: "Staff of the accounts above the customer restore a terminated subscription whose service still exists " +
			"at its connector (not cancelled and deleted): a change order (CH) priced at nothing, whose provisioning resumes " +
			"the service; the subscription is active again when it completes. A deleted service, a subscription that is " +
			"not terminated or one with an open order answers 409.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}},
		a.restoreSubscription)
	register(a, op{id: "list-subscription-usage", method: http.MethodGet, path: "/subscriptions/{id}/usage", tag: tag,
		summary:     "List the usage readings of a subscription",
		description: "Oldest first, as the connector reported them; at most 10,000 readings per request."}, a.listUsage)
	register(a, op{id: "record-subscription-usage", method: http.MethodPost, path: "/subscriptions/{id}/usage", tag: tag,
		summary: "Report usage readings of a subscription",
		description: "Staff of the accounts above the customer report what they metered themselves (a service without a " +
			"connector that reports usage): readings of the resources the plan rates, not in the future, billed as a " +
			"connector's are. A reading of a resource at a time stored already is kept as it was. Answers the readings as stored.",
		status: http.StatusCreated}, a.recordUsage)
}

func (a *API) listSubscriptions(ctx context.Context, in *listSubscriptionsInput) (*subscriptionPage, error) {
	before, err := decodeIDCursor(cursorSubscriptions, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Subscriptions(ctx, actorFrom(ctx), store.SubscriptionFilter{CustomerID: in.CustomerID, VendorID: in.VendorID,
		PlanID: in.PlanID, Status: subscription.Status(in.Status), BeforeID: before, Limit: in.fetchSize()})
	if err != nil {
		// The account a filter names is missing or out of reach.
		return nil, notFoundAs(err, "account not found")
	}
	return &subscriptionPage{Body: paginate(in.PageParams, cursorSubscriptions, rows,
		func(s *subscription.Subscription) string { return idKey(s.ID) },
		func(s *subscription.Subscription) Subscription { return subscriptionView(s, false) })}, nil
}

func (a *API) getSubscription(ctx context.Context, in *subscriptionIDPath) (*subscriptionOutput, error) {
	s, err := a.db.Subscription(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return subscriptionResponse(s), nil
}

// checkSubscriptionIfMatch checks If-Match against the subscription before
// an action on it. The store's actions take no version, so a change
// between the check and the action is not caught; the check catches a
// client acting on what it read long ago (a change priced from limits that
// another order has changed since).
func (a *API) checkSubscriptionIfMatch(ctx context.Context, id int64, ifMatch string) error {
	if ifMatch == "" {
		return nil
	}
	s, err := a.db.Subscription(ctx, actorFrom(ctx), id)
	if err != nil {
		return err
	}
	return checkIfMatch(ifMatch, etagOf(s.Version))
}

func (a *API) changeSubscription(ctx context.Context, in *changeSubscriptionInput) (*orderCreated, error) {
	if err := a.checkSubscriptionIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	o, err := a.db.ChangeOrder(ctx, actorFrom(ctx), in.ID, in.Body.request(), a.provision(ctx))
	if err != nil {
		return nil, orderInvalid(err, orderFields)
	}
	return orderCreatedResponse(o), nil
}

type quoteChangeInput struct {
	ID   int64 `path:"id" doc:"Subscription id."`
	Body ChangeInput
}

func (a *API) quoteChange(ctx context.Context, in *quoteChangeInput) (*quoteOutput, error) {
	q, err := a.db.QuoteChange(ctx, actorFrom(ctx), in.ID, in.Body.request())
	if err != nil {
		return nil, orderInvalid(err, orderFields)
	}
	req := store.OrderRequest{CustomerID: q.CustomerID}
	if s := q.Quote.Subscription; s != nil {
		req.PlanID, req.Period = s.Plan.ID, s.Period
		if s.Pending != nil {
			req.PlanID = s.Pending.Plan.ID
		}
	}
	return &quoteOutput{Body: quoteView(req, q)}, nil
}

func (a *API) cancelSubscription(ctx context.Context, in *subscriptionActionInput) (*orderCreated, error) {
	if err := a.checkSubscriptionIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	o, err := a.db.CancelOrder(ctx, actorFrom(ctx), in.ID, time.Time{}, a.provision(ctx))
	if err != nil {
		return nil, err
	}
	return orderCreatedResponse(o), nil
}

func (a *API) setAutoRenew(ctx context.Context, in *autoRenewInput) (*subscriptionOutput, error) {
	if err := a.checkSubscriptionIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	s, err := a.db.SetAutoRenew(ctx, actorFrom(ctx), in.ID, subscription.AutoRenew(in.Body.Mode), in.Body.Days)
	if err != nil {
		return nil, orderInvalid(err, autoRenewFields)
	}
	return subscriptionResponse(s), nil
}

func (a *API) suspendSubscription(ctx context.Context, in *subscriptionActionInput) (*subscriptionOutput, error) {
	return a.setSubscriptionStatus(ctx, in, subscription.Suspended)
}

func (a *API) resumeSubscription(ctx context.Context, in *subscriptionActionInput) (*subscriptionOutput, error) {
	return a.setSubscriptionStatus(ctx, in, subscription.Active)
}

// setSubscriptionStatus suspends or resumes a subscription with the task
// that does the same to its service, queued in the same transaction.
func (a *API) setSubscriptionStatus(ctx context.Context, in *subscriptionActionInput, status subscription.Status) (*subscriptionOutput, error) {
	if err := a.checkSubscriptionIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	s, err := a.db.SetSubscriptionStatus(ctx, actorFrom(ctx), in.ID, status, "", a.queueStatus(ctx))
	if err != nil {
		return nil, err
	}
	return subscriptionResponse(s), nil
}

// queueStatus is the store's hook that queues the task suspending or
// resuming a subscription's service, in the transaction that changes its
// status (one subscription's, or all of an account's with its hold).
// Without Config.EnqueueSubscriptionStatus the change is refused (503)
// rather than made without the service following it.
func (a *API) queueStatus(ctx context.Context) func(tx *sql.Tx, s *subscription.Subscription) error {
	return func(tx *sql.Tx, s *subscription.Subscription) error {
		if a.enqueueStatus == nil {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "suspending and resuming services needs the task manager, which this server lacks")
		}
		return a.enqueueStatus(ctx, tx, s)
	}
}

func (a *API) restoreSubscription(ctx context.Context, in *subscriptionActionInput) (*orderCreated, error) {
	if err := a.checkSubscriptionIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	o, err := a.db.RestoreSubscription(ctx, actorFrom(ctx), in.ID, a.provision(ctx))
	if err != nil {
		return nil, err
	}
	return orderCreatedResponse(o), nil
}
