package rabbitvhost

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/marketplane/marketplane/connector"
)

// state is the connector's own store: one SQLite file that remembers every
// tenant, what RabbitMQ should look like for it (desired) and what was last
// made true there (applied). The worker's job is to close the gap; because
// both sides are written down, a restart resumes exactly where it stopped.
//
// One process owns a state file: the worker's claims are kept in memory.
type state struct {
	db *sql.DB
}

// timeLayout is the one text form of timestamps: fixed width and UTC, so
// that text order is time order in SQL.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// migrations are applied in order; PRAGMA user_version counts how many ran.
var migrations = []string{`
CREATE TABLE tenants (
	id                  TEXT PRIMARY KEY,
	request_id          TEXT NOT NULL UNIQUE,  -- the platform's create request: Create is idempotent on it
	subscription_id     INTEGER NOT NULL,
	account_id          INTEGER NOT NULL,
	status              TEXT NOT NULL,         -- provisioning, ready, suspended, failed, deleting, deleted
	message             TEXT NOT NULL DEFAULT '',
	max_connections     INTEGER NOT NULL,      -- desired limits; -1 is unlimited
	max_queues          INTEGER NOT NULL,
	queue_type          TEXT NOT NULL DEFAULT '',
	description         TEXT NOT NULL DEFAULT '',
	password            TEXT NOT NULL,         -- the tenant user's; cleared once deleted
	suspended           INTEGER NOT NULL DEFAULT 0,
	deleted             INTEGER NOT NULL DEFAULT 0,
	applied_connections INTEGER,               -- what RabbitMQ has; NULL until first provisioned
	applied_queues      INTEGER,
	applied_suspended   INTEGER,
	attempts            INTEGER NOT NULL DEFAULT 0,  -- failed attempts at the current gap
	next_attempt_at     TEXT NOT NULL,
	last_request_id     TEXT NOT NULL DEFAULT '',
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL
);
CREATE INDEX tenants_work ON tenants (next_attempt_at) WHERE status NOT IN ('failed', 'deleted');
`}

// openState opens (creating if needed) and migrates the state file.
func openState(ctx context.Context, path string) (*state, error) {
	if dir := filepath.Dir(path); dir != "" {
		// The file holds the tenants' passwords.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// One connection: a connector's writes are few and small, and a single
	// writer never meets SQLITE_BUSY from itself.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	st := &state{db: db}
	if err := st.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return st, nil
}

func (st *state) close() error { return st.db.Close() }

func (st *state) migrate(ctx context.Context) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this connector (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}

// tenantRow is one tenant as stored.
type tenantRow struct {
	ID             string
	RequestID      string
	SubscriptionID int64
	AccountID      int64
	Status         string
	Message        string
	Connections    int64 // desired max-connections
	Queues         int64 // desired max-queues
	QueueType      string
	Description    string
	Password       string
	Suspended      bool // desired
	Deleted        bool // desired
	Applied        *applied
	Attempts       int
	NextAttemptAt  time.Time
	LastRequestID  string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// applied is what the worker last made true in RabbitMQ.
type applied struct {
	Connections int64
	Queues      int64
	Suspended   bool
}

// target is the desired RabbitMQ state of the row, as the worker applies it.
func (r *tenantRow) target() applied {
	return applied{Connections: r.Connections, Queues: r.Queues, Suspended: r.Suspended}
}

// pending reports whether RabbitMQ does not yet match the row. Failed and
// deleted rows wait for a new request. pendingSQL says the same in SQL.
func (r *tenantRow) pending() bool {
	if r.Status == connector.StatusFailed || r.Status == connector.StatusDeleted {
		return false
	}
	return r.Deleted || r.Applied == nil || *r.Applied != r.target()
}

const pendingSQL = `status NOT IN ('failed', 'deleted') AND (deleted = 1
	OR applied_connections IS NULL
	OR applied_connections <> max_connections
	OR applied_queues <> max_queues
	OR applied_suspended <> suspended)`

const tenantColumns = `id, request_id, subscription_id, account_id, status, message,
	max_connections, max_queues, queue_type, description, password, suspended, deleted,
	applied_connections, applied_queues, applied_suspended, attempts, next_attempt_at,
	last_request_id, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanTenant(s rowScanner) (tenantRow, error) {
	var r tenantRow
	var ac, aq, as sql.NullInt64
	var next, created, updated string
	err := s.Scan(&r.ID, &r.RequestID, &r.SubscriptionID, &r.AccountID, &r.Status, &r.Message,
		&r.Connections, &r.Queues, &r.QueueType, &r.Description, &r.Password, &r.Suspended, &r.Deleted,
		&ac, &aq, &as, &r.Attempts, &next, &r.LastRequestID, &created, &updated)
	if err != nil {
		return r, err
	}
	if ac.Valid {
		r.Applied = &applied{Connections: ac.Int64, Queues: aq.Int64, Suspended: as.Int64 != 0}
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{next, &r.NextAttemptAt}, {created, &r.CreatedAt}, {updated, &r.UpdatedAt}} {
		if *p.t, err = time.Parse(time.RFC3339Nano, p.s); err != nil {
			return r, fmt.Errorf("tenant %s: timestamp %q: %w", r.ID, p.s, err)
		}
	}
	return r, nil
}

func tv(t time.Time) string { return t.UTC().Format(timeLayout) }

// errConflict marks a create request id reused for a different request.
var errConflict = errors.New("request id reused")

// create stores a new tenant, or returns the one its request id already
// created. A repeat of a create that failed queues it again: that is how
// the platform retries provisioning. A request id reused with different
// content is refused with errConflict.
func (st *state) create(ctx context.Context, r tenantRow) (tenantRow, error) {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return tenantRow{}, err
	}
	defer tx.Rollback()
	old, err := scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE request_id = $1`, r.RequestID))
	switch {
	case err == nil:
		if old.SubscriptionID != r.SubscriptionID || old.AccountID != r.AccountID ||
			old.Connections != r.Connections || old.Queues != r.Queues ||
			old.QueueType != r.QueueType || old.Description != r.Description {
			return tenantRow{}, errConflict
		}
		if old.Status == connector.StatusFailed && !old.Deleted {
			old.Status, old.Message, old.Attempts, old.NextAttemptAt = connector.StatusProvisioning, "", 0, r.UpdatedAt
			if err := writeState(ctx, tx, old, r.UpdatedAt); err != nil {
				return tenantRow{}, err
			}
		}
		return old, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return tenantRow{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tenants (id, request_id, subscription_id, account_id,
		status, message, max_connections, max_queues, queue_type, description, password,
		next_attempt_at, last_request_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10, $11, $2, $12, $12)`,
		r.ID, r.RequestID, r.SubscriptionID, r.AccountID, r.Status, r.Connections, r.Queues,
		r.QueueType, r.Description, r.Password, tv(r.NextAttemptAt), tv(r.CreatedAt))
	if err != nil {
		return tenantRow{}, err
	}
	return r, tx.Commit()
}

// get returns the tenant, or connector.ErrNotFound.
func (st *state) get(ctx context.Context, id string) (tenantRow, error) {
	r, err := scanTenant(st.db.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("tenant %s: %w", id, connector.ErrNotFound)
	}
	return r, err
}

// change applies fn to the stored tenant (its desired state and status) in
// one transaction and returns the result. fn returning an error changes
// nothing.
func (st *state) change(ctx context.Context, id string, now time.Time, fn func(r *tenantRow) error) (tenantRow, error) {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return tenantRow{}, err
	}
	defer tx.Rollback()
	r, err := scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("tenant %s: %w", id, connector.ErrNotFound)
	}
	if err != nil {
		return r, err
	}
	if err := fn(&r); err != nil {
		return r, err
	}
	if err := writeState(ctx, tx, r, now); err != nil {
		return r, err
	}
	r.UpdatedAt = now
	return r, tx.Commit()
}

// writeState writes the mutable columns of r.
func writeState(ctx context.Context, tx *sql.Tx, r tenantRow, now time.Time) error {
	var ac, aq, as any
	if r.Applied != nil {
		ac, aq, as = r.Applied.Connections, r.Applied.Queues, r.Applied.Suspended
	}
	_, err := tx.ExecContext(ctx, `UPDATE tenants SET status = $2, message = $3,
		max_connections = $4, max_queues = $5, password = $6, suspended = $7, deleted = $8,
		applied_connections = $9, applied_queues = $10, applied_suspended = $11,
		attempts = $12, next_attempt_at = $13, last_request_id = $14, updated_at = $15
		WHERE id = $1`,
		r.ID, r.Status, r.Message, r.Connections, r.Queues, r.Password, r.Suspended, r.Deleted,
		ac, aq, as, r.Attempts, tv(r.NextAttemptAt), r.LastRequestID, tv(now))
	return err
}

// due lists up to limit tenants with work to do whose next attempt is due,
// oldest first.
func (st *state) due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id FROM tenants
		WHERE `+pendingSQL+` AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT $2`, tv(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// applied records that RabbitMQ now matches snapshot (the desired state the
// worker read before it started) and sets the status that follows. A change
// that arrived meanwhile stays pending: snapshot is what was applied, not
// whatever is desired now.
func (st *state) applied(ctx context.Context, id string, snapshot tenantRow, now time.Time) (tenantRow, error) {
	return st.change(ctx, id, now, func(r *tenantRow) error {
		r.Attempts, r.Message, r.NextAttemptAt = 0, "", now
		if snapshot.Deleted {
			// Deleted is final: the row stays as a tombstone so that a
			// repeated delete or create answers the same.
			r.Status, r.Password = connector.StatusDeleted, ""
			return nil
		}
		a := snapshot.target()
		r.Applied = &a
		switch {
		case r.Deleted:
			r.Status = connector.StatusDeleting
		case a.Suspended:
			r.Status = connector.StatusSuspended
		default:
			r.Status = connector.StatusReady
		}
		return nil
	})
}

// failed records a failed attempt and when to try again. Creation and
// deletion give up after maxAttempts with status failed and the error as
// message; a change to a running tenant keeps being retried, since the
// tenant itself still works.
func (st *state) failed(ctx context.Context, id string, cause error, now time.Time, maxAttempts int, backoff func(attempt int) time.Duration) (tenantRow, error) {
	return st.change(ctx, id, now, func(r *tenantRow) error {
		r.Attempts++
		r.NextAttemptAt = now.Add(backoff(r.Attempts))
		if r.Applied == nil || r.Deleted {
			if r.Attempts >= maxAttempts {
				r.Status = connector.StatusFailed
				r.Message = fmt.Sprintf("gave up after %d attempts: %v", r.Attempts, cause)
				return nil
			}
		}
		r.Message = fmt.Sprintf("attempt %d failed, retrying: %v", r.Attempts, cause)
		return nil
	})
}
