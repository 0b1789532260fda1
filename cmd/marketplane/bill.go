package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// maxBillSpan bounds the days one "bill --from --to" simulates.
const maxBillSpan = 3660

// cmdBill runs the daily billing of one day (--date), or of each day of a
// span in order (--from, --to: the test clock of operators and tests). It
// prints the days that billed something and the span's sum. A subscription
// that cannot be billed is named on stderr and makes the exit code 1, after
// every day has run: the others are billed all the same.
func cmdBill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bill", stderr)
	var c Config
	finish := bindConfig(fs, &c, "db")
	date := fs.String("date", "", "bill this day (YYYY-MM-DD)")
	fromFlag := fs.String("from", "", "first day of a span to simulate, day by day (YYYY-MM-DD; with --to)")
	toFlag := fs.String("to", "", "last day of the span, included (YYYY-MM-DD)")
	zone := fs.String("zone", "", "bill only the sellers in this time zone (IANA, e.g. Europe/Berlin); default all")
	shardFlag := fs.String("shard", "", "bill part K of N (K/N, 0 ≤ K < N): split a day across processes on PostgreSQL")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	from, to, err := billSpan(*date, *fromFlag, *toFlag)
	if err != nil {
		return err
	}
	opt := store.BillOptions{Zone: *zone}
	if *shardFlag != "" {
		if _, err := fmt.Sscanf(*shardFlag, "%d/%d", &opt.Shard, &opt.Shards); err != nil || opt.Shards < 1 || opt.Shard < 0 || opt.Shard >= opt.Shards {
			return usagef("--shard: %q is not K/N with 0 ≤ K < N", *shardFlag)
		}
	}
	if *zone != "" {
		if _, err := time.LoadLocation(*zone); err != nil {
			return usagef("--zone: %q is not a time zone", *zone)
		}
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	// Subscriptions the run suspends, resumes or ends get the task that
	// applies it at their connector, queued for the workers of the
	// running server.
	c.Workers = false
	c.TaskPollInterval, c.TaskRetentionDays, c.BillingShards = time.Second, 90, 1
	tasks, err := newTaskRunner(db, c, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	opt.OnSubscription = func(tx *sql.Tx, s *subscription.Subscription) error { return tasks.enqueueStatus(ctx, tx, s) }
	sum := store.BillRunResult{Totals: map[string]money.Micros{}}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		res, err := db.BillDayWith(ctx, d, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Format(time.DateOnly), err)
		}
		for _, f := range res.Failures {
			if f.SubscriptionID != 0 {
				fmt.Fprintf(stderr, "%s: subscription %d: %v\n", d.Format(time.DateOnly), f.SubscriptionID, f.Err)
			} else {
				fmt.Fprintf(stderr, "%s: account %d: %v\n", d.Format(time.DateOnly), f.AccountID, f.Err)
			}
		}
		sum.Subscriptions += res.Subscriptions
		sum.Invoices += res.Invoices
		sum.Failures = append(sum.Failures, res.Failures...)
		for cur, v := range res.Totals {
			sum.Totals[cur] += v
		}
		if res.Subscriptions > 0 || len(res.Failures) > 0 {
			fmt.Fprintf(stdout, "%s: %s\n", d.Format(time.DateOnly), billCounts(res))
		}
	}
	span := from.Format(time.DateOnly)
	if !to.Equal(from) {
		span += " to " + to.Format(time.DateOnly)
	}
	fmt.Fprintf(stdout, "billed %s: %s\n", span, billCounts(sum))
	if n := len(sum.Failures); n > 0 {
		return fmt.Errorf("%d subscription bills failed (see above)", n)
	}
	return nil
}

// billSpan reads the days to bill: --date alone, or --from and --to.
func billSpan(date, from, to string) (time.Time, time.Time, error) {
	day := func(flag, s string) (time.Time, error) {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return d, usagef("--%s: %q is not a date (YYYY-MM-DD)", flag, s)
		}
		return d, nil
	}
	switch {
	case date != "" && (from != "" || to != ""):
		return time.Time{}, time.Time{}, usagef("give --date, or --from and --to, not both")
	case date != "":
		d, err := day("date", date)
		return d, d, err
	case from == "" || to == "":
		return time.Time{}, time.Time{}, usagef("give --date D, or --from D1 --to D2")
	}
	f, err := day("from", from)
	if err != nil {
		return f, f, err
	}
	t, err := day("to", to)
	if err != nil {
		return f, t, err
	}
	if t.Before(f) {
		return f, t, usagef("--to %s is before --from %s", to, from)
	}
	if t.Sub(f) > maxBillSpan*24*time.Hour {
		return f, t, usagef("a span of at most %d days", maxBillSpan)
	}
	return f, t, nil
}

// billCounts is a run's counts for a person: "1 subscription billed, 1
// invoice issued, USD 23.10".
func billCounts(r store.BillRunResult) string {
	plural := func(n int, one string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	s := plural(r.Subscriptions, "subscription") + " billed, " + plural(r.Invoices, "invoice") + " issued"
	curs := make([]string, 0, len(r.Totals))
	for c := range r.Totals {
		curs = append(curs, c)
	}
	slices.Sort(curs)
	var totals []string
	for _, c := range curs {
		totals = append(totals, c+" "+r.Totals[c].Format(c))
	}
	if len(totals) > 0 {
		s += ", " + strings.Join(totals, ", ")
	}
	if n := len(r.Failures); n > 0 {
		s += ", " + plural(n, "failure")
	}
	return s
}
