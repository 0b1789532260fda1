package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// billCustomer gives db a provider (UTC) selling "basic" to a customer:
// 10.00 a month, 5 mailboxes included, 2.50 each above; the customer buys
// 7 mailboxes on 2027-01-10, for the month [2027-01-10, 2027-02-10). Each
// renewal charges 10.00 + 2 × 2.50 = 15.00.
func billCustomer(t *testing.T, db *store.DB) {
	t.Helper()
	billCustomerOwing(t, db, 0)
}

// billCustomerOwing is billCustomer with invoices due termsDays after
// their issue (0: no due date), so that unpaid ones put the customer on
// credit hold the day after; it returns the customer and the plan.
func billCustomerOwing(t *testing.T, db *store.DB, termsDays int) (*account.Account, *catalog.Plan) {
	t.Helper()
	ctx, sys := context.Background(), account.SystemActor()
	db.Clock = marketplane.NewTestClock(time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC))
	mk := func(kind account.Kind, parent int64, name string) *account.Account {
		return &account.Account{Kind: kind, ParentID: parent, Name: name, Locale: "en-US", Currency: "USD", TimeZone: "UTC",
			Address: account.Address{Country: "US"}}
	}
	provider := mk(account.Provider, 0, "Provider")
	if err := db.CreateProvider(ctx, provider); err != nil {
		t.Fatal(err)
	}
	customer := mk(account.Customer, provider.ID, "Customer")
	customer.PaymentTermsDays = termsDays
	if err := db.CreateAccount(ctx, sys, customer); err != nil {
		t.Fatal(err)
	}
	rt := &store.ResourceType{ResourceType: catalog.ResourceType{Key: "mailbox", Name: catalog.Text{"en": "Mailbox"}, Unit: "mailbox", Class: catalog.ClassLimit}}
	if err := db.CreateResourceType(ctx, sys, rt); err != nil {
		t.Fatal(err)
	}
	tpl := &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"},
		Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}}}}
	if err := db.CreateTemplate(ctx, sys, tpl); err != nil {
		t.Fatal(err)
	}
	plan := &catalog.Plan{OwnerID: provider.ID, Key: "basic", Template: "office", Currency: "USD", Published: true,
		Name: catalog.Text{"en": "Office Basic"}, Billing: catalog.ChargeInAdvance,
		Periods: []catalog.Period{{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
			Recurring: catalog.Price{Amount: 10_000_000}, Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod}},
		Rates: []catalog.Rate{{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100,
			Recurring: catalog.Price{Amount: 2_500_000}, Display: catalog.Spinner}},
	}
	if err := db.CreatePlan(ctx, sys, plan); err != nil {
		t.Fatal(err)
	}
	o, err := db.PlaceOrder(ctx, sys, store.OrderRequest{CustomerID: customer.ID, PlanID: plan.ID, Period: "1m",
		Resources: map[string]int64{"mailbox": 7}}, nil)
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{TenantID: "t-1"}); err != nil {
		t.Fatalf("complete order: %v", err)
	}
	return customer, plan
}

// TestBillCommand: the span 2027-02-09 to 2027-03-11 bills the renewals
// of 2027-02-10 and 2027-03-10 (15.00 each); billing 2027-03-10 again
// bills nothing.
func TestBillCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "bill.db")
	billCustomer(t, storetest.OpenURL(t, dbPath))

	for _, c := range []struct {
		name string
		args []string
		code int
		out  []string // each expected in stdout+stderr
	}{
		{"no date", []string{"bill", "--db", dbPath}, 2, []string{"give --date D, or --from D1 --to D2"}},
		{"both", []string{"bill", "--date", "2027-02-10", "--from", "2027-02-10", "--db", dbPath}, 2, []string{"not both"}},
		{"bad date", []string{"bill", "--date", "10.2.2027", "--db", dbPath}, 2, []string{`--date: "10.2.2027" is not a date`}},
		{"backwards", []string{"bill", "--from", "2027-03-01", "--to", "2027-02-01", "--db", dbPath}, 2, []string{"before --from"}},
		{"before the period ends", []string{"bill", "--date", "2027-02-09", "--yes", "--db", dbPath}, 0,
			[]string{"billed 2027-02-09: 0 subscriptions billed, 0 invoices issued\n"}},
		{"span", []string{"bill", "--from", "2027-02-09", "--to", "2027-03-11", "--yes", "--db", dbPath}, 0, []string{
			"2027-02-10: 1 subscription billed, 1 invoice issued, USD 15.00\n" +
				"2027-03-10: 1 subscription billed, 1 invoice issued, USD 15.00\n" +
				"billed 2027-02-09 to 2027-03-11: 2 subscriptions billed, 2 invoices issued, USD 30.00\n"}},
		{"again", []string{"bill", "--date", "2027-03-10", "--yes", "--db", dbPath}, 0,
			[]string{"billed 2027-03-10: 0 subscriptions billed, 0 invoices issued\n"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(ctx, c.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, all)
		}
		for _, w := range c.out {
			if !strings.Contains(all, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, all)
			}
		}
	}
}

// TestBillSummary: a span in which the customer's first invoice goes
// unpaid past its due date names what the run did besides billing: the
// customer put on credit hold, both its subscriptions suspended by the
// hold, and the one that does not renew terminated three weeks after its
// period ended; on both engines.
func TestBillSummary(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx, sys := context.Background(), account.SystemActor()
		u := storetest.URL(t, e)
		db := storetest.OpenURL(t, u)
		customer, plan := billCustomerOwing(t, db, 10)
		// A second subscription that does not renew: its period ends on
		// 2027-02-10, it is suspended from then (by the hold already) and
		// terminated 7 + 14 days later, on 2027-03-03.
		o, err := db.PlaceOrder(ctx, sys, store.OrderRequest{CustomerID: customer.ID, PlanID: plan.ID, Period: "1m",
			Resources: map[string]int64{"mailbox": 5}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{TenantID: "t-2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetAutoRenew(ctx, sys, o.SubscriptionID, subscription.RenewOff, 0); err != nil {
			t.Fatal(err)
		}
		first := o.SubscriptionID - 1

		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"bill", "--from", "2027-01-11", "--to", "2027-03-05", "--yes", "--db", u}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
		}
		want := fmt.Sprintf("billed 2027-01-11 to 2027-03-05: 1 subscription billed, 1 invoice issued, USD 15.00\n"+
			"  put on credit hold: 1 account: Customer (account %[1]d)\n"+
			"  suspended: 2 subscriptions: %[2]d (Office Basic of Customer, account %[1]d, credit hold), %[3]d (Office Basic of Customer, account %[1]d, credit hold)\n"+
			"  terminated: 1 subscription: %[3]d (Office Basic of Customer, account %[1]d, expired)\n"+
			"  failed: 0 bills\n", customer.ID, first, o.SubscriptionID)
		if !strings.HasSuffix(stdout.String(), want) {
			t.Errorf("summary:\n%s\nwant it to end with:\n%s", stdout.String(), want)
		}
	})
}

// TestBillSummaryBounded: a summary names at most ten accounts or
// subscriptions per line and counts the rest.
func TestBillSummaryBounded(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	customer, _ := billCustomerOwing(t, db, 0)
	r := store.BillRunResult{}
	for range 12 {
		r.Held = append(r.Held, customer.ID)
	}
	var out bytes.Buffer
	billChanges(context.Background(), db, r, &out)
	name := fmt.Sprintf("Customer (account %d)", customer.ID)
	want := "  put on credit hold: 12 accounts: " + strings.Repeat(name+", ", 9) + name + " and 2 more\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("got:\n%s\nwant it to begin with:\n%s", out.String(), want)
	}
}

// TestBillFuture: days after today are billed only with --yes or a yes at
// a terminal; without either the command refuses and bills nothing (the
// renewal of 2027-02-10 is still due afterwards).
func TestBillFuture(t *testing.T) {
	// Not parallel: it replaces confirmInput.
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "bill.db")
	billCustomer(t, storetest.OpenURL(t, dbPath))
	far := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	saved := confirmInput
	t.Cleanup(func() { confirmInput = saved })
	for _, c := range []struct {
		name   string
		args   []string
		tty    bool
		answer string
		code   int
		out    string
	}{
		{"no terminal", []string{"bill", "--date", far}, false, "", 2, "after today"},
		{"no terminal, a span", []string{"bill", "--from", "2027-02-09", "--to", far}, false, "", 2, "Nothing was billed; add --yes"},
		{"terminal, no", []string{"bill", "--date", far}, true, "n\n", 1, "Bill them? [y/N] "},
		{"terminal, nothing typed", []string{"bill", "--date", far}, true, "", 1, "not confirmed: nothing was billed"},
		{"due day with --yes", []string{"bill", "--date", "2027-02-10", "--yes"}, false, "", 0,
			"billed 2027-02-10: 1 subscription billed, 1 invoice issued, USD 15.00\n"},
		{"terminal, yes", []string{"bill", "--date", "2027-03-10"}, true, "yes\n", 0,
			"billed 2027-03-10: 1 subscription billed, 1 invoice issued, USD 15.00\n"},
		{"today", []string{"bill", "--date", time.Now().UTC().Format(time.DateOnly)}, false, "", 0, "0 subscriptions billed"},
	} {
		confirmInput = func() (io.Reader, bool) { return strings.NewReader(c.answer), c.tty }
		var stdout, stderr bytes.Buffer
		code := run(ctx, append(c.args, "--db", dbPath), &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(all, c.out) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", c.name, code, c.code, c.out, all)
		}
	}
}

// TestBillFutureOnTestClock: in a sandbox (serve --test-clock) today is
// the test clock's: days up to it bill without asking, later ones do not.
func TestBillFutureOnTestClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "bill.db")
	db := storetest.OpenURL(t, dbPath)
	billCustomer(t, db)
	if _, err := db.UseTestClock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetTestClock(ctx, account.SystemActor(), time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		date string
		code int
		out  string
	}{
		{"2027-03-20", 2, "billing 2027-03-16 to 2027-03-20 is 5 days after today (2027-03-15)"},
		{"2027-03-15", 0, "billed 2027-03-15: 1 subscription billed, 2 invoices issued, USD 30.00\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"bill", "--from", "2027-03-15", "--to", c.date, "--db", dbPath}, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(all, c.out) {
			t.Errorf("bill to %s: exit %d, want %d with %q:\n%s", c.date, code, c.code, c.out, all)
		}
	}
}
