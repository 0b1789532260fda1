package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/task"
)

// fixture is a small account tree with an API server in front of it:
//
//	P (provider)
//	├── L1a (reseller)
//	│   └── L2 (reseller)
//	│       └── C (customer)
//	└── L1b (reseller, L1a's sibling)
//
// Every account has an admin user and an admin API key; L1a also has a
// support (read-only) key.
type fixture struct {
	db    *store.DB
	api   *API
	srv   *httptest.Server
	tasks *testTasks

	P, L1a, L1b, L2, C *account.Account
	// admins holds each account's admin user by account name.
	admins map[string]*account.User
	// keys holds each account's admin key token by account name, plus
	// "L1a-support".
	keys  map[string]string
	roles map[string]*account.Role
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	sys := account.SystemActor()
	f := &fixture{db: db, admins: map[string]*account.User{}, keys: map[string]string{}, roles: map[string]*account.Role{}}
	for _, key := range []string{account.RoleAdmin, account.RoleBilling, account.RoleSupport} {
		r, err := db.RoleByKey(ctx, key)
		if err != nil {
			t.Fatalf("role %s: %v", key, err)
		}
		f.roles[key] = r
	}
	f.P = newAccount(t, db, nil, account.Provider, "Provider Inc")
	f.L1a = newAccount(t, db, f.P, account.Reseller, "Alpha Reseller L1a")
	f.L1b = newAccount(t, db, f.P, account.Reseller, "Beta Reseller L1b")
	f.L2 = newAccount(t, db, f.L1a, account.Reseller, "Gamma Reseller L2")
	f.C = newAccount(t, db, f.L2, account.Customer, "Delta Customer C")
	for name, a := range map[string]*account.Account{"P": f.P, "L1a": f.L1a, "L1b": f.L1b, "L2": f.L2, "C": f.C} {
		u := &account.User{AccountID: a.ID, Login: "admin-" + strings.ToLower(name), DisplayName: "Admin of " + name,
			RoleIDs: []int64{f.roles[account.RoleAdmin].ID}}
		if err := db.CreateUser(ctx, sys, u, "correct horse battery"); err != nil {
			t.Fatalf("user of %s: %v", name, err)
		}
		f.admins[name] = u
		f.keys[name] = newKey(t, db, a.ID, f.roles[account.RoleAdmin].ID)
	}
	f.keys["L1a-support"] = newKey(t, db, f.L1a.ID, f.roles[account.RoleSupport].ID)

	f.tasks = newTestTasks(t, db)
	f.api = New(Config{DB: db, Version: "test", Tasks: f.tasks, Logger: slog.New(slog.DiscardHandler), Gateway: gatewaytest.New()})
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", f.api.Handler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func newAccount(t *testing.T, db *store.DB, parent *account.Account, kind account.Kind, name string) *account.Account {
	t.Helper()
	a := &account.Account{Kind: kind, Name: name, Locale: "en-US", Currency: "USD", TimeZone: "UTC",
		Address: account.Address{Country: "US"}}
	var err error
	if parent == nil {
		err = db.CreateProvider(context.Background(), a)
	} else {
		a.ParentID = parent.ID
		err = db.CreateAccount(context.Background(), account.SystemActor(), a)
	}
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return a
}

func newKey(t *testing.T, db *store.DB, accountID, roleID int64) string {
	t.Helper()
	_, token, err := db.CreateAPIKey(context.Background(), account.SystemActor(), accountID, roleID, "test key", time.Time{})
	if err != nil {
		t.Fatalf("API key: %v", err)
	}
	return token
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem decodes a problem document.
func (r *response) Problem(t *testing.T) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p problem
	r.JSON(t, &p)
	if p.Status != r.Status {
		t.Errorf("problem status %d, response status %d", p.Status, r.Status)
	}
	return p
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// locations lists the locations of a problem's field errors.
func (p problem) locations() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Location)
	}
	slices.Sort(out)
	return out
}

// call sends a request with the API key of who ("" for none) and a JSON body
// (nil for none). Extra headers come in name, value pairs.
func (f *fixture) call(t *testing.T, who, method, path string, body any, headers ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	return f.send(t, who, method, path, rd, headers...)
}

// send is call with the body as it is (nil for none), sent as JSON.
func (f *fixture) send(t *testing.T, who, method, path string, rd io.Reader, headers ...string) *response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		token, ok := f.keys[who]
		if !ok {
			t.Fatalf("no key named %s", who)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless the status is want.
func (f *fixture) must(t *testing.T, want int, who, method, path string, body any, headers ...string) *response {
	t.Helper()
	r := f.call(t, who, method, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, who, r.Status, want, r.Body)
	}
	return r
}

func id(n int64) string { return fmt.Sprint(n) }

// testTasks is the task manager of the API tests: a real (insert-only)
// River manager on the test's database, with the task kinds the tests
// queue registered, and add to put a task in any state as a worker would
// leave it.
type testTasks struct {
	Tasks
	tb testing.TB
	m  *task.Manager
	db *store.DB
}

// The task kinds of the API tests; their handlers never run.
type (
	billingRunTask struct {
		N int64 `json:"n"`
	}
	notifyTask struct {
		N int64 `json:"n"`
	}
	provisionTask struct {
		N int64 `json:"n"`
	}
)

func (billingRunTask) Kind() string { return "billing_run" }
func (notifyTask) Kind() string     { return "notify" }
func (provisionTask) Kind() string  { return "provision" }

func newTestTasks(tb testing.TB, db *store.DB) *testTasks {
	tb.Helper()
	if err := task.Migrate(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	m, err := task.New(db, task.Config{InsertOnly: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	task.Handle(m, func(context.Context, *task.Task[billingRunTask]) error { return nil }, task.KindOptions{})
	task.Handle(m, func(context.Context, *task.Task[notifyTask]) error { return nil }, task.KindOptions{})
	task.Handle(m, func(context.Context, *task.Task[provisionTask]) error { return nil }, task.KindOptions{})
	return &testTasks{Tasks: TaskManager(m), tb: tb, m: m, db: db}
}

// riverStates are the states River keeps for the statuses of tasks.
var riverStates = map[string]string{"queued": "available", "running": "running", "retrying": "retryable",
	"failed": "discarded", "completed": "completed", "cancelled": "cancelled"}

// add queues a task of kind ("billing_run", "notify" or "provision") for
// the account at path ("" for none) and puts it in status.
func (m *testTasks) add(path, kind, status string) *Task {
	m.tb.Helper()
	ctx := context.Background()
	var opts []task.Option
	if ids := account.IDs(path); len(ids) > 0 {
		opts = append(opts, task.ForAccount(ids[len(ids)-1], path))
	}
	args := map[string]task.Args{"billing_run": billingRunTask{}, "notify": notifyTask{}, "provision": provisionTask{}}[kind]
	state, ok := riverStates[status]
	if args == nil || !ok {
		m.tb.Fatalf("no task kind %q or status %q", kind, status)
	}
	e, err := m.m.Enqueue(ctx, args, opts...)
	if err != nil {
		m.tb.Fatal(err)
	}
	finalized := "NULL"
	if s := task.Status(status); s.Finished() {
		finalized = "created_at"
	}
	if _, err := m.db.Write.ExecContext(ctx, `UPDATE river_job SET state = $1, attempted_at = created_at, finalized_at = `+
		finalized+` WHERE id = $2`, state, e.ID); err != nil {
		m.tb.Fatal(err)
	}
	tk, err := m.Task(ctx, e.ID)
	if err != nil {
		m.tb.Fatal(err)
	}
	return tk
}
