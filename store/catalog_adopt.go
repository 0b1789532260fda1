package store

import (
	"context"
	"database/sql"
	"encoding/json"
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
func (db *DB) adoptCategories(ctx context.Context, conn *sql.Conn, tx *sql.Tx, actor *account.Actor, plans []*catalog.Plan, refs *planRefs, owners map[int64]copyOwner) error {
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

	// The rows to add are collected first and go in with the engine's bulk
	// path (COPY on PostgreSQL), with their audit entries: a first
	// delegation to thousands of resellers adopts categories for every one
	// of them, and a statement per row would cost a round trip each.
	now := db.stamp()
	type adoptedPlanCat struct {
		owner int64
		src   *PlanCategory
	}
	type adoptedSalesCat struct {
		owner int64
		src   *SalesCategory
	}
	var newPlan []adoptedPlanCat
	var newSales []adoptedSalesCat
	for _, o := range sortedKeys(needPlan) {
		parent := owners[o].parentID
		for _, k := range needPlan[o] {
			src := planCats[parent][k]
			if src == nil || planCats[o][k] != nil {
				continue
			}
			newPlan = append(newPlan, adoptedPlanCat{o, src})
			if refs.planCats[o] == nil {
				refs.planCats[o] = map[string]bool{}
			}
			refs.planCats[o][k] = true
		}
	}
	for _, o := range sortedKeys(needSales) {
		parent := owners[o].parentID
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
				newSales = append(newSales, adoptedSalesCat{o, src})
				shelves[o][src.Key] = src // the owner has it now (as far as this batch goes)
				if refs.salesCats[o] == nil {
					refs.salesCats[o] = map[string]catalog.Holds{}
				}
				refs.salesCats[o][src.Key] = src.Holds
			}
		}
	}
	planIDs, err := db.dialect.reserveIDs(ctx, tx, "plan_categories", len(newPlan))
	if err != nil {
		return err
	}
	salesIDs, err := db.dialect.reserveIDs(ctx, tx, "sales_categories", len(newSales))
	if err != nil {
		return err
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "plan_categories",
		[]string{"id", "owner_id", "source_id", "key", "body", "version", "created_at", "updated_at"}, len(newPlan),
		func(i int) ([]any, error) {
			a := newPlan[i]
			c := a.src.PlanCategory
			c.ID, c.OwnerID, c.SourceID = 0, a.owner, a.src.ID
			body, err := bodyOf(c)
			if err != nil {
				return nil, err
			}
			return []any{planIDs[i], a.owner, a.src.ID, c.Key, body, int64(1), now, now}, nil
		}); err != nil {
		return fmt.Errorf("adopt plan categories: %w", err)
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "sales_categories",
		[]string{"id", "owner_id", "source_id", "key", "parent_key", "position", "holds", "displayed", "body", "version", "created_at", "updated_at"},
		len(newSales), func(i int) ([]any, error) {
			a := newSales[i]
			c := a.src.SalesCategory
			c.ID, c.OwnerID, c.SourceID = 0, a.owner, a.src.ID
			body, err := bodyOf(c)
			if err != nil {
				return nil, err
			}
			return []any{salesIDs[i], a.owner, a.src.ID, c.Key, c.Parent, c.Position, string(c.Holds), c.Displayed, body, int64(1), now, now}, nil
		}); err != nil {
		return fmt.Errorf("adopt sales categories: %w", err)
	}
	var userID, keyID, actorAcct any
	if actor != nil && !actor.System {
		userID, keyID, actorAcct = nullID(actor.UserID), nullID(actor.KeyID), nullID(actor.AccountID)
	}
	return db.bulk().insertRows(ctx, conn, tx, "audit_log", auditColumns, len(newPlan)+len(newSales), func(i int) ([]any, error) {
		var owner, id, src int64
		var action, entity, key string
		if i < len(newPlan) {
			a := newPlan[i]
			owner, id, src, key, action, entity = a.owner, planIDs[i], a.src.ID, a.src.Key, "plan_category.adopt", "plan_category"
		} else {
			a := newSales[i-len(newPlan)]
			owner, id, src, key, action, entity = a.owner, salesIDs[i-len(newPlan)], a.src.ID, a.src.Key, "sales_category.adopt", "sales_category"
		}
		ch, err := json.Marshal(map[string]any{"key": key, "source_id": src})
		if err != nil {
			return nil, err
		}
		return []any{now, userID, keyID, actorAcct, owner, owners[owner].path, action, entity, id, string(ch)}, nil
	})
}

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
