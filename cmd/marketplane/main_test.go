package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// testConfig is a server configuration on port 0 over the database at dbURL.
func testConfig(dbURL string) Config {
	return Config{DB: dbURL, Addr: "127.0.0.1:0", LogFormat: "text", LogLevel: "error", Workers: true,
		TaskRetentionDays: 90, TaskPollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		PasswordHashMemory: 64}
}

// start runs a server like `marketplane serve` does and stops it with the test.
func start(t *testing.T, c Config) (*Main, *bytes.Buffer) {
	t.Helper()
	out := &bytes.Buffer{}
	m := &Main{Config: c, Out: out}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m, out
}

func get(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthDemoAndAPI(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		c := testConfig(storetest.URL(t, e))
		c.Demo = true
		m, out := start(t, c)
		for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/login"} {
			if code, _ := get(t, http.DefaultClient, m.URL()+path); code != 200 {
				t.Errorf("GET %s = %d", path, code)
			}
		}
		if !strings.Contains(out.String(), "provider-admin") || !strings.Contains(out.String(), "demo-provider-admin-pw") {
			t.Fatalf("demo logins not printed:\n%s", out)
		}
		// A demo login signs in to the panel and reaches the API by session.
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		req, _ := http.NewRequest("POST", m.URL()+"/login", strings.NewReader(url.Values{
			"login": {"l1-1-admin"}, "password": {"demo-l1-1-admin-pw"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", m.URL())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		code, body := get(t, client, m.URL()+"/api/v1/accounts/me")
		if code != 200 || !strings.Contains(body, `"level":"L1"`) {
			t.Fatalf("accounts/me by session: %d %s", code, body)
		}
		if code, _ := get(t, http.DefaultClient, m.URL()+"/api/v1/accounts/me"); code != http.StatusUnauthorized {
			t.Errorf("accounts/me without credentials: %d", code)
		}
		code, metrics := get(t, http.DefaultClient, m.URL()+"/metrics")
		if code != 200 || !strings.Contains(metrics, `marketplane_http_requests_total{code="200",pattern="GET /healthz"}`) {
			t.Errorf("metrics do not count requests by pattern:\n%.2000s", metrics)
		}
	})
}

func TestFirstStartCreatesProviderAdmin(t *testing.T) {
	t.Parallel()
	dbURL := filepath.Join(t.TempDir(), "first.db")
	_, out := start(t, testConfig(dbURL))
	if !strings.Contains(out.String(), `login "admin"`) {
		t.Fatalf("no first administrator printed:\n%s", out)
	}
	pw := strings.Split(strings.Split(out.String(), `password "`)[1], `"`)[0]
	db := storetest.OpenURL(t, dbURL)
	if _, err := db.Login(context.Background(), "admin", pw, "127.0.0.1"); err != nil {
		t.Fatalf("the printed password does not work: %v", err)
	}
}

// TestTwoProcessesShareOnePostgreSQL runs two servers on one database: what
// one writes, the other serves, and a panel session from one works on the
// other.
func TestTwoProcessesShareOnePostgreSQL(t *testing.T) {
	t.Parallel()
	u := storetest.URL(t, store.Postgres)
	c := testConfig(u)
	c.Demo = true
	a, _ := start(t, c)
	c.Demo = false
	b, _ := start(t, c)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	req, _ := http.NewRequest("POST", a.URL()+"/login", strings.NewReader(url.Values{
		"login": {"provider-admin"}, "password": {"demo-provider-admin-pw"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.URL())
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The cookie jar is per host:port, so carry the session over by hand.
	au, _ := url.Parse(a.URL())
	bu, _ := url.Parse(b.URL())
	jar.SetCookies(bu, jar.Cookies(au))
	code, body := get(t, client, b.URL()+"/api/v1/accounts/me")
	if code != 200 || !strings.Contains(body, `"kind":"provider"`) {
		t.Fatalf("session of A on B: %d %s", code, body)
	}
	code, body = get(t, client, b.URL()+"/api/v1/accounts/1/descendants/count")
	if code != 200 || !strings.Contains(body, "312") {
		t.Errorf("B counts the demo written through A: %d %s", code, body)
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "cli.db")
	st, err := storetest.Open(t, store.SQLite).MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest := st.Latest
	cases := []struct {
		name string
		args []string
		code int
		out  string // expected in stdout+stderr
	}{
		{"no command", nil, 2, "Usage: marketplane"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"version", []string{"version"}, 0, "marketplane "},
		{"bad flag", []string{"serve", "--no-such-flag"}, 2, "flag provided but not defined"},
		{"bad log format", []string{"serve", "--log-format", "xml", "--db", dbPath}, 2, "--log-format"},
		{"bad duration", []string{"serve", "--shutdown-timeout", "soon", "--db", dbPath}, 2, "--shutdown-timeout"},
		{"unreachable database", []string{"serve", "--db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "--addr", "127.0.0.1:0"}, 1, "cannot be reached"},
		{"migrate", []string{"migrate", "--db", dbPath}, 0, fmt.Sprintf("schema version %d, this binary knows %[1]d", latest)},
		{"migrate status", []string{"migrate", "status", "--db", dbPath}, 0, fmt.Sprintf("schema version %d", latest)},
		{"migrate nonsense", []string{"migrate", "sideways", "--db", dbPath}, 2, "unknown action"},
		{"tasks without action", []string{"tasks"}, 2, "say list"},
		{"tasks list", []string{"tasks", "list", "--db", dbPath}, 0, "no tasks"},
		{"tasks bad status", []string{"tasks", "list", "--status", "sleeping", "--db", dbPath}, 1, "sleeping"},
		{"tasks retry bad id", []string{"tasks", "retry", "x", "--db", dbPath}, 2, "not a task id"},
		{"tasks retry unknown", []string{"tasks", "retry", "99999", "--db", dbPath}, 1, "not found"},
		{"bench without name", []string{"bench"}, 2, "name a benchmark"},
		{"bench unknown", []string{"bench", "nope", "--db", dbPath}, 1, "unknown benchmark"},
		{"demo", []string{"demo", "--db", dbPath}, 0, "provider-admin"},
		{"demo again", []string{"demo", "--db", dbPath}, 0, "nothing changed"},
		{"openapi", []string{"openapi"}, 0, `"openapi":"3.1`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(ctx, c.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(all, c.out) {
			t.Errorf("%s: exit %d, want %d with %q; output:\n%.1500s", c.name, code, c.code, c.out, all)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		u := storetest.URL(t, e)
		db := storetest.OpenURL(t, u)
		if _, err := db.Write.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, $1)`, true); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--db", u, "--addr", "127.0.0.1:0"}, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "upgrade marketplane") {
			t.Fatalf("serve on a newer schema: exit %d\n%s", code, stderr.String())
		}
	})
}

// syncBuffer is a buffer written by the server goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeShutsDownGracefully runs `serve` as main does and cancels its
// context, as SIGTERM does: the command returns 0 and the port is closed.
func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "s.db"), "--addr", "127.0.0.1:0",
			"--password-hash-memory", "64", "--log-level", "error"}, &stdout, &stderr)
	}()
	var base string
	for i := 0; i < 200 && base == ""; i++ {
		if _, rest, ok := strings.Cut(stdout.String(), "is running at "); ok {
			base, _, _ = strings.Cut(rest, " ")
		}
		time.Sleep(25 * time.Millisecond)
	}
	if base == "" {
		t.Fatalf("serve did not start:\n%s\n%s", stdout.String(), stderr.String())
	}
	if code, _ := get(t, http.DefaultClient, base+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}
