package api

import (
	"context"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/task"
)

// TaskManager lets the API list and steer the tasks of m.
func TaskManager(m *task.Manager) Tasks { return taskManager{m} }

type taskManager struct{ m *task.Manager }

func (t taskManager) ListTasks(ctx context.Context, f TaskFilter) ([]Task, error) {
	tf := task.Filter{AccountPath: f.AccountPath, Status: task.Status(f.Status), Kind: f.Kind,
		BeforeID: f.BeforeID, Limit: f.Limit}
	if f.Unowned && account.Depth(f.AccountPath) == 0 {
		// Every account is below the root, so "the root's subtree and the
		// tasks of no account" is every task. task.Filter has no way to
		// add unowned tasks to another subtree, and the API never asks.
		tf.AccountPath = ""
	}
	infos, err := t.m.List(ctx, tf)
	if err != nil {
		return nil, err
	}
	out := make([]Task, len(infos))
	for i := range infos {
		out[i] = taskView(&infos[i])
	}
	return out, nil
}

func (t taskManager) Task(ctx context.Context, id int64) (*Task, error) {
	return taskOf(t.m.Get(ctx, id))
}

func (t taskManager) RetryTask(ctx context.Context, id int64) (*Task, error) {
	return taskOf(t.m.Retry(ctx, id))
}

func (t taskManager) CancelTask(ctx context.Context, id int64) (*Task, error) {
	return taskOf(t.m.Cancel(ctx, id))
}

func taskOf(info task.Info, err error) (*Task, error) {
	if err != nil {
		return nil, err
	}
	v := taskView(&info)
	return &v, nil
}

// taskView shows a task without its arguments: they belong to the handler
// and may hold what its account's users should not read (connector
// parameters, for one).
func taskView(info *task.Info) Task {
	errs := make([]TaskError, len(info.Errors))
	for i, e := range info.Errors {
		errs[i] = TaskError{Attempt: e.Attempt, At: e.At, Message: e.Message}
	}
	return Task{ID: info.ID, Kind: info.Kind, Status: string(info.Status), Queue: info.Queue, AccountID: info.AccountID,
		Attempt: info.Attempt, MaxAttempts: info.MaxAttempts, Errors: errs,
		CreatedAt: info.CreatedAt, ScheduledAt: info.ScheduledAt,
		AttemptedAt: optTime(info.AttemptedAt), FinalizedAt: optTime(info.FinalizedAt),
		AccountPath: info.AccountPath}
}
