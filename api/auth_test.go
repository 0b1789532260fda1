package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := marketplane.NewTestClock(time.Now())
		db.Clock = clock
		f := setup(t, db)
		for _, c := range []struct {
			name   string
			header string
		}{
			{"no key", ""},
			{"not a bearer", "Basic YWRtaW46YWRtaW4="},
			{"empty bearer", "Bearer "},
			{"garbage", "Bearer nonsense"},
			{"unknown key", "Bearer mpk_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
			{"wrong secret", "Bearer " + f.keys["L1a"][:strings.LastIndexByte(f.keys["L1a"], '_')] + "_wrongsecret"},
		} {
			var r *response
			if c.header == "" {
				r = f.call(t, "", "GET", "/accounts/me", nil)
			} else {
				r = f.call(t, "", "GET", "/accounts/me", nil, "Authorization", c.header)
			}
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s: status %d: %s", c.name, r.Status, r.Body)
				continue
			}
			r.Problem(t)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", c.name, r.Header.Get("WWW-Authenticate"))
			}
		}

		// A revoked key stops working at once.
		k, token, err := db.CreateAPIKey(context.Background(), account.SystemActor(), f.L1a.ID,
			f.roles[account.RoleSupport].ID, "soon revoked", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		f.keys["revoked"] = token
		f.must(t, 200, "revoked", "GET", "/accounts/me", nil)
		f.must(t, 200, "L1a", "POST", "/api-keys/"+id(k.ID)+"/revoke", nil)
		f.must(t, 401, "revoked", "GET", "/accounts/me", nil).Problem(t)

		// An expired key too.
		_, token, err = db.CreateAPIKey(context.Background(), account.SystemActor(), f.L1a.ID,
			f.roles[account.RoleSupport].ID, "short-lived", clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		f.keys["expiring"] = token
		f.must(t, 200, "expiring", "GET", "/accounts/me", nil)
		clock.Advance(time.Hour)
		f.must(t, 401, "expiring", "GET", "/accounts/me", nil)

		// Keys of a cancelled account stop working.
		f.must(t, 200, "L2", "POST", "/accounts/"+id(f.C.ID)+"/status", map[string]any{"status": "cancelled"})
		f.must(t, 401, "C", "GET", "/accounts/me", nil)
	})
}

// TestScope: a key acts with its role, nothing more.
func TestScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		// The support role reads but never writes.
		f.must(t, 200, "L1a-support", "GET", "/accounts?descendants=true", nil)
		f.must(t, 200, "L1a-support", "GET", "/accounts/"+id(f.C.ID), nil)
		p := f.must(t, 403, "L1a-support", "POST", "/accounts", newCustomerBody(f.L1a.ID, "Not allowed")).Problem(t)
		if p.Detail == "" {
			t.Errorf("403 without detail")
		}
		f.must(t, 403, "L1a-support", "POST", "/accounts", newCustomerBody(f.L2.ID, "Not allowed"))
		f.must(t, 403, "L1a-support", "PATCH", "/accounts/"+id(f.L2.ID), map[string]any{"name": "Not allowed"})
		f.must(t, 403, "L1a-support", "POST", "/accounts/"+id(f.L1a.ID)+"/api-keys",
			map[string]any{"name": "Not allowed", "role_id": f.roles[account.RoleSupport].ID})
		f.must(t, 403, "L1a-support", "POST", "/tasks/1/retry", nil)

		// Nobody cancels or deletes its own account.
		f.must(t, 403, "L1a", "POST", "/accounts/"+id(f.L1a.ID)+"/status", map[string]any{"status": "cancelled"})
		f.must(t, 403, "L1a", "DELETE", "/accounts/"+id(f.L1a.ID), nil)
	})
}

// TestSessionAuthenticate checks the fallback for panel sessions: used only
// without an Authorization header, and only for same-origin requests.
func TestSessionAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		actor, err := db.ActorForUser(context.Background(), f.admins["L2"].ID)
		if err != nil {
			t.Fatal(err)
		}
		a := New(Config{DB: db, Logger: slog.New(slog.DiscardHandler), Authenticate: func(r *http.Request) (*account.Actor, error) {
			c, err := r.Cookie("session")
			switch {
			case errors.Is(err, http.ErrNoCookie):
				return nil, nil
			case c.Value == "good":
				return actor, nil
			case c.Value == "broken":
				return nil, errors.New("session store down")
			}
			return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "session expired")
		}})
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		// Revoking a key that does not exist: 404 once authenticated.
		post := func(cookie string, headers ...string) int {
			req, _ := http.NewRequest("POST", srv.URL+Prefix+"/api-keys/987654/revoke", nil)
			if cookie != "" {
				req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		req, _ := http.NewRequest("GET", srv.URL+Prefix+"/accounts/me", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: "good"})
		req.Header.Set("Sec-Fetch-Site", "cross-site") // reads are safe
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me Account
		if err := json.NewDecoder(res.Body).Decode(&me); err != nil || me.ID != f.L2.ID {
			t.Errorf("session's account: %+v, %v", me, err)
		}
		res.Body.Close()

		for _, c := range []struct {
			name    string
			cookie  string
			headers []string
			want    int
		}{
			{"session", "good", nil, 404},
			{"same-origin fetch", "good", []string{"Sec-Fetch-Site", "same-origin"}, 404},
			{"cross-site request", "good", []string{"Sec-Fetch-Site", "cross-site"}, 403},
			{"cross-origin form", "good", []string{"Origin", "https://evil.example"}, 403},
			{"no cookie", "", nil, 401},
			{"expired session", "old", nil, 401},
			{"session store down", "broken", nil, 500},
			// A bearer header wins over the cookie, and must be valid.
			{"bad bearer with good cookie", "good", []string{"Authorization", "Bearer nonsense"}, 401},
			{"bearer cross-site", "", []string{"Authorization", "Bearer " + f.keys["L1a"], "Sec-Fetch-Site", "cross-site"}, 404},
		} {
			if got := post(c.cookie, c.headers...); got != c.want {
				t.Errorf("%s: status %d, want %d", c.name, got, c.want)
			}
		}
	})
}

func TestNoRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		f.must(t, 404, "L1a", "GET", "/no/such/thing", nil).Problem(t)
		r := f.must(t, 405, "L1a", "PUT", "/accounts", nil)
		r.Problem(t)
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Errorf("Allow %q", allow)
		}
	})
}
