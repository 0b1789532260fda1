package account

import (
	"fmt"
	"math"
	"time"

	"github.com/marketplane/marketplane"
)

// LoginLimits are the rules of sign-in throttling. Every attempt passes
// three counters of failures:
//
//   - the pair (login, address): strict. Five failures back to back, then
//     each further attempt waits 1 s, 2 s, 4 s … up to 15 minutes. This is
//     what stops one attacker guessing one login.
//   - the address, any login: strict too, with more room (20 failures, for
//     offices behind one NAT), then 1 s doubling up to 15 minutes. This
//     stops one address trying a password over many logins.
//   - the login, any address: mild. 50 failures, then 1 s doubling up to
//     only 30 s. This slows guessing spread over many addresses to at most
//     one guess every 30 s, and never shuts the true owner out for long.
//
// There is no hard lock. A lock keyed by the login alone is a denial of
// service against its owner for anyone who knows the name: failures from
// an address X throttle X hard, and throttle the login for everyone else
// only after far more failures than one address can reach quickly (from X
// alone 17 in the first hour, 50 after nine hours) and then only by
// seconds. The owner signing in from another address goes through.
//
// A refused attempt does not count: it checks no password, so it tells the
// attacker nothing and must not lengthen anybody's wait. An attempt that
// goes on is counted as a failure in all three counters before its
// password is checked, in the same transaction that read them, so parallel
// attempts cannot all pass one check (AdmitLogin). When the password turns
// out right, SettleLogin clears the pair and the login and takes the
// reserved failure back from the address (whose other failures stay: one
// good sign-in must not clear an address that tries many logins). A
// counter whose last failure is older than LoginForget starts over.
var LoginLimits = map[LoginScope]LoginLimit{
	ScopePair:    {Free: 5, Base: time.Second, Max: 15 * time.Minute},
	ScopeAddress: {Free: 20, Base: time.Second, Max: 15 * time.Minute},
	ScopeLogin:   {Free: 50, Base: time.Second, Max: 30 * time.Second},
}

// LoginScope names one of the three counters.
type LoginScope string

// The scopes, in the order their counters are locked.
const (
	ScopeAddress LoginScope = "address" // one address, any login
	ScopeLogin   LoginScope = "login"   // one login, any address
	ScopePair    LoginScope = "pair"    // one login from one address
)

// LoginScopes lists the scopes in lock order.
var LoginScopes = []LoginScope{ScopeAddress, ScopeLogin, ScopePair}

// LoginLimit is one counter's rule: Free failures may come back to back;
// after that each attempt must wait Base after the last failure, doubling
// with every further failure, up to Max.
type LoginLimit struct {
	Free      int
	Base, Max time.Duration
}

// LoginForget is how long a counter remembers failures: one whose last
// failure is older starts over.
const LoginForget = 24 * time.Hour

// LoginCounter is the state of one counter: failures since it was last
// cleared, and when the last one was.
type LoginCounter struct {
	Failures int
	Last     time.Time
}

// Delay is how long after the last of n failures the next attempt must
// wait: 0 while n < Free, then Base × 2^(n-Free), at most Max.
//
//	pair (Free 5, 1 s, max 15 min): n=4 → 0, 5 → 1 s, 6 → 2 s, 10 → 32 s, 15 → 15 min
func (l LoginLimit) Delay(n int) time.Duration {
	if n < l.Free {
		return 0
	}
	d := l.Base
	for i := l.Free; i < n && d < l.Max; i++ {
		d *= 2
	}
	return min(d, l.Max)
}

// current is c as of now: forgotten when its last failure is older than
// LoginForget.
func (c LoginCounter) current(now time.Time) LoginCounter {
	if c.Failures <= 0 || now.Sub(c.Last) >= LoginForget {
		return LoginCounter{}
	}
	return c
}

// Wait is how long from now counter c refuses attempts under rule l; 0
// when an attempt may go on.
func (l LoginLimit) Wait(c LoginCounter, now time.Time) time.Duration {
	c = c.current(now)
	d := l.Delay(c.Failures)
	if c.Failures == 0 || d == 0 {
		// Free failures come back to back. Checking the delay first
		// matters: an attempt whose clock was read before it waited for
		// the counters' lock may find a Last later than its own now, and
		// a free failure must not turn that into a wait.
		return 0
	}
	return max(0, c.Last.Add(d).Sub(now))
}

// AdmitLogin decides an attempt at now from the counters of its three
// scopes (a missing one is empty). When a counter refuses, it returns the
// longest wait and no counters: nothing is to be written. Otherwise it
// returns the counters with the attempt reserved as a failure, to be
// stored in the transaction that read them.
func AdmitLogin(cs map[LoginScope]LoginCounter, now time.Time) (time.Duration, map[LoginScope]LoginCounter) {
	var wait time.Duration
	for _, s := range LoginScopes {
		wait = max(wait, LoginLimits[s].Wait(cs[s], now))
	}
	if wait > 0 {
		return wait, nil
	}
	next := make(map[LoginScope]LoginCounter, len(LoginScopes))
	for _, s := range LoginScopes {
		// Last never goes back: an attempt that read the clock before
		// another one wrote a later Last keeps that one.
		next[s] = LoginCounter{Failures: cs[s].current(now).Failures + 1, Last: laterOf(now, cs[s].Last)}
	}
	return 0, next
}

// LoginOutcome is what became of an admitted attempt.
type LoginOutcome int

// Outcomes of an attempt after AdmitLogin reserved it as a failure.
const (
	// LoginFailed: the password was wrong (or the user may not sign in);
	// the reserved failure stands.
	LoginFailed LoginOutcome = iota
	// LoginSucceeded: the owner proved the password.
	LoginSucceeded
	// LoginNotChecked: the password was never checked (no room to hash
	// it, the request ended); the attempt is taken back.
	LoginNotChecked
)

// SettleLogin returns counter c of scope s after an admitted attempt ended
// with outcome o (see LoginLimits).
func SettleLogin(s LoginScope, c LoginCounter, o LoginOutcome) LoginCounter {
	switch {
	case o == LoginFailed:
		return c
	case o == LoginSucceeded && s != ScopeAddress:
		return LoginCounter{}
	}
	if c.Failures <= 1 {
		return LoginCounter{}
	}
	c.Failures--
	return c
}

// ThrottledLogin is the refusal of an attempt that must wait.
func ThrottledLogin(wait time.Duration) *RetryLater {
	secs := int(math.Ceil(wait.Seconds()))
	msg := fmt.Sprintf("too many failed sign-ins; try again in %d seconds", secs)
	if secs == 1 {
		msg = "too many failed sign-ins; try again in a second"
	} else if secs > 120 {
		msg = fmt.Sprintf("too many failed sign-ins; try again in %d minutes", int(math.Ceil(wait.Minutes())))
	}
	return &RetryLater{After: time.Duration(secs) * time.Second, Err: marketplane.Errorf(marketplane.ETHROTTLED, "%s", msg)}
}

// laterOf is the later of two times.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
