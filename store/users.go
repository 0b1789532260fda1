package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

const userColumns = `u.id, u.account_id, u.login, u.display_name, u.email, u.locale, u.disabled,
	u.last_login_at, u.version, u.created_at, u.updated_at`

func scanUser(r scanner) (*account.User, error) {
	u := &account.User{}
	err := r.Scan(&u.ID, &u.AccountID, &u.Login, &u.DisplayName, &u.Email, &u.Locale, &u.Disabled,
		ts(&u.LastLoginAt), &u.Version, ts(&u.CreatedAt), ts(&u.UpdatedAt))
	return u, err
}

// loadUser returns the user and the path of its account.
func loadUser(ctx context.Context, q querier, id int64) (*account.User, string, error) {
	var path string
	row := q.QueryRowContext(ctx, `SELECT `+userColumns+`, a.path FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = $1`, id)
	u := &account.User{}
	err := row.Scan(&u.ID, &u.AccountID, &u.Login, &u.DisplayName, &u.Email, &u.Locale, &u.Disabled,
		ts(&u.LastLoginAt), &u.Version, ts(&u.CreatedAt), ts(&u.UpdatedAt), &path)
	if err != nil {
		return nil, "", notFound(err, "user")
	}
	u.RoleIDs, err = userRoleIDs(ctx, q, id)
	return u, path, err
}

func userRoleIDs(ctx context.Context, q querier, userID int64) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT role_id FROM user_roles WHERE user_id = $1 ORDER BY role_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CreateUser creates u in account u.AccountID with the given password and
// roles. The actor needs to manage users there (its own account: the users
// privilege; a child or grandchild: MANAGE_AFFILIATED_ACCOUNTS), and may only
// give roles that grant no more than it holds.
func (db *DB) CreateUser(ctx context.Context, actor *account.Actor, u *account.User, password string) error {
	var f marketplane.FieldErrors
	if err := u.Validate(); err != nil {
		var e *marketplane.Error
		errors.As(err, &e)
		for k, v := range e.Fields {
			f.Add(k, v)
		}
	}
	if err := account.ValidatePassword(password); err != nil {
		f.Add("password", err.(*marketplane.Error).Fields["password"])
	}
	if err := f.Err("user"); err != nil {
		return err
	}
	hash, err := account.HashPassword(password, db.HashParams)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageUsers, u.AccountID)
		if err != nil {
			return err
		}
		if err := db.checkRoles(ctx, tx, actor, u.RoleIDs, t.Path); err != nil {
			return err
		}
		now := db.Clock.Now()
		u.CreatedAt, u.UpdatedAt, u.Version = now, now, 1
		err = tx.QueryRowContext(ctx, `INSERT INTO users (account_id, login, login_key, display_name, email, locale,
			password_hash, disabled, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id`,
			u.AccountID, u.Login, account.LoginKey(u.Login), u.DisplayName, u.Email, u.Locale, hash, u.Disabled, tv(now)).Scan(&u.ID)
		if err != nil {
			if isUniqueViolation(err) {
				return loginTaken()
			}
			return fmt.Errorf("create user: %w", err)
		}
		if err := setUserRoles(ctx, tx, u.ID, u.RoleIDs); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, u.AccountID, t.Path, "user.create", "user", u.ID,
			map[string]any{"login": u.Login, "role_ids": u.RoleIDs, "disabled": u.Disabled})
	})
}

func loginTaken() error {
	return &marketplane.Error{Code: marketplane.ECONFLICT, Message: "the login name is taken",
		Fields: map[string]string{"login": "is taken"}}
}

// checkRoles checks that every role may be given to a user of the account at
// path and grants no more than the actor holds.
func (db *DB) checkRoles(ctx context.Context, tx *sql.Tx, actor *account.Actor, roleIDs []int64, path string) error {
	for _, id := range roleIDs {
		ro, err := db.roleUsable(ctx, tx, id, path, "role_ids")
		if err != nil {
			return err
		}
		if err := checkGrantable(actor, ro.Effective()); err != nil {
			return err
		}
	}
	return nil
}

func setUserRoles(ctx context.Context, tx *sql.Tx, userID int64, roleIDs []int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("roles of user %d: %w", userID, err)
	}
	ids := slices.Clone(roleIDs)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)`, userID, id); err != nil {
			return fmt.Errorf("roles of user %d: %w", userID, err)
		}
	}
	return nil
}

// User returns user id if the actor may view the users of its account (or
// it is the actor itself).
func (db *DB) User(ctx context.Context, actor *account.Actor, id int64) (*account.User, error) {
	u, path, err := loadUser(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if actor.UserID == id && !actor.Disabled {
		return u, nil
	}
	if err := account.Authorize(actor, account.ViewUsers, account.Target{AccountID: u.AccountID, Path: path, UserID: id}); err != nil {
		if marketplane.ErrorCode(err) == marketplane.EFORBIDDEN && account.Relate(actor.AccountPath, path) != account.Self {
			return nil, marketplane.Errorf(marketplane.ENOTFOUND, "user not found")
		}
		return nil, err
	}
	return u, nil
}

// ListUsers lists the users of account accountID, by id, after the cursor.
func (db *DB) ListUsers(ctx context.Context, actor *account.Actor, accountID, afterID int64, limit int) ([]*account.User, error) {
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewUsers, accountID); err != nil {
		return nil, err
	}
	limit = clampLimit(limit)
	rows, err := db.Read.QueryContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.account_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3`,
		accountID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, u := range out {
		if u.RoleIDs, err = userRoleIDs(ctx, db.Read, u.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateUser saves login, display name, e-mail, locale and the disabled flag
// of u. u.Version must be the version read. Users may edit their own
// profile but not disable themselves.
func (db *DB) UpdateUser(ctx context.Context, actor *account.Actor, u *account.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, path, err := loadUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		self := actor.UserID == u.ID && !actor.System
		if self {
			if u.Disabled {
				return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not disable yourself")
			}
		} else if err := account.Authorize(actor, account.ManageUsers, account.Target{AccountID: old.AccountID, Path: path, UserID: u.ID}); err != nil {
			return hideAs(err, "user")
		}
		if u.Version != old.Version {
			return marketplane.Errorf(marketplane.EPRECONDITION, "user %d was changed by someone else (version %d, not %d)", u.ID, old.Version, u.Version)
		}
		u.AccountID, u.RoleIDs, u.CreatedAt, u.LastLoginAt = old.AccountID, old.RoleIDs, old.CreatedAt, old.LastLoginAt
		u.Version, u.UpdatedAt = old.Version+1, db.Clock.Now()
		_, err = tx.ExecContext(ctx, `UPDATE users SET login = $1, login_key = $2, display_name = $3, email = $4, locale = $5,
			disabled = $6, version = $7, updated_at = $8 WHERE id = $9`,
			u.Login, account.LoginKey(u.Login), u.DisplayName, u.Email, u.Locale, u.Disabled, u.Version, tv(u.UpdatedAt), u.ID)
		if err != nil {
			if isUniqueViolation(err) {
				return loginTaken()
			}
			return fmt.Errorf("update user %d: %w", u.ID, err)
		}
		ch := map[string]any{}
		if old.Login != u.Login {
			ch["login"] = []string{old.Login, u.Login}
		}
		if old.Disabled != u.Disabled {
			ch["disabled"] = []bool{old.Disabled, u.Disabled}
		}
		if old.DisplayName != u.DisplayName {
			ch["display_name"] = []string{old.DisplayName, u.DisplayName}
		}
		if old.Email != u.Email {
			ch["email"] = []string{old.Email, u.Email}
		}
		if old.Locale != u.Locale {
			ch["locale"] = []string{old.Locale, u.Locale}
		}
		return db.audit(ctx, tx, actor, u.AccountID, path, "user.update", "user", u.ID, ch)
	})
}

// SetUserRoles replaces the roles of user id. Nobody assigns roles to
// itself, and nobody gives roles granting more than it holds.
func (db *DB) SetUserRoles(ctx context.Context, actor *account.Actor, id int64, roleIDs []int64) (*account.User, error) {
	var u *account.User
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var path string
		var err error
		u, path, err = loadUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := account.Authorize(actor, account.AssignRoles, account.Target{AccountID: u.AccountID, Path: path, UserID: id}); err != nil {
			return hideAs(err, "user")
		}
		if err := db.checkRoles(ctx, tx, actor, roleIDs, path); err != nil {
			return err
		}
		// Taking away a role the actor could not give is escalation too.
		if err := db.checkRoles(ctx, tx, actor, u.RoleIDs, path); err != nil {
			return err
		}
		old := u.RoleIDs
		if err := setUserRoles(ctx, tx, id, roleIDs); err != nil {
			return err
		}
		u.Version++
		if _, err := tx.ExecContext(ctx, `UPDATE users SET version = $1, updated_at = $2 WHERE id = $3`, u.Version, tv(db.Clock.Now()), id); err != nil {
			return err
		}
		if u.RoleIDs, err = userRoleIDs(ctx, tx, id); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, u.AccountID, path, "user.roles", "user", id, map[string]any{"role_ids": [][]int64{old, u.RoleIDs}})
	})
	return u, err
}

// SetPassword sets a new password for user id: the user itself, or someone
// who manages its account's users.
func (db *DB) SetPassword(ctx context.Context, actor *account.Actor, id int64, password string) error {
	if err := account.ValidatePassword(password); err != nil {
		return err
	}
	hash, err := account.HashPassword(password, db.HashParams)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		u, path, err := loadUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if actor.UserID != id || actor.System {
			if err := account.Authorize(actor, account.ManageUsers, account.Target{AccountID: u.AccountID, Path: path, UserID: id}); err != nil {
				return hideAs(err, "user")
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1, version = version + 1, updated_at = $2 WHERE id = $3`,
			hash, tv(db.Clock.Now()), id); err != nil {
			return fmt.Errorf("set password of user %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, u.AccountID, path, "user.password", "user", id, nil)
	})
}

// DeleteUser deletes user id. Nobody deletes itself.
func (db *DB) DeleteUser(ctx context.Context, actor *account.Actor, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		u, path, err := loadUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if actor.UserID == id && !actor.System {
			return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not delete yourself")
		}
		if err := account.Authorize(actor, account.ManageUsers, account.Target{AccountID: u.AccountID, Path: path, UserID: id}); err != nil {
			return hideAs(err, "user")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, u.AccountID, path, "user.delete", "user", id, map[string]any{"login": u.Login})
	})
}

// UserByLogin finds a user by login name, ignoring case (system use: the
// demo loader and the CLI).
func (db *DB) UserByLogin(ctx context.Context, login string) (*account.User, error) {
	var id int64
	if err := db.Read.QueryRowContext(ctx, `SELECT id FROM users WHERE login_key = $1`, account.LoginKey(login)).Scan(&id); err != nil {
		return nil, notFound(err, "user")
	}
	u, _, err := loadUser(ctx, db.Read, id)
	return u, err
}

// ActorForUser builds the actor of user id: its account, path and the merged
// grants of its roles. A disabled user or a cancelled account gives a
// disabled actor.
func (db *DB) ActorForUser(ctx context.Context, id int64) (*account.Actor, error) {
	var a account.Actor
	var disabled bool
	var status string
	err := db.Read.QueryRowContext(ctx, `SELECT u.id, u.account_id, a.path, u.disabled, a.status
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = $1`, id).Scan(&a.UserID, &a.AccountID, &a.AccountPath, &disabled, &status)
	if err != nil {
		return nil, notFound(err, "user")
	}
	a.Disabled = disabled || status == string(account.StatusCancelled)
	g, err := db.grantsOf(ctx, `SELECT r.grants FROM roles r JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = $1`, id)
	if err != nil {
		return nil, err
	}
	a.Grants = g
	return &a, nil
}

func (db *DB) grantsOf(ctx context.Context, query string, id int64) (account.Grants, error) {
	rows, err := db.Read.QueryContext(ctx, query, id)
	if err != nil {
		return account.Grants{}, fmt.Errorf("grants: %w", err)
	}
	defer rows.Close()
	var g account.Grants
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return account.Grants{}, err
		}
		ro := account.Role{}
		if err := jsonUnmarshal(raw, &ro.Grants); err != nil {
			return account.Grants{}, err
		}
		g.Merge(ro.Effective())
	}
	return g, rows.Err()
}

// ActorDescription is a short text naming an actor, for logs.
func ActorDescription(a *account.Actor) string {
	var b strings.Builder
	switch {
	case a == nil:
		return "anonymous"
	case a.System:
		return "system"
	case a.KeyID != 0:
		fmt.Fprintf(&b, "api key %d", a.KeyID)
	default:
		fmt.Fprintf(&b, "user %d", a.UserID)
	}
	fmt.Fprintf(&b, " of account %d", a.AccountID)
	return b.String()
}
