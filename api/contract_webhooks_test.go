package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/webhook"
)

// webhookContract holds the webhook endpoints, their deliveries and the
// events to the document. Alpha's endpoint (L1a) has two deliveries: the
// completion of Alpha's order and of Gamma's (L2 is below L1a). Cases that
// change things aim at endpoints built here for them: Patch (updated),
// Rotate (its secret rotated), Doomed (deleted); Gamma's endpoint is made
// inactive, so that redelivering its delivery conflicts.
func webhookContract(t *testing.T, c *contract) []contractCase {
	t.Helper()
	ctx := context.Background()
	sys := account.SystemActor()
	endpoint := func(name string) *webhook.Endpoint {
		t.Helper()
		e := &webhook.Endpoint{AccountID: c.L1a.ID, URL: "https://hooks.example.com/" + name, EventTypes: []string{webhook.InvoiceIssued}}
		if err := c.db.CreateWebhookEndpoint(ctx, sys, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	patch, rotate, doomed := endpoint("patch"), endpoint("rotate"), endpoint("doomed")
	inactive := false
	if _, err := c.db.UpdateWebhookEndpoint(ctx, sys, c.gamma.webhookID, store.WebhookChange{Active: &inactive}); err != nil {
		t.Fatal(err)
	}

	// Entity tags and cursors, read as a client reads them.
	cursor := func(path string) string {
		t.Helper()
		var p Page[struct{}]
		c.must(t, 200, "L1a", "GET", path, nil).JSON(t, &p)
		if p.NextCursor == "" {
			t.Fatalf("GET %s: no next cursor", path)
		}
		return p.NextCursor
	}
	alphaHook, gammaHook := "/webhooks/"+id(c.alpha.webhookID), "/webhooks/"+id(c.gamma.webhookID)
	patchPath, rotatePath, doomedPath := "/webhooks/"+id(patch.ID), "/webhooks/"+id(rotate.ID), "/webhooks/"+id(doomed.ID)
	patchTag := c.must(t, 200, "L1a", "GET", patchPath, nil).Header.Get("ETag")
	if patchTag != etagOf(1) {
		t.Fatalf("ETag of a new endpoint %q", patchTag)
	}
	deliveriesCursor := cursor(alphaHook + "/deliveries?limit=1")
	eventsCursor := cursor("/events?limit=1")
	l1aHooks, l1bHooks := "/accounts/"+id(c.L1a.ID)+"/webhooks", "/accounts/"+id(c.L1b.ID)+"/webhooks"
	newBody := func(url string, types ...string) map[string]any {
		return map[string]any{"url": url, "event_types": types}
	}

	endpointIs := func(check func(e WebhookEndpoint) bool) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var e WebhookEndpoint
			r.JSON(t, &e)
			if !check(e) || r.Header.Get("ETag") != etagOf(e.Version) {
				t.Errorf("endpoint %+v, ETag %s", e, r.Header.Get("ETag"))
			}
		}
	}
	// secretShown checks an answer that shows a secret: once, uncached,
	// and a new one each time.
	var secrets []string
	secretShown := func(check func(e NewWebhookEndpoint) bool) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var e NewWebhookEndpoint
			r.JSON(t, &e)
			if !strings.HasPrefix(e.Secret, "whsec_") || len(e.Secret) < 30 || slices.Contains(secrets, e.Secret) ||
				r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("ETag") != etagOf(e.Version) || !check(e) {
				t.Errorf("endpoint with secret %+v, headers %v", e, r.Header)
			}
			secrets = append(secrets, e.Secret)
		}
	}
	deliveriesAre := func(check func(items []WebhookDelivery, next string) bool) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var p Page[WebhookDelivery]
			r.JSON(t, &p)
			if !check(p.Items, p.NextCursor) {
				t.Errorf("deliveries %+v, next %q", p.Items, p.NextCursor)
			}
		}
	}
	eventsAre := func(check func(items []Event, next string) bool) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var p Page[Event]
			r.JSON(t, &p)
			if !check(p.Items, p.NextCursor) {
				t.Errorf("events %+v, next %q", p.Items, p.NextCursor)
			}
		}
	}
	rotatedUntil := c.db.Clock.Now().UTC().Add(24 * time.Hour)

	var cases []contractCase
	add := func(cs ...contractCase) { cases = append(cases, cs...) }

	// Endpoints of an account.
	add(
		contractCase{op: "list-webhooks", name: "own", who: "L1a", method: "GET", path: l1aHooks, want: 200,
			check: func(t *testing.T, r *response) {
				var p Page[WebhookEndpoint]
				r.JSON(t, &p)
				var ids []int64
				for _, e := range p.Items {
					ids = append(ids, e.ID)
				}
				if want := []int64{c.alpha.webhookID, patch.ID, rotate.ID, doomed.ID}; !slices.Equal(ids, want) {
					t.Errorf("endpoints %v, want %v", ids, want)
				}
			}},
		contractCase{op: "list-webhooks", name: "below: L2 lists its own", who: "L2", method: "GET", path: "/accounts/" + id(c.L2.ID) + "/webhooks", want: 200,
			check: func(t *testing.T, r *response) {
				var p Page[WebhookEndpoint]
				r.JSON(t, &p)
				if len(p.Items) != 1 || p.Items[0].ID != c.gamma.webhookID || p.Items[0].Active {
					t.Errorf("L2's endpoints %+v", p.Items)
				}
			}},
		contractCase{op: "list-webhooks", name: "sibling's", who: "L1a", method: "GET", path: l1bHooks, want: 404},
		contractCase{op: "list-webhooks", name: "parent's", who: "L2", method: "GET", path: l1aHooks, want: 404},
		contractCase{op: "list-webhooks", name: "id not a number", who: "L1a", method: "GET", path: "/accounts/abc/webhooks", want: 400, field: "path.id"},

		contractCase{op: "create-webhook", name: "created", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("https://hooks.example.com/new", webhook.OrderCompleted, webhook.SubscriptionStatusChanged), want: 201,
			check: secretShown(func(e NewWebhookEndpoint) bool {
				return e.AccountID == c.L1a.ID && e.URL == "https://hooks.example.com/new" && e.Active && e.Version == 1 &&
					slices.Equal(e.EventTypes, []string{webhook.OrderCompleted, webhook.SubscriptionStatusChanged}) &&
					e.PreviousSecretExpiresAt == nil
			})},
		contractCase{op: "create-webhook", name: "cloud metadata address", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("http://169.254.169.254/latest/meta-data/", webhook.OrderCompleted), want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "loopback IPv6", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("http://[::1]:8080/hook", webhook.OrderCompleted), want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "localhost", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("http://localhost/hook", webhook.OrderCompleted), want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "credentials in the URL", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("https://user:secret@hooks.example.com/", webhook.OrderCompleted), want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "ftp", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("ftp://hooks.example.com/", webhook.OrderCompleted), want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "no URL", who: "L1a", method: "POST", path: l1aHooks,
			body: map[string]any{"event_types": []string{webhook.OrderCompleted}}, want: 400, field: "body.url"},
		contractCase{op: "create-webhook", name: "no event types", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("https://hooks.example.com/x"), want: 400, field: "body.event_types"},
		contractCase{op: "create-webhook", name: "unknown event type", who: "L1a", method: "POST", path: l1aHooks,
			body: newBody("https://hooks.example.com/x", "order.shipped"), want: 400, field: "body.event_types[0]"},
		contractCase{op: "create-webhook", name: "malformed JSON", who: "L1a", method: "POST", path: l1aHooks,
			raw: `{"url": "https://hooks.example.com/x",`, want: 400},
		contractCase{op: "create-webhook", name: "read-only role", who: "L1a-support", method: "POST", path: l1aHooks,
			body: newBody("https://hooks.example.com/x", webhook.OrderCompleted), want: 403},
		contractCase{op: "create-webhook", name: "sibling's account", who: "L1a", method: "POST", path: l1bHooks,
			body: newBody("https://hooks.example.com/x", webhook.OrderCompleted), want: 404},
	)

	// One endpoint.
	add(
		contractCase{op: "get-webhook", name: "own", who: "L1a", method: "GET", path: alphaHook, want: 200,
			check: endpointIs(func(e WebhookEndpoint) bool {
				return e.ID == c.alpha.webhookID && e.AccountID == c.L1a.ID && e.URL == "https://hooks.example.com/Alpha" && e.Active
			})},
		contractCase{op: "get-webhook", name: "below's, seen from above", who: "L1a", method: "GET", path: gammaHook, want: 200,
			check: endpointIs(func(e WebhookEndpoint) bool { return e.ID == c.gamma.webhookID && !e.Active && e.Version == 2 })},
		contractCase{op: "get-webhook", name: "parent's", who: "L2", method: "GET", path: alphaHook, want: 404},
		contractCase{op: "get-webhook", name: "no such endpoint", who: "L1a", method: "GET", path: "/webhooks/999999", want: 404},

		contractCase{op: "update-webhook", name: "parent's", who: "L2", method: "PATCH", path: patchPath,
			body: map[string]any{"active": false}, want: 404},
		contractCase{op: "update-webhook", name: "read-only role", who: "L1a-support", method: "PATCH", path: patchPath,
			body: map[string]any{"active": false}, want: 403},
		contractCase{op: "update-webhook", name: "private address (IPv4-mapped IPv6)", who: "L1a", method: "PATCH", path: patchPath,
			body: map[string]any{"url": "http://[::ffff:10.0.0.1]/hook"}, want: 400, field: "body.url"},
		contractCase{op: "update-webhook", name: "CGNAT address", who: "L1a", method: "PATCH", path: patchPath,
			body: map[string]any{"url": "http://100.64.1.2/hook"}, want: 400, field: "body.url"},
		contractCase{op: "update-webhook", name: "no event types", who: "L1a", method: "PATCH", path: patchPath,
			body: map[string]any{"event_types": []string{}}, want: 400, field: "body.event_types"},
		contractCase{op: "update-webhook", name: "unknown event type", who: "L1a", method: "PATCH", path: patchPath,
			body: map[string]any{"event_types": []string{"invoice.issued", "invoice.burnt"}}, want: 400, field: "body.event_types[1]"},
		contractCase{op: "update-webhook", name: "active not a boolean", who: "L1a", method: "PATCH", path: patchPath,
			body: map[string]any{"active": "no"}, want: 400, field: "body.active"},
		contractCase{op: "update-webhook", name: "changed, If-Match current", who: "L1a", method: "PATCH", path: patchPath,
			header: []string{"If-Match", patchTag},
			body:   map[string]any{"url": "https://hooks.example.com/patched", "event_types": []string{webhook.PaymentReceived}, "active": false}, want: 200,
			check: endpointIs(func(e WebhookEndpoint) bool {
				return e.ID == patch.ID && e.URL == "https://hooks.example.com/patched" && !e.Active && e.Version == 2 &&
					slices.Equal(e.EventTypes, []string{webhook.PaymentReceived})
			})},
		contractCase{op: "update-webhook", name: "stale If-Match", who: "L1a", method: "PATCH", path: patchPath,
			header: []string{"If-Match", patchTag}, body: map[string]any{"active": true}, want: 412},
		contractCase{op: "get-webhook", name: "the change stays", who: "L1a", method: "GET", path: patchPath, want: 200,
			check: endpointIs(func(e WebhookEndpoint) bool { return e.URL == "https://hooks.example.com/patched" && !e.Active })},

		contractCase{op: "rotate-webhook-secret", name: "parent's", who: "L2", method: "POST", path: rotatePath + "/rotate-secret", want: 404},
		contractCase{op: "rotate-webhook-secret", name: "read-only role", who: "L1a-support", method: "POST", path: rotatePath + "/rotate-secret", want: 403},
		contractCase{op: "rotate-webhook-secret", name: "overlap beyond a week", who: "L1a", method: "POST", path: rotatePath + "/rotate-secret",
			body: map[string]any{"expire_previous_in_hours": 169}, want: 400, field: "body.expire_previous_in_hours"},
		contractCase{op: "rotate-webhook-secret", name: "overlap not a number", who: "L1a", method: "POST", path: rotatePath + "/rotate-secret",
			body: map[string]any{"expire_previous_in_hours": "a day"}, want: 400, field: "body.expire_previous_in_hours"},
		contractCase{op: "rotate-webhook-secret", name: "default overlap: a day", who: "L1a", method: "POST", path: rotatePath + "/rotate-secret", want: 200,
			check: secretShown(func(e NewWebhookEndpoint) bool {
				return e.ID == rotate.ID && e.Secret != rotate.Secret && e.Version == 2 &&
					e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.Equal(rotatedUntil)
			})},
		contractCase{op: "get-webhook", name: "the previous secret's expiry shows", who: "L1a", method: "GET", path: rotatePath, want: 200,
			check: endpointIs(func(e WebhookEndpoint) bool {
				return e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.Equal(rotatedUntil)
			})},
		contractCase{op: "rotate-webhook-secret", name: "no overlap", who: "L1a", method: "POST", path: rotatePath + "/rotate-secret",
			body: map[string]any{"expire_previous_in_hours": 0}, want: 200,
			check: secretShown(func(e NewWebhookEndpoint) bool { return e.Version == 3 && e.PreviousSecretExpiresAt == nil })},
	)

	// Deliveries and events.
	add(
		contractCase{op: "list-webhook-deliveries", name: "first page", who: "L1a", method: "GET", path: alphaHook + "/deliveries?limit=1", want: 200,
			check: deliveriesAre(func(items []WebhookDelivery, next string) bool {
				return len(items) == 1 && next != "" && items[0].EndpointID == c.alpha.webhookID && items[0].EventType == webhook.OrderCompleted &&
					items[0].Status == "pending"
			})},
		contractCase{op: "list-webhook-deliveries", name: "next page", who: "L1a", method: "GET",
			path: alphaHook + "/deliveries?limit=1&cursor=" + deliveriesCursor, want: 200,
			check: deliveriesAre(func(items []WebhookDelivery, next string) bool {
				return len(items) == 1 && next == "" && items[0].ID == c.alpha.deliveryID
			})},
		contractCase{op: "list-webhook-deliveries", name: "bad cursor", who: "L1a", method: "GET", path: alphaHook + "/deliveries?cursor=nonsense", want: 400},
		contractCase{op: "list-webhook-deliveries", name: "limit out of range", who: "L1a", method: "GET", path: alphaHook + "/deliveries?limit=0", want: 400, field: "query.limit"},
		contractCase{op: "list-webhook-deliveries", name: "parent's endpoint", who: "L2", method: "GET", path: alphaHook + "/deliveries", want: 404},

		contractCase{op: "redeliver-webhook", name: "parent's delivery", who: "L2", method: "POST",
			path: "/webhook-deliveries/" + id(c.alpha.deliveryID) + "/redeliver", want: 404},
		contractCase{op: "redeliver-webhook", name: "read-only role", who: "L1a-support", method: "POST",
			path: "/webhook-deliveries/" + id(c.alpha.deliveryID) + "/redeliver", want: 403},
		contractCase{op: "redeliver-webhook", name: "inactive endpoint", who: "L1a", method: "POST",
			path: "/webhook-deliveries/" + id(c.gamma.deliveryID) + "/redeliver", want: 409},
		contractCase{op: "redeliver-webhook", name: "no such delivery", who: "L1a", method: "POST", path: "/webhook-deliveries/999999/redeliver", want: 404},
		contractCase{op: "redeliver-webhook", name: "sent again", who: "L1a", method: "POST",
			path: "/webhook-deliveries/" + id(c.alpha.deliveryID) + "/redeliver", want: 202,
			check: func(t *testing.T, r *response) {
				var d WebhookDelivery
				r.JSON(t, &d)
				if d.ID == c.alpha.deliveryID || d.EndpointID != c.alpha.webhookID || d.Status != "pending" || d.Attempts != 0 {
					t.Errorf("redelivery %+v", d)
				}
			}},
		contractCase{op: "list-webhook-deliveries", name: "the redelivery is first", who: "L1a", method: "GET", path: alphaHook + "/deliveries", want: 200,
			check: deliveriesAre(func(items []WebhookDelivery, next string) bool {
				return len(items) == 3 && items[0].ID > items[1].ID && items[0].EventID == items[2].EventID
			})},

		contractCase{op: "list-events", name: "own subtree, first page", who: "L1a", method: "GET", path: "/events?limit=1", want: 200,
			check: eventsAre(func(items []Event, next string) bool {
				return len(items) == 1 && next != "" && items[0].Type == webhook.OrderCompleted && items[0].AccountID == c.gamma.customer.ID
			})},
		contractCase{op: "list-events", name: "next page", who: "L1a", method: "GET", path: "/events?limit=1&cursor=" + eventsCursor, want: 200,
			check: eventsAre(func(items []Event, next string) bool {
				return len(items) == 1 && items[0].AccountID == c.alpha.customer.ID
			})},
		contractCase{op: "list-events", name: "an account below, by type", who: "L1a", method: "GET",
			path: "/events?account_id=" + id(c.L2.ID) + "&type=" + webhook.OrderCompleted, want: 200,
			check: eventsAre(func(items []Event, next string) bool {
				return len(items) == 1 && items[0].AccountID == c.gamma.customer.ID
			})},
		contractCase{op: "list-events", name: "a type nothing has", who: "L1a", method: "GET", path: "/events?type=" + webhook.PaymentReceived, want: 200,
			check: eventsAre(func(items []Event, next string) bool { return len(items) == 0 && next == "" })},
		contractCase{op: "list-events", name: "sibling's", who: "L1a", method: "GET", path: "/events?account_id=" + id(c.L1b.ID), want: 404},
		contractCase{op: "list-events", name: "account_id not a number", who: "L1a", method: "GET", path: "/events?account_id=abc", want: 400, field: "query.account_id"},
		contractCase{op: "list-events", name: "bad cursor", who: "L1a", method: "GET", path: "/events?cursor=nonsense", want: 400},
	)

	// Deletion last.
	add(
		contractCase{op: "delete-webhook", name: "read-only role", who: "L1a-support", method: "DELETE", path: doomedPath, want: 403},
		contractCase{op: "delete-webhook", name: "parent's", who: "L2", method: "DELETE", path: doomedPath, want: 404},
		contractCase{op: "delete-webhook", name: "deleted", who: "L1a", method: "DELETE", path: doomedPath, want: http.StatusNoContent},
		contractCase{op: "delete-webhook", name: "already deleted", who: "L1a", method: "DELETE", path: doomedPath, want: 404},
		contractCase{op: "get-webhook", name: "deleted", who: "L1a", method: "GET", path: doomedPath, want: 404},
	)
	return cases
}
