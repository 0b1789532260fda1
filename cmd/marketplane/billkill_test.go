package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/demo"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// killDay is the day the crash test bills: every subscription of its
// fixture renews on it.
var killDay = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)

// killSubsPerCustomer is how many subscriptions each of the demo's 300
// customers has in the crash test: 2,400 renewals, which the real binary
// bills in a few seconds on either engine on a machine of two cores.
const killSubsPerCustomer = 8

// TestBillKilledHalfway kills the real binary's `marketplane bill --date
// D` (SIGKILL: no deferred function runs, a transaction is cut wherever it
// is) once some renewal invoices exist but before it finishes, runs it
// again to the end, and compares the database with a reference built the
// same way and billed once without a kill, on both engines. It must hold
// exactly the documents of one complete run:
//
//   - the same number of documents of each type and ledger entries, two to
//     a document;
//   - the same documents, by vendor, type and number (numbers are taken in
//     the document's transaction, so a killed one leaves no gap): the same
//     buyer, subscription, day, currency, total and status;
//   - the same totals per vendor and buyer;
//   - the same renewal (RN) orders and tiers, numbered without gaps;
//   - the same subscription periods and next billing dates, the same
//     accounts' standing;
//   - no two renewal invoices of one subscription from one vendor on one
//     day.
//
// The kill comes once a third of the reference's invoices are in (the
// test polls the documents); a run that ends before it fails the test,
// which then no longer tests a crash. The reference run takes about 3 s
// on SQLite and 8 s on PostgreSQL here.
func TestBillKilledHalfway(t *testing.T) {
	t.Parallel()
	bin := buildMarketplane(t)
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		refURL, killURL := storetest.URL(t, e), storetest.URL(t, e)
		ref, killed := killFixture(t, refURL), killFixture(t, killURL)
		// The two must give the same ids to the same accounts, plans and
		// subscriptions for their documents to compare.
		for _, q := range []string{`SELECT id, name, COALESCE(parent_id, 0) FROM accounts ORDER BY id`,
			`SELECT id, owner_id, key FROM plans ORDER BY id`, `SELECT id, customer_id, plan_id FROM subscriptions ORDER BY id`} {
			if a, b := killRows(t, ref, q), killRows(t, killed, q); !slices.Equal(a, b) {
				t.Fatalf("the two fixtures differ: %s\n%s", q, firstDiff(a, b))
			}
		}
		want := killCount(t, ref, killRenewals)
		if want != 300*killSubsPerCustomer {
			t.Fatalf("%d subscriptions due on %s, want %d", want, killDay.Format(time.DateOnly), 300*killSubsPerCustomer)
		}
		date := killDay.Format(time.DateOnly)

		start := time.Now()
		if out, err := exec.Command(bin, "bill", "--date", date, "--yes", "--db", refURL).CombinedOutput(); err != nil {
			t.Fatalf("reference run: %v\n%s", err, out)
		}
		t.Logf("%s: the reference run took %v", e, time.Since(start).Round(time.Millisecond))
		invoices := killCount(t, ref, killInvoices)
		if billed := want - killCount(t, ref, killRenewals); billed != want || invoices < want {
			t.Fatalf("reference run: %d of %d subscriptions billed, %d renewal invoices", billed, want, invoices)
		}

		// The run to kill: killed once a third of the invoices are in.
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "bill", "--date", date, "--yes", "--db", killURL)
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.Now().Add(60 * time.Second)
		for killCount(t, killed, killInvoices) < invoices/3 {
			select {
			case err := <-done:
				t.Fatalf("the run ended before it was killed (%v): bill more subscriptions\n%s", err, stderr.String())
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no third of the invoices after a minute\n%s", stderr.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var exit *exec.ExitError
		if err := <-done; !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the run was not killed: %v\n%s", err, stderr.String())
		}
		partial := killCount(t, killed, killInvoices)
		t.Logf("%s: killed with %d of %d renewal invoices issued, %d subscriptions still due", e, partial, invoices, killCount(t, killed, killRenewals))
		if partial == 0 || partial >= invoices {
			t.Fatalf("killed with %d of %d renewal invoices: not half-way", partial, invoices)
		}

		if out, err := exec.Command(bin, "bill", "--date", date, "--yes", "--db", killURL).CombinedOutput(); err != nil {
			t.Fatalf("the run after the kill: %v\n%s", err, out)
		}
		compareBilled(t, ref, killed)
	})
}

// buildMarketplane builds the binary into the test's temporary directory.
func buildMarketplane(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "marketplane")
	// The test runs in cmd/marketplane: "." is ./cmd/marketplane.
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killFixture loads the demo into the new database at u and gives each
// customer killSubsPerCustomer active subscriptions of its reseller's
// copies, all renewing on killDay: monthly ones from May (some anchored
// earlier) and yearly ones from June 2026, with resources above what the
// plans include. They are written in one bulk load, as the billing
// benchmark's fixture is: placing and completing 2,400 orders would take
// longer than billing them.
func killFixture(t *testing.T, u string) *store.DB {
	t.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	db := storetest.OpenURL(t, u)
	if _, err := demo.Load(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	type sub struct {
		key, period string
		resources   string
	}
	subs := [killSubsPerCustomer]sub{
		{"office-basic", "1m", `{"mailbox":3,"office-storage":20}`},
		{"office-pro", "1m", `{"mailbox":12,"office-storage":1000,"office-pro-bundle":0}`},
		{"pg-small", "1m", `{"pg-database":4,"pg-storage":30,"pg-connections":100,"pg-backup":1}`},
		{"vps-standard", "1m", `{"vps-vcpu":4,"vps-ram":8,"vps-disk":80,"vps-traffic":1000}`},
		{"office-standard", "1m", `{"mailbox":8,"office-storage":50,"office-pro-bundle":0}`},
		{"office-basic", "12m", `{"mailbox":2,"office-storage":10}`},
		{"pg-large", "12m", `{"pg-database":10,"pg-storage":200,"pg-connections":500,"pg-backup":1}`},
		{"domain-registration", "1y", `{"domain":1,"domain-privacy":1}`},
	}
	type customer struct{ id, vendor int64 }
	var customers []customer
	rows, err := db.Read.QueryContext(ctx, `SELECT id, parent_id FROM accounts WHERE kind = 'customer' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c customer
		if err := rows.Scan(&c.id, &c.vendor); err != nil {
			t.Fatal(err)
		}
		customers = append(customers, c)
	}
	rows.Close()
	plans := map[string]int64{}
	for _, c := range customers {
		for _, s := range subs {
			k := fmt.Sprintf("%d/%s", c.vendor, s.key)
			if _, ok := plans[k]; ok {
				continue
			}
			p, err := db.PlanByKey(ctx, sys, c.vendor, s.key)
			if err != nil {
				t.Fatalf("plan %s of %d: %v", s.key, c.vendor, err)
			}
			plans[k] = p.ID
		}
	}
	now := killDay.AddDate(0, 0, -1).Add(9 * time.Hour)
	columns := []string{"customer_id", "vendor_id", "plan_id", "period_key", "status", "status_reason",
		"start_at", "anchor_at", "period_start", "period_end", "next_billing_at", "auto_renew", "renew_days", "frozen_prices",
		"resources", "parameters", "pending_change", "connector", "tenant_id", "tenant_status", "attributes", "version",
		"created_at", "updated_at"}
	err = db.BulkLoad(ctx, func(ld *store.Loader) error {
		return ld.Insert(ctx, "subscriptions", columns, len(customers)*len(subs), func(i int) ([]any, error) {
			c, s := customers[i/len(subs)], subs[i%len(subs)]
			from := killDay.AddDate(0, -1, 0)
			anchor := from.AddDate(0, -(i % 4), 0)
			if s.period != "1m" {
				from = killDay.AddDate(-1, 0, 0)
				anchor = from
			}
			return []any{c.id, c.vendor, plans[fmt.Sprintf("%d/%s", c.vendor, s.key)], s.period, "active", "",
				anchor, anchor, from, killDay, killDay, "before_expiration", 0, false,
				s.resources, "{}", nil, "", fmt.Sprintf("t-%d", i), "ready", "{}", int64(1), now, now}, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// What killCount counts.
const (
	// killRenewals are the subscriptions still due on killDay.
	killRenewals = `SELECT COUNT(*) FROM subscriptions WHERE status = 'active' AND next_billing_at <= $1`
	// killInvoices are the invoices of killDay, every tier's: the
	// fixture's orders issued none, so they are the renewals'.
	killInvoices = `SELECT COUNT(*) FROM documents WHERE type = 'invoice' AND issued_on = $1`
)

func killCount(t *testing.T, db *store.DB, q string) int {
	t.Helper()
	var n int
	// The stores' one text form of timestamps (store/time.go), which
	// PostgreSQL reads as well.
	day := killDay.Format("2006-01-02T15:04:05.000000Z")
	if err := db.Read.QueryRowContext(context.Background(), q, day).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// killRows reads every row of q as a line of text, in the query's order.
func killRows(t *testing.T, db *store.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Read.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			if v.Valid {
				b.WriteString(v.String)
			} else {
				b.WriteString("NULL")
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareBilled compares the billed reference with the database billed
// again after a kill.
func compareBilled(t *testing.T, ref, killed *store.DB) {
	t.Helper()
	for _, c := range []struct{ what, q string }{
		{"documents per type", `SELECT type, COUNT(*) FROM documents GROUP BY type ORDER BY type`},
		{"ledger entries per side", `SELECT side, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM ledger_entries GROUP BY side ORDER BY side`},
		{"totals per vendor and buyer", `SELECT vendor_id, account_id, currency, COUNT(*), CAST(SUM(total) AS BIGINT) FROM documents
			GROUP BY vendor_id, account_id, currency ORDER BY vendor_id, account_id, currency`},
		{"documents", `SELECT vendor_id, type, number, account_id, COALESCE(subscription_id, 0), CAST(issued_on AS TEXT),
			CAST(due_on AS TEXT), currency, total, status, applied FROM documents ORDER BY vendor_id, type, number`},
		{"subscriptions", `SELECT id, status, plan_id, period_key, CAST(anchor_at AS TEXT), CAST(period_start AS TEXT),
			CAST(period_end AS TEXT), CAST(next_billing_at AS TEXT), resources FROM subscriptions ORDER BY id`},
		{"orders", `SELECT vendor_id, number, type, status, customer_id, subscription_id, plan_id, period_key, total, currency
			FROM orders ORDER BY vendor_id, number`},
		{"order tiers", `SELECT o.vendor_id, o.number, t.tier, t.seller_id, t.buyer_id, t.plan_id, t.total FROM order_tiers t
			JOIN orders o ON o.id = t.order_id ORDER BY o.vendor_id, o.number, t.tier`},
		{"accounts' standing", `SELECT id, status FROM accounts ORDER BY id`},
	} {
		want, got := killRows(t, ref, c.q), killRows(t, killed, c.q)
		if !slices.Equal(want, got) {
			t.Errorf("%s: %d rows after the kill and the second run, %d in the reference; first difference:\n%s", c.what, len(got), len(want), firstDiff(want, got))
		}
	}
	if dups := killRows(t, killed, `SELECT subscription_id, CAST(issued_on AS TEXT), vendor_id, COUNT(*) FROM documents
		WHERE type = 'invoice' GROUP BY subscription_id, issued_on, vendor_id HAVING COUNT(*) > 1
		ORDER BY subscription_id`); len(dups) > 0 {
		t.Errorf("%d renewals invoiced twice (subscription | day | vendor | invoices), first: %s", len(dups), dups[0])
	}
	if n := killRows(t, killed, `SELECT COUNT(*) FROM documents d WHERE (SELECT COUNT(*) FROM ledger_entries e WHERE e.document_id = d.id) <> 2`); n[0] != "0" {
		t.Errorf("%s documents without their two ledger entries", n[0])
	}
}

// firstDiff shows where two lists of rows part.
func firstDiff(want, got []string) string {
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("\trow %d\n\twant %s\n\tgot  %s", i, w, g)
		}
	}
	return ""
}
