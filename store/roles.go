package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

const roleColumns = `id, COALESCE(account_id, 0), COALESCE(key, ''), name, grants, created_at, updated_at`

func scanRole(r scanner) (*account.Role, error) {
	ro := &account.Role{}
	var grants string
	if err := r.Scan(&ro.ID, &ro.AccountID, &ro.Key, &ro.Name, &grants, ts(&ro.CreatedAt), ts(&ro.UpdatedAt)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(grants), &ro.Grants); err != nil {
		return nil, fmt.Errorf("role %d grants: %w", ro.ID, err)
	}
	return ro, nil
}

func loadRole(ctx context.Context, q querier, id int64) (*account.Role, error) {
	ro, err := scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "role")
	}
	return ro, nil
}

// ensureBuiltInRoles creates the built-in roles or brings their grants up to
// date with this binary, at every migration.
func (db *DB) ensureBuiltInRoles(ctx context.Context) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		now := tv(db.Clock.Now())
		for _, r := range account.BuiltInRoles() {
			g, _ := json.Marshal(r.Grants)
			res, err := tx.ExecContext(ctx, `UPDATE roles SET name = $1, grants = $2, updated_at = $3 WHERE key = $4`,
				r.Name, string(g), now, r.Key)
			if err != nil {
				return fmt.Errorf("built-in role %s: %w", r.Key, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO roles (account_id, key, name, grants, created_at, updated_at)
				VALUES (NULL, $1, $2, $3, $4, $4)`, r.Key, r.Name, string(g), now); err != nil {
				return fmt.Errorf("built-in role %s: %w", r.Key, err)
			}
		}
		return nil
	})
}

// RoleByKey returns a built-in role by its key.
func (db *DB) RoleByKey(ctx context.Context, key string) (*account.Role, error) {
	ro, err := scanRole(db.Read.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE key = $1`, key))
	if err != nil {
		return nil, notFound(err, "role "+key)
	}
	return ro, nil
}

// Roles lists the roles usable by the users of account accountID: the
// built-in ones and the custom roles of the account and its ancestors.
func (db *DB) Roles(ctx context.Context, actor *account.Actor, accountID int64) ([]*account.Role, error) {
	t, err := db.authorize(ctx, db.Read, actor, account.ViewRoles, accountID)
	if err != nil {
		return nil, err
	}
	return db.usableRoles(ctx, db.Read, t.Path)
}

func (db *DB) usableRoles(ctx context.Context, q querier, path string) ([]*account.Role, error) {
	ids := account.IDs(path)
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	cond := "account_id IS NULL"
	if len(ids) > 0 {
		cond += " OR account_id IN (" + strings.Join(marks, ", ") + ")"
	}
	rows, err := q.QueryContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE `+cond+` ORDER BY account_id IS NOT NULL, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	defer rows.Close()
	var out []*account.Role
	for rows.Next() {
		ro, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ro)
	}
	return out, rows.Err()
}

// Role returns role id if it is usable by accounts the actor may see.
func (db *DB) Role(ctx context.Context, actor *account.Actor, id int64) (*account.Role, error) {
	ro, err := loadRole(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if ro.BuiltIn() {
		return ro, nil
	}
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewRoles, ro.AccountID); err != nil {
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			// The role of an ancestor is usable here but owned above: it is
			// readable when the actor's account descends from its owner.
			var ownerPath string
			if e := db.Read.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, ro.AccountID).Scan(&ownerPath); e == nil &&
				actor.AccountPath != "" && strings.HasPrefix(actor.AccountPath, ownerPath) {
				return ro, nil
			}
			return nil, marketplane.Errorf(marketplane.ENOTFOUND, "role not found")
		}
		return nil, err
	}
	return ro, nil
}

// checkGrantable refuses grants beyond what the actor holds itself: nobody
// hands out more power than it has.
func checkGrantable(actor *account.Actor, g account.Grants) error {
	if actor.System || actor.Grants.Covers(g) {
		return nil
	}
	return marketplane.Errorf(marketplane.EFORBIDDEN, "the role grants more than you hold yourself")
}

// CreateRole creates a custom role owned by r.AccountID.
func (db *DB) CreateRole(ctx context.Context, actor *account.Actor, r *account.Role) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.AccountID == 0 {
		return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid role", Fields: map[string]string{"account_id": "is required"}}
	}
	if err := checkGrantable(actor, r.Effective()); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageRoles, r.AccountID)
		if err != nil {
			return err
		}
		now := db.Clock.Now()
		r.CreatedAt, r.UpdatedAt, r.Key, r.Name = now, now, "", strings.TrimSpace(r.Name)
		g, _ := json.Marshal(r.Grants)
		err = tx.QueryRowContext(ctx, `INSERT INTO roles (account_id, name, grants, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, r.AccountID, r.Name, string(g), tv(now)).Scan(&r.ID)
		if err != nil {
			if isUniqueViolation(err) {
				return &marketplane.Error{Code: marketplane.ECONFLICT, Message: "a role with this name exists in the account",
					Fields: map[string]string{"name": "is taken"}}
			}
			return fmt.Errorf("create role: %w", err)
		}
		return db.audit(ctx, tx, actor, r.AccountID, t.Path, "role.create", "role", r.ID, map[string]any{"name": r.Name, "grants": r.Grants})
	})
}

// UpdateRole changes the name and grants of a custom role.
func (db *DB) UpdateRole(ctx context.Context, actor *account.Actor, r *account.Role) error {
	return db.UpdateRoleIf(ctx, actor, r, nil)
}

// UpdateRoleIf is UpdateRole with a precondition: ifMatch (nil: none) gets
// the role as stored, locked in the transaction that changes it, once the
// actor may change it; its error leaves the role as it was. It is how the
// API's If-Match catches a change made since the client read the role.
func (db *DB) UpdateRoleIf(ctx context.Context, actor *account.Actor, r *account.Role, ifMatch func(old *account.Role) error) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := checkGrantable(actor, r.Effective()); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanRole(tx.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles r WHERE id = $1`+db.lockRows("r"), r.ID))
		if err != nil {
			return notFound(err, "role")
		}
		if old.BuiltIn() {
			return marketplane.Errorf(marketplane.EFORBIDDEN, "built-in roles cannot be changed; make a custom role")
		}
		t, err := db.authorize(ctx, tx, actor, account.ManageRoles, old.AccountID)
		if err != nil {
			return hideAs(err, "role")
		}
		if ifMatch != nil {
			if err := ifMatch(old); err != nil {
				return err
			}
		}
		if db.actorHoldsRole(ctx, tx, actor, r.ID) {
			return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not change a role you hold yourself")
		}
		r.AccountID, r.CreatedAt, r.UpdatedAt = old.AccountID, old.CreatedAt, db.Clock.Now()
		r.Name = strings.TrimSpace(r.Name)
		g, _ := json.Marshal(r.Grants)
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET name = $1, grants = $2, updated_at = $3 WHERE id = $4`,
			r.Name, string(g), tv(r.UpdatedAt), r.ID); err != nil {
			if isUniqueViolation(err) {
				return &marketplane.Error{Code: marketplane.ECONFLICT, Message: "a role with this name exists in the account",
					Fields: map[string]string{"name": "is taken"}}
			}
			return fmt.Errorf("update role %d: %w", r.ID, err)
		}
		return db.audit(ctx, tx, actor, r.AccountID, t.Path, "role.update", "role", r.ID,
			map[string]any{"name": []string{old.Name, r.Name}, "grants": []any{old.Grants, r.Grants}})
	})
}

// DeleteRole deletes a custom role that no user or API key holds.
func (db *DB) DeleteRole(ctx context.Context, actor *account.Actor, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := loadRole(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.BuiltIn() {
			return marketplane.Errorf(marketplane.EFORBIDDEN, "built-in roles cannot be deleted")
		}
		t, err := db.authorize(ctx, tx, actor, account.ManageRoles, old.AccountID)
		if err != nil {
			return hideAs(err, "role")
		}
		var users, keys int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM user_roles WHERE role_id = $1),
			(SELECT COUNT(*) FROM api_keys WHERE role_id = $1 AND revoked_at IS NULL)`, id).Scan(&users, &keys); err != nil {
			return err
		}
		if users > 0 || keys > 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "role %d is held by %d users and %d API keys; take it from them first", id, users, keys)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE id = $1`, id); err != nil {
			if isForeignKeyViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "role %d is still referenced by revoked API keys", id)
			}
			return fmt.Errorf("delete role %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, old.AccountID, t.Path, "role.delete", "role", id, map[string]any{"name": old.Name})
	})
}

func (db *DB) actorHoldsRole(ctx context.Context, tx *sql.Tx, actor *account.Actor, roleID int64) bool {
	if actor.System || actor.UserID == 0 {
		return false
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_roles WHERE user_id = $1 AND role_id = $2`, actor.UserID, roleID).Scan(&n)
	return err == nil && n > 0
}

// roleUsable checks that role id may be given to a user or key of the account
// at path, and returns its grants; field names the input for the error.
func (db *DB) roleUsable(ctx context.Context, q querier, roleID int64, path, field string) (*account.Role, error) {
	ro, err := loadRole(ctx, q, roleID)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return nil, fieldErrRole(field, roleID)
	}
	if err != nil {
		return nil, err
	}
	if !ro.BuiltIn() {
		ok := false
		for _, id := range account.IDs(path) {
			if id == ro.AccountID {
				ok = true
			}
		}
		if !ok {
			return nil, fieldErrRole(field, roleID)
		}
	}
	return ro, nil
}

func fieldErrRole(field string, id int64) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid role",
		Fields: map[string]string{field: fmt.Sprintf("role %d does not exist for this account", id)}}
}
