package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
)

// SessionStore keeps panel sessions in the database, so that several serve
// processes share them. It implements scs.CtxStore of
// github.com/alexedwards/scs/v2; we write our own because the library's SQL
// stores are one per engine and ours must run on both with one code path.
type SessionStore struct{ db *DB }

// Sessions returns the session store of db.
func (db *DB) Sessions() *SessionStore { return &SessionStore{db: db} }

// FindCtx returns the data of a live session.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := s.db.Read.QueryRowContext(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > $2`,
		token, tv(marketplane.RealTime(s.db.Clock))).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return data, true, nil
}

// CommitCtx saves a session.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`, token, b, tv(expiry))
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session (logout).
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM sessions WHERE token = $1`, token); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// AllCtx returns every live session (scs.IterableCtxStore).
func (s *SessionStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT token, data FROM sessions WHERE expiry > $1`, tv(marketplane.RealTime(s.db.Clock)))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var t string
		var d []byte
		if err := rows.Scan(&t, &d); err != nil {
			return nil, err
		}
		out[t] = d
	}
	return out, rows.Err()
}

// Find, Commit and Delete satisfy scs.Store for callers without a context.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit saves a session.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete removes a session.
func (s *SessionStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// PruneExpired deletes expired sessions in batches of at most batch rows.
func (s *SessionStore) PruneExpired(ctx context.Context, batch int) (int64, error) {
	var total int64
	for {
		res, err := s.db.Write.ExecContext(ctx, `DELETE FROM sessions WHERE token IN
			(SELECT token FROM sessions WHERE expiry <= $1 LIMIT $2)`, tv(marketplane.RealTime(s.db.Clock)), batch)
		if err != nil {
			return total, fmt.Errorf("prune sessions: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
