package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// tree is the account tree most store tests start from:
//
//	P (provider)
//	├── A (L1 reseller)
//	│   └── A1 (L2 reseller)
//	│       └── C (customer)
//	└── B (L1 reseller, A's sibling)
type tree struct {
	db             *store.DB
	P, A, B, A1, C *account.Account
	sys            *account.Actor
	admin, support *account.Role
	ctx            context.Context
}

func newAccount(kind account.Kind, parent int64, name string) *account.Account {
	return &account.Account{Kind: kind, ParentID: parent, Name: name, Address: account.Address{Country: "US"},
		Locale: "en-US", Currency: "USD", TimeZone: "America/New_York"}
}

func setup(t *testing.T, db *store.DB) *tree {
	t.Helper()
	ctx := context.Background()
	tr := &tree{db: db, sys: account.SystemActor(), ctx: ctx}
	tr.P = newAccount(account.Provider, 0, "Provider")
	if err := db.CreateProvider(ctx, tr.P); err != nil {
		t.Fatalf("create provider: %v", err)
	}
	mk := func(kind account.Kind, parent *account.Account, name string) *account.Account {
		t.Helper()
		a := newAccount(kind, parent.ID, name)
		if err := db.CreateAccount(ctx, tr.sys, a); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return a
	}
	tr.A = mk(account.Reseller, tr.P, "Reseller A")
	tr.B = mk(account.Reseller, tr.P, "Reseller B")
	tr.A1 = mk(account.Reseller, tr.A, "Reseller A1")
	tr.C = mk(account.Customer, tr.A1, "Customer C")
	var err error
	if tr.admin, err = db.RoleByKey(ctx, account.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if tr.support, err = db.RoleByKey(ctx, account.RoleSupport); err != nil {
		t.Fatal(err)
	}
	return tr
}

// user creates a user with the given role in acct and returns its actor.
func (tr *tree) user(t *testing.T, acct *account.Account, login string, role *account.Role) (*account.User, *account.Actor) {
	t.Helper()
	u := &account.User{AccountID: acct.ID, Login: login, RoleIDs: []int64{role.ID}}
	if err := tr.db.CreateUser(tr.ctx, tr.sys, u, "password-of-"+login); err != nil {
		t.Fatalf("create user %s: %v", login, err)
	}
	actor, err := tr.db.ActorForUser(tr.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u, actor
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := marketplane.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s", table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
