// Package money holds exact amounts. An amount is stored as integer
// millionths of its currency unit (Micros) so sums are exact on both engines;
// arithmetic and parsing go through a decimal type; rounding to a currency's
// minor unit happens only at named places.
package money

import (
	"fmt"

	"github.com/govalues/decimal"
)

// MicrosPerUnit is the number of stored units in one currency unit.
const MicrosPerUnit = 1_000_000

// Micros is an amount in millionths of a currency unit.
type Micros int64

// Parse reads a decimal amount such as "1250.50" into Micros. More than six
// decimals or a value that does not fit is refused.
func Parse(s string) (Micros, error) {
	d, err := decimal.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("amount %q: not a decimal number", s)
	}
	if d.Scale() > 6 {
		return 0, fmt.Errorf("amount %q: more than 6 decimals", s)
	}
	m, err := d.Mul(decimal.MustNew(MicrosPerUnit, 0))
	if err != nil {
		return 0, fmt.Errorf("amount %q: too large", s)
	}
	whole, frac, ok := m.Int64(0)
	if !ok || frac != 0 {
		return 0, fmt.Errorf("amount %q: too large", s)
	}
	return Micros(whole), nil
}

// Decimal returns the amount as a decimal in currency units.
func (m Micros) Decimal() decimal.Decimal {
	d, err := decimal.New(int64(m), 6)
	if err != nil {
		// int64 with scale 6 always fits in a decimal's 19 digits.
		panic(err)
	}
	return d
}

// String renders the amount with at least two decimals: "1250.50", "0.000125".
func (m Micros) String() string {
	d := m.Decimal().Trim(2)
	if d.Scale() < 2 {
		d = d.Pad(2)
	}
	return d.String()
}
