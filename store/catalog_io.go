package store

// Catalog as code: a seller's whole catalog exported as a catalog.Document,
// and a document imported declaratively. An import diffs the document
// against the catalog as stored (catalog.Diff) and applies the difference in
// one transaction, so that it is all or nothing, a second import of the same
// document finds nothing to do, and a dry run is the same import rolled back:
// what a dry run prints is exactly what the import would do, refusals
// included.
//
// The import writes with the transaction-level helpers the public methods
// wrap (createResourceType, updatePlan, … beside them in catalog.go,
// catalog_categories.go and catalog_plans.go), minus the authorization,
// which it does once for the whole document. Deletes are the import's own
// (at the end of this file).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

// ImportOptions say how ImportCatalog applies a document.
type ImportOptions struct {
	// DryRun runs the import in a transaction that is rolled back: it
	// checks everything the import would do and changes nothing.
	DryRun bool
	// Delete deletes the objects of the catalog that the document lacks.
	// Without it they are kept, and left out of the changes returned.
	Delete bool
}

// ExportCatalog returns the catalog of account ownerID as a document: the
// provider's resource types and service templates (only when ownerID is the
// provider, whose they are), and the account's plan categories, sales
// categories and plans, originals and delegated copies alike (a copy keeps
// its price rule). The document holds no ids; Owner is the account's name.
// The actor needs to view the account's catalog. Errors: ENOTFOUND.
func (db *DB) ExportCatalog(ctx context.Context, actor *account.Actor, ownerID int64) (*catalog.Document, error) {
	s, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID)
	if err != nil {
		return nil, err
	}
	cur, err := db.loadCatalog(ctx, db.Read, s)
	if err != nil {
		return nil, err
	}
	return cur.document(), nil
}

// ImportCatalog makes the catalog of account ownerID what doc says and
// returns the changes, in the order applied (see catalog.Diff); with
// opt.DryRun it returns them and changes nothing. Objects are matched by
// key. It creates and updates resource types and templates (the provider
// only: a reseller's document names the provider's and does not list
// them), plan categories, sales categories and original plans. A plan of
// the document whose key is a delegated copy the account holds updates the
// copy's own fields as UpdatePlan does (what the copy is made of follows its
// source; prices are checked against it with delegation.CheckPrices); an
// import never makes copies, which come from delegating their source.
// Deletes are applied only with opt.Delete; a plan with delegated copies is
// not deleted (ECONFLICT).
//
// Two fields are the store's or the owner's to set and are not imported
// over what exists: a sales category's display setting (imported when the
// category is created; then SetSalesCategoryDisplayed changes it) and a
// plan's changed-upstream flag (set by syncs). They never show as changes.
//
// The actor needs to manage the account's catalog. Errors: ENOTFOUND,
// EFORBIDDEN, EINVALID (fields named by their path in the document, such as
// "plans[office-basic].periods[0].recurring.amount"), ECONFLICT, and
// EPRECONDITION when someone changed the catalog during the import.
func (db *DB) ImportCatalog(ctx context.Context, actor *account.Actor, ownerID int64, doc *catalog.Document, opt ImportOptions) ([]catalog.Change, error) {
	if doc == nil {
		return nil, marketplane.Errorf(marketplane.EINVALID, "no catalog document")
	}
	var changes []catalog.Change
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, ownerID)
		if err != nil {
			return err
		}
		// Managing the provider's catalog is also all that its resource
		// types and templates ask (providerCatalog): only the provider's
		// own users and the system reach it.
		im := &importer{db: db, tx: tx, actor: actor, seller: s}
		if im.cur, err = db.loadCatalog(ctx, tx, s); err != nil {
			return err
		}
		if err := im.check(ctx, doc); err != nil {
			return err
		}
		im.want = im.cur.desired(doc)
		for _, c := range catalog.Diff(im.cur.document(), im.want) {
			if c.Action == catalog.Delete && !opt.Delete {
				continue
			}
			changes = append(changes, c)
		}
		for _, c := range changes {
			if err := im.apply(ctx, c); err != nil {
				return inDocument(c, err)
			}
		}
		if opt.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return changes, nil
	}
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("dry run")

// storedCatalog is a seller's catalog as stored, each kind by key.
type storedCatalog struct {
	name            string
	resourceTypes   []*ResourceType
	templates       []*Template
	planCategories  []*PlanCategory
	salesCategories []*SalesCategory // tree order
	plans           []*catalog.Plan  // by key
}

// loadCatalog reads the catalog of s with q.
func (db *DB) loadCatalog(ctx context.Context, q querier, s *seller) (*storedCatalog, error) {
	c := &storedCatalog{}
	if err := q.QueryRowContext(ctx, `SELECT name FROM accounts WHERE id = $1`, s.AccountID).Scan(&c.name); err != nil {
		return nil, notFound(err, "account")
	}
	var err error
	if s.Kind == account.Provider {
		if c.resourceTypes, c.templates, err = loadServices(ctx, q, s.AccountID); err != nil {
			return nil, err
		}
	}
	if c.planCategories, err = queryAll(ctx, q, scanPlanCategory, `SELECT `+planCategoryColumns+` FROM plan_categories
		WHERE owner_id = $1 ORDER BY key`, s.AccountID); err != nil {
		return nil, fmt.Errorf("export plan categories: %w", err)
	}
	_, shelves, err := loadShelves(ctx, q, s.AccountID)
	if err != nil {
		return nil, err
	}
	c.salesCategories = treeOrder(shelves)
	scan := func(r scanner) (*catalog.Plan, error) {
		row, err := scanPlan(r)
		if err != nil {
			return nil, err
		}
		return row.Plan, nil
	}
	if c.plans, err = queryAll(ctx, q, scan, `SELECT `+planColumns+` FROM plans p WHERE p.owner_id = $1 ORDER BY p.key`, s.AccountID); err != nil {
		return nil, fmt.Errorf("export plans: %w", err)
	}
	return c, nil
}

// loadServices reads the resource types and templates of provider id.
func loadServices(ctx context.Context, q querier, id int64) ([]*ResourceType, []*Template, error) {
	rts, err := queryAll(ctx, q, scanResourceType, `SELECT `+resourceTypeColumns+` FROM resource_types
		WHERE owner_id = $1 ORDER BY key`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("resource types: %w", err)
	}
	tpls, err := queryAll(ctx, q, scanTemplate, `SELECT `+templateColumns+` FROM templates
		WHERE owner_id = $1 ORDER BY key`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("templates: %w", err)
	}
	return rts, tpls, nil
}

// document is c as a catalog document, without ids or the store's
// bookkeeping.
func (c *storedCatalog) document() *catalog.Document {
	d := &catalog.Document{Version: catalog.FormatVersion, Owner: c.name}
	for _, rt := range c.resourceTypes {
		x := rt.ResourceType
		x.ID = 0
		d.ResourceTypes = append(d.ResourceTypes, x)
	}
	for _, t := range c.templates {
		x := t.Template
		x.ID = 0
		d.Templates = append(d.Templates, x)
	}
	for _, pc := range c.planCategories {
		x := pc.PlanCategory
		x.ID, x.OwnerID, x.SourceID = 0, 0, 0
		d.PlanCategories = append(d.PlanCategories, x)
	}
	for _, sc := range c.salesCategories {
		x := sc.SalesCategory
		x.ID, x.OwnerID, x.SourceID = 0, 0, 0
		d.SalesCategories = append(d.SalesCategories, x)
	}
	for _, p := range c.plans {
		x := p.Clone()
		x.ID, x.OwnerID, x.SourceID, x.Version = 0, 0, 0, 0
		x.CreatedAt, x.UpdatedAt = time.Time{}, time.Time{}
		d.Plans = append(d.Plans, *x)
	}
	return d
}

// desired is doc with the fields an import does not set over what exists
// taken from c: the display setting of existing sales categories and the
// changed-upstream flag of plans (false for new ones). doc is left alone.
func (c *storedCatalog) desired(doc *catalog.Document) *catalog.Document {
	d := *doc
	d.SalesCategories = slices.Clone(doc.SalesCategories)
	for i := range d.SalesCategories {
		if old := c.salesCategory(d.SalesCategories[i].Key); old != nil {
			d.SalesCategories[i].Displayed = old.Displayed
		}
	}
	d.Plans = slices.Clone(doc.Plans)
	for i := range d.Plans {
		d.Plans[i].ChangedUpstream = false
		if old := c.plan(d.Plans[i].Key); old != nil {
			d.Plans[i].ChangedUpstream = old.ChangedUpstream
		}
	}
	return &d
}

func (c *storedCatalog) resourceType(key string) *ResourceType {
	return find(c.resourceTypes, func(x *ResourceType) bool { return x.Key == key })
}

func (c *storedCatalog) template(key string) *Template {
	return find(c.templates, func(x *Template) bool { return x.Key == key })
}

func (c *storedCatalog) planCategory(key string) *PlanCategory {
	return find(c.planCategories, func(x *PlanCategory) bool { return x.Key == key })
}

func (c *storedCatalog) salesCategory(key string) *SalesCategory {
	return find(c.salesCategories, func(x *SalesCategory) bool { return x.Key == key })
}

func (c *storedCatalog) plan(key string) *catalog.Plan {
	return find(c.plans, func(x *catalog.Plan) bool { return x.Key == key })
}

// find returns the first element of list that matches, or nil. Catalogs
// are small enough (tens of objects) for a linear search.
func find[T any](list []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(list, match); i >= 0 {
		return list[i]
	}
	return nil
}

// importer carries one ImportCatalog.
type importer struct {
	db     *DB
	tx     *sql.Tx
	actor  *account.Actor
	seller *seller
	cur    *storedCatalog
	want   *catalog.Document
}

// check validates doc before anything is written, so that every mistake of
// the document is reported at once: the document's own rules (with the
// provider's resource types and templates for a reseller's document), the
// plans' currency, and price rules only on the copies the account holds.
func (im *importer) check(ctx context.Context, doc *catalog.Document) error {
	var f marketplane.FieldErrors
	v := *doc
	if im.seller.Kind != account.Provider {
		const why = "are the provider's: a reseller's document names them and does not list them"
		if len(doc.ResourceTypes) > 0 {
			f.Add("resource_types", "resource types "+why)
		}
		if len(doc.Templates) > 0 {
			f.Add("templates", "service templates "+why)
		}
		prov, err := im.db.providerCatalogDocument(ctx, im.tx)
		if err != nil {
			return err
		}
		v.ResourceTypes, v.Templates = prov.ResourceTypes, prov.Templates
	}
	if err := fieldsInto(&f, "", v.Validate()); err != nil {
		return err
	}
	for _, p := range doc.Plans {
		at := "plans[" + p.Key + "]"
		old := im.cur.plan(p.Key)
		if p.Currency != im.seller.Currency && len(p.Currency) == 3 {
			f.Add(at+".currency", fmt.Sprintf("must be %s, the currency of %s", im.seller.Currency, im.cur.name))
		}
		if p.Rule != nil && (old == nil || old.SourceID == 0) {
			f.Add(at+".rule", "only a delegated copy has a price rule; an import makes original plans, and copies come from delegating their source")
		}
		if old != nil && old.SourceID != 0 {
			var g marketplane.FieldErrors
			sameStructure(&g, old, &p)
			for k, msg := range g {
				f.Add(at+"."+k, msg)
			}
		}
	}
	return f.Err("catalog document")
}

// providerCatalogDocument is the provider's resource types and templates,
// which a reseller's plans name.
func (db *DB) providerCatalogDocument(ctx context.Context, q querier) (*catalog.Document, error) {
	t, err := providerTarget(ctx, q)
	if err != nil {
		return nil, err
	}
	c := &storedCatalog{}
	if c.resourceTypes, c.templates, err = loadServices(ctx, q, t.AccountID); err != nil {
		return nil, err
	}
	return c.document(), nil
}

// fieldsInto adds the field errors of err to f with prefix at and returns
// nil, or returns err when it is not an EINVALID error with fields.
func fieldsInto(f *marketplane.FieldErrors, at string, err error) error {
	if err == nil {
		return nil
	}
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID || len(e.Fields) == 0 {
		return err
	}
	for k, msg := range e.Fields {
		f.Add(joinField(at, k), msg)
	}
	return nil
}

func joinField(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// kindField is the document field that lists each kind.
var kindField = map[catalog.Kind]string{
	catalog.KindResourceType:  "resource_types",
	catalog.KindTemplate:      "templates",
	catalog.KindPlanCategory:  "plan_categories",
	catalog.KindSalesCategory: "sales_categories",
	catalog.KindPlan:          "plans",
}

// inDocument names the object of change c in err: field errors get the
// object's path in the document ("plans[office-basic].currency"), other
// errors its kind and key, keeping their code.
func inDocument(c catalog.Change, err error) error {
	at := kindField[c.Kind] + "[" + c.Key + "]"
	var e *marketplane.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s %s %s: %w", c.Action, c.Kind, c.Key, err)
	}
	out := &marketplane.Error{Code: e.Code, Message: fmt.Sprintf("%s %s %s: %s", c.Action, c.Kind, c.Key, e.Message)}
	if len(e.Fields) > 0 {
		out.Fields = map[string]string{}
		for k, msg := range e.Fields {
			out.Fields[joinField(at, k)] = msg
		}
	}
	return out
}

// apply makes one change.
func (im *importer) apply(ctx context.Context, c catalog.Change) error {
	switch c.Kind {
	case catalog.KindResourceType:
		return im.resourceType(ctx, c)
	case catalog.KindTemplate:
		return im.template(ctx, c)
	case catalog.KindPlanCategory:
		return im.planCategory(ctx, c)
	case catalog.KindSalesCategory:
		return im.salesCategory(ctx, c)
	case catalog.KindPlan:
		return im.plan(ctx, c)
	}
	return fmt.Errorf("unknown kind %q", c.Kind)
}

func (im *importer) resourceType(ctx context.Context, c catalog.Change) error {
	t := im.seller.Target
	old := im.cur.resourceType(c.Key)
	if c.Action == catalog.Delete {
		return im.db.deleteResourceType(ctx, im.tx, im.actor, t, old)
	}
	i := slices.IndexFunc(im.want.ResourceTypes, func(x catalog.ResourceType) bool { return x.Key == c.Key })
	rt := &ResourceType{ResourceType: im.want.ResourceTypes[i]}
	if c.Action == catalog.Create {
		return im.db.createResourceType(ctx, im.tx, im.actor, t, rt)
	}
	rt.Version = old.Version
	return im.db.updateResourceType(ctx, im.tx, im.actor, t, rt)
}

func (im *importer) template(ctx context.Context, c catalog.Change) error {
	t := im.seller.Target
	old := im.cur.template(c.Key)
	if c.Action == catalog.Delete {
		return im.db.deleteTemplate(ctx, im.tx, im.actor, t, old)
	}
	i := slices.IndexFunc(im.want.Templates, func(x catalog.Template) bool { return x.Key == c.Key })
	tpl := &Template{Template: im.want.Templates[i]}
	tpl.Resources = slices.Clone(tpl.Resources)
	if c.Action == catalog.Create {
		return im.db.createTemplate(ctx, im.tx, im.actor, t, tpl)
	}
	tpl.Version = old.Version
	return im.db.updateTemplate(ctx, im.tx, im.actor, t, tpl)
}

func (im *importer) planCategory(ctx context.Context, c catalog.Change) error {
	old := im.cur.planCategory(c.Key)
	if c.Action == catalog.Delete {
		return im.db.deletePlanCategory(ctx, im.tx, im.actor, im.seller, old)
	}
	i := slices.IndexFunc(im.want.PlanCategories, func(x catalog.PlanCategory) bool { return x.Key == c.Key })
	pc := &PlanCategory{PlanCategory: im.want.PlanCategories[i]}
	pc.OwnerID = im.seller.AccountID
	if c.Action == catalog.Create {
		return im.db.createPlanCategory(ctx, im.tx, im.actor, im.seller, pc)
	}
	pc.Version = old.Version
	return im.db.updatePlanCategory(ctx, im.tx, im.actor, im.seller, pc)
}

func (im *importer) salesCategory(ctx context.Context, c catalog.Change) error {
	old := im.cur.salesCategory(c.Key)
	if c.Action == catalog.Delete {
		return im.db.deleteSalesCategory(ctx, im.tx, im.actor, im.seller, old)
	}
	i := slices.IndexFunc(im.want.SalesCategories, func(x catalog.SalesCategory) bool { return x.Key == c.Key })
	sc := &SalesCategory{SalesCategory: im.want.SalesCategories[i]}
	sc.OwnerID = im.seller.AccountID
	if c.Action == catalog.Create {
		return im.db.createSalesCategory(ctx, im.tx, im.actor, im.seller, sc)
	}
	sc.Version = old.Version
	return im.db.updateSalesCategory(ctx, im.tx, im.actor, im.seller, sc)
}

func (im *importer) plan(ctx context.Context, c catalog.Change) error {
	old := im.cur.plan(c.Key)
	if c.Action == catalog.Delete {
		return im.db.deletePlan(ctx, im.tx, im.actor, im.seller, old)
	}
	i := slices.IndexFunc(im.want.Plans, func(x catalog.Plan) bool { return x.Key == c.Key })
	p := im.want.Plans[i].Clone()
	p.OwnerID = im.seller.AccountID
	// Upgrade paths may name plans the import creates after this one.
	pending := make([]string, len(im.want.Plans))
	for i, x := range im.want.Plans {
		pending[i] = x.Key
	}
	if c.Action == catalog.Create {
		return im.db.createPlan(ctx, im.tx, im.actor, im.seller, p, pending)
	}
	p.ID, p.Version = old.ID, old.Version
	var check CopyCheck
	if old.SourceID != 0 {
		check = delegation.CheckPrices
	}
	// The plan as stored now rather than as the import read it: one changed
	// meanwhile fails the version check, naming both versions.
	stored, err := loadPlan(ctx, im.tx, old.ID)
	if err != nil {
		return err
	}
	return im.db.updatePlan(ctx, im.tx, im.actor, im.seller, stored.Plan, p, check, pending)
}

// ----- transaction-level deletes -----
//
// Each takes an account already authorized by its caller and an object of
// its catalog, refuses the delete while something depends on the object,
// and writes the audit entry.

// deleteResourceType deletes resource type old of provider t. A resource
// type a template still lists is refused: the template's plans sell it.
func (db *DB) deleteResourceType(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, old *ResourceType) error {
	tpls, err := queryAll(ctx, tx, scanTemplate, `SELECT `+templateColumns+` FROM templates WHERE owner_id = $1 ORDER BY key`, t.AccountID)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	for _, tpl := range tpls {
		if slices.ContainsFunc(tpl.Resources, func(r catalog.TemplateResource) bool { return r.Resource == old.Key }) {
			return marketplane.Errorf(marketplane.ECONFLICT, "service template %q still lists the resource type; take it out of the template first", tpl.Key)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM resource_types WHERE id = $1`, old.ID); err != nil {
		return fmt.Errorf("delete resource type %s: %w", old.Key, err)
	}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "resource_type.delete", "resource_type", old.ID, map[string]any{"key": old.Key})
}

// deleteTemplate deletes template old of provider t. A template that any
// plan is made of, at any seller, is refused.
func (db *DB) deleteTemplate(ctx context.Context, tx *sql.Tx, actor *account.Actor, t account.Target, old *Template) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans WHERE template_key = $1`, old.Key).Scan(&n); err != nil {
		return fmt.Errorf("plans of template %s: %w", old.Key, err)
	}
	if n > 0 {
		return marketplane.Errorf(marketplane.ECONFLICT, "%d plans (delegated copies included) are made of this service template", n)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM templates WHERE id = $1`, old.ID); err != nil {
		return fmt.Errorf("delete template %s: %w", old.Key, err)
	}
	return db.audit(ctx, tx, actor, t.AccountID, t.Path, "template.delete", "template", old.ID, map[string]any{"key": old.Key})
}

// deletePlanCategory deletes category old of seller s, refused while plans
// of s are in it. The categories its children's copies adopted from it stay
// theirs (their link to it is cleared).
func (db *DB) deletePlanCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, old *PlanCategory) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans WHERE owner_id = $1 AND plan_category = $2`,
		s.AccountID, old.Key).Scan(&n); err != nil {
		return fmt.Errorf("plans in plan category %s: %w", old.Key, err)
	}
	if n > 0 {
		return marketplane.Errorf(marketplane.ECONFLICT, "%d plans are in this plan category", n)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM plan_categories WHERE id = $1`, old.ID); err != nil {
		return fmt.Errorf("delete plan category %s: %w", old.Key, err)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan_category.delete", "plan_category", old.ID, map[string]any{"key": old.Key})
}

// deleteSalesCategory deletes category old of seller s, refused while it
// has sub-categories or plans of s are on it.
func (db *DB) deleteSalesCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, old *SalesCategory) error {
	var subs, plans int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sales_categories WHERE owner_id = $1 AND parent_key = $2`,
		s.AccountID, old.Key).Scan(&subs); err != nil {
		return fmt.Errorf("sub-categories of %s: %w", old.Key, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans WHERE owner_id = $1 AND `+
		db.jsonListHas("body", "sales_categories", 2), s.AccountID, old.Key).Scan(&plans); err != nil {
		return fmt.Errorf("plans on sales category %s: %w", old.Key, err)
	}
	switch {
	case subs > 0:
		return marketplane.Errorf(marketplane.ECONFLICT, "the sales category has %d sub-categories", subs)
	case plans > 0:
		return marketplane.Errorf(marketplane.ECONFLICT, "%d plans are on this sales category", plans)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sales_categories WHERE id = $1`, old.ID); err != nil {
		return fmt.Errorf("delete sales category %s: %w", old.Key, err)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "sales_category.delete", "sales_category", old.ID, map[string]any{"key": old.Key})
}

// deletePlan deletes plan old of seller s as DeletePlan does: a plan with
// delegated copies is refused, because resellers sell them.
func (db *DB) deletePlan(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, old *catalog.Plan) error {
	var owners []string
	rows, err := tx.QueryContext(ctx, `SELECT a.name FROM plans p JOIN accounts a ON a.id = p.owner_id
		WHERE p.source_id = $1 ORDER BY a.name`, old.ID)
	if err != nil {
		return fmt.Errorf("copies of plan %s: %w", old.Key, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("copies of plan %s: %w", old.Key, err)
		}
		owners = append(owners, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("copies of plan %s: %w", old.Key, err)
	}
	if len(owners) > 0 {
		names := strings.Join(owners[:min(len(owners), 3)], ", ")
		if len(owners) > 3 {
			names += fmt.Sprintf(" and %d more", len(owners)-3)
		}
		return marketplane.Errorf(marketplane.ECONFLICT, "the plan has %d delegated copies (%s), which resellers sell; it is not deleted while they exist",
			len(owners), names)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM plans WHERE id = $1`, old.ID); err != nil {
		if isForeignKeyViolation(err) {
			return marketplane.Errorf(marketplane.ECONFLICT, "the plan is still referenced")
		}
		return fmt.Errorf("delete plan %s: %w", old.Key, err)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan.delete", "plan", old.ID,
		map[string]any{"key": old.Key, "source_id": old.SourceID})
}
