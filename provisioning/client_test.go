package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/provisioning"
)

const secret = "shared-secret"

// fast are options that keep the tests quick: tiny backoff and polls.
func fast() provisioning.Options {
	return provisioning.Options{
		Timeout:    2 * time.Second,
		BackoffMin: time.Millisecond,
		BackoffMax: 5 * time.Millisecond,
		PollMin:    time.Millisecond,
		PollMax:    5 * time.Millisecond,
		MaxPoll:    2 * time.Second,
	}
}

// setup serves mem with the SDK on loopback (the vendor's side) and returns
// a client of it (the platform's side).
func setup(t *testing.T, mem *connectortest.Memory, opt provisioning.Options) *provisioning.Client {
	t.Helper()
	srv := httptest.NewServer(connector.Handler(mem, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return client(t, srv.URL, opt)
}

func client(t *testing.T, url string, opt provisioning.Options) *provisioning.Client {
	t.Helper()
	c, err := provisioning.New(url, secret, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// raw serves h, a connector that does not use the SDK (to break the
// protocol on purpose).
func raw(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func createReq(id string) connector.CreateRequest {
	return connector.CreateRequest{RequestID: id, SubscriptionID: 42, AccountID: 7,
		Limits: map[string]int64{"storage_mb": 100}, Parameters: map[string]string{"db_name": "shop"}}
}

func TestCreateSync(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{}
	c := setup(t, mem, fast())
	tn, pending, err := c.Create(context.Background(), createReq("sub-42-create"))
	if err != nil || pending || tn.Status != connector.StatusReady || tn.ID == "" {
		t.Fatalf("Create = %+v, %v, %v", tn, pending, err)
	}
	got, err := c.Get(context.Background(), tn.ID)
	if err != nil || got.Limits["storage_mb"] != 100 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	m, err := c.Manifest(context.Background())
	if err != nil || m.Name != "memory" {
		t.Fatalf("Manifest = %+v, %v", m, err)
	}
}

func TestCreateAsyncPollsToReady(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{Steps: 3}
	c := setup(t, mem, fast())
	ctx := context.Background()
	tn, pending, err := c.Create(ctx, createReq("sub-42-create"))
	if err != nil || !pending || tn.Status != connector.StatusProvisioning {
		t.Fatalf("Create = %+v, %v, %v", tn, pending, err)
	}
	// The SDK says Retry-After: 5; PollMax keeps the test fast.
	start := time.Now()
	tn, err = c.WaitReady(ctx, tn.ID)
	if err != nil || tn.Status != connector.StatusReady {
		t.Fatalf("WaitReady = %+v, %v", tn, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("WaitReady took %s", d)
	}
	if n := mem.Calls("get"); n != 3 {
		t.Fatalf("%d polls, want 3", n)
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{}
	c := setup(t, mem, fast())
	ctx := context.Background()
	a, _, err := c.Create(ctx, createReq("sub-42-create"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := c.Create(ctx, createReq("sub-42-create"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || len(mem.Tenants()) != 1 {
		t.Fatalf("tenants %v and %v; %d in the vendor's system", a.ID, b.ID, len(mem.Tenants()))
	}
	if _, _, err := c.Create(ctx, connector.CreateRequest{}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Fatalf("Create without request id = %v", err)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	t.Parallel()
	var fails atomic.Int32
	fails.Store(2)
	mem := &connectortest.Memory{Hook: func(op, id string) error {
		if op == "create" && fails.Add(-1) >= 0 {
			return errors.New("database restarting")
		}
		return nil
	}}
	c := setup(t, mem, fast())
	tn, _, err := c.Create(context.Background(), createReq("sub-1-create"))
	if err != nil || tn.Status != connector.StatusReady {
		t.Fatalf("Create = %+v, %v", tn, err)
	}
	if n, calls := len(mem.Tenants()), mem.Calls("create"); n != 1 || calls != 3 {
		t.Fatalf("%d tenants after %d calls; want 1 after 3", n, calls)
	}
}

func TestServerErrorForever(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":"out of disk"}`)
	})
	opt := fast()
	opt.Retries = 2
	_, _, err := client(t, url, opt).Create(context.Background(), createReq("sub-1-create"))
	var u *provisioning.UnavailableError
	if !errors.As(err, &u) || u.Attempts != 3 || u.StatusCode != 500 || !strings.Contains(err.Error(), "out of disk") {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 3 || !provisioning.Retryable(err) || marketplane.ErrorCode(err) != marketplane.EUNAVAILABLE {
		t.Fatalf("%d hits, retryable %v, code %q", hits.Load(), provisioning.Retryable(err), marketplane.ErrorCode(err))
	}
}

func TestConnectorDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = client(t, "http://"+addr, fast()).Create(context.Background(), createReq("sub-1-create"))
	var u *provisioning.UnavailableError
	var opErr *net.OpError
	if !errors.As(err, &u) || u.Attempts != 4 || !errors.As(err, &opErr) {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	opt := fast()
	opt.Timeout = 30 * time.Millisecond
	opt.Retries = 1
	start := time.Now()
	_, err := client(t, url, opt).Get(context.Background(), "t-1")
	var u *provisioning.UnavailableError
	if !errors.As(err, &u) || !errors.Is(err, context.DeadlineExceeded) || u.Attempts != 2 {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestCallerCancels(t *testing.T) {
	t.Parallel()
	url := raw(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := client(t, url, fast()).Get(ctx, "t-1")
	var u *provisioning.UnavailableError
	if errors.As(err, &u) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline, not unavailable", err)
	}
}

func TestBadReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		problem string
	}{
		{"malformed JSON", 201, "application/json", `{"id":"t-1","status":`, "malformed JSON"},
		{"wrong content type", 201, "text/html", `<html>ok</html>`, `content type "text/html"`},
		{"no content type", 201, "", `{"id":"t-1","status":"ready"}`, "content type"},
		{"not an object", 201, "application/json", `["t-1"]`, "not a JSON object"},
		{"null", 201, "application/json", `null`, "not a JSON object"},
		{"missing id", 201, "application/json", `{"status":"ready"}`, "missing id"},
		{"missing status", 201, "application/json", `{"id":"t-1"}`, "missing status"},
		{"unknown status", 201, "application/json", `{"id":"t-1","status":"done"}`, `unknown status "done"`},
		{"wrong type", 201, "application/json", `{"id":1,"status":"ready"}`, "malformed JSON"},
		{"limit below -1", 201, "application/json", `{"id":"t-1","status":"ready","limits":{"x":-2}}`, "limits.x"},
		{"redirect", 302, "text/html", ``, "unexpected status 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := raw(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				} else {
					w.Header()["Content-Type"] = nil
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, _, err := client(t, url, fast()).Create(context.Background(), createReq("sub-1-create"))
			var re *provisioning.ReplyError
			if !errors.As(err, &re) || !strings.Contains(re.Problem, tt.problem) {
				t.Fatalf("err = %v, want a ReplyError about %q", err, tt.problem)
			}
			if re.Op != "POST /tenants" || re.StatusCode != tt.status || !provisioning.Retryable(err) {
				t.Fatalf("ReplyError %+v", re)
			}
		})
	}
}

func TestReplyForAnotherTenant(t *testing.T) {
	t.Parallel()
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"t-2","status":"ready"}`)
	})
	_, err := client(t, url, fast()).Get(context.Background(), "t-1")
	var re *provisioning.ReplyError
	if !errors.As(err, &re) || !strings.Contains(re.Problem, `"t-2" instead of "t-1"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestNeverFinishes(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{Steps: -1}
	opt := fast()
	opt.MaxPoll = 50 * time.Millisecond
	c := setup(t, mem, opt)
	ctx := context.Background()
	tn, pending, err := c.Create(ctx, createReq("sub-1-create"))
	if err != nil || !pending {
		t.Fatalf("Create = %+v, %v, %v", tn, pending, err)
	}
	start := time.Now()
	_, err = c.WaitReady(ctx, tn.ID)
	var pt *provisioning.PollTimeoutError
	if !errors.As(err, &pt) || pt.Status != connector.StatusProvisioning || pt.TenantID != tn.ID {
		t.Fatalf("WaitReady = %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Fatalf("gave up after %s, want about 50ms", d)
	}
	if provisioning.Retryable(err) {
		t.Fatalf("a poll timeout is not retryable")
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{}
	c := setup(t, mem, fast())
	req := createReq("sub-1-create")
	req.Limits["storage_mb"] = -3
	req.Parameters["region"] = "mars"
	_, _, err := c.Create(context.Background(), req)
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID || e.Fields["limits.storage_mb"] == "" || e.Fields["parameters.region"] == "" {
		t.Fatalf("err = %v", err)
	}
	if provisioning.Retryable(err) || mem.Calls("create") != 0 {
		t.Fatalf("retryable %v, %d calls", provisioning.Retryable(err), mem.Calls("create"))
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	c := setup(t, &connectortest.Memory{}, fast())
	ctx := context.Background()
	if _, err := c.Get(ctx, "t-404"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		t.Fatalf("Get = %v", err)
	}
	if _, _, err := c.Delete(ctx, "t-404", "sub-1-delete"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := c.Usage(ctx, "t-404"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		t.Fatalf("Usage = %v", err)
	}
}

func TestFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sync := setup(t, &connectortest.Memory{FailWith: "disk full"}, fast())
	tn, _, err := sync.Create(ctx, createReq("sub-1-create"))
	var fe *provisioning.FailedError
	if !errors.As(err, &fe) || fe.Message != "disk full" || fe.TenantID != tn.ID || tn.ID == "" {
		t.Fatalf("Create = %+v, %v", tn, err)
	}

	async := setup(t, &connectortest.Memory{FailWith: "quota exceeded", Steps: 2}, fast())
	tn, pending, err := async.Create(ctx, createReq("sub-2-create"))
	if err != nil || !pending {
		t.Fatalf("Create = %v, %v", pending, err)
	}
	_, err = async.WaitReady(ctx, tn.ID)
	if !errors.As(err, &fe) || fe.Message != "quota exceeded" || provisioning.Retryable(err) {
		t.Fatalf("WaitReady = %v", err)
	}
}

func TestRefusedSignature(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(connector.Handler(&connectortest.Memory{}, connector.Config{Secret: "another", Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	_, err := client(t, srv.URL, fast()).Manifest(context.Background())
	var re *provisioning.RejectedError
	if !errors.As(err, &re) || re.StatusCode != 401 || !strings.Contains(re.Message, "bad signature") {
		t.Fatalf("err = %v", err)
	}

	// A platform clock ten minutes behind: stale.
	opt := fast()
	opt.Clock = marketplane.NewTestClock(time.Now().Add(-10 * time.Minute))
	_, err = setup(t, &connectortest.Memory{}, opt).Manifest(context.Background())
	if !errors.As(err, &re) || !strings.Contains(re.Message, "stale") {
		t.Fatalf("err = %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	mem := &connectortest.Memory{}
	c := setup(t, mem, fast())
	ctx := context.Background()
	tn, _, err := c.Create(ctx, createReq("sub-1-create"))
	if err != nil {
		t.Fatal(err)
	}
	id := tn.ID
	if tn, _, err = c.Update(ctx, id, connector.UpdateRequest{RequestID: "sub-1-order-7", Limits: map[string]int64{"storage_mb": 200}}); err != nil || tn.Limits["storage_mb"] != 200 {
		t.Fatalf("Update = %+v, %v", tn, err)
	}
	if tn, _, err = c.Suspend(ctx, id, "sub-1-hold-3"); err != nil || tn.Status != connector.StatusSuspended {
		t.Fatalf("Suspend = %+v, %v", tn, err)
	}
	if tn, _, err = c.Resume(ctx, id, "sub-1-release-3"); err != nil || tn.Status != connector.StatusReady {
		t.Fatalf("Resume = %+v, %v", tn, err)
	}
	mem.SetUsage(id, []connector.UsageReading{{Resource: "storage_mb", Value: connector.Units(77)}})
	u, err := c.Usage(ctx, id)
	if err != nil || len(u) != 1 || u[0].Value.Cmp(connector.Units(77)) != 0 || u[0].At.IsZero() {
		t.Fatalf("Usage = %+v, %v", u, err)
	}
	if _, _, err := c.Suspend(ctx, id, ""); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Fatalf("Suspend without request id = %v", err)
	}

	mem.Steps = 2
	tn, pending, err := c.Delete(ctx, id, "sub-1-delete")
	if err != nil || !pending || tn.Status != connector.StatusDeleting {
		t.Fatalf("Delete = %+v, %v, %v", tn, pending, err)
	}
	if tn, err = c.WaitDeleted(ctx, id); err != nil || tn.Status != connector.StatusDeleted {
		t.Fatalf("WaitDeleted = %+v, %v", tn, err)
	}
}

func TestBadUsage(t *testing.T) {
	t.Parallel()
	for body, problem := range map[string]string{
		`{}`: "missing readings",
		`{"readings":[{"value":1,"at":"2026-01-01T00:00:00Z"}]}`:                          "readings[0]: missing resource",
		`{"readings":[{"resource":"x","value":1}]}`:                                       "readings[0]: missing at",
		`{"readings":[{"resource":"x","value":"-1","at":"2026-01-01T00:00:00Z"}]}`:        "readings[0]: value -1: must not be negative",
		`{"readings":[{"resource":"x","value":"0.0000001","at":"2026-01-01T00:00:00Z"}]}`: "readings[0]: value 0.0000001: more than 6 decimal places",
	} {
		url := raw(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, body)
		})
		_, err := client(t, url, fast()).Usage(context.Background(), "t-1")
		var re *provisioning.ReplyError
		if !errors.As(err, &re) || re.Problem != problem {
			t.Errorf("%s: err = %v, want %q", body, err, problem)
		}
	}
}

// platform is the platform's callback endpoint of a registration: it
// accepts callbacks signed with key and records their nonces.
func platform(t *testing.T, key string) (url string, nonces chan string) {
	t.Helper()
	nonces = make(chan string, 4)
	url = raw(t, func(w http.ResponseWriter, r *http.Request) {
		cb, err := provisioning.ReadCallback(r, key, time.Minute)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(connector.ErrorReply{Error: err.Error()})
			return
		}
		nonces <- cb.Nonce
		w.WriteHeader(http.StatusNoContent)
	})
	return url + "/api/v1/connectors/callback", nonces
}

func TestPing(t *testing.T) {
	t.Parallel()
	cb, nonces := platform(t, secret)
	c := setup(t, &connectortest.Memory{}, fast())
	if err := c.Ping(context.Background(), cb, "nonce-1"); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	select {
	case n := <-nonces:
		if n != "nonce-1" {
			t.Fatalf("callback nonce %q", n)
		}
	default:
		t.Fatal("no callback arrived")
	}

	// The platform holds another secret for this connector: the callback
	// is refused, and so the registration check fails.
	other, nonces := platform(t, "not-the-connectors")
	err := c.Ping(context.Background(), other, "nonce-2")
	var u *provisioning.UnavailableError
	if !errors.As(err, &u) || u.StatusCode != http.StatusBadGateway || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Ping = %v", err)
	}
	if len(nonces) != 0 {
		t.Fatal("a forged callback was accepted")
	}
}

func TestVerifyCallback(t *testing.T) {
	t.Parallel()
	body := []byte(`{"nonce":"n-1","name":"memory","version":"1"}`)
	sign := func(key string, at time.Time, mutate func(*http.Request)) *http.Request {
		r := httptest.NewRequest("POST", "http://platform.test/api/v1/connectors/callback", strings.NewReader(string(body)))
		connector.SignRequest(r, key, "ping-1", body, at)
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	now := time.Now()
	tests := []struct {
		name string
		r    *http.Request
		want error
	}{
		{"genuine", sign(secret, now, nil), nil},
		{"forged with another secret", sign("guess", now, nil), connector.ErrBadSignature},
		{"unsigned", sign(secret, now, func(r *http.Request) { r.Header.Del(connector.HeaderSignature) }), connector.ErrUnsigned},
		{"replayed late", sign(secret, now.Add(-3*time.Minute), nil), connector.ErrStale},
		{"other nonce", sign(secret, now, func(r *http.Request) {
			r.Body = httptest.NewRequest("POST", "/", strings.NewReader(`{"nonce":"n-2"}`)).Body
		}), connector.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := provisioning.VerifyCallback(tt.r, secret, time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyCallback = %v, want %v", err, tt.want)
			}
			if err == nil && string(got) != string(body) {
				t.Fatalf("body %q", got)
			}
			if err != nil && marketplane.ErrorCode(err) != marketplane.EUNAUTHORIZED {
				t.Fatalf("code %q", marketplane.ErrorCode(err))
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	var first, gap atomic.Int64
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		gap.Store(time.Now().UnixNano() - first.Load())
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"t-1","status":"ready"}`)
	})
	opt := fast()
	opt.BackoffMax = 2 * time.Second // lets the 1s Retry-After through
	if _, err := client(t, url, opt).Get(context.Background(), "t-1"); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(gap.Load()); d < 900*time.Millisecond {
		t.Fatalf("retried after %s, want the connector's Retry-After of 1s", d)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x", "/relative", "http://", "http://x/?q=1"} {
		if _, err := provisioning.New(u, "s", provisioning.Options{}); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
	if _, err := provisioning.New("http://x", "", provisioning.Options{}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("New without secret = %v", err)
	}
	// A base path is a prefix of every call, and is signed.
	var path string
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.RequestURI
		if _, err := connector.VerifyRequest(r, secret, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"a/b","status":"ready"}`)
	})
	tn, err := client(t, url+"/pg/", fast()).Get(context.Background(), "a/b")
	if err != nil || tn.ID != "a/b" || path != "/pg/tenants/a%2Fb" {
		t.Fatalf("Get = %+v, %v; path %q", tn, err, path)
	}
}

// TestUsageOfOlderConnectors: a connector written before values were
// decimal strings sends JSON numbers; the platform reads both.
func TestUsageOfOlderConnectors(t *testing.T) {
	t.Parallel()
	url := raw(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"readings":[{"resource":"gb","value":42,"at":"2026-01-01T00:00:00Z"},`+
			`{"resource":"gb_used","value":"13.4","at":"2026-01-01T00:00:00Z"}]}`)
	})
	u, err := client(t, url, fast()).Usage(context.Background(), "t-1")
	if err != nil || len(u) != 2 || u[0].Value.String() != "42" || u[1].Value.String() != "13.4" {
		t.Fatalf("Usage = %+v, %v", u, err)
	}
}
