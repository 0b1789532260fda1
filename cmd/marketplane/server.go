package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	democonn "github.com/marketplane/marketplane/connectors/demo"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/web"
)

// Main is a running marketplane server: the database, the task workers and
// the HTTP server. main builds one for `serve`; end-to-end tests start one
// on port 0.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Out receives what a person must read (first-start credentials, the
	// URL, demo logins).
	Out io.Writer

	DB       *store.DB
	Tasks    *taskRunner
	listener net.Listener
	server   *http.Server
	served   chan error
	// demoConnectors serve the demo catalog's plans (serve --demo).
	demoConnectors *democonn.Set
	// AccessLog receives the access log's lines when Config.AccessLog is
	// set; nil means stderr.
	AccessLog io.Writer
	obs       observability
}

// URL is where the server listens, once Run has returned.
func (m *Main) URL() string { return "http://" + m.listener.Addr().String() }

// Run opens and migrates the database, makes sure the provider exists,
// starts the task workers and starts serving HTTP. It returns once the
// server accepts connections; Close stops everything.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	// Listen before anything is created: a port that is taken fails the
	// first start before the database and its administrator exist, so
	// the administrator's password, printed once at creation, is never
	// printed by a start that then fails.
	var err error
	m.listener, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	db, err := openDB(ctx, m.Config)
	if err != nil {
		return err
	}
	m.DB = db
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	if err := m.useTestClock(ctx); err != nil {
		return err
	}
	if err := m.bootstrap(ctx); err != nil {
		return err
	}
	if m.Config.Demo {
		if err := loadDemo(ctx, db, m.Out); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := m.startDemoConnectors(ctx); err != nil {
		return fmt.Errorf("demo connectors: %w", err)
	}
	m.Tasks, err = newTaskRunner(db, m.Config, m.Logger)
	if err != nil {
		return err
	}
	handler, err := m.handler()
	if err != nil {
		return err
	}
	if m.Config.Workers {
		if err := m.Tasks.Start(ctx); err != nil {
			return fmt.Errorf("start task workers: %w", err)
		}
	}
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.server.Serve(m.listener) }()
	if err := m.registerDemoConnectors(ctx); err != nil {
		return fmt.Errorf("demo connectors: %w", err)
	}
	m.Logger.Info("marketplane serving", "url", m.URL(), "db", db.URL(), "engine", db.Engine, "workers", m.Config.Workers)
	return nil
}

// Close shuts down gracefully: stops accepting requests, lets running ones
// and running tasks finish within the shutdown timeout, closes the database.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	} else if m.listener != nil {
		m.listener.Close() // a start that failed before serving
	}
	if m.Tasks != nil && m.Config.Workers {
		if err := m.Tasks.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop tasks: %w", err))
		}
	}
	if m.demoConnectors != nil {
		errs = append(errs, m.demoConnectors.Close())
	}
	errs = append(errs, m.stopMetrics(ctx))
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

func openDB(ctx context.Context, c Config) (*store.DB, error) {
	hp := account.DefaultHashParams
	hp.Memory = uint32(c.PasswordHashMemory)
	db, err := store.Open(ctx, c.DB, store.Options{HashParams: &hp})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// bootstrap creates the provider and its first administrator on a new
// database, printing the generated password once.
func (m *Main) bootstrap(ctx context.Context) error {
	_, err := m.DB.Provider(ctx)
	if err == nil {
		return nil
	}
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return err
	}
	if m.Config.Demo {
		// The demo loader makes the provider with its own users.
		return nil
	}
	p := &account.Account{Name: "Marketplane Provider", Address: account.Address{Country: "US"},
		Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
	if err := m.DB.CreateProvider(ctx, p); err != nil {
		return fmt.Errorf("create provider: %w", err)
	}
	role, err := m.DB.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		return err
	}
	pw := generatePassword()
	u := &account.User{AccountID: p.ID, Login: "admin", DisplayName: "Provider administrator", RoleIDs: []int64{role.ID}}
	if err := m.DB.CreateUser(ctx, account.SystemActor(), u, pw); err != nil {
		return fmt.Errorf("create first administrator: %w", err)
	}
	fmt.Fprintf(m.Out, "\nA new marketplace was created.\n  provider administrator: login %q, password %q (shown once; change it after signing in)\n\n", u.Login, pw)
	return nil
}

func generatePassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// handler routes /healthz, /readyz, /metrics, /api/v1/ and the panels.
func (m *Main) handler() (http.Handler, error) {
	panels, err := web.New(web.Config{DB: m.DB, Logger: m.Logger, Version: version,
		SecureCookies: strings.HasPrefix(m.Config.BaseURL, "https://"), TrustedProxies: m.Config.TrustedProxies,
		// Orders placed in the purchase wizard queue their provisioning as
		// the API's do.
		EnqueueProvision: m.Tasks.enqueueOrder})
	if err != nil {
		return nil, err
	}
	apiHandler, err := m.apiHandler(panels)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := m.DB.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "database unavailable\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	if err := m.startMetrics(mux); err != nil {
		return nil, err
	}
	mux.Handle("/api/v1/", apiHandler)
	// Outside the API: a connector's registration callback is
	// authenticated by its signature alone.
	mux.Handle("POST "+provisioning.CallbackPath, provisioning.CallbackHandler(m.DB))
	if m.demoConnectors != nil {
		mux.Handle(democonn.PathPrefix, m.demoConnectors.Handler())
	}
	mux.Handle("/", panels)

	return m.observe(mux), nil
}
