package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// customer is a customer account with a signed-in-able user and rows made
// straight in the tables (a plan, subscriptions, orders): the panel's
// screens read them; how they came to be is the store's tests' business.
type customer struct {
	acct  *account.Account
	login string
	subs  []int64
}

const customerPassword = "customer password"

// addCustomer makes a customer under the provider of f with a user of the
// given locale (the administrator's privileges, less "show prices"
// unless showPrices),
// nSubs subscriptions and the orders waiting for payment.
func (f *fixture) addCustomer(t *testing.T, name, locale string, showPrices bool, nSubs int, waiting []int64) *customer {
	t.Helper()
	ctx := context.Background()
	var providerID int64
	if err := f.db.Read.QueryRow(`SELECT id FROM accounts WHERE kind = 'provider'`).Scan(&providerID); err != nil {
		t.Fatal(err)
	}
	c := &account.Account{Kind: account.Customer, ParentID: providerID, Name: name, Address: account.Address{Country: "DE"},
		Locale: "en-US", Currency: "EUR", TimeZone: "UTC"}
	if err := f.db.CreateAccount(ctx, account.SystemActor(), c); err != nil {
		t.Fatal(err)
	}
	role, err := f.db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	roles := []int64{role.ID}
	if !showPrices {
		r := &account.Role{AccountID: c.ID, Name: "No prices", Grants: withoutPrices(role.Grants)}
		if err := f.db.CreateRole(ctx, account.SystemActor(), r); err != nil {
			t.Fatal(err)
		}
		roles = []int64{r.ID}
	}
	login := strings.ToLower(strings.ReplaceAll(name, " ", "-")) + "@example.com"
	u := &account.User{AccountID: c.ID, Login: login, Locale: locale, RoleIDs: roles}
	if err := f.db.CreateUser(ctx, account.SystemActor(), u, customerPassword); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	next := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	var planID int64
	err = f.db.Write.QueryRow(`INSERT INTO plans (owner_id, root_id, key, template_key, currency, body, created_at, updated_at)
		VALUES ($1, 0, $2, 'hosting', 'EUR', '{}', $3, $3) RETURNING id`, providerID, "plan-"+login, now).Scan(&planID)
	if err != nil {
		t.Fatal(err)
	}
	cu := &customer{acct: c, login: login}
	for range nSubs {
		var id int64
		err := f.db.Write.QueryRow(`INSERT INTO subscriptions (customer_id, vendor_id, plan_id, period_key, status, start_at, anchor_at,
			period_start, period_end, next_billing_at, resources, tenant_status, created_at, updated_at)
			VALUES ($1, $2, $3, '1m', 'active', $4, $4, $4, $5, $5, '{"mailbox": 10}', 'running', $4, $4) RETURNING id`,
			c.ID, providerID, planID, now, next).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		cu.subs = append(cu.subs, id)
	}
	for i, total := range waiting {
		_, err := f.db.Write.Exec(`INSERT INTO orders (vendor_id, customer_id, number, type, status, plan_id, period_key,
			request, quote, total, currency, created_at, updated_at)
			VALUES ($1, $2, $3, 'SO', 'waiting_payment', $4, '1m', '{}', '{}', $5, 'EUR', $6, $6)`,
			providerID, c.ID, c.ID*1000+int64(i)+1, planID, total, now)
		if err != nil {
			t.Fatal(err)
		}
	}
	return cu
}

func withoutPrices(g []account.Grant) []account.Grant {
	var out []account.Grant
	for _, gr := range g {
		if gr.Privilege != account.PrivShowPrices {
			out = append(out, gr)
		}
	}
	return out
}

func (f *fixture) signIn(t *testing.T, login, password string) {
	t.Helper()
	if resp := f.post(t, "/login", url.Values{"login": {login}, "password": {password}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", login, resp.StatusCode)
	}
}

func TestHomeListsSubscriptionsAndEveryOrderWaitingForPayment(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Shop Owner", "en", true, 2, []int64{12_500_000, 3_000_000})
		f.signIn(t, c.login, customerPassword)
		resp, body := f.get(t, "/")
		if resp.StatusCode != 200 {
			t.Fatalf("home: %d", resp.StatusCode)
		}
		for _, id := range c.subs {
			if !strings.Contains(body, fmt.Sprintf(`href="/subscriptions/%d"`, id)) {
				t.Errorf("home does not link subscription %d", id)
			}
		}
		for _, want := range []string{"Active", "1 Apr 2027", "waiting for payment: 12.50\u00a0EUR", "waiting for payment: 3.00\u00a0EUR"} {
			if !strings.Contains(body, want) {
				t.Errorf("home lacks %q", want)
			}
		}
	})
}

func TestPricesHiddenWithoutShowPrices(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Clerk", "en", false, 1, []int64{12_500_000})
		f.signIn(t, c.login, customerPassword)
		_, body := f.get(t, "/")
		if !strings.Contains(body, "is waiting for payment.") {
			t.Fatal("the clerk is not warned of the unpaid order")
		}
		if strings.Contains(body, "12.50") || strings.Contains(body, "12,50") {
			t.Error("a user without show prices sees an amount on Home")
		}
	})
}

func TestNotFoundPage(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		mine := f.addCustomer(t, "Mine", "en", true, 1, nil)
		theirs := f.addCustomer(t, "Theirs", "en", true, 1, nil)
		f.signIn(t, mine.login, customerPassword)
		resp, body := f.get(t, fmt.Sprintf("/subscriptions/%d", mine.subs[0]))
		if resp.StatusCode != 200 || !strings.Contains(body, "Current period") {
			t.Fatalf("own subscription: %d", resp.StatusCode)
		}
		_, unknown := f.get(t, "/no/such/page")
		_, missing := f.get(t, "/subscriptions/999999")
		r, other := f.get(t, fmt.Sprintf("/subscriptions/%d", theirs.subs[0]))
		if r.StatusCode != http.StatusNotFound || !strings.Contains(other, `id="not-found"`) || !strings.Contains(other, `id="nav"`) {
			t.Fatalf("another customer's subscription: %d\n%s", r.StatusCode, other)
		}
		if other != missing || other != unknown {
			t.Error("the page of another customer's subscription differs from that of a missing one")
		}
	})
}

func TestGermanSaysAbonnementAndArabicIsRightToLeft(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Kunde", "de-DE", true, 1, nil)
		f.signIn(t, c.login, customerPassword)
		_, body := f.get(t, "/")
		if !strings.Contains(body, "Abonnements") || strings.Contains(body, "Vertrag") || !strings.Contains(body, `lang="de"`) {
			t.Errorf("German home:\n%s", body)
		}
		req, _ := http.NewRequest("GET", f.srv.URL+"/login", nil)
		req.Header.Set("Accept-Language", "ar-EG,ar;q=0.9,en;q=0.5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `dir="rtl"`) || !strings.Contains(string(b), "تسجيل الدخول") {
			t.Errorf("Arabic sign-in page:\n%s", b)
		}
	})
}

func TestStaticFilesCachedByHash(t *testing.T) {
	t.Parallel()
	f := setup(t, store.SQLite)
	_, login := f.get(t, "/login")
	i := strings.Index(login, "/static/htmx.min.js?v=")
	if i < 0 {
		t.Fatal("the page does not load htmx from the panel")
	}
	u := login[i : i+strings.IndexByte(login[i:], '"')]
	resp, body := f.get(t, u)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "htmx") {
		t.Errorf("htmx: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
