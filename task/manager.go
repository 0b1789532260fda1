package task

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/marketplane/marketplane/store"
)

// Migrate creates or upgrades River's tables. It is idempotent; call it at
// start, after store.Migrate.
func Migrate(ctx context.Context, db *store.DB) error {
	d, err := dialectOf(db.Engine)
	if err != nil {
		return err
	}
	// Quiet like store.Migrate: the migrator would log every version it
	// applies, on every test database too. Warnings still reach the log.
	logger := slog.New(minLevel{slog.Default().Handler(), slog.LevelWarn})
	migrator, err := rivermigrate.New(d.driver(db.Write), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("task: migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("task: migrate: %w", err)
	}
	return nil
}

// minLevel drops the records of h below level.
type minLevel struct {
	h     slog.Handler
	level slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level && m.h.Enabled(ctx, l)
}

func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{m.h.WithAttrs(attrs), m.level}
}

func (m minLevel) WithGroup(name string) slog.Handler { return minLevel{m.h.WithGroup(name), m.level} }

// Manager enqueues, runs and inspects tasks. Register every kind (Handle) and
// periodic task (Periodic) before the manager's first use (Start, Enqueue,
// EnqueueTx, Retry or Cancel); from then on it is safe for concurrent use.
//
// Every process that enqueues a kind registers it, including insert-only
// ones (Config.InsertOnly): the kind's queue, priority and attempts come from
// its registration, and enqueueing an unregistered kind is an error.
type Manager struct {
	db       *store.DB
	cfg      Config
	logger   *slog.Logger
	dialect  dialect
	jobQuery string // SELECT of river_job's columns that scanJob reads

	mu       sync.Mutex
	kinds    map[string]KindOptions // read without mu once client is set
	workers  *river.Workers
	periodic []*river.PeriodicJob
	client   *river.Client[*sql.Tx] // built on first use; registration ends then
	buildErr error

	failMu   sync.Mutex
	failures map[string]int64 // failed attempts in this process, by kind (Failures)
}

// New returns a manager of the tasks in db. It registers the daily cleanup
// of finished tasks (kind KindCleanup) unless cfg.RetentionDays is negative.
func New(db *store.DB, cfg Config, logger *slog.Logger) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d, err := dialectOf(db.Engine)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	m := &Manager{
		db:      db,
		cfg:     cfg,
		logger:  logger,
		dialect: d,
		jobQuery: `SELECT id, kind, queue, state, attempt, max_attempts, priority, args, metadata,
			created_at, scheduled_at, attempted_at, finalized_at, ` + d.errorsColumn() + ` FROM river_job`,
		kinds:   map[string]KindOptions{},
		workers: river.NewWorkers(),
	}
	if cfg.RetentionDays >= 0 {
		Handle(m, m.runCleanup, KindOptions{Queue: QueueDefault, Priority: PriorityBackground, MaxAttempts: 3, Timeout: time.Hour})
		// Run on start as well: a small installation may never be up at the
		// scheduled hour, and a cleanup with nothing to delete is cheap.
		m.Periodic(cfg.CleanupSchedule, func() Args { return cleanupArgs{} }, true)
	}
	return m, nil
}

// Handle registers fn as the handler of the tasks whose arguments are of type
// A, with the kind's defaults in opts. It panics when called after the
// manager's first use or for a kind already registered, as these are
// mistakes in the program, not conditions to handle.
//
// fn runs at least once per task and may run more often (see the package
// documentation): it must be idempotent. A nil error completes the task; an
// error (or a panic) fails this attempt, and the task is retried after
// opts.Backoff until it has had opts.MaxAttempts runs. fn must return when
// ctx is done (timeout, shutdown, cancellation).
func Handle[A Args](m *Manager, fn func(ctx context.Context, t *Task[A]) error, opts KindOptions) {
	kind := (*new(A)).Kind()
	if !kindName.MatchString(kind) {
		panic(fmt.Sprintf("task: kind %q: use lower case words separated by dots", kind))
	}
	opts, err := opts.withDefaults(m.cfg.Queues)
	if err != nil {
		panic(fmt.Sprintf("task: kind %s: %v", kind, err))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil || m.buildErr != nil {
		panic(fmt.Sprintf("task: kind %s registered after the task manager was first used", kind))
	}
	if _, dup := m.kinds[kind]; dup {
		panic(fmt.Sprintf("task: kind %s registered twice", kind))
	}
	if err := river.AddWorkerSafely(m.workers, &worker[A]{fn: fn, opts: opts, margin: m.cfg.RescueMargin, failed: m.countFailure}); err != nil {
		panic(fmt.Sprintf("task: kind %s: %v", kind, err))
	}
	m.kinds[kind] = opts
}

// Periodic enqueues newArgs() on schedule s, and once at Start when runOnStart
// is set. The kind of the arguments must be registered with Handle, which
// gives their queue and priority.
//
// Only one process enqueues periodic tasks: River elects a leader among the
// processes running tasks, so several of them do not duplicate the work. The
// leader keeps its schedule in memory: a new leader starts counting afresh,
// which may skip or repeat one run; runOnStart hedges against long schedules
// never coming due. Periodic panics when called after the manager's first use.
func (m *Manager) Periodic(s Schedule, newArgs func() Args, runOnStart bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil || m.buildErr != nil {
		panic("task: periodic task registered after the task manager was first used")
	}
	construct := func() (river.JobArgs, *river.InsertOpts) {
		args := newArgs()
		if args == nil {
			return nil, nil
		}
		opts, err := m.insertOpts(args, nil)
		if err != nil {
			m.logger.Error("periodic task not enqueued", "kind", args.Kind(), "error", err)
			return nil, nil
		}
		return args, opts
	}
	m.periodic = append(m.periodic, river.NewPeriodicJob(s, construct, &river.PeriodicJobOpts{RunOnStart: runOnStart}))
}

// riverClient returns River's client, building it on first use. Building it
// late lets every Handle and Periodic call be made first, whatever the order
// of initialisation; from then on the registrations are fixed.
func (m *Manager) riverClient() (*river.Client[*sql.Tx], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil || m.buildErr != nil {
		return m.client, m.buildErr
	}
	// River's rescuer takes a run still marked running for a crashed
	// process's and runs it again. It looks at the runs older than
	// RescueStuckJobsAfter and leaves alone those younger than their own
	// kind's timeout (worker.Timeout, which adds the margin), so the
	// threshold is the shortest timeout plus the margin: a provisioning
	// task of a dead process comes back minutes after its timeout, not an
	// hour after the longest kind's (a billing day's).
	rescueAfter := DefaultTimeout
	for _, k := range m.kinds {
		rescueAfter = min(rescueAfter, k.Timeout)
	}
	rescueAfter += m.cfg.RescueMargin
	cfg := &river.Config{
		ID:     clientID(),
		Logger: m.logger,
		// Our cleanup task replaces River's job cleaner (-1 keeps forever):
		// it keeps tasks RetentionDays and deletes in bounded batches.
		CancelledJobRetentionPeriod: -1,
		CompletedJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		// No LISTEN/NOTIFY: SQLite has none, and polling works behind any
		// PostgreSQL connection pooler.
		PollOnly:          true,
		FetchPollInterval: m.cfg.PollInterval,
		FetchCooldown:     min(m.cfg.PollInterval, river.FetchCooldownDefault),
		MaxAttempts:       DefaultMaxAttempts,
		// Every worker has its own timeout; River wants this no longer
		// than RescueStuckJobsAfter.
		JobTimeout:           min(DefaultTimeout, rescueAfter),
		RescueStuckJobsAfter: rescueAfter,
		Workers:              m.workers,
	}
	if !m.cfg.InsertOnly {
		cfg.Queues = make(map[string]river.QueueConfig, len(m.cfg.Queues))
		for name, n := range m.cfg.Queues {
			cfg.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
		cfg.PeriodicJobs = m.periodic
	}
	m.client, m.buildErr = river.NewClient(m.dialect.driver(m.db.Write), cfg)
	if m.buildErr != nil {
		m.buildErr = fmt.Errorf("task: %w", m.buildErr)
	}
	return m.client, m.buildErr
}

// clientID names this process among those running tasks (River's leader
// election and the attempted_by of tasks): the host for people, a random
// part so that two managers never share a name.
func clientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_").Replace(host)
	if len(host) > 60 {
		host = host[:60]
	}
	if host == "" {
		host = "unknown_host"
	}
	b := make([]byte, 6)
	rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// Start starts running tasks in the background and returns. ctx bounds the
// whole run: cancelling it is a hard stop that cancels the running handlers;
// prefer Stop. Start does nothing for an insert-only manager.
func (m *Manager) Start(ctx context.Context) error {
	if m.cfg.InsertOnly {
		return nil
	}
	client, err := m.riverClient()
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("task: start: %w", err)
	}
	return nil
}

// Stop stops taking new tasks and waits for the running ones to finish, until
// ctx is done; then it cancels the handlers' contexts, waits a few seconds
// more for them to return, and reports that it could not stop cleanly. Tasks
// cut short run again later (at least once).
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	client := m.client
	m.mu.Unlock()
	if client == nil || m.cfg.InsertOnly {
		return nil
	}
	err := client.Stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("task: stop: %w", err)
	}
	hardCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(
		fmt.Errorf("task: stop: running tasks did not finish in time and were cancelled: %w", err),
		client.StopAndCancel(hardCtx))
}

// worker adapts a handler to River.
type worker[A Args] struct {
	river.WorkerDefaults[A]
	fn     func(context.Context, *Task[A]) error
	opts   KindOptions
	margin time.Duration // Config.RescueMargin
	failed func(kind string)

	mu      sync.Mutex
	retryAt map[int64]time.Time // by task id: the next attempt a handler announced (Task.RetryAt)
}

func (w *worker[A]) Work(ctx context.Context, job *river.Job[A]) error {
	// The handler's context ends at the kind's timeout; River's own
	// deadline (Timeout) comes a margin later, so that River's rescuer,
	// which reads the same Timeout, never takes a run that is returning
	// from its timeout for a dead one.
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	acct := accountOf(job.Metadata)
	defer func() {
		// A panic is a failed attempt too (River records it as one).
		if p := recover(); p != nil {
			w.failed(job.Kind)
			panic(p)
		}
	}()
	err := w.fn(ctx, &Task[A]{
		ID:          job.ID,
		Kind:        job.Kind,
		Queue:       job.Queue,
		Attempt:     job.Attempt,
		MaxAttempts: job.MaxAttempts,
		Args:        job.Args,
		AccountID:   acct.AccountID,
		AccountPath: acct.AccountPath,
		CreatedAt:   job.CreatedAt.UTC(),
		retryAt:     func() time.Time { return w.announceRetry(job.ID, job.Attempt) },
	})
	if err == nil {
		// Not failed: no NextRetry comes to take the announced time.
		w.takeRetryAt(job.ID)
	} else {
		w.failed(job.Kind)
	}
	return err
}

// announceRetry fixes when the task's next attempt runs should the current
// one (attempt) fail: the first answer stands, and NextRetry uses it.
func (w *worker[A]) announceRetry(id int64, attempt int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.retryAt[id]; ok {
		return at
	}
	if w.retryAt == nil {
		w.retryAt = map[int64]time.Time{}
	}
	at := time.Now().Add(w.opts.Backoff(attempt)).UTC()
	w.retryAt[id] = at
	return at
}

// takeRetryAt returns and forgets the next attempt announced for task id.
func (w *worker[A]) takeRetryAt(id int64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.retryAt[id]
	delete(w.retryAt, id)
	return at, ok
}

// Timeout is River's deadline of a run, and the age at which its rescuer
// takes a run still marked running for abandoned: the kind's timeout plus
// the margin.
func (w *worker[A]) Timeout(*river.Job[A]) time.Duration {
	return w.opts.Timeout + w.margin
}

// NextRetry uses the wall clock, not db.Clock: River compares the result
// with its own (real) time to pick the task up again.
// A time the handler announced (Task.RetryAt) is kept, so that what it told
// people is what happens.
func (w *worker[A]) NextRetry(job *river.Job[A]) time.Time {
	if at, ok := w.takeRetryAt(job.ID); ok {
		return at
	}
	return time.Now().Add(w.opts.Backoff(job.Attempt))
}
