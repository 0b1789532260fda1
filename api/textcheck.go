package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// maxCheckedBody bounds the request bodies rejectNUL reads; huma refuses
// larger ones itself.
const maxCheckedBody = 1 << 20

// rejectNUL refuses, with a 400 problem, a JSON request body that holds a
// NUL character in a string or a key. JSON allows "\u0000", SQLite stores
// it, PostgreSQL refuses it in text and jsonb alike; no name, address or
// parameter of ours needs one, so the edge refuses it on both engines
// rather than letting PostgreSQL answer with an internal error.
func (a *API) rejectNUL(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || (r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
		return false
	}
	orig := r.Body
	body, err := io.ReadAll(io.LimitReader(orig, maxCheckedBody+1))
	if err != nil || len(body) > maxCheckedBody {
		// huma answers for bodies it cannot read or that are too large:
		// hand it what was read and the rest.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), orig), orig}
		return false
	}
	orig.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.IndexByte(body, 0) < 0 && !bytes.Contains(bytes.ToLower(body), []byte(`\u0000`)) {
		return false
	}
	if !holdsNUL(body) {
		return false
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(http.StatusBadRequest), Status: http.StatusBadRequest,
		Detail: "the request body holds a NUL character",
		Errors: []*huma.ErrorDetail{{Location: "body", Message: "text must not contain NUL characters (\\u0000)"}}})
	return true
}

// holdsNUL reports whether the JSON document body has a NUL character in
// one of its strings or keys (or is not JSON and has a raw NUL byte).
func holdsNUL(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return err != io.EOF && bytes.IndexByte(body, 0) >= 0
		}
		if s, ok := tok.(string); ok && strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
}

// checkedHeaders are the request headers the API reads as text; their
// values are checked like parameters (the HTTP server already refuses
// control characters in them, not invalid UTF-8).
var checkedHeaders = []string{"Authorization", "Idempotency-Key", "If-Match"}

// rejectBadParams refuses, with a 400 problem naming the parameter
// ("path.key", "query.q", "header.Idempotency-Key"), a request whose path
// or query parameters or read headers hold a NUL, another control
// character or invalid UTF-8. SQLite stores such text, PostgreSQL refuses
// it with an internal error; no key, id, filter or cursor of ours needs
// one, so the edge refuses it for every operation on both engines, before
// any handler runs. pattern is the route's pattern ("GET
// /api/v1/templates/{key}"), which names the path parameters.
func rejectBadParams(w http.ResponseWriter, r *http.Request, pattern string) bool {
	var errs []*huma.ErrorDetail
	bad := func(loc, s string) {
		if msg := paramProblem(s); msg != "" {
			errs = append(errs, &huma.ErrorDetail{Location: loc, Message: msg})
		}
	}
	_, route, _ := strings.Cut(pattern, " ")
	if route == "" {
		route = pattern
	}
	want := strings.Split(strings.Trim(route, "/"), "/")
	got := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, seg := range got {
		name := fmt.Sprintf("%d", i)
		if i < len(want) && strings.HasPrefix(want[i], "{") {
			name = strings.TrimSuffix(strings.TrimSuffix(strings.Trim(want[i], "{}"), "..."), "$")
		} else if i >= len(want) && len(want) > 0 && strings.HasSuffix(want[len(want)-1], "...}") {
			name = strings.TrimSuffix(strings.Trim(want[len(want)-1], "{}"), "...")
		}
		v, err := url.PathUnescape(seg)
		if err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: "path." + name, Message: "is not a well-formed URL path segment"})
			continue
		}
		bad("path."+name, v)
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		errs = append(errs, &huma.ErrorDetail{Location: "query", Message: "is not a well-formed query string"})
	}
	names := make([]string, 0, len(query))
	for k := range query {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if msg := paramProblem(k); msg != "" {
			errs = append(errs, &huma.ErrorDetail{Location: "query", Message: "a parameter name " + msg})
			continue
		}
		for _, v := range query[k] {
			bad("query."+k, v)
		}
	}
	for _, h := range checkedHeaders {
		for _, v := range r.Header.Values(h) {
			bad("header."+h, v)
		}
	}
	if len(errs) == 0 {
		return false
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(http.StatusBadRequest), Status: http.StatusBadRequest,
		Detail: "a parameter holds a character no parameter may hold", Errors: errs})
	return true
}

// paramProblem says what is wrong with the text of a parameter, or "" when
// nothing is: NUL and other control characters, and invalid UTF-8.
func paramProblem(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "must not contain NUL characters"
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "must not contain control characters"
	}
	return ""
}
