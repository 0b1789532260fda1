package connector

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// recorded is an answer kept for replay; it is also the ResponseWriter the
// handler serves into.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

func (r *recorded) Header() http.Header { return r.header }

func (r *recorded) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorded) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, p...)
	return len(p), nil
}

func (r *recorded) writeTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	w.Write(r.body)
}

// errReused is the replay cache's error for a request id seen with a
// different request.
var errReused = errors.New("request id reused")

// replayCache keeps the successful answers of recent changes by request id,
// at most max of them for at most ttl, least recently used first out. It
// also holds a request whose id is in flight until the first one ends.
type replayCache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*replayEntry
	lru     *list.List // of request ids with a kept answer, newest first
}

type replayEntry struct {
	fingerprint string        // method, path and body hash of the request
	done        chan struct{} // closed when the first request has ended
	rec         *recorded     // the kept answer; nil while in flight
	at          time.Time     // when rec was kept
	elem        *list.Element // in lru, when rec is kept
}

func newReplayCache(max int, ttl time.Duration, now func() time.Time) *replayCache {
	return &replayCache{max: max, ttl: ttl, now: now, entries: map[string]*replayEntry{}, lru: list.New()}
}

// do returns the kept answer for id (replayed true), or runs run and keeps
// its answer when it is a success. A request with the same id but another
// fingerprint gets errReused.
func (c *replayCache) do(ctx context.Context, id, fingerprint string, run func() *recorded) (*recorded, bool, error) {
	for {
		c.mu.Lock()
		e := c.entries[id]
		if e != nil && e.rec != nil && c.now().Sub(e.at) > c.ttl {
			c.remove(id, e)
			e = nil
		}
		if e != nil {
			if e.fingerprint != fingerprint {
				c.mu.Unlock()
				return nil, false, errReused
			}
			if e.rec != nil {
				c.lru.MoveToFront(e.elem)
				c.mu.Unlock()
				return e.rec, true, nil
			}
			done := e.done
			c.mu.Unlock()
			select {
			case <-done:
				continue // kept: replay it; failed: run it ourselves
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		e = &replayEntry{fingerprint: fingerprint, done: make(chan struct{})}
		c.entries[id] = e
		c.mu.Unlock()
		return c.run(id, e, run), false, nil
	}
}

func (c *replayCache) run(id string, e *replayEntry, run func() *recorded) (rec *recorded) {
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		// Only successes are kept: a failure must run again on retry.
		if rec != nil && rec.status >= 200 && rec.status < 300 {
			e.rec, e.at = rec, c.now()
			e.elem = c.lru.PushFront(id)
			for c.lru.Len() > c.max {
				old := c.lru.Back().Value.(string)
				c.remove(old, c.entries[old])
			}
		} else {
			delete(c.entries, id)
		}
		close(e.done)
	}()
	return run()
}

// remove forgets a kept entry; c.mu is held.
func (c *replayCache) remove(id string, e *replayEntry) {
	if e.elem != nil {
		c.lru.Remove(e.elem)
	}
	delete(c.entries, id)
}
