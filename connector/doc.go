// Package connector is the SDK for writing a Marketplane connector: a small
// HTTP service that creates, changes, suspends and removes the real service
// (a database, a mail domain, a VM …) of a subscription in the vendor's
// system, and reports its usage. A connector is a short Go program:
//
//	func main() { connector.Serve(myService{}) }
//
// where myService implements Service. The SDK speaks the protocol below:
// routing, request signatures, JSON, status codes, validation of limits and
// parameters against the Manifest, replays of retried requests and the
// registration ping. The platform's side of the same protocol is the
// provisioning package; both use Sign and Verify from here.
//
// # Transport
//
// HTTP/1.1 or HTTP/2, JSON bodies (Content-Type: application/json) with
// snake_case field names; use HTTPS between hosts. A request body is at most
// 1 MiB. Unknown JSON fields are ignored in both directions, so either side
// may add optional fields without breaking the other.
//
// # Signatures
//
// Every request from the platform, and the connector's registration callback
// to the platform, carries three headers:
//
//	X-Marketplane-Timestamp:  unix seconds, decimal ("1767225600")
//	X-Marketplane-Request-Id: the request id (1 to 200 printable ASCII characters)
//	X-Marketplane-Signature:  v1=<lower-case hex HMAC-SHA256(secret, canonical)>
//
// with
//
//	canonical = method + "\n" + path + "\n" + timestamp + "\n" + request id + "\n" + hex(SHA-256(body))
//
// where method is upper case ("POST"), path is the request target exactly as
// sent on the wire (escaped path, plus "?query" when there is one:
// "/tenants/db-1%2Fa/suspend"), and body is the exact bytes of the body (the
// hash of an empty body is that of zero bytes). The secret is shared by the
// platform and the connector when the connector is registered. A proxy in
// front of a connector must not rewrite the path, or signatures fail.
//
// The receiver refuses with 401 a request whose headers are missing or
// malformed, whose signature does not match, or whose timestamp is more than
// MaxSkew (default 5 minutes) away from its clock ("stale"). Signing the
// timestamp bounds replays to that window; within it, a replayed request has
// the request id of the original, so it replays the original's answer (see
// Idempotency) instead of acting twice.
//
// # Request ids and idempotency
//
// The platform names each operation with a stable request id ("sub-42-create",
// "order-917-suspend") and sends the same id, and the same body, on every
// retry of that operation; a new operation always gets a new id. So a call
// may arrive twice — the platform timed out but the connector did the work —
// and must not act twice:
//
//   - Service.Create must return the tenant it already made for a request id
//     instead of making a second one, across restarts of the connector: an
//     implementation persists request id → tenant id with the tenant.
//   - The SDK also keeps the answers of recent successful changes (POST, PUT,
//     DELETE) in a bounded in-memory cache keyed by request id, replays them
//     without calling the Service, and holds a second copy of a request until
//     the first has finished. A request id reused with a different method,
//     path or body is refused with 409.
//
// # Calls
//
// All paths are relative to the connector's base URL.
//
//	GET    /manifest                 200 Manifest
//	POST   /tenants                  body CreateRequest; 201 Tenant, or 202 Tenant while provisioning
//	GET    /tenants/{id}             200 Tenant
//	PUT    /tenants/{id}             body UpdateRequest; 200 Tenant, or 202 while provisioning
//	POST   /tenants/{id}/suspend     200 Tenant, or 202
//	POST   /tenants/{id}/resume      200 Tenant, or 202
//	DELETE /tenants/{id}             200 Tenant (status deleted), or 202 (status deleting)
//	GET    /tenants/{id}/usage       200 {"readings": [UsageReading …]}
//	POST   /ping                     body {"callback_url", "nonce"}; 200 {"nonce"} after the callback
//	GET    /healthz                  200 {"status": "ok"}, unsigned, for load balancers
//
// A tenant's {id} is path-escaped. An answer about a tenant whose status is
// provisioning or deleting is 202 (200 for GET) and carries
// "Location: /tenants/{id}" and "Retry-After: <seconds>": the platform polls
// GET /tenants/{id} until the status is ready (or suspended, deleted) or
// failed, waiting Retry-After between polls. A failed tenant carries a
// message saying why, which the platform shows to staff.
//
// Bodies:
//
//	Manifest       {"name", "version", "description", "resources": [ResourceSpec], "parameters": [ParamSpec]}
//	ResourceSpec   {"key", "name": {"en": …}, "unit", "class": "limit"|"counter"|"gauge"|"boolean"}
//	ParamSpec      {"key", "type": "string"|"int"|"bool"|"enum", "required", "pattern", "choices", "description"}
//	CreateRequest  {"request_id", "subscription_id", "account_id", "limits": {key: n}, "parameters": {key: "v"}}
//	UpdateRequest  {"request_id", "limits", "parameters"}
//	Tenant         {"id", "status", "message", "limits", "parameters", "attributes"}
//	UsageReading   {"resource", "value": "13.4", "additive", "at": RFC 3339}
//	error          {"error": "text", "fields": {"field": "message"}}
//
// A reading's value is a decimal string with at most six decimal places
// ("13.4", "1000"); the platform also reads a JSON number (1000), which
// connectors written before sent. Limits are integers, -1 for unlimited. The SDK checks a CreateRequest's and
// an UpdateRequest's limits and parameters against the Manifest (known keys,
// parameter types, patterns, choices, required parameters) and answers 400
// with field errors before the Service sees them. An UpdateRequest names the
// keys it changes; keys it omits keep their values.
//
// # Errors
//
// An error answer is JSON {"error": "…", "fields": {…}} with the status of its
// kind: 400 invalid (fields name the bad fields, as in "limits.storage_mb"),
// 401 bad or stale signature, 404 no such tenant or route, 409 conflict
// (request id reused for a different request), 413 body too large, 415 not
// JSON, 429 throttled, 500 the connector failed, 503 temporarily unavailable.
// The platform retries 429 and 5xx with backoff (same request id) and gives
// up on other 4xx. A Service returns ErrNotFound, Invalid(fields) or a
// *marketplane.Error with a code; any other error is a 500.
//
// # Registration ping
//
// To register a connector, the platform checks the path in both directions:
// it sends a signed POST /ping {"callback_url", "nonce"}; the connector then
// sends a signed POST to callback_url with body Callback {"nonce", "name",
// "version"} (request id: the ping's), and answers the ping 200 {"nonce"}
// when the callback was answered 2xx, or 502 with the reason when not. The
// platform checks the callback's signature and nonce (provisioning.
// VerifyCallback): a connector that does not hold the secret cannot answer.
package connector
