package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

const connectorSecret = "connector-secret-7f3a"

// vendor is a connector served on loopback whose handler can be swapped
// (a new version deployed at the same URL) and which counts its requests.
type vendor struct {
	url  string
	h    atomic.Pointer[http.Handler]
	hits atomic.Int64
}

func (v *vendor) set(h http.Handler) { v.h.Store(&h) }

// serveMemory serves the in-memory connector with manifest m (nil: the
// default) and secret.
func serveMemory(m *connector.Manifest, secret string) http.Handler {
	return connector.Handler(&connectortest.Memory{Spec: m}, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)})
}

// withConnectors gives f the platform's callback endpoint on loopback and
// fast connector calls, and serves a memory connector with the test's
// secret (not yet registered).
func withConnectors(t *testing.T, f *fixture) *vendor {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST "+provisioning.CallbackPath, provisioning.CallbackHandler(f.db))
	cb := httptest.NewServer(mux)
	t.Cleanup(cb.Close)
	f.api.callbackBase = func() string { return cb.URL }
	f.api.connectorClient = provisioning.Options{Timeout: 2 * time.Second, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	return serveVendor(t, serveMemory(nil, connectorSecret))
}

func serveVendor(t *testing.T, h http.Handler) *vendor {
	t.Helper()
	v := &vendor{}
	v.set(h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.hits.Add(1)
		(*v.h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	v.url = srv.URL
	return v
}

// registerBody is the body of POST /connectors.
func registerBody(u, secret string, dryRun bool) map[string]any {
	return map[string]any{"url": u, "secret": secret, "dry_run": dryRun}
}

func TestConnectorRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		v := withConnectors(t, f)
		var seen [][]byte // every body, to check that the secret never shows
		call := func(want int, who, method, path string, body any) *response {
			t.Helper()
			r := f.must(t, want, who, method, path, body)
			seen = append(seen, r.Body)
			return r
		}

		var list Page[Connector]
		call(200, "P", "GET", "/connectors", nil).JSON(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("connectors before any: %+v", list.Items)
		}

		// A dry run: what would be made, nothing made.
		var reg ConnectorRegistration
		r := call(200, "P", "POST", "/connectors", registerBody(v.url, connectorSecret, true))
		r.JSON(t, &reg)
		if !reg.DryRun || !reg.New || len(reg.Changes) != 6 || reg.Created.Plan == nil || reg.Created.Plan.ID != 0 ||
			reg.Connector.Name != "memory" || r.Header.Get("Location") != "" {
			t.Fatalf("dry run: %s", r.Body)
		}
		call(200, "P", "GET", "/connectors", nil).JSON(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("the dry run registered: %+v", list.Items)
		}

		// The registration.
		r = call(201, "P", "POST", "/connectors", registerBody(v.url, connectorSecret, false))
		reg = ConnectorRegistration{}
		r.JSON(t, &reg)
		if r.Header.Get("Location") != Prefix+"/connectors/memory" || reg.DryRun || !reg.New || reg.Connector.Status != "registered" ||
			strings.Join(reg.Created.ResourceTypes, " ") != "memory.backups memory.connections memory.requests memory.storage_mb" ||
			reg.Created.Template != "memory" || reg.Created.Plan == nil || reg.Created.Plan.Key != "memory-starter" || reg.Created.Plan.ID == 0 {
			t.Fatalf("registration: %s", r.Body)
		}
		var pl Plan
		call(200, "P", "GET", "/plans/"+id(reg.Created.Plan.ID), nil).JSON(t, &pl)
		if pl.Published || pl.Template != "memory" || len(pl.Rates) != 2 {
			t.Errorf("draft plan: %+v", pl)
		}
		var rt ResourceType
		call(200, "P", "GET", "/resource-types/memory.storage_mb", nil).JSON(t, &rt)
		if rt.Connector != "storage_mb" || rt.Unit != "MB" {
			t.Errorf("resource type: %+v", rt)
		}

		// Read back.
		var c Connector
		r = call(200, "P", "GET", "/connectors/memory", nil)
		r.JSON(t, &c)
		if r.Header.Get("ETag") != `"1"` || c.URL != v.url || c.ManifestVersion != "1.0.0" || len(c.Manifest.Resources) != 4 ||
			c.LastCheckedAt == nil || c.Status != "registered" {
			t.Errorf("connector: %s", r.Body)
		}
		call(200, "P", "GET", "/connectors", nil).JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "memory" {
			t.Errorf("list: %+v", list.Items)
		}

		// Again, the same manifest: nothing to do.
		reg = ConnectorRegistration{}
		call(200, "P", "POST", "/connectors", registerBody(v.url, connectorSecret, false)).JSON(t, &reg)
		if reg.New || len(reg.Changes) != 0 || reg.ManifestChanged || reg.Created.Template != "" {
			t.Errorf("again: %+v", reg)
		}

		// A newer version of the connector: refresh shows, then applies.
		m := connectortest.Manifest()
		m.Version = "1.1.0"
		m.Resources = append(m.Resources, connector.ResourceSpec{Key: "replicas", Name: map[string]string{"en": "Replicas"},
			Unit: "replica", Class: connector.ClassLimit})
		v.set(serveMemory(&m, connectorSecret))
		reg = ConnectorRegistration{}
		call(200, "P", "POST", "/connectors/memory/refresh", map[string]any{"dry_run": true}).JSON(t, &reg)
		if !reg.DryRun || !reg.ManifestChanged || reg.PreviousManifestVersion != "1.0.0" || len(reg.Changes) != 2 ||
			reg.Changes[0].Action != "create" || reg.Changes[0].Key != "memory.replicas" ||
			reg.Changes[1].Kind != "template" || reg.Changes[1].Fields[0].Path != "resources[memory.replicas]" {
			t.Fatalf("refresh dry run: %+v", reg)
		}
		call(404, "P", "GET", "/resource-types/memory.replicas", nil)
		reg = ConnectorRegistration{}
		call(200, "P", "POST", "/connectors/memory/refresh", nil).JSON(t, &reg)
		if reg.DryRun || reg.New || strings.Join(reg.Created.ResourceTypes, " ") != "memory.replicas" || reg.Connector.ManifestVersion != "1.1.0" {
			t.Fatalf("refresh: %+v", reg)
		}
		call(200, "P", "GET", "/resource-types/memory.replicas", nil)
		r = call(200, "P", "GET", "/connectors/memory", nil)
		if r.Header.Get("ETag") != `"2"` {
			t.Errorf("ETag after the newer manifest: %s", r.Header.Get("ETag"))
		}

		// Refusals, each with its status and a reason.
		other := serveVendor(t, serveMemory(nil, "another-secret"))
		forged := connectortest.Manifest()
		forged.Name = "forged"
		impostor := serveVendor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Holds another secret: passes the platform's requests on,
			// signed with its own, to a connector started with it.
			body, _ := io.ReadAll(r.Body)
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			connector.SignRequest(r2, "impostor", r.Header.Get(connector.HeaderRequestID), body, time.Now())
			serveMemory(&forged, "impostor").ServeHTTP(w, r2)
		}))
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		for _, c := range []struct {
			name   string
			body   any
			status int
			detail string
			field  string
		}{
			{"wrong secret", registerBody(other.url, connectorSecret, false), 400, "check the secret", "body.secret"},
			{"forged callback", registerBody(impostor.url, connectorSecret, false), 401, "two-way check failed", ""},
			{"unreachable", registerBody(gone.URL, connectorSecret, false), 503, "cannot be reached", ""},
			{"name taken", registerBody(other.url, "another-secret", false), 409, "registered at " + v.url, "body.url"},
			{"no URL", map[string]any{"secret": "x"}, 400, "", "body.url"},
			{"no secret", map[string]any{"url": v.url, "secret": ""}, 400, "", "body.secret"},
		} {
			p := call(c.status, "P", "POST", "/connectors", c.body).Problem(t)
			if !strings.Contains(p.Detail, c.detail) || c.field != "" && !strings.Contains(strings.Join(p.locations(), " "), c.field) {
				t.Errorf("%s: %+v", c.name, p)
			}
		}
		call(404, "P", "GET", "/connectors/nope", nil)
		if p := call(404, "P", "POST", "/connectors/nope/refresh", nil).Problem(t); p.Detail != "connector not found" {
			t.Errorf("refresh of a missing connector: %+v", p)
		}
		call(200, "P", "GET", "/connectors", nil).JSON(t, &list)
		if len(list.Items) != 1 {
			t.Errorf("after the refusals: %+v", list.Items)
		}

		// The connector goes down: a refresh says so, and so does its
		// status.
		v.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
		if p := call(503, "P", "POST", "/connectors/memory/refresh", nil).Problem(t); !strings.Contains(p.Detail, "cannot be reached") {
			t.Errorf("refresh of a connector that is down: %+v", p)
		}
		call(200, "P", "GET", "/connectors/memory", nil).JSON(t, &c)
		if c.Status != "unreachable" || !strings.Contains(c.StatusMessage, "502") {
			t.Errorf("status after a failed refresh: %+v", c)
		}

		// A server that does not know its public URL cannot register.
		f.api.callbackBase = func() string { return "" }
		if p := call(503, "P", "POST", "/connectors", registerBody(v.url, connectorSecret, false)).Problem(t); !strings.Contains(p.Detail, "--base-url") {
			t.Errorf("no public URL: %+v", p)
		}

		for _, b := range seen {
			if bytes.Contains(b, []byte(connectorSecret)) || bytes.Contains(b, []byte("another-secret")) {
				t.Errorf("a response shows a secret: %s", b)
			}
		}
	})
}
