package rabbitvhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/marketplane/marketplane/connector"
)

// TestHTTP drives the connector through the SDK's handler as the platform
// does: POST /tenants answers 202 with a poll address, polling GET reaches
// ready, usage and suspension work, DELETE answers 202 and polling reaches
// deleted.
func TestHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const secret = "test-secret"
	srv := httptest.NewServer(connector.Handler(e.svc, connector.Config{Secret: secret, RetryAfter: time.Second}))
	t.Cleanup(srv.Close)

	call := func(method, path, requestID string, body any) (*http.Response, []byte) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		connector.SignRequest(req, secret, requestID, b, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp, out
	}
	tenantOf := func(body []byte) connector.Tenant {
		t.Helper()
		var tn connector.Tenant
		if err := json.Unmarshal(body, &tn); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return tn
	}
	poll := func(location, want string) connector.Tenant {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for i := 0; ; i++ {
			resp, body := call("GET", location, fmt.Sprintf("poll-%d", i), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s %s", location, resp.Status, body)
			}
			tn := tenantOf(body)
			if tn.Status == want {
				return tn
			}
			if tn.Status == connector.StatusFailed || time.Now().After(deadline) {
				t.Fatalf("GET %s: %+v, want %s", location, tn, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Bad input is refused by status and field.
	resp, body := call("POST", "/tenants", "sub-20-bad", connector.CreateRequest{Limits: map[string]int64{ResourceMessagesReady: 3}})
	if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("limits.messages_ready")) {
		t.Errorf("bad create: %s %s", resp.Status, body)
	}

	create := connector.CreateRequest{SubscriptionID: 20, AccountID: 3, Limits: map[string]int64{ResourceQueues: 2}}
	resp, body = call("POST", "/tenants", "sub-20-create", create)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /tenants: %s %s, want 202", resp.Status, body)
	}
	tn := tenantOf(body)
	location := resp.Header.Get("Location")
	if tn.Status != connector.StatusProvisioning || location != "/tenants/"+tn.ID || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("POST /tenants: %+v, Location %q, Retry-After %q", tn, location, resp.Header.Get("Retry-After"))
	}
	tn = poll(location, connector.StatusReady)
	if tn.Attributes["url"] == "" || tn.Limits[ResourceQueues] != 2 {
		t.Errorf("ready tenant: %+v", tn)
	}
	mustDial(t, tn)

	resp, body = call("GET", location+"/usage", "usage-1", nil)
	var usage connector.UsageReply
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &usage) != nil || len(usage.Readings) != 2 {
		t.Errorf("usage: %s %s", resp.Status, body)
	}

	resp, body = call("PUT", location, "sub-20-change", connector.UpdateRequest{Limits: map[string]int64{ResourceQueues: 3}})
	if resp.StatusCode != http.StatusOK || tenantOf(body).Limits[ResourceQueues] != 3 {
		t.Errorf("PUT: %s %s", resp.Status, body)
	}
	resp, body = call("POST", location+"/suspend", "sub-20-suspend", nil)
	if resp.StatusCode != http.StatusOK || tenantOf(body).Status != connector.StatusSuspended {
		t.Errorf("suspend: %s %s", resp.Status, body)
	}

	resp, body = call("DELETE", location, "sub-20-delete", nil)
	if resp.StatusCode != http.StatusAccepted || tenantOf(body).Status != connector.StatusDeleting {
		t.Fatalf("DELETE: %s %s, want 202 deleting", resp.Status, body)
	}
	poll(location, connector.StatusDeleted)
	if v := e.vhosts(t); len(v) != 0 {
		t.Errorf("vhosts after DELETE: %v", v)
	}

	resp, body = call("GET", "/tenants/0123456789abcdef", "get-unknown", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown tenant: %s %s", resp.Status, body)
	}
}
