package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

type noteArgs struct {
	Text string `json:"text"`
}

func (noteArgs) Kind() string { return "api_test.note" }

// TestTaskManagerAdapter runs the task routes over the real task manager.
func TestTaskManagerAdapter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if err := task.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		// Insert-only: nothing runs, so the statuses stay where the test
		// puts them.
		m, err := task.New(db, task.Config{InsertOnly: true, RetentionDays: -1}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		task.Handle(m, func(context.Context, *task.Task[noteArgs]) error { return nil }, task.KindOptions{})
		enqueue := func(text string, opts ...task.Option) int64 {
			e, err := m.Enqueue(ctx, noteArgs{Text: text}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return e.ID
		}
		system := enqueue("system")
		ofL1a := enqueue("L1a", task.ForAccount(f.L1a.ID, f.L1a.Path))
		ofC := enqueue("C", task.ForAccount(f.C.ID, f.C.Path))
		ofL1b := enqueue("L1b", task.ForAccount(f.L1b.ID, f.L1b.Path))

		a := New(Config{DB: db, Tasks: TaskManager(m), Logger: slog.New(slog.DiscardHandler)})
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		f.srv = srv

		for who, want := range map[string][]int64{
			"P":   {ofL1b, ofC, ofL1a, system},
			"L1a": {ofC, ofL1a},
			"L2":  {ofC},
			"L1b": {ofL1b},
		} {
			var page Page[Task]
			f.must(t, 200, who, "GET", "/tasks", nil).JSON(t, &page)
			var got []int64
			for _, tk := range page.Items {
				got = append(got, tk.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s sees tasks %v, want %v", who, got, want)
			}
		}

		var tk Task
		f.must(t, 200, "L1a", "GET", "/tasks/"+id(ofC), nil).JSON(t, &tk)
		if tk.Kind != "api_test.note" || tk.Status != "queued" || tk.AccountID != f.C.ID || tk.Errors == nil {
			t.Errorf("task %+v", tk)
		}
		f.must(t, 404, "L1b", "GET", "/tasks/"+id(ofC), nil)
		f.must(t, 404, "L1a", "GET", "/tasks/"+id(system), nil)

		f.must(t, 200, "L2", "POST", "/tasks/"+id(ofC)+"/cancel", nil).JSON(t, &tk)
		if tk.Status != "cancelled" || tk.FinalizedAt == nil {
			t.Errorf("cancelled %+v", tk)
		}
		var page Page[Task]
		f.must(t, 200, "L1a", "GET", "/tasks?status=cancelled", nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != ofC {
			t.Errorf("cancelled tasks of L1a: %+v", page.Items)
		}
		f.must(t, 200, "L1a", "POST", "/tasks/"+id(ofC)+"/retry", nil).JSON(t, &tk)
		if tk.Status != "queued" {
			t.Errorf("retried %+v", tk)
		}
		f.must(t, 404, "L1b", "POST", "/tasks/"+id(ofC)+"/cancel", nil)
		f.must(t, 400, "L1a", "GET", "/tasks?status=stuck", nil)

		// The provider sees and steers the system's own tasks.
		var sys Task
		f.must(t, 200, "P", "POST", "/tasks/"+id(system)+"/cancel", nil).JSON(t, &sys)
		if sys.Status != "cancelled" || sys.AccountID != 0 {
			t.Errorf("system task %+v", sys)
		}
	})
}
