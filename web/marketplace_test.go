package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/web"
)

// shop is a fixture whose provider sells the demo catalog to its
// customers, plus three plans of its own: "office-free" (Office Basic at no
// price), "office-secret" on a hidden shelf, and the demo's Office Standard
// with its free trial. Its panel queues the provisioning of orders into
// enqueued.
type shop struct {
	*fixture
	plans    map[string]int64
	mu       sync.Mutex
	enqueued []int64
}

func setupShop(t *testing.T, e store.Engine) *shop {
	t.Helper()
	ctx := context.Background()
	f := setup(t, e)
	doc, err := catalog.DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc.SalesCategories = append(doc.SalesCategories, catalog.SalesCategory{Key: "secret", Name: catalog.Text{"en": "Secret shelf"},
		Position: 9, Holds: catalog.HoldsPlans, Displayed: false})
	var basic catalog.Plan
	for _, p := range doc.Plans {
		if p.Key == "office-basic" {
			basic = p
		}
	}
	doc.Plans = append(doc.Plans, freeCopy(basic), secretCopy(basic))
	var providerID int64
	if err := f.db.Read.QueryRow(`SELECT id FROM accounts WHERE kind = 'provider'`).Scan(&providerID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ImportCatalog(ctx, account.SystemActor(), providerID, doc, store.ImportOptions{}); err != nil {
		t.Fatalf("import the shop's catalog: %v", err)
	}
	s := &shop{fixture: f, plans: map[string]int64{}}
	for _, p := range doc.Plans {
		got, err := f.db.PlanByKey(ctx, account.SystemActor(), providerID, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		s.plans[p.Key] = got.ID
	}
	// The panel of this fixture queues orders' provisioning (the server
	// wires the task runner here).
	w, err := web.New(web.Config{DB: f.db, Version: "test", EnqueueProvision: func(_ context.Context, _ *sql.Tx, o *store.Order) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.enqueued = append(s.enqueued, o.ID)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	nf := *f
	nf.srv = srv
	nf.client = &http.Client{Jar: jar, CheckRedirect: f.client.CheckRedirect}
	s.fixture = &nf
	return s
}

// freeCopy is p at no price at all: an order of it costs nothing.
func freeCopy(p catalog.Plan) catalog.Plan {
	p.Key, p.Name, p.SalesCategories = "office-free", catalog.Text{"en": "Office Free"}, []string{"email-office"}
	// Out of Office Basic's plan category, which sells one subscription
	// per customer.
	p.PlanCategory = ""
	p.Periods = append([]catalog.Period(nil), p.Periods...)
	for i := range p.Periods {
		pe := &p.Periods[i]
		pe.Setup, pe.Recurring, pe.Renewal, pe.Cancellation = catalog.Price{}, catalog.Price{}, catalog.Price{}, catalog.Price{}
	}
	p.Rates = append([]catalog.Rate(nil), p.Rates...)
	for i := range p.Rates {
		r := &p.Rates[i]
		r.Setup, r.Recurring, r.Overuse = catalog.Price{}, catalog.Price{}, catalog.Price{}
	}
	return p
}

func secretCopy(p catalog.Plan) catalog.Plan {
	p.Key, p.Name, p.SalesCategories = "office-secret", catalog.Text{"en": "Office Secret"}, []string{"secret"}
	return p
}

func (s *shop) orders(t *testing.T, customerID int64) []*store.Order {
	t.Helper()
	os, err := s.db.Orders(context.Background(), account.SystemActor(), store.OrderFilter{CustomerID: customerID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return os
}

func TestMarketplaceShowsDisplayedShelvesInTheVendorsOrder(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Buyer", "en", true, 0, nil)
		s.signIn(t, c.login, customerPassword)
		resp, body := s.get(t, "/marketplace")
		if resp.StatusCode != 200 {
			t.Fatalf("marketplace: %d\n%s", resp.StatusCode, body)
		}
		// The demo tree: Productivity › Email & Office, then
		// Infrastructure › Databases, Servers, Domains.
		last := -1
		for _, k := range []string{"productivity", "email-office", "infrastructure", "databases", "servers", "domains"} {
			i := strings.Index(body, `id="shelf-`+k+`"`)
			if i < 0 || i < last {
				t.Fatalf("shelf %s missing or out of the vendor's order (at %d after %d)", k, i, last)
			}
			last = i
		}
		if strings.Contains(body, "Secret shelf") || strings.Contains(body, "Office Secret") {
			t.Error("a hidden category or its plan is shown")
		}
		for _, want := range []string{
			fmt.Sprintf(`href="/marketplace/%d"`, s.plans["office-basic"]),
			"4.00\u00a0USD per 1 month", // Office Basic's card
			"Compare the plans",         // Email & Office holds four plans
			"Free trial of 30 days",     // Office Standard's trial period
			"<td>5, up to 300</td>",     // Office Standard's mailboxes in the comparison
			`href="/marketplace"`,       // the navigation
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the marketplace lacks %q", want)
			}
		}

		clerk := s.addCustomer(t, "Clerk", "en", false, 0, nil)
		s.client.Jar, _ = cookiejar.New(nil)
		s.signIn(t, clerk.login, customerPassword)
		_, body = s.get(t, "/marketplace")
		if !strings.Contains(body, "Office Basic") || strings.Contains(body, "USD") || strings.Contains(body, "4.00") {
			t.Errorf("a user without show prices: %s", body)
		}
		_, body = s.get(t, fmt.Sprintf("/marketplace/%d/quote?period=1m&res.mailbox=3", s.plans["office-basic"]))
		if strings.Contains(body, "USD") || strings.Contains(body, "12.00") {
			t.Errorf("the summary shows a user without show prices an amount: %s", body)
		}
	})
}

func TestWizardQuotesAsTheAPIAndPlacesTheOrder(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Buyer", "en", true, 0, nil)
		s.signIn(t, c.login, customerPassword)
		basic := s.plans["office-basic"]
		resp, body := s.get(t, fmt.Sprintf("/marketplace/%d", basic))
		if resp.StatusCode != 200 {
			t.Fatalf("wizard: %d", resp.StatusCode)
		}
		// Mailboxes are a spinner, storage a slider, as the rates say.
		for _, want := range []string{`name="res.mailbox" type="number"`, `name="res.office-storage" type="range"`,
			`min="10" max="100"`, `value="1m" checked`, `hx-get="/marketplace/` + fmt.Sprint(basic) + `/quote"`} {
			if !strings.Contains(body, want) {
				t.Errorf("wizard lacks %q", want)
			}
		}
		// 3 mailboxes, 1 included: 4.00 plan + 2 × 4.00 = 12.00; 20 GB of
		// storage, 10 included: + 10 × 0.20 = 14.00. The store's quote,
		// the API's, says the same.
		_, sum := s.get(t, fmt.Sprintf("/marketplace/%d/quote?period=1m&res.mailbox=3&res.office-storage=20", basic))
		q, err := s.db.Quote(context.Background(), account.SystemActor(), store.OrderRequest{CustomerID: c.acct.ID, PlanID: basic,
			Period: "1m", Resources: map[string]int64{"mailbox": 3, "office-storage": 20}})
		if err != nil {
			t.Fatal(err)
		}
		if q.Quote.Total != 14_000_000 || !strings.Contains(sum, `<td class="amount" id="total">14.00`+"\u00a0USD</td>") {
			t.Fatalf("quote %v; summary:\n%s", q.Quote.Total, sum)
		}
		if strings.Contains(sum, "<html") || strings.Contains(sum, "confirm_zero") {
			t.Errorf("the summary for htmx is more than the summary:\n%s", sum)
		}

		resp = s.post(t, fmt.Sprintf("/marketplace/%d", basic), url.Values{"period": {"1m"}, "res.mailbox": {"3"}, "res.office-storage": {"20"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("place: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		orders := s.orders(t, c.acct.ID)
		if len(orders) != 1 || orders[0].Total != 14_000_000 || orders[0].Status != order.StatusProvisioning || orders[0].PlanID != basic {
			t.Fatalf("orders: %+v", orders)
		}
		if len(s.enqueued) != 1 || s.enqueued[0] != orders[0].ID {
			t.Errorf("provisioning queued for %v, want order %d", s.enqueued, orders[0].ID)
		}
		_, home := s.get(t, "/")
		if !strings.Contains(home, fmt.Sprintf(`id="subscription-%d"`, orders[0].SubscriptionID)) || !strings.Contains(home, "Office Basic") {
			t.Errorf("Home does not show the new subscription:\n%s", home)
		}
	})
}

func TestWizardRefusesAZeroOrderWithoutConfirmation(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Buyer", "en", true, 0, nil)
		s.signIn(t, c.login, customerPassword)
		free := fmt.Sprintf("/marketplace/%d", s.plans["office-free"])
		_, body := s.get(t, free)
		if !strings.Contains(body, `name="confirm_zero"`) || !strings.Contains(body, "This order costs nothing.") {
			t.Fatalf("no confirmation asked for a zero-amount order:\n%s", body)
		}
		form := url.Values{"period": {"12m"}, "res.mailbox": {"2"}, "res.office-storage": {"30"}}
		resp := s.post(t, free, form)
		b := readBody(t, resp)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "tick the box to confirm it") {
			t.Fatalf("unconfirmed zero order: %d\n%s", resp.StatusCode, b)
		}
		// Nothing is lost: the choices are shown again.
		for _, want := range []string{`value="12m" checked`, `name="res.mailbox" type="number" inputmode="numeric" class="spinner" min="1" max="50" step="1" value="2"`,
			`value="30"`} {
			if !strings.Contains(b, want) {
				t.Errorf("the refused form lost %q", want)
			}
		}
		if n := len(s.orders(t, c.acct.ID)); n != 0 {
			t.Fatalf("%d orders stored by a refused order", n)
		}
		form.Set("confirm_zero", "yes")
		if resp := s.post(t, free, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirmed zero order: %d %s", resp.StatusCode, readBody(t, resp))
		}
		if os := s.orders(t, c.acct.ID); len(os) != 1 || os[0].Total != 0 {
			t.Fatalf("orders: %+v", os)
		}

		// A trial costs nothing too but needs no confirmation.
		std := fmt.Sprintf("/marketplace/%d", s.plans["office-standard"])
		_, body = s.get(t, std+"/quote?period=trial")
		if strings.Contains(body, "confirm_zero") {
			t.Errorf("a trial asks for the confirmation of a zero order:\n%s", body)
		}
		if resp := s.post(t, std, url.Values{"period": {"trial"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("trial order: %d %s", resp.StatusCode, readBody(t, resp))
		}
	})
}

func TestWizardBadInputShowsTheReasonAndKeepsTheChoice(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Buyer", "en", true, 0, nil)
		s.signIn(t, c.login, customerPassword)
		basic := fmt.Sprintf("/marketplace/%d", s.plans["office-basic"])
		for _, tc := range []struct {
			mailbox, want string
		}{
			{"three", "Enter a whole number."},
			{"51", "Choose an amount from 1 to 50."},
		} {
			resp := s.post(t, basic, url.Values{"period": {"1m"}, "res.mailbox": {tc.mailbox}, "res.office-storage": {"20"}})
			b := readBody(t, resp)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, tc.want) ||
				!strings.Contains(b, `value="`+tc.mailbox+`" aria-invalid="true"`) || !strings.Contains(b, `value="20"`) {
				t.Errorf("mailbox %q: %d\n%s", tc.mailbox, resp.StatusCode, b)
			}
		}
		if n := len(s.orders(t, c.acct.ID)); n != 0 {
			t.Fatalf("%d orders stored from bad input", n)
		}
		// A plan that is not on sale here is the 404 page, like one that
		// does not exist.
		for _, path := range []string{"/marketplace/999999", "/marketplace/nope"} {
			if resp, body := s.get(t, path); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `id="not-found"`) {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		}
	})
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func TestBrowserPurchaseWizard(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Wizard Buyer", "en", true, 0, nil)
		ctx, base := tab(t, s.srv)
		browserSignIn(t, ctx, base, c.login)

		// From the navigation to Office Basic's wizard.
		basic := s.plans["office-basic"]
		err := chromedp.Run(ctx,
			chromedp.Click(`#nav-marketplace`, chromedp.ByID),
			chromedp.WaitVisible(`#marketplace`, chromedp.ByID),
			chromedp.Click(fmt.Sprintf(`#plan-%d a.button`, basic), chromedp.ByQuery),
			chromedp.WaitVisible(`#wizard`, chromedp.ByID),
			chromedp.WaitVisible(`#total`, chromedp.ByID))
		if err != nil {
			t.Fatalf("open the wizard: %v", err)
		}
		// One mailbox included: 4.00. Typing 3 re-prices through htmx:
		// 4.00 + 2 × 4.00 = 12.00.
		var total string
		err = chromedp.Run(ctx,
			chromedp.SetValue(`#res-mailbox`, "3", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("res-mailbox").dispatchEvent(new Event("change", {bubbles: true}))`, nil),
			// Read the total in the same breath as the check: htmx may
			// swap #total again (input and change both re-price), and a
			// separate read can meet the element between two swaps.
			chromedp.Poll(`(() => { const e = document.getElementById("total"); const t = e ? e.innerText.trim() : "";
				return t.includes("12.00") ? t : false })()`, &total))
		if err != nil {
			t.Fatalf("re-price: %v", err)
		}
		if total != "12.00\u00a0USD" {
			t.Errorf("total %q, want 12.00 USD", total)
		}
		err = chromedp.Run(ctx,
			chromedp.Click(`#place`, chromedp.ByID),
			chromedp.WaitVisible(`#account-name`, chromedp.ByID))
		if err != nil {
			t.Fatalf("place: %v", err)
		}
		orders := s.orders(t, c.acct.ID)
		if len(orders) != 1 || orders[0].Total != 12_000_000 || orders[0].Status != order.StatusProvisioning {
			t.Fatalf("orders: %+v", orders)
		}
		if err := chromedp.Run(ctx, chromedp.WaitVisible(fmt.Sprintf(`#subscription-%d`, orders[0].SubscriptionID), chromedp.ByID)); err != nil {
			t.Fatalf("the new subscription on Home: %v", err)
		}

		// A zero-amount order is refused until confirmed.
		err = chromedp.Run(ctx,
			chromedp.Navigate(fmt.Sprintf("%s/marketplace/%d", base, s.plans["office-free"])),
			chromedp.WaitVisible(`#confirm-zero`, chromedp.ByID),
			chromedp.Click(`#place`, chromedp.ByID),
			chromedp.WaitVisible(`#confirm-error`, chromedp.ByID))
		if err != nil {
			t.Fatalf("unconfirmed zero order: %v", err)
		}
		if text := bodyText(t, ctx); !strings.Contains(text, "tick the box to confirm it") {
			t.Errorf("the refusal does not say why: %q", text)
		}
		if n := len(s.orders(t, c.acct.ID)); n != 1 {
			t.Fatalf("%d orders after the refusal, want 1", n)
		}
		err = chromedp.Run(ctx,
			chromedp.Click(`#confirm-zero`, chromedp.ByID),
			chromedp.Click(`#place`, chromedp.ByID),
			chromedp.WaitVisible(`#account-name`, chromedp.ByID))
		if err != nil {
			t.Fatalf("confirmed zero order: %v", err)
		}
		if n := len(s.orders(t, c.acct.ID)); n != 2 {
			t.Fatalf("%d orders after the confirmed one, want 2", n)
		}
	})
}
