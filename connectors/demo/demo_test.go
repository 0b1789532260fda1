package demo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestManifestsMatchTheDemoCatalog: every template of the demo catalog has
// a demo connector of its connector's name, whose resources are exactly
// the template's resource types by connector key, with their units and
// classes, and whose description says it is a demo.
func TestManifestsMatchTheDemoCatalog(t *testing.T) {
	t.Parallel()
	doc, err := catalog.DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Manifests()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]connector.Manifest{}
	for _, m := range ms {
		byName[m.Name] = m
		if !IsDemo(m) || !strings.Contains(m.Description, "Demo service") {
			t.Errorf("%s: description %q does not say demo", m.Name, m.Description)
		}
	}
	types := map[string]catalog.ResourceType{}
	for _, rt := range doc.ResourceTypes {
		types[rt.Key] = rt
	}
	if len(ms) != len(doc.Templates) {
		t.Errorf("%d manifests for %d templates", len(ms), len(doc.Templates))
	}
	for _, tpl := range doc.Templates {
		m, ok := byName[tpl.Connector]
		if !ok {
			t.Errorf("template %s: no demo connector %q", tpl.Key, tpl.Connector)
			continue
		}
		if len(m.Resources) != len(tpl.Resources) {
			t.Errorf("%s: %d resources, template %d", m.Name, len(m.Resources), len(tpl.Resources))
		}
		for _, r := range tpl.Resources {
			rt := types[r.Resource]
			spec, ok := m.Resource(rt.Connector)
			if !ok || spec.Unit != rt.Unit || spec.Class != string(rt.Class) || spec.Name["en"] != rt.Name["en"] {
				t.Errorf("%s: resource %s (connector key %s): %+v", m.Name, rt.Key, rt.Connector, spec)
			}
		}
	}
}

// TestServiceKeepsItsPromises: a create repeated with its request id, by
// another Service value as after a restart, returns the same tenant;
// changes, suspend, resume and delete act on the row; an unknown tenant is
// not found.
func TestServiceKeepsItsPromises(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ms, err := Manifests()
		if err != nil {
			t.Fatal(err)
		}
		var office connector.Manifest
		for _, m := range ms {
			if m.Name == "office" {
				office = m
			}
		}
		svc := New(office, db.Write, db.Read)
		req := connector.CreateRequest{RequestID: "order-1", SubscriptionID: 7, AccountID: 42,
			Limits: map[string]int64{"mailboxes": 3, "storage_gb": 10}}
		a, err := svc.Create(ctx, req)
		if err != nil || a.Status != connector.StatusReady || !strings.HasPrefix(a.ID, "office-") || a.Limits["mailboxes"] != 3 {
			t.Fatalf("create: %+v %v", a, err)
		}
		b, err := New(office, db.Write, db.Read).Create(ctx, req)
		if err != nil || b.ID != a.ID {
			t.Fatalf("the repeated create made %q, the first %q (%v)", b.ID, a.ID, err)
		}
		other, err := svc.Create(ctx, connector.CreateRequest{RequestID: "order-2", Limits: map[string]int64{"mailboxes": 1}})
		if err != nil || other.ID == a.ID {
			t.Fatalf("another request id: %+v %v", other, err)
		}
		steps := []struct {
			name   string
			do     func() (connector.Tenant, error)
			status string
		}{
			{"update", func() (connector.Tenant, error) {
				return svc.Update(ctx, a.ID, connector.UpdateRequest{RequestID: "order-3", Limits: map[string]int64{"mailboxes": 8}})
			}, connector.StatusReady},
			{"suspend", func() (connector.Tenant, error) { return svc.Suspend(ctx, a.ID) }, connector.StatusSuspended},
			{"resume", func() (connector.Tenant, error) { return svc.Resume(ctx, a.ID) }, connector.StatusReady},
			{"delete", func() (connector.Tenant, error) { return svc.Delete(ctx, a.ID) }, connector.StatusDeleted},
		}
		for _, s := range steps {
			got, err := s.do()
			if err != nil || got.Status != s.status {
				t.Fatalf("%s: %+v %v", s.name, got, err)
			}
			read, err := svc.Get(ctx, a.ID)
			if err != nil || read.Status != s.status || read.Limits["mailboxes"] != 8 || read.Limits["storage_gb"] != 10 {
				t.Fatalf("get after %s: %+v %v", s.name, read, err)
			}
		}
		if _, err := svc.Suspend(ctx, a.ID); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("suspend of a deleted tenant: %v", err)
		}
		if _, err := svc.Get(ctx, "office-nothing"); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("get of an unknown tenant: %v", err)
		}
		// Another connector's tenants are none of this one's business.
		if _, err := New(ms[0], db.Write, db.Read).Get(ctx, other.ID); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("%s reads office's tenant: %v", ms[0].Name, err)
		}
	})
}

// TestStartWithoutPostgreSQL: where no PostgreSQL answers, the demo
// connectors start without postgresql and say why.
func TestStartWithoutPostgreSQL(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	s, err := Start(context.Background(), Config{DB: db, PostgresURL: "postgres://postgres:secret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Names(), ","); got != "registrar,office,kvm" {
		t.Errorf("served %s", got)
	}
	if !strings.Contains(s.Skipped, "127.0.0.1:1") || strings.Contains(s.Skipped, "secret") || !strings.Contains(s.Skipped, EnvPostgresURL) {
		t.Errorf("Skipped = %q", s.Skipped)
	}
}

// TestToPgdbaas: the demo's GB and connections become pgdbaas's MB and
// connections; the resources pgdbaas does not have are not passed on.
func TestToPgdbaas(t *testing.T) {
	t.Parallel()
	got := toPgdbaas(map[string]int64{"storage_gb": 20, "max_connections": 100, "databases": 2, "backup": 1})
	if len(got) != 2 || got["storage_mb"] != 20480 || got["connections"] != 100 {
		t.Errorf("toPgdbaas = %v", got)
	}
	if got := toPgdbaas(map[string]int64{"storage_gb": -1}); got["storage_mb"] != -1 {
		t.Errorf("unlimited storage = %v", got)
	}
	back, _ := fromPgdbaas(connector.Tenant{Limits: map[string]int64{"storage_mb": 20480, "connections": 100}}, nil)
	if back.Limits["storage_gb"] != 20 || back.Limits["max_connections"] != 100 {
		t.Errorf("fromPgdbaas = %v", back.Limits)
	}
}

// TestUsageFromPgdbaas: 7 MB of database is 0.006836 GB (7/1024 =
// 0.0068359375, rounded up to six places); sessions pass as connections.
func TestUsageFromPgdbaas(t *testing.T) {
	t.Parallel()
	got, err := usageFromPgdbaas([]connector.UsageReading{
		{Resource: "storage_mb", Value: connector.Units(7)},
		{Resource: "connections", Value: connector.Units(3)},
		{Resource: "something_else", Value: connector.Units(1)},
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("usageFromPgdbaas = %+v, %v", got, err)
	}
	if got[0].Resource != "storage_gb" || got[0].Value.String() != "0.006836" || connector.CheckValue(got[0].Value) != nil {
		t.Errorf("storage: %s %s", got[0].Resource, got[0].Value)
	}
	if got[1].Resource != "max_connections" || got[1].Value.String() != "3" {
		t.Errorf("connections: %s %s", got[1].Resource, got[1].Value)
	}
	whole, _ := usageFromPgdbaas([]connector.UsageReading{{Resource: "storage_mb", Value: connector.Units(2048)}})
	if whole[0].Value.String() != "2" {
		t.Errorf("2048 MB = %s GB", whole[0].Value)
	}
}
