package task

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state rivertype.JobState
		want  Status
	}{
		{rivertype.JobStateAvailable, StatusQueued},
		{rivertype.JobStatePending, StatusQueued},
		{rivertype.JobStateScheduled, StatusQueued},
		{rivertype.JobStateRunning, StatusRunning},
		{rivertype.JobStateRetryable, StatusRetrying},
		{rivertype.JobStateDiscarded, StatusFailed},
		{rivertype.JobStateCompleted, StatusCompleted},
		{rivertype.JobStateCancelled, StatusCancelled},
	}
	for _, tt := range tests {
		if got := statusOf(tt.state); got != tt.want {
			t.Errorf("statusOf(%s) = %s, want %s", tt.state, got, tt.want)
		}
		// The filter of a status must find the states shown as that status.
		found := false
		for _, s := range statesOf[tt.want] {
			found = found || s == tt.state
		}
		if !found {
			t.Errorf("Filter{Status: %s} does not select state %s", tt.want, tt.state)
		}
	}
}

func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	b := ExponentialBackoff(10*time.Second, time.Hour)
	tests := []struct {
		attempt int
		ceiling time.Duration // the wait before jitter
	}{
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{9, 2560 * time.Second},
		{10, time.Hour}, // 5120s, capped
		{25, time.Hour},
		{1000, time.Hour}, // no overflow
	}
	for _, tt := range tests {
		for range 50 {
			got := b(tt.attempt)
			if got > tt.ceiling || got <= tt.ceiling*4/5 {
				t.Fatalf("attempt %d: wait %s, want in (%s, %s]", tt.attempt, got, tt.ceiling*4/5, tt.ceiling)
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		s    Schedule
		from string
		want string
	}{
		{"before the hour", DailyAt(3, 0), "2025-06-01T02:59:59Z", "2025-06-01T03:00:00Z"},
		{"at the hour: tomorrow", DailyAt(3, 0), "2025-06-01T03:00:00Z", "2025-06-02T03:00:00Z"},
		{"after the hour", DailyAt(3, 30), "2025-12-31T04:00:00Z", "2026-01-01T03:30:00Z"},
		{"other zone: 02:30 UTC", DailyAt(3, 0), "2025-06-01T04:30:00+02:00", "2025-06-01T03:00:00Z"},
		{"every", Every(90 * time.Minute), "2025-06-01T23:00:00Z", "2025-06-02T00:30:00Z"},
	}
	for _, tt := range tests {
		if got := tt.s.Next(at(tt.from)); !got.Equal(at(tt.want)) {
			t.Errorf("%s: Next(%s) = %s, want %s", tt.name, tt.from, got, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Config{Queues: map[string]int{QueueBilling: 1, "reports": 3}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{QueueDefault: 10, QueueSync: 4, QueueProvisioning: 8, QueueBilling: 1, QueueNotifications: 4, "reports": 3}
	for q, n := range want {
		if cfg.Queues[q] != n {
			t.Errorf("queue %s: %d, want %d", q, cfg.Queues[q], n)
		}
	}
	if cfg.PollInterval != DefaultPollInterval || cfg.RetentionDays != 90 || cfg.CleanupBatch != 1000 {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, bad := range []Config{
		{Queues: map[string]int{"Bad Name": 1}},
		{Queues: map[string]int{QueueSync: 0}},
		{CleanupBatch: -1},
		{PollInterval: time.Microsecond},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
