package task

import (
	"context"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
)

// KindCleanup is the kind of the daily task that deletes old finished tasks.
const KindCleanup = "task.cleanup"

type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return KindCleanup }

// runCleanup deletes the tasks finished more than RetentionDays ago by the
// injected clock's real time (River stamps tasks in real time, so a
// sandbox's test clock, far ahead, would delete them all).
func (m *Manager) runCleanup(ctx context.Context, _ *Task[cleanupArgs]) error {
	cutoff := marketplane.RealTime(m.db.Clock).AddDate(0, 0, -m.cfg.RetentionDays)
	n, err := m.Cleanup(ctx, cutoff, m.cfg.CleanupBatch)
	if err != nil {
		return err
	}
	m.logger.Info("old tasks deleted", "count", n, "finished_before", cutoff)
	return nil
}

// Cleanup deletes the completed, failed and cancelled tasks that finished
// before olderThan, and returns how many it deleted. It deletes at most batch
// tasks per transaction and loops until a batch comes back short, so that
// other writers (on SQLite, every writer) wait for one short batch at most.
// Cleanup is safe to run in several processes at once.
func (m *Manager) Cleanup(ctx context.Context, olderThan time.Time, batch int) (int, error) {
	if batch < 1 {
		return 0, fmt.Errorf("task: cleanup batch %d is below 1", batch)
	}
	cutoff := m.dialect.timeArg(olderThan)
	deleted := 0
	for {
		// One statement outside an explicit transaction is its own
		// transaction: the lock is held for this batch only.
		res, err := m.db.Write.ExecContext(ctx, `DELETE FROM river_job WHERE id IN (
			SELECT id FROM river_job
			WHERE state IN ('completed', 'cancelled', 'discarded') AND finalized_at < $1
			ORDER BY id LIMIT $2)`, cutoff, batch)
		if err != nil {
			return deleted, fmt.Errorf("task: cleanup: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("task: cleanup: %w", err)
		}
		deleted += int(n)
		if n < int64(batch) {
			return deleted, nil
		}
	}
}
