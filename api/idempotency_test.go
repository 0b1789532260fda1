package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestIdempotencyKeyAPI: customer C orders L2's basic with an
// Idempotency-Key, retries, and others use the same key.
func TestIdempotencyKeyAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		saleClock(db)
		_, _, l2 := saleChain(t, f)
		body := orderBody(f.C.ID, l2.ID, 8)
		key := []string{"Idempotency-Key", "order-1"}

		// A server error is not stored: without a task manager the order
		// answers 503, and the same key places it once there is one.
		f.must(t, 503, "C", "POST", "/orders", body, key...).Problem(t)
		withOrders(t, f)
		first := f.must(t, 201, "C", "POST", "/orders", body, key...)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first order replayed: %v", first.Header)
		}
		if s := stored(t, db); !strings.HasPrefix(s, "orders=1 ") {
			t.Fatalf("after the first order: %s", s)
		}

		// The retry answers the stored response and places nothing.
		again := f.must(t, 201, "C", "POST", "/orders", body, key...)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Fatalf("replay: %v %s, want %s", again.Header, again.Body, first.Body)
		}
		for _, h := range []string{"Location", "ETag", "Content-Type"} {
			if again.Header.Get(h) == "" || again.Header.Get(h) != first.Header.Get(h) {
				t.Errorf("replayed %s %q, first %q", h, again.Header.Get(h), first.Header.Get(h))
			}
		}
		if n := count(t, db, "orders"); n != 1 {
			t.Fatalf("%d orders after the replay, want 1", n)
		}

		// The same key with another body is refused.
		p := f.must(t, 409, "C", "POST", "/orders", orderBody(f.C.ID, l2.ID, 9), key...).Problem(t)
		if p.Detail != "idempotency key reused with another request" {
			t.Errorf("reused key: %q", p.Detail)
		}
		// Another principal, or another path, may use the same key.
		f.must(t, 201, "L2", "POST", "/orders", body, key...)
		if n := count(t, db, "orders"); n != 2 {
			t.Fatalf("%d orders after L2's, want 2", n)
		}
		if r := f.must(t, 200, "C", "POST", "/quotes", body, key...); r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("quote with the order's key replayed")
		}

		// A key too long is refused before anything runs.
		p = f.must(t, 400, "C", "POST", "/orders", body, "Idempotency-Key", strings.Repeat("k", 256)).Problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "header.Idempotency-Key" {
			t.Errorf("long key: %+v", p)
		}
		if n := count(t, db, "orders"); n != 2 {
			t.Fatalf("%d orders after the long key, want 2", n)
		}

		// A duplicate of a request still running is refused, not waited
		// for: the client retries later.
		actor, err := db.ActorForKey(context.Background(), f.keys["C"])
		if err != nil {
			t.Fatal(err)
		}
		running := store.IdempotencyScope{Principal: principal(actor), Method: "POST", Path: Prefix + "/orders", Key: "order-2"}
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if seen, err := db.ReserveIdempotencyKey(context.Background(), running, requestHash("", raw)); err != nil || seen != nil {
			t.Fatalf("reserve: %+v %v", seen, err)
		}
		p = f.must(t, 409, "C", "POST", "/orders", body, "Idempotency-Key", "order-2").Problem(t)
		if !strings.Contains(p.Detail, "still in progress") {
			t.Errorf("in flight: %q", p.Detail)
		}
		if n := count(t, db, "orders"); n != 2 {
			t.Fatalf("%d orders, want 2", n)
		}
	})
}

// TestIdempotencyKeyDocumented: every POST declares the header and its 409.
func TestIdempotencyKeyDocumented(t *testing.T) {
	t.Parallel()
	a := New(Config{Version: "test"})
	posts := 0
	for _, o := range a.operations {
		if o.Method != http.MethodPost {
			continue
		}
		posts++
		found := false
		for _, p := range o.Parameters {
			found = found || p.In == "header" && p.Name == "Idempotency-Key"
		}
		if !found {
			t.Errorf("%s: no Idempotency-Key header", o.OperationID)
		}
		if o.Responses["409"] == nil {
			t.Errorf("%s: no 409", o.OperationID)
		}
	}
	if posts < 10 {
		t.Fatalf("only %d POST operations", posts)
	}
}
