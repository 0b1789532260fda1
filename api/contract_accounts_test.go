package api

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/task"
)

// accountContract holds the account tree, its users, roles, API keys, audit
// log and tasks to the document. Cases that change a thing come after the
// cases that read it, and destructive ones aim at things built here for
// them: Kilo (updated, converted, held, then moved), Lima (deleted), Ann
// (edited), Bob (deleted), the Spare and Editable roles and a key to revoke.
func accountContract(t *testing.T, c *contract) []contractCase {
	t.Helper()
	ctx := context.Background()
	sys := account.SystemActor()
	admin, billing, support := c.roles[account.RoleAdmin].ID, c.roles[account.RoleBilling].ID, c.roles[account.RoleSupport].ID

	// A key of L1a whose role grants the catalog only: it may not even see
	// its own account.
	_, token, err := c.db.CreateAPIKey(ctx, sys, c.L1a.ID, c.alpha.roleID, "catalog only", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c.keys["L1a-catalog"] = token

	kilo := newAccount(t, c.db, c.L1a, account.Customer, "Kilo Customer")
	lima := &account.Account{ParentID: c.L1a.ID, Kind: account.Customer, Name: "Lima Customer", ExternalID: "lima-ext",
		Locale: "en-US", Currency: "USD", TimeZone: "UTC", Address: account.Address{Country: "US"}}
	if err := c.db.CreateAccount(ctx, sys, lima); err != nil {
		t.Fatal(err)
	}
	ann := &account.User{AccountID: c.L1a.ID, Login: "ann-contract", DisplayName: "Ann", RoleIDs: []int64{support}}
	bob := &account.User{AccountID: c.L2.ID, Login: "bob-contract", DisplayName: "Bob", RoleIDs: []int64{support}}
	for _, u := range []*account.User{ann, bob} {
		if err := c.db.CreateUser(ctx, sys, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	spare := &account.Role{AccountID: c.L1a.ID, Name: "Spare role", Grants: []account.Grant{{Privilege: account.PrivCatalog, Level: "view"}}}
	editable := &account.Role{AccountID: c.L1a.ID, Name: "Editable role", Grants: []account.Grant{{Privilege: account.PrivCatalog, Level: "view"}}}
	for _, r := range []*account.Role{spare, editable} {
		if err := c.db.CreateRole(ctx, sys, r); err != nil {
			t.Fatal(err)
		}
	}
	revocable, _, err := c.db.CreateAPIKey(ctx, sys, c.L2.ID, support, "Revocable key", time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	// Tasks in each state the routes tell apart. The manager only
	// inserts, so finished states are written as a worker would leave them.
	enqueue := func(a *account.Account, what string) int64 {
		t.Helper()
		e, err := c.tasks.Enqueue(ctx, contractTask{What: what}, task.ForAccount(a.ID, a.Path))
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	finish := func(id int64, state string) {
		t.Helper()
		if _, err := c.db.Write.ExecContext(ctx, `UPDATE river_job SET state = $1, finalized_at = created_at WHERE id = $2`,
			state, id); err != nil {
			t.Fatal(err)
		}
	}
	queuedC, queuedL2, queuedL1b := enqueue(c.C, "queued of C"), enqueue(c.L2, "queued of L2"), enqueue(c.L1b, "queued of L1b")
	doneL2, failedL1a := enqueue(c.L2, "completed of L2"), enqueue(c.L1a, "failed of L1a")
	finish(doneL2, "completed")
	finish(failedL1a, "discarded")

	// Entity tags and cursors, read as a client reads them.
	etag := func(path string) string {
		t.Helper()
		e := c.must(t, 200, "L1a", "GET", path, nil).Header.Get("ETag")
		if e == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		return e
	}
	cursor := func(path string) string {
		t.Helper()
		var p Page[struct{}]
		c.must(t, 200, "L1a", "GET", path, nil).JSON(t, &p)
		if p.NextCursor == "" {
			t.Fatalf("GET %s: no next cursor", path)
		}
		return p.NextCursor
	}
	kiloPath, limaPath := "/accounts/"+id(kilo.ID), "/accounts/"+id(lima.ID)
	kiloTag := etag(kiloPath)
	accountsCursor := cursor("/accounts?descendants=true&limit=2")
	usersCursor := cursor("/accounts/" + id(c.L1a.ID) + "/users?limit=1")
	editableTag := etag("/roles/" + id(editable.ID))
	tasksCursor := cursor("/tasks?limit=2")

	var cases []contractCase
	add := func(cs ...contractCase) { cases = append(cases, cs...) }

	// The account tree.
	l1aPath, l2Path := "/accounts/"+id(c.L1a.ID), "/accounts/"+id(c.L2.ID)
	add(
		contractCase{op: "get-my-account", name: "own", who: "L2", method: "GET", path: "/accounts/me", want: 200,
			check: func(t *testing.T, r *response) {
				a := decodeAs[Account](t, r)
				if a.ID != c.L2.ID || a.Kind != "reseller" || a.Level != "L2" || a.ParentID != c.L1a.ID || r.Header.Get("ETag") != etagOf(a.Version) {
					t.Errorf("me %+v, ETag %s", a, r.Header.Get("ETag"))
				}
			}},
		contractCase{op: "get-my-account", name: "role without own_account", who: "L1a-catalog", method: "GET", path: "/accounts/me", want: 403},

		contractCase{op: "get-account", name: "child", who: "L1a", method: "GET", path: l2Path, want: 200,
			check: func(t *testing.T, r *response) {
				if a := decodeAs[Account](t, r); a.ID != c.L2.ID || a.Name != c.L2.Name || a.Depth != 2 || a.Status != "active" {
					t.Errorf("L2 %+v", a)
				}
			}},
		contractCase{op: "get-account", name: "own", who: "L1a", method: "GET", path: "/accounts/" + id(c.alpha.account.ID), want: 200},
		contractCase{op: "get-account", name: "sibling's", who: "L1b", method: "GET", path: "/accounts/" + id(c.alpha.account.ID), want: 404},
		contractCase{op: "get-account", name: "parent's", who: "L2", method: "GET", path: l1aPath, want: 404},
		contractCase{op: "get-account", name: "no such account", who: "L1a", method: "GET", path: "/accounts/987654321", want: 404},
		contractCase{op: "get-account", name: "id not a number", who: "L1a", method: "GET", path: "/accounts/x", want: 400, field: "path.id"},

		contractCase{op: "list-accounts", name: "own children", who: "L1a", method: "GET", path: "/accounts", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[Account]](t, r)
				ids := accountIDs(p.Items)
				for _, a := range p.Items {
					if a.ParentID != c.L1a.ID {
						t.Errorf("%s (parent %d) listed as a child of L1a", a.Name, a.ParentID)
					}
				}
				for _, want := range []int64{c.L2.ID, c.alpha.customer.ID, kilo.ID, lima.ID} {
					if !slices.Contains(ids, want) {
						t.Errorf("children of L1a %v lack %d", ids, want)
					}
				}
			}},
		contractCase{op: "list-accounts", name: "customers under a child", who: "L1a", method: "GET",
			path: "/accounts?kind=customer&under=" + id(c.L2.ID), want: 200,
			check: func(t *testing.T, r *response) {
				got := accountIDs(decodeAs[Page[Account]](t, r).Items)
				if want := []int64{c.C.ID, c.gamma.customer.ID}; !sameIDs(got, want) {
					t.Errorf("customers under L2 %v, want %v", got, want)
				}
			}},
		contractCase{op: "list-accounts", name: "search the subtree", who: "L1a", method: "GET", path: "/accounts?descendants=true&q=GAMMA", want: 200,
			check: func(t *testing.T, r *response) {
				got := accountIDs(decodeAs[Page[Account]](t, r).Items)
				if want := []int64{c.L2.ID, c.gamma.customer.ID}; !sameIDs(got, want) {
					t.Errorf("accounts named Gamma below L1a %v, want %v", got, want)
				}
			}},
		contractCase{op: "list-accounts", name: "first page", who: "L1a", method: "GET", path: "/accounts?descendants=true&limit=2", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decodeAs[Page[Account]](t, r); len(p.Items) != 2 || p.NextCursor == "" {
					t.Errorf("first page of 2: %d items, next %q", len(p.Items), p.NextCursor)
				}
			}},
		contractCase{op: "list-accounts", name: "next page", who: "L1a", method: "GET",
			path: "/accounts?descendants=true&limit=500&cursor=" + accountsCursor, want: 200,
			check: func(t *testing.T, r *response) {
				// Six accounts below L1a: L2, C, the customers of Alpha
				// and Gamma, Kilo and Lima; the first page held two.
				if p := decodeAs[Page[Account]](t, r); len(p.Items) != 4 || p.NextCursor != "" {
					t.Errorf("second page: %d items (want 4), next %q", len(p.Items), p.NextCursor)
				}
			}},
		contractCase{op: "list-accounts", name: "sibling's subtree", who: "L1a", method: "GET", path: "/accounts?under=" + id(c.L1b.ID), want: 404},
		contractCase{op: "list-accounts", name: "role without customer_accounts", who: "L1a-catalog", method: "GET", path: "/accounts", want: 403},
		contractCase{op: "list-accounts", name: "bad cursor", who: "L1a", method: "GET", path: "/accounts?cursor=bm90LWEtY3Vyc29y", want: 400, field: "query.cursor"},
		contractCase{op: "list-accounts", name: "unknown kind", who: "L1a", method: "GET", path: "/accounts?kind=provider", want: 400, field: "query.kind"},
		contractCase{op: "list-accounts", name: "limit too large", who: "L1a", method: "GET", path: "/accounts?limit=501", want: 400, field: "query.limit"},

		contractCase{op: "count-account-descendants", name: "child", who: "L1a", method: "GET", path: l2Path + "/descendants/count", want: 200,
			check: func(t *testing.T, r *response) {
				if n := decodeAs[struct{ Count int }](t, r).Count; n != 2 { // C and Gamma's customer
					t.Errorf("below L2: %d, want 2", n)
				}
			}},
		contractCase{op: "count-account-descendants", name: "sibling's", who: "L1b", method: "GET", path: l2Path + "/descendants/count", want: 404},
	)

	mike := newCustomerBody(c.L2.ID, "Mike Customer")
	mike["external_id"] = "mike-ext"
	withBody := func(change func(map[string]any)) map[string]any {
		b := newCustomerBody(c.L2.ID, "November Customer")
		change(b)
		return b
	}
	add(
		contractCase{op: "create-account", name: "customer of a child", who: "L1a", method: "POST", path: "/accounts", body: mike, want: 201,
			check: func(t *testing.T, r *response) {
				a := decodeAs[Account](t, r)
				if a.ParentID != c.L2.ID || a.Kind != "customer" || a.Depth != 3 || a.CreditLimit != "1000.50" || a.ExternalID != "mike-ext" ||
					a.Status != "active" || a.Version != 1 || a.Contact.Email != "jane@example.com" {
					t.Errorf("created %+v", a)
				}
				if got, want := r.Header.Get("Location"), Prefix+"/accounts/"+id(a.ID); got != want {
					t.Errorf("Location %q, want %q", got, want)
				}
			}},
		contractCase{op: "create-account", name: "external id taken", who: "L1a", method: "POST", path: "/accounts", body: mike, want: 409},
		contractCase{op: "create-account", name: "empty name", who: "L1a", method: "POST", path: "/accounts",
			body: withBody(func(b map[string]any) { b["name"] = "" }), want: 400, field: "body.name"},
		contractCase{op: "create-account", name: "parent in a sibling's subtree", who: "L1a", method: "POST", path: "/accounts",
			body: withBody(func(b map[string]any) { b["parent_id"] = c.L1b.ID }), want: 400, field: "body.parent_id"},
		contractCase{op: "create-account", name: "a second provider", who: "L1a", method: "POST", path: "/accounts",
			body: withBody(func(b map[string]any) { b["kind"] = "provider" }), want: 400, field: "body.kind"},
		contractCase{op: "create-account", name: "bad credit limit", who: "L1a", method: "POST", path: "/accounts",
			body: withBody(func(b map[string]any) { b["credit_limit"] = "1,000" }), want: 400, field: "body.credit_limit"},
		contractCase{op: "create-account", name: "malformed JSON", who: "L1a", method: "POST", path: "/accounts", raw: `{"kind": "customer", "name": `, want: 400},
		contractCase{op: "create-account", name: "read-only key", who: "L1a-support", method: "POST", path: "/accounts",
			body: withBody(func(map[string]any) {}), want: 403},
	)

	// Kilo: updated, converted, held, moved, in that order.
	add(
		contractCase{op: "update-account", name: "stale If-Match", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": "Lost update"}, header: []string{"If-Match", `"99"`}, want: 412},
		contractCase{op: "update-account", name: "empty name", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": ""}, want: 400, field: "body.name"},
		contractCase{op: "update-account", name: "bad credit limit", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"credit_limit": "lots"}, want: 400, field: "body.credit_limit"},
		contractCase{op: "update-account", name: "name of the wrong type", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": 7}, want: 400, field: "body.name"},
		contractCase{op: "update-account", name: "external id of a sibling", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"external_id": "lima-ext"}, want: 409},
		contractCase{op: "update-account", name: "read-only key", who: "L1a-support", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": "Hijacked"}, want: 403},
		contractCase{op: "update-account", name: "sibling's", who: "L1b", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": "Hijacked"}, want: 404},
		contractCase{op: "update-account", name: "with the read ETag", who: "L1a", method: "PATCH", path: kiloPath,
			body:   map[string]any{"name": "Kilo Renamed", "address": map[string]any{"city": "Shelbyville"}, "credit_limit": "250"},
			header: []string{"If-Match", kiloTag}, want: 200,
			check: func(t *testing.T, r *response) {
				a := decodeAs[Account](t, r)
				if a.Name != "Kilo Renamed" || a.Address.City != "Shelbyville" || a.Address.Country != "US" || a.CreditLimit != "250.00" ||
					a.Version != kilo.Version+1 || r.Header.Get("ETag") != etagOf(kilo.Version+1) {
					t.Errorf("updated %+v, ETag %s", a, r.Header.Get("ETag"))
				}
			}},
		contractCase{op: "update-account", name: "the read ETag again", who: "L1a", method: "PATCH", path: kiloPath,
			body: map[string]any{"name": "Lost update"}, header: []string{"If-Match", kiloTag}, want: 412},

		contractCase{op: "convert-account-to-reseller", name: "stale If-Match", who: "L1a", method: "POST", path: kiloPath + "/convert-to-reseller",
			header: []string{"If-Match", kiloTag}, want: 412},
		contractCase{op: "convert-account-to-reseller", name: "read-only key", who: "L1a-support", method: "POST", path: kiloPath + "/convert-to-reseller", want: 403},
		contractCase{op: "convert-account-to-reseller", name: "sibling's", who: "L1b", method: "POST", path: kiloPath + "/convert-to-reseller", want: 404},
		contractCase{op: "convert-account-to-reseller", name: "customer", who: "L1a", method: "POST", path: kiloPath + "/convert-to-reseller",
			header: []string{"If-Match", etagOf(kilo.Version + 1)}, want: 200,
			check: func(t *testing.T, r *response) {
				if a := decodeAs[Account](t, r); a.Kind != "reseller" || a.Level != "L2" || a.Version != kilo.Version+2 {
					t.Errorf("converted %+v", a)
				}
			}},
		contractCase{op: "convert-account-to-reseller", name: "already a reseller", who: "L1a", method: "POST", path: kiloPath + "/convert-to-reseller", want: 409},

		contractCase{op: "set-account-status", name: "unknown status", who: "L1a", method: "POST", path: kiloPath + "/status",
			body: map[string]any{"status": "asleep"}, want: 400, field: "body.status"},
		contractCase{op: "set-account-status", name: "stale If-Match", who: "L1a", method: "POST", path: kiloPath + "/status",
			body: map[string]any{"status": "admin_hold"}, header: []string{"If-Match", kiloTag}, want: 412},
		contractCase{op: "set-account-status", name: "read-only key", who: "L1a-support", method: "POST", path: kiloPath + "/status",
			body: map[string]any{"status": "admin_hold"}, want: 403},
		contractCase{op: "set-account-status", name: "sibling's", who: "L1b", method: "POST", path: kiloPath + "/status",
			body: map[string]any{"status": "admin_hold"}, want: 404},
		contractCase{op: "set-account-status", name: "cancel with open accounts below", who: "L1a", method: "POST", path: l2Path + "/status",
			body: map[string]any{"status": "cancelled"}, want: 409},
		contractCase{op: "set-account-status", name: "admin hold", who: "L1a", method: "POST", path: kiloPath + "/status",
			body: map[string]any{"status": "admin_hold"}, want: 200,
			check: func(t *testing.T, r *response) {
				if a := decodeAs[Account](t, r); a.Status != "admin_hold" || a.Version != kilo.Version+3 {
					t.Errorf("held %+v", a)
				}
			}},

		contractCase{op: "move-account", name: "below a sibling's account", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.L1b.ID}, want: 400, field: "body.parent_id"},
		contractCase{op: "move-account", name: "below itself", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": kilo.ID}, want: 400, field: "body.parent_id"},
		contractCase{op: "move-account", name: "below a customer", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.C.ID}, want: 400, field: "body.parent_id"},
		contractCase{op: "move-account", name: "parent of the wrong type", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": "L2"}, want: 400, field: "body.parent_id"},
		contractCase{op: "move-account", name: "stale If-Match", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.L2.ID}, header: []string{"If-Match", kiloTag}, want: 412},
		contractCase{op: "move-account", name: "read-only key", who: "L1a-support", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.L2.ID}, want: 403},
		contractCase{op: "move-account", name: "sibling's", who: "L1b", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.L1b.ID}, want: 404},
		contractCase{op: "move-account", name: "below a child", who: "L1a", method: "POST", path: kiloPath + "/move",
			body: map[string]any{"parent_id": c.L2.ID}, header: []string{"If-Match", etagOf(kilo.Version + 3)}, want: 200,
			check: func(t *testing.T, r *response) {
				if a := decodeAs[Account](t, r); a.ParentID != c.L2.ID || a.Depth != 3 || a.Level != "L3" || a.Status != "admin_hold" {
					t.Errorf("moved %+v", a)
				}
			}},
		contractCase{op: "count-account-descendants", name: "after the move", who: "L2", method: "GET", path: l2Path + "/descendants/count", want: 200,
			check: func(t *testing.T, r *response) {
				if n := decodeAs[struct{ Count int }](t, r).Count; n != 4 { // C, Gamma's customer, Mike, Kilo
					t.Errorf("below L2 after the move: %d, want 4", n)
				}
			}},

		contractCase{op: "delete-account", name: "with children", who: "L1a", method: "DELETE", path: l2Path, want: 409},
		contractCase{op: "delete-account", name: "own account", who: "L1a", method: "DELETE", path: l1aPath, want: 403},
		contractCase{op: "delete-account", name: "read-only key", who: "L1a-support", method: "DELETE", path: limaPath, want: 403},
		contractCase{op: "delete-account", name: "sibling's", who: "L1b", method: "DELETE", path: limaPath, want: 404},
		contractCase{op: "delete-account", name: "stale If-Match", who: "L1a", method: "DELETE", path: limaPath,
			header: []string{"If-Match", `"99"`}, want: 412},
		contractCase{op: "delete-account", name: "leaf", who: "L1a", method: "DELETE", path: limaPath,
			header: []string{"If-Match", etagOf(lima.Version)}, want: 204},
		contractCase{op: "delete-account", name: "deleted already", who: "L1a", method: "DELETE", path: limaPath, want: 404},
		contractCase{op: "get-account", name: "deleted", who: "L1a", method: "GET", path: limaPath, want: 404},
	)

	// Users.
	annPath, bobPath := "/users/"+id(ann.ID), "/users/"+id(bob.ID)
	l1aUsers := l1aPath + "/users"
	add(
		contractCase{op: "list-account-users", name: "first page", who: "L1a", method: "GET", path: l1aUsers + "?limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[User]](t, r)
				if len(p.Items) != 1 || p.Items[0].ID != c.admins["L1a"].ID || p.NextCursor == "" || bytes.Contains(r.Body, []byte("password")) {
					t.Errorf("first page of L1a's users: %s", r.Body)
				}
			}},
		contractCase{op: "list-account-users", name: "next page", who: "L1a", method: "GET", path: l1aUsers + "?limit=1&cursor=" + usersCursor, want: 200,
			check: func(t *testing.T, r *response) {
				if p := decodeAs[Page[User]](t, r); len(p.Items) != 1 || p.Items[0].ID != ann.ID || p.NextCursor != "" {
					t.Errorf("second page of L1a's users: %s", r.Body)
				}
			}},
		contractCase{op: "list-account-users", name: "read-only key", who: "L1a-support", method: "GET", path: "/accounts/" + id(c.L2.ID) + "/users", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decodeAs[Page[User]](t, r); !sameIDs(userIDs(p.Items), []int64{c.admins["L2"].ID, bob.ID}) {
					t.Errorf("users of L2: %s", r.Body)
				}
			}},
		contractCase{op: "list-account-users", name: "sibling's", who: "L1b", method: "GET", path: l1aUsers, want: 404},
		contractCase{op: "list-account-users", name: "cursor of another list", who: "L1a", method: "GET", path: l1aUsers + "?cursor=" + accountsCursor,
			want: 400, field: "query.cursor"},
		contractCase{op: "list-account-users", name: "limit 0", who: "L1a", method: "GET", path: l1aUsers + "?limit=0", want: 400, field: "query.limit"},

		contractCase{op: "create-user", name: "in a child", who: "L1a", method: "POST", path: l2Path + "/users",
			body: map[string]any{"login": "carol-contract", "password": "a long enough password", "display_name": "Carol",
				"email": "carol@example.com", "role_ids": []int64{support}}, want: 201,
			check: func(t *testing.T, r *response) {
				u := decodeAs[User](t, r)
				if u.AccountID != c.L2.ID || u.Login != "carol-contract" || !slices.Equal(u.RoleIDs, []int64{support}) || u.Version != 1 ||
					r.Header.Get("Location") != Prefix+"/users/"+id(u.ID) || bytes.Contains(r.Body, []byte("password")) {
					t.Errorf("created %s (Location %s)", r.Body, r.Header.Get("Location"))
				}
			}},
		contractCase{op: "create-user", name: "login taken, ignoring case", who: "L1a", method: "POST", path: l2Path + "/users",
			body: map[string]any{"login": "ANN-contract", "password": "a long enough password"}, want: 409, field: "body.login"},
		contractCase{op: "create-user", name: "short password", who: "L1a", method: "POST", path: l1aUsers,
			body: map[string]any{"login": "dave-contract", "password": "short"}, want: 400, field: "body.password"},
		contractCase{op: "create-user", name: "blank login", who: "L1a", method: "POST", path: l1aUsers,
			body: map[string]any{"login": " ", "password": "a long enough password"}, want: 400, field: "body.login"},
		contractCase{op: "create-user", name: "unknown role", who: "L1a", method: "POST", path: l1aUsers,
			body: map[string]any{"login": "dave-contract", "password": "a long enough password", "role_ids": []int64{987654}}, want: 400, field: "body.role_ids"},
		contractCase{op: "create-user", name: "read-only key making an admin", who: "L1a-support", method: "POST", path: l1aUsers,
			body: map[string]any{"login": "dave-contract", "password": "a long enough password", "role_ids": []int64{admin}}, want: 403},
		contractCase{op: "create-user", name: "in a sibling's account", who: "L1b", method: "POST", path: l1aUsers,
			body: map[string]any{"login": "dave-contract", "password": "a long enough password"}, want: 404},

		contractCase{op: "get-user", name: "of own account", who: "L1a", method: "GET", path: annPath, want: 200,
			check: func(t *testing.T, r *response) {
				if u := decodeAs[User](t, r); u.Login != "ann-contract" || u.AccountID != c.L1a.ID || r.Header.Get("ETag") != `"1"` {
					t.Errorf("Ann %s, ETag %s", r.Body, r.Header.Get("ETag"))
				}
			}},
		contractCase{op: "get-user", name: "sibling's", who: "L1b", method: "GET", path: annPath, want: 404},
		contractCase{op: "get-user", name: "no such user", who: "L1a", method: "GET", path: "/users/987654321", want: 404},

		contractCase{op: "update-user", name: "stale If-Match", who: "L1a", method: "PATCH", path: annPath,
			body: map[string]any{"display_name": "Lost"}, header: []string{"If-Match", `"9"`}, want: 412},
		contractCase{op: "update-user", name: "disabled of the wrong type", who: "L1a", method: "PATCH", path: annPath,
			body: map[string]any{"disabled": "yes"}, want: 400, field: "body.disabled"},
		contractCase{op: "update-user", name: "blank login", who: "L1a", method: "PATCH", path: annPath,
			body: map[string]any{"login": " "}, want: 400, field: "body.login"},
		contractCase{op: "update-user", name: "login taken", who: "L1a", method: "PATCH", path: annPath,
			body: map[string]any{"login": "bob-contract"}, want: 409, field: "body.login"},
		contractCase{op: "update-user", name: "read-only key", who: "L1a-support", method: "PATCH", path: annPath,
			body: map[string]any{"display_name": "Hijacked"}, want: 403},
		contractCase{op: "update-user", name: "sibling's", who: "L1b", method: "PATCH", path: annPath,
			body: map[string]any{"display_name": "Hijacked"}, want: 404},
		contractCase{op: "update-user", name: "with the read ETag", who: "L1a", method: "PATCH", path: annPath,
			body: map[string]any{"display_name": "Ann B.", "email": "ann@example.com"}, header: []string{"If-Match", `"1"`}, want: 200,
			check: func(t *testing.T, r *response) {
				if u := decodeAs[User](t, r); u.DisplayName != "Ann B." || u.Email != "ann@example.com" || u.Login != "ann-contract" ||
					u.Version != 2 || r.Header.Get("ETag") != `"2"` {
					t.Errorf("updated %s, ETag %s", r.Body, r.Header.Get("ETag"))
				}
			}},

		contractCase{op: "set-user-roles", name: "stale If-Match", who: "L1a", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": []int64{}}, header: []string{"If-Match", `"1"`}, want: 412},
		contractCase{op: "set-user-roles", name: "unknown role", who: "L1a", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": []int64{987654}}, want: 400, field: "body.role_ids"},
		contractCase{op: "set-user-roles", name: "role ids of the wrong type", who: "L1a", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": "billing"}, want: 400, field: "body.role_ids"},
		contractCase{op: "set-user-roles", name: "read-only key", who: "L1a-support", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": []int64{}}, want: 403},
		contractCase{op: "set-user-roles", name: "sibling's", who: "L1b", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": []int64{}}, want: 404},
		contractCase{op: "set-user-roles", name: "billing and support", who: "L1a", method: "PUT", path: annPath + "/roles",
			body: map[string]any{"role_ids": []int64{billing, support}}, header: []string{"If-Match", `"2"`}, want: 200,
			check: func(t *testing.T, r *response) {
				if u := decodeAs[User](t, r); !slices.Equal(u.RoleIDs, []int64{billing, support}) {
					t.Errorf("roles of Ann %v, want %v", u.RoleIDs, []int64{billing, support})
				}
			}},

		contractCase{op: "set-user-password", name: "short", who: "L1a", method: "POST", path: annPath + "/password",
			body: map[string]any{"password": "short"}, want: 400, field: "body.password"},
		contractCase{op: "set-user-password", name: "read-only key", who: "L1a-support", method: "POST", path: annPath + "/password",
			body: map[string]any{"password": "a brand new password"}, want: 403},
		contractCase{op: "set-user-password", name: "sibling's", who: "L1b", method: "POST", path: annPath + "/password",
			body: map[string]any{"password": "a brand new password"}, want: 404},
		contractCase{op: "set-user-password", name: "new password", who: "L1a", method: "POST", path: annPath + "/password",
			body: map[string]any{"password": "a brand new password"}, want: 204,
			check: func(t *testing.T, _ *response) {
				if _, err := c.db.Login(context.Background(), "ann-contract", "a brand new password", "192.0.2.1"); err != nil {
					t.Errorf("login with the new password: %v", err)
				}
			}},

		contractCase{op: "delete-user", name: "read-only key", who: "L1a-support", method: "DELETE", path: bobPath, want: 403},
		contractCase{op: "delete-user", name: "sibling's", who: "L1b", method: "DELETE", path: bobPath, want: 404},
		contractCase{op: "delete-user", name: "of a child", who: "L1a", method: "DELETE", path: bobPath, want: 204},
		contractCase{op: "delete-user", name: "deleted already", who: "L1a", method: "DELETE", path: bobPath, want: 404},
		contractCase{op: "get-user", name: "deleted", who: "L2", method: "GET", path: bobPath, want: 404},
	)

	// Roles and the privilege catalog.
	alphaRole, sparePath, editablePath := "/roles/"+id(c.alpha.roleID), "/roles/"+id(spare.ID), "/roles/"+id(editable.ID)
	builtIn := "/roles/" + id(support)
	catalogView := []map[string]any{{"privilege": "catalog", "level": "view"}}
	add(
		contractCase{op: "list-privileges", name: "catalog", who: "C", method: "GET", path: "/privileges", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[Privilege]](t, r)
				if len(p.Items) != len(account.Levels) {
					t.Errorf("%d privileges, want %d", len(p.Items), len(account.Levels))
				}
				for _, pr := range p.Items {
					if !slices.Equal(pr.Levels, account.Levels[account.Privilege(pr.Privilege)]) || pr.Scoped != (pr.Privilege == "customer_accounts") {
						t.Errorf("privilege %+v", pr)
					}
				}
			}},
		contractCase{op: "list-privileges", name: "a page of five", who: "L1a-catalog", method: "GET", path: "/privileges?limit=5", want: 200,
			check: func(t *testing.T, r *response) {
				if p := decodeAs[Page[Privilege]](t, r); len(p.Items) != 5 || p.NextCursor == "" {
					t.Errorf("page of five privileges: %s", r.Body)
				}
			}},
		contractCase{op: "list-privileges", name: "cursor of another list", who: "C", method: "GET", path: "/privileges?cursor=" + usersCursor,
			want: 400, field: "query.cursor"},
		contractCase{op: "list-privileges", name: "limit 0", who: "C", method: "GET", path: "/privileges?limit=0", want: 400, field: "query.limit"},

		contractCase{op: "list-account-roles", name: "built-in and the ancestors'", who: "L2", method: "GET", path: l2Path + "/roles", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[Role]](t, r)
				var names []string
				for _, ro := range p.Items {
					names = append(names, ro.Name)
				}
				if len(p.Items) < 3 || !p.Items[0].BuiltIn || p.Items[0].Key == "" {
					t.Errorf("roles usable in L2 do not start with the built-in ones: %v", names)
				}
				for _, want := range []string{"Alpha role", "Gamma role", "Spare role"} {
					if !slices.Contains(names, want) {
						t.Errorf("roles usable in L2 %v lack %s", names, want)
					}
				}
			}},
		contractCase{op: "list-account-roles", name: "not a descendant's", who: "L1b", method: "GET", path: "/accounts/" + id(c.L1b.ID) + "/roles", want: 200,
			check: func(t *testing.T, r *response) {
				for _, ro := range decodeAs[Page[Role]](t, r).Items {
					if strings.HasPrefix(ro.Name, "Alpha") || strings.HasPrefix(ro.Name, "Gamma") {
						t.Errorf("L1b may use %s", ro.Name)
					}
				}
			}},
		contractCase{op: "list-account-roles", name: "limit too large", who: "L2", method: "GET", path: l2Path + "/roles?limit=501",
			want: 400, field: "query.limit"},
		contractCase{op: "list-account-roles", name: "sibling's", who: "L1b", method: "GET", path: l2Path + "/roles", want: 404},
		contractCase{op: "list-account-roles", name: "role without roles", who: "L1a-catalog", method: "GET", path: l1aPath + "/roles", want: 403},

		contractCase{op: "create-role", name: "custom", who: "L1a", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Catalog viewer", "grants": []map[string]any{
				{"privilege": "catalog", "level": "view"},
				{"privilege": "customer_accounts", "level": "view", "scope": "children"},
			}}, want: 201,
			check: func(t *testing.T, r *response) {
				ro := decodeAs[Role](t, r)
				if ro.AccountID != c.L1a.ID || ro.BuiltIn || ro.Name != "Catalog viewer" || len(ro.Grants) != 2 ||
					r.Header.Get("ETag") == "" || r.Header.Get("Location") != Prefix+"/roles/"+id(ro.ID) {
					t.Errorf("created %s", r.Body)
				}
			}},
		contractCase{op: "create-role", name: "name taken", who: "L1a", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Alpha role", "grants": []any{}}, want: 409},
		contractCase{op: "create-role", name: "empty name", who: "L1a", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "", "grants": catalogView}, want: 400, field: "body.name"},
		contractCase{op: "create-role", name: "unknown level", who: "L1a", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Omnipotent", "grants": []map[string]any{{"privilege": "catalog", "level": "omnipotent"}}},
			want: 400, field: "body.grants[0]"},
		contractCase{op: "create-role", name: "unknown scope", who: "L1a", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Everywhere", "grants": []map[string]any{{"privilege": "customer_accounts", "level": "view", "scope": "everywhere"}}},
			want: 400, field: "body.grants[0].scope"},
		contractCase{op: "create-role", name: "grants more than the caller", who: "L1a-support", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Power", "grants": []map[string]any{{"privilege": "users", "level": "manage"}}}, want: 403},
		contractCase{op: "create-role", name: "in a sibling's account", who: "L1b", method: "POST", path: l1aPath + "/roles",
			body: map[string]any{"name": "Intruder", "grants": []any{}}, want: 404},

		contractCase{op: "get-role", name: "built-in", who: "C", method: "GET", path: builtIn, want: 200,
			check: func(t *testing.T, r *response) {
				if ro := decodeAs[Role](t, r); !ro.BuiltIn || ro.Key != account.RoleSupport || ro.AccountID != 0 || len(ro.Grants) == 0 {
					t.Errorf("built-in support role %s", r.Body)
				}
			}},
		contractCase{op: "get-role", name: "an ancestor's", who: "L2", method: "GET", path: alphaRole, want: 200,
			check: func(t *testing.T, r *response) {
				if ro := decodeAs[Role](t, r); ro.Name != "Alpha role" || ro.AccountID != c.L1a.ID || ro.BuiltIn {
					t.Errorf("Alpha role %s", r.Body)
				}
			}},
		contractCase{op: "get-role", name: "sibling's", who: "L1b", method: "GET", path: alphaRole, want: 404},
		contractCase{op: "get-role", name: "no such role", who: "L1a", method: "GET", path: "/roles/987654321", want: 404},

		contractCase{op: "update-role", name: "stale If-Match", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Lost", "grants": []any{}}, header: []string{"If-Match", `"t1"`}, want: 412},
		contractCase{op: "update-role", name: "built-in", who: "L1a", method: "PUT", path: builtIn,
			body: map[string]any{"name": "Mine", "grants": []any{}}, want: 403},
		contractCase{op: "update-role", name: "name taken", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Spare role", "grants": catalogView}, want: 409},
		contractCase{op: "update-role", name: "unknown privilege", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Editable", "grants": []map[string]any{{"privilege": "everything", "level": "view"}}},
			want: 400, field: "body.grants[0]"},
		contractCase{op: "update-role", name: "no grants", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Editable"}, want: 400, field: "body.grants"},
		contractCase{op: "update-role", name: "sibling's", who: "L1b", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Hijacked", "grants": []any{}}, want: 404},
		contractCase{op: "update-role", name: "read-only key", who: "L1a-support", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Hijacked", "grants": []any{}}, want: 403},
		contractCase{op: "update-role", name: "with the read ETag", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Edited role", "grants": []map[string]any{
				{"privilege": "catalog", "level": "view"}, {"privilege": "orders", "level": "view"}}},
			header: []string{"If-Match", editableTag}, want: 200,
			check: func(t *testing.T, r *response) {
				if ro := decodeAs[Role](t, r); ro.Name != "Edited role" || len(ro.Grants) != 2 || ro.AccountID != c.L1a.ID {
					t.Errorf("updated %s", r.Body)
				}
			}},
		// The tag read before that edit is stale now, though the test
		// clock has not moved.
		contractCase{op: "update-role", name: "the tag read before the edit", who: "L1a", method: "PUT", path: editablePath,
			body: map[string]any{"name": "Lost", "grants": []any{}}, header: []string{"If-Match", editableTag}, want: 412},

		contractCase{op: "delete-role", name: "held by a key", who: "L1a", method: "DELETE", path: alphaRole, want: 409},
		contractCase{op: "delete-role", name: "built-in", who: "L1a", method: "DELETE", path: builtIn, want: 403},
		contractCase{op: "delete-role", name: "read-only key", who: "L1a-support", method: "DELETE", path: sparePath, want: 403},
		contractCase{op: "delete-role", name: "sibling's", who: "L1b", method: "DELETE", path: sparePath, want: 404},
		contractCase{op: "delete-role", name: "unused", who: "L1a", method: "DELETE", path: sparePath, want: 204},
		contractCase{op: "get-role", name: "deleted", who: "L1a", method: "GET", path: sparePath, want: 404},
	)

	// API keys.
	alphaKey, revocablePath := "/api-keys/"+id(c.alpha.keyID), "/api-keys/"+id(revocable.ID)
	add(
		contractCase{op: "list-api-keys", name: "own", who: "L1a", method: "GET", path: l1aPath + "/api-keys", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[APIKey]](t, r)
				var ids []int64
				for _, k := range p.Items {
					ids = append(ids, k.ID)
					if k.AccountID != c.L1a.ID {
						t.Errorf("key %d of account %d among L1a's", k.ID, k.AccountID)
					}
				}
				if !slices.Contains(ids, c.alpha.keyID) || bytes.Contains(r.Body, []byte(`"token"`)) {
					t.Errorf("keys of L1a: %s", r.Body)
				}
			}},
		contractCase{op: "list-api-keys", name: "a page of one", who: "L1a", method: "GET", path: l1aPath + "/api-keys?limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				// L1a holds its admin, support, Alpha and catalog-only keys.
				if p := decodeAs[Page[APIKey]](t, r); len(p.Items) != 1 || p.NextCursor == "" {
					t.Errorf("page of one key: %s", r.Body)
				}
			}},
		contractCase{op: "list-api-keys", name: "cursor of another list", who: "L1a", method: "GET", path: l1aPath + "/api-keys?cursor=" + usersCursor,
			want: 400, field: "query.cursor"},
		contractCase{op: "list-api-keys", name: "sibling's", who: "L1b", method: "GET", path: l1aPath + "/api-keys", want: 404},
		contractCase{op: "list-api-keys", name: "role without api_keys", who: "L1a-catalog", method: "GET", path: l1aPath + "/api-keys", want: 403},

		contractCase{op: "create-api-key", name: "for a child", who: "L1a", method: "POST", path: l2Path + "/api-keys",
			body: map[string]any{"name": "Billing sync", "role_id": support, "expires_at": "2099-01-01T00:00:00Z"}, want: 201,
			check: func(t *testing.T, r *response) {
				k := decodeAs[NewAPIKey](t, r)
				if k.AccountID != c.L2.ID || k.RoleID != support || k.Name != "Billing sync" || !strings.HasPrefix(k.Token, k.Prefix+"_") ||
					k.ExpiresAt == nil || k.ExpiresAt.Year() != 2099 || k.RevokedAt != nil {
					t.Errorf("created %s", r.Body)
				}
				if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") != Prefix+"/api-keys/"+id(k.ID) {
					t.Errorf("Cache-Control %q, Location %q", r.Header.Get("Cache-Control"), r.Header.Get("Location"))
				}
			}},
		contractCase{op: "create-api-key", name: "blank name, expired", who: "L1a", method: "POST", path: l2Path + "/api-keys",
			body: map[string]any{"name": " ", "role_id": support, "expires_at": "2001-01-01T00:00:00Z"}, want: 400, field: "body.expires_at"},
		contractCase{op: "create-api-key", name: "unknown role", who: "L1a", method: "POST", path: l2Path + "/api-keys",
			body: map[string]any{"name": "No role", "role_id": 987654}, want: 400, field: "body.role_id"},
		contractCase{op: "create-api-key", name: "expiry not a time", who: "L1a", method: "POST", path: l2Path + "/api-keys",
			body: map[string]any{"name": "Soon", "role_id": support, "expires_at": "tomorrow"}, want: 400, field: "body.expires_at"},
		contractCase{op: "create-api-key", name: "read-only key making an admin key", who: "L1a-support", method: "POST", path: l1aPath + "/api-keys",
			body: map[string]any{"name": "Escalate", "role_id": admin}, want: 403},
		contractCase{op: "create-api-key", name: "in a sibling's account", who: "L1b", method: "POST", path: l2Path + "/api-keys",
			body: map[string]any{"name": "Intruder", "role_id": support}, want: 404},

		contractCase{op: "get-api-key", name: "own", who: "L1a", method: "GET", path: alphaKey, want: 200,
			check: func(t *testing.T, r *response) {
				if k := decodeAs[APIKey](t, r); k.Name != "Alpha key" || k.RoleID != c.alpha.roleID || bytes.Contains(r.Body, []byte(`"token"`)) {
					t.Errorf("Alpha key %s", r.Body)
				}
			}},
		contractCase{op: "get-api-key", name: "sibling's", who: "L1b", method: "GET", path: alphaKey, want: 404},
		contractCase{op: "get-api-key", name: "parent's", who: "L2", method: "GET", path: alphaKey, want: 404},

		contractCase{op: "revoke-api-key", name: "read-only key", who: "L1a-support", method: "POST", path: revocablePath + "/revoke", want: 403},
		contractCase{op: "revoke-api-key", name: "sibling's", who: "L1b", method: "POST", path: revocablePath + "/revoke", want: 404},
		contractCase{op: "revoke-api-key", name: "a child's", who: "L1a", method: "POST", path: revocablePath + "/revoke", want: 200,
			check: func(t *testing.T, r *response) {
				if k := decodeAs[APIKey](t, r); k.ID != revocable.ID || k.RevokedAt == nil {
					t.Errorf("revoked %s", r.Body)
				}
			}},
		contractCase{op: "revoke-api-key", name: "twice", who: "L2", method: "POST", path: revocablePath + "/revoke", want: 200,
			check: func(t *testing.T, r *response) {
				if k := decodeAs[APIKey](t, r); k.RevokedAt == nil {
					t.Errorf("revoked twice %s", r.Body)
				}
			}},
	)

	// The audit log, after the changes above.
	audit := l1aPath + "/audit-log"
	add(
		contractCase{op: "list-audit-log", name: "account changes, one a page", who: "L1a", method: "GET", path: audit + "?entity=account&limit=1", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[AuditEntry]](t, r)
				// The newest account change below L1a is Lima's deletion.
				if len(p.Items) != 1 || p.NextCursor == "" || p.Items[0].Action != "account.delete" || p.Items[0].EntityID != lima.ID ||
					p.Items[0].ActorAccountID != c.L1a.ID {
					t.Errorf("newest account change below L1a: %s", r.Body)
				}
			}},
		contractCase{op: "list-audit-log", name: "a child's", who: "L2", method: "GET", path: l2Path + "/audit-log?entity=user", want: 200,
			check: func(t *testing.T, r *response) {
				p := decodeAs[Page[AuditEntry]](t, r)
				if len(p.Items) == 0 {
					t.Fatalf("no user changes in L2's log")
				}
				for _, e := range p.Items {
					if e.Entity != "user" || e.AccountID == c.L1a.ID {
						t.Errorf("entry %+v in L2's user log", e)
					}
				}
			}},
		contractCase{op: "list-audit-log", name: "sibling's", who: "L1b", method: "GET", path: audit, want: 404},
		contractCase{op: "list-audit-log", name: "role without audit_log", who: "L1a-catalog", method: "GET", path: audit, want: 403},
		contractCase{op: "list-audit-log", name: "cursor of another list", who: "L1a", method: "GET", path: audit + "?cursor=" + usersCursor,
			want: 400, field: "query.cursor"},
	)

	// Tasks.
	taskPath := func(n int64) string { return "/tasks/" + id(n) }
	add(
		contractCase{op: "list-tasks", name: "own subtree", who: "L1a", method: "GET", path: "/tasks", want: 200,
			check: func(t *testing.T, r *response) {
				got := taskIDs(decodeAs[Page[Task]](t, r).Items)
				for _, want := range []int64{queuedC, queuedL2, doneL2, failedL1a} {
					if !slices.Contains(got, want) {
						t.Errorf("tasks of L1a %v lack %d", got, want)
					}
				}
				if slices.Contains(got, queuedL1b) {
					t.Errorf("tasks of L1a %v hold L1b's %d", got, queuedL1b)
				}
			}},
		contractCase{op: "list-tasks", name: "completed", who: "L2", method: "GET", path: "/tasks?status=completed", want: 200,
			check: func(t *testing.T, r *response) {
				if got := taskIDs(decodeAs[Page[Task]](t, r).Items); !slices.Equal(got, []int64{doneL2}) {
					t.Errorf("completed tasks of L2 %v, want %v", got, []int64{doneL2})
				}
			}},
		contractCase{op: "list-tasks", name: "by kind, next page", who: "P", method: "GET", path: "/tasks?kind=test.contract&limit=2&cursor=" + tasksCursor, want: 200,
			check: func(t *testing.T, r *response) {
				// Newest first, after the cursor of L1a's first page
				// (its failed and completed tasks): L1b's and L2's queued
				// ones.
				got := taskIDs(decodeAs[Page[Task]](t, r).Items)
				if want := []int64{queuedL1b, queuedL2}; !slices.Equal(got, want) {
					t.Errorf("second page of tasks %v, want %v", got, want)
				}
			}},
		contractCase{op: "list-tasks", name: "unknown status", who: "L1a", method: "GET", path: "/tasks?status=stuck", want: 400, field: "query.status"},
		contractCase{op: "list-tasks", name: "cursor of another list", who: "L1a", method: "GET", path: "/tasks?cursor=" + usersCursor, want: 400, field: "query.cursor"},
		contractCase{op: "list-tasks", name: "role without tasks", who: "L1a-catalog", method: "GET", path: "/tasks", want: 403},

		contractCase{op: "get-task", name: "a grandchild's", who: "L1a", method: "GET", path: taskPath(queuedC), want: 200,
			check: func(t *testing.T, r *response) {
				if tk := decodeAs[Task](t, r); tk.ID != queuedC || tk.AccountID != c.C.ID || tk.Status != "queued" || tk.Kind != "test.contract" {
					t.Errorf("task %s", r.Body)
				}
			}},
		contractCase{op: "get-task", name: "sibling's", who: "L1a", method: "GET", path: taskPath(queuedL1b), want: 404},
		contractCase{op: "get-task", name: "parent's", who: "L2", method: "GET", path: taskPath(failedL1a), want: 404},
		contractCase{op: "get-task", name: "no such task", who: "L1a", method: "GET", path: "/tasks/987654321", want: 404},

		contractCase{op: "cancel-task", name: "read-only key", who: "L1a-support", method: "POST", path: taskPath(queuedC) + "/cancel", want: 403},
		contractCase{op: "cancel-task", name: "sibling's", who: "L1a", method: "POST", path: taskPath(queuedL1b) + "/cancel", want: 404},
		contractCase{op: "cancel-task", name: "completed", who: "L2", method: "POST", path: taskPath(doneL2) + "/cancel", want: 409},
		contractCase{op: "cancel-task", name: "failed", who: "L1a", method: "POST", path: taskPath(failedL1a) + "/cancel", want: 409},
		contractCase{op: "cancel-task", name: "queued", who: "L2", method: "POST", path: taskPath(queuedC) + "/cancel", want: 200,
			check: func(t *testing.T, r *response) {
				if tk := decodeAs[Task](t, r); tk.ID != queuedC || tk.Status != "cancelled" || tk.FinalizedAt == nil {
					t.Errorf("cancelled %s", r.Body)
				}
			}},

		contractCase{op: "retry-task", name: "read-only key", who: "L1a-support", method: "POST", path: taskPath(failedL1a) + "/retry", want: 403},
		contractCase{op: "retry-task", name: "parent's", who: "L2", method: "POST", path: taskPath(failedL1a) + "/retry", want: 404},
		contractCase{op: "retry-task", name: "completed", who: "L1a", method: "POST", path: taskPath(doneL2) + "/retry", want: 409},
		contractCase{op: "retry-task", name: "failed", who: "L1a", method: "POST", path: taskPath(failedL1a) + "/retry", want: 200,
			check: func(t *testing.T, r *response) {
				if tk := decodeAs[Task](t, r); tk.ID != failedL1a || tk.Status != "queued" {
					t.Errorf("retried %s", r.Body)
				}
			}},
		contractCase{op: "retry-task", name: "cancelled", who: "C", method: "POST", path: taskPath(queuedC) + "/retry", want: 200,
			check: func(t *testing.T, r *response) {
				if tk := decodeAs[Task](t, r); tk.ID != queuedC || tk.Status != "queued" {
					t.Errorf("retried %s", r.Body)
				}
			}},
	)
	return cases
}

// decodeAs decodes a response's JSON body as a T.
func decodeAs[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	r.JSON(t, &v)
	return v
}

func accountIDs(as []Account) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func userIDs(us []User) []int64 {
	out := make([]int64, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func taskIDs(ts []Task) []int64 {
	out := make([]int64, len(ts))
	for i, tk := range ts {
		out[i] = tk.ID
	}
	return out
}

// sameIDs reports whether got and want hold the same ids, in any order.
func sameIDs(got, want []int64) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
