package provisioning

import (
	"errors"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
)

// ReplyError is a reply that breaks the protocol: malformed JSON, a wrong
// content type, a tenant without id or with an unknown status, an
// unexpected status code. Problem names what was wrong. The connector
// misbehaves; a retry with the same request id is safe (Retryable says yes)
// but may well fail the same way.
type ReplyError struct {
	Op         string // the call, as "POST /tenants"
	StatusCode int    // the reply's HTTP status
	Problem    string // what was wrong: "missing status", "unknown status \"done\""
	Body       string // the start of the reply's body, for the log
}

// Error implements error.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("connector %s: bad reply (HTTP %d): %s", e.Op, e.StatusCode, e.Problem)
}

// FailedError is a connector's report that the work failed: the tenant's
// status is failed and Message says why (shown to staff as the reason).
// Retrying the same request id gets the same failure; trying again needs a
// new request id.
type FailedError struct {
	TenantID string
	Message  string
}

// Error implements error.
func (e *FailedError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no reason given"
	}
	return fmt.Sprintf("connector: tenant %q failed: %s", e.TenantID, msg)
}

// UnavailableError means the connector could not be reached or did not
// answer well after every attempt: connection refused, timeouts, 5xx, 429.
// It is retryable, and matches marketplane code EUNAVAILABLE
// (marketplane.ErrorCode) as well as its cause (errors.Is(err,
// context.DeadlineExceeded) after timeouts).
type UnavailableError struct {
	Op         string // the call, as "POST /tenants"
	Attempts   int    // how many requests were sent
	StatusCode int    // the last reply's status; 0 when there was none
	Err        error  // the last cause
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("connector %s: unavailable after %d attempt(s): %v", e.Op, e.Attempts, e.Err)
}

// Unwrap returns the cause and an EUNAVAILABLE *marketplane.Error.
func (e *UnavailableError) Unwrap() []error {
	return []error{e.Err, &marketplane.Error{Code: marketplane.EUNAVAILABLE, Message: "connector unavailable"}}
}

// RejectedError is a 4xx answer other than 400, 404 and 409 (which become
// EINVALID, ENOTFOUND and ECONFLICT *marketplane.Errors): 401 (wrong secret
// or clocks apart), 403, 413, 415 … A configuration problem: Retryable says
// no. The orchestrator still tries an order again after a 401 or 403,
// within its Deadline: a connector redeployed with a rotated secret answers
// so until the platform has the new one.
type RejectedError struct {
	Op         string
	StatusCode int
	Message    string // the connector's error text
}

// Error implements error.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("connector %s: refused (HTTP %d): %s", e.Op, e.StatusCode, e.Message)
}

// PollTimeoutError means a tenant stayed provisioning (or deleting) longer
// than Options.MaxPoll. The connector may still finish; the operation needs
// staff, or a later poll.
type PollTimeoutError struct {
	TenantID string
	Status   string        // the last status seen
	Waited   time.Duration // how long the client polled
}

// Error implements error.
func (e *PollTimeoutError) Error() string {
	return fmt.Sprintf("connector: tenant %q still %s after %s", e.TenantID, e.Status, e.Waited.Round(time.Millisecond))
}

// Retryable reports whether the same call, with the same request id, may
// succeed later: true for UnavailableError and ReplyError, false for
// everything else (failures, refusals, field errors, poll timeouts).
func Retryable(err error) bool {
	var u *UnavailableError
	var r *ReplyError
	return errors.As(err, &u) || errors.As(err, &r)
}
