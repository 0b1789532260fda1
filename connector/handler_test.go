package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
)

const secret = "test-secret"

type fixture struct {
	srv *httptest.Server
	mem *connectortest.Memory
}

// setup serves mem (a new Memory when nil) with the SDK's handler on
// loopback.
func setup(t *testing.T, mem *connectortest.Memory, cfg connector.Config) *fixture {
	t.Helper()
	if mem == nil {
		mem = &connectortest.Memory{}
	}
	if cfg.Secret == "" {
		cfg.Secret = secret
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv := httptest.NewServer(connector.Handler(mem, cfg))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, mem: mem}
}

// do sends a request signed with the test secret, now.
func (f *fixture) do(t *testing.T, method, path, reqID string, body any) (*http.Response, []byte) {
	t.Helper()
	return f.doSigned(t, method, path, reqID, body, secret, time.Now())
}

func (f *fixture) doSigned(t *testing.T, method, path, reqID string, body any, key string, at time.Time) (*http.Response, []byte) {
	t.Helper()
	var payload []byte
	switch b := body.(type) {
	case nil:
	case string:
		payload = []byte(b)
	default:
		var err error
		if payload, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		connector.SignRequest(req, key, reqID, payload, at)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
}

func createBody(reqID string) connector.CreateRequest {
	return connector.CreateRequest{RequestID: reqID, SubscriptionID: 42, AccountID: 7,
		Limits: map[string]int64{"storage_mb": 100, "connections": -1}, Parameters: map[string]string{"db_name": "shop"}}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, connector.Config{})
	tests := []struct {
		name string
		key  string
		at   time.Time
		want string
	}{
		{"unsigned", "", time.Now(), "not signed"},
		{"wrong secret", "other", time.Now(), "bad signature"},
		{"stale", secret, time.Now().Add(-10 * time.Minute), "stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.doSigned(t, "POST", "/tenants", "sub-1-create", createBody("sub-1-create"), tt.key, tt.at)
			wantStatus(t, resp, body, http.StatusUnauthorized)
			if e := decode[connector.ErrorReply](t, body); !strings.Contains(e.Error, tt.want) {
				t.Fatalf("error %q, want it to say %q", e.Error, tt.want)
			}
		})
	}
	if n := f.mem.Calls("create"); n != 0 {
		t.Fatalf("the service was called %d times for refused requests", n)
	}
	// Health needs no signature.
	resp, err := http.Get(f.srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestManifest(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, connector.Config{})
	resp, body := f.do(t, "GET", "/manifest", "m-1", nil)
	wantStatus(t, resp, body, http.StatusOK)
	m := decode[connector.Manifest](t, body)
	if m.Name != "memory" || len(m.Resources) != 4 || m.Resources[0].Class != "limit" || m.Parameters[1].Choices[1] != "us" {
		t.Fatalf("manifest %+v", m)
	}
	// snake_case on the wire.
	if !strings.Contains(string(body), `"resources":[{"key":"storage_mb","name":{"en":"Storage"},"unit":"MB","class":"limit"}`) {
		t.Fatalf("manifest JSON %s", body)
	}
}

func TestCreateSync(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, connector.Config{})
	resp, body := f.do(t, "POST", "/tenants", "sub-42-create", createBody("sub-42-create"))
	wantStatus(t, resp, body, http.StatusCreated)
	tn := decode[connector.Tenant](t, body)
	if tn.ID == "" || tn.Status != connector.StatusReady || tn.Limits["storage_mb"] != 100 || tn.Attributes["host"] == "" {
		t.Fatalf("tenant %+v", tn)
	}
	if resp.Header.Get("Location") != "" {
		t.Fatalf("a finished tenant has a Location")
	}
}

func TestCreateAsync(t *testing.T) {
	t.Parallel()
	f := setup(t, &connectortest.Memory{Steps: 2}, connector.Config{RetryAfter: 1500 * time.Millisecond})
	resp, body := f.do(t, "POST", "/tenants", "sub-42-create", createBody(""))
	wantStatus(t, resp, body, http.StatusAccepted)
	tn := decode[connector.Tenant](t, body)
	if tn.Status != connector.StatusProvisioning {
		t.Fatalf("status %q", tn.Status)
	}
	if loc := resp.Header.Get("Location"); loc != "/tenants/"+tn.ID {
		t.Fatalf("Location %q", loc)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Fatalf("Retry-After %q, want 2 (whole seconds, rounded up)", ra)
	}
	for _, want := range []string{connector.StatusProvisioning, connector.StatusReady} {
		resp, body = f.do(t, "GET", "/tenants/"+tn.ID, "get-1", nil)
		wantStatus(t, resp, body, http.StatusOK)
		if got := decode[connector.Tenant](t, body); got.Status != want {
			t.Fatalf("status %q, want %q", got.Status, want)
		}
	}
	if resp.Header.Get("Retry-After") != "" {
		t.Fatalf("a ready tenant has a Retry-After")
	}
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, connector.Config{})
	req := connector.CreateRequest{
		Limits:     map[string]int64{"storage_mb": -5, "nope": 1, "backups": 2},
		Parameters: map[string]string{"region": "mars", "colour": "red", "db_name": "Bad Name"},
	}
	resp, body := f.do(t, "POST", "/tenants", "sub-1-create", req)
	wantStatus(t, resp, body, http.StatusBadRequest)
	e := decode[connector.ErrorReply](t, body)
	for _, k := range []string{"limits.storage_mb", "limits.nope", "limits.backups", "parameters.region", "parameters.colour", "parameters.db_name"} {
		if e.Fields[k] == "" {
			t.Errorf("no field error for %s: %+v", k, e.Fields)
		}
	}
	// A missing required parameter.
	resp, body = f.do(t, "POST", "/tenants", "sub-2-create", connector.CreateRequest{})
	wantStatus(t, resp, body, http.StatusBadRequest)
	if e := decode[connector.ErrorReply](t, body); e.Fields["parameters.db_name"] != "is required" {
		t.Fatalf("fields %+v", e.Fields)
	}
	// A body request id that is not the signed one.
	resp, body = f.do(t, "POST", "/tenants", "sub-3-create", createBody("sub-4-create"))
	wantStatus(t, resp, body, http.StatusBadRequest)
	if e := decode[connector.ErrorReply](t, body); e.Fields["request_id"] == "" {
		t.Fatalf("fields %+v", e.Fields)
	}
	// Malformed JSON, and not JSON at all.
	resp, body = f.do(t, "POST", "/tenants", "sub-5-create", `{"limits":`)
	wantStatus(t, resp, body, http.StatusBadRequest)
	if f.mem.Calls("create") != 0 {
		t.Fatalf("the service saw invalid requests")
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, connector.Config{})
	resp1, body1 := f.do(t, "POST", "/tenants", "sub-42-create", createBody("sub-42-create"))
	wantStatus(t, resp1, body1, http.StatusCreated)
	resp2, body2 := f.do(t, "POST", "/tenants", "sub-42-create", createBody("sub-42-create"))
	wantStatus(t, resp2, body2, http.StatusCreated)
	if !bytes.Equal(body1, body2) || resp2.Header.Get(connector.HeaderReplay) != "true" {
		t.Fatalf("replay %s (%q), want %s", body2, resp2.Header.Get(connector.HeaderReplay), body1)
	}
	if n, calls := len(f.mem.Tenants()), f.mem.Calls("create"); n != 1 || calls != 1 {
		t.Fatalf("%d tenants, %d calls of Create; want 1 and 1 (replayed from the cache)", n, calls)
	}

	// The same request id for another request is a conflict.
	other := createBody("sub-42-create")
	other.Limits["storage_mb"] = 200
	resp, body := f.do(t, "POST", "/tenants", "sub-42-create", other)
	wantStatus(t, resp, body, http.StatusConflict)

	// Without the cache (a restarted connector), the Service's own mapping
	// keeps it to one tenant.
	g := setup(t, f.mem, connector.Config{ReplayCache: -1})
	resp3, body3 := g.do(t, "POST", "/tenants", "sub-42-create", createBody("sub-42-create"))
	wantStatus(t, resp3, body3, http.StatusCreated)
	if decode[connector.Tenant](t, body3).ID != decode[connector.Tenant](t, body1).ID || len(f.mem.Tenants()) != 1 {
		t.Fatalf("a second tenant: %s", body3)
	}
}

func TestConcurrentRetriesRunOnce(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var entered atomic.Int32
	inCreate := make(chan struct{}, 5)
	mem := &connectortest.Memory{Hook: func(op, id string) error {
		if op == "create" {
			entered.Add(1)
			inCreate <- struct{}{}
			<-release
		}
		return nil
	}}
	// The SDK's handler behind a door that counts the requests in.
	arrived := make(chan struct{}, 5)
	h := connector.Handler(mem, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, mem: mem}
	var wg sync.WaitGroup
	bodies := make([][]byte, 5)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := f.do(t, "POST", "/tenants", "sub-9-create", createBody("sub-9-create"))
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			bodies[i] = body
		}()
	}
	// The first is let go only once all five are in the handler and one
	// of them is inside Create: the others find it in flight and wait for
	// its answer (or, the last of them, find that answer kept).
	for range bodies {
		waitFor(t, arrived, "the five requests in the handler")
	}
	waitFor(t, inCreate, "a request inside Create")
	close(release)
	wg.Wait()
	if n := entered.Load(); n != 1 {
		t.Fatalf("Create ran %d times for one request id", n)
	}
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Fatalf("answers differ: %s vs %s", b, bodies[0])
		}
	}
}

func TestFailuresAreNotCached(t *testing.T) {
	t.Parallel()
	var fails atomic.Int32
	fails.Store(1)
	mem := &connectortest.Memory{Hook: func(op, id string) error {
		if op == "create" && fails.Add(-1) >= 0 {
			return errors.New("backend is restarting")
		}
		return nil
	}}
	f := setup(t, mem, connector.Config{})
	resp, body := f.do(t, "POST", "/tenants", "sub-1-create", createBody("sub-1-create"))
	wantStatus(t, resp, body, http.StatusInternalServerError)
	if e := decode[connector.ErrorReply](t, body); !strings.Contains(e.Error, "backend is restarting") {
		t.Fatalf("error %q", e.Error)
	}
	resp, body = f.do(t, "POST", "/tenants", "sub-1-create", createBody("sub-1-create"))
	wantStatus(t, resp, body, http.StatusCreated)
}

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	var gotID atomic.Value
	mem := &connectortest.Memory{Hook: func(op, id string) error {
		gotID.Store(id)
		switch op {
		case "suspend":
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "maintenance")
		case "resume":
			panic("boom")
		case "update":
			return connector.Invalid(map[string]string{"limits.storage_mb": "at most 50 here"})
		}
		return nil
	}}
	f := setup(t, mem, connector.Config{})
	resp, body := f.do(t, "GET", "/tenants/a%2Fb", "get-1", nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	if id := gotID.Load(); id != "a/b" {
		t.Fatalf("the service got id %q, want a/b", id)
	}
	resp, body = f.do(t, "POST", "/tenants/t-1/suspend", "s-1", nil)
	wantStatus(t, resp, body, http.StatusServiceUnavailable)
	resp, body = f.do(t, "POST", "/tenants/t-1/resume", "r-1", nil)
	wantStatus(t, resp, body, http.StatusInternalServerError)
	resp, body = f.do(t, "PUT", "/tenants/t-1", "u-1", connector.UpdateRequest{Limits: map[string]int64{"storage_mb": 100}})
	wantStatus(t, resp, body, http.StatusBadRequest)
	if e := decode[connector.ErrorReply](t, body); e.Fields["limits.storage_mb"] != "at most 50 here" {
		t.Fatalf("fields %+v", e.Fields)
	}
	resp, body = f.do(t, "GET", "/nowhere", "x-1", nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = f.do(t, "POST", "/tenants", "c-1", strings.Repeat(" ", connector.MaxBody+1))
	wantStatus(t, resp, body, http.StatusRequestEntityTooLarge)
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t, &connectortest.Memory{}, connector.Config{})
	resp, body := f.do(t, "POST", "/tenants", "sub-1-create", createBody("sub-1-create"))
	wantStatus(t, resp, body, http.StatusCreated)
	id := decode[connector.Tenant](t, body).ID

	resp, body = f.do(t, "PUT", "/tenants/"+id, "sub-1-update-1", connector.UpdateRequest{Limits: map[string]int64{"storage_mb": 500}})
	wantStatus(t, resp, body, http.StatusOK)
	if tn := decode[connector.Tenant](t, body); tn.Limits["storage_mb"] != 500 || tn.Limits["connections"] != -1 || tn.Parameters["db_name"] != "shop" {
		t.Fatalf("after update %+v", tn)
	}
	resp, body = f.do(t, "POST", "/tenants/"+id+"/suspend", "sub-1-suspend-1", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if tn := decode[connector.Tenant](t, body); tn.Status != connector.StatusSuspended {
		t.Fatalf("after suspend %+v", tn)
	}
	resp, body = f.do(t, "POST", "/tenants/"+id+"/resume", "sub-1-resume-1", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if tn := decode[connector.Tenant](t, body); tn.Status != connector.StatusReady {
		t.Fatalf("after resume %+v", tn)
	}

	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.mem.SetUsage(id, []connector.UsageReading{
		{Resource: "storage_mb", Value: decimal.MustParse("13.4")},
		{Resource: "requests", Value: connector.Units(1000), Additive: true, At: at},
	})
	resp, body = f.do(t, "GET", "/tenants/"+id+"/usage", "usage-1", nil)
	wantStatus(t, resp, body, http.StatusOK)
	u := decode[connector.UsageReply](t, body)
	if len(u.Readings) != 2 || u.Readings[0].At.IsZero() || !u.Readings[1].At.Equal(at) || !u.Readings[1].Additive {
		t.Fatalf("usage %s", body)
	}
	// Values travel as decimal strings: 13.4 GB is not rounded to 13.
	if !strings.Contains(string(body), `"value":"13.4"`) || !strings.Contains(string(body), `"value":"1000"`) {
		t.Fatalf("usage values are not decimal strings: %s", body)
	}

	resp, body = f.do(t, "DELETE", "/tenants/"+id, "sub-1-delete", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if tn := decode[connector.Tenant](t, body); tn.Status != connector.StatusDeleted {
		t.Fatalf("after delete %+v", tn)
	}
}

func TestDeleteAsync(t *testing.T) {
	t.Parallel()
	f := setup(t, &connectortest.Memory{}, connector.Config{})
	_, body := f.do(t, "POST", "/tenants", "sub-1-create", createBody("sub-1-create"))
	id := decode[connector.Tenant](t, body).ID
	f.mem.Steps = 1
	resp, body := f.do(t, "DELETE", "/tenants/"+id, "sub-1-delete", nil)
	wantStatus(t, resp, body, http.StatusAccepted)
	if resp.Header.Get("Location") == "" || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("headers %v", resp.Header)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	var got connector.Callback
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := connector.VerifyRequest(r, secret, time.Now(), time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		json.Unmarshal(body, &got)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(platform.Close)
	f := setup(t, nil, connector.Config{})
	resp, body := f.do(t, "POST", "/ping", "ping-1", connector.PingRequest{CallbackURL: platform.URL + "/connectors/callback", Nonce: "n-123"})
	wantStatus(t, resp, body, http.StatusOK)
	if decode[connector.PingReply](t, body).Nonce != "n-123" || got.Nonce != "n-123" || got.Name != "memory" {
		t.Fatalf("reply %s, callback %+v", body, got)
	}

	// A connector with another secret cannot answer the platform's check.
	g := setup(t, nil, connector.Config{Secret: "impostor"})
	resp, body = g.doSigned(t, "POST", "/ping", "ping-2", connector.PingRequest{CallbackURL: platform.URL + "/cb", Nonce: "n-456"}, "impostor", time.Now())
	wantStatus(t, resp, body, http.StatusBadGateway)
	if !strings.Contains(string(body), "401") {
		t.Fatalf("reply %s", body)
	}

	resp, body = f.do(t, "POST", "/ping", "ping-3", connector.PingRequest{CallbackURL: "file:///etc/passwd"})
	wantStatus(t, resp, body, http.StatusBadRequest)
	if e := decode[connector.ErrorReply](t, body); e.Fields["callback_url"] == "" || e.Fields["nonce"] == "" {
		t.Fatalf("fields %+v", e.Fields)
	}
}

func TestHandlerRefusesBadSetup(t *testing.T) {
	t.Parallel()
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("no secret", func() { connector.Handler(&connectortest.Memory{}, connector.Config{}) })
	bad := connectortest.Manifest()
	bad.Resources[0].Class = "Limit"
	mustPanic("bad manifest", func() { connector.Handler(&connectortest.Memory{Spec: &bad}, connector.Config{Secret: "x"}) })
}

func TestManifestValidate(t *testing.T) {
	t.Parallel()
	m := connector.Manifest{
		Resources: []connector.ResourceSpec{
			{Key: "Disk", Class: "limit"},
			{Key: "ok", Name: map[string]string{"en": "OK"}, Unit: "x", Class: "gauge"},
			{Key: "ok", Name: map[string]string{"en": "OK"}, Unit: "x", Class: "meter"},
		},
		Parameters: []connector.ParamSpec{
			{Key: "size", Type: "enum"},
			{Key: "name", Type: "string", Pattern: "("},
			{Key: "n", Type: "int", Choices: []string{"1", "two"}},
			{Key: "flag", Type: "float"},
		},
	}
	err := m.Validate()
	var e *marketplane.Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate = %v", err)
	}
	for _, k := range []string{"name", "version", "resources[0].key", "resources[0].name", "resources[0].unit",
		"resources[2].key", "resources[2].class", "parameters[0].choices", "parameters[1].pattern", "parameters[2].choices", "parameters[3].type"} {
		if e.Fields[k] == "" {
			t.Errorf("no error for %s: %s", k, e.FieldList())
		}
	}
	if err := connectortest.Manifest().Validate(); err != nil {
		t.Fatalf("the test manifest: %v", err)
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := connector.Handler(&connectortest.Memory{}, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- connector.Run(ctx, ln, h) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// waitFor waits for a signal on c, at most ten seconds.
func waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited ten seconds for %s", what)
	}
}
