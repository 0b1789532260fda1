package connector_test

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	const secret = "s3cret"
	body := []byte(`{"request_id":"sub-42-create","limits":{"storage_mb":100}}`)
	sig := connector.Sign(secret, "POST", "/tenants", ts, "sub-42-create", body)
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	recent := strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)

	tests := []struct {
		name                         string
		secret, method, path, ts, id string
		body                         []byte
		sig                          string
		want                         error
	}{
		{"valid", secret, "POST", "/tenants", ts, "sub-42-create", body, sig, nil},
		{"method in lower case is the same", secret, "post", "/tenants", ts, "sub-42-create", body, sig, nil},
		{"tampered body", secret, "POST", "/tenants", ts, "sub-42-create", []byte(`{"request_id":"sub-42-create","limits":{"storage_mb":900}}`), sig, connector.ErrBadSignature},
		{"empty body", secret, "POST", "/tenants", ts, "sub-42-create", nil, sig, connector.ErrBadSignature},
		{"tampered path", secret, "POST", "/tenants/t-1", ts, "sub-42-create", body, sig, connector.ErrBadSignature},
		{"tampered method", secret, "PUT", "/tenants", ts, "sub-42-create", body, sig, connector.ErrBadSignature},
		{"tampered timestamp", secret, "POST", "/tenants", strconv.FormatInt(now.Unix()+1, 10), "sub-42-create", body, sig, connector.ErrBadSignature},
		{"tampered request id", secret, "POST", "/tenants", ts, "sub-43-create", body, sig, connector.ErrBadSignature},
		{"wrong secret", "other", "POST", "/tenants", ts, "sub-42-create", body, sig, connector.ErrBadSignature},
		{"stale timestamp", secret, "POST", "/tenants", old, "sub-42-create", body, connector.Sign(secret, "POST", "/tenants", old, "sub-42-create", body), connector.ErrStale},
		{"timestamp from the future", secret, "POST", "/tenants", future, "sub-42-create", body, connector.Sign(secret, "POST", "/tenants", future, "sub-42-create", body), connector.ErrStale},
		{"4 minutes old is fine", secret, "POST", "/tenants", recent, "sub-42-create", body, connector.Sign(secret, "POST", "/tenants", recent, "sub-42-create", body), nil},
		{"timestamp not a number", secret, "POST", "/tenants", "soon", "sub-42-create", body, connector.Sign(secret, "POST", "/tenants", "soon", "sub-42-create", body), connector.ErrBadSignature},
		{"no signature", secret, "POST", "/tenants", ts, "sub-42-create", body, "", connector.ErrUnsigned},
		{"no timestamp", secret, "POST", "/tenants", "", "sub-42-create", body, sig, connector.ErrUnsigned},
		{"no request id", secret, "POST", "/tenants", ts, "", body, sig, connector.ErrUnsigned},
		{"no version prefix", secret, "POST", "/tenants", ts, "sub-42-create", body, strings.TrimPrefix(sig, "v1="), connector.ErrBadSignature},
		{"unknown version", secret, "POST", "/tenants", ts, "sub-42-create", body, "v2=" + strings.TrimPrefix(sig, "v1="), connector.ErrBadSignature},
		{"not hex", secret, "POST", "/tenants", ts, "sub-42-create", body, "v1=zz", connector.ErrBadSignature},
		{"truncated", secret, "POST", "/tenants", ts, "sub-42-create", body, sig[:20], connector.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := connector.Verify(tt.secret, tt.method, tt.path, tt.ts, tt.id, tt.body, tt.sig, now, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err != nil && marketplane.ErrorCode(err) != marketplane.EUNAUTHORIZED {
				t.Errorf("code %q, want unauthorized", marketplane.ErrorCode(err))
			}
		})
	}
}

func TestSignatureFormat(t *testing.T) {
	t.Parallel()
	// A fixed vector, so that a connector written in another language can
	// check its implementation against this one.
	got := connector.Sign("secret", "GET", "/tenants/t-1", "1767225600", "get-1", nil)
	// Computed independently (Python's hmac module).
	const want = "v1=98d9cacd4ec3c672aeba0fd68b440ddd7644081fe6ac13dd5d74135289023fd3"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	canon := connector.Canonical("get", "/tenants/t-1", "1767225600", "get-1", nil)
	wantCanon := "GET\n/tenants/t-1\n1767225600\nget-1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if canon != wantCanon {
		t.Fatalf("Canonical = %q, want %q", canon, wantCanon)
	}
}

func TestSignRequestVerifyRequest(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte(`{"a":1}`)
	// An escaped slash and a query are part of what is signed.
	r := httptest.NewRequest("PUT", "http://connector.test/base/tenants/a%2Fb?x=1", strings.NewReader(string(body)))
	connector.SignRequest(r, "k", "op-1", body, now)
	got, err := connector.VerifyRequest(r, "k", now, time.Minute)
	if err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if string(got) != string(body) {
		t.Fatalf("body %q, want %q", got, body)
	}

	// The server sees the target as sent; changing it breaks the signature.
	r2 := httptest.NewRequest("PUT", "http://connector.test/base/tenants/a%2Fb?x=2", strings.NewReader(string(body)))
	r2.Header = r.Header.Clone()
	if _, err := connector.VerifyRequest(r2, "k", now, time.Minute); !errors.Is(err, connector.ErrBadSignature) {
		t.Fatalf("changed query: %v, want bad signature", err)
	}
	if _, err := connector.VerifyRequest(r, "k", now.Add(2*time.Minute), time.Minute); !errors.Is(err, connector.ErrStale) {
		t.Fatalf("late: %v, want stale", err)
	}
}
