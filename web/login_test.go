package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/web"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local (any of 127.0.0.0/8 on Linux), so that the server
// sees another client address, as it would another machine.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// signIn posts the sign-in form through c and returns the status and the
// Retry-After header.
func signIn(t *testing.T, c *http.Client, base, login, password string, header http.Header) (int, string) {
	t.Helper()
	form := url.Values{"login": {login}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestParallelWrongPasswordsAreThrottled: 200 wrong passwords for one login
// at once from one address get at most the pair's free failures as 401
// and 429 with Retry-After for the rest (the check and the count are one
// transaction); meanwhile the owner signs in from another address with
// the right password at the same instant.
func TestParallelWrongPasswordsAreThrottled(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		attacker := clientFrom("127.0.0.1")
		const n = 200
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, after := signIn(t, attacker, f.srv.URL, "operator@example.com", "bad guess", nil)
				if status == http.StatusTooManyRequests && after == "" {
					t.Error("429 without Retry-After")
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		free := account.LoginLimits[account.ScopePair].Free
		t.Logf("%s: %d × 401, %d × 429 of %d", e, statuses[401], statuses[429], n)
		if statuses[401] != free || statuses[429] != n-free {
			t.Errorf("statuses %v, want %d × 401 and %d × 429", statuses, free, n-free)
		}
		// The owner, from another address, with the clock not moved.
		if status, _ := signIn(t, clientFrom("127.0.0.2"), f.srv.URL, "Operator@Example.com", "operator password", nil); status != http.StatusSeeOther {
			t.Errorf("the owner from another address: %d", status)
		}
		// The attacker's address is still refused, even with the right password.
		if status, _ := signIn(t, attacker, f.srv.URL, "Operator@Example.com", "operator password", nil); status != http.StatusTooManyRequests {
			t.Errorf("the attacker's address with the right password: %d", status)
		}
	})
}

// TestForwardedForIsBelievedOnlyFromTrustedProxies: a client that writes
// X-Forwarded-For itself does not escape the throttle of its address;
// behind a configured proxy each forwarded address has its own counters.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		free := account.LoginLimits[account.ScopePair].Free
		c := clientFrom("127.0.0.3")
		var last int
		for i := range free + 1 {
			last, _ = signIn(t, c, f.srv.URL, "operator@example.com", "bad guess",
				http.Header{"X-Forwarded-For": {netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String()}})
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("an untrusted X-Forwarded-For changed the address: %d", last)
		}

		w, err := web.New(web.Config{DB: f.db, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}})
		if err != nil {
			t.Fatal(err)
		}
		proxied := httptest.NewServer(w)
		t.Cleanup(proxied.Close)
		proxy := clientFrom("127.0.0.4")
		for i := range free {
			// The client wrote a first entry itself; the proxy appended
			// the address it saw. Only the latter counts.
			status, _ := signIn(t, proxy, proxied.URL, "operator@example.com", "bad guess",
				http.Header{"X-Forwarded-For": {"203.0.113.9, 192.0.2.1"}})
			if status != http.StatusUnauthorized {
				t.Fatalf("attempt %d through the proxy: %d", i+1, status)
			}
		}
		if status, _ := signIn(t, proxy, proxied.URL, "operator@example.com", "bad guess",
			http.Header{"X-Forwarded-For": {"203.0.113.9, 192.0.2.1"}}); status != http.StatusTooManyRequests {
			t.Errorf("192.0.2.1 through the proxy after %d failures: %d", free, status)
		}
		if status, _ := signIn(t, proxy, proxied.URL, "Operator@Example.com", "operator password",
			http.Header{"X-Forwarded-For": {"192.0.2.2"}}); status != http.StatusSeeOther {
			t.Errorf("another client through the proxy: %d", status)
		}
		var n int
		if err := f.db.Read.QueryRowContext(context.Background(),
			`SELECT COUNT(*) FROM login_attempts WHERE ip = $1`, "192.0.2.1").Scan(&n); err != nil || n != free {
			t.Errorf("attempts logged for 192.0.2.1: %d (%v)", n, err)
		}
	})
}
