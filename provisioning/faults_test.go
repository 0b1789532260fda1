package provisioning_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/provisioning/provisioningtest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// faultAttempts is how many runs the tests give a provisioning task. The
// task kind in cmd/marketplane allows 8 with backoff; the orchestrator only
// knows whether a run is the last, so 3 show the same policy quickly.
const faultAttempts = 3

// faultOptions are the client options of the fault tests: each call is
// tried 3 times (Retries 2) with tiny backoff, a reply is waited for 150ms,
// and a 202 is polled every 20ms for at most 200ms.
func faultOptions() provisioning.Options {
	return provisioning.Options{Timeout: 150 * time.Millisecond, Retries: 2, BackoffMin: time.Millisecond,
		BackoffMax: 5 * time.Millisecond, PollMin: 10 * time.Millisecond, PollMax: 20 * time.Millisecond, MaxPoll: 200 * time.Millisecond}
}

// TestProvisionFaults carries a sales order to a connector that misbehaves,
// on both engines. The connector is the in-memory one behind a front that
// injects the fault into the tenant calls (registration itself goes through
// untouched). Each case runs the order's task up to faultAttempts times, as
// the task manager would, and checks:
//
//   - which attempts asked to run again (a passing fault, not the last
//     attempt) and that the order stayed provisioning meanwhile;
//   - how the order ended: completed, or provisioning_failed with the
//     reason and the cause in words;
//   - that every request carried the order's one request id and that the
//     connector holds at most one tenant: never two;
//   - for the faults that pass, that staff retrying the failed order once
//     the connector is well again completes it with that same tenant.
func TestProvisionFaults(t *testing.T) {
	t.Parallel()
	type want struct {
		retries int          // attempts that returned an error (run again)
		status  order.Status // after the attempts
		message string       // in the order's message ("" for completed)
		tenants int          // the connector's tenants after the attempts
	}
	cases := []struct {
		name string
		mem  func() *connectortest.Memory
		// fault is installed after registration; before runs before
		// attempt k (1-based).
		fault  fault
		before func(t *testing.T, r *rig, k int)
		want   want
		// healed: once the fault is gone, a staff retry completes the
		// order with the tenant made (or none made) so far.
		healed bool
	}{{
		name:   "down",
		before: func(t *testing.T, r *rig, k int) { r.front.setDown(t, true) },
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "connection refused", tenants: 0},
		healed: true,
	}, {
		name:   "down, back before the last attempt",
		before: func(t *testing.T, r *rig, k int) { r.front.setDown(t, k < 2) },
		want:   want{retries: 1, status: order.StatusCompleted, tenants: 1},
	}, {
		// The connector made the tenant and then failed to answer twice:
		// the third try of the same call gets the tenant.
		name:  "500 after creating, twice",
		fault: times(2, doneThen(answer(http.StatusInternalServerError, `{"error":"database restarting"}`))),
		want:  want{retries: 0, status: order.StatusCompleted, tenants: 1},
	}, {
		name:   "500 forever",
		fault:  doneThen(answer(http.StatusInternalServerError, `{"error":"database restarting"}`)),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "answered 500: database restarting", tenants: 1},
		healed: true,
	}, {
		name:   "503 before creating, forever",
		fault:  instead(answer(http.StatusServiceUnavailable, "")),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "answered 503", tenants: 0},
		healed: true,
	}, {
		name:  "times out once",
		fault: times(1, doneThen(hang)),
		want:  want{retries: 0, status: order.StatusCompleted, tenants: 1},
	}, {
		name:   "times out forever",
		fault:  doneThen(hang),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "context deadline exceeded", tenants: 1},
		healed: true,
	}, {
		name:   "malformed JSON",
		fault:  doneThen(answer(http.StatusCreated, `{"id": "t-1", "status": "ready"`)),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "bad reply (HTTP 201): malformed JSON", tenants: 1},
		healed: true,
	}, {
		name:   "HTML instead of JSON",
		fault:  doneThen(htmlPage),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: `bad reply (HTTP 200): content type "text/html`, tenants: 1},
		healed: true,
	}, {
		name: "202 that never finishes",
		mem:  func() *connectortest.Memory { return &connectortest.Memory{Steps: -1} },
		want: want{retries: 2, status: order.StatusProvisioningFailed, message: `tenant "t-1" still provisioning after`, tenants: 1},
	}, {
		// A failure the connector reports is final at once: the same
		// request id would get the same failure.
		name: "connector reports failure",
		mem: func() *connectortest.Memory {
			return &connectortest.Memory{Steps: 2, FailWith: "no capacity left in region eu"}
		},
		want: want{retries: 0, status: order.StatusProvisioningFailed, message: "no capacity left in region eu", tenants: 1},
	}, {
		name: "connector refuses the limits",
		mem: func() *connectortest.Memory {
			return &connectortest.Memory{Hook: func(op, id string) error {
				if op == "create" {
					return connector.Invalid(map[string]string{"limits.storage_mb": "at most 10 on this server"})
				}
				return nil
			}}
		},
		want: want{retries: 0, status: order.StatusProvisioningFailed, message: "at most 10 on this server", tenants: 0},
	}, {
		// A connector redeployed with a rotated secret answers 401 until
		// the platform has the new one: tried again, like an outage.
		name:   "connector refuses the signature",
		fault:  instead(answer(http.StatusUnauthorized, `{"error":"bad signature"}`)),
		want:   want{retries: 2, status: order.StatusProvisioningFailed, message: "refused (HTTP 401): bad signature", tenants: 0},
		healed: true,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				mem := &connectortest.Memory{}
				if c.mem != nil {
					mem = c.mem()
				}
				r := newRig(t, db, mem)
				if c.fault != nil {
					r.front.set(c.fault)
				}
				o := r.buy(t, nil)
				var retries []error
				for k := 1; k <= faultAttempts; k++ {
					if c.before != nil {
						c.before(t, r, k)
					}
					next := time.Date(2030, 1, 1, 0, k, 0, 0, time.UTC)
					err := r.orch.ProvisionAttempt(context.Background(), o.ID, provisioning.Attempt{Last: k == faultAttempts,
						RetryAt: func() time.Time { return next }})
					if err == nil {
						break
					}
					retries = append(retries, err)
					// Asking for another run leaves the order provisioning,
					// showing the cause and when it is tried again.
					got := r.order(t, o.ID)
					if got.Status != order.StatusProvisioning || got.Message != "" {
						t.Fatalf("attempt %d asked to run again but left the order %s %q", k, got.Status, got.Message)
					}
					if p := got.Provisioning; p.Attempts != k || !strings.Contains(p.LastError, c.want.message) ||
						!p.NextAt.Equal(next) || p.LastAt.IsZero() {
						t.Fatalf("attempt %d asked to run again; the order shows %+v, want attempt %d, %q, next %s",
							k, p, k, c.want.message, next)
					}
				}
				if len(retries) != c.want.retries {
					t.Fatalf("%d attempts asked to run again, want %d: %v", len(retries), c.want.retries, retries)
				}
				got := r.order(t, o.ID)
				switch c.want.status {
				case order.StatusCompleted:
					if got.Status != order.StatusCompleted || got.Reason != "" {
						t.Fatalf("order %s %s %q, want completed", got.Status, got.Reason, got.Message)
					}
					r.wantActive(t, o.SubscriptionID)
				default:
					if got.Status != c.want.status || got.Reason != order.ProvisioningFailed || !strings.Contains(got.Message, c.want.message) {
						t.Fatalf("order %s %s %q, want %s %s with %q", got.Status, got.Reason, got.Message,
							c.want.status, order.ProvisioningFailed, c.want.message)
					}
					// A failed sale leaves its subscription pending, for
					// staff to retry or cancel the order.
					if s := r.sub(t, o.SubscriptionID); s.Status != subscription.Pending || s.TenantID != "" {
						t.Fatalf("subscription of a failed sale: %s tenant %q", s.Status, s.TenantID)
					}
				}
				r.wantTenants(t, o, c.want.tenants)
				if !c.healed {
					return
				}
				// The connector is well again: staff retry the order, and
				// it completes with the connector's one tenant.
				r.front.set(nil)
				r.front.setDown(t, false)
				if _, err := db.RetryOrder(context.Background(), r.shop.Admin, o.ID, nil); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if err := r.orch.Provision(context.Background(), o.ID, false); err != nil {
					t.Fatalf("provision after the retry: %v", err)
				}
				if got := r.order(t, o.ID); got.Status != order.StatusCompleted {
					t.Fatalf("order after the retry: %s %q", got.Status, got.Message)
				}
				r.wantActive(t, o.SubscriptionID)
				r.wantTenants(t, o, 1)
			})
		})
	}
}

// TestChangeFaultLeavesSubscription: a change the connector never makes
// (it is down through every attempt) fails with the reason and leaves the
// subscription as it was; after staff retry it, the change applies.
func TestChangeFaultLeavesSubscription(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, &connectortest.Memory{})
		o := r.buy(t, nil)
		if err := r.orch.Provision(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		sub := r.wantActive(t, o.SubscriptionID)
		ch, err := db.ChangeOrder(ctx, r.buyer, sub.ID, store.ChangeRequest{Resources: map[string]int64{"memory.storage_mb": 50}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.front.setDown(t, true)
		for k := 1; k <= faultAttempts; k++ {
			err := r.orch.Provision(ctx, ch.ID, k == faultAttempts)
			if (err != nil) != (k < faultAttempts) || k < faultAttempts && marketplane.ErrorCode(err) != marketplane.EUNAVAILABLE {
				t.Fatalf("attempt %d: %v", k, err)
			}
		}
		if got := r.order(t, ch.ID); got.Status != order.StatusProvisioningFailed || !strings.Contains(got.Message, "connection refused") {
			t.Fatalf("change order %s %q", got.Status, got.Message)
		}
		if s := r.wantActive(t, sub.ID); s.Resources["memory.storage_mb"] != 20 {
			t.Fatalf("the failed change changed the subscription: %v", s.Resources)
		}
		if tn := r.mem.Tenants()[sub.TenantID]; tn.Limits["storage_mb"] != 20 {
			t.Fatalf("the tenant's limits after a change that never arrived: %v", tn.Limits)
		}
		r.front.setDown(t, false)
		if _, err := db.RetryOrder(ctx, r.shop.Admin, ch.ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := r.orch.Provision(ctx, ch.ID, false); err != nil {
			t.Fatal(err)
		}
		if s := r.wantActive(t, sub.ID); s.Resources["memory.storage_mb"] != 50 {
			t.Fatalf("after the retried change: %v", s.Resources)
		}
		if tn := r.mem.Tenants()[sub.TenantID]; tn.Limits["storage_mb"] != 50 || len(r.mem.Tenants()) != 1 {
			t.Fatalf("the tenants after the retried change: %v", r.mem.Tenants())
		}
	})
}

// TestProvisionInterrupted: a task cut short while it polls (the process
// shuts down, or the task's timeout passes) asks to run again and leaves
// the order provisioning, even though the task manager cancels with a
// cause of its own rather than context.Canceled. On its last attempt it
// fails the order with what happened, rather than leave an order no task
// will ever finish.
func TestProvisionInterrupted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		polled := make(chan struct{}, 1000)
		r := newRig(t, db, &connectortest.Memory{Steps: -1, Hook: func(op, id string) error {
			if op == "get" {
				select {
				case polled <- struct{}{}:
				default:
				}
			}
			return nil
		}})
		opt := faultOptions()
		opt.MaxPoll = time.Minute
		r.orch.Options = opt
		o := r.buy(t, nil)
		stop := errors.New("stop initiated")
		for _, last := range []bool{false, true} {
			for len(polled) > 0 {
				<-polled
			}
			// Cut the task short while it polls the new tenant.
			ctx, cancel := context.WithCancelCause(context.Background())
			go func() {
				<-polled
				cancel(stop)
			}()
			err := r.orch.Provision(ctx, o.ID, last)
			cancel(nil)
			got := r.order(t, o.ID)
			switch {
			case !last && (err == nil || got.Status != order.StatusProvisioning):
				t.Fatalf("interrupted: %v; order %s %q", err, got.Status, got.Message)
			case last && (err != nil || got.Status != order.StatusProvisioningFailed || !strings.Contains(got.Message, "stop initiated")):
				t.Fatalf("interrupted on the last attempt: %v; order %s %q", err, got.Status, got.Message)
			}
		}
		r.wantTenants(t, o, 1)
	})
}

// TestDeferredDowngradeWaits: a seller whose downgrades wait for the next
// billing date sells a change that takes effect then. Provisioning it now
// completes the order and leaves the change pending on the subscription,
// and leaves the service as the customer paid for it until that date: the
// connector is not asked to lower anything.
func TestDeferredDowngradeWaits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, &connectortest.Memory{})
		provider, err := db.Account(ctx, account.SystemActor(), r.shop.Provider.ID)
		if err != nil {
			t.Fatal(err)
		}
		provider.Selling.Downgrades = string(order.DowngradeNextBillingDate)
		if err := db.UpdateAccount(ctx, account.SystemActor(), provider); err != nil {
			t.Fatal(err)
		}
		o := r.buy(t, nil)
		if err := r.orch.Provision(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		sub := r.wantActive(t, o.SubscriptionID)
		down, err := db.ChangeOrder(ctx, r.buyer, sub.ID, store.ChangeRequest{Resources: map[string]int64{"memory.storage_mb": 10}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !down.Details.Deferred || !down.Details.EffectiveOn.Equal(sub.PeriodEnd) || len(down.Quote.Lines) != 0 {
			t.Fatalf("downgrade order: deferred %v to %s, %d lines", down.Details.Deferred, down.Details.EffectiveOn, len(down.Quote.Lines))
		}
		if err := r.orch.Provision(ctx, down.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := r.order(t, down.ID); got.Status != order.StatusCompleted {
			t.Fatalf("deferred downgrade %s %q", got.Status, got.Message)
		}
		s := r.wantActive(t, sub.ID)
		if s.Resources["memory.storage_mb"] != 20 || s.Pending == nil || s.Pending.Resources["memory.storage_mb"] != 10 {
			t.Fatalf("subscription after a deferred downgrade: %v, pending %+v", s.Resources, s.Pending)
		}
		if tn := r.mem.Tenants()[s.TenantID]; tn.Limits["storage_mb"] != 20 || r.mem.Calls("update") != 0 {
			t.Fatalf("the connector lowered the limits before the change is due: %v (%d updates)", tn.Limits, r.mem.Calls("update"))
		}
	})
}

// TestCancelFaults carries cancellations to a connector that misbehaves on
// DELETE, on both engines. The service keeps running, and the subscription
// with it, until the connector says the tenant is gone; a connector that
// no longer knows the tenant says just that (the protocol lets a connector
// forget deleted tenants).
func TestCancelFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		steps   int // polls a deletion takes
		fault   fault
		retries int
		failed  string // the order's message when it fails; "" when it completes
	}{
		{name: "deleted at once"},
		{name: "deleted after polls", steps: 3},
		{name: "404: the connector forgot the tenant",
			fault: doneThen(answer(http.StatusNotFound, `{"error":"tenant not found"}`))},
		{name: "500 after deleting, once",
			fault: times(1, doneThen(answer(http.StatusInternalServerError, `{"error":"oops"}`)))},
		{name: "500 forever", retries: 2, failed: "answered 500: oops",
			fault: instead(answer(http.StatusInternalServerError, `{"error":"oops"}`))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				r := newRig(t, db, &connectortest.Memory{Steps: c.steps})
				o := r.buy(t, nil)
				if err := r.orch.Provision(ctx, o.ID, false); err != nil {
					t.Fatal(err)
				}
				sub := r.wantActive(t, o.SubscriptionID)
				cl, err := db.CancelOrder(ctx, r.buyer, sub.ID, time.Time{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.fault != nil {
					r.front.set(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
						if req.Method != http.MethodDelete {
							next.ServeHTTP(w, req)
							return
						}
						c.fault(w, req, next)
					})
				}
				var retries []error
				for k := 1; k <= faultAttempts; k++ {
					err := r.orch.Provision(ctx, cl.ID, k == faultAttempts)
					if err == nil {
						break
					}
					retries = append(retries, err)
				}
				if len(retries) != c.retries {
					t.Fatalf("%d attempts asked to run again, want %d: %v", len(retries), c.retries, retries)
				}
				got := r.order(t, cl.ID)
				if c.failed != "" {
					if got.Status != order.StatusProvisioningFailed || !strings.Contains(got.Message, c.failed) {
						t.Fatalf("cancellation %s %q, want failed with %q", got.Status, got.Message, c.failed)
					}
					// The service still runs: so does the subscription.
					r.wantActive(t, sub.ID)
					return
				}
				if got.Status != order.StatusCompleted {
					t.Fatalf("cancellation %s %s %q, want completed", got.Status, got.Reason, got.Message)
				}
				if s := r.sub(t, sub.ID); s.Status != subscription.Terminated || s.TenantStatus != connector.StatusDeleted {
					t.Fatalf("subscription after the cancellation: %s, tenant %s", s.Status, s.TenantStatus)
				}
				if tn := r.mem.Tenants(); len(tn) != 1 || tn[sub.TenantID].Status != connector.StatusDeleted {
					t.Fatalf("the connector's tenants after the cancellation: %v", tn)
				}
			})
		})
	}
}

// TestBadOrders: orders the platform refuses before anything happens, on
// both engines. Each is refused with EINVALID and a reason per field (the
// API answers 400 with them), by Quote and PlaceOrder alike, and nothing is
// stored: no order, no subscription, no order number taken, no tier, no
// audit entry, no task queued.
func TestBadOrders(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, &connectortest.Memory{})
		draft := r.shop.Register(t, provisioningtest.Serve(t, &connectortest.Memory{Spec: otherManifest()}, rigSecret), rigSecret, faultOptions())
		otherVendor := r.shop.Account(t, account.Reseller, r.shop.Provider.ID, "Another reseller")
		foreign := &catalog.Plan{OwnerID: otherVendor.ID, Key: "foreign", Template: "memory", Currency: "USD", Published: true,
			Name: catalog.Text{"en": "Foreign"}, Billing: catalog.ChargeInAdvance,
			Periods: []catalog.Period{provisioningtest.Monthly(0, usd("1.00"))}}
		if err := db.CreatePlan(ctx, r.shop.Admin, foreign); err != nil {
			t.Fatalf("plan of another vendor: %v", err)
		}
		good := func() store.OrderRequest {
			return store.OrderRequest{CustomerID: r.customer.ID, PlanID: r.plan.ID, Period: "1m",
				Resources: map[string]int64{"memory.storage_mb": 20}, Parameters: map[string]string{"db_name": "shop"}}
		}
		before := r.rows(t)
		cases := []struct {
			name string
			edit func(q *store.OrderRequest)
			want map[string]string // field → reason
		}{
			{"unknown plan", func(q *store.OrderRequest) { q.PlanID = 987654 }, map[string]string{"plan_id": store.ReasonNotOnSale}},
			{"draft plan", func(q *store.OrderRequest) { q.PlanID = draft.Created.PlanID }, map[string]string{"plan_id": store.ReasonNotOnSale}},
			{"another vendor's plan", func(q *store.OrderRequest) { q.PlanID = foreign.ID }, map[string]string{"plan_id": store.ReasonNotOnSale}},
			{"unknown period", func(q *store.OrderRequest) { q.Period = "7y" }, map[string]string{"period": order.ReasonUnknownPeriod}},
			{"no period", func(q *store.OrderRequest) { q.Period = "" }, map[string]string{"period": order.ReasonUnknownPeriod}},
			{"below the minimum", func(q *store.OrderRequest) { q.Resources["memory.storage_mb"] = 4 },
				map[string]string{"resources.memory.storage_mb": order.ReasonBelowMinimum}},
			{"negative", func(q *store.OrderRequest) { q.Resources["memory.connections"] = -5 },
				map[string]string{"resources.memory.connections": order.ReasonBelowMinimum}},
			{"above the maximum", func(q *store.OrderRequest) { q.Resources["memory.storage_mb"] = 101 },
				map[string]string{"resources.memory.storage_mb": order.ReasonAboveMaximum}},
			{"unlimited where the plan has a maximum", func(q *store.OrderRequest) { q.Resources["memory.connections"] = -1 },
				map[string]string{"resources.memory.connections": order.ReasonAboveMaximum}},
			{"unknown resource", func(q *store.OrderRequest) { q.Resources["memory.gpus"] = 1 },
				map[string]string{"resources.memory.gpus": order.ReasonUnknownResource}},
			{"missing required parameter", func(q *store.OrderRequest) { delete(q.Parameters, "db_name") },
				map[string]string{"parameters.db_name": order.ReasonRequired}},
			{"parameter against its pattern", func(q *store.OrderRequest) { q.Parameters["db_name"] = "Shop DB!" },
				map[string]string{"parameters.db_name": store.ReasonInvalidValue}},
			{"parameter outside its choices", func(q *store.OrderRequest) { q.Parameters["region"] = "mars" },
				map[string]string{"parameters.region": store.ReasonInvalidValue}},
			{"unknown parameter", func(q *store.OrderRequest) { q.Parameters["colour"] = "blue" },
				map[string]string{"parameters.colour": store.ReasonUnknownParameter}},
			{"several at once", func(q *store.OrderRequest) {
				q.Resources["memory.storage_mb"] = 1000
				q.Resources["memory.connections"] = 0
				q.Parameters = nil
			}, map[string]string{"resources.memory.storage_mb": order.ReasonAboveMaximum,
				"resources.memory.connections": order.ReasonBelowMinimum, "parameters.db_name": order.ReasonRequired}},
		}
		for _, c := range cases {
			req := good()
			c.edit(&req)
			_, qerr := db.Quote(ctx, r.buyer, req)
			wantFieldReasons(t, c.name+": quote", qerr, c.want)
			queued := false
			_, err := db.PlaceOrder(ctx, r.buyer, req, func(*sql.Tx, *store.Order) error {
				queued = true
				return nil
			})
			wantFieldReasons(t, c.name, err, c.want)
			if queued {
				t.Errorf("%s: a task was queued", c.name)
			}
			if after := r.rows(t); after != before {
				t.Errorf("%s: stored something: %s, before %s", c.name, after, before)
			}
		}

		// Changes are checked the same way against the subscription's plan.
		o := r.buy(t, nil)
		if err := r.orch.Provision(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		before = r.rows(t)
		for _, c := range []struct {
			name string
			req  store.ChangeRequest
			want map[string]string
		}{
			{"change above the maximum", store.ChangeRequest{Resources: map[string]int64{"memory.storage_mb": 500}},
				map[string]string{"resources.memory.storage_mb": order.ReasonAboveMaximum}},
			{"change of an unknown resource", store.ChangeRequest{Resources: map[string]int64{"memory.gpus": 2}},
				map[string]string{"resources.memory.gpus": order.ReasonUnknownResource}},
			{"change that changes nothing", store.ChangeRequest{Resources: map[string]int64{"memory.storage_mb": 20}},
				map[string]string{"resources": order.ReasonNoChange}},
			{"change to a plan off the paths", store.ChangeRequest{PlanID: 987654}, map[string]string{"plan_id": store.ReasonNotOnSale}},
		} {
			_, err := db.ChangeOrder(ctx, r.buyer, o.SubscriptionID, c.req, func(*sql.Tx, *store.Order) error {
				t.Errorf("%s: a task was queued", c.name)
				return nil
			})
			wantFieldReasons(t, c.name, err, c.want)
			if after := r.rows(t); after != before {
				t.Errorf("%s: stored something: %s, before %s", c.name, after, before)
			}
		}
		r.wantActive(t, o.SubscriptionID)
	})
}

// wantFieldReasons checks that err is EINVALID with exactly the fields of
// want, each with its reason.
func wantFieldReasons(t *testing.T, about string, err error, want map[string]string) {
	t.Helper()
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		t.Errorf("%s: %v, want EINVALID", about, err)
		return
	}
	var got, wanted []string
	for f := range e.Fields {
		reason, _ := order.FieldReason(err, f)
		got = append(got, f+" "+reason)
	}
	for f, reason := range want {
		wanted = append(wanted, f+" "+reason)
	}
	slices.Sort(got)
	slices.Sort(wanted)
	if !slices.Equal(got, wanted) {
		t.Errorf("%s: fields %v (%v), want %v", about, got, e.Fields, wanted)
	}
}

// otherManifest is a second in-memory connector, whose draft plan stays
// unpublished.
func otherManifest() *connector.Manifest {
	m := connectortest.Manifest()
	m.Name = "memory2"
	return &m
}

const rigSecret = "fault-rig-secret"

// rig is a marketplace where a customer buys the in-memory connector's
// plan straight from the provider. The connector stands behind a front
// that can inject faults into its tenant calls or go down.
type rig struct {
	db       *store.DB
	shop     *provisioningtest.Shop
	mem      *connectortest.Memory
	front    *front
	orch     *provisioning.Orchestrator
	plan     *catalog.Plan
	customer *account.Account
	buyer    *account.Actor
}

// newRig registers mem behind a front and prices its draft plan: 10.00 a
// month, storage 10 MB included, 5 to 100 at 0.10, connections 5
// included, 1 to 20 at 1.00.
func newRig(t *testing.T, db *store.DB, mem *connectortest.Memory) *rig {
	t.Helper()
	r := &rig{db: db, mem: mem, shop: provisioningtest.NewShop(t, db)}
	r.front = newFront(t, provisioningtest.Handler(mem, rigSecret))
	reg := r.shop.Register(t, r.front.url, rigSecret, faultOptions())
	r.plan = r.shop.Publish(t, reg.Created.PlanID, func(p *catalog.Plan) {
		p.Periods = []catalog.Period{provisioningtest.Monthly(0, usd("10.00"))}
		for i := range p.Rates {
			rt := &p.Rates[i]
			switch rt.Key {
			case "memory.storage_mb":
				rt.Included, rt.Min, rt.Max, rt.Recurring.Amount = 10, 5, 100, usd("0.10")
			case "memory.connections":
				rt.Included, rt.Min, rt.Max, rt.Recurring.Amount = 5, 1, 20, usd("1.00")
			}
		}
	})
	r.customer = r.shop.Account(t, account.Customer, r.shop.Provider.ID, "Customer")
	r.buyer = r.shop.User(t, r.customer, "customer-admin")
	r.orch = &provisioning.Orchestrator{DB: db, Options: faultOptions()}
	return r
}

// buy places the customer's order of 20 MB (edited by edit) and checks
// that it waits for provisioning.
func (r *rig) buy(t *testing.T, edit func(q *store.OrderRequest)) *store.Order {
	t.Helper()
	req := store.OrderRequest{CustomerID: r.customer.ID, PlanID: r.plan.ID, Period: "1m",
		Resources: map[string]int64{"memory.storage_mb": 20}, Parameters: map[string]string{"db_name": "shop"}}
	if edit != nil {
		edit(&req)
	}
	o, err := r.db.PlaceOrder(context.Background(), r.buyer, req, nil)
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	if o.Status != order.StatusProvisioning {
		t.Fatalf("new order is %s", o.Status)
	}
	return o
}

func (r *rig) order(t *testing.T, id int64) *store.Order {
	t.Helper()
	o, err := r.db.Order(context.Background(), account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (r *rig) sub(t *testing.T, id int64) *subscription.Subscription {
	t.Helper()
	s, err := r.db.Subscription(context.Background(), account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantActive checks that subscription id is active on the connector's one
// tenant.
func (r *rig) wantActive(t *testing.T, id int64) *subscription.Subscription {
	t.Helper()
	s := r.sub(t, id)
	tenants := r.mem.Tenants()
	if s.Status != subscription.Active || s.TenantStatus != connector.StatusReady || len(tenants) != 1 {
		t.Fatalf("subscription %s, tenant %q (%s); the connector has %d tenants", s.Status, s.TenantID, s.TenantStatus, len(tenants))
	}
	if _, ok := tenants[s.TenantID]; !ok {
		t.Fatalf("subscription on tenant %q, which the connector does not have: %v", s.TenantID, tenants)
	}
	return s
}

// wantTenants checks that the connector holds n tenants and that every
// create call that reached it carried the order's request id.
func (r *rig) wantTenants(t *testing.T, o *store.Order, n int) {
	t.Helper()
	if got := len(r.mem.Tenants()); got != n {
		t.Fatalf("the connector has %d tenants, want %d", got, n)
	}
	want := fmt.Sprintf("order-%d", o.ID)
	for _, id := range r.front.createIDs() {
		if id != want {
			t.Fatalf("a create carried request id %q, want %q for every try", id, want)
		}
	}
}

// rows counts what placing an order writes.
func (r *rig) rows(t *testing.T) string {
	t.Helper()
	var out []string
	for _, table := range []string{"orders", "order_tiers", "subscriptions", "order_counters", "audit_log"} {
		var n int
		q := "SELECT COUNT(*) FROM " + table
		if table == "audit_log" {
			q += " WHERE action LIKE 'order.%'"
		}
		if err := r.db.Read.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

// fault answers a tenant call in place of, or around, the connector next.
type fault func(w http.ResponseWriter, r *http.Request, next http.Handler)

// answer writes status with body as JSON.
func answer(status int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// instead answers with h; the connector never sees the call.
func instead(h func(w http.ResponseWriter, r *http.Request)) fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) { h(w, r) }
}

// doneThen lets the connector do the work, throws its answer away and
// answers with then: a connector that fails after the fact.
func doneThen(then func(w http.ResponseWriter, r *http.Request)) fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(httptest.NewRecorder(), r)
		then(w, r)
	}
}

// hang never answers; it lets go when the caller hangs up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// htmlPage is what a proxy in front of a broken connector answers.
func htmlPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
}

// times applies f to the first n tenant calls, then lets calls through.
func times(n int, f fault) fault {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if seen.Add(1) <= int64(n) {
			f(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	}
}

// front stands at the connector's registered address before the connector
// itself. Registration calls (GET /manifest, POST /ping) pass untouched; a
// fault, when set, takes the tenant calls. It can go down (its port
// closed) and come back on the same address.
type front struct {
	next  http.Handler
	url   string
	addr  string
	fault atomic.Pointer[fault]

	mu      sync.Mutex
	srv     *httptest.Server // nil while down
	creates []string         // request ids of the POST /tenants received
}

func newFront(t *testing.T, next http.Handler) *front {
	t.Helper()
	f := &front{next: next}
	f.listen(t)
	f.url = "http://" + f.addr
	t.Cleanup(func() { f.setDown(t, true) })
	return f
}

func (f *front) listen(t *testing.T) {
	t.Helper()
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("front: listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	f.srv, f.addr = srv, l.Addr().String()
}

// setDown closes the front's port, or opens it again on the same address.
func (f *front) setDown(t *testing.T, down bool) {
	f.mu.Lock()
	srv := f.srv
	switch {
	case down && srv != nil:
		f.srv = nil
	case !down && srv == nil:
		f.listen(t)
		srv = nil
	default:
		srv = nil
	}
	f.mu.Unlock()
	if srv != nil {
		// Outside the lock: Close waits for the requests in flight.
		srv.Close()
	}
}

// set installs fault for the tenant calls; nil lets them through.
func (f *front) set(ft fault) {
	if ft == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&ft)
}

func (f *front) createIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.creates)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/manifest" || r.URL.Path == "/ping" {
		f.next.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/tenants" {
		f.mu.Lock()
		f.creates = append(f.creates, r.Header.Get(connector.HeaderRequestID))
		f.mu.Unlock()
	}
	if ft := f.fault.Load(); ft != nil {
		(*ft)(w, r, f.next)
		return
	}
	f.next.ServeHTTP(w, r)
}

// TestProvisionDeadline: an order whose connector keeps failing shows on
// itself, from the first failed attempt, the cause in words and when the
// next attempt runs; once the failures have gone on for the orchestrator's
// Deadline (the store's clock is aged, not waited for), the next failure
// fails it with the reason and the cause, however many attempts the task
// has left. On both engines, for every kind of fault; and a connector that
// answers 401 for a while (redeployed with a rotated secret) and then
// works completes the order.
func TestProvisionDeadline(t *testing.T) {
	t.Parallel()
	const deadline = 6 * time.Hour
	cases := []struct {
		name    string
		fault   fault
		message string
	}{
		{"500", instead(answer(http.StatusInternalServerError, `{"error":"database restarting"}`)), "answered 500: database restarting"},
		{"garbage JSON", doneThen(answer(http.StatusCreated, `{"id": "t-1", "st`)), "malformed JSON"},
		{"wrong shape", doneThen(answer(http.StatusCreated, `{"tenant": {"id": "t-1"}}`)), "bad reply (HTTP 201)"},
		{"hangs past the timeout", doneThen(hang), "context deadline exceeded"},
		{"401", instead(answer(http.StatusUnauthorized, `{"error":"bad signature"}`)), "refused (HTTP 401): bad signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				clock := marketplane.NewTestClock(time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
				db.Clock = clock
				r := newRig(t, db, &connectortest.Memory{})
				r.orch.Deadline = deadline
				r.front.set(c.fault)
				o := r.buy(t, nil)
				attempt := func(next time.Time) error {
					return r.orch.ProvisionAttempt(context.Background(), o.ID, provisioning.Attempt{
						RetryAt: func() time.Time { return next }})
				}

				first := clock.Now()
				next := first.Add(10 * time.Second)
				if err := attempt(next); err == nil {
					t.Fatal("the first attempt did not ask to run again")
				}
				got := r.order(t, o.ID)
				p := got.Provisioning
				if got.Status != order.StatusProvisioning || p.Attempts != 1 || !strings.Contains(p.LastError, c.message) ||
					!p.LastAt.Equal(first) || !p.Since.Equal(first) || !p.NextAt.Equal(next) {
					t.Fatalf("after the first failure: %s, progress %+v; want provisioning with %q, next %s",
						got.Status, p, c.message, next)
				}

				// Just before the deadline: still tried again.
				clock.Advance(deadline - time.Minute)
				if err := attempt(clock.Now().Add(time.Hour)); err == nil {
					t.Fatal("an attempt before the deadline did not ask to run again")
				}
				if got := r.order(t, o.ID); got.Status != order.StatusProvisioning || got.Provisioning.Attempts != 2 {
					t.Fatalf("before the deadline: %s, progress %+v", got.Status, got.Provisioning)
				}
				// Past it: failed for good, with the reason and the cause.
				clock.Advance(2 * time.Minute)
				if err := attempt(clock.Now().Add(time.Hour)); err != nil {
					t.Fatalf("the attempt past the deadline asked to run again: %v", err)
				}
				got = r.order(t, o.ID)
				if got.Status != order.StatusProvisioningFailed || got.Reason != order.ProvisioningFailed ||
					!strings.Contains(got.Message, c.message) || !strings.Contains(got.Message, "6h0m0s") ||
					got.Provisioning.Attempts != 3 || !got.Provisioning.NextAt.IsZero() {
					t.Fatalf("past the deadline: %s %s %q, progress %+v", got.Status, got.Reason, got.Message, got.Provisioning)
				}

				// Staff retry it once the connector is well: a new series.
				r.front.set(nil)
				retried, err := db.RetryOrder(context.Background(), r.shop.Admin, o.ID, nil)
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if retried.Provisioning != (store.ProvisioningProgress{}) {
					t.Fatalf("a retried order keeps its old progress %+v", retried.Provisioning)
				}
				if err := attempt(time.Time{}); err != nil {
					t.Fatalf("provision after the retry: %v", err)
				}
				if got := r.order(t, o.ID); got.Status != order.StatusCompleted {
					t.Fatalf("order after the retry: %s %q", got.Status, got.Message)
				}
				r.wantActive(t, o.SubscriptionID)
			})
		})
	}

	t.Run("401 then success", func(t *testing.T) {
		t.Parallel()
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			r := newRig(t, db, &connectortest.Memory{})
			r.front.set(times(1, instead(answer(http.StatusUnauthorized, `{"error":"bad signature"}`))))
			o := r.buy(t, nil)
			if err := r.orch.ProvisionAttempt(context.Background(), o.ID, provisioning.Attempt{}); err == nil {
				t.Fatal("an attempt answered 401 did not ask to run again")
			}
			if got := r.order(t, o.ID); got.Status != order.StatusProvisioning || !strings.Contains(got.Provisioning.LastError, "401") {
				t.Fatalf("after a 401: %s %q, progress %+v", got.Status, got.Message, got.Provisioning)
			}
			if err := r.orch.ProvisionAttempt(context.Background(), o.ID, provisioning.Attempt{}); err != nil {
				t.Fatalf("the attempt after the secret rotated: %v", err)
			}
			if got := r.order(t, o.ID); got.Status != order.StatusCompleted {
				t.Fatalf("order %s %q, want completed", got.Status, got.Message)
			}
			r.wantActive(t, o.SubscriptionID)
			r.wantTenants(t, o, 1)
		})
	})
}
