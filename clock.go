package marketplane

import (
	"sync"
	"time"
)

// Clock tells the time. Domain code never calls time.Now: it is handed a
// Clock, so tests and the billing simulator can choose the date.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// TestClock is a settable clock for tests and simulations. Safe for
// concurrent use.
type TestClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewTestClock returns a clock stopped at t.
func NewTestClock(t time.Time) *TestClock { return &TestClock{now: t.UTC()} }

// Now returns the clock's time.
func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *TestClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *TestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// RealTime is the wall time behind c, for what keeps real time even on a
// sandbox whose test clock its operator sets (panel sessions, whose cookies
// expire in the browser's time; the sign-in throttle, which must not lock a
// user out until someone moves the clock; task housekeeping, which River
// stamps in real time). A clock that knows the wall time apart from its own
// says so with a RealTime method (store.TestClock); for any other clock it
// is c.Now(), so that tests which set a clock move these too.
func RealTime(c Clock) time.Time {
	if r, ok := c.(interface{ RealTime() time.Time }); ok {
		return r.RealTime()
	}
	return c.Now()
}
