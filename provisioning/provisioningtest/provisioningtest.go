// Package provisioningtest sets up what the tests of provisioning share: a
// connector served on loopback by the SDK, and a marketplace that registers
// it the real way (manifest, two-way signed check through the platform's
// callback endpoint), prices its draft plan and puts it on sale.
package provisioningtest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
)

// Serve serves svc by the connector protocol with secret on loopback until
// the test ends and returns its base URL. It suggests polls every second
// (the protocol's smallest Retry-After), so that asynchronous tenants settle
// quickly.
func Serve(t testing.TB, svc connector.Service, secret string) string {
	t.Helper()
	srv := httptest.NewServer(Handler(svc, secret))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Handler is the SDK's handler of svc with secret, quiet and with polls
// suggested every second.
func Handler(svc connector.Service, secret string) http.Handler {
	return connector.Handler(svc, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler), RetryAfter: time.Second})
}

// Shop is a marketplace on db: the provider, its administrator and the
// platform's callback endpoint on loopback. Every account it makes sells
// and buys in USD, in UTC, so that dates are days without time zone shifts.
type Shop struct {
	DB       *store.DB
	Provider *account.Account
	// Admin is the provider's administrator: it registers connectors and
	// manages the provider's catalog.
	Admin *account.Actor
	// CallbackBase is the platform's base URL as connectors reach it.
	CallbackBase string
	ctx          context.Context
}

// NewShop makes the provider with its administrator on db and serves the
// connector callback endpoint until the test ends.
func NewShop(t testing.TB, db *store.DB) *Shop {
	t.Helper()
	s := &Shop{DB: db, ctx: context.Background()}
	s.Provider = newAccount(account.Provider, 0, "Provider")
	if err := db.CreateProvider(s.ctx, s.Provider); err != nil {
		t.Fatalf("create provider: %v", err)
	}
	s.Admin = s.User(t, s.Provider, "provider-admin")
	mux := http.NewServeMux()
	mux.Handle("POST "+provisioning.CallbackPath, provisioning.CallbackHandler(db))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.CallbackBase = srv.URL
	return s
}

func newAccount(kind account.Kind, parent int64, name string) *account.Account {
	return &account.Account{Kind: kind, ParentID: parent, Name: name, Address: account.Address{Country: "US"},
		Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
}

// Account creates an account of kind below parentID.
func (s *Shop) Account(t testing.TB, kind account.Kind, parentID int64, name string) *account.Account {
	t.Helper()
	a := newAccount(kind, parentID, name)
	if err := s.DB.CreateAccount(s.ctx, account.SystemActor(), a); err != nil {
		t.Fatalf("create account %s: %v", name, err)
	}
	return a
}

// User creates an administrator of account a with login and returns it as
// an actor.
func (s *Shop) User(t testing.TB, a *account.Account, login string) *account.Actor {
	t.Helper()
	role, err := s.DB.RoleByKey(s.ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u := &account.User{AccountID: a.ID, Login: login, RoleIDs: []int64{role.ID}}
	if err := s.DB.CreateUser(s.ctx, account.SystemActor(), u, "password of "+login); err != nil {
		t.Fatalf("create user %s: %v", login, err)
	}
	actor, err := s.DB.ActorForUser(s.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return actor
}

// Register registers the connector at url with secret as the provider's
// administrator: the manifest is read, the connection checked both ways,
// and the resource types, template and draft plan are made. opt tunes the
// calls (zero: the defaults).
func (s *Shop) Register(t testing.TB, url, secret string, opt provisioning.Options) *provisioning.Registration {
	t.Helper()
	reg, err := provisioning.Register(s.ctx, s.DB, s.Admin, provisioning.RegisterRequest{
		URL: url, Secret: secret, CallbackBase: s.CallbackBase, Client: opt})
	if err != nil {
		t.Fatalf("register the connector at %s: %v", url, err)
	}
	if reg.Created.PlanID == 0 {
		t.Fatalf("the registration made no draft plan: %+v", reg.Created)
	}
	return reg
}

// Publish prices plan id of the provider with edit and puts it on sale;
// it returns the plan as stored.
func (s *Shop) Publish(t testing.TB, id int64, edit func(p *catalog.Plan)) *catalog.Plan {
	t.Helper()
	p, err := s.DB.Plan(s.ctx, s.Admin, id)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	p.Published = true
	if err := s.DB.UpdatePlan(s.ctx, s.Admin, p, nil); err != nil {
		t.Fatalf("price plan %s: %v", p.Key, err)
	}
	if p, err = s.DB.Plan(s.ctx, s.Admin, id); err != nil {
		t.Fatal(err)
	}
	return p
}

// Monthly is a period "1m" of one month with a setup and a recurring fee,
// refunded whole within 14 days and prorated after.
func Monthly(setup, recurring money.Micros) catalog.Period {
	return catalog.Period{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
		Setup: catalog.Price{Amount: setup}, Recurring: catalog.Price{Amount: recurring},
		Refund: catalog.Refund{FullDays: 14, After: catalog.RefundProrated}, RecurringPer: catalog.PerPeriod, Sort: 1}
}
