package pgdbaas

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/marketplane/marketplane/connector"
)

// querier is what both *sql.DB and a pinned *sql.Conn offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// state is one row of the state table: a tenant as the connector knows it.
type state struct {
	ID             string
	RequestID      string
	SubscriptionID int64
	AccountID      int64
	Status         string
	Message        string // the last operation's error, if it failed
	Spec           spec
	// Password is kept, in clear, because the customer needs it again: the
	// platform shows the connection details in the customer panel for as long
	// as the subscription lives, not only once after the order. PostgreSQL
	// itself holds only a SCRAM verifier; the state schema is readable by the
	// admin role alone, and the password is erased when the tenant is deleted.
	Password  string
	ReadOnly  bool // the storage limit is exceeded and the database defaults to read-only
	CreatedAt time.Time
	UpdatedAt time.Time
}

// name is the tenant's database and role name.
func (st state) name() string { return "t_" + st.ID }

var tenantID = regexp.MustCompile(`^[0-9a-f]{16}$`)

const columns = `id, request_id, subscription_id, account_id, status, message,
	storage_mb, connections, locale, extensions, password, read_only, created_at, updated_at`

func scanState(row interface{ Scan(...any) error }) (state, error) {
	var st state
	var ext string
	err := row.Scan(&st.ID, &st.RequestID, &st.SubscriptionID, &st.AccountID, &st.Status, &st.Message,
		&st.Spec.StorageMB, &st.Spec.Connections, &st.Spec.Locale, &ext, &st.Password, &st.ReadOnly,
		&st.CreatedAt, &st.UpdatedAt)
	if ext != "" {
		st.Spec.Extensions = strings.Split(ext, ",")
	}
	return st, err
}

// load reads tenant id; connector.ErrNotFound when there is none.
func (s *Service) load(ctx context.Context, q querier, id string) (state, error) {
	if !tenantID.MatchString(id) {
		return state{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	st, err := scanState(q.QueryRowContext(ctx, `SELECT `+columns+` FROM `+s.table+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return state{}, fmt.Errorf("tenant %s: %w", id, connector.ErrNotFound)
	}
	if err != nil {
		return state{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return st, nil
}

// insert records a new tenant in status provisioning, or returns the tenant
// already recorded for the same request id. The no-op DO UPDATE (rather than
// DO NOTHING) makes RETURNING yield the existing row, so one atomic
// statement answers both cases, also when two calls with the same request id
// race.
func (s *Service) insert(ctx context.Context, st state) (state, error) {
	now := s.now().UTC()
	return scanState(s.db.QueryRowContext(ctx, `INSERT INTO `+s.table+` (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10, false, $11, $11)
		ON CONFLICT (request_id) DO UPDATE SET request_id = EXCLUDED.request_id
		RETURNING `+columns,
		st.ID, st.RequestID, st.SubscriptionID, st.AccountID, connector.StatusProvisioning,
		st.Spec.StorageMB, st.Spec.Connections, st.Spec.Locale, strings.Join(st.Spec.Extensions, ","),
		st.Password, now))
}

// save writes back what an operation changed.
func (s *Service) save(ctx context.Context, q querier, st *state) error {
	st.UpdatedAt = s.now().UTC()
	_, err := q.ExecContext(ctx, `UPDATE `+s.table+` SET status = $2, message = $3, storage_mb = $4,
		connections = $5, extensions = $6, password = $7, read_only = $8, updated_at = $9 WHERE id = $1`,
		st.ID, st.Status, st.Message, st.Spec.StorageMB, st.Spec.Connections,
		strings.Join(st.Spec.Extensions, ","), st.Password, st.ReadOnly, st.UpdatedAt)
	if err != nil {
		return fmt.Errorf("tenant %s: save state: %w", st.ID, err)
	}
	return nil
}

// lockClass is the first key of the connector's advisory locks ("pgdb").
const lockClass = 0x70676462

// change runs fn on tenant id while holding the tenant's advisory lock, then
// saves the state fn leaves. fn updates st as each of its effects takes hold,
// so that a failure half-way saves what was done; every step is idempotent
// and a retry finishes the rest. When fn fails, its error is kept in the
// tenant's message (staff see it on the next Get) and returned; a success
// clears it.
//
// The lock is session-level on one pinned connection, and fn runs its DDL on
// that same connection: CREATE and DROP DATABASE cannot run inside a
// transaction block, so a row lock held by a transaction would need a second
// connection per operation — and a pool full of lock holders waiting for a
// second connection deadlocks. The lock serializes every change to one
// tenant across goroutines and connector processes; if the process dies, the
// server ends its session and frees the lock.
func (s *Service) change(ctx context.Context, id string, fn func(c *sql.Conn, st *state) error) (state, error) {
	if !tenantID.MatchString(id) {
		return state{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return state{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	defer c.Close()
	key := lockKey(id)
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, key); err != nil {
		return state{}, fmt.Errorf("tenant %s: lock: %w", id, err)
	}
	defer func() {
		_, err := c.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, key)
		if err != nil {
			// The session may still hold the lock: close the connection
			// instead of returning it to the pool, and the server frees it.
			c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()

	// Read under the lock: another process may have moved the tenant on.
	st, err := s.load(ctx, c, id)
	if err != nil {
		return state{}, err
	}
	st.Message = ""
	if err := fn(c, &st); err != nil {
		if r, ok := err.(refusal); ok {
			return st, r.err
		}
		st.Message = err.Error()
		s.save(context.WithoutCancel(ctx), c, &st)
		return st, fmt.Errorf("tenant %s: %w", id, err)
	}
	if err := s.save(ctx, c, &st); err != nil {
		return st, err
	}
	return st, nil
}

// lockKey folds a tenant id into the second key of an advisory lock. Two
// tenants sharing a key only wait for each other.
func lockKey(id string) int32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int32(h.Sum32())
}
