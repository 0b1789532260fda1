package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// Sign-in. The throttle's rules are account.LoginLimits: three counters per
// attempt (the login from this address, the address, the login), kept in
// login_throttle so that every serve process shares them. The order of a
// sign-in is what makes the throttle hold under parallel attempts:
//
//  1. admit: one write transaction locks the attempt's three counter rows
//     (an upsert that creates missing ones; on PostgreSQL the rows stay
//     locked to the end of the transaction, on SQLite the single writer
//     holds the database), decides with account.AdmitLogin, and either
//     refuses with nothing written or counts the attempt as a failure and
//     logs it in login_attempts; then it commits;
//  2. verify: the password is checked, outside any transaction, within the
//     process's hash budget (account.Hashes), which bounds the memory that
//     argon2id holds at once and refuses with a retry delay when full;
//  3. settle: a second transaction locks the rows again and applies
//     account.SettleLogin: a success clears the login's counters, a
//     password never checked is taken back, a failure stands.
//
// So N parallel attempts of one login from one address pass the pair's
// check at most Free times however they interleave, and refused attempts
// cost neither a hash nor a write.

// unknownAddress stands for a request whose address is not known, so that
// such requests share one address counter rather than escaping it.
const unknownAddress = "unknown"

// dummyHash is checked against when the login does not exist, so that a
// missing user costs the same time as a wrong password. It is a well-formed
// hash with the database's own costs and an all-zero key, which no password
// matches (short of a 256-bit collision); it needs no hashing to make.
func (db *DB) dummyHash() string {
	p := db.HashParams
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads,
		b64.EncodeToString(make([]byte, 16)), b64.EncodeToString(make([]byte, 32)))
}

// Login checks a login name and password from address ip and returns the
// user. Wrong names and wrong passwords give the same EUNAUTHORIZED error;
// an attempt the throttle refuses gives ETHROTTLED and a full hash budget
// EUNAVAILABLE, both as an *account.RetryLater that says when to try again.
func (db *DB) Login(ctx context.Context, login, password, ip string) (*account.User, error) {
	key := account.LoginKey(login)
	if key == "" || utf8.RuneCountInString(key) > 120 {
		// No user has such a login (account.User.Validate), and nothing
		// about it is worth a counter.
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "the login name or password is wrong")
	}
	if ip == "" {
		ip = unknownAddress
	}
	// Real time even on a sandbox: a lockout must end without anyone
	// moving its test clock.
	now := marketplane.RealTime(db.Clock)
	attempt, err := db.admitLogin(ctx, key, ip, now)
	if err != nil {
		return nil, err
	}
	// From here the attempt is counted as a failure: every way out settles
	// it, even when the request has ended.
	settle := func(o account.LoginOutcome, userID int64) error {
		return db.settleLogin(context.WithoutCancel(ctx), key, ip, attempt, o, userID, now)
	}
	var id int64
	var hash, status string
	var disabled bool
	err = db.Read.QueryRowContext(ctx, `SELECT u.id, u.password_hash, u.disabled, a.status
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.login_key = $1`, key).Scan(&id, &hash, &disabled, &status)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("login: %w", settleErr(err, settle(account.LoginNotChecked, 0)))
	}
	found := err == nil
	if !found {
		hash = db.dummyHash()
	}
	ok, verr := account.VerifyPassword(ctx, hash, password)
	if verr != nil {
		return nil, settleErr(verr, settle(account.LoginNotChecked, 0))
	}
	if !ok || !found {
		if err := settle(account.LoginFailed, 0); err != nil {
			return nil, err
		}
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "the login name or password is wrong")
	}
	if disabled || status == string(account.StatusCancelled) {
		if err := settle(account.LoginFailed, 0); err != nil {
			return nil, err
		}
		return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "this user is disabled")
	}
	if err := settle(account.LoginSucceeded, id); err != nil {
		return nil, err
	}
	u, _, err := loadUser(ctx, db.Read, id)
	return u, err
}

// settleErr keeps the first error of a sign-in and adds a failure to settle
// it, which matters more to the operator than to the user.
func settleErr(err, serr error) error {
	if serr != nil {
		return fmt.Errorf("%w (and %v)", err, serr)
	}
	return err
}

// admitLogin decides an attempt and, when it may go on, counts it as a
// failure and logs it; it returns the id of the logged attempt.
func (db *DB) admitLogin(ctx context.Context, key, ip string, now time.Time) (int64, error) {
	var attempt int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		cs, err := lockLoginCounters(ctx, tx, key, ip)
		if err != nil {
			return err
		}
		wait, next := account.AdmitLogin(cs, now)
		if wait > 0 {
			return account.ThrottledLogin(wait)
		}
		if err := writeLoginCounters(ctx, tx, key, ip, next); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO login_attempts (login_key, ip, at, success)
			VALUES ($1, $2, $3, $4) RETURNING id`, key, ip, tv(now), false).Scan(&attempt); err != nil {
			return fmt.Errorf("record login attempt: %w", err)
		}
		return nil
	})
	return attempt, err
}

// settleLogin applies the outcome of an admitted attempt to its counters
// and its log row; a success also stamps the user's last login.
func (db *DB) settleLogin(ctx context.Context, key, ip string, attempt int64, o account.LoginOutcome, userID int64, now time.Time) error {
	if o == account.LoginFailed {
		return nil // the reserved failure stands as written
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		cs, err := lockLoginCounters(ctx, tx, key, ip)
		if err != nil {
			return err
		}
		for s, c := range cs {
			cs[s] = account.SettleLogin(s, c, o)
		}
		if err := writeLoginCounters(ctx, tx, key, ip, cs); err != nil {
			return err
		}
		if o == account.LoginNotChecked {
			_, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE id = $1`, attempt)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE login_attempts SET success = $1 WHERE id = $2`, true, attempt); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, tv(now), userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("settle login attempt: %w", err)
	}
	return nil
}

// loginCounterRow is where scope s's counter of an attempt by login key
// from ip lives: the address scope leaves the login empty and the login
// scope the address.
func loginCounterRow(s account.LoginScope, key, ip string) (string, string) {
	switch s {
	case account.ScopeAddress:
		return "", ip
	case account.ScopeLogin:
		return key, ""
	}
	return key, ip
}

// lockLoginCounters reads the three counters of an attempt, creating the
// missing ones, and locks them for the rest of tx. The upsert locks on
// PostgreSQL, in the order of account.LoginScopes for every attempt, so two
// attempts never wait on each other crosswise; on SQLite the transaction
// already holds the only write lock.
func lockLoginCounters(ctx context.Context, tx *sql.Tx, key, ip string) (map[account.LoginScope]account.LoginCounter, error) {
	args := make([]any, 0, 3*len(account.LoginScopes))
	vals := ""
	for i, s := range account.LoginScopes {
		lk, lip := loginCounterRow(s, key, ip)
		if i > 0 {
			vals += ", "
		}
		vals += fmt.Sprintf("($%d, $%d, $%d, 0, NULL)", 3*i+1, 3*i+2, 3*i+3)
		args = append(args, string(s), lk, lip)
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO login_throttle (scope, login_key, ip, failures, last_at) VALUES `+vals+`
		ON CONFLICT (scope, login_key, ip) DO UPDATE SET failures = login_throttle.failures
		RETURNING scope, failures, last_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("login throttle: %w", err)
	}
	defer rows.Close()
	cs := make(map[account.LoginScope]account.LoginCounter, len(account.LoginScopes))
	for rows.Next() {
		var s string
		var c account.LoginCounter
		if err := rows.Scan(&s, &c.Failures, ts(&c.Last)); err != nil {
			return nil, fmt.Errorf("login throttle: %w", err)
		}
		cs[account.LoginScope(s)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("login throttle: %w", err)
	}
	return cs, nil
}

func writeLoginCounters(ctx context.Context, tx *sql.Tx, key, ip string, cs map[account.LoginScope]account.LoginCounter) error {
	for _, s := range account.LoginScopes {
		c := cs[s]
		lk, lip := loginCounterRow(s, key, ip)
		if _, err := tx.ExecContext(ctx, `UPDATE login_throttle SET failures = $1, last_at = $2
			WHERE scope = $3 AND login_key = $4 AND ip = $5`, c.Failures, tv(c.Last), string(s), lk, lip); err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
	}
	return nil
}

// PruneLoginAttempts deletes login attempts older than a day and the
// throttle counters that have forgotten their failures (account.LoginForget)
// or have none, which no decision looks at any more.
func (db *DB) PruneLoginAttempts(ctx context.Context) (int64, error) {
	now := marketplane.RealTime(db.Clock)
	res, err := db.Write.ExecContext(ctx, `DELETE FROM login_attempts WHERE at < $1`, tv(now.Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("prune login attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	res, err = db.Write.ExecContext(ctx, `DELETE FROM login_throttle WHERE failures = 0 OR last_at < $1`,
		tv(now.Add(-account.LoginForget)))
	if err != nil {
		return n, fmt.Errorf("prune login throttle: %w", err)
	}
	m, _ := res.RowsAffected()
	return n + m, nil
}
