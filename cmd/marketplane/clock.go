package main

// The test clock of a sandbox: `serve --test-clock` runs the installation
// on a date kept in its database (store.TestClock), which `marketplane
// clock` and the API's /test-clock read and move forward. Moving it queues
// the billing planner, which bills the days the clock crossed one after
// the other (billingPlanArgs).

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// useTestClock puts the server on its database's test clock when started
// with --test-clock (created at the present time on the first start), and
// has each move of the clock queue the billing planner in the move's
// transaction.
func (m *Main) useTestClock(ctx context.Context) error {
	if !m.Config.TestClock {
		return nil
	}
	c, err := m.DB.UseTestClock(ctx)
	if err != nil {
		return err
	}
	c.OnMove = func(ctx context.Context, tx *sql.Tx, from, to time.Time) error {
		m.Logger.Info("test clock moved", "from", from, "to", to)
		return m.Tasks.enqueueBillingPlan(ctx, tx)
	}
	m.Logger.Warn("running on a test clock (sandbox): every action uses its date, not the real one", "now", c.Now())
	return nil
}

// enqueueBillingPlan queues the billing planner in tx, to run at once. It
// is not unique: a planner that has just queued a day may still count as
// running when that day's task asks for the next, and planning twice bills
// nothing twice (the parts are unique and idempotent).
func (r *taskRunner) enqueueBillingPlan(ctx context.Context, tx *sql.Tx) error {
	_, err := r.EnqueueTx(ctx, tx, billingPlanArgs{})
	return err
}

// oldestDays keeps, of the pending parts of each time zone (oldest day
// first, as store.PendingBillingParts lists them), those of its oldest day:
// a zone's days are billed one after the other, so that a day's run sees
// what the days before it did (a renewal's invoice falling due, a hold
// coming back after its release). Each finished day queues the planner
// again for the next (billingDayArgs).
func oldestDays(parts []store.BillingPart) []store.BillingPart {
	first := map[string]time.Time{}
	var out []store.BillingPart
	for _, p := range parts {
		d, ok := first[p.Zone]
		if !ok {
			first[p.Zone], d = p.Day, p.Day
		}
		if p.Day.Equal(d) {
			out = append(out, p)
		}
	}
	return out
}

// cmdClock reads and moves the test clock of a sandbox's database (one
// that a server started with --test-clock made).
func cmdClock(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("clock: say show, set TIME (RFC 3339, such as 2027-03-11T09:00:00Z) or advance DURATION (such as 72h or 3d)")
	}
	action := args[0]
	fs := newFlagSet("clock "+action, stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	var to time.Time
	var by time.Duration
	switch action {
	case "show":
		if fs.NArg() != 0 {
			return usagef("clock show: unexpected argument %q", fs.Arg(0))
		}
	case "set", "advance":
		if fs.NArg() != 1 {
			return usagef("clock %s: give one %s", action, map[string]string{"set": "time", "advance": "duration"}[action])
		}
		var err error
		if action == "set" {
			if to, err = time.Parse(time.RFC3339, fs.Arg(0)); err != nil {
				return usagef("clock set: %q is not a time such as 2027-03-11T09:00:00Z", fs.Arg(0))
			}
		} else if by, err = store.ParseTestClockStep(fs.Arg(0)); err != nil {
			return usagef("clock advance: %q is not a duration such as 72h or 3d", fs.Arg(0))
		}
	default:
		return usagef("clock: unknown action %q: say show, set or advance", action)
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	clock, err := db.LoadTestClock(ctx)
	if err != nil {
		return err
	}
	// The running server's workers bill the days a move crosses.
	c.Workers = false
	c.TaskPollInterval, c.TaskRetentionDays, c.BillingShards = time.Second, 90, 1
	tasks, err := newTaskRunner(db, c, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	clock.OnMove = func(ctx context.Context, tx *sql.Tx, _, _ time.Time) error { return tasks.enqueueBillingPlan(ctx, tx) }
	sys := account.SystemActor()
	before, err := db.ReadTestClock(ctx, sys)
	if err != nil {
		return err
	}
	st := before
	switch action {
	case "set":
		st, err = db.SetTestClock(ctx, sys, to)
	case "advance":
		st, err = db.AdvanceTestClock(ctx, sys, by)
	}
	if err != nil {
		return err
	}
	if st.Now.Equal(before.Now) {
		fmt.Fprintf(stdout, "test clock: %s (set at %s real time)\n", st.Now.Format(time.RFC3339), st.UpdatedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "test clock: %s → %s; the server's task workers bill the days it crossed, in order\n",
		before.Now.Format(time.RFC3339), st.Now.Format(time.RFC3339))
	return nil
}
