package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// The API's plan types mirror catalog.Plan with amounts as decimal strings,
// like an account's credit_limit: the catalog's own JSON (integer
// millionths) is the storage and import/export form, not the API's.

// Price is one price with its caps, as decimal amounts in the plan's
// currency.
type Price struct {
	Amount          string `json:"amount,omitempty" example:"9.99" doc:"Default 0." price:"true"`
	MaxRetail       string `json:"max_retail,omitempty" doc:"The highest price a reseller's copy may charge; absent: no cap." price:"true"`
	SuggestedRetail string `json:"suggested_retail,omitempty" doc:"Advice shown to resellers." price:"true"`
}

// Duration is the length of a subscription period.
type Duration struct {
	N    int    `json:"n" minimum:"1" maximum:"120"`
	Unit string `json:"unit" enum:"day,month,year"`
}

// Refund is a period's refund policy.
type Refund struct {
	FullDays      int    `json:"full_days,omitempty" doc:"Days with a full refund."`
	After         string `json:"after,omitempty" enum:"prorated,none" doc:"After the full-refund days: a prorated refund of the recurring fee, or none (default)."`
	NonRefundable string `json:"non_refundable,omitempty" doc:"Decimal amount never refunded." price:"true"`
}

// FeeTexts are the descriptions of a period's fees, by language tag.
type FeeTexts struct {
	Setup        map[string]string `json:"setup,omitempty"`
	Recurring    map[string]string `json:"recurring,omitempty"`
	Renewal      map[string]string `json:"renewal,omitempty"`
	Cancellation map[string]string `json:"cancellation,omitempty"`
}

// Period is a subscription period of a plan with its fees.
type Period struct {
	Key             string   `json:"key" example:"1m" doc:"Stable key; copies match periods by it."`
	Duration        Duration `json:"duration"`
	Trial           bool     `json:"trial,omitempty" doc:"A free trial; it renews into a paid period, never as a trial."`
	ConvertsTo      string   `json:"converts_to,omitempty" example:"1m" doc:"Of a trial: the key of the paid period it turns into when it ends."`
	Setup           Price    `json:"setup,omitempty"`
	Recurring       Price    `json:"recurring,omitempty"`
	Renewal         Price    `json:"renewal,omitempty"`
	Cancellation    Price    `json:"cancellation,omitempty"`
	Descriptions    FeeTexts `json:"descriptions,omitempty"`
	ShowZeroPrice   bool     `json:"show_zero_price,omitempty"`
	Refund          Refund   `json:"refund,omitempty"`
	AfterRefundDays int      `json:"after_refund_days,omitempty"`
	Sort            int      `json:"sort,omitempty"`
	RecurringPer    string   `json:"recurring_per,omitempty" enum:"period,month" doc:"Whether the recurring fee is per period (default) or per month of it."`
	Unpriced        bool     `json:"unpriced,omitempty" doc:"Arrived in a copy without its owner's price: the copy is not on sale until its owner sets the price and clears this."`
}

// Part is one simple resource of a composite rate.
type Part struct {
	Resource string `json:"resource"`
	Units    int64  `json:"units" minimum:"1"`
}

// Rate is the price and limits of one resource in a plan.
type Rate struct {
	Key        string            `json:"key" doc:"The resource type key, or a composite's own key."`
	Resource   string            `json:"resource,omitempty" doc:"The resource type; absent for a composite."`
	Parts      []Part            `json:"parts,omitempty" doc:"The simple resources of a composite rate."`
	Name       map[string]string `json:"name,omitempty" doc:"A composite's name."`
	Category   string            `json:"category,omitempty"`
	Included   int64             `json:"included" doc:"-1 for unlimited."`
	Min        int64             `json:"min"`
	Max        int64             `json:"max" doc:"-1 for unlimited."`
	Setup      Price             `json:"setup,omitempty" doc:"Per unit above the included amount."`
	Recurring  Price             `json:"recurring,omitempty" doc:"Per unit above the included amount, per period."`
	Overuse    Price             `json:"overuse,omitempty" doc:"Per unit of usage above the limit."`
	Measurable bool              `json:"measurable,omitempty"`
	Display    string            `json:"display,omitempty" enum:"spinner,slider" doc:"Default spinner."`
	Sort       int               `json:"sort,omitempty"`
	Periods    []string          `json:"periods,omitempty" doc:"Period keys the rate is limited to; absent: all."`
	Unpriced   bool              `json:"unpriced,omitempty"`
}

// PriceRule is how a delegated copy's prices follow its source's.
type PriceRule struct {
	Kind         string `json:"kind" enum:"copy,percent,fixed,manual"`
	Percent      string `json:"percent,omitempty" example:"15" doc:"Markup for percent rules."`
	Fixed        string `json:"fixed,omitempty" example:"1.00" doc:"Amount added to every non-zero price for fixed rules." price:"true"`
	ExchangeRate string `json:"exchange_rate,omitempty" example:"0.92" doc:"From the source's currency; required when the currencies differ."`
	Decimals     *int   `json:"decimals,omitempty" minimum:"0" maximum:"6"`
}

// Plan is a service plan: an original of its owner, or a delegated copy
// linked to its source.
type Plan struct {
	ID                int64             `json:"id"`
	OwnerID           int64             `json:"owner_id"`
	SourceID          int64             `json:"source_id,omitempty" doc:"The plan this copy was delegated from; absent for originals."`
	Key               string            `json:"key"`
	Template          string            `json:"template"`
	Currency          string            `json:"currency" example:"USD"`
	Name              map[string]string `json:"name"`
	Description       map[string]string `json:"description,omitempty"`
	Terms             map[string]string `json:"terms,omitempty"`
	Billing           string            `json:"billing" enum:"advance,arrears,payg"`
	Published         bool              `json:"published"`
	PlanCategory      string            `json:"plan_category,omitempty"`
	SalesCategories   []string          `json:"sales_categories"`
	UpgradeTo         []string          `json:"upgrade_to"`
	DowngradeTo       []string          `json:"downgrade_to"`
	Periods           []Period          `json:"periods"`
	Rates             []Rate            `json:"rates"`
	Rule              *PriceRule        `json:"rule,omitempty"`
	SellBelowCost     bool              `json:"sell_below_cost"`
	ChangedUpstream   bool              `json:"changed_upstream" doc:"Its source changed by a one-level sync that has not reached this copy's own copies."`
	NeedsConfirmation bool              `json:"needs_confirmation" doc:"Held back from sale until its owner prices what arrived unpriced."`
	OnSale            bool              `json:"on_sale" doc:"Published and not waiting for confirmation."`
	Version           int64             `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
}

// PlanInput creates an original plan or replaces a plan. Of a delegated
// copy, its owner changes prices, texts, categories, publication and the
// price rule; what the copy is made of (template, billing, periods, rates)
// follows the source.
type PlanInput struct {
	Key             string            `json:"key"`
	Template        string            `json:"template"`
	Currency        string            `json:"currency" example:"USD" doc:"The owner account's currency."`
	Name            map[string]string `json:"name"`
	Description     map[string]string `json:"description,omitempty"`
	Terms           map[string]string `json:"terms,omitempty"`
	Billing         string            `json:"billing" enum:"advance,arrears,payg"`
	Published       bool              `json:"published,omitempty"`
	PlanCategory    string            `json:"plan_category,omitempty"`
	SalesCategories []string          `json:"sales_categories,omitempty" maxItems:"100"`
	UpgradeTo       []string          `json:"upgrade_to,omitempty" maxItems:"100"`
	DowngradeTo     []string          `json:"downgrade_to,omitempty" maxItems:"100"`
	Periods         []Period          `json:"periods" maxItems:"100"`
	Rates           []Rate            `json:"rates,omitempty" maxItems:"500"`
	Rule            *PriceRule        `json:"rule,omitempty" doc:"Copies only."`
	SellBelowCost   bool              `json:"sell_below_cost,omitempty" doc:"Copies only: allow prices below your cost."`
}

func moneyOut(m money.Micros) string {
	if m == 0 {
		return ""
	}
	return m.String()
}

func priceOut(p catalog.Price) Price {
	return Price{Amount: p.Amount.String(), MaxRetail: moneyOut(p.MaxRetail), SuggestedRetail: moneyOut(p.SuggestedRetail)}
}

func textOpt(t catalog.Text) map[string]string {
	if len(t) == 0 {
		return nil
	}
	return t
}

func keysOut(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func planView(p *catalog.Plan) Plan {
	out := Plan{
		ID: p.ID, OwnerID: p.OwnerID, SourceID: p.SourceID, Key: p.Key, Template: p.Template, Currency: p.Currency,
		Name: textOut(p.Name), Description: textOpt(p.Description), Terms: textOpt(p.Terms), Billing: string(p.Billing),
		Published: p.Published, PlanCategory: p.PlanCategory, SalesCategories: keysOut(p.SalesCategories),
		UpgradeTo: keysOut(p.UpgradeTo), DowngradeTo: keysOut(p.DowngradeTo),
		Periods: make([]Period, len(p.Periods)), Rates: make([]Rate, len(p.Rates)),
		SellBelowCost: p.SellBelowCost, ChangedUpstream: p.ChangedUpstream, NeedsConfirmation: p.NeedsConfirmation(),
		OnSale: p.OnSale(), Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	for i, pe := range p.Periods {
		out.Periods[i] = Period{
			Key: pe.Key, Duration: Duration{N: pe.Duration.N, Unit: string(pe.Duration.Unit)}, Trial: pe.Trial, ConvertsTo: pe.ConvertsTo,
			Setup: priceOut(pe.Setup), Recurring: priceOut(pe.Recurring), Renewal: priceOut(pe.Renewal), Cancellation: priceOut(pe.Cancellation),
			Descriptions: FeeTexts{Setup: textOpt(pe.Descriptions.Setup), Recurring: textOpt(pe.Descriptions.Recurring),
				Renewal: textOpt(pe.Descriptions.Renewal), Cancellation: textOpt(pe.Descriptions.Cancellation)},
			ShowZeroPrice:   pe.ShowZeroPrice,
			Refund:          Refund{FullDays: pe.Refund.FullDays, After: string(pe.Refund.After), NonRefundable: moneyOut(pe.Refund.NonRefundable)},
			AfterRefundDays: pe.AfterRefundDays, Sort: pe.Sort, RecurringPer: string(pe.RecurringPer), Unpriced: pe.Unpriced,
		}
	}
	for i, r := range p.Rates {
		parts := make([]Part, len(r.Parts))
		for j, pt := range r.Parts {
			parts[j] = Part(pt)
		}
		if len(parts) == 0 {
			parts = nil
		}
		out.Rates[i] = Rate{
			Key: r.Key, Resource: r.Resource, Parts: parts, Name: textOpt(r.Name), Category: r.Category,
			Included: r.Included, Min: r.Min, Max: r.Max,
			Setup: priceOut(r.Setup), Recurring: priceOut(r.Recurring), Overuse: priceOut(r.Overuse),
			Measurable: r.Measurable, Display: string(r.Display), Sort: r.Sort, Periods: r.Periods, Unpriced: r.Unpriced,
		}
	}
	if r := p.Rule; r != nil {
		out.Rule = &PriceRule{Kind: string(r.Kind), Percent: r.Percent, Fixed: moneyOut(r.Fixed), ExchangeRate: r.ExchangeRate, Decimals: r.Decimals}
	}
	return out
}

// amount reads a decimal amount of the body at field; "" is 0.
func amount(f *marketplane.FieldErrors, field, s string) money.Micros {
	if s == "" {
		return 0
	}
	m, err := money.Parse(s)
	if err != nil {
		f.Add(field, "must be a decimal amount such as 9.99")
	}
	return m
}

func priceIn(f *marketplane.FieldErrors, at string, p Price) catalog.Price {
	return catalog.Price{Amount: amount(f, at+".amount", p.Amount), MaxRetail: amount(f, at+".max_retail", p.MaxRetail),
		SuggestedRetail: amount(f, at+".suggested_retail", p.SuggestedRetail)}
}

// plan turns the body into a catalog plan, with the field errors of its
// amounts. Absent choices take their defaults: refund none, recurring fee
// per period, spinner display.
func (in *PlanInput) plan(f *marketplane.FieldErrors) *catalog.Plan {
	p := &catalog.Plan{
		Key: in.Key, Template: in.Template, Currency: in.Currency, Name: in.Name, Description: in.Description, Terms: in.Terms,
		Billing: catalog.BillingModel(in.Billing), Published: in.Published, PlanCategory: in.PlanCategory,
		SalesCategories: in.SalesCategories, UpgradeTo: in.UpgradeTo, DowngradeTo: in.DowngradeTo,
		Periods: make([]catalog.Period, len(in.Periods)), SellBelowCost: in.SellBelowCost,
	}
	for i, pe := range in.Periods {
		at := fmt.Sprintf("periods[%d]", i)
		out := catalog.Period{
			Key: pe.Key, Duration: catalog.Duration{N: pe.Duration.N, Unit: catalog.Unit(pe.Duration.Unit)}, Trial: pe.Trial, ConvertsTo: pe.ConvertsTo,
			Setup: priceIn(f, at+".setup", pe.Setup), Recurring: priceIn(f, at+".recurring", pe.Recurring),
			Renewal: priceIn(f, at+".renewal", pe.Renewal), Cancellation: priceIn(f, at+".cancellation", pe.Cancellation),
			Descriptions: catalog.FeeTexts{Setup: pe.Descriptions.Setup, Recurring: pe.Descriptions.Recurring,
				Renewal: pe.Descriptions.Renewal, Cancellation: pe.Descriptions.Cancellation},
			ShowZeroPrice: pe.ShowZeroPrice,
			Refund: catalog.Refund{FullDays: pe.Refund.FullDays, After: catalog.AfterRefund(pe.Refund.After),
				NonRefundable: amount(f, at+".refund.non_refundable", pe.Refund.NonRefundable)},
			AfterRefundDays: pe.AfterRefundDays, Sort: pe.Sort, RecurringPer: catalog.RecurringPer(pe.RecurringPer), Unpriced: pe.Unpriced,
		}
		if out.Refund.After == "" {
			out.Refund.After = catalog.RefundNone
		}
		if out.RecurringPer == "" {
			out.RecurringPer = catalog.PerPeriod
		}
		p.Periods[i] = out
	}
	if len(in.Rates) > 0 {
		p.Rates = make([]catalog.Rate, len(in.Rates))
	}
	for i, r := range in.Rates {
		at := fmt.Sprintf("rates[%d]", i)
		var parts []catalog.Part
		for _, pt := range r.Parts {
			parts = append(parts, catalog.Part(pt))
		}
		out := catalog.Rate{
			Key: r.Key, Resource: r.Resource, Parts: parts, Name: r.Name, Category: r.Category,
			Included: r.Included, Min: r.Min, Max: r.Max,
			Setup: priceIn(f, at+".setup", r.Setup), Recurring: priceIn(f, at+".recurring", r.Recurring), Overuse: priceIn(f, at+".overuse", r.Overuse),
			Measurable: r.Measurable, Display: catalog.Display(r.Display), Sort: r.Sort, Periods: r.Periods, Unpriced: r.Unpriced,
		}
		if out.Display == "" {
			out.Display = catalog.Spinner
		}
		p.Rates[i] = out
	}
	if r := in.Rule; r != nil {
		p.Rule = &catalog.PriceRule{Kind: catalog.RuleKind(r.Kind), Percent: r.Percent, Fixed: amount(f, "rule.fixed", r.Fixed),
			ExchangeRate: r.ExchangeRate, Decimals: r.Decimals}
	}
	return p
}

type planIDPath struct {
	ID int64 `path:"id" doc:"Plan id."`
}

type planOutput struct {
	ETag string `header:"ETag"`
	Body Plan
}

func planResponse(p *catalog.Plan) *planOutput {
	return &planOutput{ETag: etagOf(p.Version), Body: planView(p)}
}

type planCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Plan
}

type planPage struct {
	Body Page[Plan]
}

type listPlansInput struct {
	ID            int64  `path:"id" doc:"Account id."`
	Published     string `query:"published" enum:"true,false" doc:"Only published (true) or unpublished (false) plans."`
	Template      string `query:"template" doc:"Only plans of this service template."`
	PlanCategory  string `query:"plan_category" doc:"Only plans of this plan category."`
	SalesCategory string `query:"sales_category" doc:"Only plans on this sales category."`
	PageParams
}

type createPlanInput struct {
	ID   int64 `path:"id" doc:"Account id of the plan's owner."`
	Body PlanInput
}

type updatePlanInput struct {
	ID int64 `path:"id" doc:"Plan id."`
	Conditional
	Body PlanInput
}

type deletePlanInput struct {
	ID int64 `path:"id" doc:"Plan id."`
	Conditional
}

type planChildrenInput struct {
	ID int64 `path:"id" doc:"Plan id."`
	PageParams
}

// PlanChange is one field of a plan that changed, and when the change
// reaches the plan's subscriptions.
type PlanChange struct {
	ID        int64     `json:"id"`
	PlanID    int64     `json:"plan_id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind" example:"sync"`
	Field     string    `json:"field" example:"periods[1m].recurring.amount"`
	Old       string    `json:"old"`
	New       string    `json:"new"`
	Effective string    `json:"effective" enum:"now,next_billing,n/a" doc:"now: limits apply at once; next_billing: prices apply from the next billing date."`
	SyncRunID int64     `json:"sync_run_id,omitempty"`
}

type planChangePage struct {
	Body Page[PlanChange]
}

// Cursor kinds of the plan lists.
const (
	cursorPlans       = "plan"
	cursorPlanCopies  = "pcopy"
	cursorPlanChanges = "pchange"
)

func (a *API) planRoutes() {
	const tag = "Catalog"
	register(a, op{id: "list-account-plans", method: http.MethodGet, path: "/accounts/{id}/plans", tag: tag,
		summary: "List a seller's plans", description: "Originals and delegated copies, in key order."}, a.listPlans)
	register(a, op{id: "create-plan", method: http.MethodPost, path: "/accounts/{id}/plans", tag: tag,
		summary: "Create an original plan", description: "Copies are made by delegation, not here.",
		status: http.StatusCreated, errors: []int{http.StatusConflict}}, a.createPlan)
	register(a, op{id: "get-plan", method: http.MethodGet, path: "/plans/{id}", tag: tag,
		summary: "Get a plan"}, a.getPlan)
	register(a, op{id: "update-plan", method: http.MethodPut, path: "/plans/{id}", tag: tag,
		summary: "Replace a plan",
		description: "Of a delegated copy, its owner changes prices, texts, categories, publication and the price rule; " +
			"prices below the owner's cost are refused unless sell_below_cost is set, and none may exceed a maximum retail price set above. " +
			"Refused (403) to users and keys without the show_prices privilege, whose plans read without prices: they change plans with PATCH.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed}, needsPrices: true}, a.updatePlan)
	register(a, op{id: "patch-plan", method: http.MethodPatch, path: "/plans/{id}", tag: tag,
		summary: "Change a plan with a JSON Merge Patch",
		description: "The body (`application/merge-patch+json`, RFC 7396) changes the plan as GET shows it; the result replaces the plan as PUT does, " +
			"with the same rules and refusals. Read-only members may stay in the body: they are ignored.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.patchPlan)
	register(a, op{id: "delete-plan", method: http.MethodDelete, path: "/plans/{id}", tag: tag,
		summary: "Delete a plan", description: "A plan with delegated copies cannot be deleted.",
		status: http.StatusNoContent, errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.deletePlan)
	register(a, op{id: "list-plan-copies", method: http.MethodGet, path: "/plans/{id}/copies", tag: tag,
		summary: "List the delegated copies of a plan", description: "The copies its owner's child resellers hold, by id."}, a.listPlanCopies)
	register(a, op{id: "list-plan-changes", method: http.MethodGet, path: "/plans/{id}/changes", tag: tag,
		summary: "List what changed in a plan", description: "Newest first, with when each change reaches subscriptions."}, a.listPlanChanges)
}

func (a *API) listPlans(ctx context.Context, in *listPlansInput) (*planPage, error) {
	after, err := decodeCursor(cursorPlans, in.Cursor)
	if err != nil {
		return nil, err
	}
	f := store.PlanFilter{Template: in.Template, PlanCategory: in.PlanCategory, SalesCategory: in.SalesCategory,
		After: after, Limit: in.fetchSize()}
	if in.Published != "" {
		pub := in.Published == "true"
		f.Published = &pub
	}
	rows, err := a.db.ListPlans(ctx, actorFrom(ctx), in.ID, f)
	if err != nil {
		return nil, err
	}
	return &planPage{Body: paginate(in.PageParams, cursorPlans, rows, func(p *catalog.Plan) string { return p.Key }, planView)}, nil
}

func (a *API) createPlan(ctx context.Context, in *createPlanInput) (*planCreated, error) {
	var f marketplane.FieldErrors
	p := in.Body.plan(&f)
	p.OwnerID = in.ID
	if len(f) > 0 {
		return nil, withDomainErrors(f, p.Validate(catalog.Known{}), "plan")
	}
	if err := a.db.CreatePlan(ctx, actorFrom(ctx), p); err != nil {
		return nil, err
	}
	return &planCreated{ETag: etagOf(p.Version), Location: Prefix + "/plans/" + idKey(p.ID), Body: planView(p)}, nil
}

func (a *API) getPlan(ctx context.Context, in *planIDPath) (*planOutput, error) {
	p, err := a.db.Plan(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return planResponse(p), nil
}

// updatePlan replaces a plan. Copies are checked against their source with
// the delegation price rules (cost, caps) in the store's transaction.
func (a *API) updatePlan(ctx context.Context, in *updatePlanInput) (*planOutput, error) {
	actor := actorFrom(ctx)
	cur, err := a.db.Plan(ctx, actor, in.ID)
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return a.replacePlan(ctx, cur, in.IfMatch, &in.Body)
}

// replacePlan replaces plan cur, as read by the caller, with body, if
// ifMatch (an If-Match header, "" for none) names cur's version: the store
// refuses the update (EPRECONDITION) if the plan changed after it was read.
func (a *API) replacePlan(ctx context.Context, cur *catalog.Plan, ifMatch string, body *PlanInput) (*planOutput, error) {
	if err := checkIfMatch(ifMatch, etagOf(cur.Version)); err != nil {
		return nil, err
	}
	var f marketplane.FieldErrors
	p := body.plan(&f)
	p.ID, p.Version = cur.ID, cur.Version
	keepConversions(p, cur)
	if len(f) > 0 {
		return nil, withDomainErrors(f, p.Validate(catalog.Known{}), "plan")
	}
	if err := a.db.UpdatePlan(ctx, actorFrom(ctx), p, delegation.CheckPrices); err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return planResponse(p), nil
}

// keepConversions gives a trial period of p that names no converts_to the
// one the same trial of cur has: a body written before the API showed
// converts_to would drop it otherwise, and billing cannot end a trial
// that converts to nothing (every billing day after it would fail).
// Naming another paid period changes it.
func keepConversions(p, cur *catalog.Plan) {
	for i, pe := range p.Periods {
		if !pe.Trial || pe.ConvertsTo != "" {
			continue
		}
		if old, ok := cur.Period(pe.Key); ok && old.Trial {
			p.Periods[i].ConvertsTo = old.ConvertsTo
		}
	}
}

type patchPlanInput struct {
	ID int64 `path:"id" doc:"Plan id."`
	Conditional
	Body    map[string]any `contentType:"application/merge-patch+json" doc:"A JSON Merge Patch (RFC 7396) of the plan as GET shows it: members present replace the plan's, null removes one, objects merge member by member, arrays are replaced whole. Read-only members (id, version, on_sale …) are ignored."`
	RawBody []byte
}

// patchPlan applies a JSON Merge Patch (RFC 7396) to the plan as GET shows
// it and replaces the plan with the result, as PUT does: a client changes
// one price without sending, or stripping, the rest. The patch applies to
// the plan as read here, and the store refuses the update if the plan
// changed after that (and If-Match, when given, names the version read).
func (a *API) patchPlan(ctx context.Context, in *patchPlanInput) (*planOutput, error) {
	actor := actorFrom(ctx)
	cur, err := a.db.Plan(ctx, actor, in.ID)
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	if err := checkIfMatch(in.IfMatch, etagOf(cur.Version)); err != nil {
		return nil, err
	}
	// Numbers stay as written (json.Number): a float64 would turn a large
	// integer into an approximation or an exponent.
	var patch any
	dec := json.NewDecoder(bytes.NewReader(in.RawBody))
	dec.UseNumber()
	if err := dec.Decode(&patch); err != nil {
		return nil, badParam("body", "is not JSON")
	}
	if _, ok := patch.(map[string]any); !ok {
		return nil, badParam("body", "must be a JSON object: a merge patch of the plan")
	}
	view, err := json.Marshal(fullPlanView(cur))
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", cur.ID, err)
	}
	var doc any
	dec = json.NewDecoder(bytes.NewReader(view))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("plan %d: %w", cur.ID, err)
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", cur.ID, err)
	}
	var body PlanInput
	if err := json.Unmarshal(merged, &body); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, badParam("body."+te.Field, "must be of type "+jsonType(te.Type.Kind()))
		}
		return nil, badParam("body", "does not make a plan: "+err.Error())
	}
	return a.replacePlan(ctx, cur, "", &body)
}

// fullPlanView is the plan a merge patch applies to: everything a PUT
// takes, prices included.
func fullPlanView(p *catalog.Plan) Plan {
	return planView(p)
}

// jsonType names the JSON type of a Go kind, for a field error.
func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	default:
		return "number"
	}
}

// mergePatch applies the JSON Merge Patch patch to target (RFC 7396,
// section 2): an object patch merges member by member, null removing a
// member; anything else replaces the target.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// deletePlan checks If-Match before the delete; the store's delete takes no
// version, so a change between the check and the delete is not caught.
func (a *API) deletePlan(ctx context.Context, in *deletePlanInput) (*struct{}, error) {
	actor := actorFrom(ctx)
	if in.IfMatch != "" {
		cur, err := a.db.Plan(ctx, actor, in.ID)
		if err != nil {
			return nil, notFoundAs(err, "plan not found")
		}
		if err := checkIfMatch(in.IfMatch, etagOf(cur.Version)); err != nil {
			return nil, err
		}
	}
	return nil, notFoundAs(a.db.DeletePlan(ctx, actor, in.ID), "plan not found")
}

func (a *API) listPlanCopies(ctx context.Context, in *planChildrenInput) (*planPage, error) {
	after, err := decodeIDCursor(cursorPlanCopies, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Copies(ctx, actorFrom(ctx), in.ID, after, in.fetchSize())
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	return &planPage{Body: paginate(in.PageParams, cursorPlanCopies, rows, func(p *catalog.Plan) string { return idKey(p.ID) }, planView)}, nil
}

func (a *API) listPlanChanges(ctx context.Context, in *planChildrenInput) (*planChangePage, error) {
	before, err := decodeIDCursor(cursorPlanChanges, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.PlanChanges(ctx, actorFrom(ctx), in.ID, before, in.fetchSize())
	if err != nil {
		return nil, notFoundAs(err, "plan not found")
	}
	view := func(c *store.PlanChange) PlanChange {
		return PlanChange{ID: c.ID, PlanID: c.PlanID, At: c.At, Kind: c.Kind, Field: c.Field, Old: c.Old, New: c.New,
			Effective: string(c.Effective), SyncRunID: c.SyncRunID}
	}
	return &planChangePage{Body: paginate(in.PageParams, cursorPlanChanges, rows, func(c *store.PlanChange) string { return idKey(c.ID) }, view)}, nil
}
