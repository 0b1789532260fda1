package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
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
		{"https://user:pw@erp.example.com/hook", []string{webhook.OrderCompleted}, false},
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

// TestSignRotation: during a rotation the header carries both secrets'
// signatures, new first, and a receiver with either secret accepts it; one
// with another secret does not, nor does a header whose v1 for its secret
// was cut out.
func TestSignRotation(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":1}`)
	both := webhook.SignAll([]string{"whsec_new", "whsec_old"}, at, body)
	onlyNew, onlyOld := webhook.Sign("whsec_new", at, body), webhook.Sign("whsec_old", at, body)
	if want := onlyNew + ",v1=" + onlyOld[len("t=1700000000,v1="):]; both != want {
		t.Fatalf("two secrets sign %q, want %q", both, want)
	}
	for _, c := range []struct {
		name, secret, header string
		ok                   bool
	}{
		{"new secret", "whsec_new", both, true},
		{"previous secret", "whsec_old", both, true},
		{"another secret", "whsec_other", both, false},
		{"previous secret, header of the new only", "whsec_old", onlyNew, false},
		{"spaces after commas", "whsec_old", strings.ReplaceAll(both, ",", ", "), true},
	} {
		err := webhook.Verify(c.secret, c.header, body, at, 5*time.Minute)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	e := webhook.Endpoint{Secret: "whsec_new", PreviousSecret: "whsec_old", PreviousExpiresAt: at.Add(time.Hour)}
	if got := e.Secrets(at); !slices.Equal(got, []string{"whsec_new", "whsec_old"}) {
		t.Errorf("secrets before the expiry: %v", got)
	}
	if got := e.Secrets(at.Add(time.Hour)); !slices.Equal(got, []string{"whsec_new"}) {
		t.Errorf("secrets at the expiry: %v", got)
	}
}

// TestCheckURL: URLs that reach internal addresses are refused on field
// url, by their form, their IP literal or what their name resolves to; a
// public one, or a name that does not resolve, passes.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	dns := map[string][]netip.Addr{
		"hooks.example.com":    {netip.MustParseAddr("93.184.215.14")},
		"rebind.example.com":   {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")},
		"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
		"v6.example.com":       {netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
		"ula.example.com":      {netip.MustParseAddr("fd12:3456::1")},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := dns[host]; ok {
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/marketplane", true},
		{"http://93.184.215.14:8080/hook", true},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", true},
		{"https://v6.example.com/", true},
		{"https://does-not-resolve.example.org/", true}, // the dial checks it later
		{"ftp://hooks.example.com/", false},
		{"https://user:secret@hooks.example.com/", false},
		{"https://user@hooks.example.com/", false},
		{"http://127.0.0.1:8080/", false},
		{"http://127.1.2.3/", false},
		{"http://localhost:8080/", false},
		{"http://LOCALHOST./", false},
		{"http://api.localhost/", false},
		{"http://[::1]/", false},
		{"http://[::]/", false},
		{"http://0.0.0.0/", false},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://[fe80::1]/", false},
		{"http://10.0.0.1/", false},
		{"http://172.16.5.4/", false},
		{"http://192.168.1.1/", false},
		{"http://100.64.0.1/", false},
		{"http://100.127.255.254/", false},
		{"http://[fc00::1]/", false},
		{"http://224.0.0.1/", false},
		{"http://[ff02::1]/", false},
		{"http://[::ffff:127.0.0.1]/", false},
		{"http://[::ffff:169.254.169.254]/", false},
		{"http://[::ffff:10.0.0.1]/", false},
		{"https://rebind.example.com/", false},
		{"https://metadata.example.com/", false},
		{"https://ula.example.com/", false},
	} {
		err := webhook.CheckURL(context.Background(), c.url, lookup)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		var e *marketplane.Error
		if err != nil && (!errors.As(err, &e) || e.Code != marketplane.EINVALID || e.Fields["url"] == "") {
			t.Errorf("%s: %#v is not an invalid url", c.url, err)
		}
	}
}

// TestDialRefusesInternal: a delivery to a receiver on 127.0.0.1 fails at
// dial time with ErrInternalAddress (the receiver sees nothing), whatever
// the URL said; with private addresses allowed it arrives.
func TestDialRefusesInternal(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	t.Cleanup(srv.Close)
	body := []byte(`{"id":1}`)
	res := webhook.Send(context.Background(), webhook.NewClient(false), srv.URL, []string{"whsec_x"}, webhook.OrderCompleted, 1, body, time.Now())
	if res.OK() || !errors.Is(res.Err, webhook.ErrInternalAddress) || !strings.Contains(res.Err.Error(), "127.0.0.1") || got.Load() != 0 {
		t.Errorf("refused delivery: %+v, %d requests", res, got.Load())
	}
	res = webhook.Send(context.Background(), nil, srv.URL, []string{"whsec_x"}, webhook.OrderCompleted, 1, body, time.Now())
	if !errors.Is(res.Err, webhook.ErrInternalAddress) {
		t.Errorf("the default client: %+v", res)
	}
	res = webhook.Send(context.Background(), webhook.NewClient(true), srv.URL, []string{"whsec_x"}, webhook.OrderCompleted, 1, body, time.Now())
	if !res.OK() || got.Load() != 1 {
		t.Errorf("allowed delivery: %+v, %d requests", res, got.Load())
	}
}
