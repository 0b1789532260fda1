package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestUsersAndLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		u := &account.User{AccountID: tr.A.ID, Login: "Ann.Smith@Example.com", DisplayName: "Ann", RoleIDs: []int64{tr.admin.ID}}
		if err := db.CreateUser(tr.ctx, tr.sys, u, "a long enough password"); err != nil {
			t.Fatal(err)
		}
		// The login is kept as given, looked up ignoring case.
		got, err := db.Login(tr.ctx, "ann.smith@example.com", "a long enough password", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Login != "Ann.Smith@Example.com" || got.LastLoginAt.IsZero() {
			t.Errorf("logged in as %q (last login %v)", got.Login, got.LastLoginAt)
		}
		// The hash is argon2id, never the password.
		var hash string
		db.Read.QueryRow(`SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash)
		if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "long enough") {
			t.Errorf("stored hash %q", hash)
		}
		// Duplicate login, whatever the case: refused, nothing added.
		before := count(t, db, "users")
		dup := &account.User{AccountID: tr.B.ID, Login: "ANN.SMITH@example.com"}
		err = db.CreateUser(tr.ctx, tr.sys, dup, "another password!")
		wantCode(t, err, marketplane.ECONFLICT)
		var e *marketplane.Error
		if !errors.As(err, &e) || e.Fields["login"] == "" {
			t.Errorf("no field error for login: %v", err)
		}
		// Bad input: every field reported at once.
		err = db.CreateUser(tr.ctx, tr.sys, &account.User{AccountID: tr.B.ID, Login: "", Email: "nope", Locale: "!!"}, "short")
		if !errors.As(err, &e) || e.Code != marketplane.EINVALID || len(e.Fields) != 4 {
			t.Errorf("bad user: %v", err)
		}
		if count(t, db, "users") != before {
			t.Fatal("refused users were stored")
		}
		// A disabled user cannot log in.
		u.Disabled = true
		u.Version = got.Version
		if err := db.UpdateUser(tr.ctx, tr.sys, u); err != nil {
			t.Fatal(err)
		}
		_, err = db.Login(tr.ctx, "Ann.Smith@Example.com", "a long enough password", "10.0.0.1")
		wantCode(t, err, marketplane.EUNAUTHORIZED)
		actor, _ := db.ActorForUser(tr.ctx, u.ID)
		if !actor.Disabled {
			t.Error("a disabled user's actor is not disabled")
		}
		wantCode(t, db.Authorize(tr.ctx, actor, account.ViewAccount, tr.A.ID), marketplane.EUNAUTHORIZED)
	})
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		aUser, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		_, bAdmin := tr.user(t, tr.B, "b-admin", tr.admin)
		_, aSupport := tr.user(t, tr.A, "a-support", tr.support)

		// MANAGE_AFFILIATED_ACCOUNTS: users in child and grandchild.
		c1 := &account.User{AccountID: tr.C.ID, Login: "c-user", RoleIDs: []int64{tr.support.ID}}
		if err := db.CreateUser(tr.ctx, aAdmin, c1, "customer password"); err != nil {
			t.Fatalf("A admin creating a user in grandchild C: %v", err)
		}
		// Not in a sibling's tree: it does not exist for B.
		wantCode(t, db.CreateUser(tr.ctx, bAdmin, &account.User{AccountID: tr.C.ID, Login: "intruder"}, "intruder password"), marketplane.ENOTFOUND)
		_, err := db.User(tr.ctx, bAdmin, c1.ID)
		wantCode(t, err, marketplane.ENOTFOUND)
		// Support may look, not touch.
		if _, err := db.User(tr.ctx, aSupport, aUser.ID); err != nil {
			t.Errorf("support viewing a colleague: %v", err)
		}
		wantCode(t, db.CreateUser(tr.ctx, aSupport, &account.User{AccountID: tr.A.ID, Login: "x"}, "some password"), marketplane.EFORBIDDEN)
		// Nobody gives itself roles.
		_, err = db.SetUserRoles(tr.ctx, aAdmin, aUser.ID, []int64{tr.admin.ID, tr.support.ID})
		wantCode(t, err, marketplane.EFORBIDDEN)
		// Support cannot make a user admin: it does not hold those grants.
		_, err = db.SetUserRoles(tr.ctx, aSupport, c1.ID, []int64{tr.admin.ID})
		if c := marketplane.ErrorCode(err); c != marketplane.EFORBIDDEN {
			t.Errorf("support escalating: %v", err)
		}
		// A custom role of B is not usable in A's tree.
		bRole := &account.Role{AccountID: tr.B.ID, Name: "Viewer", Grants: []account.Grant{{Privilege: account.PrivOrders, Level: "view"}}}
		if err := db.CreateRole(tr.ctx, bAdmin, bRole); err != nil {
			t.Fatal(err)
		}
		_, err = db.SetUserRoles(tr.ctx, aAdmin, c1.ID, []int64{bRole.ID})
		wantCode(t, err, marketplane.EINVALID)
		// A custom role of A is usable below A.
		aRole := &account.Role{AccountID: tr.A.ID, Name: "Order desk", Grants: []account.Grant{{Privilege: account.PrivOrders, Level: "manage"}}}
		if err := db.CreateRole(tr.ctx, aAdmin, aRole); err != nil {
			t.Fatal(err)
		}
		got, err := db.SetUserRoles(tr.ctx, aAdmin, c1.ID, []int64{aRole.ID})
		if err != nil || len(got.RoleIDs) != 1 || got.RoleIDs[0] != aRole.ID {
			t.Fatalf("roles of C's user: %v %v", got, err)
		}
		// Support cannot create a role with more than it holds.
		big := &account.Role{AccountID: tr.A.ID, Name: "Too much", Grants: []account.Grant{{Privilege: account.PrivUsers, Level: "manage"}}}
		wantCode(t, db.CreateRole(tr.ctx, aSupport, big), marketplane.EFORBIDDEN)
		// Built-in roles are fixed; a role in use cannot go.
		tr.admin.Name = "Hacked"
		wantCode(t, db.UpdateRole(tr.ctx, tr.sys, tr.admin), marketplane.EFORBIDDEN)
		wantCode(t, db.DeleteRole(tr.ctx, aAdmin, aRole.ID), marketplane.ECONFLICT)
		// Roles usable in C: the built-ins and A's, not B's.
		roles, err := db.Roles(tr.ctx, aAdmin, tr.C.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rn []string
		for _, r := range roles {
			rn = append(rn, r.Name)
		}
		if strings.Join(rn, ",") != "Account administrator,Billing manager,Support (read-only),Order desk" {
			t.Errorf("roles usable in C: %v", rn)
		}
		// Users change their own password; others need the privilege.
		if err := db.SetPassword(tr.ctx, aSupport, aUser.ID, "new password 123"); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("support changing admin's password: %v", err)
		}
		if err := db.SetPassword(tr.ctx, aAdmin, aUser.ID, "new password 123"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Login(tr.ctx, "a-admin", "new password 123", "10.1.1.1"); err != nil {
			t.Errorf("login with the new password: %v", err)
		}
		wantCode(t, db.DeleteUser(tr.ctx, aAdmin, aUser.ID), marketplane.EFORBIDDEN)
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		clock := marketplane.NewTestClock(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		db := storetest.OpenURL(t, storetest.URL(t, e))
		db.Clock = clock
		tr := setup(t, db)
		_, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		_, aSupport := tr.user(t, tr.A, "a-support", tr.support)

		key, token, err := db.CreateAPIKey(tr.ctx, aAdmin, tr.A.ID, tr.support.ID, "CRM sync", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, key.Prefix+"_") || len(token) < 40 {
			t.Errorf("token %q, prefix %q", token, key.Prefix)
		}
		var stored string
		db.Read.QueryRow(`SELECT secret_hash FROM api_keys WHERE id = $1`, key.ID).Scan(&stored)
		if strings.Contains(token, stored) || strings.Contains(stored, token[len(key.Prefix)+1:]) {
			t.Error("the secret is stored in clear")
		}
		// The key acts in A's subtree with the support role only.
		actor, err := db.ActorForKey(tr.ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if actor.AccountID != tr.A.ID || actor.KeyID != key.ID || actor.UserID != 0 {
			t.Errorf("key actor %+v", actor)
		}
		if err := db.Authorize(tr.ctx, actor, account.ViewAccount, tr.C.ID); err != nil {
			t.Errorf("key viewing C: %v", err)
		}
		wantCode(t, db.Authorize(tr.ctx, actor, account.ManageAccount, tr.C.ID), marketplane.EFORBIDDEN)
		wantCode(t, db.Authorize(tr.ctx, actor, account.ViewAccount, tr.B.ID), marketplane.ENOTFOUND)
		wantCode(t, db.Authorize(tr.ctx, actor, account.ViewAccount, tr.P.ID), marketplane.ENOTFOUND)
		// Last-used time is recorded.
		k, _ := db.APIKey(tr.ctx, aAdmin, key.ID)
		if !k.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("last used %v, want %v", k.LastUsedAt, clock.Now())
		}
		// Tampered tokens fail.
		for _, bad := range []string{"", "Bearer", token + "x", key.Prefix + "_" + strings.Repeat("a", 32), "mpk__x"} {
			_, err := db.ActorForKey(tr.ctx, bad)
			wantCode(t, err, marketplane.EUNAUTHORIZED)
		}
		// Support cannot make keys; nobody makes a key stronger than itself.
		_, _, err = db.CreateAPIKey(tr.ctx, aSupport, tr.A.ID, tr.support.ID, "x", time.Time{})
		wantCode(t, err, marketplane.EFORBIDDEN)
		_, _, err = db.CreateAPIKey(tr.ctx, aAdmin, tr.A.ID, tr.admin.ID, "", clock.Now().Add(-time.Hour))
		var fe *marketplane.Error
		if !errors.As(err, &fe) || fe.Fields["name"] == "" || fe.Fields["expires_at"] == "" {
			t.Errorf("bad key input: %v", err)
		}
		// Revocation takes effect at once.
		if _, err := db.RevokeAPIKey(tr.ctx, aAdmin, key.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.ActorForKey(tr.ctx, token)
		wantCode(t, err, marketplane.EUNAUTHORIZED)
		// Expiry.
		_, tok2, err := db.CreateAPIKey(tr.ctx, aAdmin, tr.A.ID, tr.admin.ID, "short-lived", clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ActorForKey(tr.ctx, tok2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		_, err = db.ActorForKey(tr.ctx, tok2)
		wantCode(t, err, marketplane.EUNAUTHORIZED)
	})
}

func TestAuditEntries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		aUser, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		_, bAdmin := tr.user(t, tr.B, "b-admin", tr.admin)
		a, _ := db.Account(tr.ctx, aAdmin, tr.A1.ID)
		a.Name = "Reseller A1 renamed"
		if err := db.UpdateAccount(tr.ctx, aAdmin, a); err != nil {
			t.Fatal(err)
		}
		entries, err := db.AuditLog(tr.ctx, aAdmin, store.AuditFilter{Entity: "account"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatal("no audit entries")
		}
		e := entries[0]
		if e.Action != "account.update" || e.ActorUserID != aUser.ID || e.ActorAccountID != tr.A.ID || e.AccountID != tr.A1.ID || e.EntityID != tr.A1.ID {
			t.Errorf("newest entry %+v", e)
		}
		var ch map[string][]string
		if err := json.Unmarshal(e.Changes, &ch); err != nil {
			t.Fatal(err)
		}
		if got := ch["name"]; len(got) != 2 || got[0] != "Reseller A1" || got[1] != "Reseller A1 renamed" {
			t.Errorf("changes %s", e.Changes)
		}
		// B sees none of A's entries, and cannot ask for them.
		bEntries, err := db.AuditLog(tr.ctx, bAdmin, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, be := range bEntries {
			if be.AccountID == tr.A.ID || be.AccountID == tr.A1.ID || be.AccountID == tr.C.ID {
				t.Errorf("B sees an entry of A's tree: %+v", be)
			}
		}
		_, err = db.AuditLog(tr.ctx, bAdmin, store.AuditFilter{AccountID: tr.A.ID})
		wantCode(t, err, marketplane.ENOTFOUND)
	})
}
