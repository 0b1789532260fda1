package store_test

import (
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// chain is provider P's plan delegated to L1 resellers A (+20 %) and B
// (+10 %), and by A to its L2 reseller A1 (+10 %).
type chain struct {
	*catTree
	src, pa, pb, pa1 *catalog.Plan
}

func percent(p string) delegation.DelegateOptions {
	return delegation.DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RulePercent, Percent: p}, Publish: true}
}

func chainSetup(t *testing.T, db *store.DB) *chain {
	t.Helper()
	c := &chain{catTree: catSetup(t, db)}
	c.src = officePlan(c.P.ID, "office-basic")
	c.src.Published = true
	if err := db.CreatePlan(c.ctx, c.p, c.src); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.pa, err = db.Delegate(c.ctx, c.p, c.src.ID, c.A.ID, percent("20")); err != nil {
		t.Fatalf("delegate to A: %v", err)
	}
	if c.pb, err = db.Delegate(c.ctx, c.p, c.src.ID, c.B.ID, percent("10")); err != nil {
		t.Fatalf("delegate to B: %v", err)
	}
	if c.pa1, err = db.Delegate(c.ctx, c.a, c.pa.ID, c.A1.ID, percent("10")); err != nil {
		t.Fatalf("delegate to A1: %v", err)
	}
	return c
}

func (c *chain) plan(t *testing.T, id int64) *catalog.Plan {
	t.Helper()
	p, err := c.db.Plan(c.ctx, account.SystemActor(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// editSource changes the provider's plan.
func (c *chain) editSource(t *testing.T, edit func(p *catalog.Plan)) {
	t.Helper()
	p := c.plan(t, c.src.ID)
	edit(p)
	if err := c.db.UpdatePlan(c.ctx, c.p, p, nil); err != nil {
		t.Fatalf("edit source: %v", err)
	}
}

// sync applies a sync of the source with opts as the task would.
func (c *chain) sync(t *testing.T, from int64, actor *account.Actor, opts string, oneLevel bool) *store.SyncRun {
	t.Helper()
	run := &store.SyncRun{SourcePlanID: from, Options: opts, OneLevel: oneLevel}
	if err := c.db.CreateSyncRun(c.ctx, actor, run, nil); err != nil {
		t.Fatal(err)
	}
	done, err := c.db.RunSync(c.ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != store.SyncCompleted {
		t.Fatalf("run %s: %s", done.Status, done.Error)
	}
	return done
}

func m(s string) money.Micros {
	v, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestSyncWorkedChain(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := chainSetup(t, db)
		// Delegation prices: 10.00 → A 12.00 → A1 13.20; B 11.00.
		for _, x := range []struct {
			who  string
			id   int64
			want string
		}{{"A", c.pa.ID, "12.00"}, {"A1", c.pa1.ID, "13.20"}, {"B", c.pb.ID, "11.00"}} {
			if got := c.plan(t, x.id).Periods[0].Recurring.Amount; got != m(x.want) {
				t.Errorf("%s's monthly fee %s, want %s", x.who, got, x.want)
			}
		}
		// The provider raises the fee to 12.50 and the mailbox to 3.00.
		c.editSource(t, func(p *catalog.Plan) {
			p.Periods[0].Recurring.Amount = m("12.50")
			p.Rates[0].Recurring.Amount = m("3.00")
			p.Name["en"] = "Office Basic (new)"
		})
		// A preview says what an apply does, down to A1.
		var preview []store.SyncItem
		opts, _ := delegation.ParseOptions("fees,resource_prices")
		if err := db.PreviewSync(c.ctx, c.p, c.src.ID, opts, false, func(it store.SyncItem) error {
			preview = append(preview, it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(preview) != 3 {
			t.Fatalf("preview touches %d copies, want 3 (A, B, A1)", len(preview))
		}
		before := c.plan(t, c.pa.ID)
		if before.Periods[0].Recurring.Amount != m("12.00") {
			t.Fatal("the preview changed a copy")
		}
		run := c.sync(t, c.src.ID, c.p, "fees,resource_prices", false)
		// 12.50 × 1.2 = 15.00; × 1.1 = 16.50; B 13.75. Mailbox 3.00 → 3.60 → 3.96; B 3.30.
		for _, x := range []struct {
			who        string
			id         int64
			fee, mailb string
		}{{"A", c.pa.ID, "15.00", "3.60"}, {"A1", c.pa1.ID, "16.50", "3.96"}, {"B", c.pb.ID, "13.75", "3.30"}} {
			p := c.plan(t, x.id)
			if p.Periods[0].Recurring.Amount != m(x.fee) || p.Rates[0].Recurring.Amount != m(x.mailb) {
				t.Errorf("%s: fee %s mailbox %s, want %s %s", x.who, p.Periods[0].Recurring.Amount, p.Rates[0].Recurring.Amount, x.fee, x.mailb)
			}
			if p.Name["en"] != "Office office-basic" {
				t.Errorf("%s's name changed without the names option: %q", x.who, p.Name["en"])
			}
		}
		if run.CopiesChanged != 3 || run.Changes != 6 {
			t.Errorf("run counts: %d copies, %d changes; want 3, 6", run.CopiesChanged, run.Changes)
		}
		// The change log says when each change takes effect.
		changes, err := db.PlanChanges(c.ctx, c.a, c.pa.ID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var fee *store.PlanChange
		for _, ch := range changes {
			if ch.Field == "periods[1m].recurring.amount" {
				fee = ch
			}
		}
		if fee == nil || fee.Old != "12.00" || fee.New != "15.00" || fee.Effective != delegation.EffectiveNextBilling || fee.SyncRunID != run.ID {
			t.Errorf("change log of A: %+v", fee)
		}
		// A second run of the same sync changes nothing.
		again := c.sync(t, c.src.ID, c.p, "fees,resource_prices", false)
		if again.CopiesChanged != 0 {
			t.Errorf("a repeated sync changed %d copies", again.CopiesChanged)
		}
		// A sibling cannot sync or preview the provider's plan.
		wantCode(t, db.CreateSyncRun(c.ctx, c.b, &store.SyncRun{SourcePlanID: c.pa.ID, Options: "fees"}, nil), marketplane.ENOTFOUND)
		wantCode(t, db.PreviewSync(c.ctx, c.b, c.pa.ID, opts, false, func(store.SyncItem) error { return nil }), marketplane.ENOTFOUND)
	})
}

func TestSyncProhibitCascadeAndOneLevel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := chainSetup(t, db)
		// The provider prohibits cascading through A: A changes, A1 (below
		// A) does not, B (A's sibling) does.
		if _, err := db.SetDelegationTerms(c.ctx, c.p, c.A.ID, delegation.Terms{ProhibitCascade: true}); err != nil {
			t.Fatal(err)
		}
		c.editSource(t, func(p *catalog.Plan) { p.Periods[0].Recurring.Amount = m("11.00") })
		c.sync(t, c.src.ID, c.p, "fees", false)
		if got := c.plan(t, c.pa.ID).Periods[0].Recurring.Amount; got != m("13.20") {
			t.Errorf("A: %s, want 13.20", got)
		}
		if got := c.plan(t, c.pa1.ID).Periods[0].Recurring.Amount; got != m("13.20") {
			t.Errorf("A1 below a prohibited cascade changed: %s, want 13.20 as before", got)
		}
		if got := c.plan(t, c.pb.ID).Periods[0].Recurring.Amount; got != m("12.10") {
			t.Errorf("B: %s, want 12.10", got)
		}
		if _, err := db.SetDelegationTerms(c.ctx, c.p, c.A.ID, delegation.Terms{}); err != nil {
			t.Fatal(err)
		}
		// One-level sync: A and B change and are flagged; A1 waits.
		c.editSource(t, func(p *catalog.Plan) { p.Periods[0].Recurring.Amount = m("12.00") })
		c.sync(t, c.src.ID, c.p, "fees", true)
		a := c.plan(t, c.pa.ID)
		if a.Periods[0].Recurring.Amount != m("14.40") || !a.ChangedUpstream {
			t.Errorf("A after one-level sync: %s, flagged %v", a.Periods[0].Recurring.Amount, a.ChangedUpstream)
		}
		if !c.plan(t, c.pb.ID).ChangedUpstream {
			t.Error("B not flagged")
		}
		if got := c.plan(t, c.pa1.ID).Periods[0].Recurring.Amount; got != m("13.20") {
			t.Errorf("A1 changed by a one-level sync: %s", got)
		}
		// A propagates onward itself: A1 follows and A's flag clears.
		c.sync(t, c.pa.ID, c.a, "fees", false)
		if got := c.plan(t, c.pa1.ID).Periods[0].Recurring.Amount; got != m("15.84") {
			t.Errorf("A1 after A's sync: %s, want 14.40 × 1.1 = 15.84", got)
		}
		if c.plan(t, c.pa.ID).ChangedUpstream {
			t.Error("A still flagged after propagating")
		}
		if !c.plan(t, c.pb.ID).ChangedUpstream {
			t.Error("B's flag cleared although B did not propagate")
		}
	})
}

func TestSyncNewResourceAndConfirmation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := chainSetup(t, db)
		// B keeps its own pricing.
		if _, err := db.SetDelegationTerms(c.ctx, c.p, c.B.ID, delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPricing}}); err != nil {
			t.Fatal(err)
		}
		c.editSource(t, func(p *catalog.Plan) {
			p.Rates = append(p.Rates, catalog.Rate{Key: "storage", Resource: "storage", Included: 10, Max: catalog.Unlimited,
				Recurring: catalog.Price{Amount: m("0.50")}, Display: catalog.Slider, Sort: 2})
		})
		// Without "create new resources" the rate stays at the provider.
		c.sync(t, c.src.ID, c.p, "fees,resource_prices,resource_limits", false)
		if _, ok := c.plan(t, c.pa.ID).Rate("storage"); ok {
			t.Fatal("a new resource reached A without new_resources")
		}
		c.sync(t, c.src.ID, c.p, "new_resources", false)
		a := c.plan(t, c.pa.ID)
		r, ok := a.Rate("storage")
		if !ok || r.Recurring.Amount != m("0.60") || r.Unpriced || !a.OnSale() {
			t.Fatalf("A's new storage rate: %+v on sale %v", r, a.OnSale())
		}
		r1, ok := c.plan(t, c.pa1.ID).Rate("storage")
		if !ok || r1.Recurring.Amount != m("0.66") {
			t.Errorf("A1's new storage rate: %+v", r1)
		}
		// B's pricing is restricted: the rate arrives unpriced and B's plan
		// leaves the shelf until B prices it.
		b := c.plan(t, c.pb.ID)
		rb, ok := b.Rate("storage")
		if !ok || !rb.Unpriced || !b.NeedsConfirmation() || b.OnSale() {
			t.Fatalf("B's unpriced rate: %+v, needs confirmation %v", rb, b.NeedsConfirmation())
		}
		sale, err := db.PlansForSale(c.ctx, c.sys, c.B.ID, store.PlanFilter{})
		if err != nil || len(sale) != 0 {
			t.Errorf("B's plans for sale while unconfirmed: %d %v", len(sale), err)
		}
		for i := range b.Rates {
			if b.Rates[i].Key == "storage" {
				b.Rates[i].Unpriced = false
				b.Rates[i].Recurring.Amount = m("0.75")
			}
		}
		if err := db.UpdatePlan(c.ctx, c.b, b, delegation.CheckPrices); err != nil {
			t.Fatalf("B prices the rate: %v", err)
		}
		if b = c.plan(t, c.pb.ID); !b.OnSale() {
			t.Error("B's plan not back on sale after pricing")
		}
	})
}

func TestSyncKeepsDisplaySetting(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := catSetup(t, db)
		for _, sc := range []catalog.SalesCategory{
			{Key: "productivity", Name: catalog.Text{"en": "Productivity"}, Holds: catalog.HoldsCategories, Displayed: true},
			{Key: "email", Parent: "productivity", Name: catalog.Text{"en": "E-mail"}, Holds: catalog.HoldsPlans, Displayed: true},
			{Key: "office", Parent: "productivity", Name: catalog.Text{"en": "Office"}, Holds: catalog.HoldsPlans, Position: 2, Displayed: true},
		} {
			sc.OwnerID = c.P.ID
			if err := db.CreateSalesCategory(c.ctx, c.p, &store.SalesCategory{SalesCategory: sc}); err != nil {
				t.Fatal(err)
			}
		}
		src := officePlan(c.P.ID, "office-basic")
		src.SalesCategories = []string{"email"}
		if err := db.CreatePlan(c.ctx, c.p, src); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delegate(c.ctx, c.p, src.ID, c.A.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		// A hides the e-mail shelf in its store.
		if _, err := db.SetSalesCategoryDisplayed(c.ctx, c.a, c.A.ID, "email", false); err != nil {
			t.Fatal(err)
		}
		p, _ := db.Plan(c.ctx, c.p, src.ID)
		p.SalesCategories = []string{"email", "office"}
		if err := db.UpdatePlan(c.ctx, c.p, p, nil); err != nil {
			t.Fatal(err)
		}
		run := &store.SyncRun{SourcePlanID: src.ID, Options: "categories"}
		if err := db.CreateSyncRun(c.ctx, c.p, run, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunSync(c.ctx, run.ID, nil); err != nil {
			t.Fatal(err)
		}
		email, err := db.SalesCategory(c.ctx, c.a, c.A.ID, "email")
		if err != nil {
			t.Fatal(err)
		}
		if email.Displayed {
			t.Error("the sync overwrote A's choice to hide the e-mail shelf")
		}
		office, err := db.SalesCategory(c.ctx, c.a, c.A.ID, "office")
		if err != nil || !office.Displayed {
			t.Errorf("the new office shelf reached A: %+v %v", office, err)
		}
	})
}

func TestDelegateBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := catSetup(t, db)
		src := officePlan(c.P.ID, "office-basic")
		if err := db.CreatePlan(c.ctx, c.p, src); err != nil {
			t.Fatal(err)
		}
		before := count(t, db, "plans")
		cases := []struct {
			name  string
			actor *account.Actor
			child int64
			opt   delegation.DelegateOptions
			code  string
			field string
		}{
			{"grandchild", c.p, c.A1.ID, percent("10"), marketplane.EINVALID, "child_id"},
			{"customer", c.a1, c.C.ID, percent("10"), marketplane.ENOTFOUND, ""},
			{"no such account", c.p, 999999, percent("10"), marketplane.EINVALID, "child_id"},
			{"below cost", c.p, c.A.ID, percent("-10"), marketplane.EINVALID, "periods[1m].recurring.amount"},
			{"above the cap", c.p, c.A.ID, percent("150"), marketplane.EINVALID, "periods[1m].recurring.amount"},
			{"sibling's plan", c.b, c.A.ID, percent("10"), marketplane.ENOTFOUND, ""},
			{"unknown rule", c.p, c.A.ID, delegation.DelegateOptions{Rule: catalog.PriceRule{Kind: "magic"}}, marketplane.EINVALID, "rule.kind"},
		}
		for _, x := range cases {
			_, err := db.Delegate(c.ctx, x.actor, src.ID, x.child, x.opt)
			if marketplane.ErrorCode(err) != x.code {
				t.Errorf("%s: %v, want %s", x.name, err, x.code)
				continue
			}
			if x.field != "" && !strings.Contains(err.Error(), x.field) {
				t.Errorf("%s: %v does not name %s", x.name, err, x.field)
			}
		}
		if _, err := db.Delegate(c.ctx, c.p, src.ID, c.A.ID, percent("10")); err != nil {
			t.Fatal(err)
		}
		_, err := db.Delegate(c.ctx, c.p, src.ID, c.A.ID, percent("10"))
		wantCode(t, err, marketplane.ECONFLICT)
		if got := count(t, db, "plans"); got != before+1 {
			t.Errorf("%d plans, want %d: a refused delegation stored something", got, before+1)
		}
	})
}

func TestSyncPlanCategoryUniqueGroup(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := catSetup(t, db)
		pc := &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: c.P.ID, Key: "office-editions", Name: catalog.Text{"en": "Office editions"}}}
		if err := db.CreatePlanCategory(c.ctx, c.p, pc); err != nil {
			t.Fatal(err)
		}
		src := officePlan(c.P.ID, "office-basic")
		src.PlanCategory = "office-editions"
		if err := db.CreatePlan(c.ctx, c.p, src); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delegate(c.ctx, c.p, src.ID, c.A.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delegate(c.ctx, c.p, src.ID, c.B.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetDelegationTerms(c.ctx, c.p, c.B.ID, delegation.Terms{Restrictions: []delegation.Restriction{delegation.RestrictPlanCategories}}); err != nil {
			t.Fatal(err)
		}
		pc.UniqueGroup = true
		pc.Name = catalog.Text{"en": "Office editions (one per customer)"}
		if err := db.UpdatePlanCategory(c.ctx, c.p, pc); err != nil {
			t.Fatal(err)
		}
		run := &store.SyncRun{SourcePlanID: src.ID, Options: "categories"}
		if err := db.CreateSyncRun(c.ctx, c.p, run, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunSync(c.ctx, run.ID, nil); err != nil {
			t.Fatal(err)
		}
		a, err := db.PlanCategory(c.ctx, c.a, c.A.ID, "office-editions")
		if err != nil || !a.UniqueGroup || a.Name["en"] != "Office editions (one per customer)" {
			t.Errorf("A's plan category after sync: %+v %v", a, err)
		}
		b, err := db.PlanCategory(c.ctx, c.b, c.B.ID, "office-editions")
		if err != nil || b.UniqueGroup {
			t.Errorf("B's restricted plan category changed: %+v %v", b, err)
		}
	})
}

func TestSyncNewPlans(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := catSetup(t, db)
		basic := officePlan(c.P.ID, "office-basic")
		if err := db.CreatePlan(c.ctx, c.p, basic); err != nil {
			t.Fatal(err)
		}
		// A sells office plans with a 20 % markup; B sells none.
		if _, err := db.Delegate(c.ctx, c.p, basic.ID, c.A.ID, percent("20")); err != nil {
			t.Fatal(err)
		}
		pro := officePlan(c.P.ID, "office-pro")
		pro.Periods[0].Recurring.Amount = m("15.00")
		pro.Published = true
		if err := db.CreatePlan(c.ctx, c.p, pro); err != nil {
			t.Fatal(err)
		}
		// The preview names the copy to be made and makes nothing.
		var items []store.SyncItem
		opts, _ := delegation.ParseOptions("new_plans")
		if err := db.PreviewSync(c.ctx, c.p, pro.ID, opts, false, func(it store.SyncItem) error {
			items = append(items, it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || !items[0].NewCopy || items[0].OwnerID != c.A.ID {
			t.Fatalf("preview of new plans: %+v", items)
		}
		if _, err := db.PlanByKey(c.ctx, c.a, c.A.ID, "office-pro"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Fatalf("the preview made a copy: %v", err)
		}
		run := &store.SyncRun{SourcePlanID: pro.ID, Options: "new_plans"}
		if err := db.CreateSyncRun(c.ctx, c.p, run, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunSync(c.ctx, run.ID, nil); err != nil {
			t.Fatal(err)
		}
		got, err := db.PlanByKey(c.ctx, c.a, c.A.ID, "office-pro")
		if err != nil {
			t.Fatalf("A did not get the new plan: %v", err)
		}
		if got.SourceID != pro.ID || got.Periods[0].Recurring.Amount != m("18.00") || got.Rule == nil || got.Rule.Percent != "20" {
			t.Errorf("A's copy of the new plan: source %d, fee %s, rule %+v", got.SourceID, got.Periods[0].Recurring.Amount, got.Rule)
		}
		if _, err := db.PlanByKey(c.ctx, c.b, c.B.ID, "office-pro"); marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			t.Errorf("B, which sells no office plan, got a copy: %v", err)
		}
		// Running it again makes nothing new.
		again := &store.SyncRun{SourcePlanID: pro.ID, Options: "new_plans"}
		if err := db.CreateSyncRun(c.ctx, c.p, again, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunSync(c.ctx, again.ID, nil); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "plans"); n != 4 {
			t.Errorf("%d plans, want 4 (2 originals, 2 copies of A)", n)
		}
	})
}
