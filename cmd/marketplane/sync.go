package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
)

// cmdSync syncs the copies of a plan: a dry run prints what would change,
// copy by copy; otherwise the sync is applied here and now, as the operator
// asked, without waiting for task workers. The run is recorded like one the
// API queues (status, counts, audit), with Marketplane as its requester.
func cmdSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sync", stderr)
	var c Config
	finish := bindConfig(fs, &c, "db")
	optList := fs.String("options", "", "what to sync, comma-separated: "+optionNames()+"; or all")
	oneLevel := fs.Bool("one-level", false, "sync only the direct copies (they are flagged changed upstream until their owners sync onward)")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("give one plan id: marketplane sync PLAN --options fees,resource_prices")
	}
	planID, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || planID <= 0 {
		return usagef("%q is not a plan id", fs.Arg(0))
	}
	if *optList == "" {
		return usagef("--options is required: %s, or all", optionNames())
	}
	opts, err := delegation.ParseOptions(*optList)
	if err != nil {
		return usagef("--options: %s", fieldMessage(err, "options"))
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	// Read the plan first, so that an unknown one is said before anything
	// is printed.
	plan, err := db.Plan(ctx, account.SystemActor(), planID)
	if err != nil {
		return err
	}
	what := "Syncing"
	if *dryRun {
		what = "Dry run: what would change in syncing"
	}
	fmt.Fprintf(stdout, "%s the copies of plan %d %q (account %d) with %s%s.\n", what, plan.ID, plan.Key, plan.OwnerID, opts, levelNote(*oneLevel))
	if *dryRun {
		return previewSync(ctx, db, planID, opts, *oneLevel, stdout)
	}
	return applySync(ctx, db, planID, opts, *oneLevel, stdout, stderr)
}

func optionNames() string {
	names := make([]string, len(delegation.AllOptions))
	for i, o := range delegation.AllOptions {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

// fieldMessage is the message of err's field error at field, or err's text.
func fieldMessage(err error, field string) string {
	var e *marketplane.Error
	if errors.As(err, &e) && e.Fields[field] != "" {
		return e.Fields[field]
	}
	return err.Error()
}

// syncTotals counts what a sync does.
type syncTotals struct{ copies, newCopies, changes, skipped int }

func (t *syncTotals) add(it store.SyncItem) {
	t.copies++
	if it.NewCopy {
		t.newCopies++
	}
	for _, c := range it.Changes {
		if c.Applied() {
			t.changes++
		} else {
			t.skipped++
		}
	}
}

// previewSync prints the preview as the engine walks the tree, so that a
// sync of thousands of copies is printed without being held in memory.
func previewSync(ctx context.Context, db *store.DB, planID int64, opts delegation.Options, oneLevel bool, w io.Writer) error {
	var t syncTotals
	err := db.PreviewSync(ctx, account.SystemActor(), planID, opts, oneLevel, func(it store.SyncItem) error {
		t.add(it)
		printSyncItem(w, it)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Would change %s (%d new): %s, %d skipped. Nothing was changed.\n",
		count(t.copies, "copy", "copies"), t.newCopies, count(t.changes, "change", "changes"), t.skipped)
	return nil
}

// count says "1 copy", "2 copies".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func levelNote(oneLevel bool) string {
	if oneLevel {
		return ", direct copies only"
	}
	return ""
}

// printSyncItem prints one copy and its changes:
//
//	account 7, plan 42 (depth 1)
//	  periods[1m].recurring.amount 12.00 → 15.00
//	  periods[1m].refund.full_days skipped: restricted: terms (14 → 30)
func printSyncItem(w io.Writer, it store.SyncItem) {
	if it.NewCopy {
		fmt.Fprintf(w, "account %d: new copy (depth %d)\n", it.OwnerID, it.Depth)
		return
	}
	fmt.Fprintf(w, "account %d, plan %d (depth %d)\n", it.OwnerID, it.PlanID, it.Depth)
	for _, c := range it.Changes {
		values := c.Old + " → " + c.New
		if c.Old == "" {
			values = c.New // an added period or rate
		}
		if c.Applied() {
			fmt.Fprintf(w, "  %s %s\n", c.Field, values)
		} else {
			fmt.Fprintf(w, "  %s skipped: %s (%s)\n", c.Field, c.Skipped, values)
		}
	}
}

// applySync creates a run and applies it in this process, printing progress
// to stderr as batches are saved and the totals to stdout.
func applySync(ctx context.Context, db *store.DB, planID int64, opts delegation.Options, oneLevel bool, stdout, stderr io.Writer) error {
	start := time.Now()
	run := &store.SyncRun{SourcePlanID: planID, Options: opts.String(), OneLevel: oneLevel}
	if err := db.CreateSyncRun(ctx, account.SystemActor(), run, nil); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sync run %d queued\n", run.ID)
	// The engine reports a copy before saving its batch; counting items
	// tells progress, and the run's own counts are the totals.
	var t syncTotals
	depth := 0
	done, err := db.RunSync(ctx, run.ID, func(it store.SyncItem) error {
		if it.Depth != depth {
			depth = it.Depth
			fmt.Fprintf(stderr, "  depth %d…\n", depth)
		}
		t.add(it)
		if t.copies%1000 == 0 {
			fmt.Fprintf(stderr, "  %d copies, %d changes so far\n", t.copies, t.changes)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sync run %d %s: %s changed (%d new), %s, %d skipped, in %.2f s.\n",
		done.ID, done.Status, count(done.CopiesChanged, "copy", "copies"), t.newCopies, count(done.Changes, "change", "changes"),
		t.skipped, time.Since(start).Seconds())
	return nil
}
