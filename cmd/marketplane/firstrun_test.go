package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/client"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// runCLI runs the marketplane command line with args and returns its exit
// code and outputs.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// stdinMu serializes the tests that give the command line a stdin.
var stdinMu sync.Mutex

// runCLIWithStdin runs the command line with in as its standard input.
func runCLIWithStdin(in string, args ...string) (code int, stdout, stderr string) {
	stdinMu.Lock()
	defer stdinMu.Unlock()
	stdin = strings.NewReader(in)
	defer func() { stdin = os.Stdin }()
	return runCLI(args...)
}

// TestFirstHour plays the README's first-hour path on a fresh database:
// `serve --demo`, `apikey create` for the first L1 reseller, an order of
// Office Basic with 3 mailboxes for its first customer through
// `marketplane api orders place` (14.40: 4.80 a month and 2 mailboxes
// above the one included at 4.80, the provider's 4.00 with the L1's 20 %),
// which the demo's office connector completes; the subscription shows its
// tenant, the customer's invoice and the L1's invoice from the provider
// (12.00: 4.00 + 2 × 4.00) are issued, and the customer's invoice PDF,
// fetched with `marketplane api documents pdf`, reads 14.40. An L2
// reseller's order is invoiced at all three tiers.
func TestFirstHour(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		dbURL := storetest.URL(t, e)
		c := testConfig(dbURL)
		c.Demo = true
		m, out := start(t, c)

		// The demo names the first order to try, with the commands.
		ctx, sys := context.Background(), account.SystemActor()
		prov, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.DB.AccountByExternalID(ctx, sys, prov.ID, "demo-l1-1")
		if err != nil {
			t.Fatal(err)
		}
		plan, err := m.DB.PlanByKey(ctx, sys, r.ID, "office-basic")
		if err != nil {
			t.Fatal(err)
		}
		customers, err := m.DB.ChildrenByExternalID(ctx, r.ID, account.Customer)
		if err != nil {
			t.Fatal(err)
		}
		cust := customers["demo-customer-l1-1-001"]
		for _, want := range []string{
			fmt.Sprintf("marketplane apikey create --account %d --role account_admin", r.ID),
			fmt.Sprintf("marketplane api orders place --customer %d --plan %d --period 1m --resource mailbox=3", cust.ID, plan.ID),
			"Demo connectors: [registrar office",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("serve --demo does not print %q:\n%s", want, out)
			}
		}

		code, key, errOut := runCLI("apikey", "create", "--db", dbURL, "--account", id(r.ID), "--role", "account_admin")
		key = strings.TrimSpace(key)
		if code != 0 || !strings.HasPrefix(key, "mpk_") || strings.Contains(key, "\n") || !strings.Contains(errOut, "shown once") {
			t.Fatalf("apikey create: exit %d\nstdout: %s\nstderr: %s", code, key, errOut)
		}
		api := func(v any, args ...string) string {
			t.Helper()
			code, out, errOut := runCLI(append([]string{"api", "--url", m.URL(), "--api-key", key}, args...)...)
			if code != 0 {
				t.Fatalf("api %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
			}
			if v != nil {
				if err := json.Unmarshal([]byte(out), v); err != nil {
					t.Fatalf("api %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			return out
		}

		var o client.Order
		api(&o, "orders", "place", "--customer", id(cust.ID), "--plan", id(plan.ID), "--period", "1m", "--resource", "mailbox=3")
		if deref(o.Total) != "14.40" || o.Currency != "USD" {
			t.Fatalf("order total %s %s, want 14.40 USD", deref(o.Total), o.Currency)
		}
		// The demo's office connector completes it: wait for that.
		deadline := time.Now().Add(60 * time.Second)
		for o.Status != client.OrderStatusCompleted {
			if o.Status == client.OrderStatusCancelled || time.Now().After(deadline) {
				t.Fatalf("order %d is %s, not completed: %s", o.Id, o.Status, api(nil, "orders", "get", id(o.Id)))
			}
			time.Sleep(50 * time.Millisecond)
			api(&o, "orders", "get", id(o.Id))
		}
		var sub client.Subscription
		api(&sub, "subscriptions", "get", id(o.SubscriptionId))
		if sub.TenantId == nil || !strings.HasPrefix(*sub.TenantId, "office-") || sub.TenantStatus == nil || *sub.TenantStatus != "ready" ||
			sub.Attributes == nil || (*sub.Attributes)["service"] != "office (demo)" {
			t.Errorf("the subscription shows no demo tenant: %+v", sub)
		}

		// The invoices of both tiers.
		invoice := func(acct int64, want string) client.Document {
			t.Helper()
			var docs client.PageDocument
			out := api(&docs, "documents", "list", "--account", id(acct))
			if docs.Items == nil || len(*docs.Items) != 1 {
				t.Fatalf("documents of account %d: %s", acct, out)
			}
			d := (*docs.Items)[0]
			if d.Type != client.DocumentTypeInvoice || deref(d.Total) != want || d.OrderId == nil || *d.OrderId != o.Id {
				t.Errorf("invoice of account %d: total %s, want %s: %s", acct, deref(d.Total), want, out)
			}
			return d
		}
		inv := invoice(cust.ID, "14.40")
		invoice(r.ID, "12.00")

		// An L2 reseller's customer: three tiers invoice the order. The
		// L2 sells at 10 % over its L1's 4.80: 5.28 a month and 2 × 5.28
		// for the mailboxes above the one included = 15.84; the L2 pays its
		// L1 3 × 4.80 = 14.40, the L1 pays the provider 3 × 4.00 = 12.00.
		l2, err := m.DB.AccountByExternalID(ctx, sys, r.ID, "demo-l2-1-1")
		if err != nil {
			t.Fatal(err)
		}
		l2plan, err := m.DB.PlanByKey(ctx, sys, l2.ID, "office-basic")
		if err != nil {
			t.Fatal(err)
		}
		l2customers, err := m.DB.ChildrenByExternalID(ctx, l2.ID, account.Customer)
		if err != nil {
			t.Fatal(err)
		}
		l2cust := l2customers["demo-customer-l2-1-1-001"]
		keyL1 := key
		_, key, _ = runCLI("apikey", "create", "--db", dbURL, "--account", id(l2.ID), "--role", "account_admin")
		key = strings.TrimSpace(key)
		var o2 client.Order
		api(&o2, "orders", "place", "--customer", id(l2cust.ID), "--plan", id(l2plan.ID), "--period", "1m", "--resource", "mailbox=3")
		if deref(o2.Total) != "15.84" {
			t.Errorf("the L2 customer's order total %s, want 15.84", deref(o2.Total))
		}
		for deadline := time.Now().Add(60 * time.Second); o2.Status != client.OrderStatusCompleted; {
			if time.Now().After(deadline) {
				t.Fatalf("order %d is %s, not completed", o2.Id, o2.Status)
			}
			time.Sleep(50 * time.Millisecond)
			api(&o2, "orders", "get", id(o2.Id))
		}
		for acct, want := range map[int64]string{l2cust.ID: "15.84", l2.ID: "14.40", r.ID: "12.00"} {
			var total []string
			docs, err := m.DB.Documents(ctx, sys, store.DocumentFilter{AccountID: acct})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				if d.OrderID == o2.Id && d.Type == "invoice" {
					total = append(total, d.Total.String())
				}
			}
			if len(total) != 1 || total[0] != want {
				t.Errorf("account %d: invoices of order %d total %v, want [%s]", acct, o2.Id, total, want)
			}
		}
		key = keyL1

		pdf := filepath.Join(t.TempDir(), "invoice.pdf")
		api(nil, "documents", "pdf", id(inv.Id), "--out", pdf)
		b, err := os.ReadFile(pdf)
		if err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
			t.Fatalf("documents pdf wrote %.20q (%v)", b, err)
		}
		if _, err := exec.LookPath("pdftotext"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("pdftotext is missing (apt package poppler-utils)")
			}
			t.Logf("pdftotext is missing: the PDF's text is not read")
			return
		}
		text, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", pdf, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{inv.Number, "$14.40", cust.Name} {
			if !strings.Contains(string(text), want) {
				t.Errorf("the invoice PDF reads no %q:\n%s", want, text)
			}
		}
	})
}

// TestFirstStartOnATakenPort: a first start whose port is taken fails
// before it creates anything, so the next start creates the administrator
// and prints its password (before, the failed start had printed it and the
// next printed nothing).
func TestFirstStartOnATakenPort(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		dbURL := storetest.URL(t, e)
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		c := testConfig(dbURL)
		c.Addr = taken.Addr().String()
		var out bytes.Buffer
		m := &Main{Config: c, Out: &out}
		if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on") {
			t.Fatalf("run on a taken port: %v", err)
		}
		m.Close()
		if strings.Contains(out.String(), "password") {
			t.Fatalf("a start that failed printed a password:\n%s", out.String())
		}

		_, out2 := start(t, testConfig(dbURL))
		_, pw, ok := strings.Cut(out2.String(), `password "`)
		if !ok {
			t.Fatalf("the first start that works prints no administrator password:\n%s", out2)
		}
		pw, _, _ = strings.Cut(pw, `"`)
		db := storetest.OpenURL(t, dbURL)
		if _, err := db.Login(context.Background(), "admin", pw, "127.0.0.1"); err != nil {
			t.Fatalf("the printed password does not work: %v", err)
		}
	})
}

// TestAPIKeyAndResetPassword: the operator's way in from the command line.
func TestAPIKeyAndResetPassword(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		dbURL := storetest.URL(t, e)
		m, _ := start(t, testConfig(dbURL))
		ctx := context.Background()
		prov, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// A key by role name, with an expiry, works against the API and
		// is in the audit log.
		code, key, errOut := runCLI("apikey", "create", "--db", dbURL, "--account", id(prov.ID), "--role", "Support (read-only)",
			"--name", "ops script", "--expires", "30d")
		key = strings.TrimSpace(key)
		if code != 0 || !strings.HasPrefix(key, "mpk_") || !strings.Contains(errOut, `"ops script"`) || !strings.Contains(errOut, "expires") {
			t.Fatalf("apikey create: exit %d\nstdout: %s\nstderr: %s", code, key, errOut)
		}
		if code, out, errOut := runCLI("api", "--url", m.URL(), "--api-key", key, "accounts", "me"); code != 0 || !strings.Contains(out, `"kind": "provider"`) {
			t.Errorf("the new key does not reach the API: exit %d\n%s%s", code, out, errOut)
		}
		var n int
		if err := m.DB.Read.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE action = 'api_key.create'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("audit entries of api_key.create: %d (%v)", n, err)
		}

		// Refusals: clear words, exit codes, and no key.
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--account", id(prov.ID), "--role", "nobody"}, 1, `no role "nobody"`},
			{[]string{"--account", "999999", "--role", "support"}, 1, "account 999999"},
			{[]string{"--role", "support"}, 2, "--account"},
			{[]string{"--account", id(prov.ID)}, 2, "--role"},
			{[]string{"--account", id(prov.ID), "--role", "support", "--expires", "soon"}, 2, "--expires"},
			{[]string{"--account", id(prov.ID), "--role", "support", "--name", "\u202eevil"}, 1, "name"},
		} {
			code, out, errOut := runCLI(append([]string{"apikey", "create", "--db", dbURL}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("apikey create %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.want, out, errOut)
			}
		}

		// reset-password --generate prints a password that signs in.
		code, out, errOut := runCLI("user", "reset-password", "admin", "--generate", "--db", dbURL, "--password-hash-memory", "64")
		_, pw, ok := strings.Cut(strings.TrimSpace(out), `New password of "admin": `)
		if code != 0 || !ok {
			t.Fatalf("reset-password --generate: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := m.DB.Login(ctx, "admin", pw, "127.0.0.1"); err != nil {
			t.Errorf("the generated password does not sign in: %v", err)
		}
		// --password-stdin takes the first line; a short one is refused.
		code, out, errOut = runCLIWithStdin("correct horse battery\n", "user", "reset-password", "admin", "--password-stdin", "--db", dbURL, "--password-hash-memory", "64")
		if code != 0 {
			t.Fatalf("reset-password --password-stdin: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := m.DB.Login(ctx, "admin", "correct horse battery", "127.0.0.1"); err != nil {
			t.Errorf("the password from stdin does not sign in: %v", err)
		}
		if code, _, errOut := runCLIWithStdin("short\n", "user", "reset-password", "admin", "--password-stdin", "--db", dbURL); code != 1 || !strings.Contains(errOut, "at least 10") {
			t.Errorf("a short password: exit %d: %s", code, errOut)
		}
		if code, _, errOut := runCLI("user", "reset-password", "nobody", "--generate", "--db", dbURL); code != 1 || !strings.Contains(errOut, "nobody") {
			t.Errorf("an unknown login: exit %d: %s", code, errOut)
		}
		// Without a terminal and without a flag, it says what to do.
		if code, _, errOut := runCLIWithStdin("", "user", "reset-password", "admin", "--db", dbURL); code != 2 || !strings.Contains(errOut, "--password-stdin") {
			t.Errorf("no terminal: exit %d: %s", code, errOut)
		}
	})
}

// TestDemoServedAgainElsewhere: a server started again on another address
// without --demo, on a database the demo was loaded into, runs the demo
// connectors again, moves their registration to its address with the
// secrets they had, and an order completes.
func TestDemoServedAgainElsewhere(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		dbURL := storetest.URL(t, e)
		c := testConfig(dbURL)
		c.Demo = true
		first := &Main{Config: c}
		if err := first.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		firstURL := first.URL()
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}

		m, out := start(t, testConfig(dbURL)) // port 0 again: another port
		if m.URL() == firstURL || !strings.Contains(out.String(), "Demo connectors: [registrar office") {
			t.Fatalf("second start at %s (first %s):\n%s", m.URL(), firstURL, out)
		}
		ctx, sys := context.Background(), account.SystemActor()
		conn, err := m.DB.Connector(ctx, sys, "office")
		if err != nil || conn.URL != m.URL()+"/demo/connectors/office" || conn.Status != store.ConnectorRegistered {
			t.Fatalf("office connector after the move: %+v (%v)", conn, err)
		}
		prov, _ := m.DB.Provider(ctx)
		r, err := m.DB.AccountByExternalID(ctx, sys, prov.ID, "demo-l1-1")
		if err != nil {
			t.Fatal(err)
		}
		plan, err := m.DB.PlanByKey(ctx, sys, r.ID, "domain-registration")
		if err != nil {
			t.Fatal(err)
		}
		customers, err := m.DB.ChildrenByExternalID(ctx, r.ID, account.Customer)
		if err != nil {
			t.Fatal(err)
		}
		_, key, errOut := runCLI("apikey", "create", "--db", dbURL, "--account", id(r.ID), "--role", "account_admin")
		key = strings.TrimSpace(key)
		code, out2, errOut := runCLI("api", "--url", m.URL(), "--api-key", key, "orders", "place",
			"--customer", id(customers["demo-customer-l1-1-002"].ID), "--plan", id(plan.ID), "--period", "1y")
		var o client.Order
		if code != 0 || json.Unmarshal([]byte(out2), &o) != nil {
			t.Fatalf("orders place: exit %d\n%s%s", code, out2, errOut)
		}
		deadline := time.Now().Add(60 * time.Second)
		for o.Status != client.OrderStatusCompleted {
			if time.Now().After(deadline) {
				t.Fatalf("order %d is %s, not completed", o.Id, o.Status)
			}
			time.Sleep(50 * time.Millisecond)
			got, err := m.DB.Order(ctx, sys, o.Id)
			if err != nil {
				t.Fatal(err)
			}
			o.Status = client.OrderStatus(got.Status)
		}
	})
}

// deref is *s, or "" for nil (an amount the API leaves out).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
