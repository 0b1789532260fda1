package api

// The delegation routes: copying a plan to a child reseller, and syncing a
// plan's copies (preview, apply as a background run, the runs' progress).
// The store authorizes every call and the delegation package decides every
// price; these handlers translate.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
)

// SyncTask is what the task that applies a sync run needs: the run, and the
// account whose task list shows the task (the synced plan's owner).
type SyncTask struct {
	RunID       int64
	AccountID   int64
	AccountPath string
}

// DelegateInput delegates a plan to a child reseller.
type DelegateInput struct {
	ChildID       int64      `json:"child_id" minimum:"1" doc:"A reseller directly below the plan's owner."`
	Rule          *PriceRule `json:"rule,omitempty" doc:"How the copy's prices follow the plan's; absent: copied as they are."`
	Publish       bool       `json:"publish,omitempty" doc:"Put the copy on sale at once; otherwise its owner publishes it."`
	SellBelowCost bool       `json:"sell_below_cost,omitempty" doc:"Allow the copy's prices below the child's cost (this plan's prices)."`
}

// SyncInput chooses what a sync carries to the copies.
type SyncInput struct {
	Options  []string `json:"options" maxItems:"20" example:"[\"fees\",\"resource_prices\"]" doc:"Any of fees, new_resources, resource_prices, resource_limits, new_periods, new_plans, names, categories, publication; \"all\" for every one."`
	OneLevel bool     `json:"one_level,omitempty" doc:"Sync only the direct copies and flag them changed_upstream until their owners sync onward."`
}

// options reads the option list; unknown options are field errors at
// "options".
func (in *SyncInput) options() (delegation.Options, error) {
	return delegation.ParseOptions(strings.Join(in.Options, ","))
}

// SyncChange is one field of one copy that a sync changes, or would change
// but may not.
type SyncChange struct {
	Field     string `json:"field" example:"periods[1m].recurring.amount"`
	Old       string `json:"old"`
	New       string `json:"new"`
	Skipped   string `json:"skipped,omitempty" example:"restricted: pricing" doc:"Why the change is not made; absent when it is."`
	Effective string `json:"effective" enum:"now,next_billing,n/a" doc:"now: limits apply at once; next_billing: prices apply from the next billing date."`
}

// SyncItem is what a sync does to one copy.
type SyncItem struct {
	PlanID  int64        `json:"plan_id,omitempty" doc:"The copy; absent for a copy the sync would create."`
	OwnerID int64        `json:"owner_id" doc:"The reseller that owns the copy."`
	Depth   int          `json:"depth" doc:"1 for direct copies of the synced plan, 2 for their copies, …"`
	NewCopy bool         `json:"new_copy" doc:"The sync creates this copy (option new_plans)."`
	Changes []SyncChange `json:"changes"`
}

// SyncPreview is what a sync would do, copy by copy down the tree.
type SyncPreview struct {
	Items     []SyncItem `json:"items" doc:"The copies the sync touches, level by level; at most 5,000."`
	Copies    int        `json:"copies" doc:"How many copies the sync touches (created ones included), all of them even when items is cut short."`
	Changes   int        `json:"changes" doc:"How many changes it makes."`
	Skipped   int        `json:"skipped" doc:"How many changes it may not make (restricted, priced by hand …)."`
	Truncated bool       `json:"truncated" doc:"items stops before the last copy; the counts are complete."`
}

// SyncRun is one synchronization of a plan's copies, applied in the
// background.
type SyncRun struct {
	ID            int64      `json:"id"`
	PlanID        int64      `json:"plan_id" doc:"The plan whose copies are synced."`
	Options       []string   `json:"options"`
	OneLevel      bool       `json:"one_level"`
	Status        string     `json:"status" enum:"queued,running,completed,failed"`
	RequestedBy   int64      `json:"requested_by,omitempty" doc:"The user who asked for it; absent for API keys and Marketplane itself."`
	Progress      string     `json:"progress,omitempty" doc:"Where the run stands (the last copy saved); a resumed run goes on from there."`
	CopiesChanged int        `json:"copies_changed"`
	Changes       int        `json:"changes"`
	Error         string     `json:"error,omitempty" doc:"Why a failed run failed."`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

func syncRunView(r *store.SyncRun) SyncRun {
	opts := []string{}
	if r.Options != "" {
		opts = strings.Split(r.Options, ",")
	}
	return SyncRun{ID: r.ID, PlanID: r.SourcePlanID, Options: opts, OneLevel: r.OneLevel, Status: string(r.Status),
		RequestedBy: r.RequestedBy, Progress: r.Cursor, CopiesChanged: r.CopiesChanged, Changes: r.Changes, Error: r.Error,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: optTime(r.FinishedAt)}
}

type delegateInput struct {
	ID   int64 `path:"id" doc:"Plan id."`
	Body DelegateInput
}

type syncInput struct {
	ID   int64 `path:"id" doc:"Plan id."`
	Body SyncInput
}

type syncPreviewOutput struct {
	Body SyncPreview
}

type syncRunIDPath struct {
	ID int64 `path:"id" doc:"Sync run id."`
}

type syncRunOutput struct {
	Body SyncRun
}

type syncRunAccepted struct {
	Location string `header:"Location"`
	Body     SyncRun
}

type syncRunPage struct {
	Body Page[SyncRun]
}

// previewLimit bounds the items of a preview response. A provider's plan
// may have tens of thousands of copies; past this many the client gets the
// counts and applies, or previews a narrower sync.
const previewLimit = 5000

const cursorSyncRuns = "srun"

func (a *API) delegationRoutes() {
	const tag = "Delegation"
	register(a, op{id: "delegate-plan", method: http.MethodPost, path: "/plans/{id}/delegate", tag: tag,
		summary: "Delegate a plan to a child reseller",
		description: "The child gets its own copy, linked to this plan, with prices by the rule. " +
			"Prices below the child's cost (this plan's prices) are refused unless sell_below_cost is set; " +
			"a maximum retail price set on this plan travels down.",
		status: http.StatusCreated, errors: []int{http.StatusConflict}}, a.delegatePlan)
	register(a, op{id: "preview-plan-sync", method: http.MethodPost, path: "/plans/{id}/sync/preview", tag: tag,
		summary: "Preview a sync of a plan's copies",
		description: "What applying the sync would change, copy by copy down the tree, including the changes " +
			"a restriction or a hand-set price keeps out. Nothing is changed."}, a.previewSync)
	register(a, op{id: "sync-plan", method: http.MethodPost, path: "/plans/{id}/sync", tag: tag,
		summary: "Sync a plan's copies",
		description: "Queues a sync run, applied in the background copy by copy (each copy whole or not at all); " +
			"follow it at the Location.",
		status: http.StatusAccepted, errors: []int{http.StatusServiceUnavailable}}, a.syncPlan)
	register(a, op{id: "list-plan-sync-runs", method: http.MethodGet, path: "/plans/{id}/sync-runs", tag: tag,
		summary: "List the sync runs of a plan", description: "Newest first."}, a.listSyncRuns)
	register(a, op{id: "get-sync-run", method: http.MethodGet, path: "/sync-runs/{id}", tag: tag,
		summary: "Get a sync run"}, a.getSyncRun)
}

func (a *API) delegatePlan(ctx context.Context, in *delegateInput) (*planCreated, error) {
	opt := delegation.DelegateOptions{SellBelowCost: in.Body.SellBelowCost, Publish: in.Body.Publish}
	if r := in.Body.Rule; r != nil {
		var f marketplane.FieldErrors
		opt.Rule = catalog.PriceRule{Kind: catalog.RuleKind(r.Kind), Percent: r.Percent, Fixed: amount(&f, "rule.fixed", r.Fixed),
			ExchangeRate: r.ExchangeRate, Decimals: r.Decimals}
		if err := f.Err("delegation"); err != nil {
			return nil, err
		}
	}
	cp, err := a.db.Delegate(ctx, actorFrom(ctx), in.ID, in.Body.ChildID, opt)
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return &planCreated{ETag: etagOf(cp.Version), Location: Prefix + "/plans/" + idKey(cp.ID), Body: planView(cp)}, nil
}

func (a *API) previewSync(ctx context.Context, in *syncInput) (*syncPreviewOutput, error) {
	opts, err := in.Body.options()
	if err != nil {
		return nil, err
	}
	out := SyncPreview{Items: []SyncItem{}}
	err = a.db.PreviewSync(ctx, actorFrom(ctx), in.ID, opts, in.Body.OneLevel, func(it store.SyncItem) error {
		// The walk goes on past the limit so that the counts are whole;
		// only the items are cut.
		out.Copies++
		for _, c := range it.Changes {
			if c.Applied() {
				out.Changes++
			} else {
				out.Skipped++
			}
		}
		if len(out.Items) >= previewLimit {
			out.Truncated = true
			return nil
		}
		item := SyncItem{PlanID: it.PlanID, OwnerID: it.OwnerID, Depth: it.Depth, NewCopy: it.NewCopy,
			Changes: make([]SyncChange, len(it.Changes))}
		for i, c := range it.Changes {
			item.Changes[i] = SyncChange{Field: c.Field, Old: c.Old, New: c.New, Skipped: c.Skipped, Effective: string(c.Effective)}
		}
		out.Items = append(out.Items, item)
		return nil
	})
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return &syncPreviewOutput{Body: out}, nil
}

// syncPlan creates the run and queues its task in one transaction (the
// outbox rule): a run without its task would never be applied, a task
// without its run would find nothing to do.
func (a *API) syncPlan(ctx context.Context, in *syncInput) (*syncRunAccepted, error) {
	actor := actorFrom(ctx)
	// The plan's owner names the task's account (who sees it in their task
	// list); reading it also refuses unknown and hidden plans before any
	// write.
	p, err := a.db.Plan(ctx, actor, in.ID)
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	owners, err := a.db.AccountsByIDs(ctx, []int64{p.OwnerID})
	if err != nil {
		return nil, err
	}
	owner := owners[p.OwnerID]
	if owner == nil {
		return nil, fmt.Errorf("plan %d: its owner %d is missing", p.ID, p.OwnerID)
	}
	run := &store.SyncRun{SourcePlanID: in.ID, Options: strings.Join(in.Body.Options, ","), OneLevel: in.Body.OneLevel}
	err = a.db.CreateSyncRun(ctx, actor, run, func(tx *sql.Tx, runID int64) error {
		if a.enqueueSync == nil {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "sync runs need the task manager, which this server lacks")
		}
		return a.enqueueSync(ctx, tx, SyncTask{RunID: runID, AccountID: owner.ID, AccountPath: owner.Path})
	})
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return &syncRunAccepted{Location: Prefix + "/sync-runs/" + idKey(run.ID), Body: syncRunView(run)}, nil
}

func (a *API) listSyncRuns(ctx context.Context, in *planChildrenInput) (*syncRunPage, error) {
	before, err := decodeIDCursor(cursorSyncRuns, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.SyncRuns(ctx, actorFrom(ctx), in.ID, before, in.fetchSize())
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return &syncRunPage{Body: paginate(in.PageParams, cursorSyncRuns, rows,
		func(r *store.SyncRun) string { return idKey(r.ID) }, func(r *store.SyncRun) SyncRun { return syncRunView(r) })}, nil
}

func (a *API) getSyncRun(ctx context.Context, in *syncRunIDPath) (*syncRunOutput, error) {
	r, err := a.db.SyncRun(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, notFoundAs(err, "sync run not found")
	}
	return &syncRunOutput{Body: syncRunView(r)}, nil
}
