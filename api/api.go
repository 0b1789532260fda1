// Package api is Marketplane's public REST API at /api/v1: JSON over HTTP,
// described by an OpenAPI 3.1 document, built with huma on net/http.
//
// Every handler calls a store method that authorizes the actor itself; the
// API never decides "may this actor see that" on its own, with one
// exception: tasks, which live outside the store (see Tasks). (The
// privilege catalog is the same for everyone signed in.)
//
// Mounting:
//
//	a := api.New(api.Config{DB: db, Tasks: api.TaskManager(tasks), Version: version})
//	mux.Handle(api.Prefix+"/", a.Handler())
//
// Errors are RFC 9457 problem documents. The mapping from Marketplane's
// error codes to HTTP statuses is statusOf, in errors.go, and nowhere else.
package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/accesslog"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// Prefix is where the API lives. A server mounts Handler at Prefix + "/".
const Prefix = "/api/v1"

// Config is what New needs.
type Config struct {
	// DB is the store every handler goes through.
	DB *store.DB
	// Logger receives internal errors (their text never reaches clients).
	// Nil means slog.Default().
	Logger *slog.Logger
	// Version is the Marketplane version shown in the OpenAPI document.
	Version string
	// Tasks is the task manager, usually TaskManager(m). Nil makes the task
	// routes answer 503.
	Tasks Tasks
	// Authenticate resolves requests that carry no Authorization header,
	// for example by the panel's session cookie. It returns nil, nil when
	// the request carries no credentials of its kind. Such requests must
	// also pass a cross-origin check (cookies ride along on cross-site
	// requests; bearer keys do not), which the API applies itself.
	Authenticate func(*http.Request) (*account.Actor, error)
	// EnqueueSync queues the task that applies a sync run, in tx: the
	// transaction that creates the run, so that the two are committed
	// together or not at all (the outbox rule). Nil makes POST
	// /plans/{id}/sync answer 503, after authorizing it.
	EnqueueSync func(ctx context.Context, tx *sql.Tx, job SyncTask) error
	// EnqueueProvision queues the provisioning task of an order in tx: the
	// transaction that places, changes, cancels or retries the order, so
	// that the order and its task are committed together or not at all
	// (the outbox rule). Nil makes those routes answer 503 after
	// authorizing and checking the request; nothing is stored.
	EnqueueProvision func(ctx context.Context, tx *sql.Tx, o *store.Order) error
	// EnqueueSubscriptionStatus queues the task that suspends or resumes a
	// subscription's service at its connector, in tx: the transaction that
	// changes the subscription's status. Nil makes POST
	// /subscriptions/{id}/suspend and /resume answer 503 after authorizing
	// them, and so does an account's hold or release that would suspend or
	// resume subscriptions; nothing changes.
	EnqueueSubscriptionStatus func(ctx context.Context, tx *sql.Tx, s *subscription.Subscription) error
	// PublicURL is the scheme and host clients reach the server at, such as
	// "https://cloud.example.com"; it goes into the OpenAPI document's
	// servers. Empty leaves the server URL relative ("/api/v1").
	PublicURL string
	// CallbackBase returns the server's base URL as connectors reach it,
	// for the callback of a connector's registration (served at
	// provisioning.CallbackPath, outside the API). Nil uses PublicURL;
	// empty makes registering a connector answer 503.
	CallbackBase func() string
	// ConnectorClient tunes the calls to connectors while registering them
	// (zero: the defaults).
	ConnectorClient provisioning.Options
	// Gateway charges the cards of top-ups (POST /accounts/{id}/top-ups
	// with a source) and of orders placed and paid in one call. Nil means
	// gateway.Offline: no card is charged, and a request with a source is
	// refused (400 on the source) with nothing recorded.
	Gateway gateway.Gateway
	// RateLimit is the requests per second each principal (API key or
	// panel user) may make, sustained (DefaultRateLimit is a good value),
	// and RateBurst how many at once (0: DefaultRateBurst). Over it, the
	// API answers 429 with Retry-After. 0 sets no limit. Buckets are kept
	// per process (see rateLimiter).
	RateLimit float64
	RateBurst int
	// AllowPrivateWebhooks lets webhook endpoints name internal addresses
	// (loopback, private, link-local …), which are refused otherwise
	// (webhook.CheckURL): for development and tests, whose receivers
	// listen on 127.0.0.1.
	AllowPrivateWebhooks bool
}

// API is the REST API. Build it with New and serve Handler.
type API struct {
	db          *store.DB
	log         *slog.Logger
	tasks       Tasks
	enqueueSync func(ctx context.Context, tx *sql.Tx, job SyncTask) error
	// enqueueProvision and enqueueStatus queue the provisioning tasks of
	// orders and of suspensions (Config).
	enqueueProvision func(ctx context.Context, tx *sql.Tx, o *store.Order) error
	enqueueStatus    func(ctx context.Context, tx *sql.Tx, s *subscription.Subscription) error
	authenticate     func(*http.Request) (*account.Actor, error)
	csrf             *http.CrossOriginProtection
	// callbackBase and connectorClient serve connector registration.
	callbackBase    func() string
	connectorClient provisioning.Options
	// gateway charges the cards of top-ups.
	gateway gateway.Gateway
	// limiter keeps the rate limits; nil when off.
	limiter *rateLimiter
	// allowPrivateWebhooks: Config.AllowPrivateWebhooks.
	allowPrivateWebhooks bool

	mux  *http.ServeMux
	huma huma.API
	// operations are the operations registered, in order, for the
	// OpenAPI test and for readers who want the list in one place.
	operations []*huma.Operation
	spec       []byte
}

// bearerScheme names the security scheme of API keys in the OpenAPI document.
const bearerScheme = "bearer"

// New builds the API with all its routes.
func New(cfg Config) *API {
	useBadRequestForValidation()
	a := &API{
		db:          cfg.DB,
		log:         cfg.Logger,
		tasks:       cfg.Tasks,
		enqueueSync: cfg.EnqueueSync,
		// Orders and suspensions queue their provisioning tasks.
		enqueueProvision: cfg.EnqueueProvision,
		enqueueStatus:    cfg.EnqueueSubscriptionStatus,
		authenticate:     cfg.Authenticate,
		csrf:             http.NewCrossOriginProtection(),
		mux:              http.NewServeMux(),

		callbackBase:    cfg.CallbackBase,
		connectorClient: cfg.ConnectorClient,
		gateway:         cfg.Gateway,
		limiter:         newRateLimiter(cfg.RateLimit, cfg.RateBurst),

		allowPrivateWebhooks: cfg.AllowPrivateWebhooks,
	}
	if a.gateway == nil {
		a.gateway = gateway.Offline{}
	}
	if a.callbackBase == nil {
		public := strings.TrimSuffix(cfg.PublicURL, "/")
		a.callbackBase = func() string { return public }
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	version := cfg.Version
	if version == "" {
		version = "dev"
	}

	hc := huma.DefaultConfig("Marketplane API", version)
	// The default config adds a "$schema" member to every response body
	// and serves schemas and a docs page that loads scripts from a CDN; we
	// keep bodies to exactly what is documented and serve the document
	// ourselves (see serveSpec).
	hc.CreateHooks = nil
	hc.OpenAPIPath, hc.DocsPath, hc.SchemasPath = "", "", ""
	hc.Info.Description = "The public API of Marketplane, a cloud-services commerce platform. " +
		"Authenticate with an API key: `Authorization: Bearer mpk_…`. " +
		"Errors are RFC 9457 problem documents; lists are paged with opaque cursors; " +
		"updates return an ETag and honour If-Match."
	hc.Servers = []*huma.Server{{URL: strings.TrimSuffix(cfg.PublicURL, "/") + Prefix}}
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		bearerScheme: {
			Type:         "http",
			Scheme:       "bearer",
			BearerFormat: "API key",
			Description:  "An API key made in the panel or with POST /accounts/{id}/api-keys.",
		},
	}
	// Amounts are left out of the answers to actors who may not see
	// prices, for every operation in one place (prices.go).
	hc.Transformers = append(hc.Transformers, a.hidePrices)
	a.huma = humago.NewWithPrefix(a.mux, Prefix, hc)
	a.huma.UseMiddleware(a.authenticateRequest, a.limitRate, a.idempotent)

	a.accountRoutes()
	a.userRoutes()
	a.roleRoutes()
	a.apiKeyRoutes()
	a.auditRoutes()
	a.taskRoutes()
	a.catalogRoutes()
	a.delegationRoutes()
	a.connectorRoutes()
	a.orderRoutes()
	a.subscriptionRoutes()
	a.offerRoutes()
	a.billingRoutes()
	a.testClockRoutes()
	a.webhookRoutes()

	a.finishSpec()
	a.mux.HandleFunc("GET "+Prefix+"/openapi.json", a.serveSpec)
	return a
}

// Handler serves the API. Requests must keep their full path
// (/api/v1/accounts …): mount it with mux.Handle(api.Prefix+"/", h).
func (a *API) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverPanic(w, r)
		_, pattern := a.mux.Handler(r)
		accesslog.SetRoute(r.Context(), pattern)
		if pattern == "" {
			a.noRoute(w, r)
			return
		}
		if rejectBadParams(w, r, pattern) || a.rejectNUL(w, r) {
			return
		}
		a.mux.ServeHTTP(w, r)
	})
}

// OpenAPI returns the OpenAPI document (for tools that write it to a file).
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

// op describes one operation for register.
type op struct {
	id, method, path, summary, tag string
	// status is the success status; 0 means 200.
	status int
	// errors are the documented error statuses besides the common ones
	// (400, 401, 403, 404, 500).
	errors []int
	// description adds to the summary in the document.
	description string
	// media is the media type of an operation whose output Body is
	// []byte, written as it is (a PDF); "" for JSON.
	media string
	// needsPrices marks an operation that only an actor who may see
	// prices can use: an answer that is a rendered document made of
	// amounts (an invoice's PDF), which would have holes, or a request
	// that replaces prices whole (PUT /plans/{id}), which a body read
	// without them would set to 0. Others are refused (403); every other
	// answer just leaves the amounts out (hidePrices).
	needsPrices bool
}

// register adds one operation. Every handler goes through here, so that every
// error it returns is turned into a problem document by one function
// (problemOf) and every operation declares the bearer scheme.
func register[I, O any](a *API, o op, handler func(context.Context, *I) (*O, error)) {
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	errs = append(errs, o.errors...)
	hop := huma.Operation{
		OperationID:   o.id,
		Method:        o.method,
		Path:          o.path,
		Summary:       o.summary,
		Description:   o.description,
		Tags:          []string{o.tag},
		DefaultStatus: o.status,
		Errors:        errs,
		Security:      []map[string][]string{{bearerScheme: {}}},
	}
	if o.media != "" {
		// Huma documents every body as JSON; a raw one is declared here,
		// before it looks.
		status := o.status
		if status == 0 {
			status = http.StatusOK
		}
		// OpenAPI 3.1 describes binary content by its media type alone
		// (huma's "format: binary" would call it application/octet-stream).
		content := &huma.MediaType{}
		if strings.HasPrefix(o.media, "text/") {
			content.Schema = &huma.Schema{Type: "string"}
		}
		hop.Responses = map[string]*huma.Response{strconv.Itoa(status): {
			Description: http.StatusText(status),
			Content:     map[string]*huma.MediaType{o.media: content},
		}}
	}
	notFound := notFoundMessage(o.path)
	huma.Register(a.huma, hop, func(ctx context.Context, in *I) (*O, error) {
		if o.needsPrices && !actorFrom(ctx).ShowsPrices() {
			return nil, a.problemOf(ctx, o.id, mayNotSeePrices())
		}
		out, err := handler(ctx, in)
		if err != nil {
			if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
				// The store words "missing" and "outside your reach"
				// differently for some things; one text per route keeps
				// others' ids from being probed by the message.
				err = marketplane.Errorf(marketplane.ENOTFOUND, "%s", notFound)
			}
			return nil, a.problemOf(ctx, o.id, err)
		}
		return out, nil
	})
	item := a.huma.OpenAPI().Paths[o.path]
	for _, registered := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
		if registered != nil && registered.OperationID == o.id {
			a.operations = append(a.operations, registered)
		}
	}
}

// notFoundMessage is the 404 text of the routes below path: the thing the
// path's first segment names.
func notFoundMessage(path string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch first {
	case "accounts":
		return "account not found"
	case "users":
		return "user not found"
	case "roles":
		return "role not found"
	case "api-keys":
		return "API key not found"
	case "tasks":
		return "task not found"
	case "sync-runs":
		return "sync run not found"
	case "connectors":
		return "connector not found"
	case "orders":
		return "order not found"
	case "subscriptions":
		return "subscription not found"
	case "documents":
		return "document not found"
	case "vendors":
		// A vendor is an account, as the lists' vendor_id filters say.
		return "account not found"
	}
	return "not found"
}

// finishSpec tidies the generated document and renders it once.
func (a *API) finishSpec() {
	for _, o := range a.operations {
		// Huma documents 422 for schema failures; we answer those with 400
		// (see useBadRequestForValidation), which every operation lists.
		delete(o.Responses, "422")
		documentIdempotencyKey(o, o.Responses["400"])
		documentRateLimit(o, o.Responses["400"])
	}
	documentPrices(a.huma.OpenAPI())
	spec, err := json.Marshal(a.huma.OpenAPI())
	if err != nil {
		// The document is built from our own types at start: failing to
		// render it is a programming error.
		panic("api: render OpenAPI document: " + err.Error())
	}
	a.spec = spec
}

// serveSpec serves the OpenAPI document, rendered once at start so that
// concurrent first requests do not race to build it.
func (a *API) serveSpec(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/openapi+json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(a.spec)
}

// noRoute answers requests that match no operation with a problem document:
// 404, or 405 with Allow when the path exists under another method. The
// mux's error handlers write plain text, so we ask them for the status only.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		writeProblem(w, http.StatusNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeProblem(w, http.StatusMethodNotAllowed, "method not allowed here")
	default:
		// The mux's own answers, such as redirects to a cleaned path.
		a.mux.ServeHTTP(w, r)
	}
}

// statusProbe records the status and headers an http.Handler writes and
// discards the body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}

// recoverPanic turns a handler panic into a logged 500 instead of a dropped
// connection. http.ErrAbortHandler keeps its meaning.
func (a *API) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	a.log.ErrorContext(r.Context(), "api: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
	writeProblem(w, http.StatusInternalServerError, "internal error")
}

// writeProblem writes a problem document outside huma (unknown routes,
// panics).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
}
