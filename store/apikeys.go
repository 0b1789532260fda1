package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"fmt"
	"github.com/marketplane/marketplane/text"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// APIKey is a machine credential scoped to one account and one role. Its
// secret is shown once at creation and stored only as a SHA-256 hash (the
// secret is 160 random bits, so a fast hash is enough; a slow one would only
// slow every API call).
type APIKey struct {
	ID         int64
	AccountID  int64
	RoleID     int64
	Name       string
	Prefix     string // visible part, e.g. "mpk_3fz7a2kq"
	CreatedBy  int64
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// keyTokenPrefix starts every API key, so leaked keys are easy to grep for.
const keyTokenPrefix = "mpk_"

// lastUsedEvery bounds how often last-used time is written: at most once a
// minute per key, so reads through the API do not each cost a write.
const lastUsedEvery = time.Minute

const keyColumns = `id, account_id, role_id, name, prefix, COALESCE(created_by_user_id, 0), created_at, last_used_at, expires_at, revoked_at`

func scanKey(r scanner) (*APIKey, error) {
	k := &APIKey{}
	err := r.Scan(&k.ID, &k.AccountID, &k.RoleID, &k.Name, &k.Prefix, &k.CreatedBy,
		ts(&k.CreatedAt), ts(&k.LastUsedAt), ts(&k.ExpiresAt), ts(&k.RevokedAt))
	return k, err
}

// CreateAPIKey makes a key for account accountID acting with role roleID and
// returns it with its secret token, which is never shown again. The actor
// needs to manage API keys at the account and may only give a role that
// grants no more than it holds.
func (db *DB) CreateAPIKey(ctx context.Context, actor *account.Actor, accountID, roleID int64, name string, expiresAt time.Time) (*APIKey, string, error) {
	var f marketplane.FieldErrors
	name = strings.TrimSpace(name)
	if name == "" {
		f.Add("name", "is required")
	} else if len(name) > 100 {
		f.Add("name", "must be at most 100 characters")
	} else if p := text.NameProblem(name); p != "" {
		f.Add("name", p)
	}
	if !expiresAt.IsZero() && !expiresAt.After(db.Clock.Now()) {
		f.Add("expires_at", "must be in the future")
	}
	if err := f.Err("API key"); err != nil {
		return nil, "", err
	}
	k := &APIKey{AccountID: accountID, RoleID: roleID, Name: name, ExpiresAt: expiresAt, CreatedBy: actor.UserID}
	secret := randomToken(20)
	k.Prefix = keyTokenPrefix + randomToken(5)
	token := k.Prefix + "_" + secret
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, account.ManageAPIKeys, accountID)
		if err != nil {
			return err
		}
		ro, err := db.roleUsable(ctx, tx, roleID, t.Path, "role_id")
		if err != nil {
			return err
		}
		if err := checkGrantable(actor, ro.Effective()); err != nil {
			return err
		}
		k.CreatedAt = db.Clock.Now()
		err = tx.QueryRowContext(ctx, `INSERT INTO api_keys (account_id, role_id, name, prefix, secret_hash, created_by_user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			accountID, roleID, name, k.Prefix, hashSecret(secret), nullID(actor.UserID), tv(k.CreatedAt), tv(expiresAt)).Scan(&k.ID)
		if err != nil {
			return fmt.Errorf("create API key: %w", err)
		}
		return db.audit(ctx, tx, actor, accountID, t.Path, "api_key.create", "api_key", k.ID,
			map[string]any{"name": name, "prefix": k.Prefix, "role_id": roleID})
	})
	if err != nil {
		return nil, "", err
	}
	return k, token, nil
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// APIKeys lists the keys of account accountID (without secrets).
func (db *DB) APIKeys(ctx context.Context, actor *account.Actor, accountID int64) ([]*APIKey, error) {
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewAPIKeys, accountID); err != nil {
		return nil, err
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var out []*APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKey returns key id.
func (db *DB) APIKey(ctx context.Context, actor *account.Actor, id int64) (*APIKey, error) {
	k, err := scanKey(db.Read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "API key")
	}
	if _, err := db.authorize(ctx, db.Read, actor, account.ViewAPIKeys, k.AccountID); err != nil {
		return nil, keyNotFound(err)
	}
	return k, nil
}

func keyNotFound(err error) error {
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return marketplane.Errorf(marketplane.ENOTFOUND, "API key not found")
	}
	return err
}

// RevokeAPIKey revokes key id at once; revoking twice is harmless.
func (db *DB) RevokeAPIKey(ctx context.Context, actor *account.Actor, id int64) (*APIKey, error) {
	var k *APIKey
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
		if err != nil {
			return notFound(err, "API key")
		}
		t, err := db.authorize(ctx, tx, actor, account.ManageAPIKeys, k.AccountID)
		if err != nil {
			return keyNotFound(err)
		}
		if !k.RevokedAt.IsZero() {
			return nil
		}
		k.RevokedAt = db.Clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, tv(k.RevokedAt), id); err != nil {
			return fmt.Errorf("revoke API key %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, k.AccountID, t.Path, "api_key.revoke", "api_key", id, map[string]any{"prefix": k.Prefix})
	})
	return k, err
}

// ActorForKey resolves a bearer token to its actor. Unknown, revoked and
// expired keys, and keys of cancelled accounts, all give EUNAUTHORIZED.
func (db *DB) ActorForKey(ctx context.Context, token string) (*account.Actor, error) {
	bad := marketplane.Errorf(marketplane.EUNAUTHORIZED, "the API key is not valid")
	i := strings.LastIndexByte(token, '_')
	if !strings.HasPrefix(token, keyTokenPrefix) || i <= len(keyTokenPrefix) {
		return nil, bad
	}
	prefix, secret := token[:i], token[i+1:]
	var a account.Actor
	var hash, status string
	var lastUsed, expires, revoked time.Time
	var roleID int64
	err := db.Read.QueryRowContext(ctx, `SELECT k.id, k.account_id, a.path, a.status, k.role_id, k.secret_hash, k.last_used_at, k.expires_at, k.revoked_at
		FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.prefix = $1`, prefix).
		Scan(&a.KeyID, &a.AccountID, &a.AccountPath, &status, &roleID, &hash, ts(&lastUsed), ts(&expires), ts(&revoked))
	if err == sql.ErrNoRows {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("API key: %w", err)
	}
	now := db.Clock.Now()
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) != 1 ||
		!revoked.IsZero() || (!expires.IsZero() && !now.Before(expires)) || status == string(account.StatusCancelled) {
		return nil, bad
	}
	a.Grants, err = db.grantsOf(ctx, `SELECT grants FROM roles WHERE id = $1`, roleID)
	if err != nil {
		return nil, err
	}
	if now.Sub(lastUsed) >= lastUsedEvery {
		// Best effort: a failed bookkeeping write must not fail the request.
		db.Write.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, tv(now), a.KeyID)
	}
	return &a, nil
}
