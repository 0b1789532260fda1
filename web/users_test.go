package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// adminRole is the id of the built-in account administrator role.
func (f *fixture) adminRole(t *testing.T) int64 {
	t.Helper()
	r, err := f.db.RoleByKey(context.Background(), account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

var tokenRE = regexp.MustCompile(`mpk_[0-9a-z]+_[0-9a-z]+`)

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUsersCreateAndRevokeAPIKey(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		ctx := context.Background()
		c := f.addCustomer(t, "Key Maker", "en", true, 0, nil)
		f.signIn(t, c.login, customerPassword)
		resp, body := f.get(t, "/users")
		if resp.StatusCode != 200 || !strings.Contains(body, c.login) || !strings.Contains(body, `id="new-key-form"`) {
			t.Fatalf("users: %d\n%s", resp.StatusCode, body)
		}

		resp = f.post(t, "/users/api-keys", url.Values{"name": {"Deploy robot"}, "role_id": {fmt.Sprint(f.adminRole(t))}})
		created := readAll(t, resp)
		token := tokenRE.FindString(created)
		if resp.StatusCode != http.StatusCreated || token == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create a key: %d %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), created)
		}
		actor, err := f.db.ActorForKey(ctx, token)
		if err != nil || actor.AccountID != c.acct.ID {
			t.Fatalf("the key shown does not sign in to the account: %v", err)
		}
		// Shown once: the list afterwards has the key, not its secret.
		_, body = f.get(t, "/users")
		if !strings.Contains(body, "Deploy robot") || strings.Contains(body, token) {
			t.Fatalf("the list after creating the key:\n%s", body)
		}
		keys, err := f.db.APIKeys(ctx, account.SystemActor(), c.acct.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys: %v %v", keys, err)
		}
		resp = f.post(t, fmt.Sprintf("/users/api-keys/%d/revoke", keys[0].ID), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if _, err := f.db.ActorForKey(ctx, token); err == nil {
			t.Error("the revoked key still signs in")
		}
		if _, body = f.get(t, "/users"); !strings.Contains(body, "Revoked") {
			t.Error("the list does not say the key is revoked")
		}
	})
}

func TestUsersBadKeyFormKeepsInput(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Typo Maker", "en", true, 0, nil)
		f.signIn(t, c.login, customerPassword)
		role := fmt.Sprint(f.adminRole(t))
		long := strings.Repeat("k", 101)
		for _, tc := range []struct {
			form url.Values
			msg  string
			keep string
		}{
			{url.Values{"name": {" "}, "role_id": {role}}, "Give the key a name", fmt.Sprintf(`value="%s" selected`, role)},
			{url.Values{"name": {long}, "role_id": {role}}, "Give the key a name", `value="` + long + `"`},
			{url.Values{"name": {"Nightly export"}, "role_id": {"x"}}, "Choose one of the roles", `value="Nightly export"`},
			{url.Values{"name": {"Nightly export"}, "role_id": {"999999"}}, "Choose one of the roles", `value="Nightly export"`},
		} {
			resp := f.post(t, "/users/api-keys", tc.form)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.msg) || !strings.Contains(body, tc.keep) {
				t.Errorf("%v: %d, want the message %q and %q kept\n%s", tc.form, resp.StatusCode, tc.msg, tc.keep, body)
			}
		}
		if keys, _ := f.db.APIKeys(context.Background(), account.SystemActor(), c.acct.ID); len(keys) != 0 {
			t.Errorf("a refused form made %d keys", len(keys))
		}
	})
}

func TestUsersPrivilegeRefusals(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		ctx := context.Background()
		c := f.addCustomer(t, "Owner", "en", true, 0, nil)
		other := f.addCustomer(t, "Other Owner", "en", true, 0, nil)
		role := f.adminRole(t)
		k, token, err := f.db.CreateAPIKey(ctx, account.SystemActor(), c.acct.ID, role, "Existing", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		theirs, theirToken, err := f.db.CreateAPIKey(ctx, account.SystemActor(), other.acct.ID, role, "Theirs", time.Time{})
		if err != nil {
			t.Fatal(err)
		}

		// A viewer of keys sees them but gets neither form nor buttons,
		// and its posts are refused.
		viewer := f.addUser(t, c, "Key Viewer", account.PrivAPIKeys)
		if err := setGrant(ctx, f, c, "Key Viewer", account.Grant{Privilege: account.PrivAPIKeys, Level: "view"}); err != nil {
			t.Fatal(err)
		}
		f.signIn(t, viewer, customerPassword)
		_, body := f.get(t, "/users")
		if !strings.Contains(body, "Existing") || strings.Contains(body, `id="new-key-form"`) || strings.Contains(body, "/revoke") {
			t.Errorf("a viewer of keys:\n%s", body)
		}
		resp := f.post(t, "/users/api-keys", url.Values{"name": {"Sneaky"}, "role_id": {fmt.Sprint(role)}})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("a viewer creates a key: %d", resp.StatusCode)
		}
		if resp := f.post(t, fmt.Sprintf("/users/api-keys/%d/revoke", k.ID), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a viewer revokes a key: %d", resp.StatusCode)
		}
		if keys, _ := f.db.APIKeys(ctx, account.SystemActor(), c.acct.ID); len(keys) != 1 {
			t.Errorf("the viewer's refused post made a key: %d keys", len(keys))
		}
		if _, err := f.db.ActorForKey(ctx, token); err != nil {
			t.Errorf("the viewer's refused post revoked the key: %v", err)
		}

		// A user with neither users nor keys has no such page.
		nobody := f.addUser(t, c, "No Staff", account.PrivAPIKeys, account.PrivUsers)
		f.signIn(t, nobody, customerPassword)
		if r, page := f.get(t, "/users"); r.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="not-found"`) {
			t.Errorf("users without the privileges: %d", r.StatusCode)
		}

		// The administrator cannot revoke another customer's key by its id.
		f.signIn(t, c.login, customerPassword)
		if resp := f.post(t, fmt.Sprintf("/users/api-keys/%d/revoke", theirs.ID), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("revoke another customer's key: %d", resp.StatusCode)
		}
		if _, err := f.db.ActorForKey(ctx, theirToken); err != nil {
			t.Errorf("another customer's key was revoked: %v", err)
		}
	})
}

// setGrant adds g to the custom role named name of c.
func setGrant(ctx context.Context, f *fixture, c *customer, name string, g account.Grant) error {
	roles, err := f.db.Roles(ctx, account.SystemActor(), c.acct.ID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.Name == name {
			r.Grants = append(r.Grants, g)
			return f.db.UpdateRole(ctx, account.SystemActor(), r)
		}
	}
	return fmt.Errorf("no role %q", name)
}
