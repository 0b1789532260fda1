package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
)

// copyOwner is what adoptCategories needs to know of the owner of a copy.
type copyOwner struct {
	parentID int64
	path     string
}

// adoptCategories gives the owners of delegated copies the categories their
// copies are filed under and they lack: a copy arrives (by delegation or by
// a sync of categories) with its source's category keys, which name the
// parent's categories. Each missing one is copied from the parent's category
// with that key, linked to it by source_id; a sales category comes with the
// ancestors the owner lacks, and with the parent's display setting as its
// first own setting. Keys the parent does not have either are left for
// validation to report. It costs nothing when nothing is missing (refs
// already holds the owners' categories), and refs is updated with what it
// adds.
func (db *DB) adoptCategories(ctx context.Context, tx *sql.Tx, actor *account.Actor, plans []*catalog.Plan, refs *planRefs, owners map[int64]copyOwner) error {
	needPlan, needSales := map[int64][]string{}, map[int64][]string{}
	for _, p := range plans {
		if p.SourceID == 0 {
			continue
		}
		if k := p.PlanCategory; k != "" && !refs.planCats[p.OwnerID][k] && !slices.Contains(needPlan[p.OwnerID], k) {
			needPlan[p.OwnerID] = append(needPlan[p.OwnerID], k)
		}
		for _, k := range p.SalesCategories {
			if _, ok := refs.salesCats[p.OwnerID][k]; !ok && !slices.Contains(needSales[p.OwnerID], k) {
				needSales[p.OwnerID] = append(needSales[p.OwnerID], k)
			}
		}
	}
	if len(needPlan) == 0 && len(needSales) == 0 {
		return nil
	}
	var ids []int64 // the owners in need and their parents
	for _, m := range []map[int64][]string{needPlan, needSales} {
		for o := range m {
			ids = append(ids, o, owners[o].parentID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	planCats := map[int64]map[string]*PlanCategory{}
	rows, err := tx.QueryContext(ctx, `SELECT `+planCategoryColumns+` FROM plan_categories WHERE `+db.anyID("owner_id", 1), db.idsArg(ids))
	if err != nil {
		return fmt.Errorf("categories to adopt: %w", err)
	}
	for rows.Next() {
		c, err := scanPlanCategory(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("categories to adopt: %w", err)
		}
		if planCats[c.OwnerID] == nil {
			planCats[c.OwnerID] = map[string]*PlanCategory{}
		}
		planCats[c.OwnerID][c.Key] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	shelves := map[int64]salesShelves{}
	rows, err = tx.QueryContext(ctx, `SELECT `+salesCategoryColumns+` FROM sales_categories WHERE `+db.anyID("owner_id", 1), db.idsArg(ids))
	if err != nil {
		return fmt.Errorf("categories to adopt: %w", err)
	}
	for rows.Next() {
		c, err := scanSalesCategory(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("categories to adopt: %w", err)
		}
		if shelves[c.OwnerID] == nil {
			shelves[c.OwnerID] = salesShelves{}
		}
		shelves[c.OwnerID][c.Key] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	now := db.stamp()
	for _, o := range sortedKeys(needPlan) {
		own, parent := owners[o], owners[o].parentID
		for _, k := range needPlan[o] {
			src := planCats[parent][k]
			if src == nil || planCats[o][k] != nil {
				continue
			}
			c := &PlanCategory{PlanCategory: src.PlanCategory}
			c.ID, c.OwnerID, c.SourceID = 0, o, src.ID
			body, err := bodyOf(c.PlanCategory)
			if err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO plan_categories (owner_id, source_id, key, body, version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id`, o, src.ID, k, body, tv(now)).Scan(&c.ID); err != nil {
				return fmt.Errorf("adopt plan category %s for account %d: %w", k, o, err)
			}
			if refs.planCats[o] == nil {
				refs.planCats[o] = map[string]bool{}
			}
			refs.planCats[o][k] = true
			if err := db.audit(ctx, tx, actor, o, own.path, "plan_category.adopt", "plan_category", c.ID,
				map[string]any{"key": k, "source_id": src.ID}); err != nil {
				return err
			}
		}
	}
	for _, o := range sortedKeys(needSales) {
		own, parent := owners[o], owners[o].parentID
		if shelves[o] == nil {
			shelves[o] = salesShelves{}
		}
		for _, k := range needSales[o] {
			// The chain from k up to the first ancestor the owner has,
			// added from the top down so that parents come first.
			var chain []*SalesCategory
			for key, hops := k, 0; key != "" && hops <= len(shelves[parent]); hops++ {
				if _, ok := shelves[o][key]; ok {
					break
				}
				src := shelves[parent][key]
				if src == nil {
					chain = nil // the parent lacks it: validation reports the plan's key
					break
				}
				chain = append(chain, src)
				key = src.Parent
			}
			for i := len(chain) - 1; i >= 0; i-- {
				src := chain[i]
				c := &SalesCategory{SalesCategory: src.SalesCategory}
				c.ID, c.OwnerID, c.SourceID = 0, o, src.ID
				body, err := bodyOf(c.SalesCategory)
				if err != nil {
					return err
				}
				if err := tx.QueryRowContext(ctx, `INSERT INTO sales_categories (owner_id, source_id, key, parent_key, position, holds,
					displayed, body, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id`,
					o, src.ID, c.Key, c.Parent, c.Position, string(c.Holds), c.Displayed, body, tv(now)).Scan(&c.ID); err != nil {
					return fmt.Errorf("adopt sales category %s for account %d: %w", c.Key, o, err)
				}
				shelves[o][c.Key] = c
				if refs.salesCats[o] == nil {
					refs.salesCats[o] = map[string]catalog.Holds{}
				}
				refs.salesCats[o][c.Key] = c.Holds
				if err := db.audit(ctx, tx, actor, o, own.path, "sales_category.adopt", "sales_category", c.ID,
					map[string]any{"key": c.Key, "source_id": src.ID}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
