package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// Tasks is what the API needs of the task manager. Implementations return
// ENOTFOUND for an unknown id and ECONFLICT when a task's state does not
// allow the action (retrying a running task, cancelling a finished one).
// They do not authorize: the API does, from the account path of each task.
type Tasks interface {
	// ListTasks lists tasks newest first.
	ListTasks(ctx context.Context, f TaskFilter) ([]Task, error)
	// Task returns one task.
	Task(ctx context.Context, id int64) (*Task, error)
	// RetryTask makes a failed or cancelled task run again, or a waiting
	// one run now, and returns it.
	RetryTask(ctx context.Context, id int64) (*Task, error)
	// CancelTask stops a task that has not finished and returns it.
	CancelTask(ctx context.Context, id int64) (*Task, error)
}

// TaskFilter selects tasks for Tasks.ListTasks.
type TaskFilter struct {
	// AccountPath keeps the tasks whose account path starts with it: the
	// tasks of that account and of the accounts below it.
	AccountPath string
	// Unowned also keeps tasks that belong to no account (the system's own
	// jobs, such as the billing run); only the provider sees them.
	Unowned bool
	Status  string // "" for any
	Kind    string // "" for any
	// BeforeID is the cursor: tasks with a smaller id; 0 for the newest.
	BeforeID int64
	Limit    int
}

// Task is one unit of background work.
type Task struct {
	ID          int64       `json:"id"`
	Kind        string      `json:"kind" example:"provision_subscription"`
	Status      string      `json:"status" enum:"queued,running,retrying,failed,completed,cancelled" doc:"failed: failed on its last attempt (retry runs it again)."`
	Queue       string      `json:"queue" example:"default"`
	AccountID   int64       `json:"account_id,omitempty" doc:"The account the task works for; absent for the system's own jobs."`
	Attempt     int         `json:"attempt" doc:"Runs started so far."`
	MaxAttempts int         `json:"max_attempts"`
	Errors      []TaskError `json:"errors" doc:"One per failed run, oldest first."`
	CreatedAt   time.Time   `json:"created_at"`
	ScheduledAt time.Time   `json:"scheduled_at" doc:"When the task runs (next)."`
	AttemptedAt *time.Time  `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time  `json:"finalized_at,omitempty" doc:"When the task completed, was cancelled or was given up."`
	// AccountPath is the materialized path of the task's account, kept in
	// the task's metadata; it decides who may see the task. Empty for the
	// system's own jobs. Never shown.
	AccountPath string `json:"-"`
}

// TaskError is what went wrong in one run of a task.
type TaskError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Message string    `json:"message"`
}

// taskVisible reports whether actor may see task t: tasks of its own
// account and below; tasks of no account only for the provider (the root).
func taskVisible(actor *account.Actor, t *Task) bool {
	if t.AccountPath == "" {
		return account.Depth(actor.AccountPath) == 0
	}
	return strings.HasPrefix(t.AccountPath, actor.AccountPath)
}

type taskIDPath struct {
	ID int64 `path:"id" doc:"Task id."`
}

type taskOutput struct {
	Body Task
}

type listTasksInput struct {
	Status string `query:"status" enum:"queued,running,retrying,failed,completed,cancelled" doc:"Only tasks with this status."`
	Kind   string `query:"kind" maxLength:"100" doc:"Only tasks of this kind."`
	PageParams
}

type taskPage struct {
	Body Page[Task]
}

func (a *API) taskRoutes() {
	const tag = "Tasks"
	unavailable := []int{http.StatusServiceUnavailable}
	register(a, op{id: "list-tasks", method: http.MethodGet, path: "/tasks", tag: tag,
		summary: "List the tasks of the caller's account and the accounts below it, newest first",
		errors:  unavailable}, a.listTasks)
	register(a, op{id: "get-task", method: http.MethodGet, path: "/tasks/{id}", tag: tag,
		summary: "Get a task", errors: unavailable}, a.getTask)
	register(a, op{id: "retry-task", method: http.MethodPost, path: "/tasks/{id}/retry", tag: tag,
		summary: "Run a failed or cancelled task again, or a waiting one now", errors: append([]int{http.StatusConflict}, unavailable...)}, a.retryTask)
	register(a, op{id: "cancel-task", method: http.MethodPost, path: "/tasks/{id}/cancel", tag: tag,
		summary: "Cancel a task that has not finished", errors: append([]int{http.StatusConflict}, unavailable...)}, a.cancelTask)
}

// taskManager authorizes act on the actor's own account (the tasks
// privilege is held per account) and returns the task manager.
func (a *API) taskManager(ctx context.Context, act account.Action) (Tasks, error) {
	actor := actorFrom(ctx)
	if err := a.db.Authorize(ctx, actor, act, actor.AccountID); err != nil {
		return nil, err
	}
	if a.tasks == nil {
		return nil, marketplane.Errorf(marketplane.EUNAVAILABLE, "the task manager is not running in this process")
	}
	return a.tasks, nil
}

// visibleTask returns task id if the actor may see it; others' tasks are
// not found, as other accounts are.
func visibleTask(ctx context.Context, tasks Tasks, id int64) (*Task, error) {
	t, err := tasks.Task(ctx, id)
	if err != nil {
		return nil, err
	}
	if !taskVisible(actorFrom(ctx), t) {
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "task not found")
	}
	return t, nil
}

func (a *API) listTasks(ctx context.Context, in *listTasksInput) (*taskPage, error) {
	tasks, err := a.taskManager(ctx, account.ViewTasks)
	if err != nil {
		return nil, err
	}
	before, err := decodeIDCursor(cursorTasks, in.Cursor)
	if err != nil {
		return nil, err
	}
	actor := actorFrom(ctx)
	rows, err := tasks.ListTasks(ctx, TaskFilter{AccountPath: actor.AccountPath, Unowned: account.Depth(actor.AccountPath) == 0,
		Status: in.Status, Kind: in.Kind, BeforeID: before, Limit: in.fetchSize()})
	if err != nil {
		return nil, err
	}
	// The filter should have done this; a task manager's bug must not show
	// one reseller's tasks to another.
	kept := rows[:0]
	for _, t := range rows {
		if taskVisible(actor, &t) {
			kept = append(kept, t)
		}
	}
	return &taskPage{Body: paginate(in.PageParams, cursorTasks, kept,
		func(t Task) string { return idKey(t.ID) }, func(t Task) Task { return t })}, nil
}

func (a *API) getTask(ctx context.Context, in *taskIDPath) (*taskOutput, error) {
	tasks, err := a.taskManager(ctx, account.ViewTasks)
	if err != nil {
		return nil, err
	}
	t, err := visibleTask(ctx, tasks, in.ID)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: *t}, nil
}

func (a *API) retryTask(ctx context.Context, in *taskIDPath) (*taskOutput, error) {
	return a.changeTask(ctx, in.ID, Tasks.RetryTask)
}

func (a *API) cancelTask(ctx context.Context, in *taskIDPath) (*taskOutput, error) {
	return a.changeTask(ctx, in.ID, Tasks.CancelTask)
}

func (a *API) changeTask(ctx context.Context, id int64, change func(Tasks, context.Context, int64) (*Task, error)) (*taskOutput, error) {
	tasks, err := a.taskManager(ctx, account.ManageTasks)
	if err != nil {
		return nil, err
	}
	if _, err := visibleTask(ctx, tasks, id); err != nil {
		return nil, err
	}
	t, err := change(tasks, ctx, id)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: *t}, nil
}
