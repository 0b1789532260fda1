package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/problem"
)

// Config configures Handler.
type Config struct {
	// Secret is the shared secret that signs requests; required.
	Secret string
	// MaxSkew is how far a request's timestamp may be from this clock,
	// either way (default DefaultMaxSkew, 5 minutes).
	MaxSkew time.Duration
	// Logger receives failed and refused requests (default slog.Default()).
	Logger *slog.Logger
	// RetryAfter is the polling interval suggested to the platform in
	// answers about a provisioning or deleting tenant (default 5s; sent in
	// whole seconds, at least 1).
	RetryAfter time.Duration

	// Clock tells the time for timestamps (default the system clock).
	Clock marketplane.Clock
	// ReplayCache is how many recent successful answers to changes are
	// kept for replays by request id (default 10000; negative: none).
	ReplayCache int
	// ReplayTTL is how long such an answer is replayed (default 24h).
	ReplayTTL time.Duration
	// CallbackTimeout bounds the registration callback (default 10s).
	CallbackTimeout time.Duration
	// HTTPClient makes the registration callback (default: a client that
	// does not follow redirects, since a redirect would break the
	// signature).
	HTTPClient *http.Client
}

// Handler returns the HTTP handler that serves svc by the protocol of the
// package documentation. It reads svc.Manifest() once and panics if the
// manifest is invalid or cfg.Secret is empty: both are mistakes to fix
// before the connector may start.
func Handler(svc Service, cfg Config) http.Handler {
	if cfg.Secret == "" {
		panic("connector: Config.Secret is required")
	}
	m := svc.Manifest()
	if err := m.Validate(); err != nil {
		panic("connector: invalid manifest: " + err.Error())
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = marketplane.SystemClock{}
	}
	if cfg.ReplayCache == 0 {
		cfg.ReplayCache = 10000
	}
	if cfg.ReplayTTL <= 0 {
		cfg.ReplayTTL = 24 * time.Hour
	}
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	h := &handler{svc: svc, cfg: cfg, log: cfg.Logger, manifest: m, mux: http.NewServeMux()}
	if cfg.ReplayCache > 0 {
		h.replays = newReplayCache(cfg.ReplayCache, cfg.ReplayTTL, cfg.Clock.Now)
	}
	h.mux.HandleFunc("GET /manifest", h.getManifest)
	h.mux.HandleFunc("POST /tenants", h.create)
	h.mux.HandleFunc("GET /tenants/{id}", h.get)
	h.mux.HandleFunc("PUT /tenants/{id}", h.update)
	h.mux.HandleFunc("POST /tenants/{id}/suspend", h.suspend)
	h.mux.HandleFunc("POST /tenants/{id}/resume", h.resume)
	h.mux.HandleFunc("DELETE /tenants/{id}", h.delete)
	h.mux.HandleFunc("GET /tenants/{id}/usage", h.usage)
	h.mux.HandleFunc("POST /ping", h.ping)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, ErrorReply{Error: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return h
}

type handler struct {
	svc      Service
	cfg      Config
	log      *slog.Logger
	manifest Manifest
	mux      *http.ServeMux
	replays  *replayCache // nil when disabled
}

// HeaderReplay marks an answer replayed from the SDK's cache.
const HeaderReplay = "X-Marketplane-Replay"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	body, err := VerifyRequest(r, h.cfg.Secret, h.cfg.Clock.Now(), h.cfg.MaxSkew)
	switch {
	case errors.Is(err, errTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, ErrorReply{Error: err.Error()})
		return
	case marketplane.ErrorCode(err) == marketplane.EUNAUTHORIZED:
		h.log.Warn("connector: refused request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		writeJSON(w, http.StatusUnauthorized, ErrorReply{Error: err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, ErrorReply{Error: err.Error()})
		return
	}
	reqID := r.Header.Get(HeaderRequestID)
	if msg := validRequestID(reqID); msg != "" {
		writeJSON(w, http.StatusBadRequest, ErrorReply{Error: HeaderRequestID + " " + msg})
		return
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				writeJSON(w, http.StatusUnsupportedMediaType, ErrorReply{Error: "the body must be application/json"})
				return
			}
		}
	}

	// Changes to tenants go through the replay cache: a retry of a recent
	// request gets the first answer, and a retry that arrives while the
	// first is still running waits for it instead of racing it.
	if h.replays != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Path != "/ping" {
		fp := r.Method + " " + r.URL.RequestURI() + " " + BodyHash(body)
		rec, replayed, err := h.replays.do(r.Context(), reqID, fp, func() *recorded { return h.record(r) })
		switch {
		case errors.Is(err, errReused):
			writeJSON(w, http.StatusConflict, ErrorReply{Error: fmt.Sprintf("request id %q was already used for a different request", reqID)})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, ErrorReply{Error: err.Error()})
		default:
			if replayed {
				w.Header().Set(HeaderReplay, "true")
			}
			rec.writeTo(w)
		}
		return
	}
	h.record(r).writeTo(w)
}

// record serves r into a recorded answer, turning a panic of the Service
// into a 500 so that the platform gets an answer it can retry.
func (h *handler) record(r *http.Request) (rec *recorded) {
	rec = &recorded{header: http.Header{}}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("connector: panic", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			rec = &recorded{header: http.Header{}}
			writeJSON(rec, http.StatusInternalServerError, ErrorReply{Error: fmt.Sprintf("connector panic: %v", p)})
		}
		h.log.Debug("connector: request", "method", r.Method, "path", r.URL.Path,
			"request_id", r.Header.Get(HeaderRequestID), "status", rec.status, "duration", time.Since(start))
	}()
	h.mux.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

func (h *handler) getManifest(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.manifest)
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !h.decode(w, r, &req) {
		return
	}
	if !h.sameRequestID(w, r, &req.RequestID) {
		return
	}
	if err := h.manifest.ValidateCreate(req); err != nil {
		h.writeError(w, r, err)
		return
	}
	t, err := h.svc.Create(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeTenant(w, r, "Create", "", t, http.StatusCreated)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := h.svc.Get(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeTenant(w, r, "Get", id, t, http.StatusOK)
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req UpdateRequest
	if !h.decode(w, r, &req) {
		return
	}
	if !h.sameRequestID(w, r, &req.RequestID) {
		return
	}
	if err := h.manifest.ValidateUpdate(req); err != nil {
		h.writeError(w, r, err)
		return
	}
	t, err := h.svc.Update(r.Context(), id, req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeTenant(w, r, "Update", id, t, http.StatusOK)
}

func (h *handler) suspend(w http.ResponseWriter, r *http.Request) {
	h.simple(w, r, "Suspend", h.svc.Suspend)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	h.simple(w, r, "Resume", h.svc.Resume)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	h.simple(w, r, "Delete", h.svc.Delete)
}

func (h *handler) simple(w http.ResponseWriter, r *http.Request, op string, call func(context.Context, string) (Tenant, error)) {
	id := r.PathValue("id")
	t, err := call(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeTenant(w, r, op, id, t, http.StatusOK)
}

func (h *handler) usage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	readings, err := h.svc.Usage(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.cfg.Clock.Now().UTC()
	out := make([]UsageReading, 0, len(readings))
	for i, u := range readings {
		if u.Resource == "" {
			h.writeError(w, r, fmt.Errorf("connector bug: Usage(%q) returned reading %d without a resource", id, i))
			return
		}
		if err := CheckValue(u.Value); err != nil {
			h.writeError(w, r, fmt.Errorf("connector bug: Usage(%q) returned reading %d of %s: %w", id, i, u.Resource, err))
			return
		}
		if u.At.IsZero() {
			u.At = now
		}
		out = append(out, u)
	}
	writeJSON(w, http.StatusOK, UsageReply{Readings: out})
}

func (h *handler) ping(w http.ResponseWriter, r *http.Request) {
	var req PingRequest
	if !h.decode(w, r, &req) {
		return
	}
	var f marketplane.FieldErrors
	u, err := url.Parse(req.CallbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		f.Add("callback_url", "must be an absolute http or https URL")
	}
	if req.Nonce == "" || len(req.Nonce) > 200 {
		f.Add("nonce", "must be 1 to 200 characters")
	}
	if err := f.Err("ping"); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.callback(r.Context(), req.CallbackURL, r.Header.Get(HeaderRequestID), req.Nonce); err != nil {
		h.log.Warn("connector: registration callback failed", "url", req.CallbackURL, "err", err)
		writeJSON(w, http.StatusBadGateway, ErrorReply{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, PingReply{Nonce: req.Nonce})
}

// callback sends the signed registration callback to the platform.
func (h *handler) callback(ctx context.Context, callbackURL, requestID, nonce string) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CallbackTimeout)
	defer cancel()
	body, _ := json.Marshal(Callback{Nonce: nonce, Name: h.manifest.Name, Version: h.manifest.Version})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("callback to %s: %w", callbackURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, h.cfg.Secret, requestID, body, h.cfg.Clock.Now())
	resp, err := h.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("callback to %s: %w", callbackURL, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback to %s answered %s: %s", callbackURL, resp.Status, bytes.TrimSpace(snippet))
	}
	return nil
}

// decode reads a JSON object from r's body into v, answering 400 when it
// cannot.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err == nil && len(bytes.TrimSpace(body)) == 0 {
		err = errors.New("a JSON object is required")
	}
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorReply{Error: "body: " + err.Error()})
		return false
	}
	return true
}

// sameRequestID fills a body's empty request id from the header and
// refuses a body whose request id differs from the signed header's.
func (h *handler) sameRequestID(w http.ResponseWriter, r *http.Request, id *string) bool {
	hdr := r.Header.Get(HeaderRequestID)
	if *id == "" {
		*id = hdr
		return true
	}
	if *id != hdr {
		h.writeError(w, r, Invalid(map[string]string{"request_id": "differs from the " + HeaderRequestID + " header"}))
		return false
	}
	return true
}

// writeTenant answers with t after checking that the Service kept the
// contract, so that a connector's bug shows up as a clear 500 here rather
// than as a puzzle at the platform. Transitional tenants get 202 (except for
// GET) with Location and Retry-After.
func (h *handler) writeTenant(w http.ResponseWriter, r *http.Request, op, id string, t Tenant, status int) {
	if t.ID == "" {
		t.ID = id
	}
	switch {
	case t.ID == "":
		h.writeError(w, r, fmt.Errorf("connector bug: %s returned a tenant without an id", op))
		return
	case id != "" && t.ID != id:
		h.writeError(w, r, fmt.Errorf("connector bug: %s(%q) returned tenant %q", op, id, t.ID))
		return
	case !ValidStatus(t.Status):
		h.writeError(w, r, fmt.Errorf("connector bug: %s returned tenant %q with status %q", op, t.ID, t.Status))
		return
	}
	if Pending(t.Status) {
		w.Header().Set("Location", "/tenants/"+url.PathEscape(t.ID))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(h.cfg.RetryAfter.Seconds())))))
		if r.Method != http.MethodGet {
			status = http.StatusAccepted
		}
	}
	writeJSON(w, status, t)
}

// writeError answers err with the status of its code. The message goes to
// the platform as it is: the platform is the only caller that holds the
// secret, and staff need the connector's reason.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(marketplane.ErrorCode(err))
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusServiceUnavailable
	}
	reply := ErrorReply{Error: err.Error()}
	var e *marketplane.Error
	if errors.As(err, &e) {
		reply.Fields = e.Fields
		if e == err {
			reply.Error = e.Message // no context to keep; the code is the status
		}
	}
	if status >= 500 {
		h.log.Error("connector: request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", r.Header.Get(HeaderRequestID), "status", status, "err", err)
	}
	writeJSON(w, status, reply)
}

// statusOf maps an error code to its HTTP status through the one shared
// table (package problem).
func statusOf(code string) int { return problem.Status(code) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(ErrorReply{Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// validRequestID says what is wrong with a request id, or "".
func validRequestID(id string) string {
	if id == "" || len(id) > 200 {
		return "must be 1 to 200 characters"
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}
