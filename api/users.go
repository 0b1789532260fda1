package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane/account"
)

// User is a person who logs in to one account. Password hashes never leave
// the store.
type User struct {
	ID          int64      `json:"id"`
	AccountID   int64      `json:"account_id"`
	Login       string     `json:"login"`
	DisplayName string     `json:"display_name"`
	Email       string     `json:"email"`
	Locale      string     `json:"locale" doc:"Empty: the account's locale."`
	Disabled    bool       `json:"disabled"`
	RoleIDs     []int64    `json:"role_ids"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	Version     int64      `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func userView(u *account.User) User {
	roles := u.RoleIDs
	if roles == nil {
		roles = []int64{}
	}
	return User{
		ID: u.ID, AccountID: u.AccountID, Login: u.Login, DisplayName: u.DisplayName, Email: u.Email,
		Locale: u.Locale, Disabled: u.Disabled, RoleIDs: roles, LastLoginAt: optTime(u.LastLoginAt),
		Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// optTime is nil for the zero time, so that "never" is an absent field.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

type userIDPath struct {
	ID int64 `path:"id" doc:"User id."`
}

type userOutput struct {
	ETag string `header:"ETag"`
	Body User
}

func userResponse(u *account.User) *userOutput {
	return &userOutput{ETag: etagOf(u.Version), Body: userView(u)}
}

type userCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     User
}

type listUsersInput struct {
	ID int64 `path:"id" doc:"Account id."`
	PageParams
}

type userPage struct {
	Body Page[User]
}

type createUserInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body struct {
		Login       string  `json:"login" maxLength:"120" doc:"Unique across Marketplane, ignoring case; may be an e-mail address."`
		Password    string  `json:"password" writeOnly:"true" doc:"At least 10 characters."`
		DisplayName string  `json:"display_name,omitempty" maxLength:"200"`
		Email       string  `json:"email,omitempty" maxLength:"200"`
		Locale      string  `json:"locale,omitempty" example:"en-US"`
		RoleIDs     []int64 `json:"role_ids,omitempty" doc:"Built-in roles and custom roles of the account or its ancestors."`
		Disabled    bool    `json:"disabled,omitempty"`
	}
}

type updateUserInput struct {
	ID int64 `path:"id" doc:"User id."`
	Conditional
	Body struct {
		Login       *string `json:"login,omitempty" maxLength:"120"`
		DisplayName *string `json:"display_name,omitempty" maxLength:"200"`
		Email       *string `json:"email,omitempty" maxLength:"200"`
		Locale      *string `json:"locale,omitempty"`
		Disabled    *bool   `json:"disabled,omitempty"`
	}
}

type setUserRolesInput struct {
	ID int64 `path:"id" doc:"User id."`
	Conditional
	Body struct {
		RoleIDs []int64 `json:"role_ids" doc:"The user's roles after the call; an empty list takes all."`
	}
}

type setPasswordInput struct {
	ID   int64 `path:"id" doc:"User id."`
	Body struct {
		Password string `json:"password" writeOnly:"true" doc:"At least 10 characters."`
	}
}

func (a *API) userRoutes() {
	const tag = "Users"
	register(a, op{id: "list-account-users", method: http.MethodGet, path: "/accounts/{id}/users", tag: tag,
		summary: "List the users of an account"}, a.listUsers)
	register(a, op{id: "create-user", method: http.MethodPost, path: "/accounts/{id}/users", tag: tag,
		summary:     "Create a user in an account",
		description: "In the caller's own account this needs the users privilege; in child and grandchild accounts, MANAGE_AFFILIATED_ACCOUNTS.",
		status:      http.StatusCreated, errors: []int{http.StatusConflict}}, a.createUser)
	register(a, op{id: "get-user", method: http.MethodGet, path: "/users/{id}", tag: tag,
		summary: "Get a user"}, a.getUser)
	register(a, op{id: "update-user", method: http.MethodPatch, path: "/users/{id}", tag: tag,
		summary: "Change a user", description: "Changes the fields present in the body; the others stay.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.updateUser)
	register(a, op{id: "set-user-roles", method: http.MethodPut, path: "/users/{id}/roles", tag: tag,
		summary: "Replace a user's roles", description: "Nobody assigns roles to itself or gives roles granting more than it holds.",
		errors: []int{http.StatusPreconditionFailed}}, a.setUserRoles)
	register(a, op{id: "set-user-password", method: http.MethodPost, path: "/users/{id}/password", tag: tag,
		summary: "Set a user's password", status: http.StatusNoContent}, a.setUserPassword)
	register(a, op{id: "delete-user", method: http.MethodDelete, path: "/users/{id}", tag: tag,
		summary: "Delete a user", status: http.StatusNoContent}, a.deleteUser)
}

func (a *API) listUsers(ctx context.Context, in *listUsersInput) (*userPage, error) {
	after, err := decodeIDCursor(cursorUsers, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.ListUsers(ctx, actorFrom(ctx), in.ID, after, in.fetchSize())
	if err != nil {
		return nil, err
	}
	return &userPage{Body: paginate(in.PageParams, cursorUsers, rows,
		func(u *account.User) string { return idKey(u.ID) }, userView)}, nil
}

func (a *API) createUser(ctx context.Context, in *createUserInput) (*userCreated, error) {
	b := &in.Body
	u := &account.User{AccountID: in.ID, Login: b.Login, DisplayName: b.DisplayName, Email: b.Email,
		Locale: b.Locale, RoleIDs: b.RoleIDs, Disabled: b.Disabled}
	if err := a.db.CreateUser(ctx, actorFrom(ctx), u, b.Password); err != nil {
		return nil, err
	}
	return &userCreated{ETag: etagOf(u.Version), Location: Prefix + "/users/" + strconv.FormatInt(u.ID, 10), Body: userView(u)}, nil
}

func (a *API) getUser(ctx context.Context, in *userIDPath) (*userOutput, error) {
	u, err := a.db.User(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return userResponse(u), nil
}

func (a *API) updateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	actor := actorFrom(ctx)
	u, err := a.db.User(ctx, actor, in.ID)
	if err != nil {
		return nil, err
	}
	// The store compares u.Version with the row it updates.
	if err := checkIfMatch(in.IfMatch, etagOf(u.Version)); err != nil {
		return nil, err
	}
	b := &in.Body
	set(&u.Login, b.Login)
	set(&u.DisplayName, b.DisplayName)
	set(&u.Email, b.Email)
	set(&u.Locale, b.Locale)
	set(&u.Disabled, b.Disabled)
	if err := a.db.UpdateUser(ctx, actor, u); err != nil {
		return nil, err
	}
	return userResponse(u), nil
}

// setUserRoles checks If-Match before the change; the store's SetUserRoles
// takes no version, so a change in between is not caught.
func (a *API) setUserRoles(ctx context.Context, in *setUserRolesInput) (*userOutput, error) {
	actor := actorFrom(ctx)
	if in.IfMatch != "" {
		u, err := a.db.User(ctx, actor, in.ID)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch(in.IfMatch, etagOf(u.Version)); err != nil {
			return nil, err
		}
	}
	roles := in.Body.RoleIDs
	if roles == nil {
		roles = []int64{}
	}
	u, err := a.db.SetUserRoles(ctx, actor, in.ID, roles)
	if err != nil {
		return nil, err
	}
	return userResponse(u), nil
}

func (a *API) setUserPassword(ctx context.Context, in *setPasswordInput) (*struct{}, error) {
	return nil, a.db.SetPassword(ctx, actorFrom(ctx), in.ID, in.Body.Password)
}

func (a *API) deleteUser(ctx context.Context, in *userIDPath) (*struct{}, error) {
	return nil, a.db.DeleteUser(ctx, actorFrom(ctx), in.ID)
}
