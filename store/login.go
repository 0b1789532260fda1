package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// Login throttling: after MaxLoginFailures failed attempts for one login name
// (since its last success) within LoginWindow, or MaxIPFailures from one
// address, further attempts are refused until the window has passed. The
// attempts live in the database so that several serve processes share them.
const (
	LoginWindow      = 15 * time.Minute
	MaxLoginFailures = 5
	MaxIPFailures    = 50
)

// dummyHash is checked against when the login does not exist, so that a
// missing user costs the same time as a wrong password. It is made once with
// the database's own costs.
func (db *DB) dummyHash() string {
	db.dummyOnce.Do(func() {
		db.dummy, _ = account.HashPassword(randomToken(16), db.HashParams)
	})
	return db.dummy
}

// Login checks a login name and password from address ip and returns the
// user. Wrong names and wrong passwords give the same EUNAUTHORIZED error;
// too many failures give ETHROTTLED.
func (db *DB) Login(ctx context.Context, login, password, ip string) (*account.User, error) {
	key := account.LoginKey(login)
	now := db.Clock.Now()
	if err := db.checkThrottle(ctx, key, ip, now); err != nil {
		return nil, err
	}
	var id int64
	var hash, status string
	var disabled bool
	err := db.Read.QueryRowContext(ctx, `SELECT u.id, u.password_hash, u.disabled, a.status
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.login_key = $1`, key).Scan(&id, &hash, &disabled, &status)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("login: %w", err)
	}
	if err == sql.ErrNoRows {
		hash = db.dummyHash()
	}
	ok := account.CheckPassword(hash, password) && err == nil
	if !ok {
		if rerr := db.recordAttempt(ctx, key, ip, now, false); rerr != nil {
			return nil, rerr
		}
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "the login name or password is wrong")
	}
	if disabled || status == string(account.StatusCancelled) {
		if rerr := db.recordAttempt(ctx, key, ip, now, false); rerr != nil {
			return nil, rerr
		}
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "this user is disabled")
	}
	if err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, tv(now), id); err != nil {
			return err
		}
		return insertAttempt(ctx, tx, key, ip, now, true)
	}); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	u, _, err := loadUser(ctx, db.Read, id)
	return u, err
}

func (db *DB) checkThrottle(ctx context.Context, key, ip string, now time.Time) error {
	since := now.Add(-LoginWindow)
	var lastSuccess time.Time
	if err := db.Read.QueryRowContext(ctx, `SELECT MAX(at) FROM login_attempts WHERE login_key = $1 AND success = $2 AND at > $3`,
		key, true, tv(since)).Scan(ts(&lastSuccess)); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if lastSuccess.After(since) {
		since = lastSuccess
	}
	var byLogin, byIP int
	var oldest time.Time
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at) FROM login_attempts WHERE login_key = $1 AND success = $2 AND at > $3`,
		key, false, tv(since)).Scan(&byLogin, ts(&oldest)); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_attempts WHERE ip = $1 AND success = $2 AND at > $3`,
		ip, false, tv(now.Add(-LoginWindow))).Scan(&byIP); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if byLogin >= MaxLoginFailures || byIP >= MaxIPFailures {
		wait := LoginWindow
		if !oldest.IsZero() && byIP < MaxIPFailures {
			wait = oldest.Add(LoginWindow).Sub(now)
		}
		return &marketplane.Error{Code: marketplane.ETHROTTLED,
			Message: fmt.Sprintf("too many failed logins; try again in %d minutes", int(math.Ceil(wait.Minutes())))}
	}
	return nil
}

func (db *DB) recordAttempt(ctx context.Context, key, ip string, now time.Time, ok bool) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return insertAttempt(ctx, tx, key, ip, now, ok) })
}

func insertAttempt(ctx context.Context, tx *sql.Tx, key, ip string, now time.Time, ok bool) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_attempts (login_key, ip, at, success) VALUES ($1, $2, $3, $4)`,
		key, ip, tv(now), ok); err != nil {
		return fmt.Errorf("record login attempt: %w", err)
	}
	return nil
}

// PruneLoginAttempts deletes login attempts older than a day, which no
// throttle window looks at any more.
func (db *DB) PruneLoginAttempts(ctx context.Context) (int64, error) {
	res, err := db.Write.ExecContext(ctx, `DELETE FROM login_attempts WHERE at < $1`, tv(db.Clock.Now().Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("prune login attempts: %w", err)
	}
	return res.RowsAffected()
}
