package account

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/text"
)

// Role is a named set of grants. Built-in roles belong to no account
// (AccountID 0) and cannot be changed; custom roles belong to the account
// that made them and may be given to users of that account and of its
// descendants.
type Role struct {
	ID        int64
	AccountID int64  // 0 for built-in roles
	Key       string // stable name of a built-in role; empty for custom roles
	Name      string
	Grants    []Grant
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BuiltIn reports whether r is one of Marketplane's built-in roles.
func (r *Role) BuiltIn() bool { return r.AccountID == 0 }

// Validate checks the role's name and grants.
func (r *Role) Validate() error {
	var f marketplane.FieldErrors
	n := strings.TrimSpace(r.Name)
	if n == "" {
		f.Add("name", "is required")
	} else if utf8.RuneCountInString(n) > 100 {
		f.Add("name", "must be at most 100 characters")
	} else if p := text.NameProblem(n); p != "" {
		f.Add("name", p)
	}
	if _, err := NewGrants(r.Grants); err != nil {
		if e, ok := err.(*marketplane.Error); ok {
			for k, v := range e.Fields {
				f.Add(k, v)
			}
		}
	}
	return f.Err("role")
}

// Effective returns the merged grants of r. Grants are validated on save, so
// an error here means stored data was edited by hand; such grants count as
// nothing rather than as something.
func (r *Role) Effective() Grants {
	g, err := NewGrants(r.Grants)
	if err != nil {
		return Grants{}
	}
	return g
}

// Keys of the built-in roles.
const (
	RoleAdmin   = "account_admin"
	RoleBilling = "billing_manager"
	RoleSupport = "support"
)

// BuiltInRoles are created by the first migration run and kept up to date at
// start: account administrator, billing manager and support (read-only).
func BuiltInRoles() []Role {
	return []Role{
		{Key: RoleAdmin, Name: "Account administrator", Grants: []Grant{
			{PrivAccounts, "admin", ScopeDescendants},
			{PrivOwnAccount, "manage", ""},
			{PrivUsers, "manage", ""},
			{PrivRoles, "manage", ""},
			{PrivAPIKeys, "manage", ""},
			{PrivCatalog, "manage", ""},
			{PrivOrders, "manage", ""},
			{PrivSubs, "manage", ""},
			{PrivDocuments, "manage", ""},
			{PrivCreditHold, "release", ""},
			{PrivManageAffiliated, "enabled", ""},
			{PrivCancelSubs, "enabled", ""},
			{PrivAutoRenew, "enabled", ""},
			{PrivShowPrices, "enabled", ""},
			{PrivDomains, "allow_placing_orders", ""},
			{PrivTasks, "manage", ""},
			{PrivAudit, "view", ""},
		}},
		{Key: RoleBilling, Name: "Billing manager", Grants: []Grant{
			{PrivAccounts, "view", ScopeDescendants},
			{PrivOwnAccount, "view", ""},
			{PrivCatalog, "view", ""},
			{PrivOrders, "view", ""},
			{PrivSubs, "view", ""},
			{PrivDocuments, "manage", ""},
			{PrivCreditHold, "release", ""},
			{PrivShowPrices, "enabled", ""},
			{PrivAudit, "view", ""},
		}},
		{Key: RoleSupport, Name: "Support (read-only)", Grants: []Grant{
			{PrivAccounts, "view", ScopeDescendants},
			{PrivOwnAccount, "view", ""},
			{PrivUsers, "view", ""},
			{PrivRoles, "view", ""},
			{PrivCatalog, "view", ""},
			{PrivOrders, "view", ""},
			{PrivSubs, "view", ""},
			{PrivDocuments, "view", ""},
			{PrivShowPrices, "enabled", ""},
			{PrivTasks, "view", ""},
			{PrivAudit, "view", ""},
		}},
	}
}
