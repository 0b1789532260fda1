package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

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
