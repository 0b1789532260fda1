package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestTaskRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		system := f.tasks.add("", "billing_run", "completed")
		ofL1a := f.tasks.add(f.L1a.Path, "notify", "failed")
		ofL2 := f.tasks.add(f.L2.Path, "provision", "running")
		ofC := f.tasks.add(f.C.Path, "provision", "queued")
		ofL1b := f.tasks.add(f.L1b.Path, "provision", "failed")

		list := func(who, query string) []int64 {
			t.Helper()
			var ids []int64
			cursor := ""
			for {
				var page Page[Task]
				f.must(t, 200, who, "GET", "/tasks?limit=2"+query+"&cursor="+cursor, nil).JSON(t, &page)
				for _, tk := range page.Items {
					ids = append(ids, tk.ID)
				}
				if page.NextCursor == "" {
					return ids
				}
				cursor = page.NextCursor
			}
		}
		for _, c := range []struct {
			who, query string
			want       []int64
		}{
			{"P", "", []int64{ofL1b.ID, ofC.ID, ofL2.ID, ofL1a.ID, system.ID}},
			{"L1a", "", []int64{ofC.ID, ofL2.ID, ofL1a.ID}},
			{"L1a-support", "", []int64{ofC.ID, ofL2.ID, ofL1a.ID}},
			{"L1a", "&kind=provision", []int64{ofC.ID, ofL2.ID}},
			{"L2", "&status=running", []int64{ofL2.ID}},
			{"C", "", []int64{ofC.ID}},
			{"L1b", "", []int64{ofL1b.ID}},
		} {
			if got := list(c.who, c.query); !slices.Equal(got, c.want) {
				t.Errorf("%s lists %v, want %v", c.who+c.query, got, c.want)
			}
		}

		var tk Task
		f.must(t, 200, "L1a", "GET", "/tasks/"+id(ofL2.ID), nil).JSON(t, &tk)
		if tk.AccountID != f.L2.ID || tk.Kind != "provision" {
			t.Errorf("task %+v", tk)
		}
		f.must(t, 404, "L1a", "GET", "/tasks/"+id(system.ID), nil)
		f.must(t, 200, "P", "GET", "/tasks/"+id(system.ID), nil)

		// Support may look but not touch.
		f.must(t, 403, "L1a-support", "POST", "/tasks/"+id(ofL1a.ID)+"/retry", nil)
		f.must(t, 200, "L1a", "POST", "/tasks/"+id(ofL1a.ID)+"/retry", nil).JSON(t, &tk)
		if tk.Status != "queued" {
			t.Errorf("retried %+v", tk)
		}
		f.must(t, 409, "L1a", "POST", "/tasks/"+id(ofL2.ID)+"/retry", nil).Problem(t) // running
		f.must(t, 404, "L1a", "POST", "/tasks/"+id(system.ID)+"/retry", nil)          // only P sees it
		f.must(t, 200, "L2", "POST", "/tasks/"+id(ofC.ID)+"/cancel", nil).JSON(t, &tk)
		if tk.Status != "cancelled" {
			t.Errorf("cancelled %+v", tk)
		}
		f.must(t, 404, "C", "POST", "/tasks/"+id(ofL2.ID)+"/cancel", nil)
		f.must(t, 404, "L1a", "GET", "/tasks/987654", nil)

		// Without a task manager the routes say so.
		a := New(Config{DB: db, Logger: slog.New(slog.DiscardHandler)})
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		req, _ := http.NewRequest("GET", srv.URL+Prefix+"/tasks", nil)
		req.Header.Set("Authorization", "Bearer "+f.keys["L1a"])
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("without tasks: %d", res.StatusCode)
		}
	})
}
