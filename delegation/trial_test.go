package delegation

import (
	"slices"
	"testing"

	"github.com/marketplane/marketplane/catalog"
)

// trialPlan is sourcePlan with a free 14-day trial that converts to its
// monthly period.
func trialPlan() *catalog.Plan {
	p := sourcePlan()
	p.Periods = append(p.Periods, catalog.Period{Key: "14d", Duration: catalog.Duration{N: 14, Unit: catalog.Day}, Trial: true,
		ConvertsTo: "1m", Refund: catalog.Refund{After: catalog.RefundNone}, Sort: 0, RecurringPer: catalog.PerPeriod})
	return p
}

func convertsTo(t *testing.T, p *catalog.Plan, key string) string {
	t.Helper()
	pe, ok := p.Period(key)
	if !ok {
		t.Fatalf("plan %q (owner %d) has no period %q", p.Key, p.OwnerID, key)
	}
	return pe.ConvertsTo
}

// TestDelegateCarriesTrialConversion: a copy's trial converts to the same
// period as its source's, down two tiers, and the copies are valid plans.
func TestDelegateCarriesTrialConversion(t *testing.T) {
	t.Parallel()
	src := trialPlan()
	if err := src.Validate(catalog.Known{}); err != nil {
		t.Fatal(err)
	}
	l1, err := Delegate(src, 2, "USD", DelegateOptions{Rule: percent("20")})
	if err != nil {
		t.Fatal(err)
	}
	l1.ID = 2
	l2, err := Delegate(l1, 3, "EUR", DelegateOptions{Rule: catalog.PriceRule{Kind: catalog.RuleCopy, ExchangeRate: "0.92"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*catalog.Plan{l1, l2} {
		if got := convertsTo(t, c, "14d"); got != "1m" {
			t.Errorf("copy of owner %d: trial converts to %q, want 1m", c.OwnerID, got)
		}
		if err := c.Validate(catalog.Known{}); err != nil {
			t.Errorf("copy of owner %d: %v", c.OwnerID, err)
		}
	}
	if convertsTo(t, src, "14d") != "1m" || convertsTo(t, src, "1m") != "" {
		t.Error("Delegate changed its source")
	}
}

// TestSyncCarriesTrialConversion: a trial added at the source arrives with
// its conversion (new_periods); a changed conversion follows with fees,
// unless the copy lacks the period it names, which is reported skipped
// until new_periods brings it.
func TestSyncCarriesTrialConversion(t *testing.T) {
	t.Parallel()
	plain, err := Delegate(sourcePlan(), 2, "USD", DelegateOptions{Rule: percent("20")})
	if err != nil {
		t.Fatal(err)
	}
	got, changes, err := Sync(trialPlan(), plain, Options{OptNewPeriods: true}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	if convertsTo(t, got, "14d") != "1m" || !slices.ContainsFunc(changes, func(c Change) bool { return c.Field == "periods[14d]" && c.Applied() }) {
		t.Errorf("new trial: %+v, changes %+v", got.Periods, changes)
	}

	copy0, err := Delegate(trialPlan(), 2, "USD", DelegateOptions{Rule: percent("20")})
	if err != nil {
		t.Fatal(err)
	}
	annual := trialPlan()
	annual.Periods = append(annual.Periods, catalog.Period{Key: "12m", Duration: catalog.Duration{N: 12, Unit: catalog.Month},
		Recurring: pr("9.00"), Refund: catalog.Refund{After: catalog.RefundNone}, Sort: 2, RecurringPer: catalog.PerMonth})
	annual.Periods[1].ConvertsTo = "12m"

	cases := []struct {
		name string
		opts Options
		want Change
		to   string
	}{
		{"fees without the period", Options{OptFees: true},
			Change{Field: "periods[14d].converts_to", Old: "1m", New: "12m", Skipped: "the copy has no period 12m: sync new_periods first", Effective: EffectiveNextBilling}, "1m"},
		{"fees with new periods", Options{OptFees: true, OptNewPeriods: true},
			Change{Field: "periods[14d].converts_to", Old: "1m", New: "12m", Effective: EffectiveNextBilling}, "12m"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, changes, err := Sync(annual, copy0, c.opts, Terms{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(changes, c.want) {
				t.Errorf("changes %+v\nwant %+v among them", changes, c.want)
			}
			if to := convertsTo(t, got, "14d"); to != c.to {
				t.Errorf("copy's trial converts to %q, want %q", to, c.to)
			}
			if err := got.Validate(catalog.Known{}); err != nil {
				t.Errorf("synced copy: %v", err)
			}
			if convertsTo(t, copy0, "14d") != "1m" {
				t.Error("Sync changed the copy it was given")
			}
		})
	}
	// Options that carry no period terms leave the conversion alone.
	got, _, err = Sync(annual, copy0, Options{OptNames: true, OptResourcePrices: true}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	if to := convertsTo(t, got, "14d"); to != "1m" {
		t.Errorf("names and resource prices changed the conversion to %q", to)
	}
}
