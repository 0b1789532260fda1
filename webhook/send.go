package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Timeout bounds one delivery attempt, connection and reply included.
const Timeout = 10 * time.Second

// excerptLen is how much of a reply the delivery log keeps.
const excerptLen = 1000

// Result is what one delivery attempt got.
type Result struct {
	// Code is the reply's HTTP status; 0 when none came (Err says why).
	Code int
	// Excerpt is the start of the reply's body, for the delivery log.
	Excerpt string
	// Err is the transport failure, if any.
	Err error
}

// OK tells whether the receiver took the event: any 2xx.
func (r Result) OK() bool { return r.Err == nil && r.Code >= 200 && r.Code < 300 }

// Send POSTs body, the JSON of an event, to url, signed with each of
// secrets at now (see SignAll), within Timeout. client nil means
// NewClient(false), which refuses internal addresses.
func Send(ctx context.Context, client *http.Client, url string, secrets []string, eventType string, deliveryID int64, body []byte, now time.Time) Result {
	if client == nil {
		client = NewClient(false)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Marketplane-Webhooks/1")
	req.Header.Set(HeaderEvent, eventType)
	req.Header.Set(HeaderDelivery, strconv.FormatInt(deliveryID, 10))
	req.Header.Set(HeaderSignature, SignAll(secrets, now, body))
	resp, err := client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, excerptLen))
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1] // a cut through a character
	}
	return Result{Code: resp.StatusCode, Excerpt: string(b)}
}
