package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

// CopyCheck is a rule a delegated copy must pass against its source when it
// is made or its owner edits it: the delegation package's CheckPrices (no
// price below the owner's cost unless it allows selling at a loss, none
// above the cap from above). The store runs it inside the transaction with
// the source as stored, so the source cannot change between the check and
// the write. Nil checks the catalog rules only.
type CopyCheck func(source, copy *catalog.Plan) error

// planColumns are the columns scanPlan reads, from plans aliased p.
const planColumns = `p.id, p.owner_id, COALESCE(p.source_id, 0), p.root_id, p.key, p.template_key, p.currency,
	p.published, p.changed_upstream, p.body, p.version, p.created_at, p.updated_at`

// planRow is a plan with what the store keeps beside it.
type planRow struct {
	*catalog.Plan
	RootID int64
	Path   string // the owner's path, when the query joined it
}

// scanPlan reads planColumns and then extra. The columns win over the body
// for the fields both hold.
func scanPlan(r scanner, extra ...any) (*planRow, error) {
	var (
		id, owner, source, root, version int64
		key, template, currency, body    string
		published, changed               bool
		row                              planRow
	)
	p := &catalog.Plan{}
	dest := append([]any{&id, &owner, &source, &root, &key, &template, &currency, &published, &changed, &body, &version,
		ts(&p.CreatedAt), ts(&p.UpdatedAt)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), p); err != nil {
		return nil, fmt.Errorf("plan %d: %w", id, err)
	}
	p.ID, p.OwnerID, p.SourceID, p.Version = id, owner, source, version
	p.Key, p.Template, p.Currency, p.Published, p.ChangedUpstream = key, template, currency, published, changed
	row.Plan, row.RootID = p, root
	return &row, nil
}

// loadPlan loads plan id with its owner's path.
func loadPlan(ctx context.Context, q querier, id int64) (*planRow, error) {
	var path string
	row, err := scanPlan(q.QueryRowContext(ctx, `SELECT `+planColumns+`, a.path FROM plans p
		JOIN accounts a ON a.id = p.owner_id WHERE p.id = $1`, id), &path)
	if err != nil {
		return nil, notFound(err, "plan")
	}
	row.Path = path
	return row, nil
}

func scanPlans(rows *sql.Rows, what string) ([]*catalog.Plan, error) {
	defer rows.Close()
	out := []*catalog.Plan{}
	for rows.Next() {
		r, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r.Plan)
	}
	return out, rows.Err()
}

// planRefs is what a batch of plans refers to, loaded in a few queries so
// that Validate's Known functions need no query each.
type planRefs struct {
	resources map[string]catalog.Class
	templates map[string]bool
	planCats  map[int64]map[string]bool
	salesCats map[int64]map[string]catalog.Holds
	plans     map[int64]map[string]bool
}

// loadPlanRefs loads the resource types, templates, categories and plans
// (upgrade paths) that plans name, per owner.
func (db *DB) loadPlanRefs(ctx context.Context, q querier, plans []*catalog.Plan) (*planRefs, error) {
	r := &planRefs{planCats: map[int64]map[string]bool{}, salesCats: map[int64]map[string]catalog.Holds{},
		plans: map[int64]map[string]bool{}}
	var resources, templates, planCats, salesCats, planKeys []string
	var owners []int64
	for _, p := range plans {
		owners = append(owners, p.OwnerID)
		templates = append(templates, p.Template)
		if p.PlanCategory != "" {
			planCats = append(planCats, p.PlanCategory)
		}
		salesCats = append(salesCats, p.SalesCategories...)
		planKeys = append(planKeys, p.UpgradeTo...)
		planKeys = append(planKeys, p.DowngradeTo...)
		for _, rt := range p.Rates {
			if rt.Resource != "" {
				resources = append(resources, rt.Resource)
			}
			for _, part := range rt.Parts {
				resources = append(resources, part.Resource)
			}
		}
	}
	slices.Sort(owners)
	owners = slices.Compact(owners)
	var err error
	if r.resources, err = db.resourceClasses(ctx, q, resources); err != nil {
		return nil, err
	}
	if r.templates, err = db.templateKeys(ctx, q, templates); err != nil {
		return nil, err
	}
	// Keys per owner, for the keys named anywhere in the batch.
	ownedKeys := func(table, extra string, keys []string, add func(owner int64, key, extra string)) error {
		if len(keys) == 0 {
			return nil
		}
		cols := "owner_id, key, ''"
		if extra != "" {
			cols = "owner_id, key, " + extra
		}
		rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+db.anyID("owner_id", 1)+` AND `+db.anyText("key", 2),
			db.idsArg(owners), db.textsArg(uniqueStrings(keys)))
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var owner int64
			var key, x string
			if err := rows.Scan(&owner, &key, &x); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			add(owner, key, x)
		}
		return rows.Err()
	}
	if err := ownedKeys("plan_categories", "", planCats, func(o int64, k, _ string) {
		if r.planCats[o] == nil {
			r.planCats[o] = map[string]bool{}
		}
		r.planCats[o][k] = true
	}); err != nil {
		return nil, err
	}
	if err := ownedKeys("sales_categories", "holds", salesCats, func(o int64, k, h string) {
		if r.salesCats[o] == nil {
			r.salesCats[o] = map[string]catalog.Holds{}
		}
		r.salesCats[o][k] = catalog.Holds(h)
	}); err != nil {
		return nil, err
	}
	if err := ownedKeys("plans", "", planKeys, func(o int64, k, _ string) {
		if r.plans[o] == nil {
			r.plans[o] = map[string]bool{}
		}
		r.plans[o][k] = true
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// known is what Validate may ask about p.
func (r *planRefs) known(p *catalog.Plan) catalog.Known {
	return catalog.Known{
		Resource: func(k string) (catalog.Class, bool) { c, ok := r.resources[k]; return c, ok },
		Template: func(k string) bool { return r.templates[k] },
		PlanCategory: func(k string) bool {
			return r.planCats[p.OwnerID][k]
		},
		SalesCategory: func(k string) bool { _, ok := r.salesCats[p.OwnerID][k]; return ok },
		Plan:          func(k string) bool { return r.plans[p.OwnerID][k] },
	}
}

// pending adds keys to the plans of owner that upgrade paths may name.
func (r *planRefs) pending(owner int64, keys []string) {
	if len(keys) == 0 {
		return
	}
	if r.plans[owner] == nil {
		r.plans[owner] = map[string]bool{}
	}
	for _, k := range keys {
		r.plans[owner][k] = true
	}
}

// check validates p with the catalog's rules and what it refers to: the
// currency is its owner's (currency), its sales categories hold plans, and
// only copies wait for prices of their owner.
func (r *planRefs) check(p *catalog.Plan, currency string) error {
	var f marketplane.FieldErrors
	if p.Currency != currency {
		f.Add("currency", fmt.Sprintf("must be %s, the currency of the plan's owner", currency))
	}
	for i, k := range p.SalesCategories {
		if h, ok := r.salesCats[p.OwnerID][k]; ok && h != catalog.HoldsPlans {
			f.Add(fmt.Sprintf("sales_categories[%d]", i), fmt.Sprintf("sales category %q holds sub-categories, not plans", k))
		}
	}
	if p.SourceID == 0 {
		for i, pe := range p.Periods {
			if pe.Unpriced {
				f.Add(fmt.Sprintf("periods[%d].unpriced", i), "only a delegated copy waits for its owner's prices")
			}
		}
		for i, rt := range p.Rates {
			if rt.Unpriced {
				f.Add(fmt.Sprintf("rates[%d].unpriced", i), "only a delegated copy waits for its owner's prices")
			}
		}
	}
	return invalid("plan", f, p.Validate(r.known(p)))
}

// sameStructure refuses an owner's edit of a copy that changes what the copy
// is made of: the template, billing model, periods and rates follow the
// source and change only by synchronization, so that every period and rate
// of a copy has a cost at its source.
func sameStructure(f *marketplane.FieldErrors, old, p *catalog.Plan) {
	const why = "a delegated copy keeps its source's; it changes by synchronization"
	if p.Template != old.Template {
		f.Add("template", why)
	}
	if p.Billing != old.Billing {
		f.Add("billing", why)
	}
	if len(p.Periods) != len(old.Periods) {
		f.Add("periods", "a delegated copy has its source's periods; they change by synchronization")
	}
	for i, pe := range p.Periods {
		o, ok := old.Period(pe.Key)
		switch {
		case !ok:
			f.Add(fmt.Sprintf("periods[%d].key", i), fmt.Sprintf("the copy has no period %q; periods come from the source", pe.Key))
		case o.Duration != pe.Duration:
			f.Add(fmt.Sprintf("periods[%d].duration", i), why)
		case o.Trial != pe.Trial:
			f.Add(fmt.Sprintf("periods[%d].trial", i), why)
		case o.ConvertsTo != pe.ConvertsTo:
			f.Add(fmt.Sprintf("periods[%d].converts_to", i), why)
		}
	}
	if len(p.Rates) != len(old.Rates) {
		f.Add("rates", "a delegated copy has its source's rates; they change by synchronization")
	}
	for i, r := range p.Rates {
		o, ok := old.Rate(r.Key)
		switch {
		case !ok:
			f.Add(fmt.Sprintf("rates[%d].key", i), fmt.Sprintf("the copy has no rate %q; rates come from the source", r.Key))
		case o.Resource != r.Resource || !slices.Equal(o.Parts, r.Parts):
			f.Add(fmt.Sprintf("rates[%d].resource", i), why)
		}
	}
}

// keyFree checks that no other plan of owner has key.
func keyFree(ctx context.Context, q querier, owner int64, key string, self int64) error {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM plans WHERE owner_id = $1 AND key = $2`, owner, key).Scan(&id)
	switch {
	case err == sql.ErrNoRows:
		return nil
	case err != nil:
		return fmt.Errorf("plan key %s: %w", key, err)
	case id != self:
		return keyTaken("plan", key)
	}
	return nil
}

// insertPlan writes a new plan. An original (rootID 0) is its own root.
func (db *DB) insertPlan(ctx context.Context, tx *sql.Tx, p *catalog.Plan, rootID int64) error {
	body, err := bodyOf(p)
	if err != nil {
		return err
	}
	now := db.stamp()
	err = tx.QueryRowContext(ctx, `INSERT INTO plans (owner_id, source_id, root_id, key, template_key, currency, plan_category,
		published, needs_confirmation, changed_upstream, body, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) RETURNING id`,
		p.OwnerID, nullID(p.SourceID), rootID, p.Key, p.Template, p.Currency, p.PlanCategory,
		p.Published, p.NeedsConfirmation(), p.ChangedUpstream, body, tv(now)).Scan(&p.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("plan", p.Key)
		}
		return fmt.Errorf("insert plan: %w", err)
	}
	if rootID == 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE plans SET root_id = id WHERE id = $1`, p.ID); err != nil {
			return fmt.Errorf("insert plan: %w", err)
		}
	}
	p.Version, p.CreatedAt, p.UpdatedAt = 1, now, now
	return nil
}

// CreatePlan creates an original plan (no source, no price rule) in the
// catalog of p.OwnerID, which must be a seller whose catalog the actor
// manages. The plan's currency is its owner's; its template, resources,
// categories and upgrade paths must exist. Errors: ENOTFOUND, EFORBIDDEN,
// EINVALID (fields, "currency"), ECONFLICT (the key is taken: field "key";
// the owner is a customer). Fills p.ID, p.Version and the timestamps.
func (db *DB) CreatePlan(ctx context.Context, actor *account.Actor, p *catalog.Plan) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, p.OwnerID)
		if err != nil {
			return err
		}
		return db.createPlan(ctx, tx, actor, s, p, nil)
	})
}

// createPlan creates the original plan p in the catalog of seller s
// (p.OwnerID). Upgrade and downgrade paths may name the plans of pending
// besides the plans s holds: the plans the caller creates in the same
// transaction.
func (db *DB) createPlan(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, p *catalog.Plan, pending []string) error {
	var f marketplane.FieldErrors
	if p.SourceID != 0 {
		f.Add("source_id", "an original plan has no source; delegate the source plan to make a copy")
	}
	if p.Rule != nil {
		f.Add("rule", "only a delegated copy has a price rule")
	}
	refs, err := db.loadPlanRefs(ctx, tx, []*catalog.Plan{p})
	if err != nil {
		return err
	}
	refs.pending(p.OwnerID, pending)
	if err := invalid("plan", f, refs.check(p, s.Currency)); err != nil {
		return err
	}
	if err := keyFree(ctx, tx, p.OwnerID, p.Key, 0); err != nil {
		return err
	}
	p.ChangedUpstream = false
	if err := db.insertPlan(ctx, tx, p, 0); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan.create", "plan", p.ID, jsonChanges(nil, p))
}

// InsertCopy creates a delegated copy of plan p.SourceID for reseller
// p.OwnerID: p is the copy fully built (by delegation.Delegate) with its
// price rule. The actor must manage the catalog of the source's owner (the
// seller delegating). The owner must be a reseller directly below the
// source's owner, not cancelled, not holding a copy of the source yet, with
// the copy's currency. The categories the copy is filed under that the
// owner lacks are copied from its parent's (see adoptCategories). check,
// when set, runs against the source as stored. Errors: ENOTFOUND (the
// source), EFORBIDDEN, EINVALID (field "child_id": not a direct child, a
// customer, the source's own owner, cancelled; "currency"; the plan's
// fields), ECONFLICT (a copy exists; the key is taken). Nothing is stored on
// error. Fills p.ID, p.Version and the timestamps.
func (db *DB) InsertCopy(ctx context.Context, actor *account.Actor, p *catalog.Plan, check CopyCheck) error {
	return db.InsertCopies(ctx, actor, []*catalog.Plan{p}, check)
}

// InsertCopies is InsertCopy for many copies at once (delegating plans to
// many children: the demo, the benchmarks, a sync's new plans), all or
// nothing: any refused copy refuses the batch, its error naming the copy's
// index. The batch costs a fixed number of statements and the engine's bulk
// insert (COPY on PostgreSQL), whatever its size.
func (db *DB) InsertCopies(ctx context.Context, actor *account.Actor, plans []*catalog.Plan, check CopyCheck) error {
	if len(plans) == 0 {
		return nil
	}
	// inBatch names copy i in errors of batches of more than one.
	inBatch := func(i int, err error) error {
		if len(plans) == 1 {
			return err
		}
		return fmt.Errorf("copy %d of the batch: %w", i, err)
	}
	var sourceIDs, ownerIDs []int64
	type pair struct{ a, b int64 }
	pairs := map[pair]int{}
	keyList := []string{}
	for i, p := range plans {
		if p.SourceID == 0 {
			return inBatch(i, catalogFieldErr("delegation", "source_id", "is required: a copy links to its source plan"))
		}
		if j, dup := pairs[pair{p.OwnerID, p.SourceID}]; dup {
			return marketplane.Errorf(marketplane.ECONFLICT, "copies %d and %d of the batch copy the same plan for the same account", j, i)
		}
		pairs[pair{p.OwnerID, p.SourceID}] = i
		sourceIDs, ownerIDs, keyList = append(sourceIDs, p.SourceID), append(ownerIDs, p.OwnerID), append(keyList, p.Key)
	}

	// One connection carries the transaction, so that PostgreSQL's COPY
	// runs inside it.
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("insert copies: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert copies: begin: %w", err)
	}
	defer tx.Rollback()

	sources := map[int64]*planRow{}
	rows, err := tx.QueryContext(ctx, `SELECT `+planColumns+`, a.path FROM plans p JOIN accounts a ON a.id = p.owner_id
		WHERE `+db.anyID("p.id", 1), db.idsArg(sourceIDs))
	if err != nil {
		return fmt.Errorf("insert copies: sources: %w", err)
	}
	for rows.Next() {
		var path string
		r, err := scanPlan(rows, &path)
		if err != nil {
			rows.Close()
			return fmt.Errorf("insert copies: sources: %w", err)
		}
		r.Path = path
		sources[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert copies: sources: %w", err)
	}
	authorized := map[int64]bool{}
	for i, p := range plans {
		src := sources[p.SourceID]
		if src == nil {
			return inBatch(i, marketplane.Errorf(marketplane.ENOTFOUND, "plan not found"))
		}
		if !authorized[src.OwnerID] {
			if err := account.Authorize(actor, account.ManageCatalog, account.Target{AccountID: src.OwnerID, Path: src.Path}); err != nil {
				return inBatch(i, hideAs(err, "plan"))
			}
			authorized[src.OwnerID] = true
		}
	}

	children := map[int64]*seller{}
	rows, err = tx.QueryContext(ctx, `SELECT id, path, COALESCE(parent_id, 0), kind, currency, status FROM accounts WHERE `+
		db.anyID("id", 1), db.idsArg(ownerIDs))
	if err != nil {
		return fmt.Errorf("insert copies: accounts: %w", err)
	}
	for rows.Next() {
		s := &seller{}
		if err := rows.Scan(&s.AccountID, &s.Path, &s.ParentID, &s.Kind, &s.Currency, &s.Status); err != nil {
			rows.Close()
			return fmt.Errorf("insert copies: accounts: %w", err)
		}
		children[s.AccountID] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert copies: accounts: %w", err)
	}
	owners := map[int64]copyOwner{}
	for i, p := range plans {
		src, child := sources[p.SourceID], children[p.OwnerID]
		var f marketplane.FieldErrors
		switch {
		case p.OwnerID == src.OwnerID:
			f.Add("child_id", "is the plan's own owner; delegate to a reseller below it")
		case child == nil || child.ParentID != src.OwnerID:
			f.Add("child_id", "must be a reseller directly below the plan's owner")
		case child.Kind != account.Reseller:
			f.Add("child_id", "is a customer; plans are delegated to resellers")
		case child.Status == account.StatusCancelled:
			f.Add("child_id", "is cancelled")
		}
		if err := f.Err("delegation"); err != nil {
			return inBatch(i, err)
		}
		owners[p.OwnerID] = copyOwner{parentID: child.ParentID, path: child.Path}
	}
	// Copies and keys that exist already.
	taken := map[pair]int64{}
	usedKeys := map[int64]map[string]bool{}
	rows, err = tx.QueryContext(ctx, `SELECT id, owner_id, COALESCE(source_id, 0), key FROM plans WHERE `+db.anyID("owner_id", 1)+
		` AND (`+db.anyID("source_id", 2)+` OR `+db.anyText("key", 3)+`)`,
		db.idsArg(ownerIDs), db.idsArg(sourceIDs), db.textsArg(uniqueStrings(keyList)))
	if err != nil {
		return fmt.Errorf("insert copies: existing copies: %w", err)
	}
	for rows.Next() {
		var id, owner, source int64
		var key string
		if err := rows.Scan(&id, &owner, &source, &key); err != nil {
			rows.Close()
			return fmt.Errorf("insert copies: existing copies: %w", err)
		}
		taken[pair{owner, source}] = id
		if usedKeys[owner] == nil {
			usedKeys[owner] = map[string]bool{}
		}
		usedKeys[owner][key] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert copies: existing copies: %w", err)
	}
	for i, p := range plans {
		if id, ok := taken[pair{p.OwnerID, p.SourceID}]; ok {
			return inBatch(i, marketplane.Errorf(marketplane.ECONFLICT, "account %d holds a copy of plan %d already (plan %d)", p.OwnerID, p.SourceID, id))
		}
	}

	refs, err := db.loadPlanRefs(ctx, tx, plans)
	if err != nil {
		return err
	}
	// Upgrade and downgrade paths may name plans that arrive in the same
	// batch (office-basic and office-pro name each other); paths to plans the
	// reseller does not hold at all are dropped from its copy, since its
	// customers could not move to them.
	for _, p := range plans {
		refs.pending(p.OwnerID, []string{p.Key})
	}
	for _, p := range plans {
		held := func(k string) bool { return refs.plans[p.OwnerID][k] }
		p.UpgradeTo = slices.DeleteFunc(p.UpgradeTo, func(k string) bool { return !held(k) })
		p.DowngradeTo = slices.DeleteFunc(p.DowngradeTo, func(k string) bool { return !held(k) })
	}
	if err := db.adoptCategories(ctx, conn, tx, actor, plans, refs, owners); err != nil {
		return err
	}
	for i, p := range plans {
		if err := refs.check(p, children[p.OwnerID].Currency); err != nil {
			return inBatch(i, err)
		}
		if check != nil {
			if err := check(sources[p.SourceID].Plan, p); err != nil {
				return inBatch(i, err)
			}
		}
		if usedKeys[p.OwnerID][p.Key] {
			return inBatch(i, keyTaken("plan", p.Key))
		}
		if usedKeys[p.OwnerID] == nil {
			usedKeys[p.OwnerID] = map[string]bool{}
		}
		usedKeys[p.OwnerID][p.Key] = true // a second copy of the batch with the key conflicts
	}
	if err := db.fillPaths(ctx, tx, actor, plans); err != nil {
		return err
	}

	ids, err := db.dialect.reserveIDs(ctx, tx, "plans", len(plans))
	if err != nil {
		return err
	}
	if len(ids) != len(plans) {
		return fmt.Errorf("insert copies: reserved %d ids for %d copies", len(ids), len(plans))
	}
	now := db.stamp()
	bodies := make([]string, len(plans))
	for i, p := range plans {
		if bodies[i], err = bodyOf(p); err != nil {
			return err
		}
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "plans", copyColumns, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		return []any{ids[i], p.OwnerID, p.SourceID, sources[p.SourceID].RootID, p.Key, p.Template, p.Currency, p.PlanCategory,
			p.Published, p.NeedsConfirmation(), p.ChangedUpstream, bodies[i], int64(1), now, now}, nil
	}); err != nil {
		if isUniqueViolation(err) {
			return marketplane.Errorf(marketplane.ECONFLICT, "a copy of the batch exists already")
		}
		return fmt.Errorf("insert copies: %w", err)
	}
	var userID, keyID, actorAcct any
	if actor != nil && !actor.System {
		userID, keyID, actorAcct = nullID(actor.UserID), nullID(actor.KeyID), nullID(actor.AccountID)
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "audit_log", auditColumns, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		ch, err := json.Marshal(map[string]any{"source_id": p.SourceID, "key": p.Key, "rule": p.Rule, "published": p.Published})
		if err != nil {
			return nil, err
		}
		return []any{now, userID, keyID, actorAcct, p.OwnerID, children[p.OwnerID].Path, "plan.delegate", "plan", ids[i], string(ch)}, nil
	}); err != nil {
		return fmt.Errorf("insert copies: audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert copies: commit: %w", err)
	}
	for i, p := range plans {
		p.ID, p.Version, p.CreatedAt, p.UpdatedAt = ids[i], 1, now, now
	}
	return nil
}

// fillPaths gives the copies that the owners of plans (copies about to be
// inserted) hold already the paths of their sources to the arriving plans
// (delegation.FillPaths): the copy of A gets A → B when the copy of B
// arrives, by delegation or by a sync's new plans. The owners' copies are
// listed in one query and their sources read once each; only the copies
// that change are read and written.
func (db *DB) fillPaths(ctx context.Context, tx *sql.Tx, actor *account.Actor, plans []*catalog.Plan) error {
	arrived := map[int64][]string{}
	var owners []int64
	for _, p := range plans {
		if arrived[p.OwnerID] == nil {
			owners = append(owners, p.OwnerID)
		}
		arrived[p.OwnerID] = append(arrived[p.OwnerID], p.Key)
	}
	type held struct{ id, owner, source int64 }
	copies, err := queryAll(ctx, tx, func(r scanner) (held, error) {
		var h held
		return h, r.Scan(&h.id, &h.owner, &h.source)
	}, `SELECT id, owner_id, source_id FROM plans WHERE `+db.anyID("owner_id", 1)+` AND source_id IS NOT NULL ORDER BY id`,
		db.idsArg(sortedIDs(owners)))
	if err != nil {
		return fmt.Errorf("paths of copies: %w", err)
	}
	if actor == nil {
		actor = account.SystemActor()
	}
	sources := map[int64]*planRow{}
	for _, h := range copies {
		src, ok := sources[h.source]
		if !ok {
			if src, err = loadPlan(ctx, tx, h.source); err != nil {
				return fmt.Errorf("paths of copy %d: %w", h.id, err)
			}
			sources[h.source] = src
		}
		names := func(keys []string) bool {
			return slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(arrived[h.owner], k) })
		}
		if !names(src.UpgradeTo) && !names(src.DowngradeTo) {
			continue
		}
		cp, err := loadPlan(ctx, tx, h.id)
		if err != nil {
			return fmt.Errorf("paths of copy %d: %w", h.id, err)
		}
		old := cp.Plan.Clone()
		if !delegation.FillPaths(src.Plan, cp.Plan, arrived[h.owner]) {
			continue
		}
		body, err := bodyOf(cp.Plan)
		if err != nil {
			return err
		}
		cp.Version, cp.UpdatedAt = old.Version+1, db.stamp()
		if _, err := tx.ExecContext(ctx, `UPDATE plans SET body = $1, version = $2, updated_at = $3 WHERE id = $4`,
			body, cp.Version, tv(cp.UpdatedAt), cp.ID); err != nil {
			return fmt.Errorf("paths of copy %d: %w", h.id, err)
		}
		if err := db.audit(ctx, tx, actor, cp.OwnerID, cp.Path, "plan.update", "plan", cp.ID, jsonChanges(old, cp.Plan)); err != nil {
			return err
		}
	}
	return nil
}

// copyColumns are the columns InsertCopies fills.
var copyColumns = []string{"id", "owner_id", "source_id", "root_id", "key", "template_key", "currency", "plan_category",
	"published", "needs_confirmation", "changed_upstream", "body", "version", "created_at", "updated_at"}

// Plan returns plan id if the actor may view its owner's catalog.
func (db *DB) Plan(ctx context.Context, actor *account.Actor, id int64) (*catalog.Plan, error) {
	r, err := loadPlan(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, account.ViewCatalog, account.Target{AccountID: r.OwnerID, Path: r.Path}); err != nil {
		return nil, hideAs(err, "plan")
	}
	return r.Plan, nil
}

// PlanByKey returns the plan with key of account ownerID.
func (db *DB) PlanByKey(ctx context.Context, actor *account.Actor, ownerID int64, key string) (*catalog.Plan, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, hideAs(err, "plan")
	}
	r, err := scanPlan(db.Read.QueryRowContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE p.owner_id = $1 AND p.key = $2`, ownerID, key))
	if err != nil {
		return nil, notFound(err, "plan")
	}
	return r.Plan, nil
}

// PlanFilter selects plans of one owner. Pages are in key order.
type PlanFilter struct {
	// Published selects published (true) or unpublished (false) plans;
	// nil selects both.
	Published *bool
	// OnSale selects plans customers can buy: published and not waiting
	// for their owner's confirmation of prices.
	OnSale        bool
	Template      string
	PlanCategory  string
	SalesCategory string
	// After is the cursor: the key of the last plan of the previous page.
	After string
	Limit int
}

// ListPlans lists the plans of account ownerID. The actor needs to view its
// catalog.
func (db *DB) ListPlans(ctx context.Context, actor *account.Actor, ownerID int64, f PlanFilter) ([]*catalog.Plan, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, ownerID); err != nil {
		return nil, err
	}
	return db.listPlans(ctx, ownerID, f)
}

func (db *DB) listPlans(ctx context.Context, ownerID int64, f PlanFilter) ([]*catalog.Plan, error) {
	// Optional conditions are added only when set; see AuditLog.
	q := `SELECT ` + planColumns + ` FROM plans p WHERE p.owner_id = $1`
	args := []any{ownerID}
	if f.Published != nil {
		args = append(args, *f.Published)
		q += fmt.Sprintf(" AND p.published = $%d", len(args))
	}
	if f.OnSale {
		args = append(args, true, false)
		q += fmt.Sprintf(" AND p.published = $%d AND p.needs_confirmation = $%d", len(args)-1, len(args))
	}
	if f.Template != "" {
		args = append(args, f.Template)
		q += fmt.Sprintf(" AND p.template_key = $%d", len(args))
	}
	if f.PlanCategory != "" {
		args = append(args, f.PlanCategory)
		q += fmt.Sprintf(" AND p.plan_category = $%d", len(args))
	}
	if f.SalesCategory != "" {
		args = append(args, f.SalesCategory)
		q += " AND " + db.jsonListHas("p.body", "sales_categories", len(args))
	}
	if f.After != "" {
		args = append(args, f.After)
		q += fmt.Sprintf(" AND p.key > $%d", len(args))
	}
	args = append(args, clampLimit(f.Limit))
	q += fmt.Sprintf(" ORDER BY p.key LIMIT $%d", len(args))
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	return scanPlans(rows, "list plans")
}

// UpdatePlan saves p over the stored plan p.ID; p.Version must be the
// version read (EPRECONDITION otherwise). Owner, source and the
// changed-upstream flag stay as stored. An original takes every field; a
// delegated copy is its owner's to edit except for what it is made of
// (template, billing model, periods, rates: they follow the source by
// synchronization), and check, when set, runs against the source (the
// delegation price rules: the caller plugs delegation.CheckPrices in; the
// store does not know them). A copy's owner confirms prices that arrived
// unpriced by saving them with Unpriced false. Errors: ENOTFOUND,
// EFORBIDDEN, EINVALID, ECONFLICT (key), EPRECONDITION.
func (db *DB) UpdatePlan(ctx context.Context, actor *account.Actor, p *catalog.Plan, check CopyCheck) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := loadPlan(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, old.OwnerID)
		if err != nil {
			return hideAs(err, "plan")
		}
		return db.updatePlan(ctx, tx, actor, s, old.Plan, p, check, nil)
	})
}

// updatePlan saves p over old, the plan p.ID of seller s as read in tx, as
// UpdatePlan does (check runs on copies); pending is as for createPlan. The
// caller loads old and knows it is s's: UpdatePlan authorizes its owner,
// the import finds it in the catalog of s.
func (db *DB) updatePlan(ctx context.Context, tx *sql.Tx, actor *account.Actor, s *seller, old, p *catalog.Plan, check CopyCheck, pending []string) error {
	if p.Version != old.Version {
		return staleVersion("plan", old.Version, p.Version)
	}
	p.OwnerID, p.SourceID, p.ChangedUpstream, p.CreatedAt = old.OwnerID, old.SourceID, old.ChangedUpstream, old.CreatedAt
	var f marketplane.FieldErrors
	if old.SourceID == 0 && p.Rule != nil {
		f.Add("rule", "only a delegated copy has a price rule")
	}
	if old.SourceID != 0 {
		sameStructure(&f, old, p)
	}
	refs, err := db.loadPlanRefs(ctx, tx, []*catalog.Plan{p})
	if err != nil {
		return err
	}
	refs.pending(p.OwnerID, pending)
	if err := invalid("plan", f, refs.check(p, s.Currency)); err != nil {
		return err
	}
	if old.SourceID != 0 && check != nil {
		src, err := loadPlan(ctx, tx, old.SourceID)
		if err != nil {
			return err
		}
		if err := check(src.Plan, p); err != nil {
			return err
		}
	}
	if p.Key != old.Key {
		if err := keyFree(ctx, tx, p.OwnerID, p.Key, p.ID); err != nil {
			return err
		}
		if err := notAPath(ctx, tx, old.OwnerID, old.ID, old.Key, "renamed"); err != nil {
			return err
		}
	}
	body, err := bodyOf(p)
	if err != nil {
		return err
	}
	p.Version, p.UpdatedAt = old.Version+1, db.stamp()
	res, err := tx.ExecContext(ctx, `UPDATE plans SET key = $1, template_key = $2, currency = $3, plan_category = $4,
		published = $5, needs_confirmation = $6, body = $7, version = $8, updated_at = $9 WHERE id = $10 AND version = $11`,
		p.Key, p.Template, p.Currency, p.PlanCategory, p.Published, p.NeedsConfirmation(), body, p.Version, tv(p.UpdatedAt),
		p.ID, old.Version)
	if err != nil {
		if isUniqueViolation(err) {
			return keyTaken("plan", p.Key)
		}
		return fmt.Errorf("update plan %d: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return staleVersion("plan", old.Version+1, old.Version)
	}
	return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan.update", "plan", p.ID, jsonChanges(old, p))
}

// notAPath refuses (ECONFLICT) to rename or delete plan id, key of owner,
// while other plans of the owner list it as an upgrade or downgrade: their
// paths name plans by key, and would point at nothing. The owner's plans
// are few (its own catalog), so their bodies are read here rather than
// searched with each engine's JSON functions.
func notAPath(ctx context.Context, tx *sql.Tx, owner, id int64, key, done string) error {
	type paths struct {
		UpgradeTo   []string `json:"upgrade_to"`
		DowngradeTo []string `json:"downgrade_to"`
	}
	type named struct {
		key string
		paths
	}
	plans, err := queryAll(ctx, tx, func(r scanner) (named, error) {
		var n named
		var body string
		if err := r.Scan(&n.key, &body); err != nil {
			return n, err
		}
		return n, json.Unmarshal([]byte(body), &n.paths)
	}, `SELECT key, body FROM plans WHERE owner_id = $1 AND id <> $2 ORDER BY key`, owner, id)
	if err != nil {
		return fmt.Errorf("plans naming %s: %w", key, err)
	}
	var referrers []string
	for _, n := range plans {
		if slices.Contains(n.UpgradeTo, key) || slices.Contains(n.DowngradeTo, key) {
			referrers = append(referrers, n.key)
		}
	}
	if len(referrers) > 0 {
		return marketplane.Errorf(marketplane.ECONFLICT,
			"plan %s cannot be %s: plans %s list it as an upgrade or downgrade; change them first", key, done, strings.Join(referrers, ", "))
	}
	return nil
}

// DeletePlan deletes plan id with its change log and sync runs. A plan with
// delegated copies is refused (ECONFLICT): the copies link to it, and
// resellers sell them.
func (db *DB) DeletePlan(ctx context.Context, actor *account.Actor, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := loadPlan(ctx, tx, id)
		if err != nil {
			return err
		}
		s, err := db.sellerFor(ctx, tx, actor, account.ManageCatalog, old.OwnerID)
		if err != nil {
			return hideAs(err, "plan")
		}
		var copies int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plans WHERE source_id = $1`, id).Scan(&copies); err != nil {
			return fmt.Errorf("copies of plan %d: %w", id, err)
		}
		if copies > 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "plan %d has %d delegated copies; delete the copies first", id, copies)
		}
		if err := notAPath(ctx, tx, old.OwnerID, id, old.Key, "deleted"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plans WHERE id = $1`, id); err != nil {
			if isForeignKeyViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "plan %d is still referenced", id)
			}
			return fmt.Errorf("delete plan %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, s.AccountID, s.Path, "plan.delete", "plan", id,
			map[string]any{"key": old.Key, "source_id": old.SourceID})
	})
}

// Copies lists the direct copies of plan sourceID (the copies its owner's
// child resellers hold), by id after afterID. The actor needs to view the
// catalog of the source's owner: a seller sees what became of the plans it
// delegated.
func (db *DB) Copies(ctx context.Context, actor *account.Actor, sourceID, afterID int64, limit int) ([]*catalog.Plan, error) {
	src, err := loadPlan(ctx, db.Read, sourceID)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, account.ViewCatalog, account.Target{AccountID: src.OwnerID, Path: src.Path}); err != nil {
		return nil, hideAs(err, "plan")
	}
	return db.CopiesBatch(ctx, sourceID, afterID, limit)
}

// CopiesBatch returns up to limit (at most 500) direct copies of plan
// sourceID with ids above afterID, in id order (system use: the sync
// engine, which authorized its caller at its start, walks the copies batch
// by batch with the last id as cursor).
func (db *DB) CopiesBatch(ctx context.Context, sourceID, afterID int64, limit int) ([]*catalog.Plan, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE p.source_id = $1 AND p.id > $2
		ORDER BY p.id LIMIT $3`, sourceID, afterID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("copies of plan %d: %w", sourceID, err)
	}
	return scanPlans(rows, "copies")
}

// CopiesOfBatch is CopiesBatch for the copies of many sources at once (a
// level of the tree: the copies of every copy synced at the level above),
// in id order after afterID (system use).
func (db *DB) CopiesOfBatch(ctx context.Context, sourceIDs []int64, afterID int64, limit int) ([]*catalog.Plan, error) {
	if len(sourceIDs) == 0 {
		return []*catalog.Plan{}, nil
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE `+db.anyID("p.source_id", 1)+
		` AND p.id > $2 ORDER BY p.id LIMIT $3`, db.idsArg(sourceIDs), afterID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("copies: %w", err)
	}
	return scanPlans(rows, "copies")
}

// PlansByIDs loads many plans at once, keyed by id; missing ids are left out
// (system use: the sync engine loads the sources of a batch of copies).
func (db *DB) PlansByIDs(ctx context.Context, ids []int64) (map[int64]*catalog.Plan, error) {
	out := make(map[int64]*catalog.Plan, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT `+planColumns+` FROM plans p WHERE `+db.anyID("p.id", 1), db.idsArg(ids))
	if err != nil {
		return nil, fmt.Errorf("plans by ids: %w", err)
	}
	list, err := scanPlans(rows, "plans by ids")
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		out[p.ID] = p
	}
	return out, nil
}

// mayBuyFrom decides whether actor may see what vendor v sells: those who
// see v's catalog anyway (v itself, accounts above it with reach), and v's
// customers, the accounts directly below it that buy.
func (db *DB) mayBuyFrom(ctx context.Context, q querier, actor *account.Actor, v account.Target) error {
	err := account.Authorize(actor, account.ViewCatalog, v)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return err
	}
	if actor.AccountPath != "" && parentPath(actor.AccountPath) == v.Path {
		var kind account.Kind
		if e := q.QueryRowContext(ctx, `SELECT kind FROM accounts WHERE id = $1`, actor.AccountID).Scan(&kind); e == nil && kind == account.Customer {
			return nil
		}
	}
	return err
}

// PlansForSale lists the plans vendorID sells now: published and not
// waiting for their owner's prices (f.OnSale is implied; f.Published is
// ignored). It is open to the vendor (and the accounts above it that see
// its catalog) and to the vendor's customers; anyone else gets ENOTFOUND.
func (db *DB) PlansForSale(ctx context.Context, actor *account.Actor, vendorID int64, f PlanFilter) ([]*catalog.Plan, error) {
	v, err := loadSeller(ctx, db.Read, actor, vendorID)
	if err != nil {
		return nil, err
	}
	if err := db.mayBuyFrom(ctx, db.Read, actor, v.Target); err != nil {
		return nil, err
	}
	f.OnSale, f.Published = true, nil
	return db.listPlans(ctx, vendorID, f)
}

// PlanForSale returns plan id if it is on sale and the actor may buy from
// its owner (see PlansForSale); otherwise ENOTFOUND.
func (db *DB) PlanForSale(ctx context.Context, actor *account.Actor, id int64) (*catalog.Plan, error) {
	r, err := loadPlan(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if err := db.mayBuyFrom(ctx, db.Read, actor, account.Target{AccountID: r.OwnerID, Path: r.Path}); err != nil {
		return nil, hideAs(err, "plan")
	}
	if !r.OnSale() {
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "plan not found")
	}
	return r.Plan, nil
}
