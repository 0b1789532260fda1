package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestRateLimitAPI: 2 requests a second with bursts of 2, on a clock the
// test moves.
func TestRateLimitAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		f.api = New(Config{DB: db, Version: "test", Tasks: f.tasks, Logger: slog.New(slog.DiscardHandler), RateLimit: 2, RateBurst: 2})
		var mu sync.Mutex
		now := time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC)
		f.api.limiter.now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
		advance := func(d time.Duration) {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
		}
		mux := http.NewServeMux()
		mux.Handle(Prefix+"/", f.api.Handler())
		f.srv = httptest.NewServer(mux)
		t.Cleanup(f.srv.Close)
		path := "/accounts/" + id(f.C.ID)

		// Requests without credentials spend no one's budget.
		f.must(t, 401, "", "GET", path, nil)
		f.must(t, 200, "C", "GET", path, nil)
		f.must(t, 200, "C", "GET", path, nil)
		r := f.must(t, 429, "C", "GET", path, nil)
		r.Problem(t)
		if got := r.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q, want 1", got)
		}
		// Refused requests spend nothing either, and others have their own
		// budget.
		f.must(t, 429, "C", "GET", path, nil)
		f.must(t, 200, "L2", "GET", path, nil)

		// Half a second later one token is back.
		advance(500 * time.Millisecond)
		f.must(t, 200, "C", "GET", path, nil)
		f.must(t, 429, "C", "GET", path, nil)
		advance(time.Second)
		f.must(t, 200, "C", "GET", path, nil)
		f.must(t, 200, "C", "GET", path, nil)
	})
}

func TestRateLimiterBounded(t *testing.T) {
	t.Parallel()
	l := newRateLimiter(1, 1)
	now := time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := range maxLimiters + 10 {
		if d := l.wait(id(int64(i))); d != 0 {
			t.Fatalf("first request of %d waits %v", i, d)
		}
	}
	if len(l.buckets) > maxLimiters {
		t.Fatalf("%d buckets kept, at most %d", len(l.buckets), maxLimiters)
	}
	// Buckets idle long enough to refill go first.
	now = now.Add(time.Minute)
	l.wait("new")
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after a minute idle, want 1", len(l.buckets))
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	if l := newRateLimiter(0, 0); l != nil {
		t.Fatalf("no limit: %+v", l)
	}
	if l := newRateLimiter(DefaultRateLimit, 0); l.limit != DefaultRateLimit || l.burst != DefaultRateBurst {
		t.Fatalf("defaults: %v %d", l.limit, l.burst)
	}
	a := New(Config{Version: "test"})
	if a.limiter != nil {
		t.Fatal("limits without RateLimit")
	}
	for _, o := range a.operations {
		if o.Responses["429"] == nil || o.Responses["429"].Headers["Retry-After"] == nil {
			t.Fatalf("%s does not document 429 with Retry-After", o.OperationID)
		}
	}
}
