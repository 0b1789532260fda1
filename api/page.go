package api

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

// Page is one page of a list. NextCursor, when present, fetches the next
// page; it is absent on the last one.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

// PageParams are the query parameters of every paged list.
type PageParams struct {
	Cursor string `query:"cursor" doc:"Opaque cursor from next_cursor of the previous page."`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"500" doc:"Items per page."`
}

// storeMaxPage is the most rows a store list returns at once (its
// clampLimit). A page of that size cannot fetch one extra row to learn
// whether more follow; see paginate.
const storeMaxPage = 500

// fetchSize is how many rows to ask the store for: one more than the page,
// so that paginate knows whether there is a next page.
func (p PageParams) fetchSize() int { return min(p.Limit+1, storeMaxPage) }

// paginate cuts rows fetched with fetchSize down to the page and sets the
// next cursor from the last item kept. keyOf gives an item's cursor key.
func paginate[S, T any](p PageParams, kind string, rows []S, keyOf func(S) string, view func(S) T) Page[T] {
	more := len(rows) > p.Limit
	if p.fetchSize() == p.Limit && len(rows) == p.Limit {
		// Could not ask for an extra row: a full page may have a
		// successor; at worst the client gets one empty last page.
		more = true
	}
	return pageOf(rows, p.Limit, more, kind, keyOf, view)
}

// pageOf is the page of the first limit rows, with a cursor after its last
// item when more follow.
func pageOf[S, T any](rows []S, limit int, more bool, kind string, keyOf func(S) string, view func(S) T) Page[T] {
	if len(rows) > limit {
		rows = rows[:limit]
	}
	page := Page[T]{Items: make([]T, len(rows))}
	for i, r := range rows {
		page.Items[i] = view(r)
	}
	if more && len(rows) > 0 {
		page.NextCursor = encodeCursor(kind, keyOf(rows[len(rows)-1]))
	}
	return page
}

// Cursor kinds, so that a cursor of one list is refused by another.
const (
	cursorAccounts = "acct"
	cursorUsers    = "user"
	cursorAudit    = "audit"
	cursorTasks    = "task"
	// The lists paged by pageLoaded.
	cursorRoles           = "role"
	cursorAPIKeys         = "key"
	cursorPrivileges      = "priv"
	cursorResourceTypes   = "rtype"
	cursorTemplates       = "tpl"
	cursorPlanCategories  = "pcat"
	cursorSalesCategories = "scat"
	cursorConnectors      = "conn"
	cursorWebhooks        = "hook"
	// Readings of a subscription, paged by time and resource.
	cursorUsage = "usage"
	// The reports, whose rows are computed whole: at most a row per
	// buyer (aging), reseller (margins) or month (revenue).
	cursorAging   = "aging"
	cursorMargins = "margins"
	cursorRevenue = "revenue"
)

// encodeCursor makes an opaque cursor from the key of the last item of a
// page. Opaque means clients must not build or parse them: the key may
// change form between versions.
func encodeCursor(kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + key))
}

// decodeCursor returns the key of a cursor of the given kind; "" for no
// cursor.
func decodeCursor(kind, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", badParam("query.cursor", "is not a cursor of this list")
	}
	k, key, ok := strings.Cut(string(b), ":")
	// A cursor is ours only if it decodes to text a parameter may hold
	// (rejectBadParams checks the encoded form only).
	if !ok || k != kind || key == "" || paramProblem(key) != "" {
		return "", badParam("query.cursor", "is not a cursor of this list")
	}
	return key, nil
}

// decodeIDCursor returns the id a cursor holds; 0 for no cursor.
func decodeIDCursor(kind, cursor string) (int64, error) {
	key, err := decodeCursor(kind, cursor)
	if err != nil || key == "" {
		return 0, err
	}
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("query.cursor", "is not a cursor of this list")
	}
	return id, nil
}

func idKey(id int64) string { return strconv.FormatInt(id, 10) }

// pageLoaded pages a list the store returns whole: the small lists whose
// size an account bounds by hand (its roles, keys, categories, webhooks;
// the provider's resource types, templates and connectors). They read in
// one query, so paging them in memory costs nothing and gives clients the
// same cursor and limit as every other list. The cursor holds the key of
// the last item; the next page starts after that item wherever it now
// stands, and a cursor whose item has since been deleted is refused (the
// client starts over) rather than silently skipping or repeating items.
func pageLoaded[S, T any](p PageParams, kind string, rows []S, keyOf func(S) string, view func(S) T) (Page[T], error) {
	after, err := decodeCursor(kind, p.Cursor)
	if err != nil {
		return Page[T]{}, err
	}
	if after != "" {
		i := slices.IndexFunc(rows, func(r S) bool { return keyOf(r) == after })
		if i < 0 {
			return Page[T]{}, badParam("query.cursor", "points at an item that no longer exists: start again from the first page")
		}
		rows = rows[i+1:]
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	return pageOf(rows, limit, len(rows) > limit, kind, keyOf, view), nil
}
