package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane/store"
)

// APIKey is a machine credential of one account acting with one role. Its
// secret is never shown after creation.
type APIKey struct {
	ID              int64      `json:"id"`
	AccountID       int64      `json:"account_id"`
	RoleID          int64      `json:"role_id"`
	Name            string     `json:"name"`
	Prefix          string     `json:"prefix" doc:"The public start of the key, to recognize it." example:"mpk_3fz7a2kq"`
	CreatedByUserID int64      `json:"created_by_user_id,omitempty" doc:"Absent when made by another key or by the system."`
	CreatedAt       time.Time  `json:"created_at"`
	LastUsedAt      *time.Time `json:"last_used_at,omitempty" doc:"Updated at most once a minute."`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	RevokedAt       *time.Time `json:"revoked_at,omitempty"`
}

// NewAPIKey is a key just made, with the token that authenticates it: the
// only time the token is shown.
type NewAPIKey struct {
	APIKey
	Token string `json:"token" doc:"Send as \"Authorization: Bearer <token>\". Shown once: store it now."`
}

func apiKeyView(k *store.APIKey) APIKey {
	return APIKey{ID: k.ID, AccountID: k.AccountID, RoleID: k.RoleID, Name: k.Name, Prefix: k.Prefix,
		CreatedByUserID: k.CreatedBy, CreatedAt: k.CreatedAt, LastUsedAt: optTime(k.LastUsedAt),
		ExpiresAt: optTime(k.ExpiresAt), RevokedAt: optTime(k.RevokedAt)}
}

type apiKeyIDPath struct {
	ID int64 `path:"id" doc:"API key id."`
}

type apiKeyOutput struct {
	Body APIKey
}

type apiKeyCreated struct {
	Location string `header:"Location"`
	// The response holds a secret: no cache may keep it.
	CacheControl string `header:"Cache-Control"`
	Body         NewAPIKey
}

type apiKeyList struct {
	Body Page[APIKey]
}

type createAPIKeyInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body struct {
		Name      string     `json:"name" maxLength:"100"`
		RoleID    int64      `json:"role_id" doc:"The role the key acts with; it may grant no more than the caller holds."`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"Default: never."`
	}
}

func (a *API) apiKeyRoutes() {
	const tag = "API keys"
	register(a, op{id: "list-api-keys", method: http.MethodGet, path: "/accounts/{id}/api-keys", tag: tag,
		summary: "List the API keys of an account"}, a.listAPIKeys)
	register(a, op{id: "create-api-key", method: http.MethodPost, path: "/accounts/{id}/api-keys", tag: tag,
		summary: "Create an API key", description: "The response holds the key's token, which is never shown again.",
		status: http.StatusCreated}, a.createAPIKey)
	register(a, op{id: "get-api-key", method: http.MethodGet, path: "/api-keys/{id}", tag: tag,
		summary: "Get an API key"}, a.getAPIKey)
	register(a, op{id: "revoke-api-key", method: http.MethodPost, path: "/api-keys/{id}/revoke", tag: tag,
		summary: "Revoke an API key", description: "Takes effect at once; revoking twice is harmless."}, a.revokeAPIKey)
}

func (a *API) listAPIKeys(ctx context.Context, in *accountListInput) (*apiKeyList, error) {
	rows, err := a.db.APIKeys(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorAPIKeys, rows, func(k *store.APIKey) string { return idKey(k.ID) }, apiKeyView)
	if err != nil {
		return nil, err
	}
	return &apiKeyList{Body: page}, nil
}

func (a *API) createAPIKey(ctx context.Context, in *createAPIKeyInput) (*apiKeyCreated, error) {
	var expires time.Time
	if in.Body.ExpiresAt != nil {
		expires = in.Body.ExpiresAt.UTC()
	}
	k, token, err := a.db.CreateAPIKey(ctx, actorFrom(ctx), in.ID, in.Body.RoleID, in.Body.Name, expires)
	if err != nil {
		return nil, err
	}
	return &apiKeyCreated{Location: Prefix + "/api-keys/" + strconv.FormatInt(k.ID, 10), CacheControl: "no-store",
		Body: NewAPIKey{APIKey: apiKeyView(k), Token: token}}, nil
}

func (a *API) getAPIKey(ctx context.Context, in *apiKeyIDPath) (*apiKeyOutput, error) {
	k, err := a.db.APIKey(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &apiKeyOutput{Body: apiKeyView(k)}, nil
}

func (a *API) revokeAPIKey(ctx context.Context, in *apiKeyIDPath) (*apiKeyOutput, error) {
	k, err := a.db.RevokeAPIKey(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &apiKeyOutput{Body: apiKeyView(k)}, nil
}
