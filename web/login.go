package web

import (
	"math"
	"net/http"
	"strconv"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

func (w *Web) loginForm(rw http.ResponseWriter, r *http.Request) {
	l := localeFor(r, nil)
	w.render(rw, r, http.StatusOK, "login.html", page{L: l, Title: l.T("login.title")})
}

// maxLoginForm bounds the body of a sign-in: a login and a password fit
// many times over, and nothing larger is read.
const maxLoginForm = 64 << 10

func (w *Web) login(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, maxLoginForm)
	login, pw := r.PostFormValue("login"), r.PostFormValue("password")
	u, err := w.cfg.DB.Login(r.Context(), login, pw, w.clientIP(r))
	if err != nil {
		status := http.StatusUnauthorized
		switch marketplane.ErrorCode(err) {
		case marketplane.ETHROTTLED:
			status = http.StatusTooManyRequests
		case marketplane.EUNAVAILABLE:
			status = http.StatusServiceUnavailable
		case marketplane.EUNAUTHORIZED:
		default:
			w.cfg.Logger.Error("login", "err", err)
			status = http.StatusInternalServerError
		}
		if after, ok := account.RetryAfter(err); ok {
			rw.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(after.Seconds())))))
		}
		l := localeFor(r, nil)
		w.render(rw, r, status, "login.html", page{L: l, Title: l.T("login.title"), Error: marketplane.ErrorMessage(err), Login: login})
		return
	}
	// A new token at sign-in defeats session fixation.
	if err := w.sessions.RenewToken(r.Context()); err != nil {
		http.Error(rw, "session error", http.StatusInternalServerError)
		return
	}
	w.sessions.Put(r.Context(), sessionUserKey, u.ID)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	if err := w.sessions.Destroy(r.Context()); err != nil {
		w.cfg.Logger.Error("logout", "err", err)
	}
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
}
