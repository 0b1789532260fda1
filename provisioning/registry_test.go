package provisioning_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connector/connectortest"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

const regSecret = "registration-secret"

// site is a database with a provider, its catalog manager and a
// reseller's, and the platform's callback endpoint served on loopback.
type site struct {
	db               *store.DB
	provider         *account.Account
	admin, reseller  *account.Actor
	callbackBase     string
	ctx              context.Context
	providerCurrency string
}

func newSite(t *testing.T, db *store.DB) *site {
	t.Helper()
	ctx := context.Background()
	p := &site{db: db, ctx: ctx, providerCurrency: "EUR"}
	p.provider = &account.Account{Name: "Provider", Address: account.Address{Country: "DE"}, Locale: "de-DE", Currency: "EUR", TimeZone: "UTC"}
	if err := db.CreateProvider(ctx, p.provider); err != nil {
		t.Fatal(err)
	}
	res := &account.Account{Kind: account.Reseller, ParentID: p.provider.ID, Name: "Reseller", Address: account.Address{Country: "DE"},
		Locale: "de-DE", Currency: "EUR", TimeZone: "UTC"}
	if err := db.CreateAccount(ctx, account.SystemActor(), res); err != nil {
		t.Fatal(err)
	}
	role, err := db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	actor := func(a *account.Account, login string) *account.Actor {
		u := &account.User{AccountID: a.ID, Login: login, RoleIDs: []int64{role.ID}}
		if err := db.CreateUser(ctx, account.SystemActor(), u, "password of "+login); err != nil {
			t.Fatal(err)
		}
		act, err := db.ActorForUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	p.admin, p.reseller = actor(p.provider, "provider-admin"), actor(res, "reseller-admin")
	mux := http.NewServeMux()
	mux.Handle("POST "+provisioning.CallbackPath, provisioning.CallbackHandler(db))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.callbackBase = srv.URL
	return p
}

// request is a registration of the connector at u with the test's options.
func (p *site) request(u, secret string) provisioning.RegisterRequest {
	return provisioning.RegisterRequest{URL: u, Secret: secret, CallbackBase: p.callbackBase,
		Client: provisioning.Options{Timeout: 2 * time.Second, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}}
}

func (p *site) register(t *testing.T, req provisioning.RegisterRequest) *provisioning.Registration {
	t.Helper()
	reg, err := provisioning.Register(p.ctx, p.db, p.admin, req)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg
}

// counts are the rows of the tables a registration writes.
func (p *site) counts(t *testing.T) string {
	t.Helper()
	var out []string
	for _, table := range []string{"connectors", "resource_types", "templates", "plans", "connector_checks"} {
		var n int
		if err := p.db.Read.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

// fakeConnector is a connector on loopback whose handler can be swapped
// (a new version deployed at the same URL) and which counts its requests.
type fakeConnector struct {
	URL  string
	h    atomic.Pointer[http.Handler]
	hits atomic.Int64
}

func serveConnector(t *testing.T, h http.Handler) *fakeConnector {
	t.Helper()
	fc := &fakeConnector{}
	fc.set(h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fc.hits.Add(1)
		(*fc.h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	fc.URL = srv.URL
	return fc
}

func (fc *fakeConnector) set(h http.Handler) { fc.h.Store(&h) }

// sdk serves mem with the SDK and secret.
func sdk(mem *connectortest.Memory, secret string) http.Handler {
	return connector.Handler(mem, connector.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)})
}

// withSpec is the memory connector with manifest m.
func withSpec(m connector.Manifest) *connectortest.Memory { return &connectortest.Memory{Spec: &m} }

// impostor answers as a connector that holds another secret: it takes the
// platform's requests without checking their signature and passes them on,
// signed with its own secret, to a real connector started with that secret,
// which then signs its callback with it.
func impostor(other string) http.Handler {
	inner := sdk(&connectortest.Memory{}, other)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		connector.SignRequest(r2, other, r.Header.Get(connector.HeaderRequestID), body, time.Now())
		inner.ServeHTTP(w, r2)
	})
}

// echo is a connector that serves a manifest and answers pings with the
// nonce, without ever calling back: it checks no signature either.
func echo(m connector.Manifest) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/manifest":
			writeJSON(w, m)
		case "/ping":
			var p connector.PingRequest
			readJSON(r, &p)
			writeJSON(w, connector.PingReply{Nonce: p.Nonce})
		default:
			w.WriteHeader(404)
		}
	})
}

func TestRegisterAndReregister(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newSite(t, db)
		m := connectortest.Manifest()
		fc := serveConnector(t, sdk(withSpec(m), regSecret))

		// A new connector: the connector, its resource types, template
		// and draft plan.
		reg := p.register(t, p.request(fc.URL+"/", regSecret))
		if !reg.New() || reg.DryRun || reg.Connector.Name != "memory" || reg.Connector.URL != fc.URL || reg.Connector.Secret != "" {
			t.Fatalf("registration %+v, connector %+v", reg, reg.Connector)
		}
		wantRTs := []string{"memory.backups", "memory.connections", "memory.requests", "memory.storage_mb"}
		if !slices.Equal(reg.Created.ResourceTypes, wantRTs) || reg.Created.Template != "memory" ||
			reg.Created.Plan != "memory-starter" || reg.Created.PlanID == 0 {
			t.Fatalf("created %+v", reg.Created)
		}
		c, err := db.Connector(p.ctx, p.admin, "memory")
		if err != nil || c.Status != store.ConnectorRegistered || c.Manifest.Version != "1.0.0" || c.Version != 1 ||
			c.LastCheckedAt.IsZero() || c.Secret != "" || len(c.Manifest.Parameters) != 2 {
			t.Fatalf("stored connector %+v, %v", c, err)
		}
		if s, err := db.ConnectorSecret(p.ctx, "memory"); s != regSecret || err != nil {
			t.Fatalf("secret %q, %v", s, err)
		}
		rt, err := db.ResourceType(p.ctx, p.admin, "memory.storage_mb")
		if err != nil || rt.Unit != "MB" || rt.Class != catalog.ClassLimit || rt.Connector != "storage_mb" || rt.Name["en"] != "Storage" {
			t.Fatalf("resource type %+v, %v", rt, err)
		}
		if rt, _ := db.ResourceType(p.ctx, p.admin, "memory.requests"); rt == nil || rt.Class != catalog.ClassCounter {
			t.Fatalf("counter resource type %+v", rt)
		}
		tpl, err := db.Template(p.ctx, p.admin, "memory")
		if err != nil || tpl.Connector != "memory" {
			t.Fatalf("template %+v, %v", tpl, err)
		}
		if got := fmt.Sprint(tpl.Resources); got != "[{memory.storage_mb -1} {memory.connections -1} {memory.requests -1} {memory.backups 0}]" {
			t.Errorf("template resources %s", got)
		}
		plan, err := db.Plan(p.ctx, p.admin, reg.Created.PlanID)
		if err != nil || plan.Published || plan.Template != "memory" || plan.Currency != "EUR" || len(plan.Periods) != 1 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		pe := plan.Periods[0]
		if pe.Key != "1m" || pe.Recurring.Amount != 0 || pe.Setup.Amount != 0 || !pe.ShowZeroPrice {
			t.Errorf("period %+v", pe)
		}
		var rates []string
		for _, r := range plan.Rates {
			rates = append(rates, fmt.Sprintf("%s %d/%d/%d %s", r.Key, r.Included, r.Min, r.Max, r.Recurring.Amount))
		}
		if got := strings.Join(rates, ", "); got != "memory.storage_mb 0/0/-1 0.00, memory.connections 0/0/-1 0.00" {
			t.Errorf("rates: %s", got)
		}
		before := p.counts(t)
		if before != "connectors=1 resource_types=4 templates=1 plans=1 connector_checks=0" {
			t.Fatalf("after registration: %s", before)
		}

		// The same manifest again: nothing changes.
		again := p.register(t, p.request(fc.URL, regSecret))
		if again.New() || len(again.Changes) != 0 || again.ManifestChanged() || again.Created.Template != "" || again.Connector.Version != 1 {
			t.Fatalf("second registration %+v", again)
		}
		if rt, _ := db.ResourceType(p.ctx, p.admin, "memory.storage_mb"); rt.Version != 1 {
			t.Errorf("resource type version %d after the same manifest", rt.Version)
		}
		if after := p.counts(t); after != before {
			t.Errorf("after the same manifest: %s, before %s", after, before)
		}

		// The provider's own edits survive later registrations.
		tpl.Resources[0].Limit = 100
		tpl.Name = catalog.Text{"en": "In-memory databases"}
		if err := db.UpdateTemplate(p.ctx, p.admin, tpl); err != nil {
			t.Fatal(err)
		}
		rt.Name["de"] = "Speicher"
		if err := db.UpdateResourceType(p.ctx, p.admin, rt); err != nil {
			t.Fatal(err)
		}

		// A newer manifest with a new resource: a dry run shows it and
		// changes nothing; then it is applied.
		m2 := connectortest.Manifest()
		m2.Version = "1.1.0"
		m2.Resources = append(m2.Resources, connector.ResourceSpec{Key: "replicas", Name: map[string]string{"en": "Replicas"},
			Unit: "replica", Class: connector.ClassLimit})
		m2.Resources[0].Name = map[string]string{"en": "Disk"}
		fc.set(sdk(withSpec(m2), regSecret))
		dry := p.request(fc.URL, regSecret)
		dry.DryRun = true
		preview := p.register(t, dry)
		var diff bytes.Buffer
		catalog.FormatDiff(&diff, preview.Changes)
		wantDiff := "+ resource_type memory.replicas\n" +
			"~ resource_type memory.storage_mb: name.en Storage → Disk\n" +
			"~ template memory: resources[memory.replicas] added {\"resource\":\"memory.replicas\",\"limit\":-1}\n" +
			"1 to create, 2 to update, 0 to delete\n"
		if !preview.DryRun || preview.New() || !preview.ManifestChanged() || diff.String() != wantDiff {
			t.Fatalf("dry run %+v:\n%s\nwant\n%s", preview, diff.String(), wantDiff)
		}
		if _, err := db.ResourceType(p.ctx, p.admin, "memory.replicas"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("the dry run created the resource type: %v", err)
		}
		if c, _ := db.Connector(p.ctx, p.admin, "memory"); c.Manifest.Version != "1.0.0" || c.Version != 1 {
			t.Fatalf("the dry run changed the connector: %+v", c)
		}
		applied := p.register(t, p.request(fc.URL, regSecret))
		if !slices.Equal(applied.Created.ResourceTypes, []string{"memory.replicas"}) || len(applied.Changes) != 3 {
			t.Fatalf("applied %+v", applied)
		}
		c, _ = db.Connector(p.ctx, p.admin, "memory")
		if c.Manifest.Version != "1.1.0" || c.Version != 2 || len(c.Manifest.Resources) != 5 {
			t.Errorf("connector after the newer manifest: %+v", c)
		}
		tpl, _ = db.Template(p.ctx, p.admin, "memory")
		if got := fmt.Sprint(tpl.Name, tpl.Resources); got != "map[en:In-memory databases] [{memory.storage_mb 100} {memory.connections -1} {memory.requests -1} {memory.backups 0} {memory.replicas -1}]" {
			t.Errorf("template after the newer manifest: %s", got)
		}
		rt, _ = db.ResourceType(p.ctx, p.admin, "memory.storage_mb")
		if rt.Name["en"] != "Disk" || rt.Name["de"] != "Speicher" {
			t.Errorf("names after the newer manifest: %v", rt.Name)
		}
		if plan, _ := db.Plan(p.ctx, p.admin, reg.Created.PlanID); len(plan.Rates) != 2 || plan.Version != 1 {
			t.Errorf("a registration changed the plan: %+v", plan)
		}

		// A manifest without a resource the draft plan prices: it stays
		// in the template, named with the plan, so the plan stays valid.
		m3 := m2
		m3.Version = "2.0.0"
		m3.Resources = slices.DeleteFunc(slices.Clone(m2.Resources), func(r connector.ResourceSpec) bool { return r.Key == "storage_mb" })
		fc.set(sdk(withSpec(m3), regSecret))
		kept := p.register(t, p.request(fc.URL, regSecret))
		if len(kept.Retired) != 0 || len(kept.Changes) != 0 || fmt.Sprint(kept.Unoffered) != "[{memory.storage_mb [memory-starter]}]" {
			t.Fatalf("dropping a priced resource: %+v", kept)
		}
		// Without one no plan prices (a counter): it leaves the template,
		// the resource type stays.
		m4 := m3
		m4.Version = "2.1.0"
		m4.Resources = slices.DeleteFunc(slices.Clone(m3.Resources), func(r connector.ResourceSpec) bool { return r.Key == "requests" })
		fc.set(sdk(withSpec(m4), regSecret))
		dropped := p.register(t, p.request(fc.URL, regSecret))
		if !slices.Equal(dropped.Retired, []string{"memory.requests"}) || len(dropped.Changes) != 1 ||
			dropped.Changes[0].Kind != catalog.KindTemplate {
			t.Fatalf("dropping a resource: %+v", dropped)
		}
		if _, err := db.ResourceType(p.ctx, p.admin, "memory.requests"); err != nil {
			t.Errorf("the retired resource type is gone: %v", err)
		}
		tpl, _ = db.Template(p.ctx, p.admin, "memory")
		if got := fmt.Sprint(tpl.Resources); got != "[{memory.storage_mb 100} {memory.connections -1} {memory.backups 0} {memory.replicas -1}]" {
			t.Errorf("template at the end: %s", got)
		}
		if got := p.counts(t); got != "connectors=1 resource_types=5 templates=1 plans=1 connector_checks=0" {
			t.Errorf("at the end: %s", got)
		}
	})
}

func TestRegisterRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newSite(t, db)
		empty := p.counts(t)
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		bad := connectortest.Manifest()
		bad.Version = ""
		bad.Resources[1].Key = "Connections"
		bad.Resources[2].Unit = ""
		long := connectortest.Manifest()
		long.Name = strings.Repeat("n", 50)
		long.Resources[0].Key = strings.Repeat("k", 20)

		for _, c := range []struct {
			name    string
			handler http.Handler // the connector at the URL; nil: nobody listens
			secret  string
			base    string // the callback base; "" is the platform's
			actor   *account.Actor
			code    string
			want    []string // in the error's text
			fields  []string // the error's fields
			silent  bool     // the connector got no request
		}{
			{name: "wrong secret", handler: sdk(&connectortest.Memory{}, regSecret), secret: "not-the-secret",
				code: marketplane.EINVALID, want: []string{"the connector refused our signature: check the secret"}, fields: []string{"secret"}},
			{name: "forged callback", handler: impostor("the-impostor's-secret"), secret: regSecret,
				code: marketplane.EUNAUTHORIZED, want: []string{"two-way check failed", "was not signed with the secret given", "bad signature"}},
			{name: "callback never arrives", handler: sdk(&connectortest.Memory{}, regSecret), secret: regSecret, base: closed.URL,
				code: marketplane.EUNAUTHORIZED, want: []string{"two-way check failed", "could not call the platform back at " + closed.URL + "/connector-callback"}},
			{name: "ping answered without a callback", handler: echo(connectortest.Manifest()), secret: regSecret,
				code: marketplane.EUNAUTHORIZED, want: []string{"two-way check failed", "no signed callback reached"}},
			{name: "unreachable", secret: regSecret,
				code: marketplane.EUNAVAILABLE, want: []string{"cannot be reached", "connection refused"}},
			{name: "invalid manifest", handler: echo(bad), secret: regSecret, code: marketplane.EINVALID,
				want:   []string{"manifest is invalid"},
				fields: []string{"manifest.resources[1].key", "manifest.resources[2].unit", "manifest.version"}},
			{name: "keys too long", handler: echo(long), secret: regSecret, code: marketplane.EINVALID,
				fields: []string{"manifest.resources[0].key"}},
			{name: "not a connector", handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html>hello</html>")
			}), secret: regSecret, code: marketplane.EINVALID, want: []string{"not a Marketplane connector", "text/html"}, fields: []string{"url"}},
			{name: "no connector at the path", handler: http.NotFoundHandler(), secret: regSecret, code: marketplane.EINVALID,
				want: []string{"answered 404"}, fields: []string{"url"}},
			{name: "a reseller", handler: sdk(&connectortest.Memory{}, regSecret), secret: regSecret, actor: p.reseller,
				code: marketplane.EFORBIDDEN, silent: true},
			{name: "bad callback base", handler: sdk(&connectortest.Memory{}, regSecret), secret: regSecret, base: "/relative",
				code: marketplane.EINVALID, fields: []string{"callback_base"}, silent: true},
		} {
			t.Run(c.name, func(t *testing.T) {
				u := closed.URL
				var fc *fakeConnector
				if c.handler != nil {
					fc = serveConnector(t, c.handler)
					u = fc.URL
				}
				req := p.request(u, c.secret)
				if c.base != "" {
					req.CallbackBase = c.base
				}
				actor := p.admin
				if c.actor != nil {
					actor = c.actor
				}
				reg, err := provisioning.Register(p.ctx, db, actor, req)
				t.Logf("%v", err)
				if code := marketplane.ErrorCode(err); code != c.code || reg != nil {
					t.Fatalf("Register = %+v, %v (code %q), want code %q", reg, err, code, c.code)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				var e *marketplane.Error
				errors.As(err, &e)
				var fields []string
				for k := range e.Fields {
					fields = append(fields, k)
				}
				slices.Sort(fields)
				if !slices.Equal(fields, c.fields) {
					t.Errorf("fields %v, want %v (%v)", e.Fields, c.fields, err)
				}
				if strings.Contains(err.Error(), c.secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
				if fc != nil && c.silent && fc.hits.Load() != 0 {
					t.Errorf("the connector was called %d times", fc.hits.Load())
				}
				if got := p.counts(t); got != empty {
					t.Errorf("stored: %s", got)
				}
			})
		}
		var un *provisioning.UnreachableError
		_, err := provisioning.Register(p.ctx, db, p.admin, p.request(closed.URL, regSecret))
		if !errors.As(err, &un) || un.URL != closed.URL {
			t.Errorf("unreachable: %#v", err)
		}
	})
}

func TestRegisterNameTakenAndRefresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newSite(t, db)
		first := serveConnector(t, sdk(&connectortest.Memory{}, regSecret))
		p.register(t, p.request(first.URL, regSecret))
		before := p.counts(t)

		// Another connector calling itself "memory" elsewhere.
		second := serveConnector(t, sdk(&connectortest.Memory{}, "second-secret"))
		hits := second.hits.Load()
		_, err := provisioning.Register(p.ctx, db, p.admin, p.request(second.URL, "second-secret"))
		if marketplane.ErrorCode(err) != marketplane.ECONFLICT || !strings.Contains(err.Error(), "registered at "+first.URL) {
			t.Fatalf("name taken: %v", err)
		}
		if second.hits.Load() != hits+1 {
			t.Errorf("the second connector got %d requests; only its manifest should be read", second.hits.Load()-hits)
		}
		if got := p.counts(t); got != before {
			t.Errorf("after the conflict: %s, before %s", got, before)
		}

		// Refresh with the stored URL and secret.
		refresh := provisioning.RegisterRequest{Name: "memory", CallbackBase: p.callbackBase,
			Client: provisioning.Options{Retries: -1}}
		reg, err := provisioning.Refresh(p.ctx, db, p.admin, refresh)
		if err != nil || len(reg.Changes) != 0 || reg.New() {
			t.Fatalf("refresh = %+v, %v", reg, err)
		}
		// The connector goes away: the refresh fails and says so in its
		// status; a dry run records nothing.
		first.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
		dry := refresh
		dry.DryRun = true
		if _, err := provisioning.Refresh(p.ctx, db, p.admin, dry); marketplane.ErrorCode(err) != marketplane.EUNAVAILABLE {
			t.Fatalf("dry refresh of a connector that is down: %v", err)
		}
		if c, _ := db.Connector(p.ctx, p.admin, "memory"); c.Status != store.ConnectorRegistered {
			t.Fatalf("a dry run recorded status %s", c.Status)
		}
		if _, err := provisioning.Refresh(p.ctx, db, p.admin, refresh); marketplane.ErrorCode(err) != marketplane.EUNAVAILABLE {
			t.Fatalf("refresh of a connector that is down: %v", err)
		}
		c, _ := db.Connector(p.ctx, p.admin, "memory")
		if c.Status != store.ConnectorUnreachable || !strings.Contains(c.StatusMessage, "503") || c.Version != 1 {
			t.Fatalf("status after a failed refresh: %+v", c)
		}
		// It comes back with another secret (the operator changed it):
		// refused; then as it was: registered again.
		first.set(sdk(&connectortest.Memory{}, "rotated"))
		if _, err := provisioning.Refresh(p.ctx, db, p.admin, refresh); marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Fatalf("refresh with the old secret: %v", err)
		}
		if c, _ := db.Connector(p.ctx, p.admin, "memory"); c.Status != store.ConnectorRefused || !strings.Contains(c.StatusMessage, "check the secret") {
			t.Fatalf("status after a refused refresh: %+v", c)
		}
		// Registering with the new secret stores it.
		p.register(t, p.request(first.URL, "rotated"))
		if s, _ := db.ConnectorSecret(p.ctx, "memory"); s != "rotated" {
			t.Errorf("secret after re-registration %q", s)
		}
		c, _ = db.Connector(p.ctx, p.admin, "memory")
		if c.Status != store.ConnectorRegistered || c.StatusMessage != "" || c.Version != 2 {
			t.Errorf("after re-registration with a new secret: %+v", c)
		}
		// A URL that now serves another connector is not refreshed.
		other := connectortest.Manifest()
		other.Name = "other"
		first.set(sdk(withSpec(other), "rotated"))
		if _, err := provisioning.Refresh(p.ctx, db, p.admin, refresh); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			t.Fatalf("refresh of a URL that serves another connector: %v", err)
		}
		if _, err := provisioning.Refresh(p.ctx, db, p.reseller, refresh); marketplane.ErrorCode(err) != marketplane.EFORBIDDEN {
			t.Fatalf("refresh by a reseller: %v", err)
		}
		refresh.Name = "nope"
		if _, err := provisioning.Refresh(p.ctx, db, p.admin, refresh); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("refresh of an unknown connector: %v", err)
		}
	})
}

func TestCallbackHandler(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// The store keeps times to the microsecond: a clock on one makes a
		// check's expiry fall exactly on the clock's ticks.
		clock := marketplane.NewTestClock(time.Now().Truncate(time.Microsecond))
		db.Clock = clock
		h := provisioning.CallbackHandler(db)
		send := func(method, body, secret string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, provisioning.CallbackPath, strings.NewReader(body))
			if secret != "" {
				connector.SignRequest(r, secret, "ping-1", []byte(body), time.Now())
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		cb := `{"nonce":"n-1","name":"memory","version":"1.0.0"}`
		for _, c := range []struct {
			name, method, body, secret string
			status                     int
		}{
			{"GET", "GET", "", "", 405},
			{"not JSON", "POST", "hello", regSecret, 400},
			{"no nonce", "POST", `{"name":"memory"}`, regSecret, 400},
			{"nobody waits", "POST", cb, regSecret, 404},
		} {
			if w := send(c.method, c.body, c.secret); w.Code != c.status {
				t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.status)
			}
		}
		if err := db.StartConnectorCheck(ctx, "n-1", regSecret, time.Minute); err != nil {
			t.Fatal(err)
		}
		if w := send("POST", cb, ""); w.Code != 401 {
			t.Errorf("unsigned: %d %s", w.Code, w.Body)
		}
		chk, err := db.ConnectorCheck(ctx, "n-1")
		if err != nil || chk.Status != store.CheckRefused || chk.Detail != "not signed" {
			t.Fatalf("after an unsigned callback: %+v, %v", chk, err)
		}
		if w := send("POST", cb, regSecret); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
			t.Fatalf("good callback: %d %s", w.Code, w.Body)
		}
		if w := send("POST", cb, "forger"); w.Code != 401 {
			t.Errorf("forged after the good one: %d %s", w.Code, w.Body)
		}
		chk, _ = db.ConnectorCheck(ctx, "n-1")
		if chk.Status != store.CheckConfirmed || chk.CallbackName != "memory" || chk.CallbackVersion != "1.0.0" {
			t.Errorf("after a good callback and a forged one: %+v", chk)
		}
		// Checks expire at their end: then they are not found, and go with
		// the next start.
		if err := db.StartConnectorCheck(ctx, "n-2", regSecret, time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute - time.Second)
		if _, err := db.ConnectorCheck(ctx, "n-2"); err != nil {
			t.Errorf("check a second before it expires: %v", err)
		}
		clock.Advance(time.Second)
		if _, err := db.ConnectorCheck(ctx, "n-2"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("expired check: %v", err)
		}
		clock.Advance(time.Second)
		if err := db.StartConnectorCheck(ctx, "n-3", regSecret, time.Minute); err != nil {
			t.Fatal(err)
		}
		var n int
		db.Read.QueryRow(`SELECT COUNT(*) FROM connector_checks WHERE nonce = 'n-2'`).Scan(&n)
		if n != 0 {
			t.Errorf("the expired check was kept")
		}
	})
}

func TestDesiredCatalog(t *testing.T) {
	t.Parallel()
	m := connectortest.Manifest()
	// New: everything from the manifest, booleans off by default.
	d, err := provisioning.DesiredCatalog(m, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Catalog
	if len(got.ResourceTypes) != 4 || got.Template == nil || got.Plan == nil {
		t.Fatalf("new: %+v", got)
	}
	if got.Plan.Currency != "" {
		t.Errorf("the draft plan has currency %q; the store gives it its owner's", got.Plan.Currency)
	}
	got.Plan.Currency = "USD"
	if err := got.Plan.Validate(catalog.Known{}); err != nil {
		t.Errorf("the draft plan is not valid: %v", err)
	}
	if err := got.Template.Validate(nil); err != nil {
		t.Errorf("the template is not valid: %v", err)
	}
	for _, rt := range got.ResourceTypes {
		if err := rt.Validate(); err != nil {
			t.Errorf("resource type %s: %v", rt.Key, err)
		}
	}
	if got.Plan.Published || got.Plan.Description["en"] != m.Description {
		t.Errorf("plan %+v", got.Plan)
	}
	if s := fmt.Sprint(d.Bindings); s != "[{storage_mb memory.storage_mb false} {connections memory.connections false} {requests memory.requests false} {backups memory.backups false}]" {
		t.Errorf("bindings of a new connector: %s", s)
	}

	// Registered: the provider's names, categories and limits stay; the
	// names of a type the registration made follow the manifest.
	cur := &store.ConnectorCatalog{
		ResourceTypes: []catalog.ResourceType{
			{Key: "memory.gone", Name: catalog.Text{"en": "Gone"}, Unit: "x", Class: catalog.ClassLimit, Connector: "gone"},
			{Key: "memory.storage_mb", Name: catalog.Text{"en": "Old", "fr": "Stockage"},
				Unit: "GB", Class: catalog.ClassGauge, Category: "Databases", Connector: "storage_mb"}},
		Template: &catalog.Template{Key: "memory", Name: catalog.Text{"en": "Mine"}, Connector: "memory",
			Resources: []catalog.TemplateResource{{Resource: "memory.storage_mb", Limit: 512}, {Resource: "memory.gone", Limit: 3}}},
	}
	d, err = provisioning.DesiredCatalog(m, cur, false)
	if err != nil {
		t.Fatal(err)
	}
	got = d.Catalog
	rt := got.ResourceTypes[len(got.ResourceTypes)-1]
	if got.Plan != nil || rt.Key != "memory.storage_mb" || rt.Unit != "MB" || rt.Class != catalog.ClassLimit || rt.Category != "Databases" ||
		fmt.Sprint(rt.Name) != "map[en:Storage fr:Stockage]" {
		t.Errorf("registered: %+v, plan %v", rt, got.Plan)
	}
	if s := fmt.Sprint(got.Template.Name, got.Template.Resources); s != "map[en:Mine] [{memory.storage_mb 512} {memory.connections -1} {memory.requests -1} {memory.backups 0}]" {
		t.Errorf("template %s", s)
	}
	if cur.ResourceTypes[1].Name["en"] != "Old" {
		t.Errorf("DesiredCatalog changed its input")
	}
}

// officeCatalog is the demo's office service as the store reads it for a
// connector "office": resource types bound to the connector's keys
// "mailboxes" and "storage_gb" under the provider's own keys, in the
// template "office" bound to connector "office", priced by two plans.
func officeCatalog() *store.ConnectorCatalog {
	return &store.ConnectorCatalog{
		ResourceTypes: []catalog.ResourceType{
			{Key: "mailbox", Name: catalog.Text{"en": "Mailbox", "de": "Postfach"}, Unit: "mailbox", Class: catalog.ClassLimit,
				Category: "email", Connector: "mailboxes"},
			{Key: "office-storage", Name: catalog.Text{"en": "Office storage"}, Unit: "GB", Class: catalog.ClassLimit,
				Category: "storage", Connector: "storage_gb"},
		},
		Template: &catalog.Template{Key: "office", Name: catalog.Text{"en": "Office suite"}, Connector: "office",
			Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 1}, {Resource: "office-storage", Limit: 10}}},
		Plans:    []string{"office-basic", "office-pro"},
		PricedBy: map[string][]string{"mailbox": {"office-basic", "office-pro"}, "office-storage": {"office-basic"}},
	}
}

// officeManifest is a connector "office" that offers the demo's office
// resources under its own keys, with its own names.
func officeManifest() connector.Manifest {
	return connector.Manifest{Name: "office", Version: "1.0.0", Resources: []connector.ResourceSpec{
		{Key: "mailboxes", Name: map[string]string{"en": "Mailboxes", "fr": "Boîtes aux lettres"}, Unit: "box", Class: connector.ClassLimit},
		{Key: "storage_gb", Name: map[string]string{"en": "Storage"}, Unit: "GB", Class: connector.ClassLimit},
	}}
}

func TestDesiredCatalogMapsExistingTypes(t *testing.T) {
	t.Parallel()
	cur := officeCatalog()
	rts := func(d *provisioning.Desired) string {
		var out []string
		for _, rt := range d.Catalog.ResourceTypes {
			out = append(out, fmt.Sprintf("%s(%s %s %s %v)", rt.Key, rt.Connector, rt.Unit, rt.Class, rt.Name))
		}
		return strings.Join(out, " ")
	}

	// The manifest's keys are the types' connector keys: the types keep
	// their keys, names (the manifest adds only the language they lack)
	// and units; the template stays as it is; no draft plan, for plans
	// are made of the template already.
	d, err := provisioning.DesiredCatalog(officeManifest(), cur, true)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(d.Bindings); s != "[{mailboxes mailbox true} {storage_gb office-storage true}]" {
		t.Errorf("bindings %s", s)
	}
	if s := rts(d); s != "mailbox(mailboxes mailbox limit map[de:Postfach en:Mailbox fr:Boîtes aux lettres]) "+
		"office-storage(storage_gb GB limit map[en:Office storage])" {
		t.Errorf("resource types %s", s)
	}
	if !reflect.DeepEqual(d.Catalog.Template, cur.Template) || d.Catalog.Plan != nil || len(d.Unoffered) != 0 {
		t.Errorf("template %+v, plan %+v, unoffered %v", d.Catalog.Template, d.Catalog.Plan, d.Unoffered)
	}

	// A manifest without storage_gb: office-storage, priced by
	// office-basic, stays in the template and is named with its plan.
	m := officeManifest()
	m.Resources = m.Resources[:1]
	d, err = provisioning.DesiredCatalog(m, cur, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Catalog.Template, cur.Template) || fmt.Sprint(d.Unoffered) != "[{office-storage [office-basic]}]" ||
		!strings.Contains(rts(d), "office-storage(") {
		t.Errorf("dropped storage_gb: template %+v, unoffered %v, types %s", d.Catalog.Template, d.Unoffered, rts(d))
	}
	// Unpriced, it leaves the template (and the resource type stays:
	// the store retires it).
	cur2 := officeCatalog()
	delete(cur2.PricedBy, "office-storage")
	d, err = provisioning.DesiredCatalog(m, cur2, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(d.Catalog.Template.Resources); s != "[{mailbox 1}]" || len(d.Unoffered) != 0 || strings.Contains(rts(d), "office-storage(") {
		t.Errorf("dropped unpriced storage_gb: template %s, unoffered %v, types %s", s, d.Unoffered, rts(d))
	}

	// A new resource is added after what the template lists.
	m = officeManifest()
	m.Resources = append(m.Resources, connector.ResourceSpec{Key: "archive", Name: map[string]string{"en": "Archive"}, Unit: "feature",
		Class: connector.ClassBoolean})
	d, err = provisioning.DesiredCatalog(m, cur, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(d.Bindings[2], d.Catalog.Template.Resources); s != "{archive office.archive false} [{mailbox 1} {office-storage 10} {office.archive 0}]" {
		t.Errorf("a new resource: %s", s)
	}

	// A class the plans do not sell is refused, naming the plans.
	m = officeManifest()
	m.Resources[1].Class = connector.ClassCounter
	_, err = provisioning.DesiredCatalog(m, cur, false)
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.ECONFLICT || !strings.Contains(e.Fields["manifest.resources[1].class"], "office-basic") {
		t.Errorf("class change of a priced type: %#v", err)
	}

	// A catalog an earlier registration broke (its own types in the
	// template, the priced ones out of it) is mended: the priced types
	// are bound again and come back to the template.
	broken := officeCatalog()
	broken.ResourceTypes = append(broken.ResourceTypes,
		catalog.ResourceType{Key: "office.mailboxes", Name: catalog.Text{"en": "Mailboxes"}, Unit: "box", Class: catalog.ClassLimit, Connector: "mailboxes"},
		catalog.ResourceType{Key: "office.storage_gb", Name: catalog.Text{"en": "Storage"}, Unit: "GB", Class: catalog.ClassLimit, Connector: "storage_gb"})
	broken.Template.Resources = []catalog.TemplateResource{{Resource: "office.mailboxes", Limit: -1}, {Resource: "office.storage_gb", Limit: -1}}
	broken.Plans = append(broken.Plans, "office-starter")
	broken.PricedBy["office.mailboxes"] = []string{"office-starter"}
	broken.PricedBy["office.storage_gb"] = []string{"office-starter"}
	d, err = provisioning.DesiredCatalog(officeManifest(), broken, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(d.Bindings, d.Catalog.Template.Resources); s != "[{mailboxes mailbox true} {storage_gb office-storage true}] "+
		"[{office.mailboxes -1} {office.storage_gb -1} {mailbox -1} {office-storage -1}]" {
		t.Errorf("mended: %s", s)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Write(b)
}

func readJSON(r *http.Request, v any) {
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, v)
}

// demoSite is a site whose provider holds the demo catalog (its plans in
// the provider's currency).
func demoSite(t *testing.T, db *store.DB) *site {
	t.Helper()
	p := newSite(t, db)
	doc, err := catalog.DemoDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc.Owner = p.provider.Name
	for i := range doc.Plans {
		doc.Plans[i].Currency = p.provider.Currency
	}
	if _, err := db.ImportCatalog(p.ctx, p.admin, p.provider.ID, doc, store.ImportOptions{}); err != nil {
		t.Fatalf("import the demo catalog: %v", err)
	}
	return p
}

// roundTrip exports the provider's catalog and imports it again as a dry
// run: a catalog that the registration left consistent imports with no
// change and no refusal.
func (p *site) roundTrip(t *testing.T) {
	t.Helper()
	doc, err := p.db.ExportCatalog(p.ctx, p.admin, p.provider.ID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := catalog.EncodeYAML(&buf, doc); err != nil {
		t.Fatal(err)
	}
	again, err := catalog.Decode(&buf, "yaml")
	if err != nil {
		t.Fatalf("the exported catalog does not decode: %v", err)
	}
	changes, err := p.db.ImportCatalog(p.ctx, p.admin, p.provider.ID, again, store.ImportOptions{DryRun: true})
	if err != nil || len(changes) != 0 {
		t.Fatalf("export | import --dry-run: %v, %v", changes, err)
	}
}

func TestRegisterOntoExistingCatalog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := demoSite(t, db)
		before := p.counts(t)
		tplBefore, err := db.Template(p.ctx, p.admin, "office")
		if err != nil {
			t.Fatal(err)
		}
		p.roundTrip(t)

		// A connector "office" whose keys the demo's office types carry:
		// no new type, the template as it was, no draft plan (plans are
		// made of the template); the dry run says so and changes nothing.
		fc := serveConnector(t, sdk(withSpec(officeManifest()), regSecret))
		dry := p.request(fc.URL, regSecret)
		dry.DryRun = true
		preview := p.register(t, dry)
		wantBindings := "[{mailboxes mailbox true} {storage_gb office-storage true}]"
		var diff bytes.Buffer
		catalog.FormatDiff(&diff, preview.Changes)
		if fmt.Sprint(preview.Bindings) != wantBindings || !preview.DryRun {
			t.Errorf("dry run: bindings %v", preview.Bindings)
		}
		// The only change: the manifest adds the French name the provider
		// lacks.
		if len(preview.Changes) != 1 || preview.Changes[0].Kind != catalog.KindResourceType || preview.Changes[0].Key != "mailbox" ||
			!strings.Contains(diff.String(), "name.fr") {
			t.Errorf("dry run changes:\n%s", diff.String())
		}
		if after := p.counts(t); after != before {
			t.Errorf("the dry run changed the catalog: %s, before %s", after, before)
		}
		reg := p.register(t, p.request(fc.URL, regSecret))
		if fmt.Sprint(reg.Bindings) != wantBindings || len(reg.Created.ResourceTypes) != 0 || reg.Created.Template != "" ||
			reg.Created.Plan != "" || len(reg.Retired) != 0 || len(reg.Unoffered) != 0 {
			t.Fatalf("registration %+v", reg)
		}
		if got, want := p.counts(t), strings.Replace(before, "connectors=0", "connectors=1", 1); got != want {
			t.Errorf("after the registration: %s, want %s", got, want)
		}
		tpl, err := db.Template(p.ctx, p.admin, "office")
		if err != nil || !reflect.DeepEqual(tpl.Template, tplBefore.Template) || tpl.Version != tplBefore.Version {
			t.Errorf("template %+v, before %+v (%v)", tpl, tplBefore, err)
		}
		rt, err := db.ResourceType(p.ctx, p.admin, "mailbox")
		if err != nil || fmt.Sprint(rt.Name) != "map[de:Postfach en:Mailbox fr:Boîtes aux lettres]" || rt.Unit != "mailbox" || rt.Category != "email" {
			t.Errorf("mailbox %+v, %v", rt, err)
		}
		p.roundTrip(t)

		// The connector stops offering storage_gb, which the office plans
		// price: office-storage stays in the template, named with them.
		m := officeManifest()
		m.Version = "2.0.0"
		m.Resources = m.Resources[:1]
		fc.set(sdk(withSpec(m), regSecret))
		dry = p.request(fc.URL, regSecret)
		dry.DryRun = true
		for _, req := range []provisioning.RegisterRequest{dry, p.request(fc.URL, regSecret)} {
			reg = p.register(t, req)
			if len(reg.Changes) != 0 || len(reg.Retired) != 0 ||
				fmt.Sprint(reg.Unoffered) != "[{office-storage [office-basic office-pro office-standard]}]" {
				t.Errorf("dry run %v: without storage_gb: %+v", req.DryRun, reg)
			}
		}
		tpl, _ = db.Template(p.ctx, p.admin, "office")
		if !reflect.DeepEqual(tpl.Template, tplBefore.Template) {
			t.Errorf("template without storage_gb: %+v", tpl.Template)
		}
		p.roundTrip(t)
	})
}

// The demo's services each registered by a connector named after its
// template's connector, offering the template's resources under their
// connector keys (as the demo's own connectors do): every resource maps
// onto the type that sells it, "storage_gb" onto office-storage for office
// and onto pg-storage for postgresql, and the catalog does not change.
func TestRegisterDemoConnectors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := demoSite(t, db)
		doc, err := catalog.DemoDocument()
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]catalog.ResourceType{}
		for _, rt := range doc.ResourceTypes {
			types[rt.Key] = rt
		}
		before := p.counts(t)
		for _, tpl := range doc.Templates {
			m := connector.Manifest{Name: tpl.Connector, Version: "1.0.0"}
			var want []string
			for _, r := range tpl.Resources {
				rt := types[r.Resource]
				m.Resources = append(m.Resources, connector.ResourceSpec{Key: rt.Connector, Name: map[string]string(rt.Name.Clone()),
					Unit: rt.Unit, Class: string(rt.Class)})
				want = append(want, fmt.Sprintf("{%s %s true}", rt.Connector, rt.Key))
			}
			fc := serveConnector(t, sdk(withSpec(m), regSecret))
			reg := p.register(t, p.request(fc.URL, regSecret))
			if got := fmt.Sprint(reg.Bindings); got != "["+strings.Join(want, " ")+"]" || len(reg.Changes) != 0 ||
				reg.Template != tpl.Key || reg.Created.Plan != "" || len(reg.Retired)+len(reg.Unoffered) != 0 {
				t.Errorf("connector %s: bindings %s, want %v; %+v", m.Name, got, want, reg)
			}
		}
		if got, want := p.counts(t), strings.Replace(before, "connectors=0", fmt.Sprintf("connectors=%d", len(doc.Templates)), 1); got != want {
			t.Errorf("after the demo connectors: %s, want %s", got, want)
		}
		p.roundTrip(t)
	})
}
