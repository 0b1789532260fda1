package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// loginSetup opens a database on engine e with a stopped clock, the test
// tree and the user bob (password "password-of-bob"); procs more handles on
// the same database stand for other serve processes.
func loginSetup(t *testing.T, e store.Engine, procs int) (*tree, *marketplane.TestClock, []*store.DB) {
	t.Helper()
	clock := marketplane.NewTestClock(time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC))
	u := storetest.URL(t, e)
	db := storetest.OpenURL(t, u)
	db.Clock = clock
	tr := setup(t, db)
	tr.user(t, tr.A, "bob", tr.admin)
	dbs := []*store.DB{db}
	for range procs {
		other := storetest.OpenURL(t, u)
		other.Clock = clock
		dbs = append(dbs, other)
	}
	return tr, clock, dbs
}

var pairFree = account.LoginLimits[account.ScopePair].Free

// TestLoginParallelAttemptsCountedAtOnce: 200 wrong passwords for one login
// from one address at once, spread over four processes sharing the
// database, pass the throttle exactly the pair's free number of times; the
// others are refused without a password check or a log row.
func TestLoginParallelAttemptsCountedAtOnce(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		tr, _, dbs := loginSetup(t, e, 3)
		const n = 200
		var mu sync.Mutex
		codes := map[string]int{}
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := dbs[i%len(dbs)].Login(tr.ctx, "bob", "wrong password", "203.0.113.7")
				if after, ok := account.RetryAfter(err); marketplane.ErrorCode(err) == marketplane.ETHROTTLED && (!ok || after != time.Second) {
					t.Errorf("throttled without a retry delay of a second: %v", err)
				}
				mu.Lock()
				codes[marketplane.ErrorCode(err)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		t.Logf("%s: %v", e, codes)
		if codes[marketplane.EUNAUTHORIZED] != pairFree || codes[marketplane.ETHROTTLED] != n-pairFree {
			t.Fatalf("outcomes %v, want %d unauthorized and %d throttled", codes, pairFree, n-pairFree)
		}
		if got := count(t, tr.db, "login_attempts"); got != pairFree {
			t.Errorf("%d attempts logged, want %d", got, pairFree)
		}
		// The owner, from another address at the same instant, is in.
		if _, err := tr.db.Login(tr.ctx, "bob", "password-of-bob", "198.51.100.20"); err != nil {
			t.Errorf("the owner from another address: %v", err)
		}
	})
}

// TestLoginBackoffDoubles: after the free failures each attempt waits a
// delay that doubles; the right password after the wait gets in and
// clears the login's counters; a refused attempt lengthens nothing.
func TestLoginBackoffDoubles(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		tr, clock, _ := loginSetup(t, e, 0)
		db := tr.db
		const ip = "203.0.113.8"
		for range pairFree {
			_, err := db.Login(tr.ctx, "bob", "wrong password", ip)
			wantCode(t, err, marketplane.EUNAUTHORIZED)
		}
		for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			// Refused until the wait is over, however often it is tried.
			for range 3 {
				_, err := db.Login(tr.ctx, "bob", "password-of-bob", ip)
				if after, _ := account.RetryAfter(err); marketplane.ErrorCode(err) != marketplane.ETHROTTLED || after != wait {
					t.Fatalf("before %v: %v (retry after %v)", wait, err, after)
				}
			}
			clock.Advance(wait - time.Millisecond)
			_, err := db.Login(tr.ctx, "bob", "wrong password", ip)
			wantCode(t, err, marketplane.ETHROTTLED)
			clock.Advance(time.Millisecond)
			_, err = db.Login(tr.ctx, "bob", "wrong password", ip)
			wantCode(t, err, marketplane.EUNAUTHORIZED)
		}
		clock.Advance(16 * time.Second)
		u, err := db.Login(tr.ctx, "bob", "password-of-bob", ip)
		if err != nil {
			t.Fatalf("after the wait: %v", err)
		}
		if !u.LastLoginAt.Equal(clock.Now()) {
			t.Errorf("last login %v, want %v", u.LastLoginAt, clock.Now())
		}
		// Cleared: the free failures are back at once.
		for range pairFree {
			_, err := db.Login(tr.ctx, "bob", "wrong password", ip)
			wantCode(t, err, marketplane.EUNAUTHORIZED)
		}
		_, err = db.Login(tr.ctx, "bob", "wrong password", ip)
		wantCode(t, err, marketplane.ETHROTTLED)
		var ok, failed int
		db.Read.QueryRow(`SELECT COUNT(*) FROM login_attempts WHERE success = $1`, true).Scan(&ok)
		db.Read.QueryRow(`SELECT COUNT(*) FROM login_attempts WHERE success = $1`, false).Scan(&failed)
		if ok != 1 || failed != 2*pairFree+4 {
			t.Errorf("logged %d successes and %d failures, want 1 and %d", ok, failed, 2*pairFree+4)
		}
	})
}

// TestLoginAddressThrottle: one address guessing over many logins (known
// or not, all answered alike) is throttled by its own counter, and other
// addresses are not.
func TestLoginAddressThrottle(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		tr, _, _ := loginSetup(t, e, 0)
		free := account.LoginLimits[account.ScopeAddress].Free
		for i := range free {
			_, err := tr.db.Login(tr.ctx, fmt.Sprintf("user-%d", i), "some password", "203.0.113.9")
			wantCode(t, err, marketplane.EUNAUTHORIZED)
		}
		_, err := tr.db.Login(tr.ctx, "bob", "password-of-bob", "203.0.113.9")
		wantCode(t, err, marketplane.ETHROTTLED)
		if _, err := tr.db.Login(tr.ctx, "bob", "password-of-bob", "203.0.113.10"); err != nil {
			t.Errorf("another address: %v", err)
		}
		// An empty or impossible login is refused without a trace.
		before := count(t, tr.db, "login_attempts")
		_, err = tr.db.Login(tr.ctx, "  ", "x", "203.0.113.11")
		wantCode(t, err, marketplane.EUNAUTHORIZED)
		_, err = tr.db.Login(tr.ctx, strings.Repeat("a", 121), "x", "203.0.113.11")
		wantCode(t, err, marketplane.EUNAUTHORIZED)
		if count(t, tr.db, "login_attempts") != before {
			t.Error("an impossible login was logged")
		}
	})
}

// TestLoginOwnerWhileAttacked: an attacker guesses bob's password from one
// address for twelve hours, as fast as the throttle lets it; the owner,
// from another address, is in within a minute whenever he comes, even
// right after one of the attacker's failures. Then a thousand addresses
// guess at once: the login's own counter holds them, and the owner still
// waits at most its cap.
func TestLoginOwnerWhileAttacked(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		tr, clock, _ := loginSetup(t, e, 0)
		db := tr.db
		start := clock.Now()
		// owner signs in from 198.51.100.20, retrying after each
		// Retry-After, and returns how long it took.
		owner := func() time.Duration {
			t.Helper()
			began := clock.Now()
			for range 10 {
				_, err := db.Login(tr.ctx, "bob", "password-of-bob", "198.51.100.20")
				if err == nil {
					return clock.Now().Sub(began)
				}
				after, ok := account.RetryAfter(err)
				if !ok {
					t.Fatalf("owner: %v", err)
				}
				clock.Advance(after)
			}
			t.Fatal("the owner never got in")
			return 0
		}
		guesses := 0
		for clock.Now().Sub(start) < 12*time.Hour {
			_, err := db.Login(tr.ctx, "bob", fmt.Sprintf("guess %d", guesses), "203.0.113.66")
			if after, ok := account.RetryAfter(err); ok {
				clock.Advance(after)
				continue
			}
			wantCode(t, err, marketplane.EUNAUTHORIZED)
			guesses++
		}
		// The owner comes right after one of the attacker's failures.
		for {
			_, err := db.Login(tr.ctx, "bob", "one more guess", "203.0.113.66")
			if after, ok := account.RetryAfter(err); ok {
				clock.Advance(after)
				continue
			}
			wantCode(t, err, marketplane.EUNAUTHORIZED)
			guesses++
			break
		}
		t.Logf("%s: %d guesses from one address in 12 h", e, guesses)
		if guesses > 70 {
			t.Errorf("%d guesses in 12 h from one address", guesses)
		}
		took := owner()
		t.Logf("%s: the owner got in after %v", e, took)
		if took > time.Minute {
			t.Errorf("the owner took %v after 12 h of guessing", took)
		}

		// Spread over a thousand addresses, five guesses each, with no owner
		// success in between.
		ips := 1000
		for i := range ips {
			for range pairFree {
				_, err := db.Login(tr.ctx, "bob", "spread guess", fmt.Sprintf("10.%d.%d.1", i/250, i%250))
				if err != nil && marketplane.ErrorCode(err) != marketplane.EUNAUTHORIZED && marketplane.ErrorCode(err) != marketplane.ETHROTTLED {
					t.Fatal(err)
				}
			}
		}
		var failures int
		db.Read.QueryRow(`SELECT failures FROM login_throttle WHERE scope = $1 AND login_key = $2`, "login", "bob").Scan(&failures)
		if failures > account.LoginLimits[account.ScopeLogin].Free+1 {
			t.Errorf("the login counted %d failures at one instant, want at most %d", failures, account.LoginLimits[account.ScopeLogin].Free+1)
		}
		took = owner()
		t.Logf("%s: after the spread attack the owner got in after %v", e, took)
		if took > account.LoginLimits[account.ScopeLogin].Max {
			t.Errorf("the owner took %v after a spread attack", took)
		}
	})
}

// TestPruneLoginAttempts: forgotten and cleared counters go, live ones stay.
func TestPruneLoginAttempts(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		tr, clock, _ := loginSetup(t, e, 0)
		tr.db.Login(tr.ctx, "bob", "wrong password", "203.0.113.1")
		clock.Advance(account.LoginForget + time.Second)
		tr.db.Login(tr.ctx, "carl", "wrong password", "203.0.113.2")
		if _, err := tr.db.PruneLoginAttempts(tr.ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, tr.db, "login_throttle"); n != 3 {
			t.Errorf("%d counters left, want carl's 3", n)
		}
		if n := count(t, tr.db, "login_attempts"); n != 1 {
			t.Errorf("%d attempts left, want 1", n)
		}
	})
}
