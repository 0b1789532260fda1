package pgdbaas

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/marketplane/marketplane/connector"
)

// TestHTTP drives the connector as the platform does: signed requests to the
// SDK's handler in front of the Service.
func TestHTTP(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	const secret = "test-secret"
	srv := httptest.NewServer(connector.Handler(svc, connector.Config{Secret: secret}))
	t.Cleanup(srv.Close)

	call := func(method, path, requestID string, body any) (int, []byte) {
		t.Helper()
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		connector.SignRequest(req, secret, requestID, raw, time.Now())
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	status, body := call("GET", "/manifest", "manifest-1", nil)
	var m connector.Manifest
	if status != http.StatusOK || json.Unmarshal(body, &m) != nil || m.Name != "pgdbaas" || len(m.Resources) != 2 {
		t.Fatalf("GET /manifest: %d %s", status, body)
	}

	create := connector.CreateRequest{
		RequestID: "sub-9-create", SubscriptionID: 9, AccountID: 3,
		Limits:     map[string]int64{ResourceStorage: 20, ResourceConnections: 2},
		Parameters: map[string]string{"extensions": "pgcrypto"},
	}
	status, body = call("POST", "/tenants", create.RequestID, create)
	var tn connector.Tenant
	if status != http.StatusCreated || json.Unmarshal(body, &tn) != nil || tn.Status != connector.StatusReady {
		t.Fatalf("POST /tenants: %d %s", status, body)
	}
	if n := count(t, db, `SELECT count(*) FROM pg_database WHERE datname = $1`, "t_"+tn.ID); n != 1 {
		t.Fatalf("no database t_%s", tn.ID)
	}
	if _, err := mustConnect(t, tn).Exec(context.Background(), `CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}

	// A retry with the same request id gets the same tenant.
	status, body = call("POST", "/tenants", create.RequestID, create)
	var again connector.Tenant
	if status != http.StatusCreated || json.Unmarshal(body, &again) != nil || again.ID != tn.ID {
		t.Errorf("retried POST /tenants: %d %s", status, body)
	}

	// The SDK checks parameters by the manifest; the answer names the field.
	bad := create
	bad.RequestID = "sub-10-create"
	bad.Parameters = map[string]string{"locale": "klingon"}
	status, body = call("POST", "/tenants", bad.RequestID, bad)
	var e connector.ErrorReply
	if status != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Fields["parameters.locale"] == "" {
		t.Errorf("POST /tenants with a bad locale: %d %s", status, body)
	}

	status, body = call("GET", "/tenants/"+tn.ID+"/usage", "usage-1", nil)
	var usage connector.UsageReply
	if status != http.StatusOK || json.Unmarshal(body, &usage) != nil || len(usage.Readings) != 2 || usage.Readings[0].Value.Cmp(connector.Units(7)) < 0 {
		t.Errorf("GET usage: %d %s", status, body)
	}

	status, body = call("DELETE", "/tenants/"+tn.ID, "sub-9-delete", nil)
	if status != http.StatusOK || json.Unmarshal(body, &tn) != nil || tn.Status != connector.StatusDeleted {
		t.Errorf("DELETE: %d %s", status, body)
	}
	status, _ = call("GET", "/tenants/0123456789abcdef", "get-1", nil)
	if status != http.StatusNotFound {
		t.Errorf("GET of an unknown tenant: %d", status)
	}

	// An unsigned request is refused before the Service sees it.
	resp, err := srv.Client().Post(srv.URL+"/tenants", "application/json", bytes.NewReader([]byte(`{"request_id":"x"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned POST: %d", resp.StatusCode)
	}
}
