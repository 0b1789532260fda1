// Package webhook holds what Marketplane's webhooks are: the event types an
// endpoint subscribes to, the rules of an endpoint, and the signature of a
// delivery, which receivers check with Verify.
//
// A delivery is an HTTP POST of the event as JSON with three headers:
//
//	Marketplane-Event:     order.completed
//	Marketplane-Delivery:  1234
//	Marketplane-Signature: t=1700000000,v1=<hex HMAC-SHA256(secret, "1700000000." + body)>
//
// After the endpoint's secret is rotated, the previous secret stays valid
// for a grace period, and deliveries carry one v1 per valid secret, the new
// one first (t=...,v1=<new>,v1=<old>): a receiver that still knows only the
// old secret keeps accepting them while it is updated. Verify accepts a
// header when any v1 matches.
//
// The timestamp is inside the signed text, so that a captured request
// cannot be replayed later than the receiver's tolerance. The connector
// protocol's signing (package connector) signs method, path and a request
// id as well, for requests that act; a webhook only tells, and this is the
// form receivers know from the common payment providers.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
)

// Event types.
const (
	OrderCompleted            = "order.completed"
	InvoiceIssued             = "invoice.issued"
	PaymentReceived           = "payment.received"
	SubscriptionStatusChanged = "subscription.status_changed"
)

// Types lists the event types an endpoint may subscribe to.
var Types = []string{OrderCompleted, InvoiceIssued, PaymentReceived, SubscriptionStatusChanged}

// Headers of a delivery.
const (
	HeaderSignature = "Marketplane-Signature"
	HeaderEvent     = "Marketplane-Event"
	HeaderDelivery  = "Marketplane-Delivery"
)

// Endpoint is a URL of an account that receives the events of the types it
// subscribes to, about the account and every account below it.
type Endpoint struct {
	ID        int64
	AccountID int64
	URL       string
	// Secret signs deliveries; it is shown once, when the endpoint is made
	// or its secret rotated.
	Secret string
	// PreviousSecret, until PreviousExpiresAt, signs deliveries too: the
	// secret before the last rotation, for receivers not yet updated.
	PreviousSecret    string
	PreviousExpiresAt time.Time
	EventTypes        []string
	Active            bool
	// Version grows with every change (the API's ETag).
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Secrets are the secrets that sign a delivery at now: the current one,
// then the previous one while it is valid.
func (e *Endpoint) Secrets(now time.Time) []string {
	if e.PreviousSecret != "" && now.Before(e.PreviousExpiresAt) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// Validate checks what a client gives: an absolute http(s) URL without
// credentials and known event types, at least one. Whether the URL reaches
// an internal address is CheckURL's question, which needs the network.
func (e *Endpoint) Validate() error {
	var f marketplane.FieldErrors
	u, err := url.Parse(e.URL)
	switch {
	case e.URL == "":
		f.Add("url", "required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		f.Add("url", "must be an absolute http or https URL")
	case u.User != nil:
		f.Add("url", "must not carry a user name or password: put credentials in the path or check the signature")
	case len(e.URL) > 2000:
		f.Add("url", "must be at most 2000 characters")
	}
	if len(e.EventTypes) == 0 {
		f.Add("event_types", "name at least one of "+strings.Join(Types, ", "))
	}
	for i, t := range e.EventTypes {
		if !slices.Contains(Types, t) {
			f.Add(fmt.Sprintf("event_types[%d]", i), fmt.Sprintf("%q is not one of %s", t, strings.Join(Types, ", ")))
		}
	}
	return f.Err("webhook endpoint")
}

// Wants tells whether e subscribes to events of type typ.
func (e *Endpoint) Wants(typ string) bool { return e.Active && slices.Contains(e.EventTypes, typ) }

// Sign returns the Marketplane-Signature header of body sent at t.
func Sign(secret string, t time.Time, body []byte) string { return SignAll([]string{secret}, t, body) }

// SignAll returns the Marketplane-Signature header of body sent at t with
// one v1 signature per secret, in their order: t=<unix>,v1=<a>,v1=<b>.
func SignAll(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + mac(s, ts, body))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Marketplane-Signature header of body, in constant time,
// and that its timestamp is within tolerance of now. Receivers use it. Any
// v1 of the header may match: during a rotation the header carries the
// signatures of the new and the previous secret.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return marketplane.Errorf(marketplane.EUNAUTHORIZED, "webhook signature: want t=<unix>,v1=<hex>")
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	if !ok {
		return marketplane.Errorf(marketplane.EUNAUTHORIZED, "webhook signature does not match the body and secret")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return marketplane.Errorf(marketplane.EUNAUTHORIZED, "webhook signature is %s old (at most %s)", d.Round(time.Second), tolerance)
	}
	return nil
}
