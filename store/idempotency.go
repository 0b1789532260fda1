package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// IdempotencyTTL is how long an idempotency key is remembered. An older
// row is ignored and replaced by the next request with its key; nothing
// else reads it, so pruning old rows (PruneIdempotencyKeys) is tidiness,
// not correctness.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyAbandoned is how long a reserved key may wait for its
// response before it is taken for abandoned (the process that held it
// died) and the next request with the key runs instead of being refused
// as in flight. No API request takes that long.
const IdempotencyAbandoned = 10 * time.Minute

// IdempotencyScope names one idempotency key: who sent it, to which method
// and path, and the key itself. Different principals or routes may use the
// same key without meeting.
type IdempotencyScope struct {
	// Principal is "key:<id>" for an API key or "user:<id>" for a panel
	// session.
	Principal string
	Method    string
	Path      string
	Key       string
}

// IdempotentRequest is what is known of a key already used.
type IdempotentRequest struct {
	// RequestHash identifies the request the key was first used with.
	RequestHash string
	// Done tells whether its response was stored; false means that
	// request is still running.
	Done bool
	// Response is the stored response when Done.
	Response IdempotentResponse
	// CreatedAt is when the key was first used.
	CreatedAt time.Time
}

// IdempotentResponse is a stored response, replayed as it was.
type IdempotentResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
}

// ReserveIdempotencyKey claims s for a request whose hash is hash. It
// returns nil when the key is new (or its row expired or was abandoned):
// the caller then runs the request and calls SaveIdempotentResponse or
// ReleaseIdempotencyKey. Otherwise it returns what is known of the request
// that used the key first, and the caller replays or refuses.
func (db *DB) ReserveIdempotencyKey(ctx context.Context, s IdempotencyScope, hash string) (*IdempotentRequest, error) {
	var seen *IdempotentRequest
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		now := db.Clock.Now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys
			WHERE principal = $1 AND method = $2 AND path = $3 AND key = $4
			AND (created_at <= $5 OR (status = 0 AND created_at <= $6))`,
			s.Principal, s.Method, s.Path, s.Key, tv(now.Add(-IdempotencyTTL)), tv(now.Add(-IdempotencyAbandoned))); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (principal, method, path, key, request_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			s.Principal, s.Method, s.Path, s.Key, hash, tv(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		seen, err = loadIdempotencyKey(ctx, tx, s)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", err)
	}
	return seen, nil
}

// SaveIdempotentResponse stores the response of the request that reserved
// s, for its replays.
func (db *DB) SaveIdempotentResponse(ctx context.Context, s IdempotencyScope, r IdempotentResponse) error {
	header, err := json.Marshal(r.Header)
	if err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	if _, err := db.Write.ExecContext(ctx, `UPDATE idempotency_keys SET status = $1, header = $2, body = $3
		WHERE principal = $4 AND method = $5 AND path = $6 AND key = $7`,
		r.Status, string(header), body, s.Principal, s.Method, s.Path, s.Key); err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets s, so that the request may be retried with
// it: for responses not worth replaying, such as server errors.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, s IdempotencyScope) error {
	if _, err := db.Write.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE principal = $1 AND method = $2 AND path = $3 AND key = $4`,
		s.Principal, s.Method, s.Path, s.Key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// IdempotencyKey returns what is known of s, or nil when it is unknown or
// expired.
func (db *DB) IdempotencyKey(ctx context.Context, s IdempotencyScope) (*IdempotentRequest, error) {
	r, err := loadIdempotencyKey(ctx, db.Read, s)
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	if r != nil && !r.CreatedAt.After(db.Clock.Now().Add(-IdempotencyTTL)) {
		return nil, nil
	}
	return r, nil
}

// PruneIdempotencyKeys deletes expired keys in batches of at most batch
// rows (for a periodic task).
func (db *DB) PruneIdempotencyKeys(ctx context.Context, batch int) (int64, error) {
	var total int64
	for {
		res, err := db.Write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (principal, method, path, key) IN
			(SELECT principal, method, path, key FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)`,
			tv(db.Clock.Now().Add(-IdempotencyTTL)), batch)
		if err != nil {
			return total, fmt.Errorf("prune idempotency keys: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// loadIdempotencyKey reads the row of s; nil when there is none.
func loadIdempotencyKey(ctx context.Context, q querier, s IdempotencyScope) (*IdempotentRequest, error) {
	var (
		r      IdempotentRequest
		header string
	)
	err := q.QueryRowContext(ctx, `SELECT request_hash, status, header, body, created_at FROM idempotency_keys
		WHERE principal = $1 AND method = $2 AND path = $3 AND key = $4`,
		s.Principal, s.Method, s.Path, s.Key).Scan(&r.RequestHash, &r.Response.Status, &header, &r.Response.Body, ts(&r.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.Done = r.Response.Status != 0
	if err := json.Unmarshal([]byte(header), &r.Response.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	return &r, nil
}
