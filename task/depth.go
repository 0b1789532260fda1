package task

import (
	"context"
	"fmt"
	"maps"

	"github.com/riverqueue/river/rivertype"
)

// Figures for operators (/metrics): how many tasks wait or run in each
// queue, and how many attempts failed.

// Depth is the number of tasks of one queue in one status.
type Depth struct {
	Queue  string
	Status Status
	Count  int64
}

// Depths counts the tasks of every queue that are queued, running,
// retrying or failed (finished ones are left out: they only grow until
// the cleanup). One grouped query over River's fetch index; callers read
// it periodically, not per request.
func (m *Manager) Depths(ctx context.Context) ([]Depth, error) {
	rows, err := m.db.Read.QueryContext(ctx, `SELECT queue, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'pending', 'running', 'retryable', 'discarded') GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("task depths: %w", err)
	}
	defer rows.Close()
	sums := map[Depth]int64{}
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			return nil, fmt.Errorf("task depths: %w", err)
		}
		// Several River states are one status of ours (queued).
		sums[Depth{Queue: queue, Status: statusOf(rivertype.JobState(state))}] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task depths: %w", err)
	}
	out := make([]Depth, 0, len(sums))
	for d, n := range sums {
		d.Count = n
		out = append(out, d)
	}
	return out, nil
}

// Failures is how many attempts of each kind failed (returned an error or
// panicked) in this process since it started: each is retried or, on its
// last attempt, leaves the task failed.
func (m *Manager) Failures() map[string]int64 {
	m.failMu.Lock()
	defer m.failMu.Unlock()
	return maps.Clone(m.failures)
}

func (m *Manager) countFailure(kind string) {
	m.failMu.Lock()
	defer m.failMu.Unlock()
	if m.failures == nil {
		m.failures = map[string]int64{}
	}
	m.failures[kind]++
}
