package store_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// trialOffice is officePlan with a free 14-day trial that converts to its
// monthly period.
func trialOffice(owner int64, key string) *catalog.Plan {
	p := officePlan(owner, key)
	p.Periods = append(p.Periods, catalog.Period{Key: "14d", Duration: catalog.Duration{N: 14, Unit: catalog.Day}, Trial: true,
		ConvertsTo: "1m", Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod})
	return p
}

// TestCatalogTrialConversion: a trial's converts_to lives in the plan's
// stored body, so it needs no column: it is kept, validated, edited,
// delegated to copies, carried by a sync and exported like any other
// period field, on both engines.
func TestCatalogTrialConversion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ct := catSetup(t, db)
		ctx := ct.ctx
		convertsTo := func(t *testing.T, p *catalog.Plan) string {
			t.Helper()
			pe, ok := p.Period("14d")
			if !ok || !pe.Trial {
				t.Fatalf("plan %d has no trial period 14d: %+v", p.ID, p.Periods)
			}
			return pe.ConvertsTo
		}

		p := trialOffice(ct.P.ID, "office-trial")
		if err := db.CreatePlan(ctx, ct.p, p); err != nil {
			t.Fatal(err)
		}
		got, err := db.Plan(ctx, ct.p, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, p)
		if to := convertsTo(t, got); to != "1m" {
			t.Errorf("stored trial converts to %q, want 1m", to)
		}

		// The catalog's rules hold in the store.
		bad := trialOffice(ct.P.ID, "office-bad")
		bad.Periods[1].ConvertsTo = "12m"
		wantFields(t, db.CreatePlan(ctx, ct.p, bad), marketplane.EINVALID, "periods[1].converts_to")
		bad = trialOffice(ct.P.ID, "office-bad")
		bad.Periods[0].ConvertsTo = "14d"
		wantFields(t, db.CreatePlan(ctx, ct.p, bad), marketplane.EINVALID, "periods[0].converts_to")

		// An edit to another paid period is kept.
		p.Periods = append(p.Periods, catalog.Period{Key: "12m", Duration: catalog.Duration{N: 12, Unit: catalog.Month},
			Recurring: catalog.Price{Amount: 9_000_000}, Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerMonth, Sort: 2})
		p.Periods[1].ConvertsTo = "12m"
		if err := db.UpdatePlan(ctx, ct.p, p, nil); err != nil {
			t.Fatal(err)
		}
		if got, err = db.Plan(ctx, ct.p, p.ID); err != nil {
			t.Fatal(err)
		}
		same(t, got, p)
		if to := convertsTo(t, got); to != "12m" {
			t.Errorf("edited trial converts to %q, want 12m", to)
		}

		// A copy converts as its source does.
		cp, err := db.Delegate(ctx, ct.p, p.ID, ct.A.ID, delegation.DelegateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err = db.Plan(ctx, ct.a, cp.ID); err != nil {
			t.Fatal(err)
		}
		if to := convertsTo(t, got); to != "12m" {
			t.Errorf("the copy's trial converts to %q, want 12m", to)
		}

		// A change at the source reaches the copy by a sync of fees.
		p.Periods[1].ConvertsTo = "1m"
		if err := db.UpdatePlan(ctx, ct.p, p, nil); err != nil {
			t.Fatal(err)
		}
		var changes []delegation.Change
		if err := db.PreviewSync(ctx, ct.p, p.ID, delegation.Options{delegation.OptFees: true}, false, func(it store.SyncItem) error {
			changes = append(changes, it.Changes...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := delegation.Change{Field: "periods[14d].converts_to", Old: "12m", New: "1m", Effective: delegation.EffectiveNextBilling}
		if !slices.Contains(changes, want) {
			t.Errorf("sync preview %+v, want %+v among the changes", changes, want)
		}

		// The catalog as code writes it and reads it back.
		doc, err := db.ExportCatalog(ctx, ct.p, ct.P.ID)
		if err != nil {
			t.Fatal(err)
		}
		var y bytes.Buffer
		if err := catalog.EncodeYAML(&y, doc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(y.Bytes(), []byte("converts_to: 1m")) {
			t.Errorf("the export lacks converts_to:\n%s", y.String())
		}
		back, err := catalog.Decode(&y, "yaml")
		if err != nil {
			t.Fatal(err)
		}
		if changes := catalog.Diff(doc, back); len(changes) != 0 {
			t.Errorf("the export read back differs: %+v", changes)
		}
		i := slices.IndexFunc(back.Plans, func(pl catalog.Plan) bool { return pl.Key == "office-trial" })
		if i < 0 || convertsTo(t, &back.Plans[i]) != "1m" {
			t.Errorf("office-trial read back: %+v", back.Plans)
		}
	})
}
