package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/notify"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// setContact gives account a a contact address and a locale, as a seller
// or a buyer that gets email.
func setContact(t *testing.T, db *store.DB, a *account.Account, email, locale string) {
	t.Helper()
	if _, err := db.Write.Exec(`UPDATE accounts SET contact_email = $1, locale = $2 WHERE id = $3`, email, locale, a.ID); err != nil {
		t.Fatal(err)
	}
}

// outbox returns the messages of kind k to account a.
func outbox(t *testing.T, db *store.DB, a *account.Account, k notify.Kind) []*store.Notification {
	t.Helper()
	all, err := db.Notifications(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Notification
	for _, n := range all {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// An order's completion, its invoice and a credit hold write their
// messages to the outbox in the buyer's language, from its seller, with
// the template that applies down the tree: A's override reaches A1's
// customer C, and after A resets to its parent the provider's is used
// again.
func TestNotificationOutbox(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		setContact(t, db, st.C, "c@example.com", "de-DE")
		setContact(t, db, st.A1, "support@a1.example", "en-US")

		last := func(k notify.Kind) *store.Notification {
			t.Helper()
			ns := outbox(t, db, st.C, k)
			if len(ns) == 0 {
				t.Fatalf("no %s message to C", k)
			}
			return ns[len(ns)-1]
		}

		o := st.complete(t, st.buy(t, st.c, 8))
		n := last(notify.OrderCompleted)
		if want := fmt.Sprintf("Ihre Bestellung SO-%06d ist abgeschlossen", o.Number); n.Subject != want || n.Locale != "de" {
			t.Errorf("subject %q in %s", n.Subject, n.Locale)
		}
		// 29.70 USD (the worked example), German digits.
		if !strings.Contains(n.Text, "Gesamtbetrag: 29,70\u00a0$.") || !strings.Contains(n.Text, "Guten Tag Customer C,") {
			t.Errorf("text:\n%s", n.Text)
		}
		if n.To != "c@example.com" || n.FromName != "Reseller A1" || n.ReplyTo != "support@a1.example" || n.SellerID != st.A1.ID ||
			n.Status != store.NotificationQueued || n.Attempts != 0 {
			t.Errorf("message %+v", n)
		}
		if inv := outbox(t, db, st.C, notify.InvoiceIssued); len(inv) != 1 || !strings.Contains(inv[0].Subject, "29,70\u00a0$") {
			for _, n := range inv {
				t.Errorf("invoice message %q", n.Subject)
			}
		}

		// A overrides the German message; A1's customer C gets A's.
		def, _ := notify.Default(notify.OrderCompleted, "de")
		mine := def
		mine.Subject = "A meldet: {{.Order.Number}} ist fertig"
		if _, err := db.SetNotificationTemplate(ctx, st.a, st.A.ID, mine); err != nil {
			t.Fatal(err)
		}
		st.complete(t, st.buy(t, st.c, 6))
		if n := last(notify.OrderCompleted); !strings.HasPrefix(n.Subject, "A meldet: SO-") {
			t.Errorf("after A's override: %q", n.Subject)
		}
		// A sees its override and the diff against the provider's; A1
		// sees it inherited from A.
		seen, err := db.NotificationTemplate(ctx, st.a, st.A.ID, notify.OrderCompleted, "de-AT")
		if err != nil {
			t.Fatal(err)
		}
		if !seen.Overridden || seen.Owner != st.A.ID || seen.Parent.Owner != 0 ||
			!strings.Contains(seen.Diff, "-Ihre Bestellung {{.Order.Number}} ist abgeschlossen\n+A meldet: {{.Order.Number}} ist fertig\n") {
			t.Errorf("A's view: %+v", seen)
		}
		seen, err = db.NotificationTemplate(ctx, st.a1, st.A1.ID, notify.OrderCompleted, "de")
		if err != nil {
			t.Fatal(err)
		}
		if seen.Overridden || seen.Owner != st.A.ID || seen.Diff != "" {
			t.Errorf("A1's view: %+v", seen)
		}
		// Saving again bumps the version.
		if o, err := db.SetNotificationTemplate(ctx, st.a, st.A.ID, mine); err != nil || o.Version != 2 {
			t.Errorf("second save: %+v, %v", o, err)
		}

		// Reset to parent: the provider's again.
		if err := db.ResetNotificationTemplate(ctx, st.a, st.A.ID, notify.OrderCompleted, "de"); err != nil {
			t.Fatal(err)
		}
		st.complete(t, st.buy(t, st.c, 5))
		if n := last(notify.OrderCompleted); !strings.HasPrefix(n.Subject, "Ihre Bestellung SO-") {
			t.Errorf("after reset: %q", n.Subject)
		}

		// A credit hold.
		if _, err := db.PutOnCreditHold(ctx, st.a1, st.C.ID, "cheque bounced", nil); err != nil {
			t.Fatal(err)
		}
		if n := last(notify.CreditHold); n.Subject != "Ihr Konto ist gesperrt" || n.FromName != "Reseller A1" {
			t.Errorf("hold message %+v", n)
		}
		if got := len(outbox(t, db, st.C, notify.OrderCompleted)); got != 3 {
			t.Errorf("%d order messages, want 3", got)
		}
	})
}

func TestNotificationTemplateRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		good, _ := notify.Default(notify.InvoiceIssued, "fr")
		bad := good
		bad.Text = "{{.Order.Number}}" // an invoice's message has no order

		_, err := db.SetNotificationTemplate(ctx, ct.a, ct.A.ID, bad)
		wantCode(t, err, marketplane.EINVALID)
		var e *marketplane.Error
		if !errors.As(err, &e) || e.Fields["text"] == "" {
			t.Errorf("no field error on text: %v", err)
		}
		// B cannot see or change A's; a customer has none.
		_, err = db.SetNotificationTemplate(ctx, ct.b, ct.A.ID, good)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.NotificationTemplate(ctx, ct.b, ct.A.ID, notify.InvoiceIssued, "fr")
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.SetNotificationTemplate(ctx, ct.c, ct.C.ID, good)
		wantCode(t, err, marketplane.ECONFLICT)
		if n := count(t, db, "notification_templates"); n != 0 {
			t.Errorf("%d templates saved", n)
		}
	})
}
