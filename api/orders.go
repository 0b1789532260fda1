package api

// The order routes: a quote for a new subscription, placing it, reading and
// listing orders, and the staff's retry and cancellation of an order that
// failed or has not started. Changes and cancellations of a subscription
// are ordered at the subscription (subscriptions.go). The store authorizes
// and prices every call (store/orders.go, with the order package's
// formulas); these handlers translate: amounts are decimal strings in the
// order's currency, days are dates of the vendor's calendar.
//
// Placing, changing, cancelling and retrying an order queue its
// provisioning task in the transaction that stores the order (the outbox
// rule), through Config.EnqueueProvision. Without it those routes answer
// 503 after authorizing and checking the request, and store nothing.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

// OrderLine is one line of a quote or an order: what the document issued
// for it says.
type OrderLine struct {
	What        string `json:"what" enum:"setup,recurring,change-credit,change-charge,resource,overuse,usage,refund,tax,cancellation"`
	Resource    string `json:"resource,omitempty" example:"mailbox" doc:"The rate key of a resource line."`
	Quantity    string `json:"quantity,omitempty" example:"3" doc:"Units charged: on resource lines, the units above the included amount (negative on a credit)."`
	From        string `json:"from,omitempty" format:"date" example:"2027-01-10" doc:"The first day the line pays for, in the vendor's calendar; absent on one-time lines."`
	To          string `json:"to,omitempty" format:"date" example:"2027-02-10" doc:"The day after the last day the line pays for: the line covers [from, to)."`
	Amount      string `json:"amount" example:"9.90" doc:"Rounded to the currency's minor unit; negative for credits and refunds." price:"true"`
	TaxRate     string `json:"tax_rate,omitempty" example:"19" doc:"Percent, on tax lines."`
	Description string `json:"description"`
}

// OrderTier is one tier's side of a sale: the wholesale sale of the same
// order from Seller to Buyer at the seller's price, on the customer's dates
// with the customer's proration.
type OrderTier struct {
	Tier     int         `json:"tier" doc:"1: the vendor's parent sells to the vendor; 2: the parent of that one sells to it; and so on up to the provider."`
	SellerID int64       `json:"seller_id"`
	BuyerID  int64       `json:"buyer_id"`
	PlanID   int64       `json:"plan_id" doc:"The seller's plan: the source of the buyer's."`
	Currency string      `json:"currency" example:"USD"`
	Lines    []OrderLine `json:"lines"`
	Total    string      `json:"total" example:"27.00" price:"true"`
}

// Quote is what a new subscription would cost, priced as placing the order
// would price it.
type Quote struct {
	CustomerID  int64            `json:"customer_id"`
	PlanID      int64            `json:"plan_id"`
	Period      string           `json:"period" example:"1m"`
	Currency    string           `json:"currency" example:"USD"`
	Lines       []OrderLine      `json:"lines"`
	Total       string           `json:"total" example:"29.70" price:"true"`
	EffectiveOn string           `json:"effective_on" format:"date" doc:"The subscription's first day, in the vendor's calendar."`
	PeriodEnd   string           `json:"period_end" format:"date" doc:"The day after its first period."`
	Resources   map[string]int64 `json:"resources" doc:"The amounts the order buys by rate key, included units counted and defaults filled in; -1 is unlimited."`
	Tiers       []OrderTier      `json:"tiers" doc:"The wholesale sides the caller may see: those bought by its account or an account below it. A customer sees none."`
}

// Order is an order: a new subscription (SO), a change (CH), a renewal
// (RN) or a cancellation (CL), with its lines as its document will say
// them.
type Order struct {
	ID             int64             `json:"id"`
	Number         int64             `json:"number" doc:"The order's number at its vendor: 1, 2, 3 … without gaps."`
	VendorID       int64             `json:"vendor_id" doc:"The seller: the customer's parent when the order was placed."`
	CustomerID     int64             `json:"customer_id"`
	Type           string            `json:"type" enum:"SO,CH,RN,CL" doc:"SO: a new subscription; CH: a change of plan or resource amounts; RN: a renewal; CL: a cancellation."`
	Status         string            `json:"status" enum:"placed,waiting_approval,waiting_payment,provisioning,completed,provisioning_failed,cancelled"`
	Reason         string            `json:"reason,omitempty" enum:"waiting_for_payment,waiting_for_approval,provisioning_failed,manual_action_required,cancelled_by_staff" doc:"Why the order stopped short of completion."`
	Message        string            `json:"message,omitempty" doc:"The reason in words: the connector's message on a failure."`
	SubscriptionID int64             `json:"subscription_id" doc:"The subscription the order makes or changes."`
	PlanID         int64             `json:"plan_id" doc:"The plan sold (SO), the plan after the change (CH) or the plan cancelled (CL)."`
	Period         string            `json:"period" example:"1m"`
	Currency       string            `json:"currency" example:"USD"`
	Lines          []OrderLine       `json:"lines"`
	Total          string            `json:"total" example:"29.70" price:"true"`
	EffectiveOn    string            `json:"effective_on" format:"date" doc:"The day the order takes effect, in the vendor's calendar."`
	Deferred       bool              `json:"deferred,omitempty" doc:"A change that waits for effective_on (a downgrade at the next billing date)."`
	Resources      map[string]int64  `json:"resources,omitempty" doc:"The resource amounts after the order (SO, CH), by rate key."`
	Parameters     map[string]string `json:"parameters,omitempty" doc:"The service parameters of a new subscription."`
	FromPlanID     int64             `json:"from_plan_id,omitempty" doc:"The plan before a change or cancellation."`
	FromResources  map[string]int64  `json:"from_resources,omitempty" doc:"The resource amounts before a change or cancellation."`
	Tiers          []OrderTier       `json:"tiers,omitzero" doc:"The wholesale sides the caller may see (see Quote); absent from lists: read the order for them."`
	CreatedBy      int64             `json:"created_by,omitempty" doc:"The user who placed it; absent for API keys and Marketplane itself."`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	FinishedAt     *time.Time        `json:"finished_at,omitempty" doc:"When it completed or was cancelled."`
	Version        int64             `json:"version" doc:"Grows with every change of status and every failed provisioning attempt; also the ETag."`
	// Provisioning is absent until an attempt fails.
	Provisioning *OrderProvisioning `json:"provisioning,omitempty" doc:"How provisioning goes while the connector fails: absent until an attempt fails."`
}

// OrderProvisioning is the failed attempts of an order's provisioning since
// it was placed or last retried by staff.
type OrderProvisioning struct {
	Attempts      int        `json:"attempts" minimum:"1" doc:"Failed attempts so far."`
	LastError     string     `json:"last_error" doc:"The last attempt's cause, in words."`
	LastAttemptAt time.Time  `json:"last_attempt_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty" doc:"When the next attempt runs; absent when none is due (the order completed or failed). The order fails with reason provisioning_failed once its attempts have failed for the server's provisioning deadline (24 hours by default)."`
}

// OrderInput asks for a new subscription: the body of a quote and of an
// order.
type OrderInput struct {
	CustomerID  int64             `json:"customer_id" minimum:"1" doc:"The customer that buys: the caller's own account, or a customer below it."`
	PlanID      int64             `json:"plan_id" minimum:"1" doc:"A plan on sale at the customer's vendor (its parent)."`
	Period      string            `json:"period" example:"1m" doc:"The key of one of the plan's subscription periods."`
	Resources   map[string]int64  `json:"resources,omitempty" maxProperties:"500" example:"{\"mailbox\": 8}" doc:"Amounts by rate key, included units counted. A rate left out gets its included amount, raised to its minimum."`
	Parameters  map[string]string `json:"parameters,omitempty" maxProperties:"100" doc:"Service parameters for the connector, checked against its manifest."`
	ConfirmZero bool              `json:"confirm_zero,omitempty" doc:"Yes to an order that costs nothing; a free trial needs none."`
	// PaymentSource makes the order place-and-pay in one call.
	PaymentSource string `json:"payment_source,omitempty" maxLength:"200" example:"tok_visa" doc:"Pay in the same call: the payment provider's token of a card, charged for the order's total before the order is placed. The payment is recorded as the customer's prepaid funds, which pay the order's invoice when it is issued; should placing fail after the charge, the funds stay prepaid."`
}

func (in *OrderInput) request() store.OrderRequest {
	return store.OrderRequest{CustomerID: in.CustomerID, PlanID: in.PlanID, Period: in.Period,
		Resources: in.Resources, Parameters: in.Parameters, ConfirmZero: in.ConfirmZero}
}

// dateOut is a day of the vendor's calendar as the API shows it; "" for
// none. The order package holds days as midnight UTC (order.Day).
func dateOut(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func linesView(q *order.Quote) []OrderLine {
	out := make([]OrderLine, len(q.Lines))
	for i, l := range q.Lines {
		out[i] = OrderLine{What: string(l.What), Resource: l.Resource, From: dateOut(l.From), To: dateOut(l.To),
			Amount: l.Amount.Format(q.Currency), Description: l.Description}
		if !l.Quantity.IsZero() {
			out[i].Quantity = l.Quantity.String()
		}
		if !l.TaxRate.IsZero() {
			out[i].TaxRate = l.TaxRate.String()
		}
	}
	return out
}

func tiersView(tiers []store.OrderTier) []OrderTier {
	out := make([]OrderTier, len(tiers))
	for i, t := range tiers {
		out[i] = OrderTier{Tier: t.Tier, SellerID: t.SellerID, BuyerID: t.BuyerID, PlanID: t.PlanID,
			Currency: t.Quote.Currency, Lines: linesView(t.Quote), Total: t.Total.Format(t.Quote.Currency)}
	}
	return out
}

func quoteView(req store.OrderRequest, q *store.OrderQuote) Quote {
	out := Quote{CustomerID: req.CustomerID, PlanID: req.PlanID, Period: req.Period, Currency: q.Quote.Currency,
		Lines: linesView(q.Quote), Total: q.Quote.Total.Format(q.Quote.Currency), EffectiveOn: dateOut(q.Quote.EffectiveOn),
		Resources: map[string]int64{}, Tiers: tiersView(q.Tiers)}
	if s := q.Quote.Subscription; s != nil {
		out.Period, out.PeriodEnd = s.Period, dateOut(s.PeriodEnd)
		maps.Copy(out.Resources, s.Resources)
	}
	return out
}

// orderView is o as the API shows it; with tiers, the tiers o holds (an
// empty list when the reader sees none), without, none (lists).
func orderView(o *store.Order, withTiers bool) Order {
	out := Order{ID: o.ID, Number: o.Number, VendorID: o.VendorID, CustomerID: o.CustomerID, Type: string(o.Type),
		Status: string(o.Status), Reason: string(o.Reason), Message: o.Message, SubscriptionID: o.SubscriptionID,
		PlanID: o.PlanID, Period: o.Period, Currency: o.Currency, Lines: []OrderLine{}, Total: o.Total.Format(o.Currency),
		EffectiveOn: dateOut(o.Details.EffectiveOn), Deferred: o.Details.Deferred, Resources: o.Details.Resources,
		Parameters: o.Details.Parameters, FromPlanID: o.Details.FromPlanID, FromResources: o.Details.FromResources,
		CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, FinishedAt: optTime(o.FinishedAt),
		Version: o.Version}
	if o.Quote != nil {
		out.Lines = linesView(o.Quote)
	}
	if withTiers {
		out.Tiers = tiersView(o.Tiers)
	}
	if p := o.Provisioning; p.Attempts > 0 {
		out.Provisioning = &OrderProvisioning{Attempts: p.Attempts, LastError: p.LastError, LastAttemptAt: p.LastAt,
			NextAttemptAt: optTime(p.NextAt)}
	}
	return out
}

// orderFields maps the order package's field names to the body's where
// they differ: the plan a change or an order is refused for is the body's
// plan_id (its currency, its paths, its prices).
var orderFields = map[string]string{"plan": "plan_id", "currency": "plan_id"}

// orderInvalid renames the fields of an EINVALID error by names (a field
// whose new name is taken keeps the first message). Other errors pass.
func orderInvalid(err error, names map[string]string) error {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		return err
	}
	var f marketplane.FieldErrors
	for k, v := range e.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		f.Add(k, v)
	}
	return &marketplane.Error{Code: marketplane.EINVALID, Message: e.Message, Fields: f}
}

// newOrderErr is the error of a quote or new order: a customer out of reach
// reads as a missing one, a bad field of the body (as creating an account
// below another's does), not as a missing route.
func newOrderErr(err error) error {
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid order",
			Fields: map[string]string{"customer_id": "no such customer"}}
	}
	return orderInvalid(err, orderFields)
}

// provision is the store's enqueue hook for an order: the configured
// EnqueueProvision, or a refusal that rolls the order back.
func (a *API) provision(ctx context.Context) func(tx *sql.Tx, o *store.Order) error {
	return func(tx *sql.Tx, o *store.Order) error {
		if a.enqueueProvision == nil {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "orders need the task manager, which this server lacks")
		}
		return a.enqueueProvision(ctx, tx, o)
	}
}

type quoteInput struct {
	Body OrderInput
}

type quoteOutput struct {
	Body Quote
}

type placeOrderInput struct {
	Body OrderInput
}

type orderIDPath struct {
	ID int64 `path:"id" doc:"Order id."`
}

type orderActionInput struct {
	ID int64 `path:"id" doc:"Order id."`
	Conditional
}

type orderOutput struct {
	ETag string `header:"ETag"`
	Body Order
}

type orderCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Order
}

func orderResponse(o *store.Order) *orderOutput {
	return &orderOutput{ETag: etagOf(o.Version), Body: orderView(o, true)}
}

func orderCreatedResponse(o *store.Order) *orderCreated {
	return &orderCreated{ETag: etagOf(o.Version), Location: Prefix + "/orders/" + idKey(o.ID), Body: orderView(o, true)}
}

type listOrdersInput struct {
	CustomerID     int64  `query:"customer_id" doc:"Only the orders of this customer."`
	VendorID       int64  `query:"vendor_id" doc:"Only the orders this seller took."`
	SubscriptionID int64  `query:"subscription_id" doc:"Only the orders of this subscription."`
	Status         string `query:"status" enum:"placed,waiting_approval,waiting_payment,provisioning,completed,provisioning_failed,cancelled"`
	Type           string `query:"type" enum:"SO,CH,RN,CL"`
	PageParams
}

type orderPage struct {
	Body Page[Order]
}

const cursorOrders = "order"

func (a *API) orderRoutes() {
	const tag = "Orders"
	register(a, op{id: "quote-order", method: http.MethodPost, path: "/quotes", tag: tag,
		summary: "Price a new subscription",
		description: "What placing the order would cost, line by line, with the wholesale sides the caller may see. " +
			"The same checks as placing it; nothing is stored.",
		errors: []int{http.StatusConflict}}, a.quote)
	register(a, op{id: "place-order", method: http.MethodPost, path: "/orders", tag: tag,
		summary: "Order a new subscription",
		description: "Prices the order as a quote would, stores it with every tier's side and a pending subscription, " +
			"and queues its provisioning in the same transaction. Refused with the reason (409) when the customer's " +
			"account status forbids orders (credit hold, administrative hold, cancelled), and when the plan's category " +
			"sells one subscription per customer and the customer holds one of it (named in the answer; change that " +
			"subscription's plan instead). Paying comes with billing.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.placeOrder)
	register(a, op{id: "list-orders", method: http.MethodGet, path: "/orders", tag: tag,
		summary: "List orders",
		description: "Newest first. Without customer_id or vendor_id, the orders of every customer in the caller's reach; " +
			"tiers are left out (read an order for them)."}, a.listOrders)
	register(a, op{id: "get-order", method: http.MethodGet, path: "/orders/{id}", tag: tag,
		summary: "Get an order", description: "With the wholesale sides the caller may see."}, a.getOrder)
	register(a, op{id: "retry-order", method: http.MethodPost, path: "/orders/{id}/retry", tag: tag,
		summary: "Retry a failed order",
		description: "Staff of the accounts above the customer put an order whose provisioning failed back to provisioning " +
			"and queue its task again.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}}, a.retryOrder)
	register(a, op{id: "cancel-order", method: http.MethodPost, path: "/orders/{id}/cancel", tag: tag,
		summary: "Cancel an order that was not provisioned",
		description: "Staff of the accounts above the customer cancel an order that is placed, waiting or failed; " +
			"a cancelled sales order terminates its pending subscription. An order being provisioned completes or fails first.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.cancelOrder)
}

func (a *API) quote(ctx context.Context, in *quoteInput) (*quoteOutput, error) {
	req := in.Body.request()
	q, err := a.db.Quote(ctx, actorFrom(ctx), req)
	if err != nil {
		return nil, newOrderErr(err)
	}
	return &quoteOutput{Body: quoteView(req, q)}, nil
}

func (a *API) placeOrder(ctx context.Context, in *placeOrderInput) (*orderCreated, error) {
	if in.Body.PaymentSource != "" {
		if err := a.payForOrder(ctx, &in.Body); err != nil {
			return nil, err
		}
	}
	o, err := a.db.PlaceOrder(ctx, actorFrom(ctx), in.Body.request(), a.provision(ctx))
	if err != nil {
		return nil, newOrderErr(err)
	}
	return orderCreatedResponse(o), nil
}

func (a *API) listOrders(ctx context.Context, in *listOrdersInput) (*orderPage, error) {
	before, err := decodeIDCursor(cursorOrders, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Orders(ctx, actorFrom(ctx), store.OrderFilter{CustomerID: in.CustomerID, VendorID: in.VendorID,
		SubscriptionID: in.SubscriptionID, Status: order.Status(in.Status), Type: order.Type(in.Type),
		BeforeID: before, Limit: in.fetchSize()})
	if err != nil {
		// The account a filter names is missing or out of reach.
		return nil, notFoundAs(err, "account not found")
	}
	return &orderPage{Body: paginate(in.PageParams, cursorOrders, rows, func(o *store.Order) string { return idKey(o.ID) },
		func(o *store.Order) Order { return orderView(o, false) })}, nil
}

func (a *API) getOrder(ctx context.Context, in *orderIDPath) (*orderOutput, error) {
	o, err := a.db.Order(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return orderResponse(o), nil
}

// checkOrderIfMatch checks If-Match against the order before a staff
// action. The store's actions take no version, so a change between the
// check and the action is not caught; the check catches a client acting on
// what it read long ago.
func (a *API) checkOrderIfMatch(ctx context.Context, id int64, ifMatch string) error {
	if ifMatch == "" {
		return nil
	}
	o, err := a.db.Order(ctx, actorFrom(ctx), id)
	if err != nil {
		return err
	}
	return checkIfMatch(ifMatch, etagOf(o.Version))
}

func (a *API) retryOrder(ctx context.Context, in *orderActionInput) (*orderOutput, error) {
	if err := a.checkOrderIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	o, err := a.db.RetryOrder(ctx, actorFrom(ctx), in.ID, a.provision(ctx))
	if err != nil {
		return nil, err
	}
	return orderResponse(o), nil
}

func (a *API) cancelOrder(ctx context.Context, in *orderActionInput) (*orderOutput, error) {
	if err := a.checkOrderIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	o, err := a.db.CancelPendingOrder(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return orderResponse(o), nil
}

// payForOrder charges the order's total to its payment source and records
// the payment as the customer's prepaid funds: the quote checks the order
// (and the caller's right to place it) before anything is charged, the
// charge's key names the customer and the priced order so that a retried
// call charges once, and the payment is recorded by Marketplane itself —
// the money came through the gateway, not from a person's say-so — with
// the charge's id as its gateway ref, so that the charge is recorded once
// whichever process or retry records it. Without a card gateway the
// source is refused and nothing is placed or recorded.
func (a *API) payForOrder(ctx context.Context, in *OrderInput) error {
	q, err := a.db.Quote(ctx, actorFrom(ctx), in.request())
	if err != nil {
		return newOrderErr(err)
	}
	total := q.Quote.Total
	if total <= 0 {
		return nil // nothing to pay: the order goes as it is
	}
	// With an Idempotency-Key a retried call is answered before it gets
	// here; the gateway's key makes a charge that raced it charge once.
	// Without one, every call is a purchase of its own.
	key := "order " + strconv.FormatInt(in.CustomerID, 10) + " "
	if k := idempotencyKeyOf(ctx); k != "" {
		key += k
	} else {
		key += rand.Text()
	}
	receipt, err := a.gateway.Charge(ctx, gateway.ChargeRequest{AccountID: in.CustomerID, Amount: total, Currency: q.Quote.Currency,
		Source: in.PaymentSource, IdempotencyKey: key})
	if err != nil {
		return paymentSourceErr(err)
	}
	_, err = a.db.ReceivePayment(ctx, account.SystemActor(), store.Payment{AccountID: in.CustomerID, Amount: total,
		Method: cardMethod(receipt), TopUp: true, GatewayRef: receipt.ID}, a.queueStatus(ctx))
	if err != nil {
		a.log.ErrorContext(ctx, "api: card charged, order payment not recorded", "account", in.CustomerID,
			"amount", total.String(), "gateway_ref", receipt.ID, "err", err)
	}
	return err
}

// paymentSourceErr names the order's field in a gateway's refusal of the
// source, which the gateway calls "source".
func paymentSourceErr(err error) error {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Fields["source"] == "" {
		return err
	}
	fields := marketplane.FieldErrors{}
	for k, v := range e.Fields {
		if k == "source" {
			k = "payment_source"
		}
		fields[k] = v
	}
	return &marketplane.Error{Code: e.Code, Message: e.Message, Fields: fields}
}
