package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// swappable serves a handler that a test replaces (a new version of a
// connector deployed at the same URL).
type swappable struct{ h atomic.Pointer[http.Handler] }

func (s *swappable) set(h http.Handler)                               { s.h.Store(&h) }
func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

func memoryConnector(m *connector.Manifest, secret string) http.Handler {
	return connector.Handler(&connectortest.Memory{Spec: m}, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)})
}

// TestConnectorCommands registers a connector as an operator would, step
// by step on one database, with the callback received by the command's
// own listener and by a running server; then through the server's API.
func TestConnectorCommands(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		dbURL := storetest.URL(t, e)
		const secret = "cli-connector-secret"
		sw := &swappable{}
		sw.set(memoryConnector(nil, secret))
		vendor := httptest.NewServer(sw)
		t.Cleanup(vendor.Close)
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		newer := connectortest.Manifest()
		newer.Version = "1.1.0"
		newer.Resources = append(newer.Resources, connector.ResourceSpec{Key: "replicas", Name: map[string]string{"en": "Replicas"},
			Unit: "replica", Class: connector.ClassLimit})

		var m *Main
		steps := []struct {
			name   string
			args   []string
			code   int
			want   []string // in stdout+stderr
			before func()
		}{
			{name: "no action", args: []string{"connector"}, code: 2, want: []string{"say register URL, refresh NAME or list"}},
			{name: "unknown action", args: []string{"connector", "frob"}, code: 2, want: []string{`unknown action "frob"`}},
			{name: "no URL", args: []string{"connector", "register", "--secret", "x", "--db", dbURL}, code: 2, want: []string{"give the connector's URL"}},
			{name: "no secret", args: []string{"connector", "register", vendor.URL, "--db", dbURL}, code: 2,
				want: []string{"--secret or MARKETPLANE_CONNECTOR_SECRET"}},
			{name: "refresh with a secret", args: []string{"connector", "refresh", "memory", "--secret", "x", "--db", dbURL}, code: 2,
				want: []string{"uses the stored secret"}},
			{name: "no provider", args: []string{"connector", "list", "--db", dbURL}, code: 1, want: []string{"no provider yet"}},
			{name: "none yet", args: []string{"connector", "list", "--db", dbURL}, code: 0, want: []string{"No connectors."},
				before: func() { m, _ = start(t, testConfig(dbURL)) }},
			{name: "dry run", args: []string{"connector", "register", vendor.URL, "--secret", secret, "--dry-run", "--db", dbURL}, code: 0,
				want: []string{"Listening for the connector's callback at http://127.0.0.1:", "Dry run: the two-way check passed",
					"+ resource_type memory.storage_mb", "+ template memory", "+ plan memory-starter", "6 to create, 0 to update, 0 to delete",
					"nothing was changed"}},
			{name: "the dry run changed nothing", args: []string{"connector", "list", "--db", dbURL}, code: 0, want: []string{"No connectors."}},
			{name: "register", args: []string{"connector", "register", vendor.URL, "--secret", secret, "--db", dbURL}, code: 0,
				want: []string{"Registered the connector memory 1.0.0 at " + vendor.URL + "; the two-way check passed.",
					"6 to create", "The draft plan memory-starter (id ", "price it and publish it"}},
			{name: "list", args: []string{"connector", "list", "--db", dbURL}, code: 0,
				want: []string{"NAME", "memory  1.0.0    registered  4", vendor.URL}},
			{name: "again, the callback through the running server", code: 0,
				want: []string{"Registered the connector memory 1.0.0 at " + vendor.URL + " again", "No changes."}},
			{name: "wrong secret", args: []string{"connector", "register", vendor.URL, "--secret", "wrong", "--db", dbURL}, code: 1,
				want: []string{"the connector refused our signature: check the secret", "  secret: the connector refused our signature"}},
			{name: "unreachable", args: []string{"connector", "register", gone.URL, "--secret", secret, "--db", dbURL}, code: 1,
				want: []string{"the connector at " + gone.URL + " cannot be reached", "connection refused"}},
			{name: "callback unreachable", args: []string{"connector", "register", vendor.URL, "--secret", secret,
				"--callback-base", gone.URL, "--db", dbURL}, code: 1,
				want: []string{"two-way check failed", "could not call the platform back at " + gone.URL + "/connector-callback"}},
			{name: "refresh a newer version (dry run)", args: []string{"connector", "refresh", "memory", "--dry-run", "--db", dbURL}, code: 0,
				want:   []string{"Dry run", "+ resource_type memory.replicas", "~ template memory: resources[memory.replicas] added", "1 to create, 1 to update"},
				before: func() { sw.set(memoryConnector(&newer, secret)) }},
			{name: "refresh a newer version", args: []string{"connector", "refresh", "memory", "--db", dbURL}, code: 0,
				want: []string{"Registered the connector memory 1.1.0 at " + vendor.URL + " again (it was 1.0.0)", "+ resource_type memory.replicas"}},
			{name: "refresh once something else answers there", args: []string{"connector", "refresh", "memory", "--db", dbURL}, code: 1,
				want: []string{"not a Marketplane connector", "GET /manifest answered 404"}, before: func() { sw.set(http.NotFoundHandler()) }},
			{name: "the list says so", args: []string{"connector", "list", "--db", dbURL}, code: 0,
				want: []string{"memory  1.1.0    refused", "memory: what answers at this URL is not a Marketplane connector"}},
		}
		for i, s := range steps {
			if s.before != nil {
				s.before()
			}
			args := s.args
			if args == nil {
				args = []string{"connector", "register", vendor.URL, "--secret", secret, "--callback-base", m.URL(), "--db", dbURL}
			}
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			all := stdout.String() + stderr.String()
			ok := code == s.code && !strings.Contains(all, secret) || s.name == "no secret"
			for _, w := range s.want {
				ok = ok && strings.Contains(all, w)
			}
			if !ok {
				t.Fatalf("step %d, %s: exit %d, want %d; output:\n%.3000s", i, s.name, code, s.code, all)
			}
			if s.name == "again, the callback through the running server" && strings.Contains(all, "Listening") {
				t.Errorf("with --callback-base alone the command must not listen:\n%s", all)
			}
		}

		// The running server registers through its API, with the callback
		// at its own address (port 0: chosen at start).
		sw.set(memoryConnector(&newer, secret))
		other := connectortest.Manifest()
		other.Name = "other"
		vendor2 := httptest.NewServer(memoryConnector(&other, "other-secret"))
		t.Cleanup(vendor2.Close)
		p, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := m.DB.CreateAPIKey(ctx, account.SystemActor(), p.ID, role.ID, "ops", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"url": vendor2.URL, "secret": "other-secret"})
		req, _ := http.NewRequest("POST", m.URL()+"/api/v1/connectors", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var reg struct {
			New     bool `json:"new"`
			Created struct {
				Template string `json:"template"`
			} `json:"created"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != 201 || !reg.New || reg.Created.Template != "other" {
			t.Fatalf("POST /api/v1/connectors: %d %+v %v", resp.StatusCode, reg, err)
		}
	})
}

// TestConnectorRegisterOntoCatalog registers a connector over a catalog
// that was there first (the demo's, imported): the office resource types
// carry the connector's keys, so the registration keeps them and the
// template; the dry run says so, and the catalog still exports and
// imports again without a change. A later manifest without storage_gb
// keeps office-storage in the template and names the plans that price it.
func TestConnectorRegisterOntoCatalog(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		dbURL := storetest.URL(t, e)
		db := storetest.OpenURL(t, dbURL)
		p := &account.Account{Name: "Marketplane Demo Provider", Address: account.Address{Country: "US"},
			Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
		if err := db.CreateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		const secret = "office-secret"
		office := connector.Manifest{Name: "office", Version: "1.0.0", Resources: []connector.ResourceSpec{
			{Key: "mailboxes", Name: map[string]string{"en": "Mailboxes"}, Unit: "mailbox", Class: connector.ClassLimit},
			{Key: "storage_gb", Name: map[string]string{"en": "Storage"}, Unit: "GB", Class: connector.ClassLimit},
		}}
		mailOnly := office
		mailOnly.Version = "2.0.0"
		mailOnly.Resources = office.Resources[:1]
		sw := &swappable{}
		sw.set(memoryConnector(&office, secret))
		vendor := httptest.NewServer(sw)
		t.Cleanup(vendor.Close)
		exported := filepath.Join(t.TempDir(), "catalog.yaml")

		register := []string{"connector", "register", vendor.URL, "--secret", secret, "--db", dbURL}
		steps := []struct {
			name   string
			args   []string
			want   []string // in stdout+stderr
			before func()
		}{
			{name: "the demo catalog", args: []string{"catalog", "import", "../../catalog/demo.yaml", "--db", dbURL},
				want: []string{"35 to create"}},
			{name: "dry run", args: append(slices.Clone(register), "--dry-run"),
				want: []string{"Dry run: the two-way check passed", "nothing was changed", "No changes.\nResource types:\n" +
					"  mailbox         ← mailboxes   kept\n" +
					"  office-storage  ← storage_gb  kept\n" +
					"Template office: unchanged.\n" +
					"No draft plan: plans are made of the template office already.\n"}},
			{name: "register", args: register,
				want: []string{"Registered the connector office 1.0.0", "No changes.\nResource types:\n", "Template office: unchanged.\n"}},
			{name: "export", args: []string{"catalog", "export", "--out", exported, "--db", dbURL}},
			{name: "import the export", args: []string{"catalog", "import", exported, "--dry-run", "--db", dbURL},
				want: []string{"Dry run", "No changes."}},
			{name: "without storage_gb (dry run)", args: []string{"connector", "refresh", "office", "--dry-run", "--db", dbURL},
				before: func() { sw.set(memoryConnector(&mailOnly, secret)) },
				want: []string{"Dry run", "No changes.\nResource types:\n  mailbox  ← mailboxes  kept\nTemplate office: unchanged.\n",
					"The connector no longer offers office-storage, which plans office-basic, office-pro, office-standard price: " +
						"it stays in the template office"}},
			{name: "without storage_gb", args: []string{"connector", "refresh", "office", "--db", dbURL},
				want: []string{"Registered the connector office 2.0.0 at " + vendor.URL + " again (it was 1.0.0)",
					"no longer offers office-storage, which plans office-basic, office-pro, office-standard price"}},
			{name: "export again", args: []string{"catalog", "export", "--out", exported, "--db", dbURL}},
			{name: "import the export again", args: []string{"catalog", "import", exported, "--dry-run", "--db", dbURL},
				want: []string{"Dry run", "No changes."}},
		}
		for i, s := range steps {
			if s.before != nil {
				s.before()
			}
			var stdout, stderr bytes.Buffer
			code := run(ctx, s.args, &stdout, &stderr)
			all := stdout.String() + stderr.String()
			ok := code == 0
			for _, w := range s.want {
				ok = ok && strings.Contains(all, w)
			}
			if !ok {
				t.Fatalf("step %d, %s: exit %d; output:\n%.3000s", i, s.name, code, all)
			}
		}
	})
}
