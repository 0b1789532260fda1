package api

import (
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestSellingSettings: a reseller's tax rates, proration and downgrade
// timing, and a customer's VAT id, are set and read through the API, and bad
// ones are refused field by field.
func TestSellingSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		body := map[string]any{"selling": map[string]any{"proration": "prorate", "downgrades": "next_billing_date",
			"tax_rates": map[string]any{"DE": "19", "FR": "20"}}}
		r := f.must(t, 200, "P", "PATCH", "/accounts/"+id(f.L2.ID), body)
		var got Account
		r.JSON(t, &got)
		if got.Selling.Downgrades != "next_billing_date" || got.Selling.TaxRates["DE"] != "19" || got.Selling.TaxRates["FR"] != "20" {
			t.Errorf("selling after PATCH: %+v", got.Selling)
		}
		c := newCustomerBody(f.L2.ID, "VAT Customer")
		c["vat_id"] = "FR12345678901"
		r = f.must(t, 201, "L1a", "POST", "/accounts", c)
		var cust Account
		r.JSON(t, &cust)
		if cust.VATID != "FR12345678901" {
			t.Errorf("vat id %q", cust.VATID)
		}
		bad := map[string]any{"vat_id": "fr 123", "selling": map[string]any{"tax_rates": map[string]any{"XX": "19", "DE": "150"}}}
		p := f.must(t, 400, "P", "PATCH", "/accounts/"+id(f.L2.ID), bad).Problem(t)
		locs := map[string]bool{}
		for _, l := range p.locations() {
			locs[l] = true
		}
		for _, want := range []string{"body.vat_id", "body.selling.tax_rates.XX", "body.selling.tax_rates.DE"} {
			if !locs[want] {
				t.Errorf("no field error at %s (got %v)", want, p.locations())
			}
		}
		r = f.must(t, 200, "P", "GET", "/accounts/"+id(f.L2.ID), nil)
		r.JSON(t, &got)
		if got.Selling.TaxRates["DE"] != "19" {
			t.Errorf("a refused PATCH changed the settings: %+v", got.Selling)
		}
	})
}
