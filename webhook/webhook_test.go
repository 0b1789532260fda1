package webhook_test

import (
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/webhook"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":1}`)
	sig := webhook.Sign("whsec_x", at, body)
	// The worked example a receiver can check by hand:
	// HMAC-SHA256("whsec_x", `1700000000.{"id":1}`).
	if want := "t=1700000000,v1="; sig[:len(want)] != want || len(sig) != len(want)+64 {
		t.Fatalf("signature %q", sig)
	}
	for _, c := range []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		ok     bool
	}{
		{"as signed", "whsec_x", sig, `{"id":1}`, at, true},
		{"within the tolerance", "whsec_x", sig, `{"id":1}`, at.Add(4 * time.Minute), true},
		{"too old", "whsec_x", sig, `{"id":1}`, at.Add(6 * time.Minute), false},
		{"another body", "whsec_x", sig, `{"id":2}`, at, false},
		{"another secret", "whsec_y", sig, `{"id":1}`, at, false},
		{"another time", "whsec_x", "t=1700000001" + sig[len("t=1700000000"):], `{"id":1}`, at, false},
		{"unsigned", "whsec_x", "", `{"id":1}`, at, false},
	} {
		err := webhook.Verify(c.secret, c.header, []byte(c.body), c.now, 5*time.Minute)
		if (err == nil) != c.ok || (err != nil && marketplane.ErrorCode(err) != marketplane.EUNAUTHORIZED) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestEndpointValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url   string
		types []string
		ok    bool
	}{
		{"https://erp.example.com/hook", []string{webhook.OrderCompleted}, true},
		{"http://localhost:8080/", webhook.Types, true},
		{"", []string{webhook.OrderCompleted}, false},
		{"ftp://example.com/", []string{webhook.OrderCompleted}, false},
		{"/relative", []string{webhook.OrderCompleted}, false},
		{"https://erp.example.com/hook", nil, false},
		{"https://erp.example.com/hook", []string{"order.shipped"}, false},
	} {
		err := (&webhook.Endpoint{URL: c.url, EventTypes: c.types}).Validate()
		if (err == nil) != c.ok {
			t.Errorf("%q %v: %v", c.url, c.types, err)
		}
	}
}
