package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/marketplane/marketplane/account"
)

// AuditEntry is one recorded change: who, on which account, when, what.
type AuditEntry struct {
	ID             int64
	At             time.Time
	ActorUserID    int64
	ActorKeyID     int64
	ActorAccountID int64
	AccountID      int64
	Action         string
	Entity         string
	EntityID       int64
	Changes        json.RawMessage
}

// audit records a change inside the transaction that makes it, so that a
// change and its audit entry are committed or lost together.
func (db *DB) audit(ctx context.Context, tx *sql.Tx, actor *account.Actor, acctID int64, acctPath, action, entity string, entityID int64, changes any) error {
	b, err := json.Marshal(changes)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if changes == nil {
		b = []byte("{}")
	}
	var userID, keyID, actorAcct any
	if actor != nil && !actor.System {
		userID, keyID, actorAcct = nullID(actor.UserID), nullID(actor.KeyID), nullID(actor.AccountID)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log
		(at, actor_user_id, actor_key_id, actor_account_id, account_id, account_path, action, entity, entity_id, changes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		tv(db.Clock.Now()), userID, keyID, actorAcct, nullID(acctID), acctPath, action, entity, entityID, string(b))
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	AccountID int64 // the account whose subtree's entries to list; 0 = the actor's own
	Entity    string
	AfterID   int64 // cursor: entries with a smaller id (newest first)
	Limit     int
}

// AuditLog lists audit entries of an account and its subtree, newest first.
func (db *DB) AuditLog(ctx context.Context, actor *account.Actor, f AuditFilter) ([]AuditEntry, error) {
	acctID := f.AccountID
	if acctID == 0 {
		acctID = actor.AccountID
	}
	t, err := db.authorize(ctx, db.Read, actor, account.ViewAuditLog, acctID)
	if err != nil {
		return nil, err
	}
	limit := clampLimit(f.Limit)
	// Optional conditions are added only when set: a catch-all such as
	// "($3 = '' OR entity = $3)" makes PostgreSQL's cached generic plan
	// read the whole range instead of the first page.
	q := `SELECT id, at, COALESCE(actor_user_id, 0), COALESCE(actor_key_id, 0), COALESCE(actor_account_id, 0),
		COALESCE(account_id, 0), action, entity, entity_id, changes
		FROM audit_log WHERE account_path >= $1 AND account_path < $2`
	args := []any{t.Path, account.SubtreeEnd(t.Path)}
	if f.Entity != "" {
		args = append(args, f.Entity)
		q += fmt.Sprintf(" AND entity = $%d", len(args))
	}
	if f.AfterID != 0 {
		args = append(args, f.AfterID)
		q += fmt.Sprintf(" AND id < $%d", len(args))
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var changes string
		if err := rows.Scan(&e.ID, ts(&e.At), &e.ActorUserID, &e.ActorKeyID, &e.ActorAccountID,
			&e.AccountID, &e.Action, &e.Entity, &e.EntityID, &changes); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.Changes = json.RawMessage(changes)
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// clampLimit bounds page sizes: 50 by default, 500 at most.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}
