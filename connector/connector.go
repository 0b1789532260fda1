package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane"
)

// Tenant statuses. Provisioning and Deleting are transitional: the platform
// polls until the tenant leaves them.
const (
	StatusProvisioning = "provisioning" // being created or changed; poll
	StatusReady        = "ready"        // in service
	StatusFailed       = "failed"       // the last operation failed; Message says why
	StatusSuspended    = "suspended"    // exists but the customer cannot use it (credit hold)
	StatusDeleting     = "deleting"     // being removed; poll
	StatusDeleted      = "deleted"      // gone
)

// ValidStatus reports whether s is one of the tenant statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusProvisioning, StatusReady, StatusFailed, StatusSuspended, StatusDeleting, StatusDeleted:
		return true
	}
	return false
}

// Pending reports whether status s is transitional (provisioning or
// deleting): the answer is 202 and the platform polls.
func Pending(s string) bool { return s == StatusProvisioning || s == StatusDeleting }

// Unlimited is the limit of a resource without limit.
const Unlimited int64 = -1

// Tenant is the service of one subscription in the vendor's system, as the
// connector reports it.
type Tenant struct {
	// ID is the connector's stable id of the tenant; the platform stores it
	// and uses it in every later call.
	ID string `json:"id"`
	// Status is one of the Status constants.
	Status string `json:"status"`
	// Message says why, when Status is failed (shown to staff).
	Message string `json:"message,omitempty"`
	// Limits per resource key; Unlimited (-1) for no limit.
	Limits map[string]int64 `json:"limits,omitempty"`
	// Parameters are the service parameters in force.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Attributes are what the customer needs to use the service (host,
	// port, database, user …); the platform shows them in the panel. Do not
	// put passwords here unless the customer must see them.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// CreateRequest asks for a new tenant for a subscription.
type CreateRequest struct {
	// RequestID names this operation; retries carry the same id and must
	// get the same tenant (see Service).
	RequestID      string            `json:"request_id"`
	SubscriptionID int64             `json:"subscription_id"`
	AccountID      int64             `json:"account_id"`
	Limits         map[string]int64  `json:"limits,omitempty"`
	Parameters     map[string]string `json:"parameters,omitempty"`
}

// UpdateRequest changes a tenant's limits or parameters. It names only the
// keys it changes: a key it omits keeps its value.
type UpdateRequest struct {
	RequestID  string            `json:"request_id"`
	Limits     map[string]int64  `json:"limits,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// UsageReading is one measurement of a resource.
type UsageReading struct {
	// Resource is the resource key of the Manifest.
	Resource string `json:"resource"`
	// Value is the amount in the resource's unit, not negative, with at
	// most UsageDecimals decimal places (13.4 GB): the protocol carries it
	// as a decimal string ("13.4"); the platform also reads the JSON
	// numbers of connectors written before. Units(n) is a whole amount.
	Value decimal.Decimal `json:"value"`
	// Additive readings are amounts consumed since the previous reading (a
	// counter: the period's usage is their sum); others are the current
	// value (a gauge: storage used now).
	Additive bool `json:"additive"`
	// At is when the value was measured; the SDK sets it to now when zero.
	At time.Time `json:"at"`
}

// UsageDecimals is how many decimal places a reading's value may carry:
// the platform stores usage exactly in millionths of a unit.
const UsageDecimals = 6

// Units returns n whole units, the value of a reading of a meter that
// counts in whole units.
func Units(n int64) decimal.Decimal {
	return decimal.MustNew(n, 0)
}

// CheckValue says what is wrong with the value v of a reading, or nil.
func CheckValue(v decimal.Decimal) error {
	switch {
	case v.Sign() < 0:
		return fmt.Errorf("value %s: must not be negative", v)
	case v.Trim(UsageDecimals).Scale() > UsageDecimals:
		return fmt.Errorf("value %s: more than %d decimal places", v, UsageDecimals)
	}
	// Stored as millionths in a 64-bit integer.
	if m, err := v.Mul(decimal.MustNew(1_000_000, 0)); err != nil {
		return fmt.Errorf("value %s: too large", v)
	} else if _, _, ok := m.Int64(0); !ok {
		return fmt.Errorf("value %s: too large", v)
	}
	return nil
}

// Service is what a connector implements: the operations on tenants in the
// vendor's system. The SDK calls it from concurrent HTTP requests, so an
// implementation is safe for concurrent use.
//
// Errors: return ErrNotFound (404) for an unknown tenant id, Invalid(fields)
// (400) for a request the vendor's system refuses field by field, a
// *marketplane.Error with code EUNAVAILABLE (503, retried by the platform)
// for a temporary condition, ECONFLICT (409) for a state that forbids the
// call; any other error answers 500, which the platform also retries.
// A permanent failure of the work itself is better reported as a tenant with
// StatusFailed and a Message, which the platform records as the reason.
type Service interface {
	// Manifest describes the connector. It must satisfy Manifest.Validate.
	Manifest() Manifest

	// Create makes the tenant of a subscription. It must be idempotent on
	// req.RequestID: a second call with the same request id returns the
	// tenant of the first (in its current state) and never makes another,
	// even after the connector restarted; so persist request id → tenant
	// id together with the tenant. The SDK's replay cache is only a fast
	// path for recent retries and is lost on restart.
	//
	// Return Status provisioning when the work goes on in the background
	// (the SDK answers 202 and the platform polls Get), or ready when done
	// (201). Limits and Parameters have been checked against the Manifest.
	Create(ctx context.Context, req CreateRequest) (Tenant, error)

	// Get returns the tenant's current state; ErrNotFound if there is none.
	// A deleted tenant may be reported as StatusDeleted or ErrNotFound.
	Get(ctx context.Context, id string) (Tenant, error)

	// Update applies new limits or parameters (only the keys named in req).
	// It may work in the background (StatusProvisioning → 202). It should be
	// idempotent: applying the same request twice gives the same result.
	Update(ctx context.Context, id string, req UpdateRequest) (Tenant, error)

	// Suspend stops the customer's use of the tenant without losing data
	// (credit hold). Suspending a suspended tenant is not an error.
	Suspend(ctx context.Context, id string) (Tenant, error)

	// Resume undoes Suspend. Resuming a ready tenant is not an error.
	Resume(ctx context.Context, id string) (Tenant, error)

	// Delete removes the tenant: StatusDeleting while it works in the
	// background (202), StatusDeleted when done (200). Deleting a deleted
	// tenant returns StatusDeleted (or ErrNotFound).
	Delete(ctx context.Context, id string) (Tenant, error)

	// Usage returns the tenant's current readings, one or more per
	// resource of class counter, gauge or limit that it measures.
	Usage(ctx context.Context, id string) ([]UsageReading, error)
}

// ErrNotFound is the error a Service returns for an unknown tenant; the SDK
// answers 404. Wrap it freely (fmt.Errorf("db %s: %w", id, ErrNotFound)).
var ErrNotFound error = &marketplane.Error{Code: marketplane.ENOTFOUND, Message: "tenant not found"}

// Invalid returns an error for a request the vendor's system refuses, with a
// message per field ("limits.storage_mb": "at most 10240 on this server");
// the SDK answers 400 with the fields.
func Invalid(fields map[string]string) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid request", Fields: fields}
}

// Callback is the body of the connector's registration callback to the
// platform (see the package documentation, "Registration ping").
type Callback struct {
	Nonce   string `json:"nonce"`
	Name    string `json:"name"`    // the connector's Manifest name
	Version string `json:"version"` // the connector's Manifest version
}

// PingRequest is the body of POST /ping.
type PingRequest struct {
	CallbackURL string `json:"callback_url"`
	Nonce       string `json:"nonce"`
}

// PingReply is the body of a successful answer to POST /ping.
type PingReply struct {
	Nonce string `json:"nonce"`
}

// UsageReply is the body of GET /tenants/{id}/usage.
type UsageReply struct {
	Readings []UsageReading `json:"readings"`
}

// ErrorReply is the body of every error answer.
type ErrorReply struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}
