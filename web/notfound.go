package web

import (
	"net/http"

	"github.com/marketplane/marketplane/account"
)

// notFound answers every URL the panels do not have.
func (w *Web) notFound(rw http.ResponseWriter, r *http.Request) {
	var u *account.User
	if actor, err := w.Actor(r); err == nil {
		u, _ = w.cfg.DB.User(r.Context(), actor, actor.UserID)
	}
	w.renderNotFound(rw, r, u)
}

// renderNotFound is the 404 page inside the panel's layout, for unknown
// URLs and for objects out of the user's reach alike: the page does not
// say whether the object exists.
func (w *Web) renderNotFound(rw http.ResponseWriter, r *http.Request, u *account.User) {
	l := localeFor(r, u)
	w.render(rw, r, http.StatusNotFound, "notfound.html", page{L: l, User: u, Title: l.T("notfound.title")})
}
