package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/problem"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// Orchestrator carries orders to the connectors: it makes, changes and
// removes the service of a subscription, and collects usage. Its methods
// are the bodies of the provisioning tasks; they are idempotent, so a task
// run again after a crash or a retry does no harm (the connector sees the
// same request id and answers with the same tenant).
type Orchestrator struct {
	DB     *store.DB
	Logger *slog.Logger
	// Options are the client options for every connector (timeouts,
	// retries, polling).
	Options Options
	// UsageConcurrency bounds the usage calls in flight per connector.
	UsageConcurrency int
	// Deadline bounds how long an order's provisioning is retried after
	// its first failure: an order whose connector still fails then is
	// failed with the last cause, for staff to retry or cancel. Default
	// DefaultDeadline.
	Deadline time.Duration
	// Outcome, when set, hears how each provisioning attempt of an order
	// at a connector ended: "completed", "retried" or "failed" (the
	// operators' figures, /metrics).
	Outcome func(connector, outcome string)

	mu      sync.Mutex
	clients map[string]*Client
}

// client returns the client of connector name, built once from the registry.
func (o *Orchestrator) client(ctx context.Context, name string) (*Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.clients[name]; ok {
		return c, nil
	}
	reg, err := o.DB.Connector(ctx, account.SystemActor(), name)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	secret, err := o.DB.ConnectorSecret(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	opt := o.Options
	if opt.MaxPoll <= 0 {
		opt.MaxPoll = AttemptPoll
	}
	c, err := New(reg.URL, secret, opt)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	if o.clients == nil {
		o.clients = map[string]*Client{}
	}
	o.clients[name] = c
	return c, nil
}

// Forget drops the cached client of connector name (after its URL or
// secret changed).
func (o *Orchestrator) Forget(name string) {
	o.mu.Lock()
	delete(o.clients, name)
	o.mu.Unlock()
}

func (o *Orchestrator) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// AttemptTimeout bounds one run of a provisioning task, and AttemptPoll
// how long a run polls a connector's 202 before it gives the rest to the
// next run (a PollTimeoutError is passing: the next run sends the same
// request id and polls on). They are short on purpose: the task manager
// rescues a run whose process died only after its timeout, so a short
// run brings an order that a crash interrupted back within minutes of the
// restart rather than after a long poll's worth of waiting. A run is one
// call with its repeats (4 attempts of 10 s with backoff at most) and the
// poll, well inside the timeout.
const (
	AttemptTimeout = 3 * time.Minute
	AttemptPoll    = 90 * time.Second
)

// DefaultDeadline is how long provisioning is retried by default: a day
// rides out a connector's outage or redeployment, and a customer waits no
// longer for an answer.
const DefaultDeadline = 24 * time.Hour

// Attempt is one run of an order's provisioning.
type Attempt struct {
	// Last says that no run follows: a failure now is final.
	Last bool
	// RetryAt returns when the next run starts should this one fail
	// (task.Task.RetryAt); nil when the caller cannot tell.
	RetryAt func() time.Time

	connector string // the connector of the order's subscription, for Outcome
}

// Provision carries out order id at its connector. lastAttempt says whether
// the task will not run again (see ProvisionAttempt).
func (o *Orchestrator) Provision(ctx context.Context, id int64, lastAttempt bool) error {
	return o.ProvisionAttempt(ctx, id, Attempt{Last: lastAttempt})
}

// ProvisionAttempt carries out order id at its connector. A passing failure
// (connector down or hanging, answering 5xx, 401 or 403, malformed replies,
// a 202 that never finished) is recorded on the order with its cause and
// the next attempt's time, and returned for another try; on the last
// attempt, or once the failures have gone on for the Deadline, it fails the
// order with its reason instead. It returns an error only when the task
// should run again.
func (o *Orchestrator) ProvisionAttempt(ctx context.Context, id int64, a Attempt) error {
	lastAttempt := a.Last
	sys := account.SystemActor()
	ord, err := o.DB.Order(ctx, sys, id)
	if err != nil {
		return err
	}
	if ord.Status != order.StatusProvisioning {
		return nil // done, failed or cancelled meanwhile: nothing to do
	}
	sub, err := o.DB.Subscription(ctx, sys, ord.SubscriptionID)
	if err != nil {
		return err
	}
	if sub.Connector == "" {
		// A service without a connector has nothing to make.
		_, err := o.DB.CompleteOrder(ctx, id, store.TenantInfo{Status: connector.StatusReady})
		return err
	}
	if ord.Type == order.CH && ord.Details.Deferred {
		// A change that waits for a later day (a downgrade at the next
		// billing date) changes nothing at the connector now: the customer
		// keeps the service it paid for until then. Completing the order
		// leaves the change pending on the subscription; the connector
		// gets it when it takes effect.
		_, err := o.DB.CompleteOrder(ctx, id, store.TenantInfo{})
		return err
	}
	a.connector = sub.Connector
	c, err := o.client(ctx, sub.Connector)
	if err != nil {
		return o.fail(ctx, a, ord, order.ManualActionRequired, err, lastAttempt)
	}
	requestID := fmt.Sprintf("order-%d", ord.ID)
	limits, err := o.limits(ctx, ord)
	if err != nil {
		return o.fail(ctx, a, ord, order.ManualActionRequired, err, lastAttempt)
	}
	var t connector.Tenant
	var pending bool
	switch ord.Type {
	case order.SO:
		t, pending, err = c.Create(ctx, connector.CreateRequest{RequestID: requestID, SubscriptionID: sub.ID,
			AccountID: sub.CustomerID, Limits: limits, Parameters: sub.Parameters})
		if err == nil && pending {
			t, err = c.WaitReady(ctx, t.ID)
		}
	case order.CH:
		if ord.Details.Restore {
			// A restore brings back the service of a terminated
			// subscription as it was: resumed, its limits unchanged. A
			// connector that no longer knows the tenant answers 404, which
			// fails the order for good (the service is gone).
			t, pending, err = c.Resume(ctx, sub.TenantID, requestID)
		} else {
			t, pending, err = c.Update(ctx, sub.TenantID, connector.UpdateRequest{RequestID: requestID, Limits: limits})
		}
		if err == nil && pending {
			t, err = c.WaitReady(ctx, t.ID)
		}
	case order.CL:
		t, pending, err = c.Delete(ctx, sub.TenantID, requestID)
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			// The connector no longer knows the tenant: it is gone, which
			// is what a cancellation asks for. The protocol lets a
			// connector forget deleted tenants, so a retried delete whose
			// first answer was lost may well get a 404.
			t, pending, err = connector.Tenant{ID: sub.TenantID, Status: connector.StatusDeleted}, false, nil
		}
		if err == nil && pending {
			t, err = c.WaitDeleted(ctx, t.ID)
		}
	default:
		return o.fail(ctx, a, ord, order.ManualActionRequired, fmt.Errorf("orders of type %s are not provisioned", ord.Type), true)
	}
	if err != nil {
		var failed *FailedError
		switch {
		case errors.As(err, &failed):
			return o.fail(ctx, a, ord, order.ProvisioningFailed, err, true)
		case marketplane.ErrorCode(err) == marketplane.EINVALID:
			// The connector refused the order's limits or parameters: no
			// retry will change that.
			return o.fail(ctx, a, ord, order.ProvisioningFailed, err, true)
		default:
			// A task cut short (a shutdown, the task's timeout) is worth
			// another run whatever its error says: the task manager cancels
			// with a cause of its own, which the client passes on instead
			// of context.Canceled.
			passing := Retryable(err) || isPassing(err) || ctx.Err() != nil
			return o.fail(ctx, a, ord, order.ProvisioningFailed, err, lastAttempt || !passing)
		}
	}
	_, err = o.DB.CompleteOrder(ctx, id, store.TenantInfo{Connector: sub.Connector, TenantID: t.ID, Status: t.Status, Attributes: t.Attributes})
	if err == nil {
		o.outcome(sub.Connector, "completed")
		o.log().Info("order provisioned", "order", id, "type", ord.Type, "connector", sub.Connector, "tenant", t.ID)
	}
	return err
}

// outcome tells Outcome, when set, how an attempt at connector ended.
func (o *Orchestrator) outcome(connector, outcome string) {
	if o.Outcome != nil && connector != "" {
		o.Outcome(connector, outcome)
	}
}

// deadline is o.Deadline or its default.
func (o *Orchestrator) deadline() time.Duration {
	if o.Deadline > 0 {
		return o.Deadline
	}
	return DefaultDeadline
}

// isPassing reports errors worth another try besides Retryable ones: poll
// timeouts, an interrupted task, and a connector refusing the platform's
// credentials (401, 403): a connector being redeployed with a rotated
// secret answers so for a while, so it is no proof that the order cannot
// be made; the Deadline bounds the wait if it lasts.
func isPassing(err error) bool {
	var pt *PollTimeoutError
	var rej *RejectedError
	if errors.As(err, &rej) && (rej.StatusCode == http.StatusUnauthorized || rej.StatusCode == http.StatusForbidden) {
		return true
	}
	return errors.As(err, &pt) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		marketplane.ErrorCode(err) == marketplane.EUNAVAILABLE
}

// fail records a final failure of ord, or records a passing one on the
// order and returns err for another try, unless the failures have gone on
// for the Deadline: then that failure is final.
func (o *Orchestrator) fail(ctx context.Context, a Attempt, ord *store.Order, reason order.StatusReason, err error, final bool) error {
	msg := customerMessage(err)
	if !final {
		var next time.Time
		if a.RetryAt != nil {
			next = a.RetryAt()
		}
		rec, rerr := o.DB.RecordProvisioningFailure(context.WithoutCancel(ctx), ord.ID, msg, next)
		if rerr != nil {
			o.log().Error("provisioning failure not recorded on the order", "order", ord.ID, "err", rerr)
			return err
		}
		deadline := o.deadline()
		if since := rec.Provisioning.Since; since.IsZero() || o.DB.Clock.Now().Sub(since) < deadline {
			o.outcome(a.connector, "retried")
			o.log().Warn("provisioning will be retried", "order", ord.ID, "attempts", rec.Provisioning.Attempts, "next", next, "err", err)
			return err
		}
		msg = fmt.Sprintf("%s (still failing after %s of attempts)", msg, deadline)
	}
	if _, ferr := o.DB.FailOrder(context.WithoutCancel(ctx), ord.ID, reason, msg); ferr != nil {
		return fmt.Errorf("order %d failed (%v) and recording it failed: %w", ord.ID, err, ferr)
	}
	o.outcome(a.connector, "failed")
	o.log().Warn("order provisioning failed", "order", ord.ID, "reason", reason, "message", msg, "err", err)
	return nil
}

// customerMessage is what an order's message says of a failure: the
// connector's own words when it reported one, otherwise the error in words
// (no error codes) with the connector's addresses taken out (customers read order messages; the full
// error goes to the log and the task list).
func customerMessage(err error) string {
	var failed *FailedError
	if errors.As(err, &failed) {
		return failed.Message
	}
	msg := urlPattern.ReplaceAllString(problem.Words(err.Error()), "the connector")
	return addrPattern.ReplaceAllString(msg, "${1}the connector")
}

// urlPattern and addrPattern find URLs and network addresses in error text.
var (
	urlPattern  = regexp.MustCompile(`[a-z]+://[^\s"']+`)
	addrPattern = regexp.MustCompile(`((?:dial|read|write) (?:tcp|udp)[46]? )\S+`)
)

// limits turns the order's resource amounts (by rate key) into the
// connector's limits (by the connector's resource keys): a rate of a
// resource type bound to the connector passes its amount; a composite rate
// passes its amount times the units of each part.
func (o *Orchestrator) limits(ctx context.Context, ord *store.Order) (map[string]int64, error) {
	out := map[string]int64{}
	plan, err := o.DB.Plan(ctx, account.SystemActor(), ord.PlanID)
	if err != nil {
		return nil, err
	}
	amounts := ord.Details.Resources
	binding := map[string]string{}
	bound := func(key string) (string, error) {
		if b, ok := binding[key]; ok {
			return b, nil
		}
		rt, err := o.DB.ResourceType(ctx, account.SystemActor(), key)
		if err != nil {
			return "", fmt.Errorf("resource type %s: %w", key, err)
		}
		binding[key] = rt.Connector
		return rt.Connector, nil
	}
	add := func(key string, n int64) error {
		b, err := bound(key)
		if err != nil || b == "" {
			return err
		}
		if n < 0 || out[b] < 0 {
			out[b] = -1 // unlimited stays unlimited
			return nil
		}
		out[b] += n
		return nil
	}
	for _, r := range plan.Rates {
		n, ok := amounts[r.Key]
		if !ok {
			continue
		}
		if r.Composite() {
			for _, part := range r.Parts {
				if err := add(part.Resource, n*part.Units); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := add(r.Resource, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CollectUsage asks every registered connector for the usage of its active
// subscriptions, page by page, with at most UsageConcurrency calls in flight
// per connector, and stores the readings for billing and gauges. A
// connector that fails for one subscription does not stop the others; the
// number of failures is returned with the first error.
func (o *Orchestrator) CollectUsage(ctx context.Context) (collected int, err error) {
	conns, err := o.DB.Connectors(ctx, account.SystemActor())
	if err != nil {
		return 0, err
	}
	var firstErr error
	failures := 0
	for _, reg := range conns {
		n, f, err := o.collectConnector(ctx, reg.Name)
		collected += n
		failures += f
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return collected, fmt.Errorf("usage: %d subscriptions failed, first: %w", failures, firstErr)
	}
	return collected, nil
}

func (o *Orchestrator) collectConnector(ctx context.Context, name string) (collected, failures int, firstErr error) {
	c, err := o.client(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	limit := o.UsageConcurrency
	if limit <= 0 {
		limit = 8
	}
	// Reverse binding: the connector's resource key → the rate key of each
	// subscription's plan is the resource type "<connector>.<key>"; the
	// readings are stored under the resource type key.
	prefix := name + "."
	var after int64
	for {
		batch, err := o.DB.ActiveSubscriptionsBatch(ctx, name, after, 500)
		if err != nil {
			return collected, failures, err
		}
		if len(batch) == 0 {
			return collected, failures, firstErr
		}
		after = batch[len(batch)-1].ID
		results := make([]store.SubscriptionUsage, len(batch))
		errs := make([]error, len(batch))
		sem := make(chan struct{}, limit)
		var wg sync.WaitGroup
		for i, s := range batch {
			if s.TenantID == "" {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(i int, s *subscription.Subscription) {
				defer wg.Done()
				defer func() { <-sem }()
				readings, err := c.Usage(ctx, s.TenantID)
				if err != nil {
					errs[i] = fmt.Errorf("subscription %d: %w", s.ID, err)
					return
				}
				su := store.SubscriptionUsage{SubscriptionID: s.ID}
				for _, r := range readings {
					// The client checked the value (not negative, at most six
					// places, fits).
					v, frac, _ := store.UsageValue(r.Value)
					su.Readings = append(su.Readings, store.UsageReading{Resource: prefix + r.Resource, Value: v, Fraction: frac,
						Additive: r.Additive, At: r.At})
				}
				results[i] = su
			}(i, s)
		}
		wg.Wait()
		var ok []store.SubscriptionUsage
		for i := range batch {
			if errs[i] != nil {
				failures++
				if firstErr == nil {
					firstErr = errs[i]
				}
				continue
			}
			if len(results[i].Readings) > 0 {
				ok = append(ok, results[i])
			}
		}
		n, err := o.DB.RecordUsageBatch(ctx, ok)
		if err != nil {
			return collected, failures, err
		}
		collected += n
		if len(batch) < 500 {
			return collected, failures, firstErr
		}
	}
}

// ApplyStatus makes the service of subscription id follow its status:
// suspended subscriptions are suspended at the connector, active ones
// resumed. The request id carries the subscription's version, so a retry of
// the same change is one call for the connector and a later change a new one.
// Other statuses, and subscriptions without a tenant, need nothing.
func (o *Orchestrator) ApplyStatus(ctx context.Context, id int64) error {
	sub, err := o.DB.Subscription(ctx, account.SystemActor(), id)
	if err != nil {
		return err
	}
	if sub.Connector == "" || sub.TenantID == "" {
		return nil
	}
	c, err := o.client(ctx, sub.Connector)
	if err != nil {
		return err
	}
	requestID := fmt.Sprintf("sub-%d-v%d-%s", sub.ID, sub.Version, sub.Status)
	var t connector.Tenant
	var pending bool
	switch sub.Status {
	case subscription.Suspended:
		t, pending, err = c.Suspend(ctx, sub.TenantID, requestID)
	case subscription.Active:
		t, pending, err = c.Resume(ctx, sub.TenantID, requestID)
	case subscription.Terminated:
		// A subscription that expired unrenewed is ended by billing after
		// its grace and hold days: its service goes. (A cancellation ends
		// the service through its CL order instead.)
		if sub.StatusReason != subscription.ReasonExpired {
			return nil
		}
		t, pending, err = c.Delete(ctx, sub.TenantID, requestID)
	default:
		return nil
	}
	if err == nil && pending {
		t, err = c.WaitReady(ctx, t.ID)
	}
	if err != nil {
		return fmt.Errorf("subscription %d: %s at connector %s: %w", sub.ID, sub.Status, sub.Connector, err)
	}
	// The subscription shows what the connector confirmed (suspended,
	// ready again, deleted), unless its status moved on meanwhile.
	if t.Status != "" {
		if _, err := o.DB.RecordTenantStatus(ctx, sub.ID, sub.Status, t.Status); err != nil {
			return fmt.Errorf("subscription %d: tenant status %s: %w", sub.ID, t.Status, err)
		}
	}
	o.log().Info("subscription status applied", "subscription", sub.ID, "status", sub.Status, "tenant", t.ID, "tenant_status", t.Status)
	return nil
}
