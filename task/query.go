package task

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river/rivertype"

	"github.com/marketplane/marketplane"
)

// Filter selects tasks for List. Zero fields do not filter.
type Filter struct {
	Status Status
	Kind   string
	Queue  string
	// AccountPath keeps the tasks of the account at this path and of every
	// account below it (ForAccount).
	AccountPath string
	// BeforeID keeps tasks with a smaller id: pass the last id of a page to
	// get the next one.
	BeforeID int64
	// Limit bounds the page: default 50, at most 500.
	Limit int
}

// List returns the tasks matching f, newest first.
// Errors: EINVALID for an unknown status.
func (m *Manager) List(ctx context.Context, f Filter) ([]Info, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		states, ok := statesOf[f.Status]
		if !ok {
			return nil, marketplane.Errorf(marketplane.EINVALID, "unknown task status %q", f.Status)
		}
		ph := make([]string, len(states))
		for i, s := range states {
			ph[i] = arg(string(s))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(f.Kind))
	}
	if f.Queue != "" {
		where = append(where, "queue = "+arg(f.Queue))
	}
	if f.AccountPath != "" {
		// A prefix test with substr rather than LIKE: no wildcard to escape,
		// and case-sensitive on both engines.
		where = append(where, "substr(metadata->>'account_path', 1, "+
			arg(utf8.RuneCountInString(f.AccountPath))+") = "+arg(f.AccountPath))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < "+arg(f.BeforeID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := m.jobQuery
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(limit)

	rows, err := m.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("task: list: %w", err)
	}
	defer rows.Close()
	var list []Info
	for rows.Next() {
		row, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("task: list: %w", err)
		}
		list = append(list, infoOf(row))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task: list: %w", err)
	}
	return list, nil
}

// Get returns the task with the given id.
// Errors: ENOTFOUND.
func (m *Manager) Get(ctx context.Context, id int64) (Info, error) {
	row, err := scanJob(m.db.Read.QueryRowContext(ctx, m.jobQuery+" WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Info{}, marketplane.Errorf(marketplane.ENOTFOUND, "task %d not found", id)
	}
	if err != nil {
		return Info{}, fmt.Errorf("task %d: %w", id, err)
	}
	return infoOf(row), nil
}

// WaitFor polls the task until its status is one of statuses, or any
// finished status when none is given, and returns it. When ctx ends first it
// returns the last Info seen with ctx's error. For tests and the CLI.
func (m *Manager) WaitFor(ctx context.Context, id int64, statuses ...Status) (Info, error) {
	interval := min(m.cfg.PollInterval, 100*time.Millisecond)
	for {
		info, err := m.Get(ctx, id)
		if err != nil {
			return info, err
		}
		if slices.Contains(statuses, info.Status) || len(statuses) == 0 && info.Status.Finished() {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return info, fmt.Errorf("task %d is still %s: %w", id, info.Status, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Retry queues a failed or cancelled task again, or runs a queued or
// retrying one now. A failed task that used all its attempts gets one more.
// A running task whose run is abandoned (Abandoned: its process died) is
// queued again at once, its lost run recorded as a failed attempt.
// Errors: ENOTFOUND; ECONFLICT for a task running within its timeout or
// completed (enqueue a new one to do completed work again).
func (m *Manager) Retry(ctx context.Context, id int64) (Info, error) {
	client, err := m.riverClient()
	if err != nil {
		return Info{}, err
	}
	var row *rivertype.JobRow
	// River would queue a completed task again too: read the state and
	// retry in one transaction, so that the task cannot complete in between.
	err = m.db.InTx(ctx, func(tx *sql.Tx) error {
		run, err := m.lockRun(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case run.state == rivertype.JobStateCompleted:
			return marketplane.Errorf(marketplane.ECONFLICT, "task %d has completed: enqueue a new one to run it again", id)
		case run.state == rivertype.JobStateRunning && !m.abandoned(run, time.Now()):
			return marketplane.Errorf(marketplane.ECONFLICT, "task %d is running (since %s; it is taken for abandoned %s after that)",
				id, run.attemptedAt.Format(time.RFC3339), m.abandonAfter(run.kind))
		case run.state == rivertype.JobStateRunning:
			// River retries no running task: end the lost run first.
			if err := m.endAbandoned(ctx, tx, run, rivertype.JobStateRetryable, "its process is gone: retried by an operator"); err != nil {
				return err
			}
		}
		row, err = client.JobRetryTx(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("retry task %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	return infoOf(row), nil
}

// Cancel cancels a task that has not finished. A queued or retrying task is
// cancelled at once, and so is a running one whose run is abandoned
// (Abandoned: its process died). A task running within its timeout is asked
// to stop: its handler's context is cancelled if it runs in this process
// (other processes are not told, having no LISTEN/NOTIFY), and it ends
// cancelled if the handler then returns an error, completed if it returns
// nil. Cancelling a cancelled task changes nothing.
// Errors: ENOTFOUND; ECONFLICT for a completed or failed task.
func (m *Manager) Cancel(ctx context.Context, id int64) (Info, error) {
	client, err := m.riverClient()
	if err != nil {
		return Info{}, err
	}
	ended := false
	err = m.db.InTx(ctx, func(tx *sql.Tx) error {
		run, err := m.lockRun(ctx, tx, id)
		if err != nil || run.state != rivertype.JobStateRunning || !m.abandoned(run, time.Now()) {
			return err
		}
		ended = true
		return m.endAbandoned(ctx, tx, run, rivertype.JobStateCancelled, "its process is gone: cancelled by an operator")
	})
	if err != nil {
		return Info{}, err
	}
	if ended {
		return m.Get(ctx, id)
	}
	// JobCancel leaves finished tasks alone and returns them as they are, so
	// the state it returns tells a refusal from a cancellation, with no race.
	row, err := client.JobCancel(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return Info{}, marketplane.Errorf(marketplane.ENOTFOUND, "task %d not found", id)
	}
	if err != nil {
		return Info{}, fmt.Errorf("cancel task %d: %w", id, err)
	}
	switch row.State {
	case rivertype.JobStateCompleted:
		return Info{}, marketplane.Errorf(marketplane.ECONFLICT, "task %d has already completed", id)
	case rivertype.JobStateDiscarded:
		return Info{}, marketplane.Errorf(marketplane.ECONFLICT, "task %d has already failed", id)
	}
	return infoOf(row), nil
}

// run is what Retry and Cancel read of a task, locked.
type run struct {
	id          int64
	kind        string
	state       rivertype.JobState
	attempt     int
	attemptedAt time.Time
}

// lockRun reads task id in tx, locked until tx ends.
// Errors: ENOTFOUND.
func (m *Manager) lockRun(ctx context.Context, tx *sql.Tx, id int64) (run, error) {
	r := run{id: id}
	err := tx.QueryRowContext(ctx, `SELECT kind, state, attempt, attempted_at FROM river_job WHERE id = $1`+m.dialect.forUpdate(), id).
		Scan(&r.kind, &r.state, &r.attempt, timeScan{&r.attemptedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return r, marketplane.Errorf(marketplane.ENOTFOUND, "task %d not found", id)
	}
	if err != nil {
		return r, fmt.Errorf("task %d: %w", id, err)
	}
	return r, nil
}

// abandonAfter is how long after its start a run of kind is taken for
// abandoned: the kind's timeout, by which its handler has been told to
// stop, plus the margin for it to return. River's rescuer uses the same
// figure (worker.Timeout).
func (m *Manager) abandonAfter(kind string) time.Duration {
	timeout := DefaultTimeout
	if k, ok := m.kinds[kind]; ok {
		timeout = k.Timeout
	}
	return timeout + m.cfg.RescueMargin
}

// abandoned reports whether r, running, started longer ago than its kind's
// abandonAfter, by the wall clock: River stamps a run's start with its own
// (real) time. No live process runs it any more: its handler's context
// ended at the timeout, and it had the margin to return.
func (m *Manager) abandoned(r run, now time.Time) bool {
	return r.state == rivertype.JobStateRunning && !r.attemptedAt.IsZero() && now.Sub(r.attemptedAt) > m.abandonAfter(r.kind)
}

// endAbandoned ends the abandoned run r in tx, leaving the task in state
// (retryable or cancelled) with the run recorded as a failed attempt that
// says why, as River's rescuer records the runs it takes.
func (m *Manager) endAbandoned(ctx context.Context, tx *sql.Tx, r run, state rivertype.JobState, why string) error {
	now := time.Now().UTC()
	e, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(r.attempt, 0), Error: why})
	if err != nil {
		return err
	}
	var finalized any
	if state == rivertype.JobStateCancelled {
		finalized = m.dialect.timeArg(now)
	}
	_, err = tx.ExecContext(ctx, `UPDATE river_job SET state = $1, finalized_at = $2, scheduled_at = $3,
		errors = `+m.dialect.appendError("$4")+` WHERE id = $5 AND state = 'running'`,
		string(state), finalized, m.dialect.timeArg(now), string(e), r.id)
	if err != nil {
		return fmt.Errorf("task %d: end abandoned run: %w", r.id, err)
	}
	return nil
}

// scanJob reads a row of m.jobQuery.
func scanJob(s interface{ Scan(...any) error }) (*rivertype.JobRow, error) {
	var (
		row                      rivertype.JobRow
		attemptedAt, finalizedAt time.Time
		errs                     []byte
	)
	err := s.Scan(&row.ID, &row.Kind, &row.Queue, &row.State, &row.Attempt, &row.MaxAttempts, &row.Priority,
		&row.EncodedArgs, &row.Metadata, timeScan{&row.CreatedAt}, timeScan{&row.ScheduledAt},
		timeScan{&attemptedAt}, timeScan{&finalizedAt}, &errs)
	if err != nil {
		return nil, err
	}
	if !attemptedAt.IsZero() {
		row.AttemptedAt = &attemptedAt
	}
	if !finalizedAt.IsZero() {
		row.FinalizedAt = &finalizedAt
	}
	if len(errs) > 0 {
		if err := json.Unmarshal(errs, &row.Errors); err != nil {
			return nil, fmt.Errorf("task %d: errors: %w", row.ID, err)
		}
	}
	return &row, nil
}

// timeScan reads a timestamp of either engine: PostgreSQL's timestamptz, or
// River's SQLite text, which the SQLite driver usually parses itself (the
// column is declared timestamp) and otherwise hands over as text. NULL gives
// the zero time.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.t = time.Time{}
		return nil
	case time.Time:
		*s.t = x.UTC()
		return nil
	case string:
		return s.parse(x)
	case []byte:
		return s.parse(string(x))
	default:
		return fmt.Errorf("timestamp: cannot scan %T", v)
	}
}

func (s timeScan) parse(x string) error {
	// Go's time.String form carries a monotonic clock reading at the end.
	x, _, _ = strings.Cut(x, " m=")
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999",           // River's queries
		"2006-01-02 15:04:05.999999999 -0700 MST", // time.String, from River's completer
		"2006-01-02 15:04:05.999999999-07:00",
		time.RFC3339Nano,
	} {
		if t, err := time.Parse(layout, x); err == nil {
			*s.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q: unknown layout", x)
}
