package api

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/subscription"
)

// commerceContract holds orders, subscriptions, usage, billing documents,
// payments, credit and reports to the document. It sells L2's copy of the
// provider's "basic" (saleChain) to C several times over, one
// subscription per destructive route:
//
//	main       read, auto-renewed, changed, its usage reported
//	toSuspend  suspended, then resumed
//	toCancel   cancelled
//	toRestore  terminated by billing, then restored
//
// and two orders whose provisioning failed (one retried, one cancelled).
// Credit holds fall on Hotel, a customer of L2 built for them, so that C
// may go on ordering. Reads come before the changes of what they read.
func commerceContract(t *testing.T, c *contract) []contractCase {
	t.Helper()
	ctx := context.Background()
	sys := account.SystemActor()
	f := c.fixture

	_, _, l2 := saleChain(t, f)
	mainOrder := placed(t, f, "C", orderBody(c.C.ID, l2.ID, 6))
	toSuspend := placed(t, f, "C", orderBody(c.C.ID, l2.ID, 6)).SubscriptionID
	toCancel := placed(t, f, "C", orderBody(c.C.ID, l2.ID, 6)).SubscriptionID
	toRestore := placed(t, f, "C", orderBody(c.C.ID, l2.ID, 6)).SubscriptionID
	for _, to := range []subscription.Status{subscription.Suspended, subscription.Terminated} {
		if _, err := c.db.SetSubscriptionStatus(ctx, sys, toRestore, to, subscription.ReasonExpired, nil); err != nil {
			t.Fatal(err)
		}
	}
	failed := func() Order {
		t.Helper()
		o := decode[Order](t, c.must(t, 201, "C", "POST", "/orders", orderBody(c.C.ID, l2.ID, 6)))
		if _, err := c.db.FailOrder(ctx, o.ID, "", "the connector answered 500"); err != nil {
			t.Fatal(err)
		}
		return o
	}
	toRetry, toCancelOrder := failed(), failed()
	hotel := newAccount(t, c.db, c.L2, account.Customer, "Hotel Customer")

	// Entity tags and cursors, read as a client reads them.
	etag := func(who, path string) string {
		t.Helper()
		e := c.must(t, 200, who, "GET", path, nil).Header.Get("ETag")
		if e == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		return e
	}
	cursor := func(who, path string) string {
		t.Helper()
		var p Page[struct{}]
		c.must(t, 200, who, "GET", path, nil).JSON(t, &p)
		if p.NextCursor == "" {
			t.Fatalf("GET %s: no next cursor", path)
		}
		return p.NextCursor
	}
	mainSub := "/subscriptions/" + id(mainOrder.SubscriptionID)
	mainTag := etag("C", mainSub)
	retryPath, cancelOrderPath := "/orders/"+id(toRetry.ID), "/orders/"+id(toCancelOrder.ID)
	retryTag := etag("L2", retryPath)
	ordersCursor := cursor("L2", "/orders?customer_id="+id(c.C.ID)+"&limit=1")
	subsCursor := cursor("L2", "/subscriptions?customer_id="+id(c.C.ID)+"&limit=1")
	docsCursor := cursor("L2", "/documents?account_id="+id(c.C.ID)+"&limit=1")
	invoices := decode[Page[Document]](t, c.must(t, 200, "C", "GET", "/documents?type=invoice&account_id="+id(c.C.ID), nil)).Items
	if len(invoices) == 0 {
		t.Fatal("C has no invoices")
	}
	invoice := invoices[0]
	docPath := "/documents/" + id(invoice.ID)

	var cases []contractCase
	add := func(cs ...contractCase) { cases = append(cases, cs...) }
	cAcct, hotelAcct := "/accounts/"+id(c.C.ID), "/accounts/"+id(hotel.ID)
	sibling := c.alpha // L1a's things: beyond L2 and C, and beyond L1b as the sibling of L1a

	// Quotes and orders.
	add(
		contractCase{op: "quote-order", name: "as the vendor", who: "L2", method: "POST", path: "/quotes",
			body: orderBody(c.C.ID, l2.ID, 8), want: 200,
			check: func(t *testing.T, r *response) {
				q := decode[Quote](t, r)
				if q.Total != "29.70" || q.Currency != "USD" || q.Resources["mailbox"] != 8 || q.PeriodEnd != "2027-02-10" ||
					len(q.Tiers) != 1 || q.Tiers[0].SellerID != c.L1a.ID || q.Tiers[0].Total != "27.00" {
					t.Errorf("quote %+v", q)
				}
			}},
		contractCase{op: "quote-order", name: "no customer", who: "C", method: "POST", path: "/quotes",
			body: map[string]any{"customer_id": 0, "plan_id": l2.ID, "period": "1m"}, want: 400, field: "body.customer_id"},
		contractCase{op: "quote-order", name: "malformed JSON", who: "C", method: "POST", path: "/quotes", raw: `{"customer_id": `, want: 400},
		contractCase{op: "quote-order", name: "too many mailboxes", who: "C", method: "POST", path: "/quotes",
			body: orderBody(c.C.ID, l2.ID, 1000), want: 400, field: "body.resources.mailbox"},

		contractCase{op: "place-order", name: "by the customer", who: "C", method: "POST", path: "/orders",
			body: orderBody(c.C.ID, l2.ID, 8), want: 201,
			check: func(t *testing.T, r *response) {
				o := decode[Order](t, r)
				if o.Type != "SO" || o.Status != "provisioning" || o.CustomerID != c.C.ID || o.VendorID != c.L2.ID || o.Total != "29.70" ||
					r.Header.Get("Location") != Prefix+"/orders/"+id(o.ID) || r.Header.Get("ETag") != etagOf(o.Version) {
					t.Errorf("order %+v %v", o, r.Header)
				}
			}},
		contractCase{op: "place-order", name: "placed and paid by card", who: "C", method: "POST", path: "/orders",
			body:   map[string]any{"customer_id": c.C.ID, "plan_id": l2.ID, "period": "1m", "payment_source": "tok_visa"},
			header: []string{"Idempotency-Key", "contract-buy-1"}, want: 201,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); o.Total != "19.80" || o.Status != "provisioning" {
					t.Errorf("paid order %+v", o)
				}
			}},
		contractCase{op: "place-order", name: "card declined", who: "C", method: "POST", path: "/orders",
			body: map[string]any{"customer_id": c.C.ID, "plan_id": l2.ID, "period": "1m", "payment_source": "tok_declined"}, want: 409},
		contractCase{op: "place-order", name: "no period", who: "C", method: "POST", path: "/orders",
			body: map[string]any{"customer_id": c.C.ID, "plan_id": l2.ID}, want: 400, field: "body.period"},
		contractCase{op: "place-order", name: "customer of a sibling", who: "L1b", method: "POST", path: "/orders",
			body: orderBody(sibling.customer.ID, sibling.planID, 0), want: 400, field: "body.customer_id"},

		contractCase{op: "list-orders", name: "of a customer", who: "L2", method: "GET", path: "/orders?customer_id=" + id(c.C.ID), want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[Order]](t, r)
				var ids []int64
				for _, o := range p.Items {
					if o.CustomerID != c.C.ID || o.Tiers != nil {
						t.Errorf("listed %+v", o)
					}
					ids = append(ids, o.ID)
				}
				for _, want := range []int64{mainOrder.ID, toRetry.ID, toCancelOrder.ID} {
					if !slices.Contains(ids, want) {
						t.Errorf("order %d not listed in %v", want, ids)
					}
				}
			}},
		contractCase{op: "list-orders", name: "failed ones, next page", who: "L2", method: "GET",
			path: "/orders?customer_id=" + id(c.C.ID) + "&limit=1&cursor=" + ordersCursor, want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[Order]](t, r); len(p.Items) != 1 || p.NextCursor == "" {
					t.Errorf("second page %+v", p)
				}
			}},
		contractCase{op: "list-orders", name: "by status", who: "L1a", method: "GET", path: "/orders?status=provisioning_failed", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[Order]](t, r)
				if len(p.Items) != 2 || p.Items[0].ID != toCancelOrder.ID || p.Items[1].ID != toRetry.ID {
					t.Errorf("failed orders %+v", p.Items)
				}
			}},
		contractCase{op: "list-orders", name: "unknown status", who: "L2", method: "GET", path: "/orders?status=lost", want: 400, field: "query.status"},
		contractCase{op: "list-orders", name: "bad cursor", who: "L2", method: "GET", path: "/orders?cursor=not-a-cursor", want: 400, field: "query.cursor"},
		contractCase{op: "list-orders", name: "customer of another branch", who: "L2", method: "GET",
			path: "/orders?customer_id=" + id(sibling.customer.ID), want: 404},

		contractCase{op: "get-order", name: "own", who: "C", method: "GET", path: "/orders/" + id(mainOrder.ID), want: 200,
			check: func(t *testing.T, r *response) {
				o := decode[Order](t, r)
				if o.ID != mainOrder.ID || o.Status != "completed" || o.Tiers == nil || len(o.Tiers) != 0 || r.Header.Get("ETag") != etagOf(o.Version) {
					t.Errorf("order %+v (a customer sees no tiers)", o)
				}
			}},
		contractCase{op: "get-order", name: "with the tiers below", who: "L1a", method: "GET", path: "/orders/" + id(mainOrder.ID), want: 200,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); len(o.Tiers) != 2 {
					t.Errorf("L1a sees tiers %+v", o.Tiers)
				}
			}},
		contractCase{op: "get-order", name: "a sibling's", who: "L1b", method: "GET", path: "/orders/" + id(mainOrder.ID), want: 404},
		contractCase{op: "get-order", name: "no such order", who: "L2", method: "GET", path: "/orders/987654321", want: 404},
		contractCase{op: "get-order", name: "id not a number", who: "L2", method: "GET", path: "/orders/x", want: 400, field: "path.id"},

		contractCase{op: "retry-order", name: "by the customer", who: "C", method: "POST", path: retryPath + "/retry", want: 403},
		contractCase{op: "retry-order", name: "a sibling's", who: "L1b", method: "POST", path: retryPath + "/retry", want: 404},
		contractCase{op: "retry-order", name: "completed", who: "L2", method: "POST", path: "/orders/" + id(mainOrder.ID) + "/retry", want: 409},
		contractCase{op: "retry-order", name: "stale If-Match", who: "L2", method: "POST", path: retryPath + "/retry",
			header: []string{"If-Match", `"1"`}, want: 412},
		contractCase{op: "retry-order", name: "failed", who: "L2", method: "POST", path: retryPath + "/retry",
			header: []string{"If-Match", retryTag}, want: 200,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); o.Status != "provisioning" || o.Reason != "" || o.Message != "" || r.Header.Get("ETag") == retryTag {
					t.Errorf("retried %+v %v", o, r.Header)
				}
			}},

		contractCase{op: "cancel-order", name: "by the customer", who: "C", method: "POST", path: cancelOrderPath + "/cancel", want: 403},
		contractCase{op: "cancel-order", name: "being provisioned", who: "L2", method: "POST", path: retryPath + "/cancel", want: 409},
		contractCase{op: "cancel-order", name: "stale If-Match", who: "L2", method: "POST", path: retryPath + "/cancel",
			header: []string{"If-Match", retryTag}, want: 412},
		contractCase{op: "cancel-order", name: "no such order", who: "L2", method: "POST", path: "/orders/987654321/cancel", want: 404},
		contractCase{op: "cancel-order", name: "failed", who: "L1a", method: "POST", path: cancelOrderPath + "/cancel", want: 200,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); o.Status != "cancelled" || o.Reason != "cancelled_by_staff" || o.FinishedAt == nil {
					t.Errorf("cancelled %+v", o)
				}
			}},
	)

	// Subscriptions.
	add(
		contractCase{op: "list-subscriptions", name: "own", who: "C", method: "GET", path: "/subscriptions", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[Subscription]](t, r)
				var ids []int64
				for _, s := range p.Items {
					if s.CustomerID != c.C.ID || s.Attributes != nil {
						t.Errorf("listed %+v", s)
					}
					ids = append(ids, s.ID)
				}
				for _, want := range []int64{mainOrder.SubscriptionID, toSuspend, toCancel, toRestore} {
					if !slices.Contains(ids, want) {
						t.Errorf("subscription %d not listed in %v", want, ids)
					}
				}
			}},
		contractCase{op: "list-subscriptions", name: "terminated", who: "L2", method: "GET",
			path: "/subscriptions?status=terminated&customer_id=" + id(c.C.ID), want: 200,
			check: func(t *testing.T, r *response) {
				// toRestore expired; the failed order cancelled next
				// terminated its pending subscription.
				var got []string
				for _, s := range decode[Page[Subscription]](t, r).Items {
					got = append(got, id(s.ID)+" "+s.Status+" "+s.StatusReason)
				}
				want := []string{id(toCancelOrder.SubscriptionID) + " terminated order_cancelled", id(toRestore) + " terminated expired"}
				if !slices.Equal(got, want) {
					t.Errorf("terminated %v, want %v", got, want)
				}
			}},
		contractCase{op: "list-subscriptions", name: "next page", who: "L2", method: "GET",
			path: "/subscriptions?customer_id=" + id(c.C.ID) + "&limit=1&cursor=" + subsCursor, want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[Subscription]](t, r); len(p.Items) != 1 || p.NextCursor == "" {
					t.Errorf("second page %+v", p)
				}
			}},
		contractCase{op: "list-subscriptions", name: "unknown status", who: "L2", method: "GET", path: "/subscriptions?status=asleep",
			want: 400, field: "query.status"},
		contractCase{op: "list-subscriptions", name: "bad cursor", who: "L2", method: "GET", path: "/subscriptions?cursor=zzz",
			want: 400, field: "query.cursor"},
		contractCase{op: "list-subscriptions", name: "limit too high", who: "L2", method: "GET", path: "/subscriptions?limit=501",
			want: 400, field: "query.limit"},
		contractCase{op: "list-subscriptions", name: "customer of a sibling", who: "L1b", method: "GET",
			path: "/subscriptions?customer_id=" + id(sibling.customer.ID), want: 404},

		contractCase{op: "get-subscription", name: "own", who: "C", method: "GET", path: mainSub, want: 200,
			check: func(t *testing.T, r *response) {
				s := decode[Subscription](t, r)
				if s.ID != mainOrder.SubscriptionID || s.Status != "active" || s.PlanID != l2.ID || s.Resources["mailbox"] != 6 ||
					s.Attributes["host"] != "office.example.com" || r.Header.Get("ETag") != mainTag {
					t.Errorf("subscription %+v %v", s, r.Header)
				}
			}},
		contractCase{op: "get-subscription", name: "a sibling's", who: "L1b", method: "GET", path: mainSub, want: 404},
		contractCase{op: "get-subscription", name: "no such subscription", who: "C", method: "GET", path: "/subscriptions/987654321", want: 404},

		// Usage: the vendor's side reports, everyone below reads.
		contractCase{op: "record-subscription-usage", name: "by the vendor", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{
				map[string]any{"resource": "mailbox", "value": "6", "at": "2027-01-10T12:00:00Z"},
				map[string]any{"resource": "mailbox", "value": "7"},
			}}, want: 201,
			check: func(t *testing.T, r *response) {
				if got, want := usageStrings(decode[Page[UsageRecord]](t, r)),
					[]string{"2027-01-10T12:00:00Z mailbox 6", "2027-01-10T15:00:00Z mailbox 7"}; !slices.Equal(got, want) {
					t.Errorf("recorded %v, want %v", got, want)
				}
			}},
		contractCase{op: "record-subscription-usage", name: "a resource the plan does not rate", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "storage", "value": "6"}}}, want: 400, field: "body.readings[0].resource"},
		contractCase{op: "record-subscription-usage", name: "in the future", who: "L1a", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "6", "at": "2027-01-11T00:00:00Z"}}},
			want: 400, field: "body.readings[0].at"},
		contractCase{op: "record-subscription-usage", name: "before the subscription began", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "6", "at": "2027-01-01T00:00:00Z"}}},
			want: 400, field: "body.readings[0].at"},
		contractCase{op: "record-subscription-usage", name: "more than six decimal places", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "6.0000001"}}}, want: 400, field: "body.readings[0].value"},
		contractCase{op: "record-subscription-usage", name: "not a plain decimal", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "6e0"}}}, want: 400, field: "body.readings[0].value"},
		contractCase{op: "record-subscription-usage", name: "negative", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "-1"}}}, want: 400, field: "body.readings[0].value"},
		contractCase{op: "record-subscription-usage", name: "no readings", who: "L2", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{}}, want: 400, field: "body.readings"},
		contractCase{op: "record-subscription-usage", name: "by the customer", who: "C", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "1"}}}, want: 403},
		contractCase{op: "record-subscription-usage", name: "read-only staff", who: "L1a-support", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "1"}}}, want: 403},
		contractCase{op: "record-subscription-usage", name: "a sibling's", who: "L1b", method: "POST", path: mainSub + "/usage",
			body: map[string]any{"readings": []any{map[string]any{"resource": "mailbox", "value": "1"}}}, want: 404},

		contractCase{op: "list-subscription-usage", name: "own", who: "C", method: "GET", path: mainSub + "/usage?from=2027-01-01", want: 200,
			check: func(t *testing.T, r *response) {
				if got, want := usageStrings(decode[Page[UsageRecord]](t, r)),
					[]string{"2027-01-10T12:00:00Z mailbox 6"}; !slices.Equal(got, want) {
					t.Errorf("usage %v, want %v (to is now, excluded)", got, want)
				}
			}},
		contractCase{op: "list-subscription-usage", name: "of a resource", who: "L1a-support", method: "GET",
			path: mainSub + "/usage?resource=mailbox&from=2027-01-10&to=2027-01-11", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[UsageRecord]](t, r); len(p.Items) != 2 {
					t.Errorf("usage %+v", p.Items)
				}
			}},
		contractCase{op: "list-subscription-usage", name: "bad from", who: "C", method: "GET", path: mainSub + "/usage?from=yesterday",
			want: 400, field: "query.from"},
		contractCase{op: "list-subscription-usage", name: "year zero", who: "C", method: "GET", path: mainSub + "/usage?from=0000-01-01",
			want: 400, field: "query.from"},
		contractCase{op: "list-subscription-usage", name: "to before from", who: "C", method: "GET",
			path: mainSub + "/usage?from=2027-02-01&to=2027-01-01", want: 400, field: "query.to"},
		contractCase{op: "list-subscription-usage", name: "a sibling's", who: "L1b", method: "GET", path: mainSub + "/usage", want: 404},

		contractCase{op: "set-subscription-auto-renew", name: "stale If-Match", who: "C", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "off"}, header: []string{"If-Match", `"1"`}, want: 412},
		contractCase{op: "set-subscription-auto-renew", name: "renew 3 days before", who: "C", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "before_expiration", "days": 3}, header: []string{"If-Match", mainTag}, want: 200,
			check: func(t *testing.T, r *response) {
				s := decode[Subscription](t, r)
				if s.AutoRenew != (AutoRenew{Mode: "before_expiration", Days: 3}) || r.Header.Get("ETag") == mainTag {
					t.Errorf("auto-renew %+v %v", s.AutoRenew, r.Header)
				}
			}},
		contractCase{op: "set-subscription-auto-renew", name: "the tag before the change", who: "C", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "off"}, header: []string{"If-Match", mainTag}, want: 412},
		contractCase{op: "set-subscription-auto-renew", name: "unknown mode", who: "C", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "sometimes"}, want: 400, field: "body.mode"},
		contractCase{op: "set-subscription-auto-renew", name: "days too many", who: "C", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "before_expiration", "days": 400}, want: 400, field: "body.days"},
		contractCase{op: "set-subscription-auto-renew", name: "terminated", who: "C", method: "PUT",
			path: "/subscriptions/" + id(toRestore) + "/auto-renew", body: map[string]any{"mode": "off"}, want: 409},
		contractCase{op: "set-subscription-auto-renew", name: "a sibling's", who: "L1b", method: "PUT", path: mainSub + "/auto-renew",
			body: map[string]any{"mode": "off"}, want: 404},

		contractCase{op: "quote-subscription-change", name: "more mailboxes", who: "C", method: "POST", path: mainSub + "/change/quote",
			body: map[string]any{"resources": map[string]int64{"mailbox": 8}}, want: 200,
			check: func(t *testing.T, r *response) {
				q := decode[Quote](t, r)
				if q.CustomerID != c.C.ID || q.PlanID != l2.ID || q.Period != "1m" || q.Resources["mailbox"] != 8 || len(q.Lines) == 0 {
					t.Errorf("change quote %+v", q)
				}
			}},
		contractCase{op: "quote-subscription-change", name: "a period the plan lacks", who: "C", method: "POST", path: mainSub + "/change/quote",
			body: map[string]any{"period": "12m"}, want: 400, field: "body.period"},
		contractCase{op: "quote-subscription-change", name: "a sibling's", who: "L1b", method: "POST", path: mainSub + "/change/quote",
			body: map[string]any{"resources": map[string]int64{"mailbox": 8}}, want: 404},
		contractCase{op: "change-subscription", name: "a period the plan lacks", who: "C", method: "POST", path: mainSub + "/change",
			body: map[string]any{"period": "12m"}, want: 400, field: "body.period"},
		contractCase{op: "change-subscription", name: "more mailboxes", who: "C", method: "POST", path: mainSub + "/change",
			body: map[string]any{"resources": map[string]int64{"mailbox": 8}}, want: 201,
			check: func(t *testing.T, r *response) {
				o := decode[Order](t, r)
				if o.Type != "CH" || o.SubscriptionID != mainOrder.SubscriptionID || o.Resources["mailbox"] != 8 ||
					o.FromResources["mailbox"] != 6 || o.Status != "provisioning" {
					t.Errorf("change %+v", o)
				}
			}},
		contractCase{op: "change-subscription", name: "while the change is open", who: "C", method: "POST", path: mainSub + "/change",
			body: map[string]any{"resources": map[string]int64{"mailbox": 9}}, want: 409},
		contractCase{op: "change-subscription", name: "unknown proration", who: "C", method: "POST", path: mainSub + "/change",
			body: map[string]any{"resources": map[string]int64{"mailbox": 9}, "proration": "generous"}, want: 400, field: "body.proration"},
		contractCase{op: "change-subscription", name: "resources not a map", who: "C", method: "POST", path: mainSub + "/change",
			body: map[string]any{"resources": "lots"}, want: 400, field: "body.resources"},
		contractCase{op: "change-subscription", name: "a sibling's", who: "L1b", method: "POST", path: mainSub + "/change",
			body: map[string]any{"resources": map[string]int64{"mailbox": 9}}, want: 404},

		contractCase{op: "suspend-subscription", name: "by the customer", who: "C", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/suspend", want: 403},
		contractCase{op: "suspend-subscription", name: "read-only staff", who: "L1a-support", method: "POST",
			path: "/subscriptions/" + id(toSuspend) + "/suspend", want: 403},
		contractCase{op: "suspend-subscription", name: "by the vendor", who: "L2", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/suspend", want: 200,
			check: func(t *testing.T, r *response) {
				if s := decode[Subscription](t, r); s.Status != "suspended" || s.StatusReason != "staff" {
					t.Errorf("suspended %+v", s)
				}
			}},
		contractCase{op: "suspend-subscription", name: "suspended already", who: "L2", method: "POST",
			path: "/subscriptions/" + id(toSuspend) + "/suspend", want: 409},
		contractCase{op: "suspend-subscription", name: "no such subscription", who: "L2", method: "POST", path: "/subscriptions/987654321/suspend", want: 404},

		contractCase{op: "resume-subscription", name: "by the customer", who: "C", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/resume", want: 403},
		contractCase{op: "resume-subscription", name: "by the provider", who: "P", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/resume", want: 200,
			check: func(t *testing.T, r *response) {
				if s := decode[Subscription](t, r); s.Status != "active" || s.StatusReason != "" {
					t.Errorf("resumed %+v", s)
				}
			}},
		contractCase{op: "resume-subscription", name: "active", who: "L2", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/resume", want: 409},
		contractCase{op: "resume-subscription", name: "a sibling's", who: "L1b", method: "POST", path: "/subscriptions/" + id(toSuspend) + "/resume", want: 404},

		contractCase{op: "cancel-subscription", name: "read-only staff", who: "L1a-support", method: "POST",
			path: "/subscriptions/" + id(toCancel) + "/cancel", want: 403},
		contractCase{op: "cancel-subscription", name: "by the customer", who: "C", method: "POST", path: "/subscriptions/" + id(toCancel) + "/cancel", want: 201,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); o.Type != "CL" || o.SubscriptionID != toCancel || !strings.HasPrefix(o.Total, "-") {
					t.Errorf("cancellation %+v", o)
				}
			}},
		contractCase{op: "cancel-subscription", name: "cancelled already", who: "C", method: "POST",
			path: "/subscriptions/" + id(toCancel) + "/cancel", want: 409},
		contractCase{op: "cancel-subscription", name: "a sibling's", who: "L1b", method: "POST", path: "/subscriptions/" + id(toCancel) + "/cancel", want: 404},

		contractCase{op: "restore-subscription", name: "by the customer", who: "C", method: "POST", path: "/subscriptions/" + id(toRestore) + "/restore", want: 403},
		contractCase{op: "restore-subscription", name: "active", who: "L2", method: "POST",
			path: "/subscriptions/" + id(toSuspend) + "/restore", want: 409},
		contractCase{op: "restore-subscription", name: "terminated", who: "L2", method: "POST", path: "/subscriptions/" + id(toRestore) + "/restore", want: 201,
			check: func(t *testing.T, r *response) {
				if o := decode[Order](t, r); o.Type != "CH" || o.Total != "0.00" || len(o.Lines) != 0 || o.SubscriptionID != toRestore {
					t.Errorf("restore %+v", o)
				}
			}},
		contractCase{op: "restore-subscription", name: "its restore is open", who: "L2", method: "POST",
			path: "/subscriptions/" + id(toRestore) + "/restore", want: 409},
		contractCase{op: "restore-subscription", name: "a sibling's", who: "L1b", method: "POST", path: "/subscriptions/" + id(toRestore) + "/restore", want: 404},
	)

	// Documents.
	add(
		contractCase{op: "list-documents", name: "of a buyer", who: "L2", method: "GET", path: "/documents?account_id=" + id(c.C.ID), want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[Document]](t, r)
				if len(p.Items) < 4 {
					t.Errorf("C's documents %+v", p.Items)
				}
				for _, d := range p.Items {
					if d.AccountID != c.C.ID || d.VendorID != c.L2.ID {
						t.Errorf("listed %+v", d)
					}
				}
			}},
		contractCase{op: "list-documents", name: "next page", who: "L2", method: "GET",
			path: "/documents?account_id=" + id(c.C.ID) + "&limit=1&cursor=" + docsCursor, want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[Document]](t, r); len(p.Items) != 1 || p.Items[0].ID == invoice.ID {
					t.Errorf("second page %+v", p.Items)
				}
			}},
		contractCase{op: "list-documents", name: "issued by L1a", who: "L1a", method: "GET", path: "/documents?type=invoice&vendor_id=" + id(c.L1a.ID), want: 200,
			check: func(t *testing.T, r *response) {
				for _, d := range decode[Page[Document]](t, r).Items {
					if d.VendorID != c.L1a.ID || d.Type != "invoice" {
						t.Errorf("listed %+v", d)
					}
				}
			}},
		contractCase{op: "list-documents", name: "unknown type", who: "L2", method: "GET", path: "/documents?type=receipt", want: 400, field: "query.type"},
		contractCase{op: "list-documents", name: "bad cursor", who: "L2", method: "GET", path: "/documents?cursor=%21", want: 400, field: "query.cursor"},
		contractCase{op: "list-documents", name: "buyer of a sibling", who: "L1b", method: "GET",
			path: "/documents?account_id=" + id(sibling.customer.ID), want: 404},

		contractCase{op: "get-document", name: "own invoice", who: "C", method: "GET", path: docPath, want: 200,
			check: func(t *testing.T, r *response) {
				d := decode[Document](t, r)
				if d.ID != invoice.ID || d.Type != "invoice" || d.Total != invoice.Total || len(d.Lines) == 0 || !strings.HasPrefix(d.Number, "INV-") {
					t.Errorf("invoice %+v", d)
				}
			}},
		contractCase{op: "get-document", name: "a sibling's", who: "L1b", method: "GET", path: "/documents/" + id(sibling.documentID), want: 404},
		contractCase{op: "get-document", name: "id not a number", who: "C", method: "GET", path: "/documents/one", want: 400, field: "path.id"},

		contractCase{op: "get-document-html", name: "own invoice", who: "C", method: "GET", path: docPath + "/html", want: 200,
			check: func(t *testing.T, r *response) {
				if !bytes.Contains(r.Body, []byte(invoice.Number)) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
					t.Errorf("HTML %s: %.200s", r.Header.Get("Content-Type"), r.Body)
				}
			}},
		contractCase{op: "get-document-html", name: "a sibling's", who: "L1b", method: "GET", path: "/documents/" + id(sibling.documentID) + "/html", want: 404},

		contractCase{op: "get-document-pdf", name: "own invoice", who: "C", method: "GET", path: docPath + "/pdf", want: 200,
			check: func(t *testing.T, r *response) {
				if !bytes.HasPrefix(r.Body, []byte("%PDF")) || r.Header.Get("Content-Type") != "application/pdf" {
					t.Errorf("PDF %s: %.20q", r.Header.Get("Content-Type"), r.Body)
				}
			}},
		contractCase{op: "get-document-pdf", name: "no such document", who: "C", method: "GET", path: "/documents/987654321/pdf", want: 404},
	)

	// Payments, credit and holds.
	add(
		contractCase{op: "get-account-credit", name: "of a buyer", who: "L2", method: "GET", path: cAcct + "/credit", want: 200,
			check: func(t *testing.T, r *response) {
				cr := decode[Credit](t, r)
				if cr.AccountID != c.C.ID || cr.VendorID != c.L2.ID || cr.Currency != "USD" || cr.Status != "active" || cr.Balance == "0.00" {
					t.Errorf("credit %+v", cr)
				}
			}},
		contractCase{op: "get-account-credit", name: "the provider pays nobody", who: "P", method: "GET", path: "/accounts/" + id(c.P.ID) + "/credit", want: 409},
		contractCase{op: "get-account-credit", name: "a sibling's buyer", who: "L1b", method: "GET", path: cAcct + "/credit", want: 404},

		contractCase{op: "record-payment", name: "bank transfer", who: "L2", method: "POST", path: cAcct + "/payments",
			body: map[string]any{"amount": "1.00", "method": "bank transfer"}, want: 201,
			check: func(t *testing.T, r *response) {
				d := decode[Document](t, r)
				if d.Type != "payment" || d.Total != "-1.00" || d.Method != "bank transfer" || d.AccountID != c.C.ID ||
					r.Header.Get("Location") != Prefix+"/documents/"+id(d.ID) {
					t.Errorf("payment %+v", d)
				}
			}},
		contractCase{op: "record-payment", name: "amount not a number", who: "L2", method: "POST", path: cAcct + "/payments",
			body: map[string]any{"amount": "ten", "method": "bank transfer"}, want: 400, field: "body.amount"},
		contractCase{op: "record-payment", name: "no method", who: "L2", method: "POST", path: cAcct + "/payments",
			body: map[string]any{"amount": "1.00"}, want: 400, field: "body.method"},
		contractCase{op: "record-payment", name: "by the buyer", who: "C", method: "POST", path: cAcct + "/payments",
			body: map[string]any{"amount": "1.00", "method": "cash"}, want: 403},

		contractCase{op: "top-up-account", name: "cash", who: "L2", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "10.00", "method": "cash"}, want: 201,
			check: func(t *testing.T, r *response) {
				if d := decode[Document](t, r); d.Purpose != "topup" || d.Method != "cash" || d.Total != "-10.00" {
					t.Errorf("top-up %+v", d)
				}
			}},
		contractCase{op: "top-up-account", name: "card", who: "L2", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "25.00", "source": "tok_mastercard"}, header: []string{"Idempotency-Key", "contract-top-up"}, want: 201,
			check: func(t *testing.T, r *response) {
				d := decode[Document](t, r)
				if d.Purpose != "topup" || d.Total != "-25.00" || d.Method != "card mastercard 4444" || !strings.HasPrefix(d.GatewayRef, "ch_test_") {
					t.Errorf("card top-up %+v", d)
				}
			}},
		contractCase{op: "top-up-account", name: "card declined", who: "L2", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "25.00", "source": "tok_insufficient_funds"}, want: 409},
		contractCase{op: "top-up-account", name: "unknown source", who: "L2", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "25.00", "source": "tok_unknown"}, want: 400, field: "body.source"},
		contractCase{op: "top-up-account", name: "source and method", who: "L2", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "25.00", "source": "tok_visa", "method": "cash"}, want: 400, field: "body.method"},
		contractCase{op: "top-up-account", name: "by the buyer", who: "C", method: "POST", path: cAcct + "/top-ups",
			body: map[string]any{"amount": "25.00", "source": "tok_visa"}, want: 403},

		contractCase{op: "set-account-terms", name: "grace days", who: "L2", method: "PUT", path: cAcct + "/terms",
			body: map[string]any{"grace_days": 3, "on_hold": "block_orders"}, want: 200,
			check: func(t *testing.T, r *response) {
				if cr := decode[Credit](t, r); cr.Terms != (PaymentTerms{GraceDays: 3, Hold: "automatic", OnHold: "block_orders"}) {
					t.Errorf("terms %+v", cr.Terms)
				}
			}},
		contractCase{op: "set-account-terms", name: "negative grace days", who: "L2", method: "PUT", path: cAcct + "/terms",
			body: map[string]any{"grace_days": -1}, want: 400, field: "body.grace_days"},
		contractCase{op: "set-account-terms", name: "unknown hold action", who: "L2", method: "PUT", path: cAcct + "/terms",
			body: map[string]any{"on_hold": "sometimes"}, want: 400, field: "body.on_hold"},
		contractCase{op: "set-account-terms", name: "by the buyer", who: "C", method: "PUT", path: cAcct + "/terms",
			body: map[string]any{"grace_days": 30}, want: 403},

		contractCase{op: "put-account-on-credit-hold", name: "no reason", who: "L2", method: "POST", path: hotelAcct + "/credit-hold",
			body: map[string]any{}, want: 400, field: "body.reason"},
		contractCase{op: "put-account-on-credit-hold", name: "read-only staff", who: "L1a-support", method: "POST", path: hotelAcct + "/credit-hold",
			body: map[string]any{"reason": "cheque bounced"}, want: 403},
		contractCase{op: "put-account-on-credit-hold", name: "by the vendor", who: "L2", method: "POST", path: hotelAcct + "/credit-hold",
			body: map[string]any{"reason": "cheque bounced"}, want: 200,
			check: func(t *testing.T, r *response) {
				if cr := decode[Credit](t, r); cr.AccountID != hotel.ID || cr.Status != "credit_hold" || !cr.HoldManual {
					t.Errorf("on hold %+v", cr)
				}
			}},
		contractCase{op: "put-account-on-credit-hold", name: "on hold already", who: "L2", method: "POST", path: hotelAcct + "/credit-hold",
			body: map[string]any{"reason": "again"}, want: 409},
		contractCase{op: "put-account-on-credit-hold", name: "a sibling's buyer", who: "L1b", method: "POST", path: hotelAcct + "/credit-hold",
			body: map[string]any{"reason": "intruder"}, want: 404},

		contractCase{op: "release-account-credit-hold", name: "by the buyer", who: "C", method: "POST", path: cAcct + "/credit-hold/release",
			body: map[string]any{"reason": "please"}, want: 403},
		contractCase{op: "release-account-credit-hold", name: "days out of range", who: "L2", method: "POST", path: hotelAcct + "/credit-hold/release",
			body: map[string]any{"days": 400, "reason": "promised to pay"}, want: 400, field: "body.days"},
		contractCase{op: "release-account-credit-hold", name: "for 7 days", who: "L1a", method: "POST", path: hotelAcct + "/credit-hold/release",
			body: map[string]any{"days": 7, "reason": "promised to pay"}, want: 200,
			check: func(t *testing.T, r *response) {
				cr := decode[Credit](t, r)
				if cr.Status != "active" || cr.HoldManual || cr.ReleasedUntil != "2027-01-17" || cr.ReleaseReason != "promised to pay" {
					t.Errorf("released %+v", cr)
				}
			}},
		contractCase{op: "release-account-credit-hold", name: "not on hold", who: "L2", method: "POST", path: hotelAcct + "/credit-hold/release",
			body: map[string]any{"reason": "again"}, want: 409},
	)

	// Reports.
	reports := func(vendor int64) string { return "/vendors/" + id(vendor) + "/reports/" }
	add(
		contractCase{op: "get-revenue-report", name: "January", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue?from=2027-01-01&to=2027-02-01", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[RevenueRow]](t, r)
				if len(p.Items) != 1 || p.Items[0].Month != "2027-01" || p.Items[0].Currency != "USD" || p.Items[0].Revenue == "0.00" {
					t.Errorf("revenue %+v", p.Items)
				}
			}},
		contractCase{op: "get-revenue-report", name: "no dates: this month to today", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[RevenueRow]](t, r)
				if len(p.Items) != 1 || p.Items[0].Month != "2027-01" || p.Items[0].Revenue == "0.00" {
					t.Errorf("revenue %+v, want January's (today is %s)", p.Items, c.db.Clock.Now())
				}
			}},
		contractCase{op: "get-revenue-report", name: "no end: to today", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue?from=2027-01-01", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[RevenueRow]](t, r); len(p.Items) != 1 || p.Items[0].Month != "2027-01" {
					t.Errorf("revenue %+v", p.Items)
				}
			}},
		contractCase{op: "get-revenue-report", name: "no start: the end's month", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue?to=2027-03-01", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decode[Page[RevenueRow]](t, r); len(p.Items) != 0 {
					t.Errorf("revenue of February %+v, want none", p.Items)
				}
			}},
		contractCase{op: "get-revenue-report", name: "a start after today", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue?from=2099-01-01", want: 400, field: "query.to"},
		contractCase{op: "get-revenue-report", name: "of the parent", who: "C", method: "GET", path: reports(c.L2.ID) + "revenue?from=2027-01-01&to=2027-02-01", want: 404},

		contractCase{op: "get-margins-report", name: "below L1a", who: "L1a", method: "GET", path: reports(c.L1a.ID) + "margins?from=2027-01-01&to=2027-02-01", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[MarginRow]](t, r)
				if len(p.Items) != 1 || p.Items[0].ResellerID != c.L2.ID || p.Items[0].Currency != "USD" {
					t.Errorf("margins %+v", p.Items)
				}
			}},
		contractCase{op: "get-margins-report", name: "to before from", who: "L1a", method: "GET", path: reports(c.L1a.ID) + "margins?from=2027-02-01&to=2027-01-01",
			want: 400, field: "query.to"},
		contractCase{op: "get-margins-report", name: "a sibling's", who: "L1b", method: "GET", path: reports(c.L1a.ID) + "margins?from=2027-01-01&to=2027-02-01", want: 404},

		contractCase{op: "get-aging-report", name: "on the day", who: "L2", method: "GET", path: reports(c.L2.ID) + "aging?on=2027-01-10", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[AgingRow]](t, r)
				found := false
				for _, row := range p.Items {
					if row.AccountID == c.C.ID {
						found = row.Current == row.Total && row.Over90 == "0.00"
					}
				}
				if !found {
					t.Errorf("aging %+v: C's open invoices are current", p.Items)
				}
			}},
		contractCase{op: "get-aging-report", name: "today by default", who: "L2", method: "GET", path: reports(c.L2.ID) + "aging", want: 200,
			check: func(t *testing.T, r *response) {
				found := false
				for _, row := range decode[Page[AgingRow]](t, r).Items {
					found = found || row.AccountID == c.C.ID
				}
				if !found {
					t.Errorf("aging today: C's open invoices missing")
				}
			}},
		contractCase{op: "get-aging-report", name: "year zero", who: "L2", method: "GET", path: reports(c.L2.ID) + "aging?on=0000-01-01", want: 400, field: "query.on"},
		contractCase{op: "get-revenue-report", name: "year zero", who: "L2", method: "GET", path: reports(c.L2.ID) + "revenue?from=0000-01-01&to=2027-01-01", want: 400, field: "query.from"},
		contractCase{op: "get-aging-report", name: "not a day", who: "L2", method: "GET", path: reports(c.L2.ID) + "aging?on=yesterday", want: 400, field: "query.on"},
		contractCase{op: "get-aging-report", name: "of the parent", who: "C", method: "GET", path: reports(c.L2.ID) + "aging?on=2027-01-10", want: 404},
	)

	// The customer's store: its vendor's offers and shelves, and what a
	// subscription may change to.
	add(
		contractCase{op: "list-offers", name: "the customer's own", who: "C", method: "GET", path: cAcct + "/offers", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[Offer]](t, r)
				i := slices.IndexFunc(p.Items, func(o Offer) bool { return o.PlanID == l2.ID })
				if i < 0 || p.Items[i].Periods[0].Fees.Recurring != "13.20" || p.Items[i].Resources[0].Recurring != "3.30" {
					t.Errorf("offers %+v", p.Items)
				}
			}},
		contractCase{op: "list-offers", name: "of a reseller", who: "L2", method: "GET", path: "/accounts/" + id(c.L2.ID) + "/offers", want: 400},
		contractCase{op: "list-offers", name: "bad cursor", who: "C", method: "GET", path: cAcct + "/offers?cursor=zzz", want: 400, field: "query.cursor"},
		contractCase{op: "list-offers", name: "a sibling's customer", who: "L1b", method: "GET", path: cAcct + "/offers", want: 404},
		contractCase{op: "get-offer", name: "a plan on sale", who: "C", method: "GET", path: cAcct + "/offers/" + id(l2.ID), want: 200,
			check: func(t *testing.T, r *response) {
				if o := decode[Offer](t, r); o.PlanID != l2.ID || o.Periods[0].Fees.Setup != "6.60" {
					t.Errorf("offer %+v", o)
				}
			}},
		contractCase{op: "get-offer", name: "a plan of the vendor's parent", who: "C", method: "GET", path: cAcct + "/offers/" + id(c.alpha.planID), want: 404},
		contractCase{op: "list-offer-categories", name: "the customer's own", who: "C", method: "GET", path: cAcct + "/offer-categories", want: 200,
			check: func(t *testing.T, r *response) {
				p := decode[Page[OfferCategory]](t, r)
				if !slices.ContainsFunc(p.Items, func(oc OfferCategory) bool { return oc.Key == c.gamma.shelfKey }) {
					t.Errorf("categories %+v", p.Items)
				}
			}},
		contractCase{op: "list-offer-categories", name: "limit too high", who: "C", method: "GET", path: cAcct + "/offer-categories?limit=501", want: 400, field: "query.limit"},
		contractCase{op: "list-offer-categories", name: "of the parent", who: "C", method: "GET", path: "/accounts/" + id(c.L2.ID) + "/offer-categories", want: 404},
		contractCase{op: "list-subscription-offers", name: "own", who: "C", method: "GET", path: mainSub + "/offers", want: 200,
			check: func(t *testing.T, r *response) {
				if so := decode[SubscriptionOffers](t, r); so.SubscriptionID != mainOrder.SubscriptionID || so.Current == nil || so.Current.PlanID != l2.ID {
					t.Errorf("subscription offers %+v", so)
				}
			}},
		contractCase{op: "list-subscription-offers", name: "a sibling's", who: "L1b", method: "GET", path: mainSub + "/offers", want: 404},
	)
	return cases
}
