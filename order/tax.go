package order

import (
	"fmt"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/money"
)

// TaxRule is the tax of one sale: a rate in percent, or reverse charge.
// The zero value is no tax.
type TaxRule struct {
	// Rate is in percent: 19 for 19 %.
	Rate decimal.Decimal
	// ReverseCharge: the customer accounts for the tax; the document has no
	// tax line and says so.
	ReverseCharge bool
}

// Buyer is who a sale's tax depends on.
type Buyer struct {
	Country string // ISO 3166 code, "DE"
	VATID   string // the buyer's VAT id, for businesses
}

// TaxFor decides the tax of a sale by a vendor in vendorCountry, whose tax
// rates are given by the buyer's country (the rate it must charge there):
//
//   - a buyer in a country without a rate pays no tax;
//   - a business (with a VAT id) in another country than the vendor's is
//     reverse charged: no tax, a note on the document;
//   - anyone else pays the rate of their country.
//
// With rates {DE: 19, FR: 20} of a German vendor: a consumer in DE pays 19 %,
// a consumer in FR 20 %, a business in FR with a VAT id is reverse charged, a
// business in DE pays 19 %, a buyer in US pays nothing.
func TaxFor(vendorCountry string, rates map[string]decimal.Decimal, b Buyer) TaxRule {
	rate, ok := rates[b.Country]
	switch {
	case !ok:
		return TaxRule{}
	case b.VATID != "" && b.Country != vendorCountry:
		return TaxRule{ReverseCharge: true}
	default:
		return TaxRule{Rate: rate}
	}
}

// applyTax adds the tax line (rule 4): the tax of each line is computed
// from its rounded amount and rounded on its own; the tax line is their sum.
//
//	15.00 at 19 %          → tax 2.85
//	15.00 and 4.06 at 19 % → 2.85 + 0.77 = 3.62
//	0.03 and 0.03 at 19 %  → 0.01 + 0.01 = 0.02 (19 % of the 0.06 total would be 0.01)
func applyTax(q *Quote, tax TaxRule) error {
	if tax.ReverseCharge {
		q.ReverseCharge = true
		return nil
	}
	if tax.Rate.IsZero() || len(q.Lines) == 0 {
		return nil
	}
	if tax.Rate.Sign() < 0 {
		return fmt.Errorf("tax rate %s: negative", tax.Rate)
	}
	var sum money.Micros
	for _, l := range q.Lines {
		t, err := percentOf(l.Amount, tax.Rate, q.Currency)
		if err != nil {
			return err
		}
		sum += t
	}
	if sum != 0 {
		q.Lines = append(q.Lines, Line{What: Tax, TaxRate: tax.Rate, Amount: sum,
			Description: fmt.Sprintf("Tax %s%%", tax.Rate)})
		q.Total += sum
	}
	return nil
}
