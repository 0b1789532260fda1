package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBillCommandReportsAFailure: billCustomer's customer and a second one
// buy the same plan (15.00 a month each); the database refuses the second
// one's invoices (a trigger). `marketplane bill --date 2027-02-10` bills
// the first (15.00), names the second's subscription on stderr with the
// cause, counts the failure and exits 1; once the trigger is gone the same
// day bills the second alone and exits 0.
func TestBillCommandReportsAFailure(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		u := storetest.URL(t, e)
		db := storetest.OpenURL(t, u)
		billCustomer(t, db)
		var provider, plan int64
		if err := db.Read.QueryRowContext(ctx, `SELECT a.id, p.id FROM accounts a JOIN plans p ON p.owner_id = a.id
			WHERE a.parent_id IS NULL AND p.key = 'basic'`).Scan(&provider, &plan); err != nil {
			t.Fatal(err)
		}
		second := &account.Account{Kind: account.Customer, ParentID: provider, Name: "Second", Locale: "en-US", Currency: "USD",
			TimeZone: "UTC", Address: account.Address{Country: "US"}}
		if err := db.CreateAccount(ctx, account.SystemActor(), second); err != nil {
			t.Fatal(err)
		}
		o, err := db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: second.ID, PlanID: plan, Period: "1m",
			Resources: map[string]int64{"mailbox": 7}}, nil)
		if err != nil {
			t.Fatalf("place order: %v", err)
		}
		if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{TenantID: "t-2"}); err != nil {
			t.Fatalf("complete order: %v", err)
		}
		stmts := []string{fmt.Sprintf(`CREATE TRIGGER refuse_documents BEFORE INSERT ON documents WHEN NEW.account_id = %d
			BEGIN SELECT RAISE(ABORT, 'documents of this account are refused'); END`, second.ID)}
		drop := `DROP TRIGGER refuse_documents`
		if e == store.Postgres {
			stmts = []string{`CREATE FUNCTION refuse_document() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'documents of this account are refused'; END $$`,
				fmt.Sprintf(`CREATE TRIGGER refuse_documents BEFORE INSERT ON documents FOR EACH ROW
				WHEN (NEW.account_id = %d) EXECUTE FUNCTION refuse_document()`, second.ID)}
			drop = `DROP TRIGGER refuse_documents ON documents`
		}
		for _, q := range stmts {
			if _, err := db.Write.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}

		bill := func(code int, want ...string) {
			t.Helper()
			var stdout, stderr bytes.Buffer
			got := run(ctx, []string{"bill", "--date", "2027-02-10", "--yes", "--db", u}, &stdout, &stderr)
			all := stdout.String() + stderr.String()
			if got != code {
				t.Errorf("exit %d, want %d: %s", got, code, all)
			}
			for _, w := range want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
		}
		bill(1, fmt.Sprintf("2027-02-10: subscription %d: ", o.SubscriptionID), "documents of this account are refused",
			"billed 2027-02-10: 1 subscription billed, 1 invoice issued, USD 15.00, 1 failure\n", "1 subscription bills failed")
		if _, err := db.Write.ExecContext(ctx, drop); err != nil {
			t.Fatal(err)
		}
		bill(0, "billed 2027-02-10: 1 subscription billed, 1 invoice issued, USD 15.00\n")
		bill(0, "billed 2027-02-10: 0 subscriptions billed, 0 invoices issued\n")
	})
}
