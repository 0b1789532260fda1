package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

// SyncItem is what a sync does (or would do) to one copy.
type SyncItem struct {
	PlanID  int64
	OwnerID int64
	Depth   int // 1 for the direct copies of the synced plan
	// NewCopy is set when the item is a copy the sync creates (option
	// new_plans); then Changes is empty.
	NewCopy bool
	Changes []delegation.Change
}

// syncBatch is how many copies one batch reads, computes and saves. Each
// batch is one transaction: copies are saved whole or not at all.
const syncBatch = 500

// syncWalk walks the copies of a plan level by level down the tree and
// syncs each copy from its (already synced) source. The same walk previews
// (apply false: nothing is written, the synced sources stay in memory) and
// applies (each batch saved in one transaction), so that a preview shows
// exactly what an apply does.
type syncWalk struct {
	db       *DB
	opts     delegation.Options
	oneLevel bool
	apply    bool
	run      *SyncRun
	emit     func(SyncItem) error
}

// PreviewSync computes what syncing plan sourceID's copies with opts would
// change, copy by copy down the tree, without changing anything; emit gets
// every copy that a change (applied or skipped) touches. The actor must
// manage the catalog of the plan's owner.
func (db *DB) PreviewSync(ctx context.Context, actor *account.Actor, sourceID int64, opts delegation.Options, oneLevel bool, emit func(SyncItem) error) error {
	src, err := loadPlan(ctx, db.Read, sourceID)
	if err != nil {
		return err
	}
	if err := account.Authorize(actor, account.ManageCatalog, account.Target{AccountID: src.OwnerID, Path: src.Path}); err != nil {
		return hideAs(err, "plan")
	}
	w := &syncWalk{db: db, opts: opts, oneLevel: oneLevel, emit: emit}
	return w.walk(ctx, src.Plan)
}

// RunSync applies sync run id (made by CreateSyncRun; the task manager calls
// this). It is resumable by construction: syncing a copy that is already in
// step changes nothing, so a run interrupted half-way and started again
// finds the saved batches in step and carries on with the rest. emit may be
// nil.
func (db *DB) RunSync(ctx context.Context, id int64, emit func(SyncItem) error) (*SyncRun, error) {
	run, err := db.SyncRun(ctx, account.SystemActor(), id)
	if err != nil {
		return nil, err
	}
	if run.Status.Finished() {
		return run, nil
	}
	opts, err := delegation.ParseOptions(run.Options)
	if err != nil {
		return nil, err
	}
	src, err := loadPlan(ctx, db.Read, run.SourcePlanID)
	if err != nil {
		return nil, err
	}
	run.Status = SyncRunning
	if err := db.UpdateSyncRun(ctx, run); err != nil {
		return nil, err
	}
	if emit == nil {
		emit = func(SyncItem) error { return nil }
	}
	w := &syncWalk{db: db, opts: opts, oneLevel: run.OneLevel, apply: true, run: run, emit: emit}
	if err := w.walk(ctx, src.Plan); err != nil {
		// An interruption (shutdown, timeout) or a copy edited by its owner
		// meanwhile is worth another try: the run stays running and the
		// task's retry walks again, finding the saved batches in step.
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			marketplane.ErrorCode(err) == marketplane.EPRECONDITION {
			return run, fmt.Errorf("sync run %d interrupted, to be resumed: %w", id, err)
		}
		// The stored message is what users of the run see: internal
		// details stay in the task's error log.
		run.Status, run.Error = SyncFailed, marketplane.ErrorMessage(err)
		if uerr := db.UpdateSyncRun(context.WithoutCancel(ctx), run); uerr != nil {
			return run, fmt.Errorf("sync run %d: %w (and recording the failure: %v)", id, err, uerr)
		}
		return run, fmt.Errorf("sync run %d: %w", id, err)
	}
	// The synced plan's own copies now carry what reached it: it is no
	// longer "changed upstream, not yet propagated".
	if src.ChangedUpstream && !run.OneLevel {
		p := src.Plan.Clone()
		p.ChangedUpstream = false
		if err := db.SaveCopies(ctx, []*catalog.Plan{p}, nil, nil); err != nil {
			return run, err
		}
	}
	run.Status = SyncCompleted
	if err := db.UpdateSyncRun(ctx, run); err != nil {
		return run, err
	}
	return run, nil
}

func (w *syncWalk) walk(ctx context.Context, root *catalog.Plan) error {
	level := []*catalog.Plan{root}
	for depth := 1; len(level) > 0; depth++ {
		if w.opts[delegation.OptNewPlans] {
			if err := w.newPlans(ctx, level, depth); err != nil {
				return err
			}
		}
		next, err := w.level(ctx, level, depth)
		if err != nil {
			return err
		}
		if w.oneLevel {
			return nil
		}
		level = next
	}
	return nil
}

// level syncs the copies of the sources of one level and returns the synced
// copies that have copies of their own (the sources of the next level).
func (w *syncWalk) level(ctx context.Context, sources []*catalog.Plan, depth int) ([]*catalog.Plan, error) {
	byID := make(map[int64]*catalog.Plan, len(sources))
	for _, s := range sources {
		byID[s.ID] = s
	}
	var next []*catalog.Plan
	for start := 0; start < len(sources); start += syncBatch {
		chunk := sources[start:min(start+syncBatch, len(sources))]
		ids := make([]int64, len(chunk))
		for i, s := range chunk {
			ids[i] = s.ID
		}
		var after int64
		for {
			batch, err := w.db.CopiesOfBatch(ctx, ids, after, syncBatch)
			if err != nil {
				return nil, err
			}
			if len(batch) == 0 {
				break
			}
			after = batch[len(batch)-1].ID
			synced, err := w.batch(ctx, batch, byID, depth)
			if err != nil {
				return nil, err
			}
			if w.oneLevel {
				continue
			}
			parents, err := w.db.sourcesWithCopies(ctx, synced)
			if err != nil {
				return nil, err
			}
			for _, p := range synced {
				if parents[p.ID] {
					next = append(next, p)
				}
			}
		}
	}
	return next, nil
}

// batch syncs one batch of copies, saves the changed ones (when applying)
// and returns the copies through which the sync cascades further.
func (w *syncWalk) batch(ctx context.Context, batch []*catalog.Plan, sources map[int64]*catalog.Plan, depth int) ([]*catalog.Plan, error) {
	owners := make([]int64, len(batch))
	for i, c := range batch {
		owners[i] = c.OwnerID
	}
	terms, err := w.db.DelegationTermsOf(ctx, owners)
	if err != nil {
		return nil, err
	}
	var changed, cascade []*catalog.Plan
	var records []PlanChange
	for _, c := range batch {
		src := sources[c.SourceID]
		got, changes, err := delegation.Sync(src, c, w.opts, terms[c.OwnerID])
		if err != nil {
			return nil, fmt.Errorf("plan %d: %w", c.ID, err)
		}
		applied := 0
		for _, ch := range changes {
			if ch.Applied() {
				applied++
				records = append(records, PlanChange{PlanID: c.ID, Kind: ChangeSync, Field: ch.Field, Old: ch.Old, New: ch.New, Effective: ch.Effective})
			}
		}
		if w.oneLevel && applied > 0 && !got.ChangedUpstream {
			got.ChangedUpstream = true
			changes = append(changes, delegation.Change{Field: "changed_upstream", Old: "false", New: "true", Effective: delegation.EffectiveNone})
		}
		if len(changes) > 0 {
			if err := w.emit(SyncItem{PlanID: c.ID, OwnerID: c.OwnerID, Depth: depth, Changes: changes}); err != nil {
				return nil, err
			}
		}
		if applied > 0 || got.ChangedUpstream != c.ChangedUpstream {
			changed = append(changed, got)
		}
		if !terms[c.OwnerID].ProhibitCascade {
			cascade = append(cascade, got)
		}
	}
	if w.apply && w.opts[delegation.OptCategories] {
		var owners []int64
		for _, c := range batch {
			if !terms[c.OwnerID].Restricted(delegation.RestrictPlanCategories) {
				owners = append(owners, c.OwnerID)
			}
		}
		if err := w.db.syncPlanCategories(ctx, owners); err != nil {
			return nil, err
		}
	}
	if w.apply && len(changed) > 0 {
		if w.run != nil {
			w.run.CopiesChanged += len(changed)
			w.run.Changes += len(records)
			w.run.Cursor = fmt.Sprintf("depth %d, copy %d", depth, batch[len(batch)-1].ID)
		}
		if err := w.db.SaveCopies(ctx, changed, records, w.run); err != nil {
			return nil, err
		}
	}
	return cascade, nil
}

// newPlans delegates each source of a level to the children of its owner
// that sell the same service (hold a copy of another plan of the same
// template) but not this plan yet, with the rule of that other copy.
func (w *syncWalk) newPlans(ctx context.Context, sources []*catalog.Plan, depth int) error {
	for _, src := range sources {
		rows, err := w.db.Read.QueryContext(ctx, `SELECT c.owner_id, MIN(c.id) FROM plans c JOIN plans s ON s.id = c.source_id
			WHERE s.owner_id = $1 AND s.template_key = $2 AND s.id <> $3
			AND NOT EXISTS (SELECT 1 FROM plans x WHERE x.source_id = $3 AND x.owner_id = c.owner_id)
			GROUP BY c.owner_id ORDER BY c.owner_id`, src.OwnerID, src.Template, src.ID)
		if err != nil {
			return fmt.Errorf("new plans of %d: %w", src.ID, err)
		}
		type want struct{ owner, sibling int64 }
		var wants []want
		for rows.Next() {
			var x want
			if err := rows.Scan(&x.owner, &x.sibling); err != nil {
				rows.Close()
				return err
			}
			wants = append(wants, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range wants {
			sib, err := loadPlan(ctx, w.db.Read, x.sibling)
			if err != nil {
				return err
			}
			accts, err := w.db.AccountsByIDs(ctx, []int64{x.owner})
			if err != nil || accts[x.owner] == nil {
				return fmt.Errorf("new plans: account %d: %v", x.owner, err)
			}
			rule := catalog.PriceRule{Kind: catalog.RuleCopy}
			if sib.Rule != nil {
				rule = *sib.Rule
			}
			cp, err := delegation.Delegate(src, x.owner, accts[x.owner].Currency,
				delegation.DelegateOptions{Rule: rule, SellBelowCost: sib.SellBelowCost, Publish: sib.Published})
			if err != nil {
				return fmt.Errorf("delegate plan %d to %d: %w", src.ID, x.owner, err)
			}
			if w.apply {
				if err := w.db.InsertCopy(ctx, account.SystemActor(), cp, delegation.CheckPrices); err != nil {
					if marketplane.ErrorCode(err) == marketplane.ECONFLICT {
						continue // made meanwhile (a resumed run): nothing to do
					}
					return err
				}
			}
			if err := w.emit(SyncItem{PlanID: cp.ID, OwnerID: x.owner, Depth: depth, NewCopy: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// sourcesWithCopies tells which of plans have copies of their own.
func (db *DB) sourcesWithCopies(ctx context.Context, plans []*catalog.Plan) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(plans) == 0 {
		return out, nil
	}
	ids := make([]int64, len(plans))
	for i, p := range plans {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	rows, err := db.Read.QueryContext(ctx, `SELECT DISTINCT source_id FROM plans WHERE `+db.anyID("source_id", 1), db.idsArg(ids))
	if err != nil {
		return nil, fmt.Errorf("copies of copies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// Delegate copies plan sourceID to reseller childID with prices by opt's
// rule. The actor must manage the catalog of the plan's owner, and the child
// must be a reseller directly below it (see InsertCopy for every refusal).
// The copy's currency is the child's; a different currency needs an
// exchange rate in the rule.
func (db *DB) Delegate(ctx context.Context, actor *account.Actor, sourceID, childID int64, opt delegation.DelegateOptions) (*catalog.Plan, error) {
	src, err := loadPlan(ctx, db.Read, sourceID)
	if err != nil {
		return nil, err
	}
	// Authorize before computing anything: price errors would tell the
	// source's prices to someone who may not see them.
	if err := account.Authorize(actor, account.ManageCatalog, account.Target{AccountID: src.OwnerID, Path: src.Path}); err != nil {
		return nil, hideAs(err, "plan")
	}
	accts, err := db.AccountsByIDs(ctx, []int64{childID})
	if err != nil {
		return nil, err
	}
	child := accts[childID]
	if child == nil || child.ParentID != src.OwnerID {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid delegation",
			Fields: map[string]string{"child_id": "must be a reseller directly below the plan's owner"}}
	}
	cp, err := delegation.Delegate(src.Plan, childID, child.Currency, opt)
	if err != nil {
		return nil, err
	}
	if err := db.InsertCopy(ctx, actor, cp, delegation.CheckPrices); err != nil {
		return nil, err
	}
	return cp, nil
}

// syncPlanCategories brings the plan categories that owners copied from
// their parents in step with those parents' (name and unique group), one
// statement for the batch. Sales categories keep their own definitions once
// copied: the shelves are the reseller's to arrange, and new ones arrive with
// the plans that use them.
func (db *DB) syncPlanCategories(ctx context.Context, owners []int64) error {
	if len(owners) == 0 {
		return nil
	}
	_, err := db.Write.ExecContext(ctx, `UPDATE plan_categories SET body = s.body, version = plan_categories.version + 1, updated_at = $2
		FROM plan_categories s WHERE s.id = plan_categories.source_id AND `+db.anyID("plan_categories.owner_id", 1)+`
		AND plan_categories.body <> s.body`, db.idsArg(owners), tv(db.stamp()))
	if err != nil {
		return fmt.Errorf("sync plan categories: %w", err)
	}
	return nil
}
