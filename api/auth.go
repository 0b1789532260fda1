package api

import (
	"context"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/accesslog"
	"github.com/marketplane/marketplane/account"
)

type actorKey struct{}

// actorFrom returns the actor the request was authenticated as. Every
// operation is authenticated before its handler runs, so handlers never see
// nil.
func actorFrom(ctx context.Context) *account.Actor {
	a, _ := ctx.Value(actorKey{}).(*account.Actor)
	return a
}

// authenticateRequest is the huma middleware that resolves the actor:
// "Authorization: Bearer <API key>" first; without that header, the
// configured Authenticate (the panel's session). No credentials, bad
// credentials and disabled actors all get 401.
func (a *API) authenticateRequest(ctx huma.Context, next func(huma.Context)) {
	if len(ctx.Operation().Security) == 0 {
		next(ctx)
		return
	}
	actor, err := a.resolveActor(ctx)
	if err == nil && (actor == nil || actor.Disabled || actor.System) {
		// Transports never act as the system; a System actor here would be
		// a bug in Authenticate, and is refused like no credentials.
		err = marketplane.Errorf(marketplane.EUNAUTHORIZED, "authentication required: send an API key as \"Authorization: Bearer <key>\"")
	}
	if err != nil {
		if marketplane.ErrorCode(err) == marketplane.EUNAUTHORIZED {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="marketplane"`)
		}
		writeProblemTo(ctx, a.problemOf(ctx.Context(), ctx.Operation().OperationID, err))
		return
	}
	if actor.KeyID != 0 {
		accesslog.SetPrincipal(ctx.Context(), "key", actor.KeyID)
	} else {
		accesslog.SetPrincipal(ctx.Context(), "user", actor.UserID)
	}
	next(huma.WithValue(ctx, actorKey{}, actor))
}

func (a *API) resolveActor(ctx huma.Context) (*account.Actor, error) {
	if h := ctx.Header("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return nil, marketplane.Errorf(marketplane.EUNAUTHORIZED, "the Authorization header must be \"Bearer <API key>\"")
		}
		return a.db.ActorForKey(ctx.Context(), strings.TrimSpace(token))
	}
	if a.authenticate == nil {
		return nil, nil
	}
	r, _ := humago.Unwrap(ctx)
	// A session cookie rides along on requests other sites make the
	// browser send; an API key in a header cannot.
	if err := a.csrf.Check(r); err != nil {
		return nil, marketplane.Errorf(marketplane.EFORBIDDEN, "cross-origin request refused")
	}
	return a.authenticate(r)
}
