package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// The sync benchmark's tree: one provider plan (the demo catalog's Office
// Pro: two periods, three rates, a plan category and a sales category)
// delegated to SCALE L1 resellers with a percent markup, and by each of them
// to syncL2PerL1 L2 resellers of its own, in the reseller's currency.
const (
	syncL2PerL1 = 10
	// syncGroup is how many L1 resellers have their L2 resellers created
	// and delegated to at once: one bulk call of 500 accounts and one
	// InsertCopies batch of 500 copies, each all or nothing, so that an
	// interrupted build resumes at the group where it stopped.
	syncGroup = 50
	// syncBatch is how many copies one InsertCopies call and one page of
	// copies get.
	syncBatch = 500
	// syncDemoPlan is the demo catalog's plan the provider sells.
	syncDemoPlan = "office-pro"
	// The price change raises the monthly fee of syncFeePeriod and the
	// recurring price of rate syncPriceRate.
	syncFeePeriod = "1m"
	syncPriceRate = "mailbox"
	// syncNewRatePrefix starts the keys of the resources the new-resource
	// sync adds, one more on every run.
	syncNewRatePrefix = "bench-archive-"
	// syncOptsPrice and syncOptsNewResource are the options of the two
	// measured syncs.
	syncOptsPrice       = "fees,resource_prices"
	syncOptsNewResource = "new_resources"
)

// perUSD are the exchange rates the L1 copies are priced with, from the
// provider's currency into the reseller's: a distributor sells one price
// list through resellers in several countries.
var perUSD = map[string]float64{"USD": 1, "EUR": 0.92, "GBP": 0.79, "CAD": 1.36, "AUD": 1.52, "JPY": 150}

// syncExt is the start of the external ids of the L1 resellers at a scale,
// and syncPlanKey the key of the provider plan: a database can hold trees of
// several scales side by side.
func syncExt(scale int) string     { return fmt.Sprintf("bench-sync-%d-", scale) }
func syncPlanKey(scale int) string { return fmt.Sprintf("bench-sync-%d", scale) }

// syncL2Ext is the external id of L2 reseller j below its L1.
func syncL2Ext(j int) string { return fmt.Sprintf("l2-%02d", j+1) }

// syncL1Terms are the delegation terms of L1 reseller i (from 0): one in a
// hundred has its pricing restricted (its prices are its own) and another
// one in a hundred prohibits cascading (its L2 resellers are not touched).
func syncL1Terms(i int) (delegation.Terms, bool) {
	switch i % 100 {
	case 1:
		return delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPricing}}, true
	case 3:
		return delegation.Terms{ProhibitCascade: true}, true
	}
	return delegation.Terms{}, false
}

// syncL2Terms are the terms L1 reseller i set on its L2 reseller j: one L2
// reseller in a hundred has its pricing restricted.
func syncL2Terms(i, j int) (delegation.Terms, bool) {
	if (i*syncL2PerL1+j)%100 == 25 {
		return delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPricing}}, true
	}
	return delegation.Terms{}, false
}

// syncDelegation is how copies are priced: a markup that differs from one
// reseller to the next, and the exchange rate when the currencies differ.
func syncDelegation(markup, from, to string) (delegation.DelegateOptions, error) {
	rule := catalog.PriceRule{Kind: catalog.RulePercent, Percent: markup}
	if from != to {
		x, okFrom := perUSD[from]
		y, okTo := perUSD[to]
		if !okFrom || !okTo {
			return delegation.DelegateOptions{}, fmt.Errorf("no exchange rate from %s to %s", from, to)
		}
		rule.ExchangeRate = strconv.FormatFloat(y/x, 'f', 4, 64)
	}
	if to == "JPY" { // no minor units
		zero := 0
		rule.Decimals = &zero
	}
	return delegation.DelegateOptions{Rule: rule, Publish: true}, nil
}

// syncExpect is what the two syncs must do, counted from the terms above.
type syncExpect struct {
	copies int
	// priceInStep is how many copies have, after the price change, the
	// prices their rule derives from their source: all but the copies
	// whose pricing is restricted (they keep theirs) and the copies below
	// a reseller that prohibits cascading (not touched). priceChanged
	// leaves out the copies below a restricted L1 too: their source kept
	// its prices, so they are in step without changing.
	priceInStep, priceChanged int
	// withRate is how many copies the new resource reaches (all but those
	// below a reseller that prohibits cascading); unpriced is how many of
	// them get it without a price, waiting for their owner: the restricted
	// copies and the copies below a restricted L1.
	withRate, unpriced int
}

func expectSync(scale int) syncExpect {
	e := syncExpect{copies: scale * (1 + syncL2PerL1)}
	for i := range scale {
		t1, _ := syncL1Terms(i)
		restricted := t1.Restricted(delegation.RestrictPricing)
		e.withRate++
		if restricted {
			e.unpriced++
		} else {
			e.priceInStep++
			e.priceChanged++
		}
		if t1.ProhibitCascade {
			continue
		}
		for j := range syncL2PerL1 {
			t2, _ := syncL2Terms(i, j)
			e.withRate++
			switch {
			case restricted:
				e.priceInStep++
				e.unpriced++
			case t2.Restricted(delegation.RestrictPricing):
				e.unpriced++
			default:
				e.priceInStep++
				e.priceChanged++
			}
		}
	}
	return e
}

// runSync measures the synchronization of one provider plan's copies down
// a tree of SCALE L1 and SCALE×10 L2 resellers: a price change (monthly fee
// and a rate's price) and a new resource. Each sync is checked copy by copy
// afterwards; a copy that should have changed and did not fails the
// benchmark. A reused tree has one more rate per earlier run (and the
// change logs of those runs): figures to compare come from fresh databases.
func runSync(ctx context.Context, r *runner) error {
	setup := time.Now()
	plan, err := r.buildSyncTree(ctx)
	if err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())
	want := expectSync(r.scale)

	// A price change: the monthly fee up by 0.50 and the mailbox up by
	// 0.10, at every run, so that a reused tree changes too.
	sys := account.SystemActor()
	if plan, err = r.db.Plan(ctx, sys, plan.ID); err != nil {
		return err
	}
	pe, ok := plan.Period(syncFeePeriod)
	rt, ok2 := plan.Rate(syncPriceRate)
	if !ok || !ok2 {
		return fmt.Errorf("plan %s has no period %s or no rate %s", plan.Key, syncFeePeriod, syncPriceRate)
	}
	pe.Recurring.Amount += money.Micros(500_000)
	rt.Recurring.Amount += money.Micros(100_000)
	if err := r.db.UpdatePlan(ctx, sys, plan, nil); err != nil {
		return fmt.Errorf("change the plan's prices: %w", err)
	}
	r.log.Info("sync a price change", "plan", plan.ID, "options", syncOptsPrice, "copies", want.copies)
	run, elapsed, err := r.timeSync(ctx, plan.ID, syncOptsPrice, "price change", want.copies)
	if err != nil {
		return err
	}
	r.log.Info("price change synced", "elapsed", elapsed, "copies changed", run.CopiesChanged, "changes", run.Changes)
	r.set("price_change_s", elapsed.Seconds())
	got, err := r.countCopies(ctx, plan, "")
	if err != nil {
		return err
	}
	r.res.Figures["copies"] = float64(got.copies) // a count: the one figure without a unit, named by the issue
	switch {
	case got.copies != want.copies:
		return fmt.Errorf("the plan has %d copies, want %d: the tree was changed by hand; use a fresh database", got.copies, want.copies)
	case got.inStep != want.priceInStep:
		return fmt.Errorf("after the price change %d copies have their source's prices, want %d", got.inStep, want.priceInStep)
	case run.CopiesChanged != want.priceChanged:
		return fmt.Errorf("the price change changed %d copies, want %d", run.CopiesChanged, want.priceChanged)
	}

	// A new resource, priced per GB.
	key, err := r.addSyncRate(ctx, plan)
	if err != nil {
		return err
	}
	r.log.Info("sync a new resource", "rate", key, "options", syncOptsNewResource)
	run, elapsed, err = r.timeSync(ctx, plan.ID, syncOptsNewResource, "new resource", want.withRate)
	if err != nil {
		return err
	}
	r.log.Info("new resource synced", "elapsed", elapsed, "copies changed", run.CopiesChanged, "changes", run.Changes)
	r.set("new_resource_s", elapsed.Seconds())
	if got, err = r.countCopies(ctx, plan, key); err != nil {
		return err
	}
	switch {
	case got.withRate != want.withRate:
		return fmt.Errorf("%d copies have the new resource %s, want %d", got.withRate, key, want.withRate)
	case got.unpriced != want.unpriced:
		return fmt.Errorf("%d copies have the new resource %s unpriced, want %d", got.unpriced, key, want.unpriced)
	case got.rateInStep != want.withRate-want.unpriced:
		return fmt.Errorf("%d copies price the new resource %s as their rule says, want %d", got.rateInStep, key, want.withRate-want.unpriced)
	case run.CopiesChanged != want.withRate:
		return fmt.Errorf("the new resource changed %d copies, want %d", run.CopiesChanged, want.withRate)
	}
	return nil
}

// timeSync creates a sync run of plan planID with opts, as a user would ask
// for it, and times applying it (RunSync, what the task does).
func (r *runner) timeSync(ctx context.Context, planID int64, opts, desc string, copies int) (*store.SyncRun, time.Duration, error) {
	run := &store.SyncRun{SourcePlanID: planID, Options: opts}
	if err := r.db.CreateSyncRun(ctx, account.SystemActor(), run, nil); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", desc, err)
	}
	p := r.phase(desc, "copies", copies)
	defer p.done()
	var emit func(store.SyncItem) error
	if p != nil {
		emit = func(store.SyncItem) error { p.add(1); return nil }
	}
	start := time.Now()
	done, err := r.db.RunSync(ctx, run.ID, emit)
	elapsed := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", desc, err)
	}
	if done.Status != store.SyncCompleted {
		return nil, 0, fmt.Errorf("%s: run %d is %s: %s", desc, done.ID, done.Status, done.Error)
	}
	return done, elapsed, nil
}

// addSyncRate adds a resource the plan does not sell yet (a new resource
// type, "email archive", one more at every run) and returns its key.
func (r *runner) addSyncRate(ctx context.Context, plan *catalog.Plan) (string, error) {
	sys := account.SystemActor()
	n := 1
	for _, rt := range plan.Rates {
		if strings.HasPrefix(rt.Key, syncNewRatePrefix) {
			n++
		}
	}
	key := syncNewRatePrefix + strconv.Itoa(n)
	res := &store.ResourceType{ResourceType: catalog.ResourceType{Key: key,
		Name: catalog.Text{"en": fmt.Sprintf("Email archive %d", n), "de": fmt.Sprintf("E-Mail-Archiv %d", n)},
		Unit: "GB", Class: catalog.ClassLimit, Category: "storage", Connector: "archive_gb"}}
	// Another scale's plan may have made it already.
	if err := r.db.CreateResourceType(ctx, sys, res); err != nil && marketplane.ErrorCode(err) != marketplane.ECONFLICT {
		return "", fmt.Errorf("create resource type %s: %w", key, err)
	}
	plan.Rates = append(plan.Rates, catalog.Rate{Key: key, Resource: key, Included: 0, Min: 0, Max: 1000,
		Recurring: catalog.Price{Amount: money.Micros(50_000)}, Display: catalog.Slider, Sort: len(plan.Rates) + 1})
	if err := r.db.UpdatePlan(ctx, sys, plan, nil); err != nil {
		return "", fmt.Errorf("add resource %s to the plan: %w", key, err)
	}
	return key, nil
}

// syncCount is what a walk over every copy of the plan found.
type syncCount struct {
	copies int
	// inStep counts the copies whose monthly fee and mailbox price are what
	// their rule derives from their source's.
	inStep int
	// withRate, unpriced and rateInStep count the copies holding the
	// resource asked for, those holding it unpriced, and those pricing it
	// as their rule derives from their source's price.
	withRate, unpriced, rateInStep int
}

// countCopies reads every copy of plan, level by level in pages as the
// sync engine does (only the L1 copies stay in memory), and compares each
// with what its rule derives from its source.
func (r *runner) countCopies(ctx context.Context, plan *catalog.Plan, rate string) (syncCount, error) {
	var c syncCount
	var l1 []*catalog.Plan
	for after := int64(0); ; {
		page, err := r.db.CopiesBatch(ctx, plan.ID, after, syncBatch)
		if err != nil {
			return c, err
		}
		for _, cp := range page {
			if err := c.see(plan, cp, rate); err != nil {
				return c, err
			}
		}
		l1 = append(l1, page...)
		if len(page) < syncBatch {
			break
		}
		after = page[len(page)-1].ID
	}
	for start := 0; start < len(l1); start += syncBatch {
		chunk := l1[start:min(start+syncBatch, len(l1))]
		ids := make([]int64, len(chunk))
		byID := make(map[int64]*catalog.Plan, len(chunk))
		for i, s := range chunk {
			ids[i], byID[s.ID] = s.ID, s
		}
		for after := int64(0); ; {
			page, err := r.db.CopiesOfBatch(ctx, ids, after, syncBatch)
			if err != nil {
				return c, err
			}
			for _, cp := range page {
				if err := c.see(byID[cp.SourceID], cp, rate); err != nil {
					return c, err
				}
			}
			if len(page) < syncBatch {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return c, nil
}

// see counts copy cp of src. What the rule derives is what delegating src
// afresh with cp's rule gives.
func (c *syncCount) see(src, cp *catalog.Plan, rate string) error {
	c.copies++
	if cp.Rule == nil {
		return fmt.Errorf("copy %d has no price rule", cp.ID)
	}
	want, err := delegation.Delegate(src, cp.OwnerID, cp.Currency,
		delegation.DelegateOptions{Rule: *cp.Rule, SellBelowCost: cp.SellBelowCost})
	if err != nil {
		return fmt.Errorf("copy %d: %w", cp.ID, err)
	}
	fee, okFee := cp.Period(syncFeePeriod)
	wantFee, _ := want.Period(syncFeePeriod)
	mb, okRate := cp.Rate(syncPriceRate)
	wantMB, _ := want.Rate(syncPriceRate)
	if !okFee || !okRate {
		return fmt.Errorf("copy %d lacks period %s or rate %s", cp.ID, syncFeePeriod, syncPriceRate)
	}
	if fee.Recurring.Amount == wantFee.Recurring.Amount && mb.Recurring.Amount == wantMB.Recurring.Amount {
		c.inStep++
	}
	if rate == "" {
		return nil
	}
	if rt, ok := cp.Rate(rate); ok {
		c.withRate++
		if rt.Unpriced {
			c.unpriced++
		} else if w, ok := want.Rate(rate); ok && w.Recurring.Amount == rt.Recurring.Amount {
			c.rateInStep++
		}
	}
	return nil
}

// buildSyncTree makes the provider's catalog, plan, resellers and copies of
// the benchmark, or finds those an earlier run made, and returns the plan.
func (r *runner) buildSyncTree(ctx context.Context) (*catalog.Plan, error) {
	db, scale, sys := r.db, r.scale, account.SystemActor()
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	plan, err := ensureSyncPlan(ctx, db, prov, scale)
	if err != nil {
		return nil, err
	}
	r.log.Info("sync tree", "plan", plan.ID, "l1 resellers", scale, "l2 resellers", scale*syncL2PerL1)
	p := r.phase("building", "copies", scale*(1+syncL2PerL1))
	defer p.done()

	ids, err := ensureResellers(ctx, db, prov.ID, syncExt(scale), fmt.Sprintf("Bench Sync Reseller (%d) ", scale), scale)
	if err != nil {
		return nil, err
	}
	accts, err := db.AccountsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	l1 := make([]*account.Account, scale)
	terms := map[int64]delegation.Terms{}
	for i, id := range ids {
		l1[i] = accts[id]
		if t, ok := syncL1Terms(i); ok {
			terms[id] = t
		}
	}
	// Terms before copies: a reseller never holds a copy without its terms.
	if err := ensureTerms(ctx, db, terms); err != nil {
		return nil, err
	}

	// The L1 copies, in the order of the resellers.
	have := map[int64]*catalog.Plan{} // by owner
	for after := int64(0); ; {
		page, err := db.CopiesBatch(ctx, plan.ID, after, syncBatch)
		if err != nil {
			return nil, err
		}
		for _, cp := range page {
			have[cp.OwnerID] = cp
		}
		if len(page) < syncBatch {
			break
		}
		after = page[len(page)-1].ID
	}
	p.add(len(have))
	var missing []*catalog.Plan
	for i, a := range l1 {
		if have[a.ID] != nil {
			continue
		}
		opt, err := syncDelegation([]string{"10", "15", "20", "25"}[i%4], prov.Currency, a.Currency)
		if err != nil {
			return nil, err
		}
		cp, err := delegation.Delegate(plan, a.ID, a.Currency, opt)
		if err != nil {
			return nil, fmt.Errorf("delegate to %s: %w", a.ExternalID, err)
		}
		missing = append(missing, cp)
	}
	for start := 0; start < len(missing); start += syncBatch {
		part := missing[start:min(start+syncBatch, len(missing))]
		if err := db.InsertCopies(ctx, sys, part, delegation.CheckPrices); err != nil {
			return nil, fmt.Errorf("delegate to L1 resellers: %w", err)
		}
		for _, cp := range part {
			have[cp.OwnerID] = cp
		}
		p.add(len(part))
	}
	copies := make([]*catalog.Plan, scale)
	for i, a := range l1 {
		copies[i] = have[a.ID]
	}

	for g := 0; g < scale; g += syncGroup {
		if err := r.buildSyncGroup(ctx, l1[g:min(g+syncGroup, scale)], copies[g:min(g+syncGroup, scale)], g, p); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// buildSyncGroup gives the L1 resellers l1 (the first being L1 number
// first) their L2 resellers, those resellers' terms and the copies of the
// L1 copies, where missing.
func (r *runner) buildSyncGroup(ctx context.Context, l1 []*account.Account, copies []*catalog.Plan, first int, p *progress) error {
	db := r.db
	ids := make([]int64, len(copies))
	for i, cp := range copies {
		ids[i] = cp.ID
	}
	perSource := map[int64]int{}
	owned := map[int64]bool{} // L2 resellers holding their copy
	for after := int64(0); ; {
		page, err := db.CopiesOfBatch(ctx, ids, after, syncBatch)
		if err != nil {
			return err
		}
		for _, cp := range page {
			perSource[cp.SourceID]++
			owned[cp.OwnerID] = true
		}
		if len(page) < syncBatch {
			break
		}
		after = page[len(page)-1].ID
	}
	type lacking struct {
		k    int // index in the group
		kids map[string]*account.Account
	}
	var todo []lacking
	var newAccts []*account.Account
	for k, a := range l1 {
		if perSource[copies[k].ID] >= syncL2PerL1 {
			p.add(syncL2PerL1)
			continue
		}
		kids, err := db.ChildrenByExternalID(ctx, a.ID, account.Reseller)
		if err != nil {
			return err
		}
		i := first + k
		for j := range syncL2PerL1 {
			ext := syncL2Ext(j)
			if kids[ext] != nil {
				continue
			}
			// n keeps the L2 reseller in its L1's region (and currency).
			n := (i*syncL2PerL1+j)*len(regions) + i%len(regions)
			c := &account.Account{}
			fillAccount(c, account.Reseller, a.ID, n, fmt.Sprintf("%s L2 %02d", a.Name, j+1))
			c.ExternalID = ext
			kids[ext] = c
			newAccts = append(newAccts, c)
		}
		todo = append(todo, lacking{k, kids})
	}
	if len(todo) == 0 {
		return nil
	}
	if err := db.CreateAccountsBulk(ctx, newAccts); err != nil {
		return fmt.Errorf("create L2 resellers: %w", err)
	}
	terms := map[int64]delegation.Terms{}
	var batch []*catalog.Plan
	for _, t := range todo {
		i, src := first+t.k, copies[t.k]
		for j := range syncL2PerL1 {
			a := t.kids[syncL2Ext(j)]
			if tm, ok := syncL2Terms(i, j); ok {
				terms[a.ID] = tm
			}
			if owned[a.ID] {
				continue
			}
			opt, err := syncDelegation([]string{"5", "10", "12.5"}[j%3], src.Currency, a.Currency)
			if err != nil {
				return err
			}
			cp, err := delegation.Delegate(src, a.ID, a.Currency, opt)
			if err != nil {
				return fmt.Errorf("delegate to %s below %s: %w", a.ExternalID, l1[t.k].ExternalID, err)
			}
			batch = append(batch, cp)
		}
	}
	if err := ensureTerms(ctx, db, terms); err != nil {
		return err
	}
	if err := db.InsertCopies(ctx, account.SystemActor(), batch, delegation.CheckPrices); err != nil {
		return fmt.Errorf("delegate to L2 resellers: %w", err)
	}
	p.add(len(todo) * syncL2PerL1)
	return nil
}

// ensureTerms sets the delegation terms of the resellers in want that do
// not have them yet.
func ensureTerms(ctx context.Context, db *store.DB, want map[int64]delegation.Terms) error {
	if len(want) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	have, err := db.DelegationTermsOf(ctx, ids)
	if err != nil {
		return err
	}
	for id, t := range want {
		if h, ok := have[id]; ok && h.ProhibitCascade == t.ProhibitCascade && slices.Equal(h.Restrictions, t.Restrictions) {
			continue
		}
		if _, err := db.SetDelegationTerms(ctx, account.SystemActor(), id, t); err != nil {
			return fmt.Errorf("terms of reseller %d: %w", id, err)
		}
	}
	return nil
}

// ensureSyncPlan returns the provider's plan of the benchmark at a scale,
// creating it (and the demo catalog's resource types, template and
// categories it needs) when missing.
func ensureSyncPlan(ctx context.Context, db *store.DB, prov *account.Account, scale int) (*catalog.Plan, error) {
	sys := account.SystemActor()
	p, err := db.PlanByKey(ctx, sys, prov.ID, syncPlanKey(scale))
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return p, err
	}
	doc, err := catalog.DemoDocument()
	if err != nil {
		return nil, err
	}
	var plan *catalog.Plan
	for i := range doc.Plans {
		if doc.Plans[i].Key == syncDemoPlan {
			plan = &doc.Plans[i]
		}
	}
	if plan == nil {
		return nil, fmt.Errorf("the demo catalog has no plan %s", syncDemoPlan)
	}
	// What the plan is made of and filed under; what exists (from the demo
	// or an earlier run) is kept as it is.
	need := map[string]bool{}
	for _, rt := range plan.Rates {
		need[rt.Resource] = true
		for _, part := range rt.Parts {
			need[part.Resource] = true
		}
	}
	exists := func(err error) error {
		if marketplane.ErrorCode(err) == marketplane.ECONFLICT {
			return nil
		}
		return err
	}
	for _, rt := range doc.ResourceTypes {
		if need[rt.Key] {
			if err := exists(db.CreateResourceType(ctx, sys, &store.ResourceType{ResourceType: rt})); err != nil {
				return nil, fmt.Errorf("resource type %s: %w", rt.Key, err)
			}
		}
	}
	for _, t := range doc.Templates {
		if t.Key == plan.Template {
			if err := exists(db.CreateTemplate(ctx, sys, &store.Template{Template: t})); err != nil {
				return nil, fmt.Errorf("template %s: %w", t.Key, err)
			}
		}
	}
	for _, c := range doc.PlanCategories {
		if c.Key == plan.PlanCategory {
			c.OwnerID = prov.ID
			if err := exists(db.CreatePlanCategory(ctx, sys, &store.PlanCategory{PlanCategory: c})); err != nil {
				return nil, fmt.Errorf("plan category %s: %w", c.Key, err)
			}
		}
	}
	// The plan's sales categories with their ancestors, top down.
	shelves := map[string]catalog.SalesCategory{}
	for _, c := range doc.SalesCategories {
		shelves[c.Key] = c
	}
	var chain []catalog.SalesCategory
	for _, k := range plan.SalesCategories {
		var up []catalog.SalesCategory
		for key := k; key != ""; key = shelves[key].Parent {
			up = append(up, shelves[key])
		}
		for i := len(up) - 1; i >= 0; i-- {
			chain = append(chain, up[i])
		}
	}
	for _, c := range chain {
		c.OwnerID = prov.ID
		if err := exists(db.CreateSalesCategory(ctx, sys, &store.SalesCategory{SalesCategory: c})); err != nil {
			return nil, fmt.Errorf("sales category %s: %w", c.Key, err)
		}
	}

	plan.OwnerID, plan.Key, plan.Currency, plan.Published = prov.ID, syncPlanKey(scale), prov.Currency, true
	plan.Name = catalog.Text{"en": fmt.Sprintf("Office Pro (bench %d)", scale), "de": fmt.Sprintf("Office Pro (Bench %d)", scale)}
	// Upgrade paths name the demo's other plans, which the benchmark does
	// not make.
	plan.UpgradeTo, plan.DowngradeTo = nil, nil
	if err := db.CreatePlan(ctx, sys, plan); err != nil {
		return nil, fmt.Errorf("create plan %s: %w", plan.Key, err)
	}
	return plan, nil
}
