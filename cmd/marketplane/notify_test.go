package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/mail/mailtest"
	"github.com/marketplane/marketplane/notify"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestNotificationDelivery runs a server three times on one database and
// a real SMTP server (MailDev): first with no mail server set, then with
// one that is down, then with MailDev. The credit holds of a customer of
// an L2 reseller write their messages meanwhile; in the end every one of
// them arrives once, in the customer's language (Hebrew), from its
// reseller, with the L1 reseller's override of the template until the L1
// resets it to the provider's. Not parallel: it shortens the backoff of
// every server in the process while it runs.
func TestNotificationDelivery(t *testing.T) {
	md := mailtest.New(t)
	saved := notificationBackoff
	notificationBackoff = func(int) time.Duration { return time.Second }
	t.Cleanup(func() { notificationBackoff = saved })
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx, sys := context.Background(), account.SystemActor()
		cfg := testConfig(storetest.URL(t, e))
		run := func(smtp string) *Main {
			t.Helper()
			c := cfg
			c.SMTP.Addr, c.SMTP.From = smtp, "noreply@marketplane.example"
			m := &Main{Config: c}
			if err := m.Run(ctx); err != nil {
				m.Close()
				t.Fatalf("run: %v", err)
			}
			return m
		}
		stop := func(m *Main) {
			t.Helper()
			if err := m.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}

		// 1. No mail server: messages wait in the outbox.
		m := run("")
		db := m.DB
		p, err := db.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		to := fmt.Sprintf("c-%s-%d@example.com", e, time.Now().UnixNano())
		mk := func(kind account.Kind, parent int64, name, email, locale string) *account.Account {
			t.Helper()
			a := &account.Account{Kind: kind, ParentID: parent, Name: name, Contact: account.Contact{Email: email},
				Address: account.Address{Country: "IL"}, Locale: locale, Currency: "ILS", TimeZone: "Asia/Jerusalem"}
			if err := db.CreateAccount(ctx, sys, a); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			return a
		}
		l1 := mk(account.Reseller, p.ID, "Reseller L1", "l1@example.com", "en")
		l2 := mk(account.Reseller, l1.ID, "Reseller L2", "help@l2.example", "he")
		c := mk(account.Customer, l2.ID, "לקוח", to, "he-IL")
		hold := func(db *store.DB) {
			t.Helper()
			if _, err := db.PutOnCreditHold(ctx, sys, c.ID, "unpaid", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ReleaseCreditHold(ctx, sys, c.ID, 0, "paid", nil); err != nil {
				t.Fatal(err)
			}
		}
		// L1 overrides the Hebrew message; its L2's customer gets it.
		tpl, _ := notify.Default(notify.CreditHold, "he")
		tpl.Subject = "L1: החשבון הוקפא"
		if _, err := db.SetNotificationTemplate(ctx, sys, l1.ID, tpl); err != nil {
			t.Fatal(err)
		}
		hold(db)
		hold(db)
		stop(m)

		// 2. The mail server is down: the deliveries fail, are recorded
		// and wait for their next attempt; nothing is lost.
		m = run("127.0.0.1:1")
		hold(m.DB)
		hold(m.DB)
		hold(m.DB)
		waitFor(t, "every message tried", func() bool {
			ns, err := m.DB.Notifications(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				if n.Attempts == 0 {
					return false
				}
			}
			return len(ns) == 5
		})
		stop(m)
		var ns []*store.Notification
		if got := md.Emails(t, to); len(got) != 0 {
			t.Fatalf("%d messages arrived while the server was down", len(got))
		}

		// 3. MailDev: the five queued messages go out, once each.
		m = run(md.SMTP)
		defer stop(m)
		waitFor(t, "five messages at MailDev", func() bool { return len(md.Emails(t, to)) >= 5 })
		waitFor(t, "every message sent", func() bool {
			ns, err = m.DB.Notifications(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				if n.Status != store.NotificationSent {
					return false
				}
			}
			return true
		})
		if len(ns) != 5 {
			t.Fatalf("%d messages in the outbox, want 5", len(ns))
		}
		got := md.Emails(t, to)
		if len(got) != 5 {
			t.Fatalf("%d messages arrived, want 5 (N queued = N delivered)", len(got))
		}
		for _, em := range got {
			if em.Subject != "L1: החשבון הוקפא" || len(em.From) != 1 || em.From[0].Name != "Reseller L2" ||
				!strings.Contains(em.Text, "שלום לקוח,") || !strings.Contains(em.HTML, `dir="rtl"`) {
				t.Errorf("arrived: %q from %+v\n%s", em.Subject, em.From, em.Text)
			}
			if src := md.Source(t, em); !strings.Contains(src, "Reply-To: <help@l2.example>") {
				t.Errorf("no reply-to of L2 in:\n%s", src)
			}
		}

		// Reset to parent: the provider's Hebrew message again.
		if err := m.DB.ResetNotificationTemplate(ctx, sys, l1.ID, notify.CreditHold, "he"); err != nil {
			t.Fatal(err)
		}
		hold(m.DB)
		waitFor(t, "the sixth message", func() bool { return len(md.Emails(t, to)) == 6 })
		if last := md.Emails(t, to)[5]; last.Subject != "החשבון שלך הוקפא" {
			t.Errorf("after reset: %q", last.Subject)
		}
	})
}
