package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/marketplane/marketplane"
	httpstatus "github.com/marketplane/marketplane/problem"
	"github.com/marketplane/marketplane/store"
)

// statusOf maps an error code to its HTTP status through the one shared
// table (package problem).
func statusOf(code string) int { return httpstatus.Status(code) }

// problemOf turns an error from a handler into a problem document. Errors the
// API made itself (huma.StatusError: a bad cursor, a failed If-Match) pass
// as they are; Marketplane errors get their status from statusOf, their
// message as detail and their field errors as "errors" located in the
// request body (field names in the store are the API's JSON names). Server
// errors are logged and answered with a fixed text, so internals never leak.
func (a *API) problemOf(ctx context.Context, opID string, err error) huma.StatusError {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	code := marketplane.ErrorCode(err)
	status := statusOf(code)
	if status >= 500 {
		a.log.ErrorContext(ctx, "api: request failed", "operation", opID,
			"actor", store.ActorDescription(actorFrom(ctx)), "code", code, "err", err)
		if status == http.StatusServiceUnavailable {
			return huma.NewError(status, "temporarily unavailable; try again later")
		}
		return huma.NewError(http.StatusInternalServerError, "internal error")
	}
	var e *marketplane.Error
	errors.As(err, &e) // never fails: only *marketplane.Error has a code below 500
	// The detail is for people: words, not the codes of statuses and
	// reasons (field messages keep the values they list).
	return huma.NewError(status, httpstatus.Words(e.Message), fieldDetails("body", e.Fields)...)
}

// fieldDetails lists field errors in a stable order, located under loc.
func fieldDetails(loc string, fields map[string]string) []error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]error, len(keys))
	for i, k := range keys {
		out[i] = &huma.ErrorDetail{Location: loc + "." + k, Message: fields[k]}
	}
	return out
}

// badParam is a 400 for a request parameter the API checks itself.
func badParam(loc, msg string) error {
	return huma.NewError(http.StatusBadRequest, "invalid request", &huma.ErrorDetail{Location: loc, Message: msg})
}

// writeProblemTo writes a problem document from a huma middleware, where
// there is no handler to return an error from.
func writeProblemTo(ctx huma.Context, se huma.StatusError) {
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(se.GetStatus())
	json.NewEncoder(ctx.BodyWriter()).Encode(se)
}

var badRequestOnce sync.Once

// useBadRequestForValidation makes huma answer schema failures (a missing
// field, a wrong type, a limit out of range) with 400 like every other
// invalid input, not 422: clients then handle one status for "fix your
// request", with the fields in "errors" either way. huma.NewError is a
// package variable, so this is set once for the process, before any API
// serves. It also drops the echoed values of body errors (huma echoes the
// whole request body when it is not JSON, and a body may hold a password),
// and puts a missing property's error at the property, as the domain's
// field errors are: {"location": "body.kind", "message": "is required"}.
func useBadRequestForValidation() {
	badRequestOnce.Do(func() {
		humaNewError := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			if status == http.StatusUnprocessableEntity {
				status = http.StatusBadRequest
			}
			se := humaNewError(status, msg, errs...)
			if m, ok := se.(*huma.ErrorModel); ok {
				for _, d := range m.Errors {
					if d == nil {
						continue
					}
					if d.Location == "body" || strings.HasPrefix(d.Location, "body.") {
						d.Value = nil
					}
					if name, ok := missingProperty(d.Message); ok {
						d.Location += "." + name
						d.Message = "is required"
					}
				}
			}
			return se
		}
	})
}

// missingProperty reads huma's message for a missing required property.
func missingProperty(msg string) (string, bool) {
	const before, after = "expected required property ", " to be present"
	if !strings.HasPrefix(msg, before) || !strings.HasSuffix(msg, after) || len(msg) <= len(before)+len(after) {
		return "", false
	}
	return msg[len(before) : len(msg)-len(after)], true
}
