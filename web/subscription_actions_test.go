package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// officeBasic gives customer c an active subscription of Office Basic,
// monthly, with 1 mailbox and 10 GB: the plan allows up to 50 mailboxes,
// and its upgrade paths lead to Office Pro and Office Standard.
func (s *shop) officeBasic(t *testing.T, c *customer) int64 {
	t.Helper()
	return s.subscribe(t, c, "office-basic")
}

// subscribe gives customer c an active monthly subscription of plan key
// (a copy of Office Basic) with 1 mailbox and 10 GB.
func (s *shop) subscribe(t *testing.T, c *customer, key string) int64 {
	t.Helper()
	ctx := context.Background()
	o, err := s.db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: c.acct.ID, PlanID: s.plans[key],
		Period: "1m", Resources: map[string]int64{"mailbox": 1, "office-storage": 10}, ConfirmZero: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.CompleteOrder(ctx, o.ID, store.TenantInfo{TenantID: "t-" + c.login, Status: "ready"}); err != nil {
		t.Fatal(err)
	}
	return o.SubscriptionID
}

// changeQuote is the API's price of a change of subscription id.
func (s *shop) changeQuote(t *testing.T, id int64, req store.ChangeRequest) *order.Quote {
	t.Helper()
	q, err := s.db.QuoteChange(context.Background(), account.SystemActor(), id, req)
	if err != nil {
		t.Fatal(err)
	}
	return q.Quote
}

// changeOrders are the orders of type typ of customer c.
func (s *shop) changeOrders(t *testing.T, c *customer, typ order.Type) []*store.Order {
	t.Helper()
	var out []*store.Order
	for _, o := range s.orders(t, c.acct.ID) {
		if o.Type == typ {
			out = append(out, o)
		}
	}
	return out
}

func TestSubscriptionLimitChangeQuotesAsTheAPIAndPlacesTheOrder(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Changer", "en", true, 0, nil)
		id := s.officeBasic(t, c)
		s.signIn(t, c.login, customerPassword)
		page := fmt.Sprintf("/subscriptions/%d", id)
		resp, body := s.get(t, page)
		if resp.StatusCode != 200 {
			t.Fatalf("subscription: %d", resp.StatusCode)
		}
		std, pro := s.plans["office-standard"], s.plans["office-pro"]
		for _, want := range []string{
			`name="res.mailbox" type="number"`, `name="res.office-storage" type="range"`,
			fmt.Sprintf(`hx-get="/subscriptions/%d/change/quote?resource=mailbox"`, id),
			fmt.Sprintf(`name="plan" value="%d"`, std), fmt.Sprintf(`name="plan" value="%d"`, pro),
			`name="period" value="12m"`, `id="cancel"`, `id="auto-renew"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the subscription's actions lack %q", want)
			}
		}

		// 3 mailboxes instead of 1: the summary says the API's price.
		want := s.changeQuote(t, id, store.ChangeRequest{Resources: map[string]int64{"mailbox": 3}})
		if want.Total <= 0 {
			t.Fatalf("the API prices 2 more mailboxes at %v", want.Total)
		}
		_, sum := s.get(t, page+"/change/quote?resource=mailbox&res.mailbox=3")
		if !strings.Contains(sum, `id="change-mailbox-total">`+want.Total.Format("USD")+"\u00a0USD<") || strings.Contains(sum, "<html") {
			t.Fatalf("summary for 3 mailboxes, want %s:\n%s", want.Total.Format("USD"), sum)
		}

		// 60 is beyond Office Basic's 50: the upsell offers the plans on
		// its paths that go that far, priced as the API prices them.
		_, sum = s.get(t, page+"/change/quote?resource=mailbox&res.mailbox=60")
		up := s.changeQuote(t, id, store.ChangeRequest{PlanID: std, Resources: map[string]int64{"mailbox": 60}})
		for _, w := range []string{"Your plan allows at most 50.", fmt.Sprintf(`id="upgrade-%d"`, std), fmt.Sprintf(`id="upgrade-%d"`, pro),
			"Change to Office Standard · " + up.Total.Format("USD") + "\u00a0USD"} {
			if !strings.Contains(sum, w) {
				t.Errorf("the upsell lacks %q:\n%s", w, sum)
			}
		}
		if strings.Contains(sum, "Office Free") {
			t.Error("the upsell offers a plan whose maximum is no higher")
		}

		resp = s.post(t, page+"/change", url.Values{"form": {"res.mailbox"}, "res.mailbox": {"3"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), page+"?ordered=") {
			t.Fatalf("change: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		chs := s.changeOrders(t, c, order.CH)
		if len(chs) != 1 || chs[0].Total != want.Total || chs[0].SubscriptionID != id {
			t.Fatalf("change orders: %+v, want one of %v", chs, want.Total)
		}
		_, body = s.get(t, resp.Header.Get("Location"))
		if !strings.Contains(body, fmt.Sprintf("Order %d is placed", chs[0].Number)) {
			t.Errorf("the page does not say the order is placed")
		}
		// A second change waits for the first: the refusal says so and
		// keeps the amount.
		resp = s.post(t, page+"/change", url.Values{"form": {"res.mailbox"}, "res.mailbox": {"7"}})
		b := readBody(t, resp)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "has an order in progress") || !strings.Contains(b, `value="7"`) {
			t.Errorf("second change: %d\n%s", resp.StatusCode, b)
		}
		if n := len(s.changeOrders(t, c, order.CH)); n != 1 {
			t.Errorf("%d change orders, want 1", n)
		}
	})
}

func TestSubscriptionChangeRefusalsKeepTheInput(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Typo", "en", true, 0, nil)
		id := s.officeBasic(t, c)
		s.signIn(t, c.login, customerPassword)
		page := fmt.Sprintf("/subscriptions/%d", id)
		for _, tc := range []struct{ amount, want string }{
			{"three", "Enter a whole number."},
			{"1", "That is the amount you have"},
			{"60", "Choose an amount from 1 to 50."},
		} {
			resp := s.post(t, page+"/change", url.Values{"form": {"res.mailbox"}, "res.mailbox": {tc.amount}})
			b := readBody(t, resp)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, tc.want) || !strings.Contains(b, `value="`+tc.amount+`"`) {
				t.Errorf("mailbox %q: %d, want %q\n%s", tc.amount, resp.StatusCode, tc.want, b)
			}
		}
		resp := s.post(t, page+"/cancel", url.Values{})
		if b := readBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "Tick the box to confirm the cancellation.") {
			t.Errorf("unconfirmed cancellation: %d\n%s", resp.StatusCode, b)
		}
		resp = s.post(t, page+"/auto-renew", url.Values{"auto_renew": {"before_expiration"}, "renew_days": {"soon"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "a whole number of days") || !strings.Contains(b, `value="soon"`) {
			t.Errorf("bad renew days: %d\n%s", resp.StatusCode, b)
		}
		if os := s.orders(t, c.acct.ID); len(os) != 1 {
			t.Fatalf("%d orders after refusals, want the sales order alone", len(os))
		}
		// Another customer's subscription takes no change: the 404 page.
		other := s.addCustomer(t, "Other", "en", true, 0, nil)
		theirs := s.officeBasic(t, other)
		resp = s.post(t, fmt.Sprintf("/subscriptions/%d/change", theirs), url.Values{"form": {"res.mailbox"}, "res.mailbox": {"3"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(b, `id="not-found"`) {
			t.Errorf("change of another's subscription: %d", resp.StatusCode)
		}
		if n := len(s.changeOrders(t, other, order.CH)); n != 0 {
			t.Errorf("another customer's subscription got %d change orders", n)
		}

		// With the confirmation the cancellation is ordered; auto-renew
		// is set.
		resp = s.post(t, page+"/auto-renew", url.Values{"auto_renew": {"before_expiration"}, "renew_days": {"5"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("auto-renew: %d %s", resp.StatusCode, readBody(t, resp))
		}
		sub, err := s.db.Subscription(context.Background(), account.SystemActor(), id)
		if err != nil || sub.AutoRenew != subscription.RenewBeforeExpiration || sub.RenewDays != 5 {
			t.Fatalf("auto-renew stored: %+v %v", sub, err)
		}
		resp = s.post(t, page+"/cancel", url.Values{"confirm_cancel": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("cancel: %d %s", resp.StatusCode, readBody(t, resp))
		}
		if n := len(s.changeOrders(t, c, order.CL)); n != 1 {
			t.Errorf("%d cancellation orders, want 1", n)
		}
	})
}

// addTeamPlans adds two copies of Office Standard that are on no path of
// Office Basic: "office-team" on the Email & Office shelf and
// "office-team-secret" on the hidden shelf only.
func (s *shop) addTeamPlans(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var providerID int64
	if err := s.db.Read.QueryRow(`SELECT id FROM accounts WHERE kind = 'provider'`).Scan(&providerID); err != nil {
		t.Fatal(err)
	}
	doc, err := s.db.ExportCatalog(ctx, account.SystemActor(), providerID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Plans {
		if p.Key != "office-standard" {
			continue
		}
		team, secret := p, p
		team.Key, team.Name, team.PlanCategory, team.UpgradeTo, team.DowngradeTo = "office-team", catalog.Text{"en": "Office Team"}, "", nil, nil
		secret.Key, secret.Name, secret.PlanCategory, secret.UpgradeTo, secret.DowngradeTo = "office-team-secret", catalog.Text{"en": "Office Hidden Team"}, "", nil, nil
		secret.SalesCategories = []string{"secret"}
		doc.Plans = append(doc.Plans, team, secret)
		break
	}
	if _, err := s.db.ImportCatalog(ctx, account.SystemActor(), providerID, doc, store.ImportOptions{}); err != nil {
		t.Fatalf("import the team plans: %v", err)
	}
	for _, k := range []string{"office-team", "office-team-secret"} {
		p, err := s.db.PlanByKey(ctx, account.SystemActor(), providerID, k)
		if err != nil {
			t.Fatal(err)
		}
		s.plans[k] = p.ID
	}
}

func TestSubscriptionUpsellExploresOffersOffThePaths(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		s.addTeamPlans(t)
		c := s.addCustomer(t, "Explorer", "en", true, 0, nil)
		id := s.officeBasic(t, c)
		s.signIn(t, c.login, customerPassword)
		_, sum := s.get(t, fmt.Sprintf("/subscriptions/%d/change/quote?resource=mailbox&res.mailbox=60", id))
		team := fmt.Sprintf(`href="/marketplace/%d?res.mailbox=60"`, s.plans["office-team"])
		if !strings.Contains(sum, team) || !strings.Contains(sum, "Explore Office Team") {
			t.Errorf("the upsell does not explore Office Team (%s):\n%s", team, sum)
		}
		if strings.Contains(sum, "Office Hidden Team") {
			t.Error("the upsell offers a plan of a hidden shelf")
		}
		resp, wiz := s.get(t, fmt.Sprintf("/marketplace/%d?res.mailbox=60", s.plans["office-team"]))
		if resp.StatusCode != 200 || !strings.Contains(wiz, `name="res.mailbox" type="number" inputmode="numeric" class="spinner" min="1" max="300" step="1" value="60"`) {
			t.Errorf("the wizard does not start from the wanted amount: %d", resp.StatusCode)
		}
	})
}

func TestSubscriptionActionsHidePricesWithoutShowPrices(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Clerk", "en", false, 0, nil)
		id := s.officeBasic(t, c)
		s.signIn(t, c.login, customerPassword)
		page := fmt.Sprintf("/subscriptions/%d", id)
		_, body := s.get(t, page)
		_, sum := s.get(t, page+"/change/quote?resource=mailbox&res.mailbox=3")
		_, up := s.get(t, page+"/change/quote?resource=mailbox&res.mailbox=60")
		if !strings.Contains(body, `id="plans"`) || !strings.Contains(up, "Change to Office Standard") {
			t.Fatalf("the clerk lacks the actions:\n%s\n%s", body, up)
		}
		for name, text := range map[string]string{"page": body, "summary": sum, "upsell": up} {
			if strings.Contains(text, "USD") || strings.Contains(text, `class="amount"`) {
				t.Errorf("the %s shows a user without show prices an amount:\n%s", name, text)
			}
		}
	})
}

func TestSubscriptionZeroChangeNeedsConfirmation(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Thrifty", "en", true, 0, nil)
		id := s.subscribe(t, c, "office-free")
		s.signIn(t, c.login, customerPassword)
		page := fmt.Sprintf("/subscriptions/%d", id)
		_, sum := s.get(t, page+"/change/quote?resource=mailbox&res.mailbox=2")
		if !strings.Contains(sum, `name="confirm_zero"`) || !strings.Contains(sum, "This change costs nothing.") {
			t.Fatalf("no confirmation asked for a change that costs nothing:\n%s", sum)
		}
		form := url.Values{"form": {"res.mailbox"}, "res.mailbox": {"2"}}
		resp := s.post(t, page+"/change", form)
		if b := readBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "tick the box to confirm it") || !strings.Contains(b, `value="2"`) {
			t.Fatalf("unconfirmed zero change: %d\n%s", resp.StatusCode, b)
		}
		if n := len(s.changeOrders(t, c, order.CH)); n != 0 {
			t.Fatalf("%d change orders stored by a refused change", n)
		}
		form.Set("confirm_zero", "yes")
		if resp := s.post(t, page+"/change", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirmed zero change: %d %s", resp.StatusCode, readBody(t, resp))
		}
		if chs := s.changeOrders(t, c, order.CH); len(chs) != 1 || chs[0].Total != 0 {
			t.Fatalf("change orders: %+v", chs)
		}
	})
}

func TestSubscriptionControlsFollowPrivileges(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		s := setupShop(t, e)
		c := s.addCustomer(t, "Owner", "en", true, 0, nil)
		id := s.officeBasic(t, c)
		// A viewer: sees subscriptions and prices, may neither change,
		// cancel nor set auto-renew.
		admin, err := s.db.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		var grants []account.Grant
		for _, g := range admin.Grants {
			switch g.Privilege {
			case account.PrivCancelSubs, account.PrivAutoRenew:
				continue
			case account.PrivSubs:
				g.Level = "view"
			}
			grants = append(grants, g)
		}
		role := &account.Role{AccountID: c.acct.ID, Name: "Viewer", Grants: grants}
		if err := s.db.CreateRole(ctx, account.SystemActor(), role); err != nil {
			t.Fatal(err)
		}
		u := &account.User{AccountID: c.acct.ID, Login: "viewer@example.com", Locale: "en", RoleIDs: []int64{role.ID}}
		if err := s.db.CreateUser(ctx, account.SystemActor(), u, customerPassword); err != nil {
			t.Fatal(err)
		}
		s.client.Jar, _ = cookiejar.New(nil)
		s.signIn(t, u.Login, customerPassword)
		page := fmt.Sprintf("/subscriptions/%d", id)
		resp, body := s.get(t, page)
		if resp.StatusCode != 200 || !strings.Contains(body, "Current period") {
			t.Fatalf("viewer's subscription page: %d", resp.StatusCode)
		}
		for _, absent := range []string{`id="cancel"`, `id="auto-renew"`, `id="limits"`, `id="plans"`, `id="periods"`, `/change"`} {
			if strings.Contains(body, absent) {
				t.Errorf("a user without the privilege sees %q", absent)
			}
		}
		for path, form := range map[string]url.Values{
			page + "/cancel":     {"confirm_cancel": {"yes"}},
			page + "/auto-renew": {"auto_renew": {"before_expiration"}, "renew_days": {"3"}},
			page + "/change":     {"form": {"res.mailbox"}, "res.mailbox": {"3"}},
		} {
			resp := s.post(t, path, form)
			if b := readBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(b, `id="not-found"`) {
				t.Errorf("forged %s: %d", path, resp.StatusCode)
			}
		}
		if os := s.orders(t, c.acct.ID); len(os) != 1 {
			t.Errorf("%d orders after forged posts, want the sales order alone", len(os))
		}
		sub, err := s.db.Subscription(ctx, account.SystemActor(), id)
		if err != nil || sub.AutoRenew == subscription.RenewBeforeExpiration && sub.RenewDays == 3 {
			t.Errorf("a forged post set auto-renew: %+v %v", sub, err)
		}
	})
}

func TestBrowserSubscriptionUpsell(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		c := s.addCustomer(t, "Growing Team", "en", true, 0, nil)
		id := s.officeBasic(t, c)
		ctx, base := tab(t, s.srv)
		browserSignIn(t, ctx, base, c.login)
		std := s.plans["office-standard"]
		// 60 mailboxes: beyond Office Basic's 50. The summary, re-priced
		// through htmx, offers Office Standard, on the plan's path.
		err := chromedp.Run(ctx,
			chromedp.Navigate(fmt.Sprintf("%s/subscriptions/%d", base, id)),
			chromedp.WaitVisible(`#limit-mailbox-amount`, chromedp.ByID),
			chromedp.SetValue(`#limit-mailbox-amount`, "60", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("limit-mailbox-amount").dispatchEvent(new Event("change", {bubbles: true}))`, nil),
			chromedp.WaitVisible(fmt.Sprintf(`#upgrade-%d`, std), chromedp.ByID))
		if err != nil {
			t.Fatalf("the upsell: %v", err)
		}
		if text := bodyText(t, ctx); !strings.Contains(text, "Your plan allows at most 50.") || !strings.Contains(text, "Explore other options") {
			t.Errorf("the upsell does not say why: %q", text)
		}
		want := s.changeQuote(t, id, store.ChangeRequest{PlanID: std, Resources: map[string]int64{"mailbox": 60}})
		err = chromedp.Run(ctx,
			chromedp.Click(fmt.Sprintf(`#upgrade-%d`, std), chromedp.ByID),
			chromedp.WaitVisible(`#ordered`, chromedp.ByID))
		if err != nil {
			t.Fatalf("follow the upsell: %v", err)
		}
		chs := s.changeOrders(t, c, order.CH)
		if len(chs) != 1 || chs[0].PlanID != std || chs[0].Total != want.Total || chs[0].Details.Resources["mailbox"] != 60 {
			t.Fatalf("change orders %+v, want one to Office Standard with 60 mailboxes for %v", chs, want.Total)
		}
	})
}
