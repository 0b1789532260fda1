// Package provisioning is the platform's side of the connector protocol (see
// package connector for the protocol itself): a Client that calls one
// connector with signed requests, stable request ids, per-attempt timeouts,
// retries with backoff and strict validation of the replies, and
// VerifyCallback for the connector's registration callback.
//
// Errors of the Client, by kind:
//
//   - *UnavailableError: unreachable, timed out, 5xx or 429 after every
//     retry (code EUNAVAILABLE; Retryable);
//   - *ReplyError: a reply that breaks the protocol (Retryable);
//   - *FailedError: the connector reports the tenant failed, with its message;
//   - *PollTimeoutError: a 202 that did not finish within Options.MaxPoll;
//   - *marketplane.Error EINVALID with the connector's field errors (400),
//     ENOTFOUND (404), ECONFLICT (409);
//   - *RejectedError: any other 4xx (401 wrong secret …);
//   - the context's error when the caller's context ends.
package provisioning

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// HTTP sends the requests (default: a client that does not follow
	// redirects, which would break signatures). Its own Timeout, if any,
	// adds to Timeout below.
	HTTP *http.Client
	// Timeout bounds each attempt of a call, reading the reply included
	// (default 10s).
	Timeout time.Duration
	// Retries is how many times a call is repeated after a transport
	// error, a timeout, a 5xx or a 429 (default 3; negative: never). A
	// repeat carries the same request id and body, freshly signed.
	Retries int
	// BackoffMin and BackoffMax bound the wait before a repeat: it doubles
	// from BackoffMin per attempt, with jitter, up to BackoffMax (defaults
	// 250ms and 10s). A Retry-After from the connector is honoured up to
	// BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// PollMin and PollMax bound the wait between polls of a provisioning
	// tenant; within them the connector's Retry-After is followed
	// (defaults 1s and 30s).
	PollMin, PollMax time.Duration
	// MaxPoll is how long WaitReady and WaitDeleted poll before they give
	// up with *PollTimeoutError (default 10 minutes).
	MaxPoll time.Duration
	// Clock gives the timestamps of signatures (default the system clock).
	Clock marketplane.Clock
	// UserAgent is sent with every request (default "marketplane-provisioning").
	UserAgent string
}

// Client calls one connector. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	secret string
	opt    Options
	hc     *http.Client
}

// maxReply bounds the body of a reply the client reads.
const maxReply = 4 << 20

// New returns a client of the connector at baseURL (an absolute http or
// https URL; a path is a prefix of every call), signing with secret.
func New(baseURL, secret string, opt Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid connector URL",
			Fields: map[string]string{"url": "must be an absolute http or https URL without query"}}
	}
	if secret == "" {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid connector secret",
			Fields: map[string]string{"secret": "is required"}}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Retries == 0 {
		opt.Retries = 3
	} else if opt.Retries < 0 {
		opt.Retries = 0
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 250 * time.Millisecond
	}
	if opt.BackoffMax <= 0 {
		opt.BackoffMax = 10 * time.Second
	}
	opt.BackoffMax = max(opt.BackoffMax, opt.BackoffMin)
	if opt.PollMin <= 0 {
		opt.PollMin = time.Second
	}
	if opt.PollMax <= 0 {
		opt.PollMax = 30 * time.Second
	}
	opt.PollMin = min(opt.PollMin, opt.PollMax)
	if opt.MaxPoll <= 0 {
		opt.MaxPoll = 10 * time.Minute
	}
	if opt.Clock == nil {
		opt.Clock = marketplane.SystemClock{}
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "marketplane-provisioning"
	}
	hc := opt.HTTP
	if hc == nil {
		// Several calls run at once per connector (tasks, usage
		// collection); the default transport keeps only two idle
		// connections per host and would open (and handshake) a new one
		// for most calls.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Client{base: u, secret: secret, opt: opt, hc: hc}, nil
}

// BaseURL returns the connector's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// MaxPoll returns how long WaitReady polls before it gives up.
func (c *Client) MaxPoll() time.Duration { return c.opt.MaxPoll }

// Manifest fetches and validates the connector's manifest.
func (c *Client) Manifest(ctx context.Context) (connector.Manifest, error) {
	var m connector.Manifest
	rep, err := c.call(ctx, http.MethodGet, "/manifest", readID("manifest"), nil, c.opt.Retries)
	if err != nil {
		return m, err
	}
	if err := rep.decode(&m, http.StatusOK); err != nil {
		return m, err
	}
	if err := m.Validate(); err != nil {
		return m, rep.bad("invalid manifest: " + describe(err))
	}
	return m, nil
}

// Create asks for the tenant of a subscription. req.RequestID is required
// and must be the same on every retry of this operation (the platform
// derives it from the operation: "sub-42-create"). pending is true while the
// tenant is provisioning: poll with WaitReady. A tenant that failed is
// returned with a *FailedError.
func (c *Client) Create(ctx context.Context, req connector.CreateRequest) (t connector.Tenant, pending bool, err error) {
	if err := needRequestID(req.RequestID); err != nil {
		return t, false, err
	}
	return c.change(ctx, http.MethodPost, "/tenants", req.RequestID, "", req)
}

// Get returns the tenant's current state as the connector reports it, a
// failed one included (no *FailedError); ENOTFOUND if there is none.
func (c *Client) Get(ctx context.Context, id string) (connector.Tenant, error) {
	t, _, err := c.get(ctx, id)
	return t, err
}

// Poll is one look at a tenant being provisioned: pending is true while its
// status is provisioning or deleting; a failed tenant comes with a
// *FailedError. Callers that keep their own deadline (a task that polls
// across restarts) use it instead of WaitReady.
func (c *Client) Poll(ctx context.Context, id string) (t connector.Tenant, pending bool, err error) {
	t, _, err = c.get(ctx, id)
	if err != nil {
		return t, false, err
	}
	return t, connector.Pending(t.Status), failed(t)
}

// WaitReady polls the tenant until it leaves provisioning (and deleting):
// it returns the tenant when ready (or suspended …), a *FailedError when it
// failed, and a *PollTimeoutError after Options.MaxPoll. It waits the
// connector's Retry-After between polls, within PollMin and PollMax.
func (c *Client) WaitReady(ctx context.Context, id string) (connector.Tenant, error) {
	return c.wait(ctx, id, false)
}

// WaitDeleted polls a tenant being deleted until it is deleted (or the
// connector no longer knows it, which counts as deleted), with the rules of
// WaitReady. A tenant that settles in another status is an ECONFLICT error.
func (c *Client) WaitDeleted(ctx context.Context, id string) (connector.Tenant, error) {
	return c.wait(ctx, id, true)
}

// Update changes the tenant's limits or parameters (only the keys named).
// req.RequestID is required and stable across retries. pending is true
// while the change is still provisioning.
func (c *Client) Update(ctx context.Context, id string, req connector.UpdateRequest) (t connector.Tenant, pending bool, err error) {
	if err := needRequestID(req.RequestID); err != nil {
		return t, false, err
	}
	return c.change(ctx, http.MethodPut, tenantPath(id), req.RequestID, id, req)
}

// Suspend suspends the tenant (credit hold); requestID names the operation.
func (c *Client) Suspend(ctx context.Context, id, requestID string) (t connector.Tenant, pending bool, err error) {
	if err := needRequestID(requestID); err != nil {
		return t, false, err
	}
	return c.change(ctx, http.MethodPost, tenantPath(id)+"/suspend", requestID, id, nil)
}

// Resume resumes a suspended tenant; requestID names the operation.
func (c *Client) Resume(ctx context.Context, id, requestID string) (t connector.Tenant, pending bool, err error) {
	if err := needRequestID(requestID); err != nil {
		return t, false, err
	}
	return c.change(ctx, http.MethodPost, tenantPath(id)+"/resume", requestID, id, nil)
}

// Delete removes the tenant; requestID names the operation. pending is true
// while it is deleting: poll with WaitDeleted. ENOTFOUND means the connector
// does not know the tenant (already gone).
func (c *Client) Delete(ctx context.Context, id, requestID string) (t connector.Tenant, pending bool, err error) {
	if err := needRequestID(requestID); err != nil {
		return t, false, err
	}
	return c.change(ctx, http.MethodDelete, tenantPath(id), requestID, id, nil)
}

// Usage returns the tenant's current usage readings.
func (c *Client) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	rep, err := c.call(ctx, http.MethodGet, tenantPath(id)+"/usage", readID("usage"), nil, c.opt.Retries)
	if err != nil {
		return nil, err
	}
	var u struct {
		Readings *[]connector.UsageReading `json:"readings"`
	}
	if err := rep.decode(&u, http.StatusOK); err != nil {
		return nil, err
	}
	if u.Readings == nil {
		return nil, rep.bad("missing readings")
	}
	for i, r := range *u.Readings {
		switch {
		case r.Resource == "":
			return nil, rep.bad(fmt.Sprintf("readings[%d]: missing resource", i))
		case r.At.IsZero():
			return nil, rep.bad(fmt.Sprintf("readings[%d]: missing at", i))
		}
		if err := connector.CheckValue(r.Value); err != nil {
			return nil, rep.bad(fmt.Sprintf("readings[%d]: %v", i, err))
		}
	}
	return *u.Readings, nil
}

// Ping asks the connector to call back callbackURL with nonce, the
// two-way check of registration; the platform's callback handler checks the
// callback with VerifyCallback and the nonce. Ping is tried once, so that a
// registration fails fast: the connector's answer to a failed callback
// comes back as an *UnavailableError (502) with its reason.
func (c *Client) Ping(ctx context.Context, callbackURL, nonce string) error {
	rep, err := c.call(ctx, http.MethodPost, "/ping", readID("ping"),
		connector.PingRequest{CallbackURL: callbackURL, Nonce: nonce}, 0)
	if err != nil {
		return err
	}
	var p connector.PingReply
	if err := rep.decode(&p, http.StatusOK); err != nil {
		return err
	}
	if p.Nonce != nonce {
		return rep.bad(fmt.Sprintf("nonce %q instead of %q", p.Nonce, nonce))
	}
	return nil
}

// change sends a call that answers with a tenant and may be asynchronous.
func (c *Client) change(ctx context.Context, method, path, requestID, id string, body any) (connector.Tenant, bool, error) {
	var t connector.Tenant
	rep, err := c.call(ctx, method, path, requestID, body, c.opt.Retries)
	if err != nil {
		return t, false, err
	}
	if t, err = rep.tenant(id, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return t, false, err
	}
	return t, connector.Pending(t.Status), failed(t)
}

// get reads a tenant and the connector's Retry-After hint.
func (c *Client) get(ctx context.Context, id string) (connector.Tenant, time.Duration, error) {
	rep, err := c.call(ctx, http.MethodGet, tenantPath(id), readID("get"), nil, c.opt.Retries)
	if err != nil {
		return connector.Tenant{}, 0, err
	}
	t, err := rep.tenant(id, http.StatusOK)
	return t, retryAfter(rep.header, c.opt.Clock.Now()), err
}

func (c *Client) wait(ctx context.Context, id string, deleting bool) (connector.Tenant, error) {
	start := time.Now()
	deadline := start.Add(c.opt.MaxPoll)
	for {
		t, hint, err := c.get(ctx, id)
		if deleting && marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return connector.Tenant{ID: id, Status: connector.StatusDeleted}, nil
		}
		if err != nil {
			return t, err
		}
		if err := failed(t); err != nil {
			return t, err
		}
		if !connector.Pending(t.Status) {
			if deleting && t.Status != connector.StatusDeleted {
				return t, marketplane.Errorf(marketplane.ECONFLICT, "connector: tenant %q is %s after delete", id, t.Status)
			}
			return t, nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return t, &PollTimeoutError{TenantID: id, Status: t.Status, Waited: now.Sub(start)}
		}
		d := min(max(hint, c.opt.PollMin), c.opt.PollMax, deadline.Sub(now))
		if err := sleep(ctx, d); err != nil {
			return t, fmt.Errorf("connector: waiting for tenant %q: %w", id, err)
		}
	}
}

// call sends one call with up to retries repeats and returns the first
// reply that is not to be retried. Transport errors, timeouts, 5xx and 429
// are retried; when they last, the result is an *UnavailableError.
func (c *Client) call(ctx context.Context, method, path, requestID string, body any, retries int) (*reply, error) {
	op := method + " " + path
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("connector %s: encoding the request: %w", op, err)
		}
	}
	u := *c.base
	u.Path += mustUnescape(path)
	u.RawPath = c.base.EscapedPath() + path
	var last error
	var lastStatus int
	for attempt := 0; ; attempt++ {
		rep, err := c.attempt(ctx, method, u.String(), requestID, payload)
		if ctx.Err() != nil {
			// The caller gave up: say so rather than blame the connector.
			return nil, fmt.Errorf("connector %s: %w", op, context.Cause(ctx))
		}
		var wait time.Duration
		switch {
		case err != nil:
			last, lastStatus = err, 0
		case rep.status >= 500 || rep.status == http.StatusTooManyRequests:
			last, lastStatus = fmt.Errorf("answered %d: %s", rep.status, rep.message()), rep.status
			wait = retryAfter(rep.header, c.opt.Clock.Now())
		default:
			rep.op = op
			return rep, nil
		}
		if attempt >= retries {
			return nil, &UnavailableError{Op: op, Attempts: attempt + 1, StatusCode: lastStatus, Err: last}
		}
		wait = min(max(wait, c.backoff(attempt)), c.opt.BackoffMax)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller: give up now, with the cause.
			return nil, &UnavailableError{Op: op, Attempts: attempt + 1, StatusCode: lastStatus, Err: last}
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("connector %s: %w", op, err)
		}
	}
}

// attempt sends one signed request and reads its reply within Timeout.
func (c *Client) attempt(ctx context.Context, method, target, requestID string, payload []byte) (*reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opt.UserAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	connector.SignRequest(req, c.secret, requestID, payload, c.opt.Clock.Now())
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("reading the reply: %w", err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// backoff is the jittered wait before repeat number attempt+1: between half
// and all of BackoffMin·2^attempt, capped at BackoffMax.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opt.BackoffMax
	if attempt < 30 {
		d = min(c.opt.BackoffMin<<attempt, c.opt.BackoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// reply is a connector's answer.
type reply struct {
	op     string
	status int
	header http.Header
	body   []byte
}

// bad returns a *ReplyError about the reply.
func (r *reply) bad(problem string) *ReplyError {
	b := r.body
	if len(b) > 200 {
		b = b[:200]
	}
	return &ReplyError{Op: r.op, StatusCode: r.status, Problem: problem, Body: string(b)}
}

// message is the error text of an error reply: its JSON "error" (with the
// fields), or the start of its body.
func (r *reply) message() string {
	var e connector.ErrorReply
	if json.Unmarshal(r.body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(r.body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = http.StatusText(r.status)
	}
	return s
}

// check turns a reply with a status other than ok into its error.
func (r *reply) check(ok ...int) error {
	for _, s := range ok {
		if r.status == s {
			return nil
		}
	}
	switch r.status {
	case http.StatusBadRequest:
		var e connector.ErrorReply
		_ = json.Unmarshal(r.body, &e)
		return fmt.Errorf("connector %s: %w", r.op, &marketplane.Error{Code: marketplane.EINVALID,
			Message: "the connector refused the request: " + r.message(), Fields: e.Fields})
	case http.StatusNotFound:
		return fmt.Errorf("connector %s: %w", r.op, &marketplane.Error{Code: marketplane.ENOTFOUND, Message: "connector: " + r.message()})
	case http.StatusConflict:
		return fmt.Errorf("connector %s: %w", r.op, &marketplane.Error{Code: marketplane.ECONFLICT, Message: "connector: " + r.message()})
	}
	if r.status >= 400 && r.status < 500 {
		return &RejectedError{Op: r.op, StatusCode: r.status, Message: r.message()}
	}
	return r.bad(fmt.Sprintf("unexpected status %d", r.status))
}

// decode checks the status and content type and decodes the JSON body,
// which must be one object, into v.
func (r *reply) decode(v any, ok ...int) error {
	if err := r.check(ok...); err != nil {
		return err
	}
	if len(r.body) > maxReply {
		return r.bad("reply larger than 4 MiB")
	}
	ct := r.header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return r.bad(fmt.Sprintf("content type %q, not application/json", ct))
	}
	body := bytes.TrimSpace(r.body)
	if len(body) == 0 || body[0] != '{' {
		return r.bad("the body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return r.bad("malformed JSON: " + err.Error())
	}
	return nil
}

// tenant decodes and checks a tenant reply; wantID, when set, is the id the
// call was about.
func (r *reply) tenant(wantID string, ok ...int) (connector.Tenant, error) {
	var t connector.Tenant
	if err := r.decode(&t, ok...); err != nil {
		return t, err
	}
	switch {
	case t.ID == "":
		return t, r.bad("missing id")
	case wantID != "" && t.ID != wantID:
		return t, r.bad(fmt.Sprintf("tenant %q instead of %q", t.ID, wantID))
	case t.Status == "":
		return t, r.bad("missing status")
	case !connector.ValidStatus(t.Status):
		return t, r.bad(fmt.Sprintf("unknown status %q", t.Status))
	}
	for k, v := range t.Limits {
		if v < connector.Unlimited {
			return t, r.bad(fmt.Sprintf("limits.%s: %d is below -1", k, v))
		}
	}
	return t, nil
}

// failed returns a *FailedError for a failed tenant.
func failed(t connector.Tenant) error {
	if t.Status == connector.StatusFailed {
		return &FailedError{TenantID: t.ID, Message: t.Message}
	}
	return nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); 0 when
// there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > 86400 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// tenantPath is the escaped path of a tenant.
func tenantPath(id string) string { return "/tenants/" + url.PathEscape(id) }

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

func needRequestID(id string) error {
	if id == "" {
		return &marketplane.Error{Code: marketplane.EINVALID, Message: "a request id is required",
			Fields: map[string]string{"request_id": "is required: name the operation, the same on every retry"}}
	}
	return nil
}

// readID is a fresh request id for a call that changes nothing.
func readID(what string) string { return what + "-" + cryptorand.Text() }

// describe is err's text without the code prefix, for problems.
func describe(err error) string {
	var e *marketplane.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		return e.FieldList()
	}
	return err.Error()
}
