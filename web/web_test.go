package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/web"
)

type fixture struct {
	db     *store.DB
	srv    *httptest.Server
	client *http.Client
	clock  *marketplane.TestClock
}

func setup(t *testing.T, e store.Engine) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := marketplane.NewTestClock(time.Now())
	db := storetest.OpenURL(t, storetest.URL(t, e))
	db.Clock = clock
	p := &account.Account{Name: "Provider", Address: account.Address{Country: "US"}, Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
	if err := db.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	c := &account.Account{Kind: account.Customer, ParentID: p.ID, Name: "Customer One", Address: account.Address{Country: "DE"},
		Locale: "de-DE", Currency: "EUR", TimeZone: "Europe/Berlin"}
	if err := db.CreateAccount(ctx, account.SystemActor(), c); err != nil {
		t.Fatal(err)
	}
	admin, _ := db.RoleByKey(ctx, account.RoleAdmin)
	u := &account.User{AccountID: p.ID, Login: "Operator@Example.com", RoleIDs: []int64{admin.ID}}
	if err := db.CreateUser(ctx, account.SystemActor(), u, "operator password"); err != nil {
		t.Fatal(err)
	}
	w, err := web.New(web.Config{DB: db, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &fixture{db: db, srv: srv, client: client, clock: clock}
}

func (f *fixture) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *fixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := f.client.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "marketplane_session" {
			return c
		}
	}
	return nil
}

func TestSignInSessionAndSignOut(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		resp, body := f.get(t, "/")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Fatalf("anonymous home: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body = f.get(t, "/login")
		if resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
			t.Fatalf("login form: %d", resp.StatusCode)
		}
		resp = f.post(t, "/login", url.Values{"login": {"operator@example.com"}, "password": {"wrong password"}})
		if resp.StatusCode != http.StatusUnauthorized || sessionCookie(resp) != nil {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		resp = f.post(t, "/login", url.Values{"login": {"operator@example.com"}, "password": {"operator password"}})
		first := sessionCookie(resp)
		if resp.StatusCode != http.StatusSeeOther || first == nil {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		if !first.HttpOnly || first.SameSite != http.SameSiteLaxMode || first.Path != "/" {
			t.Errorf("cookie attributes: %+v", first)
		}
		resp, body = f.get(t, "/")
		if resp.StatusCode != 200 || !strings.Contains(body, "Customer One") || !strings.Contains(body, "Operator@Example.com") {
			t.Fatalf("home after sign in: %d\n%s", resp.StatusCode, body)
		}
		// Signing in again rotates the token.
		resp = f.post(t, "/login", url.Values{"login": {"Operator@Example.com"}, "password": {"operator password"}})
		second := sessionCookie(resp)
		if second == nil || second.Value == first.Value {
			t.Error("the session token was not rotated at sign in")
		}
		// A cross-origin form post is refused (CSRF).
		req, _ := http.NewRequest("POST", f.srv.URL+"/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://elsewhere.example")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin post: %d", resp.StatusCode)
		}
		if r, _ := f.get(t, "/"); r.StatusCode != 200 {
			t.Fatal("the refused cross-origin logout signed the user out")
		}
		// Sign out deletes the session.
		resp = f.post(t, "/logout", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		var n int
		f.db.Read.QueryRow(`SELECT COUNT(*) FROM sessions WHERE token = $1`, second.Value).Scan(&n)
		if n != 0 {
			t.Error("the session survived sign out")
		}
		if r, _ := f.get(t, "/"); r.StatusCode != http.StatusSeeOther {
			t.Error("home still open after sign out")
		}
	})
}

func TestSessionExpiresAndThrottle(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		resp := f.post(t, "/login", url.Values{"login": {"Operator@Example.com"}, "password": {"operator password"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		if r, _ := f.get(t, "/"); r.StatusCode != 200 {
			t.Fatal("not signed in")
		}
		f.clock.Advance(13 * time.Hour)
		if r, _ := f.get(t, "/"); r.StatusCode != http.StatusSeeOther {
			t.Error("a session older than its lifetime still works")
		}
		free := account.LoginLimits[account.ScopePair].Free
		for i := 0; i < free; i++ {
			f.post(t, "/login", url.Values{"login": {"Operator@Example.com"}, "password": {"bad guess"}})
		}
		resp = f.post(t, "/login", url.Values{"login": {"Operator@Example.com"}, "password": {"operator password"}})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("after %d failures: %d, Retry-After %q", free, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// The wait is a second, not a lock: then the owner is in.
		f.clock.Advance(time.Second)
		resp = f.post(t, "/login", url.Values{"login": {"Operator@Example.com"}, "password": {"operator password"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after the wait: %d", resp.StatusCode)
		}
	})
}
