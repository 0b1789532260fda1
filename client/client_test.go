package client_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/client"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// fixture is an API server in front of a provider P, its reseller R and R's
// customer C, and a client for each, signed in with the account's admin key.
type fixture struct {
	P, R, C       *account.Account
	asP, asR, asC *client.ClientWithResponses
}

// setup starts the API on db on 2027-01-10, 15:00 UTC. Orders are accepted
// without a task manager: the test completes them through the store, as
// their provisioning task would.
func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	db.Clock = marketplane.NewTestClock(time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC))
	admin, err := db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	f.P = newAccount(t, db, nil, account.Provider, "Provider Inc")
	f.R = newAccount(t, db, f.P, account.Reseller, "Reseller Ltd")
	f.C = newAccount(t, db, f.R, account.Customer, "Customer LLC")

	a := api.New(api.Config{DB: db, Version: "test", Logger: slog.New(slog.DiscardHandler),
		EnqueueProvision: func(context.Context, *sql.Tx, *store.Order) error { return nil }})
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", a.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	signIn := func(acc *account.Account) *client.ClientWithResponses {
		_, key, err := db.CreateAPIKey(ctx, account.SystemActor(), acc.ID, admin.ID, "client test", time.Time{})
		if err != nil {
			t.Fatalf("API key of %s: %v", acc.Name, err)
		}
		c, err := client.New(srv.URL+api.Prefix, key, client.WithHTTPClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.asP, f.asR, f.asC = signIn(f.P), signIn(f.R), signIn(f.C)
	return f
}

func newAccount(t *testing.T, db *store.DB, parent *account.Account, kind account.Kind, name string) *account.Account {
	t.Helper()
	a := &account.Account{Kind: kind, Name: name, Locale: "en-US", Currency: "USD", TimeZone: "UTC",
		Address: account.Address{Country: "US"}}
	var err error
	if parent == nil {
		err = db.CreateProvider(context.Background(), a)
	} else {
		a.ParentID = parent.ID
		err = db.CreateAccount(context.Background(), account.SystemActor(), a)
	}
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return a
}

// response is what every generated ...WithResponse method returns.
type response interface {
	StatusCode() int
	GetBody() []byte
}

// expect stops the test unless the call got status want.
func expect(t *testing.T, what string, r response, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.StatusCode() != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode(), want, r.GetBody())
	}
}

func ptr[T any](v T) *T { return &v }

// lineString renders a document line for a table a person can check:
// "resource mailbox×3 [2027-01-10, 2027-02-10) 9.90".
func lineString(l client.DocumentLine) string {
	s := string(l.What)
	if l.Resource != nil {
		s += " " + *l.Resource
		if l.Quantity != nil {
			s += "×" + *l.Quantity
		}
	}
	if l.From != nil && l.To != nil {
		s += fmt.Sprintf(" [%s, %s)", l.From, l.To)
	}
	return s + " " + str(l.Amount)
}

// str reads an amount, which the API leaves out for callers without the
// show_prices privilege.
func str(p *string) string {
	if p == nil {
		return "(absent)"
	}
	return *p
}

// TestOrderAndInvoice: R sells its own plan "office" to C, who orders it with
// 8 mailboxes through the generated client; completing the order issues C's
// invoice for the month [2027-01-10, 2027-02-10):
//
//	setup                         6.60
//	recurring                    13.20
//	mailboxes: 8 − 5 included = 3 × 3.30 = 9.90
//	total                        29.70
func TestOrderAndInvoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()

		// The catalog, as the provider and the reseller would make it.
		rt, err := f.asP.CreateResourceTypeWithResponse(ctx, nil, client.ResourceTypeInput{Key: ptr("mailbox"),
			Name: map[string]string{"en": "Mailbox"}, Unit: "mailbox", Class: client.ResourceTypeInputClassLimit})
		expect(t, "create resource type", rt, err, 201)
		tpl, err := f.asP.CreateTemplateWithResponse(ctx, nil, client.TemplateInput{Key: ptr("office"),
			Name: map[string]string{"en": "Office"}, Resources: &[]client.TemplateResource{{Resource: "mailbox", Limit: 10}}})
		expect(t, "create template", tpl, err, 201)
		plan, err := f.asR.CreatePlanWithResponse(ctx, f.R.ID, nil, client.PlanInput{
			Key: "office", Template: "office", Currency: "USD", Name: map[string]string{"en": "Office"},
			Billing: client.PlanInputBillingAdvance, Published: ptr(true),
			Periods: &[]client.Period{{Key: "1m", Duration: client.Duration{N: 1, Unit: client.DurationUnitMonth},
				Setup: &client.Price{Amount: ptr("6.60")}, Recurring: &client.Price{Amount: ptr("13.20")}}},
			Rates: &[]client.Rate{{Key: "mailbox", Resource: ptr("mailbox"), Included: 5, Min: 1, Max: 100,
				Recurring: &client.Price{Amount: ptr("3.30")}}},
		})
		expect(t, "create plan", plan, err, 201)

		// C orders it; the order's total is the invoice's to be.
		placed, err := f.asC.PlaceOrderWithResponse(ctx, &client.PlaceOrderParams{IdempotencyKey: ptr("order-1")}, client.OrderInput{CustomerId: f.C.ID, PlanId: plan.JSON201.Id,
			Period: "1m", Resources: &map[string]int64{"mailbox": 8}})
		expect(t, "place order", placed, err, 201)
		o := placed.JSON201
		if o.Status != client.OrderStatusProvisioning || o.VendorId != f.R.ID || o.CustomerId != f.C.ID || str(o.Total) != "29.70" {
			t.Fatalf("placed %+v", o)
		}
		if _, err := db.CompleteOrder(ctx, o.Id, store.TenantInfo{TenantID: fmt.Sprintf("tenant-%d", o.SubscriptionId),
			Status: "ready"}); err != nil {
			t.Fatal(err)
		}
		got, err := f.asC.GetOrderWithResponse(ctx, o.Id)
		expect(t, "get order", got, err, 200)
		if got.JSON200.Status != client.OrderStatusCompleted {
			t.Errorf("order status %q after completion", got.JSON200.Status)
		}

		// C finds its invoice among its documents and reads it.
		docs, err := f.asC.ListDocumentsWithResponse(ctx, &client.ListDocumentsParams{AccountId: &f.C.ID})
		expect(t, "list documents", docs, err, 200)
		if docs.JSON200.Items == nil || len(*docs.JSON200.Items) != 1 {
			t.Fatalf("C's documents: %s", docs.Body)
		}
		listed := (*docs.JSON200.Items)[0]
		doc, err := f.asC.GetDocumentWithResponse(ctx, listed.Id)
		expect(t, "get document", doc, err, 200)
		inv := doc.JSON200
		if inv.Type != client.DocumentTypeInvoice || inv.Status != client.DocumentStatusOpen || inv.Number != "INV-000001" ||
			inv.VendorId != f.R.ID || inv.AccountId != f.C.ID || inv.Currency != "USD" || inv.IssuedOn.String() != "2027-01-10" ||
			inv.OrderId == nil || *inv.OrderId != o.Id || inv.SubscriptionId == nil || *inv.SubscriptionId != o.SubscriptionId {
			t.Errorf("invoice %s", doc.Body)
		}
		if str(inv.Total) != "29.70" || str(inv.AmountDue) != "29.70" || str(inv.Applied) != "0.00" {
			t.Errorf("invoice total %s, due %s, applied %s; want 29.70 due, nothing applied", str(inv.Total), str(inv.AmountDue), str(inv.Applied))
		}
		var lines []string
		for _, l := range *inv.Lines {
			lines = append(lines, lineString(l))
		}
		const month = " [2027-01-10, 2027-02-10) "
		if want := []string{"setup 6.60", "recurring" + month + "13.20", "resource mailbox×3" + month + "9.90"}; !slices.Equal(lines, want) {
			t.Errorf("invoice lines\n  %q\nwant\n  %q", lines, want)
		}

		// Problems come back decoded too: a document that does not exist
		// is a 404 problem document.
		missing, err := f.asC.GetDocumentWithResponse(ctx, inv.Id+1000)
		expect(t, "get a missing document", missing, err, 404)
		if p := missing.ApplicationproblemJSON404; p == nil || p.Status == nil || *p.Status != 404 {
			t.Errorf("404 problem %s", missing.Body)
		}
	})
}
