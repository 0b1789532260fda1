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
	"net"
	"net/http"
	"net/netip"
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
	// EnqueueProvision queues the provisioning task of an order placed in
	// the purchase wizard, in the order's transaction (the API's hook of
	// the same name). Without it the wizard refuses to place orders.
	EnqueueProvision EnqueueFunc
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
		"level":  func(a *account.Account) string { return a.Level() },
		"static": staticURL,
		"gaugeList": func(p page, g []gauge) gaugeView {
			return gaugeView{L: p.L, Gauges: g}
		},
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
	mux.HandleFunc("GET /subscriptions/{id}", w.subscription)
	mux.HandleFunc("GET /subscriptions/{id}/change/quote", w.subscriptionChangeQuote)
	mux.HandleFunc("POST /subscriptions/{id}/change", w.changeSubscription)
	mux.HandleFunc("POST /subscriptions/{id}/cancel", w.cancelSubscription)
	mux.HandleFunc("POST /subscriptions/{id}/auto-renew", w.setAutoRenew)
	mux.HandleFunc("GET /subscriptions", w.subscriptionList)
	mux.HandleFunc("GET /billing", w.billing)
	mux.HandleFunc("GET /billing/documents/{id}/pdf", w.documentPDF)
	mux.HandleFunc("GET /users", w.users)
	mux.HandleFunc("POST /users/api-keys", w.createAPIKey)
	mux.HandleFunc("POST /users/api-keys/{id}/revoke", w.revokeAPIKey)
	mux.HandleFunc("GET /marketplace", w.marketplace)
	mux.HandleFunc("GET /marketplace/{plan}", w.wizard)
	mux.HandleFunc("GET /marketplace/{plan}/quote", w.wizardQuote)
	mux.HandleFunc("POST /marketplace/{plan}", w.placeOrder)
	mux.Handle("GET /static/", staticHandler())
	// Every other URL is the panel's 404 page.
	mux.HandleFunc("/", w.notFound)
	// Cross-origin protection refuses state-changing requests from other
	// origins (Sec-Fetch-Site / Origin checks), which is CSRF protection
	// without tokens in every form.
	csrf := http.NewCrossOriginProtection()
	// The access log and /metrics name a panel request by the pattern
	// this mux matched (the mux sets it on the request it is given).
	routed := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(rw, r)
		// The catch-all's 404 page is no route: made-up paths stay one
		// "unmatched" series rather than a pattern of their own.
		if r.Pattern != "/" {
			accesslog.SetRoute(r.Context(), r.Pattern)
		}
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

// page is what every template is given: the layout's needs (title,
// language, direction, the signed-in user) and the screen's own data.
type page struct {
	Title   string
	Error   string
	Login   string
	User    *account.User
	Account *account.Account
	// Nav says which item of the navigation is the current page.
	Nav     string
	Version string
	// L is the reader's language: its messages and formats.
	L *locale
	// Data is the screen's own data (homeData, subscriptionData …).
	Data any
}

// gaugeView is what the "gauges" template is given.
type gaugeView struct {
	L      *locale
	Gauges []gauge
}

// T translates key in the reader's language (see locale.T).
func (p page) T(key string, args ...any) string { return p.L.T(key, args...) }

// render writes template name for the reader of r.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Version = w.cfg.Version
	if p.L == nil {
		p.L = localeFor(r, p.User)
	}
	if p.Title == "" {
		p.Title = p.L.T("app.name")
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Content-Language", p.L.Lang)
	rw.WriteHeader(status)
	if err := w.tmpl.ExecuteTemplate(rw, name, p); err != nil {
		w.cfg.Logger.Error("render", "template", name, "err", err)
	}
}

// signedIn returns the actor, user and account of r's session, or
// redirects to the sign-in page and returns ok false.
func (w *Web) signedIn(rw http.ResponseWriter, r *http.Request) (actor *account.Actor, u *account.User, acct *account.Account, ok bool) {
	actor, err := w.Actor(r)
	if err != nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return nil, nil, nil, false
	}
	ctx := r.Context()
	if u, err = w.cfg.DB.User(ctx, actor, actor.UserID); err != nil {
		w.fail(rw, r, nil, err)
		return nil, nil, nil, false
	}
	if acct, err = w.cfg.DB.Account(ctx, actor, actor.AccountID); err != nil {
		w.fail(rw, r, u, err)
		return nil, nil, nil, false
	}
	return actor, u, acct, true
}

// fail answers an error of a store method. Not found and forbidden both
// answer the 404 page: an object out of the user's reach looks exactly
// like one that does not exist.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, u *account.User, err error) {
	switch marketplane.ErrorCode(err) {
	case marketplane.ENOTFOUND, marketplane.EFORBIDDEN:
		w.renderNotFound(rw, r, u)
		return
	case marketplane.EUNAUTHORIZED:
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	w.cfg.Logger.Error("panel", "err", err)
	l := localeFor(r, u)
	w.render(rw, r, http.StatusInternalServerError, "error.html", page{L: l, User: u, Title: l.T("error.title"), Error: l.T("error.text")})
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
