package api

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		var privs Page[Privilege]
		f.must(t, 200, "C", "GET", "/privileges", nil).JSON(t, &privs)
		if len(privs.Items) != len(account.Levels) {
			t.Errorf("%d privileges, want %d", len(privs.Items), len(account.Levels))
		}
		for _, p := range privs.Items {
			if !slices.Equal(p.Levels, account.Levels[account.Privilege(p.Privilege)]) || p.Scoped != (p.Privilege == "customer_accounts") {
				t.Errorf("privilege %+v", p)
			}
		}

		path := "/accounts/" + id(f.L1a.ID) + "/roles"
		r := f.must(t, 201, "L1a", "POST", path, map[string]any{"name": "Catalog viewer", "grants": []map[string]any{
			{"privilege": "catalog", "level": "view"},
			{"privilege": "customer_accounts", "level": "view", "scope": "children"},
		}})
		var role Role
		r.JSON(t, &role)
		if role.AccountID != f.L1a.ID || role.BuiltIn || len(role.Grants) != 2 || r.Header.Get("ETag") == "" {
			t.Errorf("created %+v", role)
		}
		etag := r.Header.Get("ETag")

		p := f.must(t, 400, "L1a", "POST", path, map[string]any{"name": "", "grants": []map[string]any{
			{"privilege": "catalog", "level": "omnipotent"},
		}}).Problem(t)
		if want := []string{"body.grants[0]", "body.name"}; !slices.Equal(p.locations(), want) {
			t.Errorf("bad role: %v, want %v", p.locations(), want)
		}
		f.must(t, 409, "L1a", "POST", path, map[string]any{"name": "Catalog viewer", "grants": []any{}})

		var roles Page[Role]
		f.must(t, 200, "L2", "GET", "/accounts/"+id(f.L2.ID)+"/roles", nil).JSON(t, &roles)
		var names []string
		for _, r := range roles.Items {
			names = append(names, r.Name)
		}
		// Built-in roles first, then the custom roles of the ancestors.
		if len(names) != 4 || names[3] != "Catalog viewer" || !roles.Items[0].BuiltIn || roles.Items[0].Key == "" {
			t.Errorf("roles usable in L2: %v", names)
		}

		f.must(t, 200, "L1a", "PUT", "/roles/"+id(role.ID), map[string]any{"name": "Catalog reader",
			"grants": []map[string]any{{"privilege": "catalog", "level": "view"}}}, "If-Match", etag).JSON(t, &role)
		if role.Name != "Catalog reader" || len(role.Grants) != 1 {
			t.Errorf("updated %+v", role)
		}
		f.must(t, 412, "L1a", "PUT", "/roles/"+id(role.ID), map[string]any{"name": "Lost", "grants": []any{}}, "If-Match", etag)
		// Built-in roles are fixed.
		f.must(t, 403, "L1a", "PUT", "/roles/"+id(f.roles[account.RoleSupport].ID), map[string]any{"name": "Mine", "grants": []any{}})
		// A role may not grant more than its maker holds.
		f.must(t, 403, "L1a-support", "POST", path, map[string]any{"name": "Power", "grants": []map[string]any{
			{"privilege": "users", "level": "manage"}}})

		// A role held by someone cannot go.
		f.must(t, 201, "L1a", "POST", "/accounts/"+id(f.L1a.ID)+"/users", map[string]any{
			"login": "holder", "password": "a long enough password", "role_ids": []int64{role.ID}})
		f.must(t, 409, "L1a", "DELETE", "/roles/"+id(role.ID), nil)
		var unused Role
		f.must(t, 201, "L1a", "POST", path, map[string]any{"name": "Unused", "grants": []any{}}).JSON(t, &unused)
		f.must(t, 204, "L1a", "DELETE", "/roles/"+id(unused.ID), nil)
		f.must(t, 404, "L1a", "GET", "/roles/"+id(unused.ID), nil)
	})
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		support := f.roles[account.RoleSupport].ID
		path := "/accounts/" + id(f.L2.ID) + "/api-keys"
		r := f.must(t, 201, "L1a", "POST", path, map[string]any{"name": "Billing sync", "role_id": support,
			"expires_at": "2099-01-01T00:00:00Z"})
		var created NewAPIKey
		r.JSON(t, &created)
		if created.Token == "" || !strings.HasPrefix(created.Token, created.Prefix+"_") || created.AccountID != f.L2.ID ||
			created.RoleID != support || created.ExpiresAt == nil || created.ExpiresAt.Year() != 2099 {
			t.Errorf("created %+v", created)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		secret := created.Token[len(created.Prefix)+1:]

		// The token works, and is never shown again.
		f.keys["new"] = created.Token
		var me Account
		f.must(t, 200, "new", "GET", "/accounts/me", nil).JSON(t, &me)
		if me.ID != f.L2.ID {
			t.Errorf("the new key acts for %d, want L2 %d", me.ID, f.L2.ID)
		}
		for _, p := range []string{"/api-keys/" + id(created.ID), path} {
			r := f.must(t, 200, "L1a", "GET", p, nil)
			if bytes.Contains(r.Body, []byte(secret)) || bytes.Contains(r.Body, []byte(`"token"`)) {
				t.Errorf("GET %s shows the secret: %s", p, r.Body)
			}
		}
		var keys Page[APIKey]
		f.must(t, 200, "L2", "GET", path, nil).JSON(t, &keys)
		if len(keys.Items) != 2 { // the fixture's admin key and the new one
			t.Errorf("%d keys of L2, want 2", len(keys.Items))
		}

		p := f.must(t, 400, "L1a", "POST", path, map[string]any{"name": " ", "role_id": support,
			"expires_at": "2001-01-01T00:00:00Z"}).Problem(t)
		if want := []string{"body.expires_at", "body.name"}; !slices.Equal(p.locations(), want) {
			t.Errorf("bad key: %v, want %v", p.locations(), want)
		}
		p = f.must(t, 400, "L1a", "POST", path, map[string]any{"name": "No role", "role_id": 987654}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.role_id"}) {
			t.Errorf("unknown role: %+v", p)
		}

		var revoked APIKey
		f.must(t, 200, "L1a", "POST", "/api-keys/"+id(created.ID)+"/revoke", nil).JSON(t, &revoked)
		if revoked.RevokedAt == nil {
			t.Errorf("revoked %+v", revoked)
		}
		f.must(t, 200, "L1a", "POST", "/api-keys/"+id(created.ID)+"/revoke", nil)
		f.must(t, 401, "new", "GET", "/accounts/me", nil)
	})
}

func TestAuditLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		for _, name := range []string{"One", "Two", "Three"} {
			f.must(t, 200, "L1a", "PATCH", "/accounts/"+id(f.L2.ID), map[string]any{"name": "Renamed " + name})
		}
		path := "/accounts/" + id(f.L1a.ID) + "/audit-log?entity=account&limit=2"
		var first, second Page[AuditEntry]
		f.must(t, 200, "L1a", "GET", path, nil).JSON(t, &first)
		if len(first.Items) != 2 || first.NextCursor == "" {
			t.Fatalf("first page %+v", first)
		}
		e := first.Items[0]
		if e.Action != "account.update" || e.AccountID != f.L2.ID || e.ActorAccountID != f.L1a.ID || e.ActorKeyID == 0 ||
			!strings.Contains(string(e.Changes), "Renamed Three") {
			t.Errorf("newest entry %+v (changes %s)", e, e.Changes)
		}
		f.must(t, 200, "L1a", "GET", path+"&cursor="+first.NextCursor, nil).JSON(t, &second)
		if len(second.Items) == 0 || second.Items[0].ID >= first.Items[1].ID {
			t.Errorf("second page %+v after %+v", second.Items, first.Items)
		}
		// The log of L2 is visible from L1a, but not from L2's sibling branch.
		f.must(t, 200, "L2", "GET", "/accounts/"+id(f.L2.ID)+"/audit-log", nil)
		f.must(t, 404, "L1b", "GET", "/accounts/"+id(f.L2.ID)+"/audit-log", nil)
	})
}

// TestRoleIfMatch: a role's ETag changes with every edit, even within one
// tick of the clock, and an edit based on a stale read is refused and
// changes nothing.
func TestRoleIfMatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		// A stopped clock: the role's change time cannot tell two edits
		// apart.
		saleClock(db)
		grants := []any{map[string]any{"privilege": "catalog", "level": "view"}}
		created := f.must(t, 201, "L1a", "POST", "/accounts/"+id(f.L1a.ID)+"/roles", map[string]any{"name": "  Viewers ", "grants": grants})
		var r Role
		created.JSON(t, &r)
		path := "/roles/" + id(r.ID)
		first := f.must(t, 200, "L1a", "GET", path, nil).Header.Get("ETag")
		if first == "" || first != created.Header.Get("ETag") {
			t.Fatalf("ETag %q on read, %q on create", first, created.Header.Get("ETag"))
		}
		second := f.must(t, 200, "L1a", "PUT", path, map[string]any{"name": "Catalog viewers", "grants": grants}, "If-Match", first).Header.Get("ETag")
		if second == "" || second == first {
			t.Fatalf("ETag after the edit %q, before %q", second, first)
		}
		if got := f.must(t, 200, "L1a", "GET", path, nil).Header.Get("ETag"); got != second {
			t.Errorf("ETag on read %q, after the edit %q", got, second)
		}
		f.must(t, 412, "L1a", "PUT", path, map[string]any{"name": "Stale", "grants": []any{}}, "If-Match", first).Problem(t)
		f.must(t, 200, "L1a", "GET", path, nil).JSON(t, &r)
		if r.Name != "Catalog viewers" || len(r.Grants) != 1 {
			t.Errorf("the role after a stale edit: %+v", r)
		}
		// Another account's role answers 404 whatever the tag.
		f.must(t, 404, "L1b", "PUT", path, map[string]any{"name": "Intruder", "grants": []any{}}, "If-Match", first).Problem(t)
	})
}
