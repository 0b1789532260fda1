package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/webhook"
)

// WebhookEndpoint is a URL that receives the events of an account and of
// the accounts below it, of the types it subscribes to.
type WebhookEndpoint struct {
	ID         int64    `json:"id"`
	AccountID  int64    `json:"account_id"`
	URL        string   `json:"url" example:"https://erp.example.com/marketplane"`
	EventTypes []string `json:"event_types" example:"[\"order.completed\",\"invoice.issued\"]"`
	Active     bool     `json:"active" doc:"An inactive endpoint receives nothing; events meanwhile are not kept for it."`
	// PreviousSecretExpiresAt tells a receiver how long it has to switch
	// to a rotated secret.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" doc:"After a secret rotation, until when the previous secret still signs deliveries (beside the new one); absent when it no longer does."`
	Version                 int64      `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// NewWebhookEndpoint is an endpoint just made, with the secret that signs
// its deliveries: the only time the secret is shown.
type NewWebhookEndpoint struct {
	WebhookEndpoint
	Secret string `json:"secret" doc:"Checks the Marketplane-Signature header of deliveries: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with this secret>. While a previous secret is valid after a rotation, the header carries one v1 per secret (t=...,v1=<new>,v1=<previous>): accept it when any matches. Shown once: store it now."`
}

func endpointView(e *webhook.Endpoint) WebhookEndpoint {
	return WebhookEndpoint{ID: e.ID, AccountID: e.AccountID, URL: e.URL, EventTypes: e.EventTypes, Active: e.Active,
		PreviousSecretExpiresAt: optTime(e.PreviousExpiresAt), Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// WebhookDelivery is one delivery of an event to an endpoint, as the
// delivery log shows it.
type WebhookDelivery struct {
	ID           int64      `json:"id"`
	EndpointID   int64      `json:"endpoint_id"`
	EventID      int64      `json:"event_id"`
	EventType    string     `json:"event_type" example:"invoice.issued"`
	Status       string     `json:"status" enum:"pending,succeeded,failed"`
	Attempts     int        `json:"attempts"`
	ResponseCode int        `json:"response_code,omitempty" doc:"The HTTP status of the last attempt's reply; absent when none came."`
	ResponseBody string     `json:"response_body,omitempty" doc:"The start of the last reply's body."`
	Error        string     `json:"error,omitempty" doc:"Why the last attempt got no reply."`
	NextAt       *time.Time `json:"next_at,omitempty" doc:"When the next attempt is due, while pending."`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func deliveryView(d *store.WebhookDelivery) WebhookDelivery {
	return WebhookDelivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, ResponseCode: d.ResponseCode, ResponseBody: d.ResponseBody, Error: d.Error,
		NextAt: optTime(d.NextAt), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// Event is something that happened to an account, as endpoints receive it.
type Event struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type" example:"order.completed"`
	AccountID int64           `json:"account_id" doc:"The account the event is about."`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data" doc:"What happened: the ids and figures of the order, document or subscription." price:"opaque"`
}

func eventView(e *store.Event) Event {
	return Event{ID: e.ID, Type: e.Type, AccountID: e.AccountID, CreatedAt: e.CreatedAt, Data: e.Payload}
}

type webhookIDPath struct {
	ID int64 `path:"id" doc:"Webhook endpoint id."`
}

type createWebhookInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body struct {
		URL        string   `json:"url" maxLength:"2000" doc:"An http or https URL that takes POST requests."`
		EventTypes []string `json:"event_types" minItems:"1" maxItems:"20" doc:"order.completed, invoice.issued, payment.received, subscription.status_changed."`
	}
}

type updateWebhookInput struct {
	ID int64 `path:"id" doc:"Webhook endpoint id."`
	Conditional
	Body struct {
		URL        *string  `json:"url,omitempty" maxLength:"2000" doc:"An http or https URL that takes POST requests."`
		EventTypes []string `json:"event_types,omitempty" minItems:"1" maxItems:"20" doc:"Replaces the event types as a whole."`
		Active     *bool    `json:"active,omitempty" doc:"false stops deliveries to the endpoint until it is true again."`
	}
}

type rotateSecretInput struct {
	ID   int64 `path:"id" doc:"Webhook endpoint id."`
	Body *struct {
		ExpirePreviousInHours *int `json:"expire_previous_in_hours,omitempty" minimum:"0" maximum:"168" doc:"How long the previous secret keeps signing deliveries beside the new one, in hours; 0 drops it at once. Default 24."`
	}
}

// defaultSecretOverlap is how long a rotated-out secret stays valid when
// the rotation does not say: a day, for receivers deployed daily.
const defaultSecretOverlap = 24 * time.Hour

type webhookCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	// The response holds a secret: no cache may keep it.
	CacheControl string `header:"Cache-Control"`
	Body         NewWebhookEndpoint
}

type webhookOutput struct {
	ETag string `header:"ETag"`
	Body WebhookEndpoint
}

type secretRotated struct {
	ETag string `header:"ETag"`
	// The response holds a secret: no cache may keep it.
	CacheControl string `header:"Cache-Control"`
	Body         NewWebhookEndpoint
}

type webhookList struct {
	Body Page[WebhookEndpoint]
}

type deliveriesInput struct {
	ID int64 `path:"id" doc:"Webhook endpoint id."`
	PageParams
}

type deliveryPage struct {
	Body Page[WebhookDelivery]
}

type deliveryIDPath struct {
	ID int64 `path:"id" doc:"Webhook delivery id."`
}

type deliveryOutput struct {
	Body WebhookDelivery
}

type eventsInput struct {
	AccountID int64  `query:"account_id" doc:"The account whose events, and those of the accounts below it, to list. Default: the caller's."`
	Type      string `query:"type" maxLength:"50" doc:"Only events of this type."`
	PageParams
}

type eventPage struct {
	Body Page[Event]
}

// Cursor kinds of the webhook lists.
const (
	cursorDeliveries = "whd"
	cursorEvents     = "evt"
)

func (a *API) webhookRoutes() {
	const tag = "Webhooks"
	register(a, op{id: "list-webhooks", method: http.MethodGet, path: "/accounts/{id}/webhooks", tag: tag,
		summary: "List the webhook endpoints of an account"}, a.listWebhooks)
	register(a, op{id: "create-webhook", method: http.MethodPost, path: "/accounts/{id}/webhooks", tag: tag,
		summary: "Create a webhook endpoint",
		description: "The endpoint receives the events of the account and of the accounts below it, of the types it names. " +
			"The response holds the secret that signs deliveries, which is never shown again.",
		status: http.StatusCreated}, a.createWebhook)
	register(a, op{id: "get-webhook", method: http.MethodGet, path: "/webhooks/{id}", tag: tag,
		summary: "Get a webhook endpoint"}, a.getWebhook)
	register(a, op{id: "update-webhook", method: http.MethodPatch, path: "/webhooks/{id}", tag: tag,
		summary: "Change a webhook endpoint", description: "Changes the fields present in the body; the others stay.",
		errors: []int{http.StatusPreconditionFailed}}, a.updateWebhook)
	register(a, op{id: "rotate-webhook-secret", method: http.MethodPost, path: "/webhooks/{id}/rotate-secret", tag: tag,
		summary: "Give a webhook endpoint a new secret",
		description: "The response holds the new secret, which is never shown again. The previous secret keeps signing deliveries " +
			"beside the new one for `expire_previous_in_hours` (default 24): the Marketplane-Signature header then carries " +
			"both signatures (t=...,v1=<new>,v1=<previous>), so that receivers can switch without missing a delivery. " +
			"A secret kept from an earlier rotation stops working."}, a.rotateWebhookSecret)
	register(a, op{id: "delete-webhook", method: http.MethodDelete, path: "/webhooks/{id}", tag: tag,
		summary: "Delete a webhook endpoint", description: "Its delivery log goes with it; pending deliveries are dropped.",
		status: http.StatusNoContent}, a.deleteWebhook)
	register(a, op{id: "list-webhook-deliveries", method: http.MethodGet, path: "/webhooks/{id}/deliveries", tag: tag,
		summary: "List the deliveries of a webhook endpoint, newest first"}, a.listDeliveries)
	register(a, op{id: "redeliver-webhook", method: http.MethodPost, path: "/webhook-deliveries/{id}/redeliver", tag: tag,
		summary: "Send a delivery's event again", description: "As a new delivery, which the response describes.",
		status: http.StatusAccepted, errors: []int{http.StatusConflict}}, a.redeliver)
	register(a, op{id: "list-events", method: http.MethodGet, path: "/events", tag: tag,
		summary:     "List the events of an account and the accounts below it, newest first",
		description: "Events are recorded when some webhook endpoint is to receive them."}, a.listEvents)
}

func (a *API) listWebhooks(ctx context.Context, in *accountListInput) (*webhookList, error) {
	rows, err := a.db.WebhookEndpoints(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorWebhooks, rows,
		func(e *webhook.Endpoint) string { return idKey(e.ID) }, endpointView)
	if err != nil {
		return nil, err
	}
	return &webhookList{Body: page}, nil
}

// checkWebhookURL refuses a URL that reaches an internal address, unless
// the operator allows those (Config.AllowPrivateWebhooks).
func (a *API) checkWebhookURL(ctx context.Context, url string) error {
	if a.allowPrivateWebhooks {
		return nil
	}
	return webhook.CheckURL(ctx, url, nil)
}

func (a *API) createWebhook(ctx context.Context, in *createWebhookInput) (*webhookCreated, error) {
	e := &webhook.Endpoint{AccountID: in.ID, URL: in.Body.URL, EventTypes: in.Body.EventTypes}
	// The form first (a missing URL is "required", not "not http"), then
	// where it leads.
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := a.checkWebhookURL(ctx, e.URL); err != nil {
		return nil, err
	}
	if err := a.db.CreateWebhookEndpoint(ctx, actorFrom(ctx), e); err != nil {
		return nil, err
	}
	return &webhookCreated{ETag: etagOf(e.Version), Location: Prefix + "/webhooks/" + strconv.FormatInt(e.ID, 10), CacheControl: "no-store",
		Body: NewWebhookEndpoint{WebhookEndpoint: endpointView(e), Secret: e.Secret}}, nil
}

func (a *API) getWebhook(ctx context.Context, in *webhookIDPath) (*webhookOutput, error) {
	e, err := a.db.WebhookEndpoint(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &webhookOutput{ETag: etagOf(e.Version), Body: endpointView(e)}, nil
}

func (a *API) updateWebhook(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
	actor := actorFrom(ctx)
	e, err := a.db.WebhookEndpoint(ctx, actor, in.ID)
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(in.IfMatch, etagOf(e.Version)); err != nil {
		return nil, err
	}
	c := store.WebhookChange{URL: in.Body.URL, EventTypes: in.Body.EventTypes, Active: in.Body.Active}
	// The store compares the version with the row it changes, so a change
	// between this read and the update is caught there (412 as well).
	if in.IfMatch != "" {
		c.Version = e.Version
	}
	if c.URL != nil && *c.URL != e.URL {
		if err := (&webhook.Endpoint{URL: *c.URL, EventTypes: e.EventTypes}).Validate(); err != nil {
			return nil, err
		}
		if err := a.checkWebhookURL(ctx, *c.URL); err != nil {
			return nil, err
		}
	}
	if e, err = a.db.UpdateWebhookEndpoint(ctx, actor, in.ID, c); err != nil {
		return nil, err
	}
	return &webhookOutput{ETag: etagOf(e.Version), Body: endpointView(e)}, nil
}

func (a *API) rotateWebhookSecret(ctx context.Context, in *rotateSecretInput) (*secretRotated, error) {
	keep := defaultSecretOverlap
	if in.Body != nil && in.Body.ExpirePreviousInHours != nil {
		keep = time.Duration(*in.Body.ExpirePreviousInHours) * time.Hour
	}
	e, err := a.db.RotateWebhookSecret(ctx, actorFrom(ctx), in.ID, keep)
	if err != nil {
		return nil, err
	}
	return &secretRotated{ETag: etagOf(e.Version), CacheControl: "no-store",
		Body: NewWebhookEndpoint{WebhookEndpoint: endpointView(e), Secret: e.Secret}}, nil
}

func (a *API) deleteWebhook(ctx context.Context, in *webhookIDPath) (*struct{}, error) {
	return nil, a.db.DeleteWebhookEndpoint(ctx, actorFrom(ctx), in.ID)
}

func (a *API) listDeliveries(ctx context.Context, in *deliveriesInput) (*deliveryPage, error) {
	after, err := decodeIDCursor(cursorDeliveries, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.WebhookDeliveries(ctx, actorFrom(ctx), in.ID, after, in.fetchSize())
	if err != nil {
		return nil, err
	}
	return &deliveryPage{Body: paginate(in.PageParams, cursorDeliveries, rows,
		func(d *store.WebhookDelivery) string { return idKey(d.ID) }, deliveryView)}, nil
}

func (a *API) redeliver(ctx context.Context, in *deliveryIDPath) (*deliveryOutput, error) {
	d, err := a.db.Redeliver(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &deliveryOutput{Body: deliveryView(d)}, nil
}

func (a *API) listEvents(ctx context.Context, in *eventsInput) (*eventPage, error) {
	after, err := decodeIDCursor(cursorEvents, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Events(ctx, actorFrom(ctx), store.EventFilter{AccountID: in.AccountID, Type: in.Type,
		AfterID: after, Limit: in.fetchSize()})
	if err != nil {
		return nil, err
	}
	return &eventPage{Body: paginate(in.PageParams, cursorEvents, rows,
		func(e *store.Event) string { return idKey(e.ID) }, eventView)}, nil
}
