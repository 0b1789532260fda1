package store_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestTreeInvariants(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		for _, c := range []struct {
			a     *account.Account
			path  string
			depth int
			level string
		}{
			{tr.P, "/%d/", 0, ""},
			{tr.A, "/%d/%d/", 1, "L1"},
			{tr.A1, "/%d/%d/%d/", 2, "L2"},
			{tr.C, "/%d/%d/%d/%d/", 3, ""},
		} {
			got, err := db.Account(tr.ctx, tr.sys, c.a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := account.IDs(got.Path); len(want) != c.depth+1 || want[len(want)-1] != got.ID {
				t.Errorf("%s: path %s does not end in its id at depth %d", got.Name, got.Path, c.depth)
			}
			if got.Depth != c.depth || got.Level() != c.level {
				t.Errorf("%s: depth %d level %q, want %d %q", got.Name, got.Depth, got.Level(), c.depth, c.level)
			}
		}
		if !strings.HasPrefix(tr.C.Path, tr.A1.Path) || !strings.HasPrefix(tr.A1.Path, tr.A.Path) {
			t.Errorf("paths do not nest: %s %s %s", tr.A.Path, tr.A1.Path, tr.C.Path)
		}
		// Exactly one provider.
		second := newAccount(account.Provider, 0, "Second provider")
		wantCode(t, db.CreateProvider(tr.ctx, second), marketplane.ECONFLICT)
		wantCode(t, db.CreateAccount(tr.ctx, tr.sys, newAccount(account.Provider, tr.P.ID, "X")), marketplane.EINVALID)

		// Subtree listing: A sees A1 and C; direct children only: A1.
		all, err := db.ListAccounts(tr.ctx, tr.sys, store.AccountFilter{Under: tr.A.ID, Descendants: true})
		if err != nil {
			t.Fatal(err)
		}
		if names(all) != "Reseller A1,Customer C" {
			t.Errorf("descendants of A: %s", names(all))
		}
		kids, _ := db.ListAccounts(tr.ctx, tr.sys, store.AccountFilter{Under: tr.A.ID})
		if names(kids) != "Reseller A1" {
			t.Errorf("children of A: %s", names(kids))
		}
		n, err := db.CountDescendants(tr.ctx, tr.sys, tr.P.ID)
		if err != nil || n != 4 {
			t.Errorf("descendants of P = %d, %v; want 4", n, err)
		}
		// Pagination walks the tree in path order without repeats.
		var seen []string
		after := ""
		for {
			page, err := db.ListAccounts(tr.ctx, tr.sys, store.AccountFilter{Under: tr.P.ID, Descendants: true, After: after, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, page[0].Name)
			after = page[0].Path
		}
		if len(seen) != 4 {
			t.Errorf("walked %v", seen)
		}
	})
}

func names(as []*account.Account) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Name)
	}
	return strings.Join(s, ",")
}

func TestCustomerCannotHaveChildrenUntilConverted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		before := count(t, db, "accounts")
		err := db.CreateAccount(tr.ctx, tr.sys, newAccount(account.Customer, tr.C.ID, "Child of a customer"))
		wantCode(t, err, marketplane.EINVALID)
		var e *marketplane.Error
		if !errors.As(err, &e) || !strings.Contains(e.Fields["parent_id"], "customer") {
			t.Errorf("reason not given: %v", err)
		}
		if count(t, db, "accounts") != before {
			t.Fatal("a refused create left a row")
		}
		conv, err := db.ConvertToReseller(tr.ctx, tr.sys, tr.C.ID)
		if err != nil || conv.Kind != account.Reseller {
			t.Fatalf("convert: %v %v", conv, err)
		}
		_, err = db.ConvertToReseller(tr.ctx, tr.sys, tr.C.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		child := newAccount(account.Customer, tr.C.ID, "Now allowed")
		if err := db.CreateAccount(tr.ctx, tr.sys, child); err != nil {
			t.Fatalf("child of converted reseller: %v", err)
		}
		if child.Depth != 4 {
			t.Errorf("depth %d, want 4", child.Depth)
		}
	})
}

func TestMoveAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		// A cycle: A below its own grandchild's parent A1.
		_, err := db.MoveAccount(tr.ctx, tr.sys, tr.A.ID, tr.A1.ID)
		wantCode(t, err, marketplane.EINVALID)
		_, err = db.MoveAccount(tr.ctx, tr.sys, tr.A.ID, tr.A.ID)
		wantCode(t, err, marketplane.EINVALID)
		// Below a customer.
		_, err = db.MoveAccount(tr.ctx, tr.sys, tr.B.ID, tr.C.ID)
		wantCode(t, err, marketplane.EINVALID)
		// The provider never moves.
		_, err = db.MoveAccount(tr.ctx, tr.sys, tr.P.ID, tr.B.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		a, _ := db.Account(tr.ctx, tr.sys, tr.A.ID)
		if a.Path != tr.A.Path {
			t.Fatalf("a refused move changed the path: %s", a.Path)
		}

		// A1 with its customer moves from A to B: the whole subtree follows.
		moved, err := db.MoveAccount(tr.ctx, tr.sys, tr.A1.ID, tr.B.ID)
		if err != nil {
			t.Fatal(err)
		}
		if moved.Path != account.ChildPath(tr.B.Path, tr.A1.ID) || moved.ParentID != tr.B.ID || moved.Depth != 2 {
			t.Errorf("moved A1: %+v", moved)
		}
		c, _ := db.Account(tr.ctx, tr.sys, tr.C.ID)
		if c.Path != account.ChildPath(moved.Path, tr.C.ID) || c.Depth != 3 {
			t.Errorf("customer after move: path %s depth %d", c.Path, c.Depth)
		}
		underA, _ := db.CountDescendants(tr.ctx, tr.sys, tr.A.ID)
		underB, _ := db.CountDescendants(tr.ctx, tr.sys, tr.B.ID)
		if underA != 0 || underB != 2 {
			t.Errorf("after move: %d below A, %d below B", underA, underB)
		}
		// Moving one level up changes the depth of the subtree.
		if _, err := db.MoveAccount(tr.ctx, tr.sys, tr.A1.ID, tr.P.ID); err != nil {
			t.Fatal(err)
		}
		c, _ = db.Account(tr.ctx, tr.sys, tr.C.ID)
		if c.Depth != 2 || c.Path != "/"+itoa(tr.P.ID)+"/"+itoa(tr.A1.ID)+"/"+itoa(tr.C.ID)+"/" {
			t.Errorf("after moving up: %s depth %d", c.Path, c.Depth)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDeleteAndCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		err := db.DeleteAccount(tr.ctx, tr.sys, tr.A.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		if !strings.Contains(err.Error(), "cannot be deleted") {
			t.Errorf("reason: %v", err)
		}
		wantCode(t, db.DeleteAccount(tr.ctx, tr.sys, tr.P.ID), marketplane.ECONFLICT)
		if count(t, db, "accounts") != 5 {
			t.Fatal("a refused delete removed rows")
		}
		// Cancelling A without cascade is refused while A1 and C live.
		_, err = db.SetAccountStatus(tr.ctx, tr.sys, tr.A.ID, account.StatusCancelled, false)
		wantCode(t, err, marketplane.ECONFLICT)
		c, _ := db.Account(tr.ctx, tr.sys, tr.C.ID)
		if c.Status != account.StatusActive {
			t.Fatalf("refused cancel changed the customer: %s", c.Status)
		}
		// With cascade the subtree goes too; B is untouched.
		if _, err := db.SetAccountStatus(tr.ctx, tr.sys, tr.A.ID, account.StatusCancelled, true); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{tr.A.ID, tr.A1.ID, tr.C.ID} {
			a, _ := db.Account(tr.ctx, tr.sys, id)
			if a.Status != account.StatusCancelled {
				t.Errorf("%s is %s after cascade", a.Name, a.Status)
			}
		}
		b, _ := db.Account(tr.ctx, tr.sys, tr.B.ID)
		if b.Status != account.StatusActive {
			t.Errorf("sibling B is %s", b.Status)
		}
		_, err = db.SetAccountStatus(tr.ctx, tr.sys, tr.A.ID, account.StatusActive, false)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.SetAccountStatus(tr.ctx, tr.sys, tr.B.ID, "frozen", false)
		wantCode(t, err, marketplane.EINVALID)
		// A leaf deletes; its audit entry stays.
		if err := db.DeleteAccount(tr.ctx, tr.sys, tr.C.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.Account(tr.ctx, tr.sys, tr.C.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
	})
}

func TestAccountBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		before := count(t, db, "accounts")
		auditBefore := count(t, db, "audit_log")
		bad := newAccount(account.Customer, tr.A.ID, "")
		bad.Address.Country, bad.Currency, bad.TimeZone = "XX", "usd", "Nowhere/Land"
		err := db.CreateAccount(tr.ctx, tr.sys, bad)
		var e *marketplane.Error
		if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
			t.Fatalf("bad account: %v", err)
		}
		for _, f := range []string{"name", "address.country", "currency", "time_zone"} {
			if e.Fields[f] == "" {
				t.Errorf("missing field error %s in %v", f, e.Fields)
			}
		}
		wantCode(t, db.CreateAccount(tr.ctx, tr.sys, newAccount(account.Customer, 999999, "Orphan")), marketplane.EINVALID)
		// Stale version.
		a, _ := db.Account(tr.ctx, tr.sys, tr.A.ID)
		a.Name = "Renamed"
		if err := db.UpdateAccount(tr.ctx, tr.sys, a); err != nil {
			t.Fatal(err)
		}
		stale := *a
		stale.Version--
		stale.Name = "Lost update"
		wantCode(t, db.UpdateAccount(tr.ctx, tr.sys, &stale), marketplane.EPRECONDITION)
		got, _ := db.Account(tr.ctx, tr.sys, tr.A.ID)
		if got.Name != "Renamed" || got.Version != 2 {
			t.Errorf("after stale update: %q v%d", got.Name, got.Version)
		}
		if count(t, db, "accounts") != before || count(t, db, "audit_log") != auditBefore+1 {
			t.Errorf("bad input changed counts: accounts %d→%d, audit %d→%d", before, count(t, db, "accounts"), auditBefore, count(t, db, "audit_log"))
		}
		// Duplicate external id under one parent.
		x := newAccount(account.Customer, tr.A.ID, "X")
		x.ExternalID = "crm-1"
		if err := db.CreateAccount(tr.ctx, tr.sys, x); err != nil {
			t.Fatal(err)
		}
		y := newAccount(account.Customer, tr.A.ID, "Y")
		y.ExternalID = "crm-1"
		wantCode(t, db.CreateAccount(tr.ctx, tr.sys, y), marketplane.ECONFLICT)
	})
}

func TestStoreEnforcesScope(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		_, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		_, bAdmin := tr.user(t, tr.B, "b-admin", tr.admin)
		_, aSupport := tr.user(t, tr.A, "a-support", tr.support)
		// Sibling: not found, never forbidden (no probing).
		_, err := db.Account(tr.ctx, bAdmin, tr.A.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.ListAccounts(tr.ctx, bAdmin, store.AccountFilter{Under: tr.A.ID, Descendants: true})
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = db.Account(tr.ctx, aAdmin, tr.P.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		// B's own listing never shows A's subtree, even when asked broadly.
		mine, err := db.ListAccounts(tr.ctx, bAdmin, store.AccountFilter{Descendants: true})
		if err != nil || len(mine) != 0 {
			t.Errorf("B lists %s, %v", names(mine), err)
		}
		// A's admin creates below A1; A's support may not.
		if err := db.CreateAccount(tr.ctx, aAdmin, newAccount(account.Customer, tr.A1.ID, "By A admin")); err != nil {
			t.Errorf("A admin creating below A1: %v", err)
		}
		wantCode(t, db.CreateAccount(tr.ctx, aSupport, newAccount(account.Customer, tr.A1.ID, "By support")), marketplane.EFORBIDDEN)
		wantCode(t, db.CreateAccount(tr.ctx, bAdmin, newAccount(account.Customer, tr.A1.ID, "By B")), marketplane.EINVALID)
		// Moving into a subtree one does not manage is refused.
		_, err = db.MoveAccount(tr.ctx, aAdmin, tr.A1.ID, tr.B.ID)
		wantCode(t, err, marketplane.EINVALID)
		// Nobody cancels its own account.
		_, err = db.SetAccountStatus(tr.ctx, aAdmin, tr.A.ID, account.StatusCancelled, true)
		wantCode(t, err, marketplane.EFORBIDDEN)
		// Credit hold from above, not from the account itself.
		if _, err := db.SetAccountStatus(tr.ctx, aAdmin, tr.C.ID, account.StatusCreditHold, false); err != nil {
			t.Errorf("hold on customer: %v", err)
		}
		if _, err := db.SetAccountStatus(tr.ctx, aAdmin, tr.C.ID, account.StatusActive, false); err != nil {
			t.Errorf("release of customer: %v", err)
		}
	})
}
