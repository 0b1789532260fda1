package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func memoryManifest() connector.Manifest {
	return connector.Manifest{Name: "memory", Version: "1.0.0", Resources: []connector.ResourceSpec{
		{Key: "disk", Name: map[string]string{"en": "Disk"}, Unit: "GB", Class: connector.ClassLimit}}}
}

func TestConnectorCRUD(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		_, support := ct.user(t, ct.P, "support-p", ct.support)
		c := &store.Connector{Name: "memory", URL: "http://memory.test:8080", Secret: "s3cret", Manifest: memoryManifest()}

		// Only the provider's catalog managers register; resellers, even
		// their administrators, see nothing either.
		for _, who := range []struct {
			name string
			err  error
		}{
			{"reseller", db.CreateConnector(ctx, ct.a, c)},
			{"customer", db.CreateConnector(ctx, ct.c, c)},
			{"provider support", db.CreateConnector(ctx, support, c)},
		} {
			if marketplane.ErrorCode(who.err) != marketplane.EFORBIDDEN {
				t.Errorf("%s creates: %v", who.name, who.err)
			}
		}
		if err := db.CreateConnector(ctx, ct.p, &store.Connector{Name: "Bad Name", URL: "ftp://x", Manifest: memoryManifest()}); marketplane.ErrorCode(err) != marketplane.EINVALID ||
			!strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "url") || !strings.Contains(err.Error(), "manifest.name") {
			t.Errorf("invalid connector: %v", err)
		}
		if err := db.CreateConnector(ctx, ct.p, c); err != nil {
			t.Fatal(err)
		}
		if c.ID == 0 || c.Version != 1 || c.Status != store.ConnectorRegistered || c.OwnerID != ct.P.ID {
			t.Fatalf("created %+v", c)
		}
		if err := db.CreateConnector(ctx, ct.p, &store.Connector{Name: "memory", URL: "http://other", Secret: "x", Manifest: memoryManifest()}); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			t.Errorf("second connector with the name: %v", err)
		}

		got, err := db.Connector(ctx, support, "memory")
		if err != nil || got.Secret != "" || got.URL != c.URL || got.Manifest.Resources[0].Key != "disk" || got.Version != 1 {
			t.Fatalf("read by provider support: %+v, %v", got, err)
		}
		list, err := db.Connectors(ctx, ct.p)
		if err != nil || len(list) != 1 || list[0].Secret != "" {
			t.Fatalf("list %+v, %v", list, err)
		}
		if _, err := db.Connectors(ctx, ct.a); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("reseller lists: %v", err)
		}
		if _, err := db.Connector(ctx, ct.a, "memory"); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("reseller reads: %v", err)
		}
		if _, err := db.Connector(ctx, ct.a, "nope"); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("reseller reads a missing one (must look the same): %v", err)
		}
		if _, err := db.Connector(ctx, ct.p, "nope"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("missing: %v", err)
		}
		if s, err := db.ConnectorSecret(ctx, "memory"); s != "s3cret" || err != nil {
			t.Errorf("secret %q, %v", s, err)
		}
		if _, err := db.ConnectorSecret(ctx, "nope"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("secret of a missing connector: %v", err)
		}

		// Updates: optimistic; an empty secret keeps the stored one.
		got.URL = "https://memory.test"
		got.Manifest.Version = "1.1.0"
		if err := db.UpdateConnector(ctx, ct.p, got); err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 {
			t.Errorf("version after update %d", got.Version)
		}
		if s, _ := db.ConnectorSecret(ctx, "memory"); s != "s3cret" {
			t.Errorf("an update without a secret changed it to %q", s)
		}
		got.Version = 1
		if err := db.UpdateConnector(ctx, ct.p, got); marketplane.ErrorCode(err) != marketplane.EPRECONDITION {
			t.Errorf("stale update: %v", err)
		}
		got.Version, got.Secret = 2, "rotated"
		if err := db.UpdateConnector(ctx, ct.p, got); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.ConnectorSecret(ctx, "memory"); s != "rotated" {
			t.Errorf("secret after rotation %q", s)
		}
		if err := db.UpdateConnector(ctx, ct.a, got); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Errorf("reseller updates: %v", err)
		}

		// Status: recorded without a new version.
		if err := db.SetConnectorStatus(ctx, ct.p, "memory", store.ConnectorUnreachable, "connection refused"); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Connector(ctx, ct.p, "memory")
		if got.Status != store.ConnectorUnreachable || got.StatusMessage != "connection refused" || got.Version != 3 || got.LastCheckedAt.IsZero() {
			t.Errorf("after SetConnectorStatus: %+v", got)
		}
		if err := db.SetConnectorStatus(ctx, ct.p, "memory", "weird", ""); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("unknown status: %v", err)
		}
		if err := db.SetConnectorStatus(ctx, ct.p, "nope", store.ConnectorRefused, ""); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("status of a missing connector: %v", err)
		}

		// The audit log tells of the changes, never of the secret.
		var n int
		if err := db.Read.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE entity = 'connector'`).Scan(&n); err != nil || n != 3 {
			t.Errorf("audit entries %d, %v", n, err)
		}
		rows, err := db.Read.Query(`SELECT changes FROM audit_log WHERE entity = 'connector'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var ch string
			rows.Scan(&ch)
			if strings.Contains(ch, "s3cret") || strings.Contains(ch, "rotated") {
				t.Errorf("the audit log shows a secret: %s", ch)
			}
		}
	})
}

// desired is a Desired function that makes the resource types of the
// manifest's resources, a template and, for a new connector, a plan.
func desired(m connector.Manifest) func(*store.Connector, *store.ConnectorCatalog) (*store.ConnectorCatalog, error) {
	return func(stored *store.Connector, cur *store.ConnectorCatalog) (*store.ConnectorCatalog, error) {
		out := &store.ConnectorCatalog{Template: &catalog.Template{Key: m.Name, Name: catalog.Text{"en": m.Name}, Connector: m.Name}}
		for _, r := range m.Resources {
			key := m.Name + "." + r.Key
			out.ResourceTypes = append(out.ResourceTypes, catalog.ResourceType{Key: key, Name: r.Name, Unit: r.Unit,
				Class: catalog.Class(r.Class), Connector: r.Key})
			out.Template.Resources = append(out.Template.Resources, catalog.TemplateResource{Resource: key, Limit: -1})
		}
		if stored == nil {
			out.Plan = &catalog.Plan{Key: m.Name + "-starter", Template: m.Name, Name: catalog.Text{"en": "Starter"},
				Billing: catalog.ChargeInAdvance, Periods: []catalog.Period{{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
					Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod}}}
		}
		return out, nil
	}
}

func TestRegisterConnector(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := context.Background()
		m := memoryManifest()
		setup := store.ConnectorSetup{Connector: store.Connector{Name: "memory", URL: "http://memory.test", Secret: "s", Manifest: m},
			Desired: desired(m), DryRun: true}

		res, err := db.RegisterConnector(ctx, ct.p, setup)
		if err != nil {
			t.Fatal(err)
		}
		if res.Previous != nil || len(res.Changes) != 3 || res.PlanID != 0 || res.Connector.ID != 0 || res.Connector.Secret != "" {
			t.Fatalf("dry run %+v", res)
		}
		if _, err := db.Connector(ctx, ct.p, "memory"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("the dry run stored the connector: %v", err)
		}
		if n := count(t, db, "resource_types"); n != 3 {
			t.Fatalf("the dry run stored resource types: %d", n)
		}

		setup.DryRun = false
		if _, err := db.RegisterConnector(ctx, ct.a, setup); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Fatalf("a reseller registers: %v", err)
		}
		res, err = db.RegisterConnector(ctx, ct.p, setup)
		if err != nil {
			t.Fatal(err)
		}
		if res.PlanID == 0 || res.Connector.ID == 0 || res.Connector.Status != store.ConnectorRegistered {
			t.Fatalf("registered %+v", res)
		}
		plan, err := db.Plan(ctx, ct.p, res.PlanID)
		if err != nil || plan.Currency != "USD" || plan.Published {
			t.Fatalf("plan %+v, %v", plan, err)
		}

		// Again: nothing to do, no new version.
		res, err = db.RegisterConnector(ctx, ct.p, setup)
		if err != nil || len(res.Changes) != 0 || res.Previous == nil || res.Connector.Version != 1 {
			t.Fatalf("again: %+v, %v", res, err)
		}

		// Another URL for the name: refused.
		other := setup
		other.Connector.URL = "http://elsewhere.test"
		if _, err := db.RegisterConnector(ctx, ct.p, other); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			t.Errorf("another URL: %v", err)
		}

		// A template with the connector's name bound to another connector.
		office := connector.Manifest{Name: "office", Version: "1", Resources: m.Resources}
		if _, err := db.RegisterConnector(ctx, ct.p, store.ConnectorSetup{Connector: store.Connector{Name: "office", URL: "http://office.test",
			Secret: "s", Manifest: office}, Desired: desired(office)}); marketplane.ErrorCode(err) != marketplane.ECONFLICT ||
			!strings.Contains(err.Error(), `bound to connector "office365"`) {
			t.Errorf("template of another connector: %v", err)
		}

		// An invalid resource type is named by its place; nothing stays.
		broken := connector.Manifest{Name: "broken", Version: "1", Resources: []connector.ResourceSpec{
			{Key: "x", Name: map[string]string{"not a tag!": "X"}, Unit: "u", Class: connector.ClassLimit}}}
		before := count(t, db, "resource_types")
		_, err = db.RegisterConnector(ctx, ct.p, store.ConnectorSetup{Connector: store.Connector{Name: "broken", URL: "http://broken.test",
			Secret: "s", Manifest: broken}, Desired: desired(broken)})
		var e *marketplane.Error
		if marketplane.ErrorCode(err) != marketplane.EINVALID || !errors.As(err, &e) || e.Fields["resource_types[broken.x].name"] == "" {
			t.Errorf("invalid resource type: %#v", err)
		}
		if count(t, db, "resource_types") != before || count(t, db, "connectors") != 1 {
			t.Errorf("a refused registration stored something")
		}

		// A plan with the draft plan's key exists: kept as it is.
		if err := db.CreatePlan(ctx, ct.p, officePlan(ct.P.ID, "third-starter")); err != nil {
			t.Fatal(err)
		}
		third := connector.Manifest{Name: "third", Version: "1", Resources: m.Resources}
		res, err = db.RegisterConnector(ctx, ct.p, store.ConnectorSetup{Connector: store.Connector{Name: "third", URL: "http://third.test",
			Secret: "s", Manifest: third}, Desired: desired(third)})
		if err != nil || res.PlanKept != "third-starter" || res.PlanID != 0 || len(res.Changes) != 2 {
			t.Errorf("plan kept: %+v, %v", res, err)
		}
	})
}

// A registration never takes out of a template a resource type that plans
// made of it price, whatever its Desired function says: it is refused,
// naming the plans, and nothing is stored.
func TestRegisterConnectorKeepsPricedResources(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := context.Background()
		if err := db.CreatePlan(ctx, ct.p, officePlan(ct.P.ID, "office-basic")); err != nil {
			t.Fatal(err)
		}
		m := connector.Manifest{Name: "office365", Version: "1", Resources: []connector.ResourceSpec{
			{Key: "storage_gb", Name: map[string]string{"en": "Storage"}, Unit: "GB", Class: connector.ClassLimit}}}
		var seen *store.ConnectorCatalog
		dropMailbox := func(_ *store.Connector, cur *store.ConnectorCatalog) (*store.ConnectorCatalog, error) {
			seen = cur
			tpl := *cur.Template
			tpl.Resources = []catalog.TemplateResource{{Resource: "storage", Limit: -1}}
			return &store.ConnectorCatalog{ResourceTypes: cur.ResourceTypes, Template: &tpl}, nil
		}
		before := count(t, db, "connectors")
		for _, dry := range []bool{true, false} {
			_, err := db.RegisterConnector(ctx, ct.p, store.ConnectorSetup{Connector: store.Connector{Name: "office365",
				URL: "http://office.test", Secret: "s", Manifest: m}, Desired: dropMailbox, DryRun: dry})
			var e *marketplane.Error
			if !errors.As(err, &e) || e.Code != marketplane.ECONFLICT || !strings.Contains(e.Message, "mailbox (priced by office-basic)") ||
				e.Fields["templates[office].resources[mailbox]"] == "" {
				t.Errorf("dry run %v: a priced resource out of the template: %#v", dry, err)
			}
		}
		// The store found the template by its binding (its key is not the
		// connector's name) and told Desired who prices what.
		if seen == nil || seen.Template.Key != "office" || strings.Join(seen.Plans, ",") != "office-basic" ||
			strings.Join(seen.PricedBy["mailbox"], ",") != "office-basic" || len(seen.ResourceTypes) != 2 {
			t.Errorf("current catalog given to Desired: %+v", seen)
		}
		if count(t, db, "connectors") != before {
			t.Errorf("a refused registration stored the connector")
		}
		tpl, err := db.Template(ctx, ct.p, "office")
		if err != nil || len(tpl.Resources) != 2 {
			t.Errorf("template after the refusal: %+v, %v", tpl, err)
		}
	})
}
