package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := marketplane.NewTestClock(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		db.Clock = clock
		s := store.IdempotencyScope{Principal: "key:1", Method: "POST", Path: "/orders", Key: "k1"}

		seen, err := db.ReserveIdempotencyKey(ctx, s, "hash-a")
		if err != nil || seen != nil {
			t.Fatalf("first reserve: %+v, %v", seen, err)
		}
		// A second request while the first runs sees it in flight.
		seen, err = db.ReserveIdempotencyKey(ctx, s, "hash-a")
		if err != nil || seen == nil || seen.Done || seen.RequestHash != "hash-a" {
			t.Fatalf("reserve in flight: %+v, %v", seen, err)
		}

		want := store.IdempotentResponse{Status: 201, Header: map[string][]string{"Location": {"/api/v1/orders/7"}},
			Body: []byte(`{"id":7}`)}
		if err := db.SaveIdempotentResponse(ctx, s, want); err != nil {
			t.Fatal(err)
		}
		seen, err = db.ReserveIdempotencyKey(ctx, s, "hash-b")
		if err != nil || seen == nil || !seen.Done || seen.RequestHash != "hash-a" {
			t.Fatalf("reserve after save: %+v, %v", seen, err)
		}
		if seen.Response.Status != 201 || string(seen.Response.Body) != `{"id":7}` ||
			seen.Response.Header["Location"][0] != "/api/v1/orders/7" {
			t.Fatalf("stored response %+v", seen.Response)
		}

		// Another principal, path or key is another scope.
		for _, other := range []store.IdempotencyScope{
			{Principal: "user:1", Method: "POST", Path: "/orders", Key: "k1"},
			{Principal: "key:1", Method: "POST", Path: "/orders/quote", Key: "k1"},
			{Principal: "key:1", Method: "POST", Path: "/orders", Key: "k2"},
		} {
			if seen, err := db.ReserveIdempotencyKey(ctx, other, "hash-a"); err != nil || seen != nil {
				t.Fatalf("reserve %+v: %+v, %v", other, seen, err)
			}
		}

		// A released key is free again.
		if err := db.ReleaseIdempotencyKey(ctx, store.IdempotencyScope{Principal: "key:1", Method: "POST", Path: "/orders", Key: "k2"}); err != nil {
			t.Fatal(err)
		}
		if seen, err := db.ReserveIdempotencyKey(ctx, store.IdempotencyScope{Principal: "key:1", Method: "POST", Path: "/orders", Key: "k2"}, "hash-c"); err != nil || seen != nil {
			t.Fatalf("reserve released: %+v, %v", seen, err)
		}

		// After 24 hours the key is forgotten and may name a new request.
		clock.Advance(store.IdempotencyTTL)
		if got, err := db.IdempotencyKey(ctx, s); err != nil || got != nil {
			t.Fatalf("expired key: %+v, %v", got, err)
		}
		if n, err := db.PruneIdempotencyKeys(ctx, 2); err != nil || n != 4 {
			t.Fatalf("pruned %d, %v; want 4", n, err)
		}
		if seen, err := db.ReserveIdempotencyKey(ctx, s, "hash-b"); err != nil || seen != nil {
			t.Fatalf("reserve expired: %+v, %v", seen, err)
		}
	})
}

// A key whose request never stored its response (the process died) is
// taken over once it is abandoned.
func TestIdempotencyKeyAbandoned(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := marketplane.NewTestClock(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		db.Clock = clock
		s := store.IdempotencyScope{Principal: "key:1", Method: "POST", Path: "/orders", Key: "k1"}
		if seen, err := db.ReserveIdempotencyKey(ctx, s, "h"); err != nil || seen != nil {
			t.Fatalf("reserve: %+v, %v", seen, err)
		}
		clock.Advance(store.IdempotencyAbandoned - time.Second)
		if seen, err := db.ReserveIdempotencyKey(ctx, s, "h"); err != nil || seen == nil || seen.Done {
			t.Fatalf("reserve before abandoned: %+v, %v", seen, err)
		}
		clock.Advance(time.Second)
		if seen, err := db.ReserveIdempotencyKey(ctx, s, "h"); err != nil || seen != nil {
			t.Fatalf("reserve abandoned: %+v, %v", seen, err)
		}
	})
}
