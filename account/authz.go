package account

import (
	"github.com/marketplane/marketplane"
)

// Actor is who acts: a user logged in to an account, or an API key scoped to
// an account and a role. Its Grants are merged from its roles when the
// session or key is resolved, so an authorization check needs no query.
type Actor struct {
	UserID      int64 // 0 when the actor is an API key
	KeyID       int64 // 0 when the actor is a user
	AccountID   int64
	AccountPath string
	Grants      Grants
	// Disabled is set when the user is disabled or its account cancelled:
	// such an actor may do nothing.
	Disabled bool
	// System marks Marketplane itself acting (CLI, demo loader, billing
	// run): it may do anything. Transports never build such an actor.
	System bool
}

// SystemActor is Marketplane acting on its own behalf, for the CLI and
// background jobs run by the operator.
func SystemActor() *Actor { return &Actor{System: true} }

// Action is something an actor may want to do on an account: a privilege at
// a minimum level.
type Action struct {
	Name      string
	Privilege Privilege
	Level     Level
	// UserAdmin marks actions on the users and role assignments of an
	// account. On the actor's own account they need PrivUsers; on child and
	// grandchild accounts they need MANAGE_AFFILIATED_ACCOUNTS instead.
	UserAdmin bool
}

// The actions of the account domain. Later domains declare their own.
var (
	ViewAccount    = Action{Name: "view account", Privilege: PrivAccounts, Level: View}
	ManageAccount  = Action{Name: "manage account", Privilege: PrivAccounts, Level: Manage}
	AdminAccount   = Action{Name: "administer account", Privilege: PrivAccounts, Level: Admin}
	ViewUsers      = Action{Name: "view users", Privilege: PrivUsers, Level: View}
	ManageUsers    = Action{Name: "manage users", Privilege: PrivUsers, Level: Manage, UserAdmin: true}
	AssignRoles    = Action{Name: "assign roles", Privilege: PrivUsers, Level: Manage, UserAdmin: true}
	ViewRoles      = Action{Name: "view roles", Privilege: PrivRoles, Level: View}
	ManageRoles    = Action{Name: "manage roles", Privilege: PrivRoles, Level: Manage}
	ViewAPIKeys    = Action{Name: "view API keys", Privilege: PrivAPIKeys, Level: View}
	ManageAPIKeys  = Action{Name: "manage API keys", Privilege: PrivAPIKeys, Level: Manage}
	PutCreditHold  = Action{Name: "put on credit hold", Privilege: PrivCreditHold, Level: PutOnHold}
	ReleaseCredit  = Action{Name: "release credit hold", Privilege: PrivCreditHold, Level: ReleaseHold}
	ViewTasks      = Action{Name: "view tasks", Privilege: PrivTasks, Level: View}
	ManageTasks    = Action{Name: "manage tasks", Privilege: PrivTasks, Level: Manage}
	ViewAuditLog   = Action{Name: "view audit log", Privilege: PrivAudit, Level: View}
	ViewDocuments  = Action{Name: "view billing documents", Privilege: PrivDocuments, Level: View}
	ViewCatalog    = Action{Name: "view the catalog", Privilege: PrivCatalog, Level: View}
	ManageCatalog  = Action{Name: "manage the catalog", Privilege: PrivCatalog, Level: Manage}
	CancelSubs     = Action{Name: "cancel subscriptions", Privilege: PrivCancelSubs, Level: Enabled}
	ChangeAutoRenw = Action{Name: "change auto-renew", Privilege: PrivAutoRenew, Level: Enabled}

	// Orders and subscriptions are authorized on the customer's account: a
	// customer acts on itself, its vendor and the vendor's ancestors with
	// reach act on it.
	ViewOrders          = Action{Name: "view orders", Privilege: PrivOrders, Level: View}
	ManageOrders        = Action{Name: "manage orders", Privilege: PrivOrders, Level: Manage}
	ViewSubscriptions   = Action{Name: "view subscriptions", Privilege: PrivSubs, Level: View}
	ManageSubscriptions = Action{Name: "manage subscriptions", Privilege: PrivSubs, Level: Manage}
)

// ManageDocuments is issuing billing documents to an account and recording
// its payments; like ViewDocuments it is authorized on the buyer's account.
var ManageDocuments = Action{Name: "manage billing documents", Privilege: PrivDocuments, Level: Manage}

// Target is the account an action is aimed at. UserID is set when the action
// is aimed at one user of that account.
type Target struct {
	AccountID int64
	Path      string
	UserID    int64
}

// Authorize decides whether actor may do act on target. It is the one place
// where that question is answered; every entry point (API, panels, CLI acting
// for a user) calls it. It returns nil, or an ENOTFOUND error when the target
// is outside the actor's reach (so that others' accounts cannot be probed),
// or an EFORBIDDEN error when the actor sees the target but lacks the
// privilege.
//
// The rules:
//   - accounts outside the actor's subtree (siblings, parents, cousins) do
//     not exist for it;
//   - on its own account the actor needs the action's privilege; account
//     record actions on itself need PrivOwnAccount instead of PrivAccounts;
//   - on a descendant, the actor needs PrivAccounts at least "view" reaching
//     that deep (scope children = one level, descendants = any), plus the
//     action's privilege;
//   - user administration (UserAdmin actions) on child and grandchild
//     accounts is MANAGE_AFFILIATED_ACCOUNTS, which never applies to the
//     actor's own account; deeper accounts are out of its reach;
//   - nobody assigns roles to itself.
func Authorize(actor *Actor, act Action, target Target) error {
	if actor == nil || actor.Disabled {
		return marketplane.Errorf(marketplane.EUNAUTHORIZED, "not signed in")
	}
	if actor.System {
		return nil
	}
	rel := Relate(actor.AccountPath, target.Path)
	g := actor.Grants
	switch rel {
	case Unrelated:
		return notFound()
	case Self:
		if act == AssignRoles && target.UserID != 0 && target.UserID == actor.UserID {
			return forbidden("assign roles to yourself")
		}
		p := act.Privilege
		if p == PrivAccounts {
			p = PrivOwnAccount
			// The own-account privilege stops at manage: nobody cancels or
			// deletes the account it is signed in to.
			if act.Level > Manage {
				return forbidden(act.Name + " of your own account")
			}
		}
		if g.Level(p) < act.Level {
			return forbidden(act.Name)
		}
		return nil
	}
	// A descendant account.
	if act.UserAdmin {
		if rel == Deeper {
			if g.Level(PrivAccounts) >= View && g.Scope() == ScopeDescendants {
				return forbidden(act.Name + " more than two levels below your account")
			}
			return notFound()
		}
		if g.Level(PrivManageAffiliated) < Enabled {
			if reaches(g, rel) {
				return forbidden(act.Name + " of affiliated accounts")
			}
			return notFound()
		}
		return nil
	}
	if !reaches(g, rel) {
		return notFound()
	}
	if g.Level(act.Privilege) < act.Level {
		return forbidden(act.Name)
	}
	return nil
}

// reaches reports whether g's account privilege lets the actor see an account
// standing in relation rel below it.
func reaches(g Grants, rel Relation) bool {
	if g.Level(PrivAccounts) < View {
		return false
	}
	return rel == Child || g.Scope() == ScopeDescendants
}

func notFound() error { return marketplane.Errorf(marketplane.ENOTFOUND, "account not found") }

func forbidden(what string) error {
	return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not %s", what)
}
