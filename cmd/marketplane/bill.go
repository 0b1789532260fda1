package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
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
	yes := fs.Bool("yes", false, "bill days after today without asking (invoices dated in the future, holds and suspensions that have not come yet)")
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
	// A sandbox (serve --test-clock) bills on its test clock's date, and
	// its today is the clock's.
	if _, err := db.LoadTestClock(ctx); err != nil && marketplane.ErrorCode(err) != marketplane.ECONFLICT {
		return err
	}
	if err := confirmFuture(db.Clock.Now(), *zone, from, to, *yes, stdout); err != nil {
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
		sum.Held = append(sum.Held, res.Held...)
		sum.Released = append(sum.Released, res.Released...)
		sum.Changed = append(sum.Changed, res.Changed...)
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
	billChanges(ctx, db, sum, stdout)
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

// confirmInput is where "bill" reads a confirmation, and whether a person
// is there to give it (a terminal). Tests replace it.
var confirmInput = func() (io.Reader, bool) { return os.Stdin, term.IsTerminal(int(os.Stdin.Fd())) }

// confirmFuture lets a run of days after today go ahead only when --yes
// says so or a person at a terminal answers yes: such a run issues
// invoices dated in the future and puts buyers on hold and suspends
// subscriptions for debts not yet due. Today is the date of now in zone
// (--zone), else in UTC.
func confirmFuture(now time.Time, zone string, from, to time.Time, yes bool, out io.Writer) error {
	loc := time.UTC
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if !to.After(today) || yes {
		return nil
	}
	first := from
	if first.Before(today.AddDate(0, 0, 1)) {
		first = today.AddDate(0, 0, 1)
	}
	days := int(to.Sub(first).Hours()/24) + 1
	what := fmt.Sprintf("billing %s is %d day", first.Format(time.DateOnly), days)
	if days != 1 {
		what = fmt.Sprintf("billing %s to %s is %d days", first.Format(time.DateOnly), to.Format(time.DateOnly), days)
	}
	what += fmt.Sprintf(" after today (%s): it issues invoices dated in the future, and puts buyers on credit hold and suspends or ends subscriptions for debts and expiries not yet due", today.Format(time.DateOnly))
	in, tty := confirmInput()
	if !tty {
		return usagef("%s. Nothing was billed; add --yes to bill them", what)
	}
	fmt.Fprintf(out, "%s.\nBill them? [y/N] ", what)
	var answer string
	fmt.Fscanln(in, &answer)
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("not confirmed: nothing was billed")
	}
	return nil
}

// billListed is how many accounts or subscriptions a summary names per
// line; the rest are counted ("and 12 more").
const billListed = 10

// billChanges prints what a run did to accounts and subscriptions besides
// billing them: the buyers it put on credit hold (and released), the
// subscriptions it suspended, terminated (and resumed), and the failures,
// each counted and named by id and name up to billListed.
func billChanges(ctx context.Context, db *store.DB, r store.BillRunResult, w io.Writer) {
	sys := account.SystemActor()
	names := map[int64]string{}
	accountName := func(id int64) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := "?"
		if a, err := db.Account(ctx, sys, id); err == nil {
			n = a.Name
		}
		names[id] = n
		return n
	}
	plans := map[int64]string{}
	planName := func(id int64) string {
		if n, ok := plans[id]; ok {
			return n
		}
		n := "?"
		if p, err := db.Plan(ctx, sys, id); err == nil {
			n = p.Name.Get("en")
		}
		plans[id] = n
		return n
	}
	line := func(label string, n int, one, many string, name func(i int) string, always bool) {
		if n == 0 && !always {
			return
		}
		noun := many
		if n == 1 {
			noun = one
		}
		fmt.Fprintf(w, "  %s: %d %s", label, n, noun)
		for i := 0; i < min(n, billListed); i++ {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprint(w, sep+name(i))
		}
		if n > billListed {
			fmt.Fprintf(w, " and %d more", n-billListed)
		}
		fmt.Fprintln(w)
	}
	accounts := func(ids []int64) func(int) string {
		return func(i int) string { return fmt.Sprintf("%s (account %d)", accountName(ids[i]), ids[i]) }
	}
	// A subscription counts once per status it was moved to in the run.
	by := map[subscription.Status][]store.BillChange{}
	seen := map[store.BillChange]bool{}
	for _, c := range r.Changed {
		k := store.BillChange{SubscriptionID: c.SubscriptionID, To: c.To}
		if seen[k] {
			continue
		}
		seen[k] = true
		by[c.To] = append(by[c.To], c)
	}
	subs := func(cs []store.BillChange) func(int) string {
		return func(i int) string {
			c := cs[i]
			s := fmt.Sprintf("%d (%s of %s, account %d", c.SubscriptionID, planName(c.PlanID), accountName(c.CustomerID), c.CustomerID)
			if c.Reason != "" && c.To != subscription.Active {
				s += ", " + strings.ReplaceAll(c.Reason, "_", " ")
			}
			return s + ")"
		}
	}
	line("put on credit hold", len(r.Held), "account", "accounts", accounts(r.Held), true)
	line("released from credit hold", len(r.Released), "account", "accounts", accounts(r.Released), false)
	line("suspended", len(by[subscription.Suspended]), "subscription", "subscriptions", subs(by[subscription.Suspended]), true)
	line("terminated", len(by[subscription.Terminated]), "subscription", "subscriptions", subs(by[subscription.Terminated]), true)
	line("graced (not renewed)", len(by[subscription.Graced]), "subscription", "subscriptions", subs(by[subscription.Graced]), false)
	line("resumed", len(by[subscription.Active]), "subscription", "subscriptions", subs(by[subscription.Active]), false)
	line("failed", len(r.Failures), "bill", "bills", func(i int) string {
		f := r.Failures[i]
		if f.SubscriptionID != 0 {
			return fmt.Sprintf("subscription %d", f.SubscriptionID)
		}
		return fmt.Sprintf("%s (account %d)", accountName(f.AccountID), f.AccountID)
	}, true)
}
