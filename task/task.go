// Package task is Marketplane's task manager: the background work (syncing
// with providers, provisioning, billing runs, notifications, housekeeping)
// that must survive restarts and must not be lost when a request returns.
//
// Tasks live in the same database as everything else, in River's tables
// (https://riverqueue.com), so that a change and the task it causes are
// committed in one transaction (the outbox rule: see Manager.EnqueueTx). This
// package is the only one that imports River; the rest of Marketplane speaks
// in Task, Info and Status.
//
// Delivery is at least once. A handler may run more than once for the same
// task: after a crash or a deploy that kills the process mid-task, after a
// timeout whose handler did not stop in time, or when the database did not
// record the result. Handlers must therefore be idempotent: check what was
// already done before doing it again (look the resource up by the task's
// arguments, use the provider's idempotency keys, write with upserts).
package task

import (
	"encoding/json"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Args are the arguments of a task. Kind names the handler that runs it; the
// value is stored as JSON, so it must survive a JSON round trip (exported
// fields, no pointers to shared state). Use a struct value type: the kind is
// read from the zero value at registration.
//
// Kinds are lower case words separated by dots, "provider.sync" or
// "task.cleanup", and never change once tasks of that kind exist.
type Args interface {
	Kind() string
}

// Task is one run of a task as its handler sees it.
type Task[A Args] struct {
	ID          int64
	Kind        string
	Queue       string
	Attempt     int // 1 on the first run
	MaxAttempts int // Attempt == MaxAttempts on the last run
	Args        A
	AccountID   int64  // 0 when the task is not tied to an account
	AccountPath string // "" when the task is not tied to an account
	CreatedAt   time.Time

	retryAt func() time.Time
}

// RetryAt returns when the next attempt runs should this one fail now, by
// the kind's backoff; the task manager then schedules it at that very time.
// Zero on the last attempt. For a handler that tells people when it tries
// again (an order waiting on its connector).
func (t *Task[A]) RetryAt() time.Time {
	if t.retryAt == nil || t.Attempt >= t.MaxAttempts {
		return time.Time{}
	}
	return t.retryAt()
}

// Status is where a task stands. Marketplane shows these six, not River's
// eight states, so that the API and the CLI do not change if River does.
type Status string

// Statuses.
const (
	StatusQueued    Status = "queued"    // waiting to run, now or at ScheduledAt
	StatusRunning   Status = "running"   // a handler is running it
	StatusRetrying  Status = "retrying"  // failed at least once, will run again at ScheduledAt
	StatusFailed    Status = "failed"    // failed on its last attempt; Retry runs it again
	StatusCompleted Status = "completed" // its handler returned nil
	StatusCancelled Status = "cancelled" // cancelled before it could complete
)

// statesOf maps our statuses to River's states, for filters.
var statesOf = map[Status][]rivertype.JobState{
	StatusQueued:    {rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled},
	StatusRunning:   {rivertype.JobStateRunning},
	StatusRetrying:  {rivertype.JobStateRetryable},
	StatusFailed:    {rivertype.JobStateDiscarded},
	StatusCompleted: {rivertype.JobStateCompleted},
	StatusCancelled: {rivertype.JobStateCancelled},
}

// statusOf maps a River state to our status. A state River may add later
// shows as queued rather than breaking readers.
func statusOf(s rivertype.JobState) Status {
	switch s {
	case rivertype.JobStateRunning:
		return StatusRunning
	case rivertype.JobStateRetryable:
		return StatusRetrying
	case rivertype.JobStateDiscarded:
		return StatusFailed
	case rivertype.JobStateCompleted:
		return StatusCompleted
	case rivertype.JobStateCancelled:
		return StatusCancelled
	default: // available, pending, scheduled
		return StatusQueued
	}
}

// Finished reports whether a task in status s will not run again by itself.
func (s Status) Finished() bool {
	return s == StatusFailed || s == StatusCompleted || s == StatusCancelled
}

// Info is what Marketplane knows about a task, for listing and inspection.
type Info struct {
	ID          int64
	Kind        string
	Queue       string
	Status      Status
	Attempt     int // runs started so far
	MaxAttempts int
	Priority    int
	Errors      []AttemptError // one per failed attempt, oldest first
	Args        json.RawMessage
	AccountID   int64
	AccountPath string
	CreatedAt   time.Time
	ScheduledAt time.Time // when it runs (or ran) next
	AttemptedAt time.Time // start of the last run; zero if it never ran
	FinalizedAt time.Time // zero until the task is finished
}

// AttemptError is the error of one failed run.
type AttemptError struct {
	At      time.Time
	Attempt int
	Message string
}

// accountMeta is the part of a task's metadata that Marketplane writes. It
// scopes a task to an account subtree (Filter.AccountPath).
type accountMeta struct {
	AccountID   int64  `json:"account_id,omitempty"`
	AccountPath string `json:"account_path,omitempty"`
}

func accountOf(metadata []byte) accountMeta {
	var m accountMeta
	// River owns the rest of the metadata; a document we cannot read simply
	// has no account.
	_ = json.Unmarshal(metadata, &m)
	return m
}

// infoOf turns a River row into our Info.
func infoOf(row *rivertype.JobRow) Info {
	acct := accountOf(row.Metadata)
	info := Info{
		ID:          row.ID,
		Kind:        row.Kind,
		Queue:       row.Queue,
		Status:      statusOf(row.State),
		Attempt:     row.Attempt,
		MaxAttempts: row.MaxAttempts,
		Priority:    row.Priority,
		Args:        json.RawMessage(row.EncodedArgs),
		AccountID:   acct.AccountID,
		AccountPath: acct.AccountPath,
		CreatedAt:   row.CreatedAt.UTC(),
		ScheduledAt: row.ScheduledAt.UTC(),
	}
	if row.AttemptedAt != nil {
		info.AttemptedAt = row.AttemptedAt.UTC()
	}
	if row.FinalizedAt != nil {
		info.FinalizedAt = row.FinalizedAt.UTC()
	}
	for _, e := range row.Errors {
		info.Errors = append(info.Errors, AttemptError{At: e.At.UTC(), Attempt: e.Attempt, Message: e.Error})
	}
	return info
}
