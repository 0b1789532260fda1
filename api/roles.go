package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane/account"
)

// Role is a named set of grants. Built-in roles belong to no account and
// cannot change.
type Role struct {
	ID        int64     `json:"id"`
	AccountID int64     `json:"account_id,omitempty" doc:"The account that owns a custom role; absent for built-in roles."`
	Key       string    `json:"key,omitempty" doc:"Stable name of a built-in role." example:"account_admin"`
	Name      string    `json:"name"`
	BuiltIn   bool      `json:"built_in"`
	Grants    []Grant   `json:"grants"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Grant is one privilege at one level.
type Grant struct {
	Privilege string `json:"privilege" example:"customer_accounts" doc:"A privilege of GET /privileges."`
	Level     string `json:"level" example:"view" doc:"One of the privilege's levels."`
	Scope     string `json:"scope,omitempty" enum:"children,descendants" doc:"customer_accounts only: how deep below the account it reaches (default children)."`
}

func roleView(r *account.Role) Role {
	grants := make([]Grant, len(r.Grants))
	for i, g := range r.Grants {
		grants[i] = Grant{Privilege: string(g.Privilege), Level: g.Level, Scope: string(g.Scope)}
	}
	return Role{ID: r.ID, AccountID: r.AccountID, Key: r.Key, Name: r.Name, BuiltIn: r.BuiltIn(), Grants: grants,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func grantsOf(in []Grant) []account.Grant {
	out := make([]account.Grant, len(in))
	for i, g := range in {
		out[i] = account.Grant{Privilege: account.Privilege(g.Privilege), Level: g.Level, Scope: account.Scope(g.Scope)}
	}
	return out
}

type roleIDPath struct {
	ID int64 `path:"id" doc:"Role id."`
}

type roleOutput struct {
	ETag string `header:"ETag"`
	Body Role
}

func roleResponse(r *account.Role) *roleOutput {
	return &roleOutput{ETag: roleETag(r), Body: roleView(r)}
}

// roleETag tags a role by its content and last change: roles have no
// version column, and the time alone would not change between two edits
// within the clock's resolution.
func roleETag(r *account.Role) string {
	grants := r.Grants
	if grants == nil {
		grants = []account.Grant{}
	}
	return `"r-` + contentTag(struct {
		Name    string
		Grants  []account.Grant
		Changed int64
	}{r.Name, grants, r.UpdatedAt.UnixMicro()}, 8) + `"`
}

type roleCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Role
}

type roleList struct {
	Body Page[Role]
}

// RoleInput is the body that creates or replaces a custom role.
type RoleInput struct {
	Name   string  `json:"name" maxLength:"100"`
	Grants []Grant `json:"grants" maxItems:"100"`
}

type createRoleInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body RoleInput
}

type updateRoleInput struct {
	ID int64 `path:"id" doc:"Role id."`
	Conditional
	Body RoleInput
}

// Privilege is one entry of the privilege catalog.
type Privilege struct {
	Privilege string   `json:"privilege"`
	Levels    []string `json:"levels" doc:"The level names in order; each includes the ones before it."`
	Scoped    bool     `json:"scoped" doc:"Whether grants of it take a scope (children or descendants)."`
}

type privilegeList struct {
	Body Page[Privilege]
}

func (a *API) roleRoutes() {
	const tag = "Roles"
	register(a, op{id: "list-account-roles", method: http.MethodGet, path: "/accounts/{id}/roles", tag: tag,
		summary:     "List the roles usable in an account",
		description: "The built-in roles and the custom roles of the account and its ancestors."}, a.listRoles)
	register(a, op{id: "create-role", method: http.MethodPost, path: "/accounts/{id}/roles", tag: tag,
		summary: "Create a custom role", description: "A role may grant no more than the caller holds.",
		status: http.StatusCreated, errors: []int{http.StatusConflict}}, a.createRole)
	register(a, op{id: "get-role", method: http.MethodGet, path: "/roles/{id}", tag: tag,
		summary: "Get a role"}, a.getRole)
	register(a, op{id: "update-role", method: http.MethodPut, path: "/roles/{id}", tag: tag,
		summary: "Replace a custom role's name and grants",
		errors:  []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.updateRole)
	register(a, op{id: "delete-role", method: http.MethodDelete, path: "/roles/{id}", tag: tag,
		summary: "Delete a custom role", description: "Only a role that no user or API key holds.",
		status: http.StatusNoContent, errors: []int{http.StatusConflict}}, a.deleteRole)
	register(a, op{id: "list-privileges", method: http.MethodGet, path: "/privileges", tag: tag,
		summary: "List the privilege catalog"}, a.listPrivileges)
}

func (a *API) listRoles(ctx context.Context, in *accountListInput) (*roleList, error) {
	rows, err := a.db.Roles(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorRoles, rows, func(r *account.Role) string { return idKey(r.ID) }, roleView)
	if err != nil {
		return nil, err
	}
	return &roleList{Body: page}, nil
}

func (a *API) createRole(ctx context.Context, in *createRoleInput) (*roleCreated, error) {
	r := &account.Role{AccountID: in.ID, Name: in.Body.Name, Grants: grantsOf(in.Body.Grants)}
	if err := a.db.CreateRole(ctx, actorFrom(ctx), r); err != nil {
		return nil, err
	}
	return &roleCreated{ETag: roleETag(r), Location: Prefix + "/roles/" + strconv.FormatInt(r.ID, 10), Body: roleView(r)}, nil
}

func (a *API) getRole(ctx context.Context, in *roleIDPath) (*roleOutput, error) {
	r, err := a.db.Role(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return roleResponse(r), nil
}

// updateRole checks If-Match against the role as the store holds it,
// locked in the transaction of the change.
func (a *API) updateRole(ctx context.Context, in *updateRoleInput) (*roleOutput, error) {
	var check func(*account.Role) error
	if in.IfMatch != "" {
		check = func(old *account.Role) error { return checkIfMatch(in.IfMatch, roleETag(old)) }
	}
	r := &account.Role{ID: in.ID, Name: in.Body.Name, Grants: grantsOf(in.Body.Grants)}
	if err := a.db.UpdateRoleIf(ctx, actorFrom(ctx), r, check); err != nil {
		return nil, err
	}
	return roleResponse(r), nil
}

func (a *API) deleteRole(ctx context.Context, in *roleIDPath) (*struct{}, error) {
	return nil, a.db.DeleteRole(ctx, actorFrom(ctx), in.ID)
}

func (a *API) listPrivileges(ctx context.Context, in *pageInput) (*privilegeList, error) {
	page, err := pageLoaded(in.PageParams, cursorPrivileges, account.Privileges(),
		func(p account.Privilege) string { return string(p) },
		func(p account.Privilege) Privilege {
			return Privilege{Privilege: string(p), Levels: account.Levels[p], Scoped: p == account.PrivAccounts}
		})
	if err != nil {
		return nil, err
	}
	return &privilegeList{Body: page}, nil
}
