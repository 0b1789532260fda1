package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

// SyncStatus is where a sync run stands.
type SyncStatus string

// Sync run statuses. A run is queued, then running until it is completed or
// failed; finished runs do not change.
const (
	SyncQueued    SyncStatus = "queued"
	SyncRunning   SyncStatus = "running"
	SyncCompleted SyncStatus = "completed"
	SyncFailed    SyncStatus = "failed"
)

// Finished reports whether s is a final status.
func (s SyncStatus) Finished() bool { return s == SyncCompleted || s == SyncFailed }

// SyncRun is one synchronization of a source plan's copies.
type SyncRun struct {
	ID           int64
	SourcePlanID int64
	// Options is the option list as delegation.Options.String writes it.
	Options  string
	OneLevel bool
	Status   SyncStatus
	// RequestedBy is the user who asked for the run; 0 for API keys and
	// Marketplane itself.
	RequestedBy int64
	// Cursor is where a resumed run goes on: the engine's own text (for
	// example the last copy id of the last saved batch).
	Cursor        string
	CopiesChanged int
	Changes       int
	Error         string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	FinishedAt    time.Time // zero until the run is finished
}

// ChangeSync is the kind of the plan changes a sync makes.
const ChangeSync = "sync"

// PlanChange is one field of one plan that changed, and when the change
// takes effect for the plan's subscriptions: limits at once, prices from the
// next billing date (delegation.Effective).
type PlanChange struct {
	ID        int64
	PlanID    int64
	At        time.Time
	Kind      string // ChangeSync
	Field     string // e.g. "periods[1M].recurring.amount"
	Old       string
	New       string
	Effective delegation.Effective
	SyncRunID int64 // 0 outside a sync run
}

const syncRunColumns = `r.id, r.source_plan_id, r.options, r.one_level, r.status, COALESCE(r.requested_by_user_id, 0), r.cursor,
	r.copies_changed, r.changes, r.error, r.created_at, r.updated_at, r.finished_at`

func scanSyncRun(r scanner, extra ...any) (*SyncRun, error) {
	s := &SyncRun{}
	dest := append([]any{&s.ID, &s.SourcePlanID, &s.Options, &s.OneLevel, &s.Status, &s.RequestedBy, &s.Cursor,
		&s.CopiesChanged, &s.Changes, &s.Error, ts(&s.CreatedAt), ts(&s.UpdatedAt), ts(&s.FinishedAt)}, extra...)
	return s, r.Scan(dest...)
}

// CreateSyncRun queues a sync of the copies of plan run.SourcePlanID with
// run.Options (a comma-separated list, see delegation.ParseOptions; stored
// in its normal form) and run.OneLevel. The actor must manage the catalog of
// the source's owner; it is recorded as the requester. Errors: ENOTFOUND,
// EFORBIDDEN, EINVALID (options). Fills ID, Status, RequestedBy and the
// timestamps. enqueue, when set, runs in the same transaction with the new
// run's id: the task that applies the run is committed with it or not at all
// (the outbox rule).
func (db *DB) CreateSyncRun(ctx context.Context, actor *account.Actor, run *SyncRun, enqueue func(tx *sql.Tx, runID int64) error) error {
	opts, err := delegation.ParseOptions(run.Options)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		src, err := loadPlan(ctx, tx, run.SourcePlanID)
		if err != nil {
			return err
		}
		t := account.Target{AccountID: src.OwnerID, Path: src.Path}
		if err := account.Authorize(actor, account.ManageCatalog, t); err != nil {
			return hideAs(err, "plan")
		}
		now := db.stamp()
		run.Options, run.Status, run.CreatedAt, run.UpdatedAt, run.FinishedAt = opts.String(), SyncQueued, now, now, time.Time{}
		run.RequestedBy, run.Cursor, run.CopiesChanged, run.Changes, run.Error = 0, "", 0, 0, ""
		if actor != nil && !actor.System {
			run.RequestedBy = actor.UserID
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO sync_runs (source_plan_id, options, one_level, status, requested_by_user_id,
			created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
			run.SourcePlanID, run.Options, run.OneLevel, string(run.Status), nullID(run.RequestedBy), tv(now)).Scan(&run.ID)
		if err != nil {
			return fmt.Errorf("create sync run: %w", err)
		}
		if enqueue != nil {
			if err := enqueue(tx, run.ID); err != nil {
				return fmt.Errorf("queue sync run: %w", err)
			}
		}
		return db.audit(ctx, tx, actor, t.AccountID, t.Path, "sync_run.create", "sync_run", run.ID,
			map[string]any{"source_plan_id": run.SourcePlanID, "options": run.Options, "one_level": run.OneLevel})
	})
}

// UpdateSyncRun saves the progress of a run that is not finished: status,
// cursor, counts and error (system use: the sync engine). Setting a final
// status stamps FinishedAt and records the outcome in the audit log of the
// source's owner. Errors: ENOTFOUND, ECONFLICT (the run is finished
// already), EINVALID (status).
func (db *DB) UpdateSyncRun(ctx context.Context, run *SyncRun) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.saveSyncRun(ctx, tx, run) })
}

func (db *DB) saveSyncRun(ctx context.Context, tx *sql.Tx, run *SyncRun) error {
	switch run.Status {
	case SyncQueued, SyncRunning, SyncCompleted, SyncFailed:
	default:
		return catalogFieldErr("sync run", "status", "must be queued, running, completed or failed")
	}
	var path string
	var owner int64
	var status SyncStatus
	err := tx.QueryRowContext(ctx, `SELECT r.status, p.owner_id, a.path FROM sync_runs r JOIN plans p ON p.id = r.source_plan_id
		JOIN accounts a ON a.id = p.owner_id WHERE r.id = $1`, run.ID).Scan(&status, &owner, &path)
	if err != nil {
		return notFound(err, "sync run")
	}
	if status.Finished() {
		return marketplane.Errorf(marketplane.ECONFLICT, "sync run %d is %s already", run.ID, status)
	}
	run.UpdatedAt = db.stamp()
	var finished any
	if run.Status.Finished() {
		run.FinishedAt = run.UpdatedAt
		finished = tv(run.FinishedAt)
	}
	res, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = $1, cursor = $2, copies_changed = $3, changes = $4, error = $5,
		updated_at = $6, finished_at = $7 WHERE id = $8 AND status IN ('queued', 'running')`,
		string(run.Status), run.Cursor, run.CopiesChanged, run.Changes, run.Error, tv(run.UpdatedAt), finished, run.ID)
	if err != nil {
		return fmt.Errorf("update sync run %d: %w", run.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return marketplane.Errorf(marketplane.ECONFLICT, "sync run %d was finished meanwhile", run.ID)
	}
	if !run.Status.Finished() {
		return nil
	}
	return db.audit(ctx, tx, account.SystemActor(), owner, path, "sync_run."+string(run.Status), "sync_run", run.ID,
		map[string]any{"copies_changed": run.CopiesChanged, "changes": run.Changes, "error": run.Error})
}

// SyncRun returns sync run id if the actor may view the catalog of the
// source plan's owner.
func (db *DB) SyncRun(ctx context.Context, actor *account.Actor, id int64) (*SyncRun, error) {
	var owner int64
	var path string
	run, err := scanSyncRun(db.Read.QueryRowContext(ctx, `SELECT `+syncRunColumns+`, p.owner_id, a.path FROM sync_runs r
		JOIN plans p ON p.id = r.source_plan_id JOIN accounts a ON a.id = p.owner_id WHERE r.id = $1`, id), &owner, &path)
	if err != nil {
		return nil, notFound(err, "sync run")
	}
	if err := account.Authorize(actor, account.ViewCatalog, account.Target{AccountID: owner, Path: path}); err != nil {
		return nil, hideAs(err, "sync run")
	}
	return run, nil
}

// SyncRuns lists the sync runs of plan planID, newest first, older than
// beforeID when it is set.
func (db *DB) SyncRuns(ctx context.Context, actor *account.Actor, planID, beforeID int64, limit int) ([]*SyncRun, error) {
	if _, err := db.Plan(ctx, actor, planID); err != nil {
		return nil, err
	}
	q := `SELECT ` + syncRunColumns + ` FROM sync_runs r WHERE r.source_plan_id = $1`
	args := []any{planID}
	if beforeID != 0 {
		args = append(args, beforeID)
		q += " AND r.id < $2"
	}
	args = append(args, clampLimit(limit))
	q += fmt.Sprintf(" ORDER BY r.id DESC LIMIT $%d", len(args))
	return db.syncRuns(ctx, q, args...)
}

// OpenSyncRuns lists runs that are queued or running, oldest first (system
// use: resuming runs after a restart).
func (db *DB) OpenSyncRuns(ctx context.Context, limit int) ([]*SyncRun, error) {
	return db.syncRuns(ctx, `SELECT `+syncRunColumns+` FROM sync_runs r WHERE r.status IN ('queued', 'running')
		ORDER BY r.id LIMIT $1`, clampLimit(limit))
}

func (db *DB) syncRuns(ctx context.Context, q string, args ...any) ([]*SyncRun, error) {
	out, err := queryAll(ctx, db.Read, func(r scanner) (*SyncRun, error) { return scanSyncRun(r) }, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sync runs: %w", err)
	}
	return out, nil
}

// PlanChanges lists the change log of plan planID, newest first, older than
// beforeID when it is set. The actor needs to view the plan.
func (db *DB) PlanChanges(ctx context.Context, actor *account.Actor, planID, beforeID int64, limit int) ([]*PlanChange, error) {
	if _, err := db.Plan(ctx, actor, planID); err != nil {
		return nil, err
	}
	q := `SELECT id, plan_id, at, kind, field, old, new, effective, COALESCE(sync_run_id, 0) FROM plan_changes WHERE plan_id = $1`
	args := []any{planID}
	if beforeID != 0 {
		args = append(args, beforeID)
		q += " AND id < $2"
	}
	args = append(args, clampLimit(limit))
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("plan changes: %w", err)
	}
	defer rows.Close()
	out := []*PlanChange{}
	for rows.Next() {
		c := &PlanChange{}
		if err := rows.Scan(&c.ID, &c.PlanID, ts(&c.At), &c.Kind, &c.Field, &c.Old, &c.New, &c.Effective, &c.SyncRunID); err != nil {
			return nil, fmt.Errorf("plan changes: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// planChangeColumns are the columns of a plan change row in bulk inserts.
var planChangeColumns = []string{"plan_id", "at", "kind", "field", "old", "new", "effective", "sync_run_id"}

var auditColumns = []string{"at", "actor_user_id", "actor_key_id", "actor_account_id", "account_id", "account_path",
	"action", "entity", "entity_id", "changes"}

// copyRow is what SaveCopies writes of one copy.
type copyRow struct {
	id, oldVersion                       int64
	key, template, currency, planCat     string
	published, needsConfirmation, change bool
	body                                 string
}

// SaveCopies saves a batch of delegated copies as a sync computed them, with
// their change log, in ONE transaction (system use: the sync engine, which
// authorized its caller at its start). Each plan's Version must be the
// version the engine read (EPRECONDITION naming the plan otherwise: its
// owner edited it meanwhile, and the engine computes it again); every plan
// must be a copy; each is validated like UpdatePlan validates it, except
// that its structure may change (a sync brings new periods and rates).
// Owner and source stay as stored; body, publication, the confirmation and
// changed-upstream flags and the version are written. Categories a copy now
// names that its owner lacks are copied from the parent's (adoptCategories).
//
// The batch costs a fixed number of statements besides one UPDATE per plan
// on SQLite (a prepared statement on the in-process engine), and one UPDATE
// per batch on PostgreSQL; changes and audit entries (one per copy, on its
// owner) go in with each engine's bulk path. Changes get run's id. When run
// is not nil, its progress (status, cursor, counts, error) is saved in the
// same transaction, so that a resumed run starts exactly after the last
// saved batch. On success each plan has its new Version and UpdatedAt.
func (db *DB) SaveCopies(ctx context.Context, plans []*catalog.Plan, changes []PlanChange, run *SyncRun) error {
	if len(plans) == 0 && len(changes) == 0 && run == nil {
		return nil
	}
	ids := make([]int64, len(plans))
	for i, p := range plans {
		ids[i] = p.ID
	}
	if s := slices.Clone(ids); len(slices.Compact(sortedIDs(s))) != len(s) {
		return marketplane.Errorf(marketplane.EINVALID, "a plan appears twice in the batch")
	}
	var runID int64
	if run != nil {
		runID = run.ID
	}
	for i := range changes {
		c := &changes[i]
		if c.Kind == "" {
			c.Kind = ChangeSync
		}
		switch c.Effective {
		case "":
			c.Effective = delegation.EffectiveNone
		case delegation.EffectiveNow, delegation.EffectiveNextBilling, delegation.EffectiveNone:
		default:
			return marketplane.Errorf(marketplane.EINVALID, "change %d of the batch: effective must be now, next_billing or n/a", i)
		}
	}

	// One connection carries the transaction, so that PostgreSQL's COPY
	// runs inside it.
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("save copies: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save copies: begin: %w", err)
	}
	defer tx.Rollback()

	type stored struct {
		owner, parent, source, version int64
		path, currency                 string
	}
	have := make(map[int64]stored, len(plans))
	if len(ids) > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT p.id, p.owner_id, COALESCE(a.parent_id, 0), COALESCE(p.source_id, 0), p.version, a.path, a.currency
			FROM plans p JOIN accounts a ON a.id = p.owner_id WHERE `+db.anyID("p.id", 1), db.idsArg(ids))
		if err != nil {
			return fmt.Errorf("save copies: %w", err)
		}
		for rows.Next() {
			var id int64
			var s stored
			if err := rows.Scan(&id, &s.owner, &s.parent, &s.source, &s.version, &s.path, &s.currency); err != nil {
				rows.Close()
				return fmt.Errorf("save copies: %w", err)
			}
			have[id] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("save copies: %w", err)
		}
	}
	for _, p := range plans {
		s, ok := have[p.ID]
		switch {
		case !ok:
			return marketplane.Errorf(marketplane.ENOTFOUND, "plan %d not found", p.ID)
		case s.source == 0:
			return marketplane.Errorf(marketplane.EINVALID, "plan %d is an original, not a delegated copy", p.ID)
		case s.version != p.Version:
			return marketplane.Errorf(marketplane.EPRECONDITION, "plan %d was changed meanwhile (version %d, not %d)", p.ID, s.version, p.Version)
		}
		p.OwnerID, p.SourceID = s.owner, s.source
	}
	refs, err := db.loadPlanRefs(ctx, tx, plans)
	if err != nil {
		return err
	}
	owners := make(map[int64]copyOwner, len(have))
	for _, s := range have {
		owners[s.owner] = copyOwner{parentID: s.parent, path: s.path}
	}
	if err := db.adoptCategories(ctx, conn, tx, account.SystemActor(), plans, refs, owners); err != nil {
		return err
	}
	rows := make([]copyRow, len(plans))
	for i, p := range plans {
		if err := refs.check(p, have[p.ID].currency); err != nil {
			return fmt.Errorf("plan %d: %w", p.ID, err)
		}
		body, err := bodyOf(p)
		if err != nil {
			return err
		}
		rows[i] = copyRow{id: p.ID, oldVersion: p.Version, key: p.Key, template: p.Template, currency: p.Currency,
			planCat: p.PlanCategory, published: p.Published, needsConfirmation: p.NeedsConfirmation(),
			change: p.ChangedUpstream, body: body}
	}
	now := db.stamp()
	if err := db.updateCopies(ctx, tx, rows, now); err != nil {
		return err
	}

	if err := db.bulk().insertRows(ctx, conn, tx, "plan_changes", planChangeColumns, len(changes), func(i int) ([]any, error) {
		c := changes[i]
		at := c.At
		if at.IsZero() {
			at = now
		}
		return []any{c.PlanID, at.UTC(), c.Kind, c.Field, c.Old, c.New, string(c.Effective), nullID(runID)}, nil
	}); err != nil {
		if isForeignKeyViolation(err) {
			return marketplane.Errorf(marketplane.EINVALID, "a change of the batch names a plan that does not exist")
		}
		return fmt.Errorf("save copies: %w", err)
	}

	fields := map[int64][]string{}
	for _, c := range changes {
		fields[c.PlanID] = append(fields[c.PlanID], c.Field)
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "audit_log", auditColumns, len(plans), func(i int) ([]any, error) {
		p, s := plans[i], have[plans[i].ID]
		ch, err := json.Marshal(map[string]any{"sync_run_id": runID, "version": p.Version + 1, "fields": fields[p.ID]})
		if err != nil {
			return nil, err
		}
		return []any{now, nil, nil, nil, s.owner, s.path, "plan.sync", "plan", p.ID, string(ch)}, nil
	}); err != nil {
		return fmt.Errorf("save copies: audit: %w", err)
	}

	if run != nil {
		if err := db.saveSyncRun(ctx, tx, run); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save copies: commit: %w", err)
	}
	for _, p := range plans {
		p.Version, p.UpdatedAt = p.Version+1, now
	}
	return nil
}

func sortedIDs(ids []int64) []int64 {
	slices.Sort(ids)
	return ids
}
