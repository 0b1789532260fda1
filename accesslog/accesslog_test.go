package accesslog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestMiddleware: the record carries the route and principal the inner
// handler named, the status and the bytes written; a client's plain
// X-Request-Id is kept, one with other characters is replaced; a request
// no handler names takes the outer route, and Unmatched without one.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	var got []Record
	var logged bytes.Buffer
	log := NewLogger(&logged)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/orders/7" {
			SetRoute(r.Context(), "GET /orders/{id}")
			SetPrincipal(r.Context(), "key", 3)
		}
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("hello"))
	})
	h := Middleware(inner, func(rec Record) { got = append(got, rec); log.Log(rec) }, func(r *http.Request) string { return "" })
	for _, c := range []struct{ path, id string }{{"/orders/7?token=x", "abc-123"}, {"/elsewhere", "bad id\n{}"}} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.Header.Set("X-Request-Id", c.id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Header().Get("X-Request-Id") != got[len(got)-1].RequestID {
			t.Errorf("%s: answered request id %q, logged %q", c.path, w.Header().Get("X-Request-Id"), got[len(got)-1].RequestID)
		}
	}
	want := []Record{
		{Method: "GET", Route: "GET /orders/{id}", Status: 418, Bytes: 5, RequestID: "abc-123", Principal: "key:3"},
		{Method: "GET", Route: Unmatched, Status: 418, Bytes: 5, Principal: ""},
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Route != w.Route || g.Status != w.Status || g.Bytes != w.Bytes || g.Principal != w.Principal ||
			(w.RequestID != "" && g.RequestID != w.RequestID) || g.Time.IsZero() || g.Duration < 0 {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
	}
	if got[1].RequestID == "bad id\n{}" || len(got[1].RequestID) != 16 {
		t.Errorf("a request id with other characters was kept: %q", got[1].RequestID)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), logged.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "method", "route", "status", "duration_ms", "bytes", "request_id", "principal"} {
		if _, ok := first[k]; !ok {
			t.Errorf("line lacks %s: %s", k, lines[0])
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, first["time"].(string)); err != nil {
		t.Error(err)
	}
	if strings.Contains(logged.String(), "token") || strings.Contains(logged.String(), "/orders/7") {
		t.Errorf("the log holds a path or a query:\n%s", logged.String())
	}
}
