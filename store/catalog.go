package store

// The catalog: resource types and service templates (the provider's) here;
// plan and sales categories (every seller's) in catalog_categories.go; the
// delegation terms a parent sets on a child reseller in catalog_terms.go;
// plans and their delegated copies in catalog_plans.go (categories copies
// adopt in catalog_adopt.go); sync runs, change logs and the bulk save of
// synced copies in catalog_sync.go; the engines' differences in
// catalog_dialect.go.
//
// Every object is stored as the JSON of its catalog type (the json tags:
// money as integer millionths) in a body column, beside a few columns copied
// out of it for queries. Where both hold a field, the column wins. Types of
// the catalog package that have no version or timestamps are handed out
// with a Meta.
//
// Who may do what:
//   - resource types and templates belong to the provider. Anyone signed in
//     may read them, because resellers must see what their plans are made
//     of; only users of the provider with the catalog privilege at "manage"
//     change them.
//   - categories, plans and delegation terms belong to a seller account (the
//     provider or a reseller). Reading needs catalog "view" on that account
//     through account.Authorize, so a parent with reach sees its children's
//     catalogs and a sibling sees nothing (ENOTFOUND); changing needs
//     catalog "manage". Customers hold no catalog.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
)

// Meta is what the store keeps beside a catalog object whose catalog type
// has no fields for it: the version that grows with every change (optimistic
// updates, ETags) and when it was made and last changed.
type Meta struct {
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ResourceType is a stored resource type.
type ResourceType struct {
	catalog.ResourceType
	Meta
}

// Template is a stored service template.
type Template struct {
	catalog.Template
	Meta
}

// PlanCategory is a stored plan category of one seller.
type PlanCategory struct {
	catalog.PlanCategory
	Meta
}

// SalesCategory is a stored sales category of one seller.
type SalesCategory struct {
	catalog.SalesCategory
	Meta
}

// stamp is the time of a change as both engines store it (UTC,
// microseconds), so that what a write hands back equals what a read returns.
func (db *DB) stamp() time.Time { return db.Clock.Now().UTC().Truncate(time.Microsecond) }

// seller is the account a catalog object belongs to, as the checks need it.
type seller struct {
	account.Target
	ParentID int64
	Kind     account.Kind
	Currency string
	Status   account.Status
}

// sellerFor loads account id and asks account.Authorize whether actor may do
// act on its catalog. A missing account and one out of reach give the same
// ENOTFOUND. Writes (act at manage) are refused on customers, which hold no
// catalog.
func (db *DB) sellerFor(ctx context.Context, q querier, actor *account.Actor, act account.Action, id int64) (*seller, error) {
	s, err := loadSeller(ctx, q, actor, id)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, act, s.Target); err != nil {
		return nil, err
	}
	if act.Level >= account.Manage && s.Kind == account.Customer {
		return nil, marketplane.Errorf(marketplane.ECONFLICT, "account %d is a customer; customers buy and hold no catalog", id)
	}
	return s, nil
}

// loadSeller loads account id without authorizing anything; a missing
// account is ENOTFOUND worded as for one out of reach.
func loadSeller(ctx context.Context, q querier, actor *account.Actor, id int64) (*seller, error) {
	s := &seller{Target: account.Target{AccountID: id}}
	err := q.QueryRowContext(ctx, `SELECT path, COALESCE(parent_id, 0), kind, currency, status FROM accounts WHERE id = $1`, id).
		Scan(&s.Path, &s.ParentID, &s.Kind, &s.Currency, &s.Status)
	if errors.Is(err, sql.ErrNoRows) {
		if actor != nil && actor.System {
			return nil, marketplane.Errorf(marketplane.ENOTFOUND, "account %d not found", id)
		}
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "account not found")
	}
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	return s, nil
}

// providerTarget is the provider account, owner of resource types and
// templates.
func providerTarget(ctx context.Context, q querier) (account.Target, error) {
	var t account.Target
	err := q.QueryRowContext(ctx, `SELECT id, path FROM accounts WHERE kind = 'provider'`).Scan(&t.AccountID, &t.Path)
	if err != nil {
		return t, notFound(err, "provider")
	}
	return t, nil
}

// providerCatalog authorizes a change of the provider's catalog (resource
// types, templates): only the provider's own users with catalog "manage".
// Others see these objects, so they get EFORBIDDEN, not ENOTFOUND.
func (db *DB) providerCatalog(ctx context.Context, q querier, actor *account.Actor, what string) (account.Target, error) {
	t, err := providerTarget(ctx, q)
	if err != nil {
		return t, err
	}
	if actor != nil && !actor.Disabled && !actor.System && actor.AccountPath != t.Path {
		return t, marketplane.Errorf(marketplane.EFORBIDDEN, "only the provider changes %s", what)
	}
	return t, account.Authorize(actor, account.ManageCatalog, t)
}

// signedIn is the check on reads open to everyone: resource types and
// templates.
func signedIn(actor *account.Actor) error {
	if actor == nil || actor.Disabled {
		return marketplane.Errorf(marketplane.EUNAUTHORIZED, "not signed in")
	}
	return nil
}

// invalid merges field errors: those already in f and those of errs that
// are EINVALID. Any other error is returned as it is.
func invalid(what string, f marketplane.FieldErrors, errs ...error) error {
	for _, err := range errs {
		if err == nil {
			continue
		}
		var e *marketplane.Error
		if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
			return err
		}
		if len(e.Fields) == 0 {
			return err
		}
		for k, v := range e.Fields {
			f.Add(k, v)
		}
	}
	return f.Err(what)
}

// catalogFieldErr is an EINVALID error about one field.
func catalogFieldErr(what, field, msg string) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid " + what, Fields: map[string]string{field: msg}}
}

// keyTaken is the ECONFLICT of a key used twice within one owner.
func keyTaken(what, key string) error {
	return &marketplane.Error{Code: marketplane.ECONFLICT, Message: fmt.Sprintf("a %s with key %q exists already", what, key),
		Fields: map[string]string{"key": "is taken"}}
}

// staleVersion is the EPRECONDITION of an update based on an old read.
func staleVersion(what string, current, given int64) error {
	return marketplane.Errorf(marketplane.EPRECONDITION, "the %s was changed by someone else (version %d, not %d); read it again", what, current, given)
}

// bodyOf is the JSON stored in a body column.
func bodyOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode catalog body: %w", err)
	}
	return string(b), nil
}

// jsonChanges lists, for the audit log, the top-level JSON fields that differ
// between old and new as [old, new] pairs; old nil lists every field of new.
// JSON is compared after a round trip through Go values, so key order and
// spacing do not count.
func jsonChanges(old, new any) map[string]any {
	fields := func(v any) map[string]any {
		m := map[string]any{}
		if v == nil {
			return m
		}
		b, _ := json.Marshal(v)
		json.Unmarshal(b, &m)
		return m
	}
	o, n := fields(old), fields(new)
	ch := map[string]any{}
	for k, nv := range n {
		ov, ok := o[k]
		if !ok || !jsonEqual(ov, nv) {
			ch[k] = []any{ov, nv}
		}
	}
	for k, ov := range o {
		if _, ok := n[k]; !ok {
			ch[k] = []any{ov, nil}
		}
	}
	return ch
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// ----- resource types -----

func scanResourceType(r scanner) (*ResourceType, error) {
	rt := &ResourceType{}
	var body string
	if err := r.Scan(&rt.ID, &body, &rt.Version, ts(&rt.CreatedAt), ts(&rt.UpdatedAt)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &rt.ResourceType); err != nil {
		return nil, fmt.Errorf("resource type %d: %w", rt.ID, err)
	}
	return rt, nil
}

const resourceTypeColumns = `id, body, version, created_at, updated_at`

// CreateResourceType adds a resource type to the provider's catalog. Only
// the provider's catalog managers may (EFORBIDDEN for others). Errors:
// EINVALID (fields), ECONFLICT (the key exists). Fills rt.ID and rt.Meta.
func (db *DB) CreateResourceType(ctx context.Context, actor *account.Actor, rt *ResourceType) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.providerCatalog(ctx, tx, actor, "resource types")
		if err != nil {
			return err
		}
		return db.createResourceType(ctx, tx, actor, t, rt)
	})
}

// UpdateResourceType replaces the resource type with key rt.Key. rt.Version
// must be the version read (EPRECONDITION otherwise). Errors: ENOTFOUND,
// EFORBIDDEN, EINVALID.
func (db *DB) UpdateResourceType(ctx context.Context, actor *account.Actor, rt *ResourceType) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.providerCatalog(ctx, tx, actor, "resource types")
		if err != nil {
			return err
		}
		return db.updateResourceType(ctx, tx, actor, t, rt)
	})
}

// createResourceType adds rt to the catalog of provider t.
func (db *DB) createResourceType(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, rt *ResourceType) error {
	if err := rt.ResourceType.Validate(); err != nil {
		return err
	}
	body, err := bodyOf(rt.ResourceType)
	if err != nil {
		return err
	}
	now := db.stamp()
	err = tx.QueryRowContext(ctx, `INSERT INTO resource_types (owner_id, key, class, body, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id`, t.AccountID, rt.Key, string(rt.Class), body, tv(now)).Scan(&rt.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("resource type", rt.Key)
		}
		return fmt.Errorf("create resource type: %w", err)
	}
	rt.Meta = Meta{Version: 1, CreatedAt: now, UpdatedAt: now}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "resource_type.create", "resource_type", rt.ID,
		jsonChanges(nil, rt.ResourceType))
}

// updateResourceType replaces the resource type rt.Key of provider t;
// rt.Version must be the version read.
func (db *DB) updateResourceType(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, rt *ResourceType) error {
	old, err := scanResourceType(tx.QueryRowContext(ctx, `SELECT `+resourceTypeColumns+` FROM resource_types
		WHERE owner_id = $1 AND key = $2`, t.AccountID, rt.Key))
	if err != nil {
		return notFound(err, "resource type")
	}
	if err := rt.ResourceType.Validate(); err != nil {
		return err
	}
	if rt.Version != old.Version {
		return staleVersion("resource type", old.Version, rt.Version)
	}
	body, err := bodyOf(rt.ResourceType)
	if err != nil {
		return err
	}
	rt.ID, rt.CreatedAt, rt.UpdatedAt, rt.Version = old.ID, old.CreatedAt, db.stamp(), old.Version+1
	res, err := tx.ExecContext(ctx, `UPDATE resource_types SET class = $1, body = $2, version = $3, updated_at = $4
		WHERE id = $5 AND version = $6`, string(rt.Class), body, rt.Version, tv(rt.UpdatedAt), rt.ID, old.Version)
	if err != nil {
		return fmt.Errorf("update resource type %s: %w", rt.Key, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("resource type", old.Version+1, old.Version)
	}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "resource_type.update", "resource_type", rt.ID,
		jsonChanges(old.ResourceType, rt.ResourceType))
}

// ResourceTypes lists the provider's resource types by key. Anyone signed in
// may read them.
func (db *DB) ResourceTypes(ctx context.Context, actor *account.Actor) ([]*ResourceType, error) {
	if err := signedIn(actor); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, db.Read, scanResourceType, `SELECT `+resourceTypeColumns+` FROM resource_types
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("resource types: %w", err)
	}
	return out, nil
}

// ResourceType returns the provider's resource type with the given key.
// Anyone signed in may read it.
func (db *DB) ResourceType(ctx context.Context, actor *account.Actor, key string) (*ResourceType, error) {
	if err := signedIn(actor); err != nil {
		return nil, err
	}
	rt, err := scanResourceType(db.Read.QueryRowContext(ctx, `SELECT `+resourceTypeColumns+` FROM resource_types
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') AND key = $1`, key))
	if err != nil {
		return nil, notFound(err, "resource type")
	}
	return rt, nil
}

// resourceClasses returns the classes of those of keys that are resource
// types of the provider.
func (db *DB) resourceClasses(ctx context.Context, q querier, keys []string) (map[string]catalog.Class, error) {
	out := map[string]catalog.Class{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT key, class FROM resource_types
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') AND `+db.anyText("key", 1), db.textsArg(uniqueStrings(keys)))
	if err != nil {
		return nil, fmt.Errorf("resource types: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var c catalog.Class
		if err := rows.Scan(&k, &c); err != nil {
			return nil, fmt.Errorf("resource types: %w", err)
		}
		out[k] = c
	}
	return out, rows.Err()
}

// templateKeys returns those of keys that are templates of the provider.
func (db *DB) templateKeys(ctx context.Context, q querier, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT key FROM templates
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') AND `+db.anyText("key", 1), db.textsArg(uniqueStrings(keys)))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

func uniqueStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// ----- templates -----

const templateColumns = `id, body, version, created_at, updated_at`

func scanTemplate(r scanner) (*Template, error) {
	t := &Template{}
	var body string
	if err := r.Scan(&t.ID, &body, &t.Version, ts(&t.CreatedAt), ts(&t.UpdatedAt)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &t.Template); err != nil {
		return nil, fmt.Errorf("template %d: %w", t.ID, err)
	}
	return t, nil
}

// validateTemplate checks t with the resource types it names.
func (db *DB) validateTemplate(ctx context.Context, q querier, t *catalog.Template) error {
	keys := make([]string, len(t.Resources))
	for i, r := range t.Resources {
		keys[i] = r.Resource
	}
	known, err := db.resourceClasses(ctx, q, keys)
	if err != nil {
		return err
	}
	if t.Resources == nil {
		t.Resources = []catalog.TemplateResource{}
	}
	return t.Validate(func(k string) bool { _, ok := known[k]; return ok })
}

// CreateTemplate adds a service template to the provider's catalog. Only
// the provider's catalog managers may. Errors: EINVALID (fields, unknown
// resource types), ECONFLICT (the key exists).
func (db *DB) CreateTemplate(ctx context.Context, actor *account.Actor, t *Template) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		p, err := db.providerCatalog(ctx, tx, actor, "service templates")
		if err != nil {
			return err
		}
		return db.createTemplate(ctx, tx, actor, p, t)
	})
}

// UpdateTemplate replaces the template with key t.Key. t.Version must be the
// version read. Errors: ENOTFOUND, EFORBIDDEN, EINVALID, EPRECONDITION.
func (db *DB) UpdateTemplate(ctx context.Context, actor *account.Actor, t *Template) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		p, err := db.providerCatalog(ctx, tx, actor, "service templates")
		if err != nil {
			return err
		}
		return db.updateTemplate(ctx, tx, actor, p, t)
	})
}

// createTemplate adds tpl to the catalog of provider t.
func (db *DB) createTemplate(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, tpl *Template) error {
	if err := db.validateTemplate(ctx, tx, &tpl.Template); err != nil {
		return err
	}
	body, err := bodyOf(tpl.Template)
	if err != nil {
		return err
	}
	now := db.stamp()
	err = tx.QueryRowContext(ctx, `INSERT INTO templates (owner_id, key, body, version, created_at, updated_at)
		VALUES ($1, $2, $3, 1, $4, $4) RETURNING id`, t.AccountID, tpl.Key, body, tv(now)).Scan(&tpl.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("service template", tpl.Key)
		}
		return fmt.Errorf("create template: %w", err)
	}
	tpl.Meta = Meta{Version: 1, CreatedAt: now, UpdatedAt: now}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "template.create", "template", tpl.ID, jsonChanges(nil, tpl.Template))
}

// updateTemplate replaces the template tpl.Key of provider t; tpl.Version
// must be the version read.
func (db *DB) updateTemplate(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, tpl *Template) error {
	old, err := scanTemplate(tx.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates
		WHERE owner_id = $1 AND key = $2`, t.AccountID, tpl.Key))
	if err != nil {
		return notFound(err, "service template")
	}
	if err := db.validateTemplate(ctx, tx, &tpl.Template); err != nil {
		return err
	}
	if tpl.Version != old.Version {
		return staleVersion("service template", old.Version, tpl.Version)
	}
	body, err := bodyOf(tpl.Template)
	if err != nil {
		return err
	}
	tpl.ID, tpl.CreatedAt, tpl.UpdatedAt, tpl.Version = old.ID, old.CreatedAt, db.stamp(), old.Version+1
	res, err := tx.ExecContext(ctx, `UPDATE templates SET body = $1, version = $2, updated_at = $3 WHERE id = $4 AND version = $5`,
		body, tpl.Version, tv(tpl.UpdatedAt), tpl.ID, old.Version)
	if err != nil {
		return fmt.Errorf("update template %s: %w", tpl.Key, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("service template", old.Version+1, old.Version)
	}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "template.update", "template", tpl.ID, jsonChanges(old.Template, tpl.Template))
}

// Templates lists the provider's service templates by key. Anyone signed in
// may read them.
func (db *DB) Templates(ctx context.Context, actor *account.Actor) ([]*Template, error) {
	if err := signedIn(actor); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, db.Read, scanTemplate, `SELECT `+templateColumns+` FROM templates
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return out, nil
}

// Template returns the provider's service template with the given key.
// Anyone signed in may read it.
func (db *DB) Template(ctx context.Context, actor *account.Actor, key string) (*Template, error) {
	if err := signedIn(actor); err != nil {
		return nil, err
	}
	t, err := scanTemplate(db.Read.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') AND key = $1`, key))
	if err != nil {
		return nil, notFound(err, "service template")
	}
	return t, nil
}
