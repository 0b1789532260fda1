package api

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		support := f.roles[account.RoleSupport].ID
		path := "/accounts/" + id(f.L1a.ID) + "/users"

		r := f.must(t, 201, "L1a", "POST", path, map[string]any{
			"login": "Ann@Example.com", "password": "a long enough password", "display_name": "Ann",
			"email": "ann@example.com", "locale": "de-DE", "role_ids": []int64{support},
		})
		var ann User
		r.JSON(t, &ann)
		if ann.AccountID != f.L1a.ID || ann.Login != "Ann@Example.com" || !slices.Equal(ann.RoleIDs, []int64{support}) ||
			ann.Version != 1 || ann.LastLoginAt != nil {
			t.Errorf("created %+v", ann)
		}
		if bytes.Contains(r.Body, []byte("password")) || bytes.Contains(r.Body, []byte("argon2")) {
			t.Errorf("user body mentions the password: %s", r.Body)
		}
		if r.Header.Get("Location") != Prefix+"/users/"+id(ann.ID) {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}

		// Logins are unique ignoring case, across all accounts.
		p := f.must(t, 409, "L2", "POST", "/accounts/"+id(f.L2.ID)+"/users",
			map[string]any{"login": "ann@example.COM", "password": "another long password"}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.login"}) {
			t.Errorf("duplicate login: %+v", p)
		}
		p = f.must(t, 400, "L1a", "POST", path, map[string]any{"login": " ", "password": "short"}).Problem(t)
		if want := []string{"body.login", "body.password"}; !slices.Equal(p.locations(), want) {
			t.Errorf("bad user: %v, want %v", p.locations(), want)
		}

		// Lists hold no password either, and walk by cursor.
		var page Page[User]
		r = f.must(t, 200, "L1a", "GET", path+"?limit=1", nil)
		r.JSON(t, &page)
		if len(page.Items) != 1 || page.NextCursor == "" || bytes.Contains(r.Body, []byte("argon2")) {
			t.Errorf("first page %s", r.Body)
		}
		var second Page[User]
		f.must(t, 200, "L1a", "GET", path+"?limit=1&cursor="+page.NextCursor, nil).JSON(t, &second)
		if len(second.Items) != 1 || second.Items[0].ID != ann.ID || second.NextCursor != "" {
			t.Errorf("second page %+v", second)
		}

		r = f.must(t, 200, "L1a", "PATCH", "/users/"+id(ann.ID), map[string]any{"display_name": "Ann B.", "disabled": true},
			"If-Match", `"1"`)
		r.JSON(t, &ann)
		if ann.DisplayName != "Ann B." || !ann.Disabled || ann.Email != "ann@example.com" || r.Header.Get("ETag") != `"2"` {
			t.Errorf("patched %+v, ETag %s", ann, r.Header.Get("ETag"))
		}
		f.must(t, 412, "L1a", "PATCH", "/users/"+id(ann.ID), map[string]any{"display_name": "Lost"}, "If-Match", `"1"`).Problem(t)
		f.must(t, 412, "L1a", "PUT", "/users/"+id(ann.ID)+"/roles", map[string]any{"role_ids": []int64{}}, "If-Match", `"1"`)

		billing := f.roles[account.RoleBilling].ID
		f.must(t, 200, "L1a", "PUT", "/users/"+id(ann.ID)+"/roles", map[string]any{"role_ids": []int64{billing, support}},
			"If-Match", `"2"`).JSON(t, &ann)
		if !slices.Equal(ann.RoleIDs, []int64{billing, support}) {
			t.Errorf("roles %v", ann.RoleIDs)
		}
		p = f.must(t, 400, "L1a", "PUT", "/users/"+id(ann.ID)+"/roles", map[string]any{"role_ids": []int64{999999}}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.role_ids"}) {
			t.Errorf("unknown role: %+v", p)
		}

		p = f.must(t, 400, "L1a", "POST", "/users/"+id(ann.ID)+"/password", map[string]any{"password": "short"}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.password"}) {
			t.Errorf("short password: %+v", p)
		}
		f.must(t, 204, "L1a", "POST", "/users/"+id(ann.ID)+"/password", map[string]any{"password": "a brand new password"})
		f.must(t, 200, "L1a", "PATCH", "/users/"+id(ann.ID), map[string]any{"disabled": false})
		if _, err := db.Login(context.Background(), "ann@example.com", "a brand new password", "192.0.2.1"); err != nil {
			t.Errorf("login with the new password: %v", err)
		}

		f.must(t, 204, "L1a", "DELETE", "/users/"+id(ann.ID), nil)
		f.must(t, 404, "L1a", "GET", "/users/"+id(ann.ID), nil).Problem(t)
	})
}

// TestManageAffiliatedAccounts follows account.Authorize: user
// administration in child and grandchild accounts needs
// MANAGE_AFFILIATED_ACCOUNTS; deeper accounts are out of its reach (403 for
// an actor that sees them, 404 otherwise); the own account needs the users
// privilege instead.
func TestManageAffiliatedAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		// L1a → L2 → L3 → D: D is three levels below L1a.
		l3 := newAccount(t, db, f.L2, account.Reseller, "Hotel Reseller L3")
		d := newAccount(t, db, l3, account.Customer, "India Customer D")

		// A role with the users privilege and a view of the accounts below,
		// but without MANAGE_AFFILIATED_ACCOUNTS.
		usersOnly := &account.Role{AccountID: f.L1a.ID, Name: "User manager", Grants: []account.Grant{
			{Privilege: account.PrivAccounts, Level: "view", Scope: account.ScopeDescendants},
			{Privilege: account.PrivUsers, Level: "manage"},
		}}
		if err := db.CreateRole(ctx, account.SystemActor(), usersOnly); err != nil {
			t.Fatal(err)
		}
		f.keys["L1a-users"] = newKey(t, db, f.L1a.ID, usersOnly.ID)

		n := 0
		newUser := func() map[string]any {
			n++
			return map[string]any{"login": "affiliated-" + id(int64(n)), "password": "a long enough password"}
		}
		for _, c := range []struct {
			name    string
			key     string
			account *account.Account
			want    int
		}{
			{"admin in own account (users privilege)", "L1a", f.L1a, 201},
			{"admin in child L2", "L1a", f.L2, 201},
			{"admin in grandchild C", "L1a", f.C, 201},
			{"admin in grandchild L3", "L1a", l3, 201},
			{"admin three levels down in D", "L1a", d, 403},
			{"users-only role in own account", "L1a-users", f.L1a, 201},
			{"users-only role in child L2", "L1a-users", f.L2, 403},
			{"users-only role in grandchild C", "L1a-users", f.C, 403},
			{"L2 admin in its child C", "L2", f.C, 201},
			{"L2 admin in grandchild D", "L2", d, 201},
			{"sibling L1b admin in L2", "L1b", f.L2, 404},
			{"customer C admin in its parent L2", "C", f.L2, 404},
		} {
			r := f.call(t, c.key, "POST", "/accounts/"+id(c.account.ID)+"/users", newUser())
			if r.Status != c.want {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.want, r.Body)
			}
		}

		// The same rule guards editing users and their roles.
		var u User
		f.must(t, 201, "L2", "POST", "/accounts/"+id(d.ID)+"/users", newUser()).JSON(t, &u)
		f.must(t, 403, "L1a", "PATCH", "/users/"+id(u.ID), map[string]any{"display_name": "Too deep"})
		f.must(t, 403, "L1a", "PUT", "/users/"+id(u.ID)+"/roles", map[string]any{"role_ids": []int64{}})
		f.must(t, 200, "L2", "PUT", "/users/"+id(u.ID)+"/roles", map[string]any{"role_ids": []int64{}})

		// Nobody hands out more than it holds: a support key cannot make an
		// admin, even where it may see users.
		r := f.call(t, "L1a-support", "POST", "/accounts/"+id(f.L1a.ID)+"/users", map[string]any{
			"login": "escalate", "password": "a long enough password", "role_ids": []int64{f.roles[account.RoleAdmin].ID}})
		if r.Status != 403 || strings.Contains(string(r.Body), "escalate") {
			t.Errorf("support key making an admin: %d %s", r.Status, r.Body)
		}
	})
}
