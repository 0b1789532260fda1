package task

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Option changes how one task is enqueued.
type Option func(*options)

type options struct {
	scheduledAt  time.Time
	priority     int
	queue        string
	maxAttempts  int
	uniqueByArgs bool
	uniqueFor    time.Duration
	account      accountMeta
}

// ScheduledAt runs the task at t rather than now. A time in the past means now.
func ScheduledAt(t time.Time) Option { return func(o *options) { o.scheduledAt = t } }

// Priority overrides the kind's priority (PriorityUrgent … PriorityBackground).
func Priority(p int) Option { return func(o *options) { o.priority = p } }

// Queue overrides the kind's queue.
func Queue(name string) Option { return func(o *options) { o.queue = name } }

// MaxAttempts overrides the kind's number of runs before the task fails.
func MaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// UniqueByArgs skips the insert when a task of the same kind and equal
// arguments is already queued, running or retrying (Enqueued.Duplicate), so
// that asking twice for the same work does it once. A completed, failed or
// cancelled task does not count, unless UniqueFor is given as well.
func UniqueByArgs() Option { return func(o *options) { o.uniqueByArgs = true } }

// UniqueFor allows one task of the kind (of the kind and arguments, with
// UniqueByArgs) per period d: "at most once an hour". Periods are fixed
// windows (time.Truncate: an hour runs from the full hour) and a task belongs
// to the window of its ScheduledAt, or of now. Within the window a completed
// task counts too; failed and cancelled ones do not. d is at least a second.
func UniqueFor(d time.Duration) Option { return func(o *options) { o.uniqueFor = d } }

// ForAccount ties the task to the account with the given id and materialised
// path ("/1/7/42/"), so that it can be listed with the account's subtree
// (Filter.AccountPath) and its handler knows whom it works for.
func ForAccount(id int64, path string) Option {
	return func(o *options) { o.account = accountMeta{AccountID: id, AccountPath: path} }
}

// Enqueued is the result of an enqueue.
type Enqueued struct {
	// Info is the new task, or the existing one that made this a duplicate.
	Info
	// Duplicate is set when a unique task (UniqueByArgs, UniqueFor) already
	// existed and nothing was inserted.
	Duplicate bool
}

// Enqueue adds a task in its own transaction; it starts as soon as a process
// polls its queue (the local one is woken at once). When the task goes with
// a change to the database, use EnqueueTx in the change's transaction
// instead: on SQLite, calling Enqueue while holding a write transaction on
// the same goroutine deadlocks, as the database has a single writer.
func (m *Manager) Enqueue(ctx context.Context, args Args, opts ...Option) (Enqueued, error) {
	client, err := m.riverClient()
	if err != nil {
		return Enqueued{}, err
	}
	io, err := m.insertOpts(args, opts)
	if err != nil {
		return Enqueued{}, err
	}
	res, err := client.Insert(ctx, args, io)
	if err != nil {
		return Enqueued{}, fmt.Errorf("task: enqueue %s: %w", args.Kind(), err)
	}
	return enqueued(res), nil
}

// EnqueueTx adds a task in tx, a write transaction of the same database: the
// task exists if and only if tx commits, so a change and the work it calls
// for are never separated (the outbox rule). The task becomes visible to
// workers at commit and starts within a poll interval.
func (m *Manager) EnqueueTx(ctx context.Context, tx *sql.Tx, args Args, opts ...Option) (Enqueued, error) {
	client, err := m.riverClient()
	if err != nil {
		return Enqueued{}, err
	}
	io, err := m.insertOpts(args, opts)
	if err != nil {
		return Enqueued{}, err
	}
	res, err := client.InsertTx(ctx, tx, args, io)
	if err != nil {
		return Enqueued{}, fmt.Errorf("task: enqueue %s: %w", args.Kind(), err)
	}
	return enqueued(res), nil
}

// Many is one task of EnqueueManyTx: its arguments and options.
type Many struct {
	Args    Args
	Options []Option
}

// EnqueueManyTx adds tasks in tx in one insert, with EnqueueTx's outbox
// rule: for work recorded by the thousand (the webhook deliveries of a
// billing run), where one insert a task would cost a round trip each.
// Unique options are honoured as in EnqueueTx.
func (m *Manager) EnqueueManyTx(ctx context.Context, tx *sql.Tx, tasks []Many) error {
	if len(tasks) == 0 {
		return nil
	}
	client, err := m.riverClient()
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(tasks))
	for i, t := range tasks {
		io, err := m.insertOpts(t.Args, t.Options)
		if err != nil {
			return err
		}
		params[i] = river.InsertManyParams{Args: t.Args, InsertOpts: io}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("task: enqueue %d tasks (%s, …): %w", len(tasks), tasks[0].Args.Kind(), err)
	}
	return nil
}

func enqueued(res *rivertype.JobInsertResult) Enqueued {
	return Enqueued{Info: infoOf(res.Job), Duplicate: res.UniqueSkippedAsDuplicate}
}

// unfinishedStates are the states in which a task counts for UniqueByArgs.
// River requires at least available, pending, running and scheduled.
var unfinishedStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// insertOpts merges the kind's defaults with opts into River's options. It
// must be called after riverClient, which fixes m.kinds.
func (m *Manager) insertOpts(args Args, opts []Option) (*river.InsertOpts, error) {
	kind := args.Kind()
	k, ok := m.kinds[kind]
	if !ok {
		return nil, fmt.Errorf("task: kind %s is not registered (task.Handle)", kind)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	io := &river.InsertOpts{
		Queue:       cmp.Or(o.queue, k.Queue),
		Priority:    cmp.Or(o.priority, k.Priority),
		MaxAttempts: cmp.Or(o.maxAttempts, k.MaxAttempts),
	}
	if _, ok := m.cfg.Queues[io.Queue]; !ok {
		return nil, fmt.Errorf("task: %s: queue %q is not configured", kind, io.Queue)
	}
	if io.Priority < PriorityUrgent || io.Priority > PriorityBackground {
		return nil, fmt.Errorf("task: %s: priority %d is not between 1 and 4", kind, io.Priority)
	}
	if io.MaxAttempts < 1 {
		return nil, fmt.Errorf("task: %s: max attempts %d is below 1", kind, io.MaxAttempts)
	}
	// A past time would park the task as "scheduled" until River's scheduler
	// next passes (every few seconds); leaving it unset runs it now. River
	// compares with the wall clock, so we do too.
	if o.scheduledAt.After(time.Now()) {
		io.ScheduledAt = o.scheduledAt
	}
	if o.account != (accountMeta{}) {
		meta, err := json.Marshal(o.account)
		if err != nil {
			return nil, fmt.Errorf("task: %s: metadata: %w", kind, err)
		}
		io.Metadata = meta
	}
	if o.uniqueFor != 0 && o.uniqueFor < time.Second {
		return nil, fmt.Errorf("task: %s: unique period %s is below a second", kind, o.uniqueFor)
	}
	if o.uniqueByArgs || o.uniqueFor > 0 {
		io.UniqueOpts = river.UniqueOpts{ByArgs: o.uniqueByArgs, ByPeriod: o.uniqueFor}
		if o.uniqueFor == 0 {
			// Without a period, only pending work counts: once done, the
			// same request is new work (River's default would count
			// completed tasks forever).
			io.UniqueOpts.ByState = unfinishedStates
		}
	}
	return io, nil
}
