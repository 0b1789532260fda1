package store

// The test clock of a sandbox. An installation started with --test-clock
// runs on a date its operator sets and moves forward (like Stripe's test
// clocks): orders, changes, cancellations, holds and releases, usage and
// the billing run all take their time from db.Clock, which is then a
// TestClock. The date lives in the database (table test_clock), so that
// every serve process and the CLI share it; each process keeps the value it
// last read and reads it again when it is older than Refresh.
//
// The clock stops where it is set: it does not tick by itself between
// moves, so that a rehearsal ("upgrade on day 11 of 31") happens on the day
// it names however long the operator takes. It only moves forward: the
// daily billing of a day is idempotent and never runs again, so a clock
// sent back would leave days billed that, by its date, have not come yet.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// MaxTestClockMove is the furthest one move of the test clock may go. The
// billing planner bills every day the clock crossed, one after the other
// (on real time it catches up at most 31 missed days), so a move is a
// year's billing at most.
const MaxTestClockMove = 366 * 24 * time.Hour

// onTestClock reports whether db runs on a test clock.
func (db *DB) onTestClock() bool {
	_, ok := db.Clock.(*TestClock)
	return ok
}

// TestClock is the persisted test clock of a sandbox (UseTestClock). It
// implements marketplane.Clock; RealTime gives the wall time for what keeps
// real time (marketplane.RealTime). Safe for concurrent use.
type TestClock struct {
	db *DB
	// Refresh is how long Now trusts the date it last read before reading
	// it again, so that a move made by another process (or the CLI) shows
	// here within that time. A move made through this process shows at
	// once. Zero reads at every Now (tests).
	Refresh time.Duration
	// OnMove, when set, runs in the transaction that moves the clock from
	// from to to (the outbox rule): the server queues its billing planner
	// there, which bills the days the clock crossed, in order.
	OnMove func(ctx context.Context, tx *sql.Tx, from, to time.Time) error

	mu      sync.Mutex
	now     time.Time
	readAt  time.Time // wall time of the last read
	reading bool
}

// TestClockState is the test clock as the API and the CLI show it.
type TestClockState struct {
	// Now is the date every action of the installation uses.
	Now time.Time
	// UpdatedAt is when (in real time) it was last set or moved.
	UpdatedAt time.Time
}

// errNoTestClock refuses the test clock's actions on an installation that
// runs on real time.
func errNoTestClock() error {
	return marketplane.Errorf(marketplane.ECONFLICT,
		"this installation runs on real time and has no test clock: start it with --test-clock (sandboxes only)")
}

// UseTestClock makes db run on its test clock, creating it at db.Clock's
// present time on the first start (serve --test-clock). It returns the
// clock, now db.Clock.
func (db *DB) UseTestClock(ctx context.Context) (*TestClock, error) {
	start := db.Clock.Now().UTC().Truncate(time.Second)
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO test_clock (id, now, updated_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO NOTHING`, tv(start), tv(time.Now())); err != nil {
		return nil, fmt.Errorf("test clock: %w", err)
	}
	return db.LoadTestClock(ctx)
}

// LoadTestClock makes db run on the test clock an installation started
// with --test-clock made (the CLI acting on its database). Errors:
// ECONFLICT when there is none.
func (db *DB) LoadTestClock(ctx context.Context) (*TestClock, error) {
	c := &TestClock{db: db, Refresh: time.Second}
	st, err := readTestClock(ctx, db.Read)
	if err != nil {
		return nil, err
	}
	c.now, c.readAt = st.Now, time.Now()
	db.Clock = c
	return c, nil
}

// readTestClock reads the clock's row. Errors: ECONFLICT when there is none.
func readTestClock(ctx context.Context, q querier) (TestClockState, error) {
	var st TestClockState
	err := q.QueryRowContext(ctx, `SELECT now, updated_at FROM test_clock WHERE id = 1`).Scan(ts(&st.Now), ts(&st.UpdatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return st, errNoTestClock()
	}
	if err != nil {
		return st, fmt.Errorf("test clock: %w", err)
	}
	return st, nil
}

// Now returns the test clock's date: the one last read, read again from
// the database once it is older than Refresh. A failed read keeps the date
// it had (the next call tries again); while one goroutine reads, the
// others keep the date they have rather than wait, so that a transaction
// holding a pooled connection never waits on the clock for another.
func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	if c.reading || time.Since(c.readAt) < c.Refresh {
		defer c.mu.Unlock()
		return c.now
	}
	c.reading = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	st, err := readTestClock(ctx, c.db.Read)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reading = false
	if err == nil {
		c.set(st.Now)
	}
	return c.now
}

// set records a date read or written, never going back from a later one
// that a concurrent move recorded.
func (c *TestClock) set(t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	c.readAt = time.Now()
}

// RealTime is the wall time (marketplane.RealTime).
func (*TestClock) RealTime() time.Time { return time.Now().UTC() }

// testClockFor authorizes actor on the test clock: the provider's own
// staff who run the installation (the provider's users whose role
// manages tasks; viewing it needs to view them), or the system. Others
// get EFORBIDDEN. It also returns the installation's TestClock, or
// ECONFLICT when it runs on real time.
func (db *DB) testClockFor(ctx context.Context, actor *account.Actor, act account.Action) (*TestClock, account.Target, error) {
	t, err := providerTarget(ctx, db.Read)
	if err != nil {
		return nil, t, err
	}
	if actor != nil && !actor.Disabled && !actor.System && actor.AccountPath != t.Path {
		return nil, t, marketplane.Errorf(marketplane.EFORBIDDEN, "the test clock is the provider's: only its staff see and move it")
	}
	if err := account.Authorize(actor, act, t); err != nil {
		return nil, t, err
	}
	c, ok := db.Clock.(*TestClock)
	if !ok {
		return nil, t, errNoTestClock()
	}
	return c, t, nil
}

// ReadTestClock returns the test clock. Errors: EFORBIDDEN, ECONFLICT (the
// installation runs on real time).
func (db *DB) ReadTestClock(ctx context.Context, actor *account.Actor) (TestClockState, error) {
	c, _, err := db.testClockFor(ctx, actor, account.ViewTasks)
	if err != nil {
		return TestClockState{}, err
	}
	st, err := readTestClock(ctx, db.Read)
	if err == nil {
		c.mu.Lock()
		c.set(st.Now)
		c.mu.Unlock()
	}
	return st, err
}

// SetTestClock moves the test clock to to. Errors: EFORBIDDEN, ECONFLICT
// (real time; moved meanwhile by someone else), EINVALID (field "now":
// before the clock's date, or more than MaxTestClockMove after it).
func (db *DB) SetTestClock(ctx context.Context, actor *account.Actor, to time.Time) (TestClockState, error) {
	return db.moveTestClock(ctx, actor, "now", func(time.Time) time.Time { return to })
}

// AdvanceTestClock moves the test clock forward by d. Errors as
// SetTestClock's, on field "by".
func (db *DB) AdvanceTestClock(ctx context.Context, actor *account.Actor, d time.Duration) (TestClockState, error) {
	if d <= 0 {
		return TestClockState{}, marketplane.FieldErrors{"by": "must be a positive duration, such as 72h: the test clock only moves forward"}.Err("advance")
	}
	return db.moveTestClock(ctx, actor, "by", func(from time.Time) time.Time { return from.Add(d) })
}

// moveTestClock moves the clock from its date to to(date), in one
// transaction with the clock's OnMove and the audit entry. The update
// holds only if the date is still the one read, so that two moves at once
// (two processes, the CLI) cannot both apply to the same starting point.
func (db *DB) moveTestClock(ctx context.Context, actor *account.Actor, field string, to func(from time.Time) time.Time) (TestClockState, error) {
	c, t, err := db.testClockFor(ctx, actor, account.ManageTasks)
	if err != nil {
		return TestClockState{}, err
	}
	var st TestClockState
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := readTestClock(ctx, tx)
		if err != nil {
			return err
		}
		next := to(cur.Now).UTC().Truncate(time.Microsecond)
		switch {
		case next.Before(cur.Now):
			return marketplane.FieldErrors{field: fmt.Sprintf("the test clock only moves forward: it is at %s, and the days it has billed cannot be undone",
				cur.Now.Format(time.RFC3339))}.Err("test clock")
		case next.Sub(cur.Now) > MaxTestClockMove:
			return marketplane.FieldErrors{field: fmt.Sprintf("one move goes at most %d days (to %s); move it again for more",
				int(MaxTestClockMove/(24*time.Hour)), cur.Now.Add(MaxTestClockMove).Format(time.RFC3339))}.Err("test clock")
		case next.Equal(cur.Now):
			st = cur
			return nil
		}
		st = TestClockState{Now: next, UpdatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		res, err := tx.ExecContext(ctx, `UPDATE test_clock SET now = $1, updated_at = $2 WHERE id = 1 AND now = $3`,
			tv(st.Now), tv(st.UpdatedAt), tv(cur.Now))
		if err != nil {
			return fmt.Errorf("test clock: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return marketplane.Errorf(marketplane.ECONFLICT, "the test clock moved meanwhile; read it and try again")
		}
		if c.OnMove != nil {
			if err := c.OnMove(ctx, tx, cur.Now, st.Now); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, actor, t.AccountID, t.Path, "test_clock.move", "test_clock", 1,
			map[string]any{"now": []string{cur.Now.Format(time.RFC3339Nano), st.Now.Format(time.RFC3339Nano)}})
	})
	if err != nil {
		return TestClockState{}, err
	}
	c.mu.Lock()
	c.set(st.Now)
	c.mu.Unlock()
	return st, nil
}

// ParseTestClockStep reads how far to advance the test clock: a Go
// duration ("90m", "72h") or whole days ("3d"). Errors: EINVALID on field
// "by".
func ParseTestClockStep(s string) (time.Duration, error) {
	bad := marketplane.FieldErrors{"by": fmt.Sprintf("%q is not a duration such as 72h or 3d", s)}.Err("advance")
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 36600 {
			return 0, bad
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad
	}
	return d, nil
}
