package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/pgdbaas"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
)

// DefaultPostgresURL is the PostgreSQL server the demo's managed
// PostgreSQL uses when MARKETPLANE_PGDBAAS_ADMIN_URL is not set: the usual
// local one.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// EnvPostgresURL names the superuser URL of the PostgreSQL server whose
// databases the demo sells (as for the pgdbaas connector program).
const EnvPostgresURL = "MARKETPLANE_PGDBAAS_ADMIN_URL"

// Config configures Start.
type Config struct {
	DB     *store.DB
	Logger *slog.Logger
	// PostgresURL is the superuser URL of the server behind the demo's
	// managed PostgreSQL; empty: $MARKETPLANE_PGDBAAS_ADMIN_URL, else
	// DefaultPostgresURL.
	PostgresURL string
}

// Set is the demo connectors one server serves: a handler to mount at
// PathPrefix, and their registration.
type Set struct {
	db       *store.DB
	log      *slog.Logger
	services []connector.Service
	secrets  map[string]string
	mux      *http.ServeMux
	pg       *pgdbaas.Service
	stop     context.CancelFunc
	// Skipped says why the demo's managed PostgreSQL is not served ("" when
	// it is).
	Skipped string
}

// Start prepares the demo connectors of db's demo catalog: the demo
// services, and pgdbaas behind "postgresql" where a PostgreSQL server
// answers (otherwise Skipped says why, and its plans have no connector).
// A connector registered before keeps its secret.
func Start(ctx context.Context, cfg Config) (*Set, error) {
	s := &Set{db: cfg.DB, log: cfg.Logger, secrets: map[string]string{}, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	ms, err := Manifests()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		var svc connector.Service = New(m, cfg.DB.Write, cfg.DB.Read)
		if m.Name == "postgresql" {
			pg, why := openPostgres(ctx, cfg.PostgresURL)
			if pg == nil {
				s.Skipped = why
				s.log.Warn("demo: the managed PostgreSQL plans have no connector: " + why)
				continue
			}
			s.pg = pg
			svc = NewPostgreSQL(pg, m)
		}
		secret, err := s.secret(ctx, m.Name)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.secrets[m.Name] = secret
		s.services = append(s.services, svc)
		h := connector.Handler(svc, connector.Config{Secret: secret, Logger: s.log})
		s.mux.Handle(PathPrefix+m.Name+"/", http.StripPrefix(PathPrefix+m.Name, h))
	}
	if s.pg != nil {
		// The storage guard, as the pgdbaas program runs it.
		gctx, stop := context.WithCancel(context.Background())
		s.stop = stop
		go func() {
			tick := time.NewTicker(time.Minute)
			defer tick.Stop()
			for {
				select {
				case <-gctx.Done():
					return
				case <-tick.C:
					if err := s.pg.CheckStorage(gctx); err != nil && gctx.Err() == nil {
						s.log.Error("demo: pgdbaas storage check", "err", err)
					}
				}
			}
		}()
	}
	return s, nil
}

// openPostgres connects pgdbaas to the demo's PostgreSQL server, or says
// why it cannot.
func openPostgres(ctx context.Context, url string) (*pgdbaas.Service, string) {
	if url == "" {
		url = os.Getenv(EnvPostgresURL)
	}
	if url == "" {
		url = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pg, err := pgdbaas.New(ctx, pgdbaas.Config{AdminURL: url})
	if err != nil {
		return nil, fmt.Sprintf("no PostgreSQL server answers as a superuser at %s (%v); set %s to one", redact(url), err, EnvPostgresURL)
	}
	return pg, ""
}

// redact drops the password of a URL for the log.
func redact(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	userinfo := u[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return u[:scheme+3] + user + ":…" + u[at:]
	}
	return u
}

// secret is the stored secret of demo connector name, registered before,
// or a new one.
func (s *Set) secret(ctx context.Context, name string) (string, error) {
	c, err := s.db.Connector(ctx, account.SystemActor(), name)
	if err == nil && IsDemo(c.Manifest) {
		return s.db.ConnectorSecret(ctx, name)
	}
	if err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return "", fmt.Errorf("demo connector %s: %w", name, err)
	}
	return rand.Text(), nil
}

// Handler serves the demo connectors; mount it at PathPrefix.
func (s *Set) Handler() http.Handler { return s.mux }

// Names are the connectors served, in the demo catalog's order.
func (s *Set) Names() []string {
	var out []string
	for _, svc := range s.services {
		out = append(out, svc.Manifest().Name)
	}
	return out
}

// Register registers every demo connector at base (the URL of the server
// that mounts Handler, which also receives the callbacks) through the
// real registration. A demo connector registered at another address (the
// server moved) is moved first; a connector of the same name that is not
// a demo one is the operator's and is left alone.
func (s *Set) Register(ctx context.Context, base string) error {
	sys := account.SystemActor()
	base = strings.TrimSuffix(base, "/")
	var errs []error
	for _, svc := range s.services {
		name := svc.Manifest().Name
		url := base + PathPrefix + name
		stored, err := s.db.Connector(ctx, sys, name)
		switch {
		case err == nil && !IsDemo(stored.Manifest):
			s.log.Info("demo: connector "+name+" is the operator's own; the demo's is not registered", "url", stored.URL)
			continue
		case err == nil && stored.URL != url:
			stored.URL = url
			if err := s.db.UpdateConnector(ctx, sys, stored); err != nil {
				errs = append(errs, fmt.Errorf("demo connector %s: move to %s: %w", name, url, err))
				continue
			}
		case err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND:
			errs = append(errs, fmt.Errorf("demo connector %s: %w", name, err))
			continue
		}
		reg, err := provisioning.Register(ctx, s.db, sys, provisioning.RegisterRequest{URL: url, Secret: s.secrets[name], CallbackBase: base})
		if err != nil {
			errs = append(errs, fmt.Errorf("demo connector %s: %w", name, err))
			continue
		}
		s.log.Info("demo: connector registered", "name", name, "url", url, "changes", len(reg.Changes))
	}
	return errors.Join(errs...)
}

// Close stops the storage guard and closes the connections to the demo's
// PostgreSQL server.
func (s *Set) Close() error {
	if s.stop != nil {
		s.stop()
	}
	if s.pg != nil {
		return s.pg.Close()
	}
	return nil
}
