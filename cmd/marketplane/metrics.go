package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/marketplane/marketplane/accesslog"
	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/metrics"
)

// observability is what a server shows operators: its figures (/metrics,
// on the main listener or one of its own) and its access log.
type observability struct {
	metrics  *metrics.Metrics
	listener net.Listener // --metrics-addr's, or nil
	server   *http.Server
	served   chan error
	stop     context.CancelFunc // ends the reading of the queues' depth
	// every is how often the queues' depth is read; 0 means
	// depthInterval. Tests shorten it.
	every time.Duration
}

// depthInterval is how often a server reads the task queues' depth.
const depthInterval = 15 * time.Second

// startMetrics makes the server's figures, starts reading the queues'
// depth, and serves /metrics: on mux, or with --metrics-addr on a
// listener of its own (and then not on mux), behind --metrics-token when
// one is set.
func (m *Main) startMetrics(mux *http.ServeMux) error {
	mx := metrics.New(m.Tasks.Manager)
	m.obs.metrics = mx
	m.Tasks.metrics = mx
	ctx, cancel := context.WithCancel(context.Background())
	m.obs.stop = cancel
	every := m.obs.every
	if every <= 0 {
		every = depthInterval
	}
	mx.WatchTasks(ctx, m.Tasks.Manager, every, m.Logger)
	h := mx.Handler(m.Config.MetricsToken)
	if m.Config.MetricsAddr == "" {
		mux.Handle("GET /metrics", h)
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (--metrics-addr): %w", m.Config.MetricsAddr, err)
	}
	own := http.NewServeMux()
	own.Handle("GET /metrics", h)
	m.obs.listener = ln
	m.obs.server = &http.Server{Handler: own, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	m.obs.served = make(chan error, 1)
	go func() { m.obs.served <- m.obs.server.Serve(ln) }()
	return nil
}

// MetricsURL is where /metrics is served, once Run has returned.
func (m *Main) MetricsURL() string {
	if m.obs.listener != nil {
		return "http://" + m.obs.listener.Addr().String() + "/metrics"
	}
	return m.URL() + "/metrics"
}

// stopMetrics stops reading the queues and the metrics listener.
func (m *Main) stopMetrics(ctx context.Context) error {
	if m.obs.stop != nil {
		m.obs.stop()
	}
	if m.obs.server == nil {
		return nil
	}
	err := m.obs.server.Shutdown(ctx)
	if serr := <-m.obs.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// observe wraps the server's mux: each request is counted by its route
// pattern in /metrics and, with --access-log, written to the access log.
// The pattern is the innermost router's (the API's operation, the panels'
// page); a path that only the catch-alls of mux match ("/", the API's
// prefix) is "unmatched", so that made-up paths make no new series.
func (m *Main) observe(mux *http.ServeMux) http.Handler {
	var log *accesslog.Logger
	if m.Config.AccessLog {
		w := m.AccessLog
		if w == nil {
			w = os.Stderr
		}
		log = accesslog.NewLogger(w)
	}
	mx := m.obs.metrics
	return accesslog.Middleware(mux, func(rec accesslog.Record) {
		mx.Request(rec.Route, rec.Status, rec.Duration)
		if log != nil {
			log.Log(rec)
		}
	}, func(r *http.Request) string {
		switch r.Pattern {
		case "/", api.Prefix + "/":
			return accesslog.Unmatched
		}
		return r.Pattern
	})
}
