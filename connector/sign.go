package connector

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
)

// Signature headers (see the package documentation, "Signatures").
const (
	HeaderTimestamp = "X-Marketplane-Timestamp"
	HeaderRequestID = "X-Marketplane-Request-Id"
	HeaderSignature = "X-Marketplane-Signature"
)

// DefaultMaxSkew is how far a request's timestamp may be from the receiver's
// clock, either way, unless configured otherwise.
const DefaultMaxSkew = 5 * time.Minute

// MaxBody is the largest request body the SDK reads (and VerifyRequest
// accepts), 1 MiB.
const MaxBody = 1 << 20

// Errors of Verify, all with code EUNAUTHORIZED; Verify wraps them with the
// detail, so match them with errors.Is.
var (
	ErrUnsigned     error = &marketplane.Error{Code: marketplane.EUNAUTHORIZED, Message: "request is not signed"}
	ErrBadSignature error = &marketplane.Error{Code: marketplane.EUNAUTHORIZED, Message: "bad signature"}
	ErrStale        error = &marketplane.Error{Code: marketplane.EUNAUTHORIZED, Message: "stale timestamp"}
)

// Canonical returns the string that is signed:
// method, path, timestamp, request id and the hex SHA-256 of the body, one
// per line.
func Canonical(method, path, timestamp, requestID string, body []byte) string {
	return strings.ToUpper(method) + "\n" + path + "\n" + timestamp + "\n" + requestID + "\n" + BodyHash(body)
}

// BodyHash is the lower-case hex SHA-256 of body.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Sign returns the value of the X-Marketplane-Signature header,
// "v1=<hex HMAC-SHA256(secret, Canonical(…))>". path is the request target
// as sent (URL.RequestURI()); timestamp is unix seconds in decimal.
func Sign(secret, method, path, timestamp, requestID string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(Canonical(method, path, timestamp, requestID, body)))
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature made by Sign, in constant time, and that the
// timestamp is within maxSkew of now (DefaultMaxSkew when maxSkew ≤ 0). It
// returns nil or an error wrapping ErrUnsigned, ErrBadSignature or ErrStale.
// The signature is checked before the timestamp, so that an unsigned caller
// learns nothing about the receiver's clock.
func Verify(secret, method, path, timestamp, requestID string, body []byte, signature string, now time.Time, maxSkew time.Duration) error {
	if timestamp == "" || requestID == "" || signature == "" {
		return fmt.Errorf("%w: %s, %s and %s are required", ErrUnsigned, HeaderTimestamp, HeaderRequestID, HeaderSignature)
	}
	got, ok := strings.CutPrefix(signature, "v1=")
	if !ok {
		return fmt.Errorf("%w: %s must start with \"v1=\"", ErrBadSignature, HeaderSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil || len(gotMAC) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex HMAC-SHA256", ErrBadSignature, HeaderSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(Canonical(method, path, timestamp, requestID, body)))
	if !hmac.Equal(gotMAC, mac.Sum(nil)) {
		return fmt.Errorf("%w: it does not match the request (method, path, timestamp, request id, body) and secret", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not unix seconds", ErrBadSignature, HeaderTimestamp, timestamp)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("%w: timestamp is %s away from the receiver's clock (at most %s)", ErrStale, skew.Round(time.Second), maxSkew)
	}
	return nil
}

// SignRequest signs r, whose body is body, for secret at time now: it sets
// the timestamp, request id and signature headers. Call it last, after r's
// URL is final; the body given must be the exact bytes sent.
func SignRequest(r *http.Request, secret, requestID string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderRequestID, requestID)
	r.Header.Set(HeaderSignature, Sign(secret, r.Method, r.URL.RequestURI(), ts, requestID, body))
}

// VerifyRequest reads r's body (at most MaxBody bytes) and checks its
// signature with Verify, using the request target as received
// (r.RequestURI, which a prefix-stripping mux does not change). It returns
// the body, which stays readable from r.Body as well.
func VerifyRequest(r *http.Request, secret string, now time.Time, maxSkew time.Duration) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	path := r.RequestURI
	if path == "" || !strings.HasPrefix(path, "/") {
		// A client-side request or an absolute-form target (to a proxy).
		path = r.URL.RequestURI()
	}
	err = Verify(secret, r.Method, path, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderRequestID),
		body, r.Header.Get(HeaderSignature), now, maxSkew)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// errTooLarge is readBody's error for a body over MaxBody.
var errTooLarge = errors.New("request body is larger than 1 MiB")

// readBody reads r's body up to MaxBody and puts it back for later readers.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
