// Package accesslog holds the record of one HTTP request that the access
// log writes and /metrics counts, and the middleware that writes it: one
// JSON line per request with its time, method, route pattern, status,
// duration, bytes, request id and principal.
//
// The middleware sees a request before the handlers that know its route
// and its principal: the API's router and authentication, the panels' own
// router. Those fill the record in through the request's context
// (SetRoute, SetPrincipal), so that the line names the route pattern
// ("GET /api/v1/orders/{id}") rather than the path, which would put ids
// and tokens in the log and make the metrics' labels unbounded.
package accesslog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Unmatched is the route of a request no handler claimed (a path that
// exists nowhere): one label for all of them, whatever the path.
const Unmatched = "unmatched"

// Record is what is known of one request.
type Record struct {
	Time      time.Time
	Method    string
	Route     string // the route pattern, or Unmatched
	Status    int
	Duration  time.Duration
	Bytes     int64
	RequestID string
	Principal string // "user:ID", "key:ID", or empty when anonymous
}

type recordKey struct{}

// holder is the record under way, filled in by inner handlers.
type holder struct {
	mu        sync.Mutex
	route     string
	principal string
}

// SetRoute names the route pattern of the request of ctx; the innermost
// router that matched it calls this. It does nothing outside Middleware.
func SetRoute(ctx context.Context, pattern string) {
	if h, ok := ctx.Value(recordKey{}).(*holder); ok && pattern != "" {
		h.mu.Lock()
		h.route = pattern
		h.mu.Unlock()
	}
}

// SetPrincipal names who made the request of ctx (a panel user or an API
// key), by id only: never a login, a name or a key.
func SetPrincipal(ctx context.Context, kind string, id int64) {
	if h, ok := ctx.Value(recordKey{}).(*holder); ok && id != 0 {
		h.mu.Lock()
		h.principal = kind + ":" + strconv.FormatInt(id, 10)
		h.mu.Unlock()
	}
}

// requestIDPattern is the X-Request-Id a client may choose: anything else
// is replaced, so that the log holds no text a client smuggled in.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Middleware wraps next: every request gets a request id (the client's
// X-Request-Id when it is short and plain, else a new one), answered in
// X-Request-Id, and when it ends done receives its record. route is the
// route of a request no inner handler named: the pattern the outer router
// matched (r.Pattern), where catch-alls count as Unmatched.
func Middleware(next http.Handler, done func(Record), route func(r *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		h := &holder{}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, h))
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			h.mu.Lock()
			rt, principal := h.route, h.principal
			h.mu.Unlock()
			if rt == "" {
				rt = route(r)
			}
			if rt == "" {
				rt = Unmatched
			}
			done(Record{Time: start, Method: r.Method, Route: rt, Status: rec.code, Duration: time.Since(start),
				Bytes: rec.bytes, RequestID: id, Principal: principal})
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder notes the status and the bytes of a response.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (s *recorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *recorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Logger writes records as JSON lines to w, one line per request.
type Logger struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLogger returns a Logger writing to w.
func NewLogger(w io.Writer) *Logger { return &Logger{w: w} }

// line is a record as the log writes it.
type line struct {
	Time       string  `json:"time"`
	Method     string  `json:"method"`
	Route      string  `json:"route"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Bytes      int64   `json:"bytes"`
	RequestID  string  `json:"request_id"`
	Principal  string  `json:"principal,omitempty"`
}

// Log writes rec as one line.
func (l *Logger) Log(rec Record) {
	b, err := json.Marshal(line{Time: rec.Time.UTC().Format(time.RFC3339Nano), Method: rec.Method, Route: rec.Route,
		Status: rec.Status, DurationMS: float64(rec.Duration.Microseconds()) / 1000, Bytes: rec.Bytes,
		RequestID: rec.RequestID, Principal: rec.Principal})
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(b)
}
