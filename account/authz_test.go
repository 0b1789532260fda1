package account

import (
	"testing"

	"github.com/marketplane/marketplane"
)

// The tree of the matrix:
//
//	/1/            provider P
//	/1/2/          L1 reseller A      /1/3/  L1 reseller B (A's sibling)
//	/1/2/4/        L2 reseller A1
//	/1/2/4/5/      customer C of A1
//	/1/2/4/6/      L3 reseller A1x, /1/2/4/6/7/ its customer D (four levels below P)
const (
	pathP   = "/1/"
	pathA   = "/1/2/"
	pathB   = "/1/3/"
	pathA1  = "/1/2/4/"
	pathC   = "/1/2/4/5/"
	pathA1x = "/1/2/4/6/"
	pathD   = "/1/2/4/6/7/"
)

func roleGrants(t *testing.T, key string) Grants {
	t.Helper()
	for _, r := range BuiltInRoles() {
		if r.Key == key {
			return r.Effective()
		}
	}
	t.Fatalf("no built-in role %s", key)
	return Grants{}
}

func actorAt(path string, g Grants) *Actor {
	ids := IDs(path)
	return &Actor{UserID: 100 + ids[len(ids)-1], AccountID: ids[len(ids)-1], AccountPath: path, Grants: g}
}

// TestAuthorizeMatrix: provider, L1, L2 and customer users × actions on own,
// child, grandchild, sibling and parent accounts.
func TestAuthorizeMatrix(t *testing.T) {
	t.Parallel()
	admin := roleGrants(t, RoleAdmin)
	support := roleGrants(t, RoleSupport)
	billing := roleGrants(t, RoleBilling)
	childrenOnly := MustGrants([]Grant{{PrivAccounts, "manage", ScopeChildren}, {PrivUsers, "view", ""}})
	customerAdmin := MustGrants([]Grant{{PrivOwnAccount, "manage", ""}, {PrivUsers, "manage", ""}, {PrivOrders, "manage", ""}})

	const (
		ok = ""
		nf = marketplane.ENOTFOUND
		fb = marketplane.EFORBIDDEN
	)
	cases := []struct {
		name   string
		actor  *Actor
		act    Action
		target string
		want   string
	}{
		// Provider administrator.
		{"provider admin views own", actorAt(pathP, admin), ViewAccount, pathP, ok},
		{"provider admin edits own", actorAt(pathP, admin), ManageAccount, pathP, ok},
		{"provider admin cannot cancel own account", actorAt(pathP, admin), AdminAccount, pathP, fb},
		{"provider admin views child", actorAt(pathP, admin), ViewAccount, pathA, ok},
		{"provider admin administers grandchild", actorAt(pathP, admin), AdminAccount, pathA1, ok},
		{"provider admin views deep customer", actorAt(pathP, admin), ViewAccount, pathD, ok},
		{"provider admin puts child on credit hold", actorAt(pathP, admin), PutCreditHold, pathA, ok},
		// Provider support: read-only.
		{"provider support views grandchild", actorAt(pathP, support), ViewAccount, pathA1, ok},
		{"provider support cannot edit child", actorAt(pathP, support), ManageAccount, pathA, fb},
		{"provider support cannot release hold", actorAt(pathP, support), ReleaseCredit, pathA, fb},
		{"provider billing releases hold of customer", actorAt(pathP, billing), ReleaseCredit, pathC, ok},
		{"provider billing cannot edit users of own account", actorAt(pathP, billing), ManageUsers, pathP, fb},
		// L1 administrator.
		{"L1 admin views own", actorAt(pathA, admin), ViewAccount, pathA, ok},
		{"L1 admin manages child", actorAt(pathA, admin), ManageAccount, pathA1, ok},
		{"L1 admin administers grandchild", actorAt(pathA, admin), AdminAccount, pathC, ok},
		{"L1 admin cannot see sibling", actorAt(pathA, admin), ViewAccount, pathB, nf},
		{"L1 admin cannot see parent", actorAt(pathA, admin), ViewAccount, pathP, nf},
		{"L1 admin cannot manage parent users", actorAt(pathA, admin), ManageUsers, pathP, nf},
		{"L1 admin cannot manage sibling users", actorAt(pathA, admin), ManageUsers, pathB, nf},
		// L1 with a children-only reach.
		{"children-only views child", actorAt(pathA, childrenOnly), ViewAccount, pathA1, ok},
		{"children-only cannot see grandchild", actorAt(pathA, childrenOnly), ViewAccount, pathC, nf},
		{"children-only cannot administer child", actorAt(pathA, childrenOnly), AdminAccount, pathA1, fb},
		// L2 administrator.
		{"L2 admin views own customer", actorAt(pathA1, admin), ViewAccount, pathC, ok},
		{"L2 admin cannot see its parent L1", actorAt(pathA1, admin), ViewAccount, pathA, nf},
		{"L2 admin cannot see the provider", actorAt(pathA1, admin), ViewAccount, pathP, nf},
		{"L2 admin cannot see L1's sibling", actorAt(pathA1, admin), ViewAccount, pathB, nf},
		// Customer.
		{"customer views own", actorAt(pathC, customerAdmin), ViewAccount, pathC, ok},
		{"customer edits own", actorAt(pathC, customerAdmin), ManageAccount, pathC, ok},
		{"customer manages own users", actorAt(pathC, customerAdmin), ManageUsers, pathC, ok},
		{"customer cannot see its vendor", actorAt(pathC, customerAdmin), ViewAccount, pathA1, nf},
		{"customer cannot see the provider", actorAt(pathC, customerAdmin), ViewAccount, pathP, nf},
		{"customer cannot see a sibling customer", actorAt(pathC, customerAdmin), ViewAccount, pathA1x, nf},
		{"customer without credit privilege", actorAt(pathC, customerAdmin), ReleaseCredit, pathC, fb},
		// Nobody.
		{"disabled actor", &Actor{AccountPath: pathP, Grants: admin, Disabled: true}, ViewAccount, pathP, marketplane.EUNAUTHORIZED},
		{"nil actor", nil, ViewAccount, pathP, marketplane.EUNAUTHORIZED},
		{"system actor", SystemActor(), AdminAccount, pathD, ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Authorize(c.actor, c.act, Target{AccountID: IDs(c.target)[len(IDs(c.target))-1], Path: c.target})
			if got := marketplane.ErrorCode(err); got != c.want {
				t.Fatalf("Authorize(%s on %s) = %q (%v), want %q", c.act.Name, c.target, got, err, c.want)
			}
		})
	}
}

// TestManageAffiliatedAccounts pins the MANAGE_AFFILIATED_ACCOUNTS rule: it
// lets a user create users in, assign roles to and edit users of child and
// grandchild accounts, but not of its own account, not even its own role.
func TestManageAffiliatedAccounts(t *testing.T) {
	t.Parallel()
	affiliated := MustGrants([]Grant{{PrivAccounts, "view", ScopeDescendants}, {PrivManageAffiliated, "enabled", ""}})
	withUsers := MustGrants([]Grant{{PrivAccounts, "view", ScopeDescendants}, {PrivManageAffiliated, "enabled", ""}, {PrivUsers, "manage", ""}})
	noAffiliated := MustGrants([]Grant{{PrivAccounts, "admin", ScopeDescendants}, {PrivUsers, "manage", ""}})

	me := actorAt(pathA, affiliated)
	cases := []struct {
		name   string
		actor  *Actor
		act    Action
		target Target
		want   string
	}{
		{"creates users in child", me, ManageUsers, Target{Path: pathA1}, ""},
		{"creates users in grandchild", me, ManageUsers, Target{Path: pathC}, ""},
		{"assigns roles in grandchild", me, AssignRoles, Target{Path: pathC, UserID: 9}, ""},
		{"not in great-grandchild", me, ManageUsers, Target{Path: pathD}, marketplane.EFORBIDDEN},
		{"not in own account", me, ManageUsers, Target{Path: pathA}, marketplane.EFORBIDDEN},
		{"not its own role", me, AssignRoles, Target{Path: pathA, UserID: me.UserID}, marketplane.EFORBIDDEN},
		{"not in sibling", me, ManageUsers, Target{Path: pathB}, marketplane.ENOTFOUND},
		{"not in parent", me, ManageUsers, Target{Path: pathP}, marketplane.ENOTFOUND},
		{"users privilege covers own account", actorAt(pathA, withUsers), ManageUsers, Target{Path: pathA, UserID: 77}, ""},
		{"even with users privilege, not own role", actorAt(pathA, withUsers), AssignRoles, Target{Path: pathA, UserID: 102}, marketplane.EFORBIDDEN},
		{"account admin without it cannot touch child users", actorAt(pathA, noAffiliated), ManageUsers, Target{Path: pathA1}, marketplane.EFORBIDDEN},
		{"account admin without it can still view child users", actorAt(pathA, noAffiliated.with(PrivUsers, View)), ViewUsers, Target{Path: pathA1}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := marketplane.ErrorCode(Authorize(c.actor, c.act, c.target)); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func (g Grants) with(p Privilege, l Level) Grants {
	out := Grants{levels: map[Privilege]Level{}, scope: g.scope}
	for k, v := range g.levels {
		out.levels[k] = v
	}
	out.levels[p] = l
	return out
}

func TestGrantsCoversAndMerge(t *testing.T) {
	t.Parallel()
	admin := roleGrants(t, RoleAdmin)
	support := roleGrants(t, RoleSupport)
	if !admin.Covers(support) {
		t.Error("admin should cover support")
	}
	if support.Covers(admin) {
		t.Error("support must not cover admin")
	}
	children := MustGrants([]Grant{{PrivAccounts, "admin", ScopeChildren}})
	desc := MustGrants([]Grant{{PrivAccounts, "view", ScopeDescendants}})
	if children.Covers(desc) {
		t.Error("a children-only grant must not cover a descendants reach")
	}
	var m Grants
	m.Merge(children)
	m.Merge(desc)
	if m.Level(PrivAccounts) != Admin || m.Scope() != ScopeDescendants {
		t.Errorf("merge = %v %v, want admin descendants", m.Level(PrivAccounts), m.Scope())
	}
	if _, err := NewGrants([]Grant{{"no_such", "view", ""}}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("unknown privilege accepted: %v", err)
	}
	if _, err := NewGrants([]Grant{{PrivUsers, "admin", ""}}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("unknown level accepted: %v", err)
	}
	if _, err := NewGrants([]Grant{{PrivUsers, "view", ScopeDescendants}}); marketplane.ErrorCode(err) != marketplane.EINVALID {
		t.Errorf("scope on a non-account privilege accepted: %v", err)
	}
}

func TestRelate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want Relation
	}{
		{pathA, pathA, Self},
		{pathA, pathA1, Child},
		{pathA, pathC, Grandchild},
		{pathA, pathD, Deeper},
		{pathA, pathB, Unrelated},
		{pathA1, pathA, Unrelated},
		{"/1/2/", "/1/23/", Unrelated}, // a common text prefix is not a common ancestor
		{"", pathA, Unrelated},
	}
	for _, c := range cases {
		if got := Relate(c.a, c.b); got != c.want {
			t.Errorf("Relate(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if Depth(pathP) != 0 || Depth(pathC) != 3 {
		t.Errorf("depths: %d %d", Depth(pathP), Depth(pathC))
	}
	if SubtreeEnd(pathA) <= pathD || SubtreeEnd(pathA) <= "/1/2/999999/" || SubtreeEnd(pathA) >= "/1/3/" {
		t.Error("subtree range does not bound the subtree")
	}
}

func TestPasswordHashing(t *testing.T) {
	t.Parallel()
	p := HashParams{Memory: 64, Time: 1, Threads: 1}
	h, err := HashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse battery", p)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is missing")
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Error("right password refused")
	}
	for _, bad := range []string{"correct horse batter", "", "Correct horse battery"} {
		if CheckPassword(h, bad) {
			t.Errorf("wrong password %q accepted", bad)
		}
	}
	for _, broken := range []string{"", "$argon2id$", "$bcrypt$v=19$m=64,t=1,p=1$AAAA$AAAA", h[:len(h)-5]} {
		if CheckPassword(broken, "correct horse battery") {
			t.Errorf("malformed hash %q accepted", broken)
		}
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; h[:len(want)] != want {
		t.Errorf("hash %q does not carry its costs", h)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Account{Kind: Customer, ParentID: 1, Name: "Acme", Address: Address{Country: "DE"}, Locale: "de-DE",
		Currency: "EUR", TimeZone: "Europe/Berlin", Status: StatusActive}
	if err := good.Validate(); err != nil {
		t.Fatalf("good account refused: %v", err)
	}
	bad := good
	bad.Name, bad.Address.Country, bad.Currency, bad.TimeZone, bad.Locale, bad.CreditLimit = " ", "Germany", "eur", "Mars/Base", "??", -1
	err := bad.Validate()
	var e *marketplane.Error
	if !errorsAs(err, &e) {
		t.Fatalf("bad account: %v", err)
	}
	for _, f := range []string{"name", "address.country", "currency", "time_zone", "locale", "credit_limit"} {
		if e.Fields[f] == "" {
			t.Errorf("no field error for %s (%v)", f, e.Fields)
		}
	}
	u := User{Login: " ann "}
	if err := u.Validate(); err == nil {
		t.Error("login with spaces accepted")
	}
	u = User{Login: "Ann.Smith@Example.com"}
	if err := u.Validate(); err != nil {
		t.Errorf("e-mail login refused: %v", err)
	}
	if LoginKey("Ann.Smith@Example.com") != "ann.smith@example.com" {
		t.Error("login key is not case-folded")
	}
	if ValidatePassword("short") == nil {
		t.Error("short password accepted")
	}
}
