package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// issue issues a document of type typ for amount (positive; the sign
// follows the type) from the provider to c, as the system.
func (f *fixture) issue(t *testing.T, c *customer, typ store.DocumentType, amount money.Micros, description string) *store.Document {
	t.Helper()
	if typ == store.DocCreditMemo {
		amount = -amount
	}
	day := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	d := &store.Document{Type: typ, VendorID: c.acct.ParentID, AccountID: c.acct.ID, Currency: "EUR", Total: amount,
		IssuedOn: day, DueOn: day.AddDate(0, 0, 14),
		Lines: []order.Line{{What: order.Recurring, Amount: amount, Description: description}}}
	if err := f.db.IssueDocument(context.Background(), account.SystemActor(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// addUser adds to c a user whose role is the administrator's less the
// privileges without, and returns its login.
func (f *fixture) addUser(t *testing.T, c *customer, name string, without ...account.Privilege) string {
	t.Helper()
	ctx := context.Background()
	admin, err := f.db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	var grants []account.Grant
	for _, g := range admin.Grants {
		keep := true
		for _, p := range without {
			keep = keep && g.Privilege != p
		}
		if keep {
			grants = append(grants, g)
		}
	}
	r := &account.Role{AccountID: c.acct.ID, Name: name, Grants: grants}
	if err := f.db.CreateRole(ctx, account.SystemActor(), r); err != nil {
		t.Fatal(err)
	}
	login := strings.ToLower(strings.ReplaceAll(name, " ", "-")) + "-" + c.login
	u := &account.User{AccountID: c.acct.ID, Login: login, Locale: "en", RoleIDs: []int64{r.ID}}
	if err := f.db.CreateUser(ctx, account.SystemActor(), u, customerPassword); err != nil {
		t.Fatal(err)
	}
	return login
}

func TestBillingShowsDocumentsPaymentsStandingAndWaitingOrders(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Billed Customer", "en", true, 0, []int64{7_500_000, 2_250_000})
		inv := f.issue(t, c, store.DocInvoice, 119_000_000, "Hosting, March")
		cm := f.issue(t, c, store.DocCreditMemo, 10_000_000, "Goodwill")
		// The credit memo pays 10.00 of the invoice; a payment of 50.00
		// another part: 59.00 stays open.
		pay, err := f.db.RecordPayment(context.Background(), account.SystemActor(), c.acct.ID, 50_000_000, "bank transfer")
		if err != nil {
			t.Fatal(err)
		}
		f.signIn(t, c.login, customerPassword)
		resp, body := f.get(t, "/billing")
		if resp.StatusCode != 200 {
			t.Fatalf("billing: %d\n%s", resp.StatusCode, body)
		}
		for _, want := range []string{
			inv.Number, cm.Number, pay.Number, "Invoice", "Credit memo", "bank transfer",
			"119.00\u00a0EUR", // the invoice's total
			"59.00\u00a0EUR",  // what it still asks for, and the balance owed
			"10.00\u00a0EUR",  // the credit memo
			"50.00\u00a0EUR",  // the payment
			"is waiting for payment: 7.50\u00a0EUR",
			"is waiting for payment: 2.25\u00a0EUR",
			fmt.Sprintf(`href="/billing/documents/%d/pdf"`, inv.ID),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("billing lacks %q", want)
			}
		}
		if !strings.Contains(body, "<dd id=\"balance\">59.00\u00a0EUR</dd>") {
			t.Errorf("the balance owed is not 59.00 EUR")
		}
		resp, pdf := f.get(t, fmt.Sprintf("/billing/documents/%d/pdf", inv.ID))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") {
			t.Errorf("the invoice's PDF: %d %q %.8q", resp.StatusCode, resp.Header.Get("Content-Type"), pdf)
		}
	})
}

func TestBillingWithoutShowPricesHasNoAmountsAndNoPDF(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Price Blind", "en", false, 0, []int64{7_500_000})
		inv := f.issue(t, c, store.DocInvoice, 119_000_000, "Hosting, March")
		f.signIn(t, c.login, customerPassword)
		resp, body := f.get(t, "/billing")
		if resp.StatusCode != 200 || !strings.Contains(body, inv.Number) || !strings.Contains(body, "is waiting for payment.") {
			t.Fatalf("billing: %d\n%s", resp.StatusCode, body)
		}
		for _, amount := range []string{"119", "7.50", "7,50", "EUR", "/pdf"} {
			if strings.Contains(body, amount) {
				t.Errorf("a user without show prices sees %q on Billing", amount)
			}
		}
		resp, page := f.get(t, fmt.Sprintf("/billing/documents/%d/pdf", inv.ID))
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="not-found"`) {
			t.Errorf("the PDF for a user without show prices: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

func TestBillingRefusals(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		mine := f.addCustomer(t, "Mine", "en", true, 0, nil)
		theirs := f.addCustomer(t, "Theirs", "en", true, 0, nil)
		own := f.issue(t, mine, store.DocInvoice, 20_000_000, "Hosting")
		other := f.issue(t, theirs, store.DocInvoice, 30_000_000, "Hosting")

		// Another customer's invoice by URL is the 404 page, the very page
		// of a document that does not exist.
		f.signIn(t, mine.login, customerPassword)
		r, theirPDF := f.get(t, fmt.Sprintf("/billing/documents/%d/pdf", other.ID))
		_, missing := f.get(t, "/billing/documents/999999/pdf")
		if r.StatusCode != http.StatusNotFound || !strings.Contains(theirPDF, `id="not-found"`) || theirPDF != missing {
			t.Errorf("another customer's invoice: %d\n%s", r.StatusCode, theirPDF)
		}
		if _, body := f.get(t, "/billing"); strings.Contains(body, other.Number) {
			t.Errorf("another customer's invoice is listed")
		}

		// A user whose role has no billing documents sees none and gets no
		// PDF, though it sees its orders.
		clerk := f.addUser(t, mine, "Order Clerk", account.PrivDocuments)
		f.signIn(t, clerk, customerPassword)
		resp, body := f.get(t, "/billing")
		if resp.StatusCode != 200 || strings.Contains(body, own.Number) || !strings.Contains(body, "Your role does not include billing documents.") {
			t.Errorf("billing without the documents privilege: %d\n%s", resp.StatusCode, body)
		}
		if r, _ := f.get(t, fmt.Sprintf("/billing/documents/%d/pdf", own.ID)); r.StatusCode != http.StatusNotFound {
			t.Errorf("the PDF without the documents privilege: %d", r.StatusCode)
		}
	})
}

func TestSubscriptionListPages(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Many Subs", "de-DE", true, 53, nil)
		f.signIn(t, c.login, customerPassword)
		// Home links to the full list, which exists.
		if _, home := f.get(t, "/"); !strings.Contains(home, `href="/subscriptions"`) {
			t.Fatal("Home does not link to the list of subscriptions")
		}
		resp, first := f.get(t, "/subscriptions")
		if resp.StatusCode != 200 || !strings.Contains(first, "Abonnements") {
			t.Fatalf("the list: %d\n%s", resp.StatusCode, first)
		}
		// Newest first: 50 on the first page, the oldest 3 on the next.
		seen := map[int64]bool{}
		for i, id := range c.subs {
			on := strings.Contains(first, fmt.Sprintf(`id="subscription-%d"`, id))
			if on != (i >= 3) {
				t.Errorf("subscription %d (#%d) on the first page: %v", id, i, on)
			}
			seen[id] = on
		}
		next := fmt.Sprintf(`href="/subscriptions?before=%d"`, c.subs[3])
		if !strings.Contains(first, next) {
			t.Fatalf("the first page does not link %s", next)
		}
		_, second := f.get(t, fmt.Sprintf("/subscriptions?before=%d", c.subs[3]))
		for _, id := range c.subs[:3] {
			if !strings.Contains(second, fmt.Sprintf(`id="subscription-%d"`, id)) {
				t.Errorf("subscription %d is not on the second page", id)
			}
		}
		if strings.Contains(second, "before=") || !strings.Contains(second, `id="first-page"`) {
			t.Error("the last page links a next page, or not the first")
		}
		if r, _ := f.get(t, "/subscriptions?before=x"); r.StatusCode != http.StatusNotFound {
			t.Errorf("a bad cursor: %d", r.StatusCode)
		}
	})
}

func TestBrowserBillingSubscriptionsAndAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Browsing Buyer", "en", true, 21, nil)
		inv := f.issue(t, c, store.DocInvoice, 119_000_000, "Hosting, March")
		ctx, base := tab(t, f.srv)
		browserSignIn(t, ctx, base, c.login)

		// Home's "All subscriptions" opens the full list.
		err := chromedp.Run(ctx,
			chromedp.Click(`a[href="/subscriptions"]:not(#nav-subscriptions)`, chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`#subscription-%d`, c.subs[0]), chromedp.ByID))
		if err != nil {
			t.Fatalf("the list of all subscriptions: %v", err)
		}

		// Billing lists the invoice, and its PDF downloads as a PDF with
		// the customer's session.
		var pdf map[string]any
		err = chromedp.Run(ctx,
			chromedp.Click(`#nav-billing`, chromedp.ByID),
			chromedp.WaitVisible(fmt.Sprintf(`#document-%d a.pdf`, inv.ID), chromedp.ByQuery),
			// The page fetches the link as a click would download it, and
			// the test waits for the answer it keeps.
			chromedp.Evaluate(fmt.Sprintf(`fetch(document.querySelector("#document-%d a.pdf").href).then(async r => {
				const b = new Uint8Array(await r.arrayBuffer());
				window.pdf = {status: r.status, type: r.headers.get("Content-Type"), head: String.fromCharCode(...b.slice(0, 5))};
			}); true`, inv.ID), nil),
			chromedp.Poll(`window.pdf`, &pdf))
		if err != nil {
			t.Fatalf("billing: %v", err)
		}
		if text := bodyText(t, ctx); !strings.Contains(text, inv.Number) || !strings.Contains(text, "119.00\u00a0EUR") {
			t.Errorf("billing does not show the invoice: %q", text)
		}
		if pdf["status"] != float64(200) || pdf["type"] != "application/pdf" || pdf["head"] != "%PDF-" {
			t.Errorf("the invoice's PDF: %v", pdf)
		}

		// An API key is made, shown once, and revoked.
		var token string
		err = chromedp.Run(ctx,
			chromedp.Click(`#nav-users`, chromedp.ByID),
			chromedp.WaitVisible(`#key-name`, chromedp.ByID),
			chromedp.SendKeys(`#key-name`, "Browser key", chromedp.ByID),
			chromedp.Submit(`#key-name`, chromedp.ByID),
			chromedp.WaitVisible(`#new-key`, chromedp.ByID),
			chromedp.Value(`#token`, &token, chromedp.ByID))
		if err != nil {
			t.Fatalf("create an API key: %v", err)
		}
		if _, err := f.db.ActorForKey(context.Background(), token); err != nil {
			t.Fatalf("the key shown (%q) does not work: %v", token, err)
		}
		keys, err := f.db.APIKeys(context.Background(), account.SystemActor(), c.acct.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys: %v %v", keys, err)
		}
		row := fmt.Sprintf(`#api-key-%d`, keys[0].ID)
		err = chromedp.Run(ctx,
			chromedp.Click(row+` button`, chromedp.ByQuery),
			chromedp.WaitNotPresent(row+` button`, chromedp.ByQuery),
			chromedp.WaitVisible(row, chromedp.ByQuery))
		if err != nil {
			t.Fatalf("revoke the key: %v", err)
		}
		if _, err := f.db.ActorForKey(context.Background(), token); err == nil {
			t.Error("the revoked key still works")
		}

		// A user without show prices sees the invoice on Billing, but no
		// amount and no PDF.
		clerk := f.addCustomer(t, "Blind Clerk", "en", false, 0, []int64{7_500_000})
		blind := f.issue(t, clerk, store.DocInvoice, 119_000_000, "Hosting, March")
		ctx, base = tab(t, f.srv)
		browserSignIn(t, ctx, base, clerk.login)
		var links int
		err = chromedp.Run(ctx,
			chromedp.Click(`#nav-billing`, chromedp.ByID),
			chromedp.WaitVisible(fmt.Sprintf(`#document-%d`, blind.ID), chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("a.pdf").length`, &links))
		if err != nil {
			t.Fatalf("the clerk's billing: %v", err)
		}
		text := bodyText(t, ctx)
		if !strings.Contains(text, blind.Number) || !strings.Contains(text, "waiting for payment") {
			t.Errorf("the clerk's billing: %q", text)
		}
		if strings.Contains(text, "119") || strings.Contains(text, "7.50") || strings.Contains(text, "EUR") || links != 0 {
			t.Errorf("a user without show prices sees an amount or %d PDF links: %q", links, text)
		}
	})
}

func TestBillingPages(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Long Ledger", "en", true, 0, nil)
		var docs []*store.Document
		for i := range 50 {
			docs = append(docs, f.issue(t, c, store.DocInvoice, 1_000_000, fmt.Sprintf("Month %d", i+1)))
		}
		for range 2 {
			p, err := f.db.RecordPayment(context.Background(), account.SystemActor(), c.acct.ID, 1_000_000, "card")
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, p)
		}
		f.signIn(t, c.login, customerPassword)
		// Newest first: the payments and 48 invoices, then the 2 oldest.
		_, first := f.get(t, "/billing")
		for i, d := range docs {
			if on := strings.Contains(first, fmt.Sprintf(`id="document-%d"`, d.ID)); on != (i >= 2) {
				t.Errorf("%s on the first page: %v", d.Number, on)
			}
		}
		next := fmt.Sprintf(`href="/billing?before=%d"`, docs[2].ID)
		if !strings.Contains(first, next) {
			t.Fatalf("the first page does not link %s", next)
		}
		_, second := f.get(t, fmt.Sprintf("/billing?before=%d", docs[2].ID))
		for i, d := range docs {
			if on := strings.Contains(second, fmt.Sprintf(`id="document-%d"`, d.ID)); on != (i < 2) {
				t.Errorf("%s on the second page: %v", d.Number, on)
			}
		}
		if strings.Contains(second, "before=") || !strings.Contains(second, `id="first-page"`) {
			t.Error("the last page links a next page, or not the first")
		}
	})
}
