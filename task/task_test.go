package task

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// Task kinds of the tests. Each test registers its own handlers on its own
// manager, so the same kinds do different things in different tests.
type okArgs struct {
	N int `json:"n"`
}

func (okArgs) Kind() string { return "test.ok" }

type failArgs struct {
	N int `json:"n"`
}

func (failArgs) Kind() string { return "test.fail" }

type otherArgs struct {
	N int `json:"n"`
}

func (otherArgs) Kind() string { return "test.other" }

// setup migrates db and returns a manager polling every 50ms, not started.
func setup(t *testing.T, db *store.DB, cfg Config) *Manager {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	m, err := New(db, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return m
}

// start starts m and stops it at the end of the test.
func start(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

// testLogger collects River's and the manager's logs and prints them only
// when the test fails. Nothing is printed through t after the test: logs
// may still come from goroutines stopping.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits for the task to reach one of statuses.
func waitFor(t *testing.T, m *Manager, id int64, statuses ...Status) Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	info, err := m.WaitFor(ctx, id, statuses...)
	if err != nil {
		t.Fatalf("wait for task %d to be %v: %v (errors %+v)", id, statuses, err, info.Errors)
	}
	return info
}

func enqueue(t *testing.T, m *Manager, args Args, opts ...Option) Info {
	t.Helper()
	e, err := m.Enqueue(context.Background(), args, opts...)
	if err != nil {
		t.Fatalf("enqueue %s: %v", args.Kind(), err)
	}
	if e.Duplicate {
		t.Fatalf("enqueue %s: unexpected duplicate of task %d", args.Kind(), e.ID)
	}
	return e.Info
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := marketplane.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// counter counts handler runs per key.
type counter struct {
	mu sync.Mutex
	n  map[int]int
}

func (c *counter) add(k int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int]int{}
	}
	c.n[k]++
}

func (c *counter) get(k int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func TestEnqueueTxRolledBackNeverRuns(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// One worker in the queue: its tasks run one after the other, by
		// priority.
		m := setup(t, db, Config{Queues: map[string]int{"serial": 1}})
		var runs counter
		Handle(m, func(ctx context.Context, tk *Task[okArgs]) error {
			runs.add(tk.Args.N)
			return nil
		}, KindOptions{Queue: "serial"})
		start(t, m)

		errRollback := errors.New("roll back")
		var rolledBack Enqueued
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			if rolledBack, err = m.EnqueueTx(ctx, tx, okArgs{N: 1}); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("transaction: %v", err)
		}
		if rolledBack.ID == 0 {
			t.Fatal("EnqueueTx returned no id: nothing was inserted in the transaction")
		}
		_, err = m.Get(ctx, rolledBack.ID)
		wantCode(t, err, marketplane.ENOTFOUND)

		// A task committed after it, in the same one-worker queue and of a
		// lower priority, runs: it starts only once the rolled-back one,
		// had it been committed, had run to its end.
		var committed Enqueued
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			committed, err = m.EnqueueTx(ctx, tx, okArgs{N: 2}, Priority(PriorityBackground))
			return err
		}); err != nil {
			t.Fatalf("commit: %v", err)
		}
		waitFor(t, m, committed.ID, StatusCompleted)

		if runs.get(1) != 0 || runs.get(2) != 1 {
			t.Errorf("runs: rolled back %d, committed %d; want 0 and 1", runs.get(1), runs.get(2))
		}
		list, err := m.List(ctx, Filter{Kind: okArgs{}.Kind()})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != committed.ID || list[0].Status != StatusCompleted {
			t.Errorf("list = %+v, want only the committed task %d, completed", list, committed.ID)
		}
	})
}

func TestFailingTaskRetriesThenFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := setup(t, db, Config{})
		var runs atomic.Int32
		Handle(m, func(ctx context.Context, tk *Task[failArgs]) error {
			runs.Add(1)
			return fmt.Errorf("boom on attempt %d", tk.Attempt)
		}, KindOptions{MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond }})
		start(t, m)

		e := enqueue(t, m, failArgs{N: 1})
		if e.Status != StatusQueued || e.MaxAttempts != 3 || e.Attempt != 0 {
			t.Errorf("enqueued %+v, want queued with 0/3 attempts", e)
		}
		got := waitFor(t, m, e.ID, StatusFailed)

		if got.Attempt != 3 || got.MaxAttempts != 3 {
			t.Errorf("attempts %d/%d, want 3/3", got.Attempt, got.MaxAttempts)
		}
		if n := runs.Load(); n != 3 {
			t.Errorf("handler ran %d times, want 3", n)
		}
		if got.FinalizedAt.IsZero() {
			t.Error("failed task has no FinalizedAt")
		}
		if len(got.Errors) != 3 {
			t.Fatalf("errors = %+v, want 3", got.Errors)
		}
		for i, e := range got.Errors {
			if want := fmt.Sprintf("boom on attempt %d", i+1); e.Message != want || e.Attempt != i+1 || e.At.IsZero() {
				t.Errorf("error %d = %+v, want attempt %d %q with a time", i, e, i+1, want)
			}
		}
	})
}

func TestUniqueTaskIsNotDuplicated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{})
		Handle(m, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{})
		Handle(m, func(context.Context, *Task[otherArgs]) error { return nil }, KindOptions{})

		first := enqueue(t, m, okArgs{N: 1}, UniqueByArgs())
		again, err := m.Enqueue(ctx, okArgs{N: 1}, UniqueByArgs())
		if err != nil {
			t.Fatal(err)
		}
		if !again.Duplicate || again.ID != first.ID {
			t.Errorf("second enqueue = duplicate %v of task %d, want a duplicate of %d", again.Duplicate, again.ID, first.ID)
		}
		list, err := m.List(ctx, Filter{Kind: okArgs{}.Kind()})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != first.ID {
			t.Errorf("listed %+v, want only task %d", list, first.ID)
		}
		enqueue(t, m, okArgs{N: 2}, UniqueByArgs()) // other arguments: a new task

		// UniqueFor without UniqueByArgs: one task of the kind per window,
		// whatever its arguments.
		window := time.Now().Truncate(time.Hour)
		hourly := enqueue(t, m, otherArgs{N: 1}, UniqueFor(time.Hour))
		sameHour, err := m.Enqueue(ctx, otherArgs{N: 2}, UniqueFor(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		sameWindow := time.Now().Truncate(time.Hour).Equal(window)
		if sameWindow && (!sameHour.Duplicate || sameHour.ID != hourly.ID) {
			t.Errorf("second task in the hour = duplicate %v of %d, want a duplicate of %d", sameHour.Duplicate, sameHour.ID, hourly.ID)
		}

		// Once done, the same request by arguments is new work; within its
		// period, a completed task still counts.
		start(t, m)
		waitFor(t, m, first.ID, StatusCompleted)
		waitFor(t, m, hourly.ID, StatusCompleted)
		if redo := enqueue(t, m, okArgs{N: 1}, UniqueByArgs()); redo.ID == first.ID {
			t.Errorf("enqueue after completion returned the completed task %d", first.ID)
		}
		later, err := m.Enqueue(ctx, otherArgs{N: 3}, UniqueFor(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Truncate(time.Hour).Equal(window) && !later.Duplicate {
			t.Errorf("task in the same hour as a completed one was inserted as %d, want a duplicate", later.ID)
		}
	})
}

func TestCleanupDeletesOnlyOldFinishedTasks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{RetentionDays: 90})
		Handle(m, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{})
		Handle(m, func(context.Context, *Task[failArgs]) error { return errors.New("no") }, KindOptions{MaxAttempts: 1})

		var completed, failed, queued []int64
		for i := range 4 {
			completed = append(completed, enqueue(t, m, okArgs{N: i}).ID)
		}
		for i := range 2 {
			failed = append(failed, enqueue(t, m, failArgs{N: i}).ID)
		}
		future := time.Now().Add(24 * time.Hour)
		for i := range 3 {
			queued = append(queued, enqueue(t, m, okArgs{N: 10 + i}, ScheduledAt(future)).ID)
		}
		cancelled := queued[2]
		queued = queued[:2]
		if _, err := m.Cancel(ctx, cancelled); err != nil {
			t.Fatal(err)
		}
		start(t, m)
		for _, id := range completed {
			waitFor(t, m, id, StatusCompleted)
		}
		for _, id := range failed {
			waitFor(t, m, id, StatusFailed)
		}
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := m.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}

		now := time.Now()
		cutoff := now.AddDate(0, 0, -90)
		if n, err := m.Cleanup(ctx, cutoff, 1000); err != nil || n != 0 {
			t.Fatalf("cleanup of recent tasks deleted %d (%v), want 0", n, err)
		}
		finishedAt := func(id int64, at time.Time) {
			t.Helper()
			if _, err := db.Write.ExecContext(ctx, `UPDATE river_job SET finalized_at = $1 WHERE id = $2`,
				m.dialect.timeArg(at), id); err != nil {
				t.Fatal(err)
			}
		}
		old := []int64{completed[0], completed[1], completed[2], failed[0], cancelled}
		for _, id := range old {
			finishedAt(id, now.AddDate(0, 0, -100))
		}
		finishedAt(completed[3], cutoff.Add(time.Minute)) // just inside the retention

		// Five old tasks in batches of two: a single batch would delete two.
		n, err := m.Cleanup(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(old) {
			t.Errorf("cleanup deleted %d tasks, want %d", n, len(old))
		}
		for _, id := range old {
			if _, err := m.Get(ctx, id); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
				t.Errorf("old task %d: %v, want deleted", id, err)
			}
		}
		kept := map[int64]Status{completed[3]: StatusCompleted, failed[1]: StatusFailed, queued[0]: StatusQueued, queued[1]: StatusQueued}
		for id, want := range kept {
			if info, err := m.Get(ctx, id); err != nil || info.Status != want {
				t.Errorf("kept task %d: %s (%v), want %s", id, info.Status, err, want)
			}
		}

		// The daily task counts RetentionDays back from the injected clock.
		db.Clock = marketplane.NewTestClock(now.AddDate(0, 0, 200))
		if err := m.runCleanup(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{completed[3], failed[1]} {
			if _, err := m.Get(ctx, id); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
				t.Errorf("task %d finished 200 days before the clock: %v, want deleted", id, err)
			}
		}
		for _, id := range queued {
			if info, err := m.Get(ctx, id); err != nil || info.Status != StatusQueued {
				t.Errorf("queued task %d: %s (%v), want kept", id, info.Status, err)
			}
		}
	})
}

func TestRetryAndCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{Queues: map[string]int{"serial": 1}})
		var failing atomic.Bool
		failing.Store(true)
		Handle(m, func(context.Context, *Task[failArgs]) error {
			if failing.Load() {
				return errors.New("not yet")
			}
			return nil
		}, KindOptions{MaxAttempts: 1})
		// In "serial", one task at a time: a blocker holds the worker until
		// released, and the tasks behind it run by priority.
		var runs counter
		Handle(m, func(ctx context.Context, tk *Task[okArgs]) error {
			runs.add(tk.Args.N)
			return nil
		}, KindOptions{Queue: "serial"})
		blocking, release := make(chan struct{}), make(chan struct{})
		Handle(m, func(ctx context.Context, tk *Task[otherArgs]) error {
			close(blocking)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, KindOptions{Queue: "serial", MaxAttempts: 1})
		start(t, m)

		// A failed task, retried, runs once more.
		e := enqueue(t, m, failArgs{})
		waitFor(t, m, e.ID, StatusFailed)
		failing.Store(false)
		retried, err := m.Retry(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if retried.Status != StatusQueued || retried.MaxAttempts != 2 {
			t.Errorf("retried = %s with %d max attempts, want queued with 2", retried.Status, retried.MaxAttempts)
		}
		done := waitFor(t, m, e.ID, StatusCompleted)
		if done.Attempt != 2 || len(done.Errors) != 1 {
			t.Errorf("after retry: attempt %d with %d errors, want 2 and 1", done.Attempt, len(done.Errors))
		}

		// A completed task can be neither retried nor cancelled.
		_, err = m.Retry(ctx, e.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = m.Cancel(ctx, e.ID)
		wantCode(t, err, marketplane.ECONFLICT)

		// A queued task, due now but waiting for the worker, is cancelled
		// at once, and never runs: a task queued after it at a lower
		// priority runs once the worker is free, and so would it.
		enqueue(t, m, otherArgs{})
		select {
		case <-blocking:
		case <-time.After(15 * time.Second):
			t.Fatal("the blocker did not start")
		}
		s := enqueue(t, m, okArgs{N: 1})
		c, err := m.Cancel(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != StatusCancelled || c.FinalizedAt.IsZero() {
			t.Errorf("cancelled = %s finalized %v, want cancelled with a time", c.Status, c.FinalizedAt)
		}
		if again, err := m.Cancel(ctx, s.ID); err != nil || again.Status != StatusCancelled {
			t.Errorf("second cancel = %s (%v), want cancelled again", again.Status, err)
		}
		// A scheduled task is cancelled at once too.
		later := enqueue(t, m, okArgs{N: 3}, ScheduledAt(time.Now().Add(time.Hour)))
		if c, err := m.Cancel(ctx, later.ID); err != nil || c.Status != StatusCancelled {
			t.Errorf("cancel of a scheduled task = %s (%v), want cancelled", c.Status, err)
		}
		marker := enqueue(t, m, okArgs{N: 2}, Priority(PriorityBackground))
		close(release)
		waitFor(t, m, marker.ID, StatusCompleted)
		if got, _ := m.Get(ctx, s.ID); got.Status != StatusCancelled || runs.get(1) != 0 {
			t.Errorf("cancelled task: %s after %d runs, want cancelled and never run", got.Status, runs.get(1))
		}
		// A cancelled task, retried, runs now.
		if _, err := m.Retry(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, m, s.ID, StatusCompleted)
		if runs.get(1) != 1 {
			t.Errorf("retried cancelled task ran %d times, want 1", runs.get(1))
		}

		const unknown = 1 << 40
		_, err = m.Get(ctx, unknown)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = m.Retry(ctx, unknown)
		wantCode(t, err, marketplane.ENOTFOUND)
		_, err = m.Cancel(ctx, unknown)
		wantCode(t, err, marketplane.ENOTFOUND)
	})
}

type tickArgs struct{}

func (tickArgs) Kind() string { return "test.tick" }

type hourlyArgs struct{}

func (hourlyArgs) Kind() string { return "test.hourly" }

func TestPeriodicTasksRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{})
		var ticks, hourly atomic.Int32
		Handle(m, func(context.Context, *Task[tickArgs]) error { ticks.Add(1); return nil }, KindOptions{Queue: QueueSync})
		Handle(m, func(context.Context, *Task[hourlyArgs]) error { hourly.Add(1); return nil }, KindOptions{})
		m.Periodic(Every(200*time.Millisecond), func() Args { return tickArgs{} }, false)
		m.Periodic(Every(time.Hour), func() Args { return hourlyArgs{} }, true)
		start(t, m)

		var done []Info
		for deadline := time.Now().Add(15 * time.Second); len(done) < 3; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d periodic tasks completed in 15s (%d runs), want at least 3", len(done), ticks.Load())
			}
			var err error
			if done, err = m.List(ctx, Filter{Kind: tickArgs{}.Kind(), Status: StatusCompleted}); err != nil {
				t.Fatal(err)
			}
		}
		if n := ticks.Load(); n < 3 {
			t.Errorf("3 ticks completed after %d runs", n)
		}
		if done[0].Queue != QueueSync || done[0].Priority != PriorityNormal {
			t.Errorf("tick %+v, want the kind's queue sync and normal priority", done[0])
		}
		if n := hourly.Load(); n != 1 {
			t.Errorf("hourly task with run on start ran %d times, want 1", n)
		}
	})
}

// TestProcessesShareAQueue runs 200 tasks with two managers on their own
// connection pools, as two processes would (on PostgreSQL; SQLite has one
// process). Every task must run exactly once, never twice at the same time,
// and on PostgreSQL both processes must take part.
func TestProcessesShareAQueue(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		url := storetest.URL(t, e)
		dbs := []*store.DB{storetest.OpenURL(t, url)}
		if e == store.Postgres {
			dbs = append(dbs, storetest.OpenURL(t, url))
		}
		if _, err := dbs[0].Write.ExecContext(ctx, `CREATE TABLE task_run (task_id BIGINT NOT NULL, runner TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}

		var (
			mu       sync.Mutex
			running  = map[int64]int{}
			overlaps int
		)
		var managers []*Manager
		for i, db := range dbs {
			runner := fmt.Sprintf("p%d", i)
			m := setup(t, db, Config{Queues: map[string]int{QueueDefault: 4}}) // Migrate twice: idempotent
			Handle(m, func(ctx context.Context, tk *Task[okArgs]) error {
				mu.Lock()
				running[tk.ID]++
				if running[tk.ID] > 1 {
					overlaps++
				}
				mu.Unlock()
				defer func() {
					mu.Lock()
					running[tk.ID]--
					mu.Unlock()
				}()
				time.Sleep(10 * time.Millisecond)
				_, err := db.Write.ExecContext(ctx, `INSERT INTO task_run (task_id, runner) VALUES ($1, $2)`, tk.ID, runner)
				return err
			}, KindOptions{})
			start(t, m)
			managers = append(managers, m)
		}

		const n = 200
		if err := dbs[0].InTx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				if _, err := managers[0].EnqueueTx(ctx, tx, okArgs{N: i}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		deadline := time.Now().Add(30 * time.Second)
		for {
			done, err := managers[0].List(ctx, Filter{Kind: okArgs{}.Kind(), Status: StatusCompleted, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if len(done) == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d tasks completed in 30s", len(done), n)
			}
			time.Sleep(50 * time.Millisecond)
		}

		var runs, distinct int
		if err := dbs[0].Read.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT task_id) FROM task_run`).Scan(&runs, &distinct); err != nil {
			t.Fatal(err)
		}
		if runs != n || distinct != n {
			t.Errorf("%d runs of %d distinct tasks, want %d of %d", runs, distinct, n, n)
		}
		mu.Lock()
		if overlaps != 0 {
			t.Errorf("%d runs overlapped another run of the same task", overlaps)
		}
		mu.Unlock()
		rows, err := dbs[0].Read.QueryContext(ctx, `SELECT runner, count(*) FROM task_run GROUP BY runner ORDER BY runner`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		perRunner := map[string]int{}
		for rows.Next() {
			var r string
			var c int
			if err := rows.Scan(&r, &c); err != nil {
				t.Fatal(err)
			}
			perRunner[r] = c
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for i := range dbs {
			if r := fmt.Sprintf("p%d", i); perRunner[r] == 0 {
				t.Errorf("process %s ran no task: %v", r, perRunner)
			}
		}
		t.Logf("tasks run per process: %v", perRunner)
	})
}

type billArgs struct {
	N int `json:"n"`
}

func (billArgs) Kind() string { return "test.bill" }

func TestTasksRunInTheirQueueByPriority(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{Queues: map[string]int{"reports": 1}})
		var mu sync.Mutex
		ranIn := map[int]string{}
		var order []int // of the tasks in "reports"
		Handle(m, func(ctx context.Context, tk *Task[billArgs]) error {
			mu.Lock()
			defer mu.Unlock()
			ranIn[tk.Args.N] = tk.Queue
			if tk.Queue == "reports" {
				order = append(order, tk.Args.N)
			}
			return nil
		}, KindOptions{Queue: QueueBilling, Priority: PriorityLow})

		byKind := enqueue(t, m, billArgs{N: 1})
		byOption := enqueue(t, m, billArgs{N: 2}, Queue(QueueNotifications), Priority(PriorityUrgent), MaxAttempts(7))
		if byKind.Queue != QueueBilling || byKind.Priority != PriorityLow || byKind.MaxAttempts != DefaultMaxAttempts {
			t.Errorf("kind defaults: %+v, want billing, priority 3, %d attempts", byKind, DefaultMaxAttempts)
		}
		if byOption.Queue != QueueNotifications || byOption.Priority != PriorityUrgent || byOption.MaxAttempts != 7 {
			t.Errorf("options: %+v, want notifications, priority 1, 7 attempts", byOption)
		}
		// One worker in "reports", tasks enqueued oldest first: they run by
		// priority.
		ids := []int64{byKind.ID, byOption.ID}
		for _, tt := range []struct{ n, priority int }{{10, PriorityBackground}, {11, PriorityLow}, {12, PriorityUrgent}} {
			ids = append(ids, enqueue(t, m, billArgs{N: tt.n}, Queue("reports"), Priority(tt.priority)).ID)
		}
		start(t, m)
		for _, id := range ids {
			waitFor(t, m, id, StatusCompleted)
		}
		mu.Lock()
		want := map[int]string{1: QueueBilling, 2: QueueNotifications, 10: "reports", 11: "reports", 12: "reports"}
		for n, q := range want {
			if ranIn[n] != q {
				t.Errorf("task %d ran in queue %q, want %q", n, ranIn[n], q)
			}
		}
		if !slices.Equal(order, []int{12, 11, 10}) {
			t.Errorf("reports ran %v, want by priority [12 11 10]", order)
		}
		mu.Unlock()

		billing, err := m.List(ctx, Filter{Queue: QueueBilling})
		if err != nil {
			t.Fatal(err)
		}
		if len(billing) != 1 || billing[0].ID != byKind.ID || billing[0].Queue != QueueBilling {
			t.Errorf("billing queue lists %+v, want only task %d", billing, byKind.ID)
		}
		if _, err := m.Enqueue(ctx, billArgs{}, Queue("nowhere")); err == nil {
			t.Error("enqueue to an unconfigured queue succeeded")
		}
		if _, err := m.Enqueue(ctx, billArgs{}, Priority(5)); err == nil {
			t.Error("enqueue with priority 5 succeeded")
		}
		if _, err := m.Enqueue(ctx, failArgs{}); err == nil {
			t.Error("enqueue of an unregistered kind succeeded")
		}
	})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{})
		Handle(m, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{})
		Handle(m, func(context.Context, *Task[otherArgs]) error { return nil }, KindOptions{})

		root := enqueue(t, m, okArgs{N: 1}, ForAccount(1, "/1/"))
		child := enqueue(t, m, okArgs{N: 2}, ForAccount(7, "/1/7/"))
		enqueue(t, m, okArgs{N: 3}, ForAccount(2, "/2/"))
		enqueue(t, m, okArgs{N: 4}, ForAccount(17, "/17/")) // "/1" is a prefix of "/17/", "/1/" is not
		none := enqueue(t, m, otherArgs{N: 5})

		ids := func(list []Info) []int64 {
			var out []int64
			for _, i := range list {
				out = append(out, i.ID)
			}
			return out
		}
		list := func(f Filter) []Info {
			t.Helper()
			l, err := m.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if got := ids(list(Filter{AccountPath: "/1/"})); !slices.Equal(got, []int64{child.ID, root.ID}) {
			t.Errorf("subtree /1/ = %v, want %v", got, []int64{child.ID, root.ID})
		}
		sub := list(Filter{AccountPath: "/1/7/"})
		if len(sub) != 1 || sub[0].AccountID != 7 || sub[0].AccountPath != "/1/7/" {
			t.Errorf("subtree /1/7/ = %+v, want the task of account 7", sub)
		}
		var args okArgs
		if err := json.Unmarshal(sub[0].Args, &args); err != nil || args.N != 2 {
			t.Errorf("args %s (%v), want n=2", sub[0].Args, err)
		}
		if got := list(Filter{Kind: otherArgs{}.Kind()}); len(got) != 1 || got[0].ID != none.ID || got[0].AccountPath != "" {
			t.Errorf("kind filter = %+v, want task %d without account", got, none.ID)
		}

		// Pages, newest first.
		all := ids(list(Filter{Kind: okArgs{}.Kind()}))
		if len(all) != 4 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) {
			t.Fatalf("all = %v, want 4 ids in decreasing order", all)
		}
		page1 := ids(list(Filter{Kind: okArgs{}.Kind(), Limit: 3}))
		page2 := ids(list(Filter{Kind: okArgs{}.Kind(), Limit: 3, BeforeID: page1[len(page1)-1]}))
		if !slices.Equal(append(page1, page2...), all) {
			t.Errorf("pages %v + %v, want %v", page1, page2, all)
		}

		if got := list(Filter{Status: StatusQueued, Kind: okArgs{}.Kind()}); len(got) != 4 {
			t.Errorf("%d queued, want 4", len(got))
		}
		if got := list(Filter{Status: StatusCompleted, Kind: okArgs{}.Kind()}); len(got) != 0 {
			t.Errorf("%d completed before start, want 0", len(got))
		}
		_, err := m.List(ctx, Filter{Status: "lost"})
		wantCode(t, err, marketplane.EINVALID)
	})
}

func TestInsertOnlyManagerEnqueuesForWorkers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		cli := setup(t, db, Config{InsertOnly: true})
		server := setup(t, db, Config{})
		var cliRuns, serverRuns atomic.Int32
		Handle(cli, func(context.Context, *Task[okArgs]) error { cliRuns.Add(1); return nil }, KindOptions{Queue: QueueSync})
		Handle(server, func(context.Context, *Task[okArgs]) error { serverRuns.Add(1); return nil }, KindOptions{Queue: QueueSync})
		e := enqueue(t, cli, okArgs{N: 1})
		if e.Queue != QueueSync {
			t.Errorf("queue %s, want the kind's sync", e.Queue)
		}
		// A process that runs tasks takes up its queues in River's
		// river_queue before its Start returns: the insert-only manager
		// takes up none, so nothing can run the task until the server does.
		start(t, cli) // does nothing
		if q := workedQueues(t, db); len(q) != 0 {
			t.Fatalf("after the insert-only manager's start, queues %v are worked, want none", q)
		}
		if got, err := cli.Get(context.Background(), e.ID); err != nil || got.Status != StatusQueued {
			t.Fatalf("task of an insert-only manager is %s (%v), want queued until a worker runs", got.Status, err)
		}
		start(t, server)
		if q := workedQueues(t, db); !slices.Contains(q, QueueSync) {
			t.Fatalf("after the server's start, queues %v are worked, want %s among them", q, QueueSync)
		}
		waitFor(t, server, e.ID, StatusCompleted)
		if cliRuns.Load() != 0 || serverRuns.Load() != 1 {
			t.Errorf("runs: insert-only %d, server %d; want 0 and 1", cliRuns.Load(), serverRuns.Load())
		}
	})
}

// workedQueues returns the queues that a process running tasks has taken up
// (River records them when its producers start).
func workedQueues(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Read.QueryContext(context.Background(), `SELECT name FROM river_queue ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRegistrationMistakesPanic(t *testing.T) {
	t.Parallel()
	m := setup(t, storetest.Open(t, store.SQLite), Config{})
	Handle(m, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{})
	enqueue(t, m, okArgs{})
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("registering %s did not panic", what)
			}
		}()
		f()
	}
	mustPanic("Handle after first use", func() { Handle(m, func(context.Context, *Task[otherArgs]) error { return nil }, KindOptions{}) })
	mustPanic("Periodic after first use", func() { m.Periodic(Every(time.Hour), func() Args { return okArgs{} }, false) })

	fresh := setup(t, storetest.Open(t, store.SQLite), Config{})
	Handle(fresh, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{})
	mustPanic("a kind twice", func() { Handle(fresh, func(context.Context, *Task[okArgs]) error { return nil }, KindOptions{}) })
	mustPanic("a badly named kind", func() { Handle(fresh, func(context.Context, *Task[badKindArgs]) error { return nil }, KindOptions{}) })
	mustPanic("an unknown queue", func() {
		Handle(fresh, func(context.Context, *Task[otherArgs]) error { return nil }, KindOptions{Queue: "nowhere"})
	})
}

type badKindArgs struct{}

func (badKindArgs) Kind() string { return "Bad Kind" }

// TestEnqueueManyTx: tasks added at once in a transaction exist only if it
// commits, each with its own account, and run.
func TestEnqueueManyTx(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := setup(t, db, Config{})
		var runs counter
		Handle(m, func(ctx context.Context, tk *Task[okArgs]) error {
			runs.add(tk.Args.N)
			return nil
		}, KindOptions{})
		batch := func(from int) []Many {
			var out []Many
			for n := from; n < from+3; n++ {
				out = append(out, Many{Args: okArgs{N: n}, Options: []Option{ForAccount(int64(n), fmt.Sprintf("/1/%d/", n))}})
			}
			return out
		}
		errRollback := errors.New("roll back")
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := m.EnqueueManyTx(ctx, tx, batch(10)); err != nil {
				return err
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatalf("transaction: %v", err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return m.EnqueueManyTx(ctx, tx, batch(20)) }); err != nil {
			t.Fatalf("commit: %v", err)
		}
		// An unregistered kind is refused before anything is inserted.
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return m.EnqueueManyTx(ctx, tx, []Many{{Args: okArgs{N: 30}}, {Args: otherArgs{N: 31}}})
		}); err == nil {
			t.Error("a batch with an unregistered kind was queued")
		}
		list, err := m.List(ctx, Filter{Kind: okArgs{}.Kind()})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range list {
			var a okArgs
			if err := json.Unmarshal(i.Args, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %d %s", a.N, i.AccountID, i.AccountPath))
		}
		slices.Sort(got)
		if want := []string{"20 20 /1/20/", "21 21 /1/21/", "22 22 /1/22/"}; !slices.Equal(got, want) {
			t.Errorf("queued %v, want %v", got, want)
		}
		start(t, m)
		for _, i := range list {
			waitFor(t, m, i.ID, StatusCompleted)
		}
		if runs.get(20) != 1 || runs.get(21) != 1 || runs.get(22) != 1 || runs.get(10) != 0 {
			t.Errorf("runs: %d %d %d, rolled back %d", runs.get(20), runs.get(21), runs.get(22), runs.get(10))
		}
	})
}

type slowArgs struct{}

func (slowArgs) Kind() string { return "test.slow" }

// abandon leaves task id as a process that died mid-run leaves it: running
// attempt 1, started ago before now by the wall clock (River's), by a worker
// that no longer exists.
func abandon(t *testing.T, m *Manager, id int64, ago time.Duration) {
	t.Helper()
	res, err := m.db.Write.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1,
		attempted_by = $2 WHERE id = $3`, m.dialect.timeArg(time.Now().Add(-ago)), jsonArray(t, m, "gone_host_1"), id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("task %d not abandoned", id)
	}
}

// jsonArray is River's attempted_by column holding the one name s.
func jsonArray(t *testing.T, m *Manager, s string) any {
	t.Helper()
	if m.db.Engine == store.Postgres {
		return "{" + s + "}"
	}
	return `["` + s + `"]`
}

// TestAbandonedRunsAreRescued: a run left "running" by a process that died
// is taken for abandoned once it is older than its kind's timeout plus the
// rescue margin, not an hour later. Operators may then retry or cancel it,
// while a run within its timeout still answers conflict; and the manager's
// own rescue runs it again by itself, while a run of a kind with a longer
// timeout, as old, is left alone.
func TestAbandonedRunsAreRescued(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const timeout, margin = 2 * time.Minute, time.Minute
		m := setup(t, db, Config{RescueMargin: margin})
		var runs counter
		quick := func(int) time.Duration { return 10 * time.Millisecond }
		Handle(m, func(ctx context.Context, tk *Task[okArgs]) error {
			runs.add(tk.Args.N)
			return nil
		}, KindOptions{Timeout: timeout, Backoff: quick})
		Handle(m, func(ctx context.Context, tk *Task[slowArgs]) error { return nil }, KindOptions{Timeout: time.Hour, Backoff: quick})

		// Operators: a run within its timeout and margin is not touched.
		live := enqueue(t, m, okArgs{N: 1})
		abandon(t, m, live.ID, timeout+margin-10*time.Second)
		_, err := m.Retry(ctx, live.ID)
		wantCode(t, err, marketplane.ECONFLICT)
		if got, _ := m.Get(ctx, live.ID); got.Status != StatusRunning {
			t.Fatalf("live run after a refused retry: %s", got.Status)
		}

		// A run past them is retried at once, the lost run recorded.
		gone := enqueue(t, m, okArgs{N: 2})
		abandon(t, m, gone.ID, timeout+margin+10*time.Second)
		retried, err := m.Retry(ctx, gone.ID)
		if err != nil {
			t.Fatalf("retry of an abandoned run: %v", err)
		}
		if retried.Status != StatusQueued || len(retried.Errors) != 1 || retried.Errors[0].Attempt != 1 {
			t.Fatalf("retried abandoned run: %s, errors %+v", retried.Status, retried.Errors)
		}
		// … or cancelled at once.
		cancelled := enqueue(t, m, okArgs{N: 3})
		abandon(t, m, cancelled.ID, timeout+margin+10*time.Second)
		c, err := m.Cancel(ctx, cancelled.ID)
		if err != nil {
			t.Fatalf("cancel of an abandoned run: %v", err)
		}
		if c.Status != StatusCancelled || c.FinalizedAt.IsZero() || len(c.Errors) != 1 {
			t.Fatalf("cancelled abandoned run: %s finalized %v, errors %+v", c.Status, c.FinalizedAt, c.Errors)
		}

		// The rescue: the abandoned run comes back by itself; the hour-long
		// kind's run of the same age is left to its own timeout.
		rescued := enqueue(t, m, okArgs{N: 4})
		abandon(t, m, rescued.ID, timeout+margin+10*time.Second)
		long := enqueue(t, m, slowArgs{})
		abandon(t, m, long.ID, timeout+margin+10*time.Second)
		start(t, m)
		ctxWait, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		done, err := m.WaitFor(ctxWait, rescued.ID, StatusCompleted)
		if err != nil {
			t.Fatalf("abandoned run not rescued: %v", err)
		}
		if done.Attempt != 2 || len(done.Errors) != 1 || !strings.Contains(done.Errors[0].Message, "rescued") {
			t.Errorf("rescued run: attempt %d, errors %+v", done.Attempt, done.Errors)
		}
		// The rescuer decided on both runs in the pass that took the first.
		if got, _ := m.Get(ctx, long.ID); got.Status != StatusRunning {
			t.Errorf("run of the hour-long kind: %s, want still running", got.Status)
		}
		waitFor(t, m, gone.ID, StatusCompleted)
		if runs.get(2) != 1 || runs.get(3) != 0 || runs.get(4) != 1 {
			t.Errorf("runs: retried %d, cancelled %d, rescued %d; want 1, 0, 1", runs.get(2), runs.get(3), runs.get(4))
		}
	})
}

// TestRetryAtIsKept: the next attempt's time a handler announces (to show it
// to people) is the time the task is scheduled at when the run fails.
func TestRetryAtIsKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := setup(t, db, Config{})
		announced := make(chan time.Time, 1)
		Handle(m, func(ctx context.Context, tk *Task[failArgs]) error {
			announced <- tk.RetryAt()
			return errors.New("connector down")
		}, KindOptions{MaxAttempts: 2, Backoff: ExponentialBackoff(time.Hour, time.Hour)})
		start(t, m)
		e := enqueue(t, m, failArgs{})
		var at time.Time
		select {
		case at = <-announced:
		case <-time.After(15 * time.Second):
			t.Fatal("the task did not run")
		}
		info := waitFor(t, m, e.ID, StatusRetrying)
		if at.IsZero() || info.ScheduledAt.Sub(at).Abs() > time.Millisecond {
			t.Fatalf("announced the next attempt at %s; scheduled at %s", at, info.ScheduledAt)
		}
	})
}
