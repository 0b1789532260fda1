package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// usersData is the Users screen: the account's users and its API keys,
// with the form that makes a key and the key just made (shown once).
type usersData struct {
	Users []userRow
	// Keys says the reader may see the API keys; Manage that it may make
	// and revoke them.
	Keys    bool
	Manage  bool
	APIKeys []keyRow
	Roles   []roleOption
	// Form holds what the reader typed into the new key's form, kept when
	// it is refused; FormError says why.
	Form      keyForm
	FormError string
	// Token is the secret of the key just made, shown this once.
	Token   string
	NewName string
}

type userRow struct {
	Login, Name, Status, LastLogin string
}

type keyRow struct {
	ID                               int64
	Name, Prefix, Role, Created      string
	LastUsed, Expires, Status, Class string
	Revoked                          bool
}

type roleOption struct {
	ID       int64
	Name     string
	Selected bool
}

type keyForm struct {
	Name   string
	RoleID int64
}

// users shows the account's users and API keys.
func (w *Web) users(rw http.ResponseWriter, r *http.Request) {
	w.renderUsers(rw, r, http.StatusOK, keyForm{}, "", "", "")
}

// renderUsers renders the Users screen with the new key's form as given,
// its error, or the token of the key just made.
func (w *Web) renderUsers(rw http.ResponseWriter, r *http.Request, status int, form keyForm, formError, token, newName string) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	if !may(actor, account.ViewUsers) && !may(actor, account.ViewAPIKeys) {
		w.renderNotFound(rw, r, u)
		return
	}
	ctx := r.Context()
	l := localeFor(r, u)
	d := usersData{Keys: may(actor, account.ViewAPIKeys), Manage: may(actor, account.ManageAPIKeys),
		Form: form, FormError: formError, Token: token, NewName: newName}
	if may(actor, account.ViewUsers) {
		users, err := w.cfg.DB.ListUsers(ctx, actor, acct.ID, 0, 100)
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		for _, x := range users {
			st := l.T("users.enabled")
			if x.Disabled {
				st = l.T("users.disabled")
			}
			d.Users = append(d.Users, userRow{Login: x.Login, Name: x.DisplayName, Status: st, LastLogin: l.Date(x.LastLoginAt)})
		}
	}
	if d.Keys {
		roleNames := map[int64]string{}
		roles, err := w.cfg.DB.Roles(ctx, actor, acct.ID)
		if err == nil {
			for _, ro := range roles {
				roleNames[ro.ID] = ro.Name
				d.Roles = append(d.Roles, roleOption{ID: ro.ID, Name: ro.Name, Selected: ro.ID == form.RoleID})
			}
		}
		keys, err := w.cfg.DB.APIKeys(ctx, actor, acct.ID)
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		for _, k := range keys {
			row := keyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: roleNames[k.RoleID], Created: l.Date(k.CreatedAt),
				LastUsed: l.Date(k.LastUsedAt), Expires: l.Date(k.ExpiresAt), Status: l.T("keys.active"), Class: "active"}
			switch {
			case !k.RevokedAt.IsZero():
				row.Status, row.Class, row.Revoked = l.T("keys.revoked"), "terminated", true
			case !k.ExpiresAt.IsZero() && !w.cfg.DB.Clock.Now().Before(k.ExpiresAt):
				row.Status, row.Class, row.Revoked = l.T("keys.expired"), "terminated", true
			}
			d.APIKeys = append(d.APIKeys, row)
		}
	}
	if token != "" {
		// The secret is on this page only: no cache may keep it.
		rw.Header().Set("Cache-Control", "no-store")
	}
	w.render(rw, r, status, "users.html", page{L: l, User: u, Account: acct, Title: l.T("users.title"), Nav: "users", Data: d})
}

// createAPIKey makes an API key of the signed-in user's account through
// the store, which authorizes it (manage API keys, a role that grants no
// more than the user holds). The page that answers shows the secret once;
// a refused form comes back with what was typed and the reason.
func (w *Web) createAPIKey(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	l := localeFor(r, u)
	form := keyForm{Name: r.PostFormValue("name")}
	roleID, err := strconv.ParseInt(r.PostFormValue("role_id"), 10, 64)
	if err != nil || roleID <= 0 {
		w.renderUsers(rw, r, http.StatusUnprocessableEntity, form, l.T("keys.error.role"), "", "")
		return
	}
	form.RoleID = roleID
	k, token, err := w.cfg.DB.CreateAPIKey(r.Context(), actor, acct.ID, roleID, form.Name, time.Time{})
	if err != nil {
		var msg string
		switch marketplane.ErrorCode(err) {
		case marketplane.EINVALID:
			msg = l.T("keys.error.role")
			if e := fieldsOf(err); e["name"] != "" {
				msg = l.T("keys.error.name")
			}
		case marketplane.EFORBIDDEN:
			if may(actor, account.ManageAPIKeys) {
				// The privilege is there: the role is what was refused.
				msg = l.T("keys.error.grant")
			}
		}
		if msg == "" {
			w.fail(rw, r, u, err)
			return
		}
		w.renderUsers(rw, r, http.StatusUnprocessableEntity, form, msg, "", "")
		return
	}
	w.renderUsers(rw, r, http.StatusCreated, keyForm{}, "", token, k.Name)
}

// revokeAPIKey revokes a key of the account; the store refuses a key out
// of the user's reach or a user who may not manage keys (the 404 page).
func (w *Web) revokeAPIKey(rw http.ResponseWriter, r *http.Request) {
	actor, u, _, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		w.renderNotFound(rw, r, u)
		return
	}
	if _, err := w.cfg.DB.RevokeAPIKey(r.Context(), actor, id); err != nil {
		w.fail(rw, r, u, err)
		return
	}
	http.Redirect(rw, r, "/users#api-keys", http.StatusSeeOther)
}

// fieldsOf is the per-field messages of an EINVALID error (nil if none).
func fieldsOf(err error) map[string]string {
	var e *marketplane.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
