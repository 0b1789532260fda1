package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
)

const planCategoryColumns = `id, owner_id, COALESCE(source_id, 0), key, body, version, created_at, updated_at`

func scanPlanCategory(r scanner) (*PlanCategory, error) {
	c := &PlanCategory{}
	var body, key string
	if err := r.Scan(&c.ID, &c.OwnerID, &c.SourceID, &key, &body, &c.Version, ts(&c.CreatedAt), ts(&c.UpdatedAt)); err != nil {
		return nil, err
	}
	id, owner, source := c.ID, c.OwnerID, c.SourceID
	if err := json.Unmarshal([]byte(body), &c.PlanCategory); err != nil {
		return nil, fmt.Errorf("plan category %d: %w", id, err)
	}
	c.ID, c.OwnerID, c.SourceID, c.Key = id, owner, source, key
	return c, nil
}

// checkCategorySource checks that a category copied from a parent's names a
// category of the owner's parent in table.
func checkCategorySource(ctx context.Context, q querier, table string, s *seller, sourceID int64, what string) error {
	if sourceID == 0 {
		return nil
	}
	var owner int64
	err := q.QueryRowContext(ctx, `SELECT owner_id FROM `+table+` WHERE id = $1`, sourceID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (owner != s.ParentID || s.ParentID == 0) {
		return catalogFieldErr(what, "source_id", "must be a category of the account's parent")
	}
	return err
}

// CreatePlanCategory adds a plan category to the catalog of c.OwnerID. A
// category copied from the parent's names it in c.SourceID. Errors:
// ENOTFOUND, EFORBIDDEN, ECONFLICT (the key exists; the owner is a
// customer), EINVALID.
func (db *DB) CreatePlanCategory(ctx context.Context, actor *account.Actor, c *PlanCategory) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, c.OwnerID)
		if err != nil {
			return err
		}
		return db.createPlanCategory(ctx, tx, actor, s, c)
	})
}

// UpdatePlanCategory replaces the name and unique-group flag of the
// category c.Key of c.OwnerID; its key and source stay. c.Version must be
// the version read. Errors: ENOTFOUND, EFORBIDDEN, EINVALID, EPRECONDITION.
func (db *DB) UpdatePlanCategory(ctx context.Context, actor *account.Actor, c *PlanCategory) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, c.OwnerID)
		if err != nil {
			return hideAs(err, "plan category")
		}
		return db.updatePlanCategory(ctx, tx, actor, s, c)
	})
}

// createPlanCategory adds c to the catalog of seller s (c.OwnerID).
func (db *DB) createPlanCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, c *PlanCategory) error {
	if err := invalid("plan category", nil, c.PlanCategory.Validate(),
		checkCategorySource(ctx, tx, "plan_categories", s, c.SourceID, "plan category")); err != nil {
		return err
	}
	body, err := bodyOf(c.PlanCategory)
	if err != nil {
		return err
	}
	now := db.stamp()
	err = tx.QueryRowContext(ctx, `INSERT INTO plan_categories (owner_id, source_id, key, body, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id`, c.OwnerID, nullID(c.SourceID), c.Key, body, tv(now)).Scan(&c.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("plan category", c.Key)
		}
		return fmt.Errorf("create plan category: %w", err)
	}
	c.Meta = Meta{Version: 1, CreatedAt: now, UpdatedAt: now}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan_category.create", "plan_category", c.ID, jsonChanges(nil, c.PlanCategory))
}

// updatePlanCategory replaces the name and unique-group flag of category
// c.Key of seller s; c.Version must be the version read.
func (db *DB) updatePlanCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, c *PlanCategory) error {
	old, err := scanPlanCategory(tx.QueryRowContext(ctx, `SELECT `+planCategoryColumns+` FROM plan_categories
		WHERE owner_id = $1 AND key = $2`, s.AccountID, c.Key))
	if err != nil {
		return notFound(err, "plan category")
	}
	if err := c.PlanCategory.Validate(); err != nil {
		return err
	}
	if c.Version != old.Version {
		return staleVersion("plan category", old.Version, c.Version)
	}
	c.ID, c.OwnerID, c.SourceID, c.CreatedAt, c.UpdatedAt, c.Version = old.ID, old.OwnerID, old.SourceID, old.CreatedAt, db.stamp(), old.Version+1
	body, err := bodyOf(c.PlanCategory)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE plan_categories SET body = $1, version = $2, updated_at = $3 WHERE id = $4 AND version = $5`,
		body, c.Version, tv(c.UpdatedAt), c.ID, old.Version)
	if err != nil {
		return fmt.Errorf("update plan category %s: %w", c.Key, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("plan category", old.Version+1, old.Version)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan_category.update", "plan_category", c.ID,
		jsonChanges(old.PlanCategory, c.PlanCategory))
}

// PlanCategories lists the plan categories of account ownerID by key.
func (db *DB) PlanCategories(ctx context.Context, actor *account.Actor, ownerID int64) ([]*PlanCategory, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, db.Read, scanPlanCategory, `SELECT `+planCategoryColumns+` FROM plan_categories WHERE owner_id = $1 ORDER BY key`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("plan categories: %w", err)
	}
	return out, nil
}

// PlanCategory returns the plan category key of account ownerID.
func (db *DB) PlanCategory(ctx context.Context, actor *account.Actor, ownerID int64, key string) (*PlanCategory, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, hideAs(err, "plan category")
	}
	c, err := scanPlanCategory(db.Read.QueryRowContext(ctx, `SELECT `+planCategoryColumns+` FROM plan_categories
		WHERE owner_id = $1 AND key = $2`, ownerID, key))
	if err != nil {
		return nil, notFound(err, "plan category")
	}
	return c, nil
}

// ----- sales categories -----

const salesCategoryColumns = `id, owner_id, COALESCE(source_id, 0), key, parent_key, position, holds, displayed, body,
	version, created_at, updated_at`

func scanSalesCategory(r scanner) (*SalesCategory, error) {
	c := &SalesCategory{}
	var body, key, parent string
	var position int
	var holds catalog.Holds
	var displayed bool
	if err := r.Scan(&c.ID, &c.OwnerID, &c.SourceID, &key, &parent, &position, &holds, &displayed, &body,
		&c.Version, ts(&c.CreatedAt), ts(&c.UpdatedAt)); err != nil {
		return nil, err
	}
	id, owner, source := c.ID, c.OwnerID, c.SourceID
	if err := json.Unmarshal([]byte(body), &c.SalesCategory); err != nil {
		return nil, fmt.Errorf("sales category %d: %w", id, err)
	}
	c.ID, c.OwnerID, c.SourceID = id, owner, source
	c.Key, c.Parent, c.Position, c.Holds, c.Displayed = key, parent, position, holds, displayed
	return c, nil
}

// salesShelves is the tree of one seller's sales categories, by key.
type salesShelves map[string]*SalesCategory

func loadShelves(ctx context.Context, q querier, ownerID int64) (salesShelves, []*SalesCategory, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+salesCategoryColumns+` FROM sales_categories WHERE owner_id = $1`, ownerID)
	if err != nil {
		return nil, nil, fmt.Errorf("sales categories: %w", err)
	}
	defer rows.Close()
	m := salesShelves{}
	var list []*SalesCategory
	for rows.Next() {
		c, err := scanSalesCategory(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("sales categories: %w", err)
		}
		m[c.Key] = c
		list = append(list, c)
	}
	return m, list, rows.Err()
}

// treeOrder sorts categories depth-first: each category is followed by its
// sub-categories, siblings by position, then key. Categories whose parent
// is missing (hand-edited data) come last rather than vanish.
func treeOrder(list []*SalesCategory) []*SalesCategory {
	children := map[string][]*SalesCategory{}
	byKey := map[string]bool{}
	for _, c := range list {
		byKey[c.Key] = true
	}
	for _, c := range list {
		p := c.Parent
		if p != "" && !byKey[p] {
			p = "\x00orphan"
		}
		children[p] = append(children[p], c)
	}
	for _, cs := range children {
		slices.SortFunc(cs, func(a, b *SalesCategory) int {
			if a.Position != b.Position {
				return a.Position - b.Position
			}
			return strings.Compare(a.Key, b.Key)
		})
	}
	out := make([]*SalesCategory, 0, len(list))
	seen := map[string]bool{}
	var walk func(parent string)
	walk = func(parent string) {
		for _, c := range children[parent] {
			if seen[c.Key] {
				continue
			}
			seen[c.Key] = true
			out = append(out, c)
			walk(c.Key)
		}
	}
	walk("")
	walk("\x00orphan")
	for _, c := range list {
		if !seen[c.Key] { // cycles in hand-edited data
			out = append(out, c)
		}
	}
	return out
}

// validateShelf checks c against the other categories of its owner: the
// parent exists and holds categories, and moving c does not put it below
// itself.
func validateShelf(c *catalog.SalesCategory, shelves salesShelves) error {
	err := c.Validate(func(k string) (catalog.Holds, bool) {
		p, ok := shelves[k]
		if !ok || p.Key == c.Key {
			return "", false
		}
		return p.Holds, true
	})
	var f marketplane.FieldErrors
	for p, hops := c.Parent, 0; p != "" && hops <= len(shelves); hops++ {
		if p == c.Key {
			f.Add("parent", "a category cannot move below itself or its own sub-categories")
			break
		}
		next, ok := shelves[p]
		if !ok {
			break
		}
		p = next.Parent
	}
	return invalid("sales category", f, err)
}

// CreateSalesCategory adds a sales category to the catalog of c.OwnerID.
// c.Displayed is its initial display setting; later it changes only through
// SetSalesCategoryDisplayed. Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT,
// EINVALID.
func (db *DB) CreateSalesCategory(ctx context.Context, actor *account.Actor, c *SalesCategory) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, c.OwnerID)
		if err != nil {
			return err
		}
		return db.createSalesCategory(ctx, tx, actor, s, c)
	})
}

// UpdateSalesCategory replaces name, parent, position and what the category
// c.Key of c.OwnerID holds. Its display setting is the owner's own choice
// and stays as it is (SetSalesCategoryDisplayed changes it), so that a sync
// that goes through here never overwrites it. c.Version must be the version
// read. A category with sub-categories keeps holding categories, and one
// that plans are on keeps holding plans. Errors: ENOTFOUND, EFORBIDDEN,
// EINVALID, EPRECONDITION.
func (db *DB) UpdateSalesCategory(ctx context.Context, actor *account.Actor, c *SalesCategory) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, c.OwnerID)
		if err != nil {
			return hideAs(err, "sales category")
		}
		return db.updateSalesCategory(ctx, tx, actor, s, c)
	})
}

// createSalesCategory adds c to the catalog of seller s (c.OwnerID) with
// its display setting.
func (db *DB) createSalesCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, c *SalesCategory) error {
	shelves, _, err := loadShelves(ctx, tx, c.OwnerID)
	if err != nil {
		return err
	}
	if err := invalid("sales category", nil, validateShelf(&c.SalesCategory, shelves),
		checkCategorySource(ctx, tx, "sales_categories", s, c.SourceID, "sales category")); err != nil {
		return err
	}
	if _, ok := shelves[c.Key]; ok {
		return keyTaken("sales category", c.Key)
	}
	body, err := bodyOf(c.SalesCategory)
	if err != nil {
		return err
	}
	now := db.stamp()
	err = tx.QueryRowContext(ctx, `INSERT INTO sales_categories (owner_id, source_id, key, parent_key, position, holds, displayed,
		body, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id`,
		c.OwnerID, nullID(c.SourceID), c.Key, c.Parent, c.Position, string(c.Holds), c.Displayed, body, tv(now)).Scan(&c.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("sales category", c.Key)
		}
		return fmt.Errorf("create sales category: %w", err)
	}
	c.Meta = Meta{Version: 1, CreatedAt: now, UpdatedAt: now}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "sales_category.create", "sales_category", c.ID,
		jsonChanges(nil, c.SalesCategory))
}

// updateSalesCategory replaces name, parent, position and holds of category
// c.Key of seller s, keeping its display setting; c.Version must be the
// version read.
func (db *DB) updateSalesCategory(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, c *SalesCategory) error {
	shelves, _, err := loadShelves(ctx, tx, s.AccountID)
	if err != nil {
		return err
	}
	old, ok := shelves[c.Key]
	if !ok {
		return marketplane.Errorf(marketplane.ENOTFOUND, "sales category not found")
	}
	var f marketplane.FieldErrors
	if old.Holds == catalog.HoldsCategories && c.Holds == catalog.HoldsPlans {
		for _, o := range shelves {
			if o.Parent == c.Key {
				f.Add("holds", "the category has sub-categories; move them first")
				break
			}
		}
	}
	if old.Holds == catalog.HoldsPlans && c.Holds == catalog.HoldsCategories {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans WHERE owner_id = $1 AND `+
			db.jsonListHas("body", "sales_categories", 2), s.AccountID, c.Key).Scan(&n); err != nil {
			return fmt.Errorf("plans on sales category %s: %w", c.Key, err)
		}
		if n > 0 {
			f.Add("holds", fmt.Sprintf("%d plans are on this category; take them off first", n))
		}
	}
	if err := invalid("sales category", f, validateShelf(&c.SalesCategory, shelves)); err != nil {
		return err
	}
	if c.Version != old.Version {
		return staleVersion("sales category", old.Version, c.Version)
	}
	c.ID, c.OwnerID, c.SourceID, c.Displayed = old.ID, old.OwnerID, old.SourceID, old.Displayed
	c.CreatedAt, c.UpdatedAt, c.Version = old.CreatedAt, db.stamp(), old.Version+1
	body, err := bodyOf(c.SalesCategory)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE sales_categories SET parent_key = $1, position = $2, holds = $3, body = $4,
		version = $5, updated_at = $6 WHERE id = $7 AND version = $8`,
		c.Parent, c.Position, string(c.Holds), body, c.Version, tv(c.UpdatedAt), c.ID, old.Version)
	if err != nil {
		return fmt.Errorf("update sales category %s: %w", c.Key, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("sales category", old.Version+1, old.Version)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "sales_category.update", "sales_category", c.ID,
		jsonChanges(old.SalesCategory, c.SalesCategory))
}

// SetSalesCategoryDisplayed sets whether the sales category key of account
// ownerID shows in its panels and store: the owner's own choice, which no
// sync overwrites. Errors: ENOTFOUND, EFORBIDDEN.
func (db *DB) SetSalesCategoryDisplayed(ctx context.Context, actor *account.Actor, ownerID int64, key string, displayed bool) (*SalesCategory, error) {
	var c *SalesCategory
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, ownerID)
		if err != nil {
			return hideAs(err, "sales category")
		}
		c, err = scanSalesCategory(tx.QueryRowContext(ctx, `SELECT `+salesCategoryColumns+` FROM sales_categories
			WHERE owner_id = $1 AND key = $2`, ownerID, key))
		if err != nil {
			return notFound(err, "sales category")
		}
		if c.Displayed == displayed {
			return nil
		}
		c.Displayed, c.Version, c.UpdatedAt = displayed, c.Version+1, db.stamp()
		body, err := bodyOf(c.SalesCategory)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sales_categories SET displayed = $1, body = $2, version = $3, updated_at = $4 WHERE id = $5`,
			displayed, body, c.Version, tv(c.UpdatedAt), c.ID); err != nil {
			return fmt.Errorf("display sales category %s: %w", key, err)
		}
		return db.audit(ctx, tx, actor, s.AccountID, s.Path, "sales_category.display", "sales_category", c.ID,
			map[string]any{"key": key, "displayed": []bool{!displayed, displayed}})
	})
	return c, err
}

// SalesCategories lists the sales categories of account ownerID in tree
// order: depth-first, each category followed by its sub-categories, siblings
// by position.
func (db *DB) SalesCategories(ctx context.Context, actor *account.Actor, ownerID int64) ([]*SalesCategory, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, err
	}
	_, list, err := loadShelves(ctx, db.Read, ownerID)
	if err != nil {
		return nil, err
	}
	return treeOrder(list), nil
}

// SalesCategory returns the sales category key of account ownerID.
func (db *DB) SalesCategory(ctx context.Context, actor *account.Actor, ownerID int64, key string) (*SalesCategory, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, hideAs(err, "sales category")
	}
	c, err := scanSalesCategory(db.Read.QueryRowContext(ctx, `SELECT `+salesCategoryColumns+` FROM sales_categories
		WHERE owner_id = $1 AND key = $2`, ownerID, key))
	if err != nil {
		return nil, notFound(err, "sales category")
	}
	return c, nil
}
