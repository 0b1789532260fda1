package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// billCustomer gives db a provider (UTC) selling "basic" to a customer:
// 10.00 a month, 5 mailboxes included, 2.50 each above; the customer buys
// 7 mailboxes on 2027-01-10, for the month [2027-01-10, 2027-02-10). Each
// renewal charges 10.00 + 2 × 2.50 = 15.00.
func billCustomer(t *testing.T, db *store.DB) {
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
		{"before the period ends", []string{"bill", "--date", "2027-02-09", "--db", dbPath}, 0,
			[]string{"billed 2027-02-09: 0 subscriptions billed, 0 invoices issued\n"}},
		{"span", []string{"bill", "--from", "2027-02-09", "--to", "2027-03-11", "--db", dbPath}, 0, []string{
			"2027-02-10: 1 subscription billed, 1 invoice issued, USD 15.00\n" +
				"2027-03-10: 1 subscription billed, 1 invoice issued, USD 15.00\n" +
				"billed 2027-02-09 to 2027-03-11: 2 subscriptions billed, 2 invoices issued, USD 30.00\n"}},
		{"again", []string{"bill", "--date", "2027-03-10", "--db", dbPath}, 0,
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
