package store

// Connectors: the HTTP services that provision the provider's services,
// registered by URL and secret (the flow that talks to them is
// provisioning.Register; here is what it stores).
//
// Who may do what: connectors belong to the provider, like the resource
// types and templates made from their manifests. Only the provider's own
// users see them (catalog "view") and register or change them (catalog
// "manage"); everyone else gets EFORBIDDEN, before any lookup, so that the
// answer says nothing about which connectors exist.
//
// The secret is stored as given (see the migration): it signs every request
// to the connector. Reads never return it; ConnectorSecret does, for system
// code only, and no transport may call it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
)

// Connector statuses: the outcome of the last check of the connection.
const (
	// ConnectorRegistered: the last registration or refresh passed the
	// two-way check.
	ConnectorRegistered = "registered"
	// ConnectorUnreachable: the last refresh could not reach it.
	ConnectorUnreachable = "unreachable"
	// ConnectorRefused: the last refresh reached it but the check failed
	// (signature refused, no callback, a manifest that does not fit).
	ConnectorRefused = "refused"
)

// Connector is a registered connector.
type Connector struct {
	ID      int64
	OwnerID int64
	// Name is the manifest's name: the key of the connector's service
	// template and the prefix of its resource types' keys.
	Name string
	// URL is the connector's base URL.
	URL string
	// Secret signs requests to the connector and its callbacks. Writes
	// take it; reads leave it empty (see ConnectorSecret).
	Secret string
	// Manifest is what the connector last said of itself; its Version is
	// copied to a column.
	Manifest connector.Manifest
	// Status is one of the Connector* statuses; StatusMessage says why
	// when it is not registered.
	Status        string
	StatusMessage string
	LastCheckedAt time.Time
	Meta
}

// validate checks what the store relies on. The manifest itself was
// validated by whoever read it from the connector.
func (c *Connector) validate(create bool) error {
	var f marketplane.FieldErrors
	if !catalog.ValidKey(c.Name) {
		f.Add("name", "must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		f.Add("url", "must be an absolute http or https URL")
	}
	if create && c.Secret == "" {
		f.Add("secret", "is required")
	}
	if c.Manifest.Name != c.Name {
		f.Add("manifest.name", fmt.Sprintf("must be the connector's name %q", c.Name))
	}
	switch c.Status {
	case ConnectorRegistered, ConnectorUnreachable, ConnectorRefused:
	default:
		f.Add("status", "must be registered, unreachable or refused")
	}
	return f.Err("connector")
}

const connectorColumns = `id, owner_id, name, url, manifest, status, status_message, last_checked_at, version, created_at, updated_at`

func scanConnector(r scanner) (*Connector, error) {
	c := &Connector{}
	var manifest string
	err := r.Scan(&c.ID, &c.OwnerID, &c.Name, &c.URL, &manifest, &c.Status, &c.StatusMessage, ts(&c.LastCheckedAt),
		&c.Version, ts(&c.CreatedAt), ts(&c.UpdatedAt))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(manifest), &c.Manifest); err != nil {
		return nil, fmt.Errorf("connector %s: manifest: %w", c.Name, err)
	}
	return c, nil
}

// connectorAudit is what the audit log records of a connector: never the
// secret, only whether it changed.
func connectorAudit(c *Connector) map[string]any {
	return map[string]any{"name": c.Name, "url": c.URL, "manifest_version": c.Manifest.Version}
}

// connectorsFor authorizes act on the provider's connectors: the
// provider's own users with the catalog privilege at act's level, or the
// system. Everyone else gets EFORBIDDEN, whatever the connector.
func (db *DB) connectorsFor(ctx context.Context, q querier, actor *account.Actor, act account.Action) (account.Target, error) {
	t, err := providerTarget(ctx, q)
	if err != nil {
		return t, err
	}
	if actor != nil && !actor.Disabled && !actor.System && actor.AccountPath != t.Path {
		return t, marketplane.Errorf(marketplane.EFORBIDDEN, "connectors are the provider's: only its users see and register them")
	}
	return t, account.Authorize(actor, act, t)
}

// MayManageConnectors reports (nil or EFORBIDDEN, EUNAUTHORIZED) whether
// actor may register and change connectors. Registration asks before it
// calls a URL, so that nobody else can make the platform call out.
func (db *DB) MayManageConnectors(ctx context.Context, actor *account.Actor) error {
	_, err := db.connectorsFor(ctx, db.Read, actor, account.ManageCatalog)
	return err
}

// Connectors lists the connectors by name. Errors: EFORBIDDEN.
func (db *DB) Connectors(ctx context.Context, actor *account.Actor) ([]*Connector, error) {
	if _, err := db.connectorsFor(ctx, db.Read, actor, account.ViewCatalog); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, db.Read, scanConnector, `SELECT `+connectorColumns+` FROM connectors ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("connectors: %w", err)
	}
	if out == nil {
		out = []*Connector{}
	}
	return out, nil
}

// Connector returns the connector with the given name, without its
// secret. Errors: EFORBIDDEN, ENOTFOUND.
func (db *DB) Connector(ctx context.Context, actor *account.Actor, name string) (*Connector, error) {
	if _, err := db.connectorsFor(ctx, db.Read, actor, account.ViewCatalog); err != nil {
		return nil, err
	}
	c, err := loadConnector(ctx, db.Read, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "connector not found")
	}
	return c, nil
}

// loadConnector reads connector name; nil when there is none.
func loadConnector(ctx context.Context, q querier, name string) (*Connector, error) {
	c, err := scanConnector(q.QueryRowContext(ctx, `SELECT `+connectorColumns+` FROM connectors WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	return c, nil
}

// ConnectorSecret returns the secret of connector name, for the system's
// own calls to it (provisioning tasks). It takes no actor: no transport may
// call it, and nothing it returns may reach a response or a log.
// Errors: ENOTFOUND.
func (db *DB) ConnectorSecret(ctx context.Context, name string) (string, error) {
	var s string
	err := db.Read.QueryRowContext(ctx, `SELECT secret FROM connectors WHERE name = $1`, name).Scan(&s)
	if err != nil {
		return "", notFound(err, "connector "+name)
	}
	return s, nil
}

// CreateConnector stores a new connector of the provider. c.Status
// defaults to registered. Errors: EFORBIDDEN, EINVALID, ECONFLICT (the
// name is taken). Fills c.ID, c.OwnerID and c.Meta.
func (db *DB) CreateConnector(ctx context.Context, actor *account.Actor, c *Connector) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.connectorsFor(ctx, tx, actor, account.ManageCatalog)
		if err != nil {
			return err
		}
		return db.createConnector(ctx, tx, actor, t, c)
	})
}

// UpdateConnector replaces the URL, manifest and status of connector
// c.Name, and its secret when c.Secret is set (empty keeps it). c.Version
// must be the version read. Errors: EFORBIDDEN, ENOTFOUND, EINVALID,
// EPRECONDITION.
func (db *DB) UpdateConnector(ctx context.Context, actor *account.Actor, c *Connector) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.connectorsFor(ctx, tx, actor, account.ManageCatalog)
		if err != nil {
			return err
		}
		old, err := loadConnector(ctx, tx, c.Name)
		if err != nil {
			return err
		}
		if old == nil {
			return marketplane.Errorf(marketplane.ENOTFOUND, "connector not found")
		}
		if c.Version != old.Version {
			return staleVersion("connector", old.Version, c.Version)
		}
		return db.updateConnector(ctx, tx, actor, t, old, c)
	})
}

// SetConnectorStatus records the outcome of a check of connector name
// (status and why) without changing its version: it is the connector's
// health, not its configuration. Errors: EFORBIDDEN, ENOTFOUND, EINVALID.
func (db *DB) SetConnectorStatus(ctx context.Context, actor *account.Actor, name, status, message string) error {
	switch status {
	case ConnectorRegistered, ConnectorUnreachable, ConnectorRefused:
	default:
		return catalogFieldErr("connector status", "status", "must be registered, unreachable or refused")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.connectorsFor(ctx, tx, actor, account.ManageCatalog); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE connectors SET status = $1, status_message = $2, last_checked_at = $3 WHERE name = $4`,
			status, message, tv(db.stamp()), name)
		if err != nil {
			return fmt.Errorf("connector %s status: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return marketplane.Errorf(marketplane.ENOTFOUND, "connector not found")
		}
		return nil
	})
}

// createConnector inserts c for provider t.
func (db *DB) createConnector(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, c *Connector) error {
	if c.Status == "" {
		c.Status = ConnectorRegistered
	}
	if err := c.validate(true); err != nil {
		return err
	}
	manifest, err := json.Marshal(c.Manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	now := db.stamp()
	c.LastCheckedAt = c.LastCheckedAt.UTC().Truncate(time.Microsecond)
	err = tx.QueryRowContext(ctx, `INSERT INTO connectors (owner_id, name, url, secret, manifest, manifest_version,
		status, status_message, last_checked_at, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) RETURNING id`,
		t.AccountID, c.Name, c.URL, c.Secret, string(manifest), c.Manifest.Version, c.Status, c.StatusMessage,
		tv(c.LastCheckedAt), tv(now)).Scan(&c.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return &marketplane.Error{Code: marketplane.ECONFLICT, Message: fmt.Sprintf("a connector named %q is registered already", c.Name),
				Fields: map[string]string{"name": "is taken"}}
		}
		return fmt.Errorf("create connector: %w", err)
	}
	c.OwnerID, c.Meta = t.AccountID, Meta{Version: 1, CreatedAt: now, UpdatedAt: now}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "connector.create", "connector", c.ID, connectorAudit(c))
}

// updateConnector writes c over old (same name), bumping the version; an
// empty c.Secret keeps the stored one.
func (db *DB) updateConnector(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, old, c *Connector) error {
	if err := c.validate(false); err != nil {
		return err
	}
	manifest, err := json.Marshal(c.Manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	secretChanged := false
	if c.Secret != "" {
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT secret FROM connectors WHERE id = $1`, old.ID).Scan(&stored); err != nil {
			return fmt.Errorf("connector %s: %w", c.Name, err)
		}
		secretChanged = stored != c.Secret
	}
	c.ID, c.OwnerID, c.CreatedAt, c.UpdatedAt, c.Version = old.ID, old.OwnerID, old.CreatedAt, db.stamp(), old.Version+1
	c.LastCheckedAt = c.LastCheckedAt.UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, `UPDATE connectors SET url = $1, secret = CASE WHEN $2 = '' THEN secret ELSE $2 END,
		manifest = $3, manifest_version = $4, status = $5, status_message = $6, last_checked_at = $7, version = $8, updated_at = $9
		WHERE id = $10 AND version = $11`,
		c.URL, c.Secret, string(manifest), c.Manifest.Version, c.Status, c.StatusMessage, tv(c.LastCheckedAt),
		c.Version, tv(c.UpdatedAt), c.ID, old.Version)
	if err != nil {
		return fmt.Errorf("update connector %s: %w", c.Name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("connector", old.Version+1, old.Version)
	}
	changes := jsonChanges(connectorAudit(old), connectorAudit(c))
	if secretChanged {
		changes["secret"] = "changed"
	}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "connector.update", "connector", c.ID, changes)
}

// ----- registration -----

// ConnectorCatalog is the part of the provider's catalog that belongs to a
// connector: its service template, the resource types the template lists
// or its plans price, the resource types a registration made for it (keys
// "<name>.<resource key>") and, made once with the connector, its draft
// plan.
//
// The connector's template is the template bound to it (Connector is the
// connector's name): the one keyed by the connector's name when it is
// bound, else the first bound one by key. A provider who built the
// catalog before the connector came (catalog import, the demo) keeps its
// keys: a registration finds the template by its binding and the resource
// types by their connector keys.
type ConnectorCatalog struct {
	ResourceTypes []catalog.ResourceType
	// Template is nil when there is none.
	Template *catalog.Template
	// Plan is the draft plan to create with a new connector; nil for none.
	// It is never read back: once made, plans are the provider's.
	Plan *catalog.Plan

	// The rest is read by the store for Desired, and ignored in what
	// Desired returns.

	// Plans are the keys of the plans made of Template (delegated copies
	// included), sorted, each once.
	Plans []string
	// PricedBy names, by resource type key, the plans made of Template
	// (delegated copies included) that price the resource type, by a rate
	// or a part of a composite rate: sorted keys, each once. A registration
	// never takes such a resource type out of the template.
	PricedBy map[string][]string
}

// ConnectorSetup is one registration for RegisterConnector.
type ConnectorSetup struct {
	// Connector is the connector to store: Name, URL, Secret, Manifest.
	Connector Connector
	// Desired returns what the connector's part of the catalog should be,
	// given the connector as stored (nil for a new one) and its part of
	// the catalog as stored, both read in the registration's transaction.
	// It holds the rules of what a registration makes; the store applies
	// the difference.
	Desired func(stored *Connector, current *ConnectorCatalog) (*ConnectorCatalog, error)
	// DryRun works out and checks everything, then rolls back.
	DryRun bool
}

// ConnectorSetupResult is what a registration did, or would do.
type ConnectorSetupResult struct {
	// Connector is the connector as stored after the registration (as it
	// would be, on a dry run), without its secret.
	Connector *Connector
	// Previous is the connector as it was; nil when it is new.
	Previous *Connector
	// Changes are the catalog changes made (or to make), in order.
	Changes []catalog.Change
	// Retired are the keys of resource types of the connector that
	// Desired left out (the manifest no longer offers them and no plan
	// of the template prices them): out of the template, but kept;
	// delete them by hand once unused.
	Retired []string
	// PlanKept is set when Desired asked for a draft plan whose key a
	// plan of the provider has already: that plan is left as it is.
	PlanKept string
	// PlanID is the id of the draft plan made; 0 when none was.
	PlanID int64
}

// RegisterConnector stores connector s.Connector and makes its part of the
// catalog what s.Desired says, in one transaction: the connector row, the
// resource types and template created or updated, the draft plan created.
// Nothing is ever deleted (see ConnectorSetupResult.Retired), a plan that
// exists is never changed, and a resource type that a plan of the
// connector's template prices never leaves the template (ECONFLICT naming
// the plans, whatever Desired says). With s.DryRun it returns what it would do
// and changes nothing; refusals are those of the real run.
//
// Only the provider's catalog managers may. Errors: EFORBIDDEN, EINVALID
// (fields named by their place in a catalog document, such as
// "resource_types[memory.storage_mb].name"), ECONFLICT (the name is
// registered at another URL; no template is bound to the connector and the
// one with its name is bound to another; Desired takes out of the template
// a resource type that plans price), EPRECONDITION (someone changed the catalog
// meanwhile).
func (db *DB) RegisterConnector(ctx context.Context, actor *account.Actor, s ConnectorSetup) (*ConnectorSetupResult, error) {
	if s.Desired == nil {
		return nil, errors.New("register connector: no Desired function")
	}
	c := s.Connector
	res := &ConnectorSetupResult{}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.connectorsFor(ctx, tx, actor, account.ManageCatalog)
		if err != nil {
			return err
		}
		c.Status, c.StatusMessage, c.LastCheckedAt = ConnectorRegistered, "", db.stamp()
		if err := c.validate(true); err != nil {
			return err
		}
		stored, err := loadConnector(ctx, tx, c.Name)
		if err != nil {
			return err
		}
		if stored != nil && stored.URL != c.URL {
			return &marketplane.Error{Code: marketplane.ECONFLICT,
				Message: fmt.Sprintf("a connector named %q is registered at %s; a connector's name is its own", c.Name, stored.URL),
				Fields:  map[string]string{"url": fmt.Sprintf("connector %q is registered at another URL", c.Name)}}
		}
		res.Previous = stored
		cur, versions, err := db.connectorCatalog(ctx, tx, t.AccountID, c.Name)
		if err != nil {
			return err
		}
		want, err := s.Desired(stored, cur)
		if err != nil {
			return err
		}
		if err := unpriced(cur, want); err != nil {
			return err
		}
		seller, err := loadSeller(ctx, tx, actor, t.AccountID)
		if err != nil {
			return err
		}
		if want.Plan != nil {
			err := keyFree(ctx, tx, t.AccountID, want.Plan.Key, 0)
			switch {
			case marketplane.ErrorCode(err) == marketplane.ECONFLICT:
				res.PlanKept, want.Plan = want.Plan.Key, nil
			case err != nil:
				return err
			}
		}
		changes, retired := connectorChanges(cur, want)
		res.Changes, res.Retired = changes, retired
		for _, ch := range changes {
			if err := db.applyConnectorChange(ctx, tx, actor, seller, want, versions, ch, res); err != nil {
				return inDocument(ch, err)
			}
		}

		switch {
		case stored == nil:
			err = db.createConnector(ctx, tx, actor, t, &c)
		case !sameManifest(stored.Manifest, c.Manifest) || db.secretDiffers(ctx, tx, stored.ID, c.Secret):
			c.Version = stored.Version
			err = db.updateConnector(ctx, tx, actor, t, stored, &c)
		default:
			// Nothing changed but the check itself: record it without
			// a new version, as SetConnectorStatus does.
			_, err = tx.ExecContext(ctx, `UPDATE connectors SET status = $1, status_message = '', last_checked_at = $2 WHERE id = $3`,
				c.Status, tv(c.LastCheckedAt), stored.ID)
			c.ID, c.OwnerID, c.Meta = stored.ID, stored.OwnerID, stored.Meta
		}
		if err != nil {
			return err
		}
		c.Secret = ""
		res.Connector = &c
		if s.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		if res.Previous == nil {
			res.Connector.ID, res.Connector.Version = 0, 0
		}
		res.PlanID = 0
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// secretDiffers reports whether secret differs from the stored secret of
// connector id (an empty secret keeps the stored one).
func (db *DB) secretDiffers(ctx context.Context, tx *sql.Tx, id int64, secret string) bool {
	if secret == "" {
		return false
	}
	var stored string
	if err := tx.QueryRowContext(ctx, `SELECT secret FROM connectors WHERE id = $1`, id).Scan(&stored); err != nil {
		return true // updateConnector reads it again and reports the error
	}
	return stored != secret
}

// sameManifest compares manifests by their JSON.
func sameManifest(a, b connector.Manifest) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// connectorCatalog reads the part of provider owner's catalog that belongs
// to connector name (see ConnectorCatalog), with the stored version of each
// object by kind and key.
func (db *DB) connectorCatalog(ctx context.Context, tx *sql.Tx, owner int64, name string) (*ConnectorCatalog, map[string]int64, error) {
	rts, tpls, err := loadServices(ctx, tx, owner)
	if err != nil {
		return nil, nil, err
	}
	cur := &ConnectorCatalog{PricedBy: map[string][]string{}}
	versions := map[string]int64{}
	t := find(tpls, func(x *Template) bool { return x.Key == name && x.Connector == name })
	if t == nil {
		t = find(tpls, func(x *Template) bool { return x.Connector == name })
	}
	if t == nil {
		if other := find(tpls, func(x *Template) bool { return x.Key == name }); other != nil {
			return nil, nil, marketplane.Errorf(marketplane.ECONFLICT,
				"the service template %q exists and is bound to connector %q, not to this one; rename one of them", name, other.Connector)
		}
	}
	listed := map[string]bool{}
	if t != nil {
		x := t.Template
		x.ID = 0
		x.Resources = slices.Clone(x.Resources)
		cur.Template = &x
		versions[string(catalog.KindTemplate)+" "+t.Key] = t.Version
		for _, r := range x.Resources {
			listed[r.Resource] = true
		}
		if cur.Plans, cur.PricedBy, err = templatePlans(ctx, tx, t.Key); err != nil {
			return nil, nil, err
		}
	}
	for _, rt := range rts {
		if strings.HasPrefix(rt.Key, name+".") || listed[rt.Key] || cur.PricedBy[rt.Key] != nil {
			x := rt.ResourceType
			x.ID = 0
			cur.ResourceTypes = append(cur.ResourceTypes, x)
			versions[string(catalog.KindResourceType)+" "+rt.Key] = rt.Version
		}
	}
	return cur, versions, nil
}

// templatePlans reads the plans made of template key, delegated copies
// included: their keys, and by resource type the keys of those that price
// it (see ConnectorCatalog).
func templatePlans(ctx context.Context, tx *sql.Tx, key string) (plans []string, pricedBy map[string][]string, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE p.template_key = $1`, key)
	if err != nil {
		return nil, nil, fmt.Errorf("plans of template %s: %w", key, err)
	}
	list, err := scanPlans(rows, "plans of template "+key)
	if err != nil {
		return nil, nil, err
	}
	pricedBy = map[string][]string{}
	for _, p := range list {
		plans = append(plans, p.Key)
		for _, r := range p.Rates {
			if r.Resource != "" {
				pricedBy[r.Resource] = append(pricedBy[r.Resource], p.Key)
			}
			for _, part := range r.Parts {
				pricedBy[part.Resource] = append(pricedBy[part.Resource], p.Key)
			}
		}
	}
	for k, v := range pricedBy {
		slices.Sort(v)
		pricedBy[k] = slices.Compact(v)
	}
	slices.Sort(plans)
	return slices.Compact(plans), pricedBy, nil
}

// unpriced checks that want's template still lists every resource type
// that the plans made of the connector's template price: a registration
// never leaves a plan selling a resource its template lacks.
func unpriced(cur, want *ConnectorCatalog) error {
	if cur.Template == nil || want.Template == nil {
		return nil
	}
	if want.Template.Key != cur.Template.Key {
		return fmt.Errorf("a registration keeps the key of the connector's template %q (asked for %q)", cur.Template.Key, want.Template.Key)
	}
	var f marketplane.FieldErrors
	var missing []string
	for _, key := range slices.Sorted(maps.Keys(cur.PricedBy)) {
		if !slices.ContainsFunc(want.Template.Resources, func(r catalog.TemplateResource) bool { return r.Resource == key }) {
			plans := cur.PricedBy[key]
			missing = append(missing, fmt.Sprintf("%s (priced by %s)", key, strings.Join(plans, ", ")))
			f.Add(fmt.Sprintf("templates[%s].resources[%s]", cur.Template.Key, key),
				"is priced by plans "+strings.Join(plans, ", ")+": it cannot leave the template")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := f.Err("connector registration").(*marketplane.Error)
	err.Code = marketplane.ECONFLICT
	err.Message = fmt.Sprintf("the registration would take out of the service template %q resource types that plans price: %s",
		cur.Template.Key, strings.Join(missing, "; "))
	return err
}

// connectorChanges is what turns cur into want: the creates and updates
// of catalog.Diff. Its deletes are never applied; those of resource types
// come back as retired.
func connectorChanges(cur, want *ConnectorCatalog) (changes []catalog.Change, retired []string) {
	doc := func(c *ConnectorCatalog, tpl *catalog.Template) *catalog.Document {
		d := &catalog.Document{Version: catalog.FormatVersion, ResourceTypes: c.ResourceTypes}
		if tpl != nil {
			d.Templates = []catalog.Template{*tpl}
		}
		if c.Plan != nil {
			d.Plans = []catalog.Plan{*c.Plan}
		}
		return d
	}
	// A registration that leaves the template out leaves it alone.
	curTpl := cur.Template
	if want.Template == nil {
		curTpl = nil
	}
	for _, ch := range catalog.Diff(doc(cur, curTpl), doc(want, want.Template)) {
		if ch.Action == catalog.Delete {
			if ch.Kind == catalog.KindResourceType {
				retired = append(retired, ch.Key)
			}
			continue
		}
		changes = append(changes, ch)
	}
	slices.Sort(retired)
	return changes, retired
}

// applyConnectorChange makes one change of a registration with the
// catalog's transaction-level helpers.
func (db *DB) applyConnectorChange(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, want *ConnectorCatalog,
	versions map[string]int64, ch catalog.Change, res *ConnectorSetupResult) error {
	version := versions[string(ch.Kind)+" "+ch.Key]
	switch ch.Kind {
	case catalog.KindResourceType:
		i := slices.IndexFunc(want.ResourceTypes, func(x catalog.ResourceType) bool { return x.Key == ch.Key })
		rt := &ResourceType{ResourceType: want.ResourceTypes[i]}
		if ch.Action == catalog.Create {
			return db.createResourceType(ctx, tx, actor, s.Target, rt)
		}
		rt.Version = version
		return db.updateResourceType(ctx, tx, actor, s.Target, rt)
	case catalog.KindTemplate:
		tpl := &Template{Template: *want.Template}
		tpl.Resources = slices.Clone(tpl.Resources)
		if ch.Action == catalog.Create {
			return db.createTemplate(ctx, tx, actor, s.Target, tpl)
		}
		tpl.Version = version
		return db.updateTemplate(ctx, tx, actor, s.Target, tpl)
	case catalog.KindPlan:
		if ch.Action != catalog.Create {
			return fmt.Errorf("a registration only creates plans, not %s them", ch.Action)
		}
		p := want.Plan.Clone()
		p.OwnerID = s.AccountID
		if p.Currency == "" {
			p.Currency = s.Currency
		}
		if err := db.createPlan(ctx, tx, actor, s, p, nil); err != nil {
			return err
		}
		res.PlanID = p.ID
		return nil
	}
	return fmt.Errorf("a registration does not make a %s", ch.Kind)
}

// ----- two-way checks -----

// Statuses of a ConnectorCheck.
const (
	CheckPending   = "pending"   // waiting for the callback
	CheckConfirmed = "confirmed" // a callback signed with the secret came
	CheckRefused   = "refused"   // a callback came, but its signature did not hold
)

// ConnectorCheck is the two-way check of a registration in progress: the
// nonce sent to the connector with the ping, and the secret its callback
// must be signed with.
type ConnectorCheck struct {
	Nonce  string
	Secret string
	Status string
	// Detail says why a callback was refused.
	Detail string
	// CallbackName and CallbackVersion are what the confirmed callback
	// said of the connector.
	CallbackName, CallbackVersion string
	ExpiresAt                     time.Time
}

// StartConnectorCheck records a pending check for nonce, valid for ttl,
// and deletes the checks that have expired. It is the system's: the
// registration calls it after authorizing its actor.
func (db *DB) StartConnectorCheck(ctx context.Context, nonce, secret string, ttl time.Duration) error {
	if nonce == "" || secret == "" || ttl <= 0 {
		return errors.New("start connector check: nonce, secret and ttl are required")
	}
	now := db.stamp()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM connector_checks WHERE expires_at < $1`, tv(now)); err != nil {
			return fmt.Errorf("expire connector checks: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connector_checks (nonce, secret, status, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5)`, nonce, secret, CheckPending, tv(now.Add(ttl)), tv(now))
		if err != nil {
			return fmt.Errorf("start connector check: %w", err)
		}
		return nil
	})
}

// ConnectorCheck returns the check of nonce. One that does not exist or
// has expired is ENOTFOUND. It holds the secret: for the callback handler
// and the registration only. It reads from the primary (Write): the check
// was written a moment ago, maybe by another process, and a replica may
// lag.
func (db *DB) ConnectorCheck(ctx context.Context, nonce string) (*ConnectorCheck, error) {
	c := &ConnectorCheck{}
	err := db.Write.QueryRowContext(ctx, `SELECT nonce, secret, status, detail, callback_name, callback_version, expires_at
		FROM connector_checks WHERE nonce = $1`, nonce).
		Scan(&c.Nonce, &c.Secret, &c.Status, &c.Detail, &c.CallbackName, &c.CallbackVersion, ts(&c.ExpiresAt))
	if err != nil {
		return nil, notFound(err, "connector check")
	}
	if !db.Clock.Now().Before(c.ExpiresAt) {
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "connector check not found")
	}
	return c, nil
}

// RecordConnectorCallback records a callback for the check of nonce:
// confirmed, with the name and version the connector gave, or refused
// with the reason. A confirmed check stays confirmed: a forged callback
// after the real one changes nothing. Errors: ENOTFOUND.
func (db *DB) RecordConnectorCallback(ctx context.Context, nonce string, confirmed bool, detail, name, version string) error {
	status := CheckRefused
	if confirmed {
		status = CheckConfirmed
	}
	res, err := db.Write.ExecContext(ctx, `UPDATE connector_checks SET status = $1, detail = $2, callback_name = $3, callback_version = $4
		WHERE nonce = $5 AND status <> $6`, status, detail, name, version, nonce, CheckConfirmed)
	if err != nil {
		return fmt.Errorf("record connector callback: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.ConnectorCheck(ctx, nonce); err != nil {
			return err
		}
	}
	return nil
}

// EndConnectorCheck deletes the check of nonce.
func (db *DB) EndConnectorCheck(ctx context.Context, nonce string) error {
	if _, err := db.Write.ExecContext(ctx, `DELETE FROM connector_checks WHERE nonce = $1`, nonce); err != nil {
		return fmt.Errorf("end connector check: %w", err)
	}
	return nil
}
