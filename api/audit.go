package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/marketplane/marketplane/store"
)

// AuditEntry is one recorded change: who did what to which account, when.
type AuditEntry struct {
	ID             int64           `json:"id"`
	At             time.Time       `json:"at"`
	ActorUserID    int64           `json:"actor_user_id,omitempty" doc:"The user who made the change, if a user did."`
	ActorKeyID     int64           `json:"actor_key_id,omitempty" doc:"The API key that made the change, if a key did."`
	ActorAccountID int64           `json:"actor_account_id,omitempty" doc:"The account of that user or key; absent for changes made by the system."`
	AccountID      int64           `json:"account_id,omitempty" doc:"The account changed, or holding the thing changed."`
	Action         string          `json:"action" example:"account.update"`
	Entity         string          `json:"entity" example:"account"`
	EntityID       int64           `json:"entity_id"`
	Changes        json.RawMessage `json:"changes" doc:"What changed: per field, usually [old, new]." price:"opaque"`
}

func auditView(e store.AuditEntry) AuditEntry {
	return AuditEntry{ID: e.ID, At: e.At, ActorUserID: e.ActorUserID, ActorKeyID: e.ActorKeyID,
		ActorAccountID: e.ActorAccountID, AccountID: e.AccountID, Action: e.Action, Entity: e.Entity,
		EntityID: e.EntityID, Changes: e.Changes}
}

type auditLogInput struct {
	ID     int64  `path:"id" doc:"Account id."`
	Entity string `query:"entity" maxLength:"50" doc:"Only entries about this kind of thing: account, user, role, api_key …"`
	PageParams
}

type auditPage struct {
	Body Page[AuditEntry]
}

func (a *API) auditRoutes() {
	register(a, op{id: "list-audit-log", method: http.MethodGet, path: "/accounts/{id}/audit-log", tag: "Audit",
		summary: "List the audit log of an account and the accounts below it, newest first"}, a.listAuditLog)
}

func (a *API) listAuditLog(ctx context.Context, in *auditLogInput) (*auditPage, error) {
	after, err := decodeIDCursor(cursorAudit, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.AuditLog(ctx, actorFrom(ctx), store.AuditFilter{AccountID: in.ID, Entity: in.Entity,
		AfterID: after, Limit: in.fetchSize()})
	if err != nil {
		return nil, err
	}
	return &auditPage{Body: paginate(in.PageParams, cursorAudit, rows,
		func(e store.AuditEntry) string { return idKey(e.ID) }, auditView)}, nil
}
