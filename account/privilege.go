package account

import (
	"fmt"
	"slices"
	"sort"

	"github.com/marketplane/marketplane"
)

// Privilege names one thing a role may allow.
type Privilege string

// The privilege catalog.
const (
	// PrivAccounts covers the child accounts of the actor's account: view,
	// manage (create, edit), admin (cancel, delete, convert, move, status).
	// Its Scope says whether it reaches only direct children or all
	// descendants; every action on another account also needs this reach.
	PrivAccounts Privilege = "customer_accounts"
	// PrivOwnAccount covers the actor's own account record.
	PrivOwnAccount Privilege = "own_account"
	PrivUsers      Privilege = "users"
	PrivRoles      Privilege = "roles"
	PrivAPIKeys    Privilege = "api_keys"
	PrivCatalog    Privilege = "catalog"
	PrivOrders     Privilege = "orders"
	PrivSubs       Privilege = "subscriptions"
	PrivDocuments  Privilege = "billing_documents"
	// PrivCreditHold: put_on allows putting an account on credit hold,
	// release also allows releasing it.
	PrivCreditHold Privilege = "credit_hold"
	// PrivManageAffiliated (MANAGE_AFFILIATED_ACCOUNTS) lets a user create
	// users in, assign roles to and edit users of child and grandchild
	// accounts, but not of its own account, not even its own role.
	PrivManageAffiliated Privilege = "manage_affiliated_accounts"
	PrivCancelSubs       Privilege = "cancel_subscriptions"
	PrivAutoRenew        Privilege = "change_auto_renew"
	PrivShowPrices       Privilege = "show_prices"
	// PrivDomains levels are cumulative: each includes the ones before it.
	PrivDomains Privilege = "manage_domains"
	PrivTasks   Privilege = "tasks"
	PrivAudit   Privilege = "audit_log"
)

// Level is a privilege's level; 0 is always "disabled" and higher levels
// include lower ones.
type Level int

// Common levels. A privilege uses the prefix of these it needs; Levels holds
// the names per privilege.
const (
	Disabled Level = 0
	View     Level = 1
	Manage   Level = 2
	Admin    Level = 3
	Enabled  Level = 1 // for on/off privileges
)

// Credit hold and domain levels.
const (
	PutOnHold   Level = 1
	ReleaseHold Level = 2

	DomainSettings    Level = 1
	DomainContacts    Level = 2
	DomainTransferOut Level = 3
	DomainPlaceOrders Level = 4
)

// Levels lists, per privilege, the names of its levels in order.
var Levels = map[Privilege][]string{
	PrivAccounts:         {"disabled", "view", "manage", "admin"},
	PrivOwnAccount:       {"disabled", "view", "manage"},
	PrivUsers:            {"disabled", "view", "manage"},
	PrivRoles:            {"disabled", "view", "manage"},
	PrivAPIKeys:          {"disabled", "view", "manage"},
	PrivCatalog:          {"disabled", "view", "manage"},
	PrivOrders:           {"disabled", "view", "manage"},
	PrivSubs:             {"disabled", "view", "manage"},
	PrivDocuments:        {"disabled", "view", "manage"},
	PrivCreditHold:       {"disabled", "put_on", "release"},
	PrivManageAffiliated: {"disabled", "enabled"},
	PrivCancelSubs:       {"disabled", "enabled"},
	PrivAutoRenew:        {"disabled", "enabled"},
	PrivShowPrices:       {"disabled", "enabled"},
	PrivDomains:          {"disabled", "manage_settings", "manage_contacts", "allow_transfer_out", "allow_placing_orders"},
	PrivTasks:            {"disabled", "view", "manage"},
	PrivAudit:            {"disabled", "view"},
}

// Privileges returns the privilege catalog in a stable order.
func Privileges() []Privilege {
	out := make([]Privilege, 0, len(Levels))
	for p := range Levels {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Scope is how far below its own account a grant of PrivAccounts reaches.
type Scope string

// Scopes.
const (
	ScopeChildren    Scope = "children"
	ScopeDescendants Scope = "descendants"
)

// Grant is one privilege at one level, as held by a role.
type Grant struct {
	Privilege Privilege `json:"privilege"`
	Level     string    `json:"level"`
	// Scope matters for PrivAccounts only; empty means children.
	Scope Scope `json:"scope,omitempty"`
}

// Grants is the effective set of a role or of an actor: the highest level per
// privilege and the widest account scope.
type Grants struct {
	levels map[Privilege]Level
	scope  Scope
}

// ParseLevel finds the level named name of privilege p.
func ParseLevel(p Privilege, name string) (Level, error) {
	names, ok := Levels[p]
	if !ok {
		return 0, fmt.Errorf("unknown privilege %q", p)
	}
	i := slices.Index(names, name)
	if i < 0 {
		return 0, fmt.Errorf("privilege %s has no level %q (levels: %v)", p, name, names)
	}
	return Level(i), nil
}

// LevelName is the name of level l of privilege p.
func LevelName(p Privilege, l Level) string {
	names := Levels[p]
	if int(l) < 0 || int(l) >= len(names) {
		return "disabled"
	}
	return names[l]
}

// NewGrants validates a list of grants and merges it. Repeated privileges
// keep their highest level.
func NewGrants(list []Grant) (Grants, error) {
	var f marketplane.FieldErrors
	g := Grants{levels: map[Privilege]Level{}}
	for i, gr := range list {
		l, err := ParseLevel(gr.Privilege, gr.Level)
		if err != nil {
			f.Add(fmt.Sprintf("grants[%d]", i), err.Error())
			continue
		}
		switch gr.Scope {
		case "", ScopeChildren, ScopeDescendants:
		default:
			f.Add(fmt.Sprintf("grants[%d].scope", i), "must be children or descendants")
		}
		if gr.Scope != "" && gr.Privilege != PrivAccounts {
			f.Add(fmt.Sprintf("grants[%d].scope", i), "only customer_accounts has a scope")
		}
		g.add(gr.Privilege, l, gr.Scope)
	}
	if err := f.Err("grants"); err != nil {
		return Grants{}, err
	}
	return g, nil
}

// MustGrants is NewGrants for built-in, known-good lists.
func MustGrants(list []Grant) Grants {
	g, err := NewGrants(list)
	if err != nil {
		panic(err)
	}
	return g
}

func (g *Grants) add(p Privilege, l Level, s Scope) {
	if g.levels == nil {
		g.levels = map[Privilege]Level{}
	}
	if l > g.levels[p] {
		g.levels[p] = l
	}
	if p == PrivAccounts && l > Disabled && (s == ScopeDescendants || g.scope == "") {
		if s == "" {
			s = ScopeChildren
		}
		if g.scope != ScopeDescendants {
			g.scope = s
		}
	}
}

// Merge adds the grants of o to g (a user with several roles).
func (g *Grants) Merge(o Grants) {
	for p, l := range o.levels {
		s := Scope("")
		if p == PrivAccounts {
			s = o.scope
		}
		g.add(p, l, s)
	}
}

// Level returns the level g holds of p.
func (g Grants) Level(p Privilege) Level { return g.levels[p] }

// Scope returns the reach of g's PrivAccounts grant ("" when disabled).
func (g Grants) Scope() Scope {
	if g.levels[PrivAccounts] == Disabled {
		return ""
	}
	return g.scope
}

// Covers reports whether g holds at least everything o holds. A user may only
// hand out (through a custom role or an API key) what it holds itself.
func (g Grants) Covers(o Grants) bool {
	for p, l := range o.levels {
		if g.levels[p] < l {
			return false
		}
	}
	if o.Scope() == ScopeDescendants && g.Scope() != ScopeDescendants {
		return false
	}
	return true
}

// List returns the grants as a sorted list of named levels, without the
// disabled ones.
func (g Grants) List() []Grant {
	out := []Grant{}
	for p, l := range g.levels {
		if l == Disabled {
			continue
		}
		gr := Grant{Privilege: p, Level: LevelName(p, l)}
		if p == PrivAccounts {
			gr.Scope = g.Scope()
		}
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Privilege < out[j].Privilege })
	return out
}

// ViewOffers is reading what a customer's vendor offers it (the plans on
// sale in the vendor's store, as the customer sees them). It is
// authorized on the customer's account, like orders: whoever may see the
// customer's orders may see what it can order.
var ViewOffers = Action{Name: "view offers", Privilege: PrivOrders, Level: View}

// ShowsPrices reports whether actor may see prices and amounts of money:
// Marketplane itself always; a user or key only with PrivShowPrices. An
// actor without it still orders and manages what its other privileges
// allow, but every answer it gets leaves the amounts out.
func (a *Actor) ShowsPrices() bool {
	if a == nil {
		return false
	}
	return a.System || a.Grants.Level(PrivShowPrices) >= Enabled
}
