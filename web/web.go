// Package web serves Marketplane's control panels: server-rendered HTML with
// cookie sessions. This first part holds sign-in, sign-out and the home page
// of the signed-in account; the provider/reseller panel, the customer panel
// and the store grow here.
package web

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/accesslog"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config configures the panels.
type Config struct {
	DB     *store.DB
	Logger *slog.Logger
	// SecureCookies sets the Secure attribute on the session cookie; on
	// whenever the panels are served over HTTPS.
	SecureCookies bool
	// SessionLifetime is the absolute lifetime of a session (default 12h);
	// IdleTimeout ends it earlier when unused (default 1h).
	SessionLifetime time.Duration
	IdleTimeout     time.Duration
	Version         string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for a sign-in's address (see clientIP); none by default.
	TrustedProxies []netip.Prefix
}

// Web is the panels' HTTP handler.
type Web struct {
	cfg      Config
	sessions *scs.SessionManager
	tmpl     *template.Template
	handler  http.Handler
}

// sessionUserKey is where the signed-in user's id lives in the session.
const sessionUserKey = "user_id"

// New builds the panels.
func New(cfg Config) (*Web, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Hour
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"level": func(a *account.Account) string { return a.Level() },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sm := scs.New()
	sm.Store = cfg.DB.Sessions()
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = cfg.IdleTimeout
	sm.Cookie.Name = "marketplane_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.SecureCookies
	sm.Cookie.Path = "/"
	w := &Web{cfg: cfg, sessions: sm, tmpl: tmpl}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", w.loginForm)
	mux.HandleFunc("POST /login", w.login)
	mux.HandleFunc("POST /logout", w.logout)
	mux.HandleFunc("GET /{$}", w.home)
	// Cross-origin protection refuses state-changing requests from other
	// origins (Sec-Fetch-Site / Origin checks), which is CSRF protection
	// without tokens in every form.
	csrf := http.NewCrossOriginProtection()
	// The access log and /metrics name a panel request by the pattern
	// this mux matched (the mux sets it on the request it is given).
	routed := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(rw, r)
		accesslog.SetRoute(r.Context(), r.Pattern)
	})
	w.handler = sm.LoadAndSave(csrf.Handler(securityHeaders(routed)))
	return w, nil
}

// ServeHTTP serves the panels.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.handler.ServeHTTP(rw, r) }

// Actor returns the actor of the session of r, for other handlers (the API
// accepts a panel session as well as a key). It needs the session middleware:
// wrap those handlers with LoadSession.
func (w *Web) Actor(r *http.Request) (*account.Actor, error) {
	id := w.sessions.GetInt64(r.Context(), sessionUserKey)
	if id == 0 {
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "not signed in")
	}
	a, err := w.cfg.DB.ActorForUser(r.Context(), id)
	if err != nil || a.Disabled {
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "not signed in")
	}
	accesslog.SetPrincipal(r.Context(), "user", a.UserID)
	return a, nil
}

// LoadSession wraps h so that it can read the panel session.
func (w *Web) LoadSession(h http.Handler) http.Handler { return w.sessions.LoadAndSave(h) }

type page struct {
	Title    string
	Error    string
	Login    string
	User     *account.User
	Account  *account.Account
	Children []*account.Account
	Total    int
	Version  string
}

func (w *Web) render(rw http.ResponseWriter, status int, name string, p page) {
	p.Version = w.cfg.Version
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	if err := w.tmpl.ExecuteTemplate(rw, name, p); err != nil {
		w.cfg.Logger.Error("render", "template", name, "err", err)
	}
}

func (w *Web) loginForm(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, http.StatusOK, "login.html", page{Title: "Sign in"})
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
		w.render(rw, status, "login.html", page{Title: "Sign in", Error: marketplane.ErrorMessage(err), Login: login})
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

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	actor, err := w.Actor(r)
	if err != nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	u, err := w.cfg.DB.User(ctx, actor, actor.UserID)
	if err != nil {
		w.fail(rw, err)
		return
	}
	acct, err := w.cfg.DB.Account(ctx, actor, actor.AccountID)
	if err != nil {
		w.fail(rw, err)
		return
	}
	p := page{Title: acct.Name, User: u, Account: acct}
	if acct.CanHaveChildren() && actor.Grants.Level(account.PrivAccounts) >= account.View {
		p.Children, err = w.cfg.DB.ListAccounts(ctx, actor, store.AccountFilter{Limit: 50})
		if err != nil {
			w.fail(rw, err)
			return
		}
		p.Total, _ = w.cfg.DB.CountDescendants(ctx, actor, acct.ID)
	}
	w.render(rw, http.StatusOK, "home.html", p)
}

func (w *Web) fail(rw http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch marketplane.ErrorCode(err) {
	case marketplane.ENOTFOUND:
		status = http.StatusNotFound
	case marketplane.EFORBIDDEN:
		status = http.StatusForbidden
	case marketplane.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	default:
		w.cfg.Logger.Error("panel", "err", err)
	}
	w.render(rw, status, "error.html", page{Title: "Error", Error: marketplane.ErrorMessage(err)})
}

// PruneSessions deletes expired sessions; the server calls it periodically.
func (w *Web) PruneSessions(ctx context.Context) (int64, error) {
	return w.cfg.DB.Sessions().PruneExpired(ctx, 1000)
}

// clientIP is the address a sign-in is counted against: the peer of the
// connection. X-Forwarded-For is believed only when that peer is one of
// Config.TrustedProxies, and then only its last entry that is not itself a
// trusted proxy (every earlier entry is whatever the client wrote). Believed
// from anybody, the header would let an attacker pick a new address for
// each guess and escape the address throttles.
func (w *Web) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !w.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			break
		}
		host = a.Unmap().String()
		if !w.trusted(host) {
			break
		}
	}
	return host
}

func (w *Web) trusted(host string) bool {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range w.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hd := rw.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		h.ServeHTTP(rw, r)
	})
}
