package task

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"
)

// Queues. Each has its own concurrency, so that a flood of one kind of work
// (a provider sync of a large catalog) does not hold up another (sending a
// password reset email).
const (
	QueueDefault       = "default"
	QueueSync          = "sync"          // catalog and usage synchronisation with providers
	QueueProvisioning  = "provisioning"  // creating and changing customers' services at providers
	QueueBilling       = "billing"       // billing runs, invoices, payments
	QueueNotifications = "notifications" // email and webhooks
)

// DefaultQueues returns the named queues with their default concurrency (the
// number of tasks of that queue one process runs at once). Billing is kept
// low: its runs are heavy on the database and must not starve the rest.
func DefaultQueues() map[string]int {
	return map[string]int{
		QueueDefault:       10,
		QueueSync:          4,
		QueueProvisioning:  8,
		QueueBilling:       2,
		QueueNotifications: 4,
	}
}

// Priorities, within a queue: a queue runs its most urgent tasks first.
const (
	PriorityUrgent     = 1
	PriorityNormal     = 2 // the default
	PriorityLow        = 3
	PriorityBackground = 4
)

// Defaults.
const (
	DefaultPollInterval  = time.Second
	DefaultRetentionDays = 90
	DefaultCleanupBatch  = 1000
	// DefaultMaxAttempts with DefaultBackoff keeps retrying for about half a
	// day, long enough to ride out a provider's outage.
	DefaultMaxAttempts = 20
	// DefaultTimeout bounds one run of a handler (its context is cancelled).
	DefaultTimeout = time.Minute
	// DefaultRescueMargin is how long past its kind's timeout a run is given
	// to return before it is taken for abandoned (DefaultRescueMargin).
	DefaultRescueMargin = time.Minute
)

// Config tunes a Manager. Its zero value is ready to use.
type Config struct {
	// Queues sets the concurrency of queues by name. The named queues
	// (QueueDefault …) always exist with DefaultQueues' values unless set
	// here; other names add queues.
	Queues map[string]int
	// PollInterval is how often an idle process looks for new tasks; there is
	// no LISTEN/NOTIFY (SQLite has none, and PgBouncer in transaction mode
	// breaks it), so it is also the delay before a task enqueued by another
	// process starts. Default DefaultPollInterval.
	PollInterval time.Duration
	// RetentionDays is how long finished tasks are kept before the daily
	// cleanup deletes them. Default DefaultRetentionDays; negative keeps them
	// forever (no cleanup task is scheduled).
	RetentionDays int
	// CleanupBatch bounds how many tasks one cleanup transaction deletes, so
	// that cleanup never blocks other writers for long. Default
	// DefaultCleanupBatch.
	CleanupBatch int
	// CleanupSchedule says when the cleanup runs. Default DailyAt(3, 0).
	CleanupSchedule Schedule
	// RescueMargin is how long a run may go on past its kind's timeout
	// before it is taken for abandoned by a process that died (kill -9, a
	// lost machine): the task manager then runs it again, and operators may
	// retry or cancel it (Retry, Cancel). A handler whose context is done
	// returns well within it. Default DefaultRescueMargin.
	RescueMargin time.Duration
	// InsertOnly makes a manager that enqueues and inspects tasks but never
	// runs them: a process such as the CLI, which exits right away. Start and
	// Stop do nothing.
	InsertOnly bool
}

func (c Config) withDefaults() (Config, error) {
	queues := DefaultQueues()
	for name, n := range c.Queues {
		if !queueName.MatchString(name) {
			return c, fmt.Errorf("task: queue name %q: use lower case letters, digits and _", name)
		}
		if n < 1 || n > 10_000 {
			return c, fmt.Errorf("task: queue %s: concurrency %d is not between 1 and 10000", name, n)
		}
		queues[name] = n
	}
	c.Queues = queues
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PollInterval < time.Millisecond {
		return c, fmt.Errorf("task: poll interval %s is below 1ms", c.PollInterval)
	}
	if c.RetentionDays == 0 {
		c.RetentionDays = DefaultRetentionDays
	}
	if c.CleanupBatch == 0 {
		c.CleanupBatch = DefaultCleanupBatch
	}
	if c.CleanupBatch < 1 {
		return c, fmt.Errorf("task: cleanup batch %d is below 1", c.CleanupBatch)
	}
	if c.RescueMargin == 0 {
		c.RescueMargin = DefaultRescueMargin
	}
	if c.RescueMargin < 0 {
		return c, fmt.Errorf("task: rescue margin %s is negative", c.RescueMargin)
	}
	if c.CleanupSchedule == nil {
		c.CleanupSchedule = DailyAt(3, 0)
	}
	return c, nil
}

var (
	queueName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// kindName is stricter than River's own rule, so that every kind River
	// accepts is also a readable, stable name.
	kindName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
)

// KindOptions are the defaults of a kind of task; Enqueue's options override
// them for one task.
type KindOptions struct {
	// Queue runs the kind. Default QueueDefault.
	Queue string
	// Priority within the queue, PriorityUrgent (1) to PriorityBackground
	// (4). Default PriorityNormal.
	Priority int
	// MaxAttempts is how many runs a task gets before it is failed. Default
	// DefaultMaxAttempts.
	MaxAttempts int
	// Timeout bounds one run: the handler's context is cancelled after it.
	// Default DefaultTimeout. Every kind has one: a run still marked running
	// Timeout plus Config.RescueMargin after it started is taken for the
	// run of a process that died, and runs again.
	Timeout time.Duration
	// Backoff says how long to wait before the next attempt. Default
	// DefaultBackoff.
	Backoff Backoff
}

func (o KindOptions) withDefaults(queues map[string]int) (KindOptions, error) {
	if o.Queue == "" {
		o.Queue = QueueDefault
	}
	if _, ok := queues[o.Queue]; !ok {
		return o, fmt.Errorf("queue %q is not configured", o.Queue)
	}
	if o.Priority == 0 {
		o.Priority = PriorityNormal
	}
	if o.Priority < PriorityUrgent || o.Priority > PriorityBackground {
		return o, fmt.Errorf("priority %d is not between 1 and 4", o.Priority)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxAttempts < 1 {
		return o, fmt.Errorf("max attempts %d is below 1", o.MaxAttempts)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("timeout %s is negative: every kind needs one, to tell a dead process's run from a slow one", o.Timeout)
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	return o, nil
}

// Backoff returns how long to wait after failed attempt number attempt
// (1 after the first run) before the next one.
type Backoff func(attempt int) time.Duration

// DefaultBackoff waits 10s after the first failure, doubling up to an hour.
var DefaultBackoff = ExponentialBackoff(10*time.Second, time.Hour)

// ExponentialBackoff waits base after the first failure and doubles the wait
// after each further one, up to max. Each wait is shortened by a random part
// of up to a fifth, so that tasks which failed together (a provider was down)
// do not all come back at the same instant, even once they reach max.
func ExponentialBackoff(base, max time.Duration) Backoff {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		if jitter := int64(d / 5); jitter > 0 {
			d -= time.Duration(rand.Int64N(jitter))
		}
		return d
	}
}

// Schedule says when a periodic task runs next. It has River's
// PeriodicSchedule's method, so either can be used for the other.
type Schedule interface {
	// Next returns the first run strictly after t.
	Next(t time.Time) time.Time
}

// Every runs a periodic task every d, counted from when the process became
// the one that enqueues periodic tasks.
func Every(d time.Duration) Schedule {
	if d <= 0 {
		panic(fmt.Sprintf("task: Every(%s): the interval must be positive", d))
	}
	return every(d)
}

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// DailyAt runs a periodic task once a day at hour:minute UTC.
func DailyAt(hour, minute int) Schedule {
	if hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		panic(fmt.Sprintf("task: DailyAt(%d, %d): not a time of day", hour, minute))
	}
	return daily{hour: hour, minute: minute}
}

type daily struct{ hour, minute int }

func (d daily) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, d.minute, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}
