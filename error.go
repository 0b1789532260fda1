// Package marketplane holds what every other package of Marketplane shares:
// the error type with codes and the clock. Domain packages (account, catalog,
// billing, …) build on it; storage and transports map it to their own world in
// exactly one place each.
package marketplane

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. Transports map them to their own status in one table
// (api.statusOf for HTTP, the CLI's exit code).
const (
	ECONFLICT     = "conflict"     // the action conflicts with the current state (duplicate, non-empty reseller …)
	EINTERNAL     = "internal"     // a bug or an unreachable dependency
	EINVALID      = "invalid"      // bad input; FieldErrors say which fields
	ENOTFOUND     = "not_found"    // no such thing, or not visible to the actor
	EFORBIDDEN    = "forbidden"    // visible but the actor may not do this
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	ETHROTTLED    = "throttled"    // too many attempts; try later
	EUNAVAILABLE  = "unavailable"  // temporarily unable (database down, shutting down)
	EPRECONDITION = "precondition" // a precondition such as a version did not hold
)

// Error is the one error type of Marketplane's domain. Code says what kind of
// failure it is; Message is safe to show to the user; Fields holds per-field
// messages for EINVALID.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
}

// Error implements error.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.FieldList())
}

// FieldList renders the field errors in a stable order, for logs and the CLI.
func (e *Error) FieldList() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return strings.Join(parts, "; ")
}

// Is lets errors.Is(err, &Error{Code: X}) match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message, or
// a generic text for internal errors so that internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// FieldErrors collects per-field validation messages. Its zero value is ready
// to use; Err returns nil when nothing was added.
type FieldErrors map[string]string

// Add records msg for field unless the field already has a message.
func (f *FieldErrors) Add(field, msg string) {
	if *f == nil {
		*f = FieldErrors{}
	}
	if _, ok := (*f)[field]; !ok {
		(*f)[field] = msg
	}
}

// Err returns an EINVALID *Error holding the fields, or nil if there are none.
func (f FieldErrors) Err(what string) error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid " + what, Fields: f}
}
