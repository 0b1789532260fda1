package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/marketplane/marketplane/store"
)

// Idempotency keys, as Stripe has them: a client sends "Idempotency-Key:
// <key of its choosing>" with a POST, and a retry with the same key gets
// the response of the first request instead of doing it again.
//
//   - The scope of a key is the principal (the API key, or the user of a
//     panel session), the method and the path: others may use the same key.
//   - The first request with a key runs and its response is stored: status,
//     the headers in replayedHeaders, and body. A replay with the same
//     request (query and body, by their SHA-256) answers the stored
//     response with "Idempotent-Replayed: true".
//   - The same key with another request is 409. So is a replay while the
//     first request still runs: the client retries later (we do not hold a
//     connection open waiting for it).
//   - Server errors (5xx) are not stored: the key is released and the
//     client may retry with it.
//   - Keys are remembered for 24 hours (store.IdempotencyTTL); an older one
//     names a new request.
//
// Requests without the header run as always.
const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	maxIdempotencyKey = 255
)

// replayedHeaders are the response headers a replay repeats; the others
// (rate limits, dates) belong to the response they came with.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", "Last-Modified", "Link", "Content-Disposition"}

// idempotent is the huma middleware of Idempotency-Key. It runs after
// authenticateRequest and limitRate: it needs the actor, and a replay
// spends budget like any request.
func (a *API) idempotent(ctx huma.Context, next func(huma.Context)) {
	key := ctx.Header(idempotencyHeader)
	actor := actorFrom(ctx.Context())
	if ctx.Method() != http.MethodPost || key == "" || actor == nil {
		next(ctx)
		return
	}
	if len(key) > maxIdempotencyKey {
		writeProblemTo(ctx, badParam("header."+idempotencyHeader, "is longer than 255 characters").(huma.StatusError))
		return
	}
	r, _ := humago.Unwrap(ctx)
	limit := ctx.Operation().MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		// Huma answers a body too large or cut short itself; such a
		// request does nothing worth a key.
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		next(ctx)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	scope := store.IdempotencyScope{Principal: principal(actor), Method: ctx.Method(), Path: r.URL.Path, Key: key}
	sum := requestHash(r.URL.RawQuery, body)

	seen, err := a.db.ReserveIdempotencyKey(ctx.Context(), scope, sum)
	if err != nil {
		writeProblemTo(ctx, a.problemOf(ctx.Context(), ctx.Operation().OperationID, err))
		return
	}
	switch {
	case seen != nil && seen.RequestHash != sum:
		writeProblemTo(ctx, huma.NewError(http.StatusConflict, "idempotency key reused with another request"))
		return
	case seen != nil && !seen.Done:
		writeProblemTo(ctx, huma.NewError(http.StatusConflict, "a request with this idempotency key is still in progress; retry later"))
		return
	case seen != nil:
		for name, values := range seen.Response.Header {
			for _, v := range values {
				ctx.AppendHeader(name, v)
			}
		}
		ctx.SetHeader(replayedHeader, "true")
		ctx.SetStatus(seen.Response.Status)
		ctx.BodyWriter().Write(seen.Response.Body)
		return
	}

	rec := &recordingContext{humaContext: huma.WithValue(ctx, idempotencyKeyCtx{}, key)}
	// The response is stored even when the client went away: its retry
	// must find it.
	defer func() {
		detached := context.WithoutCancel(ctx.Context())
		status := rec.Status()
		if v := recover(); v != nil || status == 0 || status >= 500 {
			if err := a.db.ReleaseIdempotencyKey(detached, scope); err != nil {
				a.log.ErrorContext(detached, "api: release idempotency key", "err", err)
			}
			if v != nil {
				panic(v)
			}
			return
		}
		_, w := humago.Unwrap(ctx)
		header := map[string][]string{}
		for _, name := range replayedHeaders {
			if v := w.Header().Values(name); len(v) > 0 {
				header[name] = v
			}
		}
		if err := a.db.SaveIdempotentResponse(detached, scope,
			store.IdempotentResponse{Status: status, Header: header, Body: rec.body.Bytes()}); err != nil {
			a.log.ErrorContext(detached, "api: save idempotent response", "err", err)
		}
	}()
	next(rec)
}

// requestHash tells requests apart for idempotency keys: the SHA-256 of
// the query and the body, hex.
func requestHash(query string, body []byte) string {
	h := sha256.New()
	io.WriteString(h, query)
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// recordingContext keeps a copy of the body written through it, for
// idempotent replays.
type recordingContext struct {
	// humaContext, not huma.Context: a field named Context would hide the
	// method Context.
	humaContext
	body bytes.Buffer
}

type humaContext = huma.Context

// BodyWriter writes to the client and to the copy.
func (c *recordingContext) BodyWriter() io.Writer {
	return io.MultiWriter(c.humaContext.BodyWriter(), &c.body)
}

// Unwrap lets humago.Unwrap reach the request.
func (c *recordingContext) Unwrap() huma.Context { return c.humaContext }

// idempotencyKeyCtx is the context key of a request's Idempotency-Key,
// for handlers that pass it on (a payment gateway's own key).
type idempotencyKeyCtx struct{}

// idempotencyKeyOf is the Idempotency-Key of the request of ctx, "" for
// none.
func idempotencyKeyOf(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyCtx{}).(string)
	return k
}

// documentIdempotencyKey adds the Idempotency-Key header and its 409 to a
// POST operation in the OpenAPI document. Operations that declare the
// header themselves (card top-ups) keep their own words.
func documentIdempotencyKey(o *huma.Operation, problem *huma.Response) {
	if o.Method != http.MethodPost || len(o.Security) == 0 {
		return
	}
	declared := false
	for _, p := range o.Parameters {
		if p.In == "header" && http.CanonicalHeaderKey(p.Name) == idempotencyHeader {
			declared = true
		}
	}
	if !declared {
		o.Parameters = append(o.Parameters, &huma.Param{
			Name: idempotencyHeader,
			In:   "header",
			Description: "Makes a retry safe: a key of the client's choosing (at most 255 characters). A replay with the same key " +
				"and the same request answers the stored response with Idempotent-Replayed: true; the same key with " +
				"another request, or while the first still runs, is 409. Keys are kept 24 hours, per API key and path; " +
				"server errors are not kept.",
			Schema: &huma.Schema{Type: "string", MaxLength: ptr(maxIdempotencyKey)},
		})
	}
	if _, ok := o.Responses["409"]; !ok && problem != nil {
		r := *problem
		r.Description = "Conflict"
		o.Responses["409"] = &r
	}
}
