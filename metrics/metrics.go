// Package metrics holds the figures Marketplane shows operators at
// /metrics (Prometheus): HTTP requests by route pattern, the task queues'
// depth and failed attempts, the billing run's stage durations and the
// outcomes of provisioning at each connector.
//
// Every label has a bounded set of values: route patterns (never paths,
// whose ids would make a series per object), queue and status names, task
// kinds, stage names, connector names and three outcomes.
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/marketplane/marketplane/task"
)

// Metrics are one process's figures. The methods of a nil *Metrics do
// nothing, so that code run without a server (the CLI) need not check.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	depth        *prometheus.GaugeVec
	billStage    *prometheus.HistogramVec
	provisioning *prometheus.CounterVec

	mu   sync.Mutex
	seen map[[2]string]bool // queue and status pairs depth has shown
}

// Tasks is what the figures read of the task manager.
type Tasks interface {
	Depths(ctx context.Context) ([]task.Depth, error)
	Failures() map[string]int64
}

// New returns the figures of a process whose task manager is tasks (nil:
// none).
func New(tasks Tasks) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), seen: map[[2]string]bool{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplane_http_requests_total", Help: "HTTP requests by method and route pattern (\"unmatched\" for paths no route has) and status code.",
	}, []string{"pattern", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "marketplane_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"pattern"})
	m.depth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "marketplane_task_queue_depth", Help: "Tasks by queue and status (queued, running, retrying, failed), read periodically from the database.",
	}, []string{"queue", "status"})
	m.billStage = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "marketplane_billing_stage_duration_seconds", Help: "Duration of each stage of the daily billing runs (renewals, statements, expiry, charges, usage, credit).",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600},
	}, []string{"stage"})
	m.provisioning = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "marketplane_provisioning_outcomes_total", Help: "Provisioning attempts of orders by connector and outcome (completed, retried, failed).",
	}, []string{"connector", "outcome"})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.depth, m.billStage, m.provisioning)
	if tasks != nil {
		m.reg.MustRegister(failures{tasks})
	}
	return m
}

// failures shows the task manager's count of failed attempts by kind,
// read at each scrape (it is a map in memory).
type failures struct{ tasks Tasks }

var failuresDesc = prometheus.NewDesc("marketplane_task_failures_total",
	"Failed task attempts by kind in this process (each is retried, or fails the task on its last attempt).", []string{"kind"}, nil)

func (f failures) Describe(ch chan<- *prometheus.Desc) { ch <- failuresDesc }

func (f failures) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range f.tasks.Failures() {
		ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(n), kind)
	}
}

// Request counts a finished HTTP request of route pattern.
func (m *Metrics) Request(pattern string, code int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(pattern).Observe(took.Seconds())
}

// BillStage records how long a stage of a billing run took.
func (m *Metrics) BillStage(stage string, took time.Duration) {
	if m == nil {
		return
	}
	m.billStage.WithLabelValues(stage).Observe(took.Seconds())
}

// Provisioned counts how an order's provisioning attempt at connector
// ended: completed, retried or failed.
func (m *Metrics) Provisioned(connector, outcome string) {
	if m == nil {
		return
	}
	m.provisioning.WithLabelValues(connector, outcome).Inc()
}

// WatchTasks reads the queues' depth from tasks now and then every
// interval until ctx ends: a grouped count over the task table is too
// much for every scrape of every process.
func (m *Metrics) WatchTasks(ctx context.Context, tasks Tasks, every time.Duration, log *slog.Logger) {
	if m == nil || tasks == nil {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.readDepths(ctx, tasks, log)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (m *Metrics) readDepths(ctx context.Context, tasks Tasks, log *slog.Logger) {
	ds, err := tasks.Depths(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("task queue depth not read", "err", err)
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[[2]string]bool{}
	for _, d := range ds {
		k := [2]string{d.Queue, string(d.Status)}
		now[k] = true
		m.seen[k] = true
		m.depth.WithLabelValues(k[0], k[1]).Set(float64(d.Count))
	}
	// A queue emptied shows 0, not its last count.
	for k := range m.seen {
		if !now[k] {
			m.depth.WithLabelValues(k[0], k[1]).Set(0)
		}
	}
}

// Handler serves the figures. With a token, only requests bearing it
// ("Authorization: Bearer TOKEN") are answered; others get 401.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token of --metrics-token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
