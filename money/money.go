// Package money holds exact amounts. An amount is stored as integer
// millionths of its currency unit (Micros) so sums are exact on both engines;
// arithmetic and parsing go through a decimal type; rounding to a currency's
// minor unit happens only at named places.
package money

import (
	"fmt"
	"strings"

	"github.com/govalues/decimal"
)

// MicrosPerUnit is the number of stored units in one currency unit.
const MicrosPerUnit = 1_000_000

// Micros is an amount in millionths of a currency unit.
type Micros int64

// Parse reads a decimal amount such as "1250.50" into Micros: a plain
// decimal string (see ParseDecimal). More than six decimals or a value
// that does not fit is refused. Every amount the API, the CLI and catalog
// documents take goes through here.
func Parse(s string) (Micros, error) {
	d, err := ParseDecimal(s)
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

// ParseDecimal reads a plain decimal string: digits, an optional leading
// '-', an optional '.' followed by digits: "1250.50", "-3", "0.000125".
// Exponents ("1e5"), a '+', spaces, hexadecimal, "NaN", "Inf", ".5" and
// "5." are refused, though the decimal library would read some of them:
// an amount means what it shows. Callers that allow no negative amount
// refuse one themselves.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if !plainDecimal(s) {
		return decimal.Decimal{}, fmt.Errorf("%q is not a plain decimal number such as 1250.50", s)
	}
	return decimal.Parse(s)
}

func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	return digits(whole) && (!dot || digits(frac))
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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

// RoundHalfAway rounds d to scale decimals, halves away from zero: the rule
// of every named rounding place (invoice lines, tax, derived prices). The
// decimal library rounds half to even, which is not what invoices do.
func RoundHalfAway(d decimal.Decimal, scale int) decimal.Decimal {
	if d.Scale() <= scale {
		return d
	}
	t := d.Trunc(scale)
	rem, err := d.Sub(t)
	if err != nil {
		return d.Round(scale)
	}
	half, _ := decimal.New(5, scale+1)
	if rem.Abs().Cmp(half) < 0 {
		return t
	}
	step, _ := decimal.New(int64(d.Sign()), scale)
	r, err := t.Add(step)
	if err != nil {
		return d.Round(scale)
	}
	return r
}

// FromDecimal converts a decimal amount of currency units to Micros,
// rounding half away from zero at the sixth decimal.
func FromDecimal(d decimal.Decimal) (Micros, error) {
	m, err := RoundHalfAway(d, 6).Mul(decimal.MustNew(MicrosPerUnit, 0))
	if err != nil {
		return 0, fmt.Errorf("amount %s: too large", d)
	}
	whole, _, ok := m.Int64(0)
	if !ok {
		return 0, fmt.Errorf("amount %s: too large", d)
	}
	return Micros(whole), nil
}
