package money

// minorUnits is the ISO 4217 exponent of the currencies Marketplane knows:
// how many decimals their smallest coin has. Invoice lines and tax are
// rounded to it.
var minorUnits = map[string]int{
	// Two decimals: most of the world.
	"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2,
	"SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2,
	"BGN": 2, "TRY": 2, "UAH": 2, "ILS": 2, "AED": 2, "SAR": 2, "QAR": 2,
	"INR": 2, "CNY": 2, "HKD": 2, "SGD": 2, "TWD": 2, "THB": 2, "MYR": 2,
	"PHP": 2, "IDR": 2, "MXN": 2, "BRL": 2, "ARS": 2, "COP": 2, "ZAR": 2,
	"EGP": 2, "NGN": 2, "KES": 2, "PKR": 2, "RUB": 2,
	// No minor unit.
	"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "PYG": 0,
	// Three decimals (fils, baisa, millime).
	"KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}

// DefaultMinorUnits is the number of decimals used for a currency that is
// not in the table: two, as for most currencies. Code that must not guess
// (pricing an order) checks MinorUnits first.
const DefaultMinorUnits = 2

// MinorUnits returns the number of decimals of the currency's minor unit
// (its ISO 4217 exponent) for an upper-case code: 2 for USD ("12.34"), 0 for
// JPY ("1234"), 3 for KWD ("1.234"). ok is false for a code Marketplane does
// not know.
func MinorUnits(code string) (n int, ok bool) {
	n, ok = minorUnits[code]
	return n, ok
}

func decimalsOf(code string) int {
	if n, ok := minorUnits[code]; ok {
		return n
	}
	return DefaultMinorUnits
}

// Round returns m rounded to the minor unit of the currency, halves away
// from zero: the rounding of every document line and of tax.
//
//	USD  12.345  → 12.35     -12.345 → -12.35    12.3449 → 12.34
//	JPY  483.87  → 484       -483.5  → -484
//	KWD  1.2345  → 1.235
//
// An unknown currency rounds to DefaultMinorUnits. The only amounts that
// cannot round away from zero are the last few that would leave the range of
// Micros (above 9.2 trillion units); they round toward zero.
func (m Micros) Round(code string) Micros {
	r, err := FromDecimal(RoundHalfAway(m.Decimal(), decimalsOf(code)))
	if err != nil {
		return Micros(int64(m) / pow10(6-decimalsOf(code)) * pow10(6-decimalsOf(code)))
	}
	return r
}

// Format renders m with the currency's decimals: "12.00" for USD, "1000" for
// JPY, "1.250" for KWD. It never rounds: an amount finer than the minor unit
// (a unit price of 0.015 USD) keeps its digits, so round first where a
// document needs rounded amounts.
func (m Micros) Format(code string) string {
	n := decimalsOf(code)
	d := m.Decimal().Trim(n)
	if d.Scale() < n {
		d = d.Pad(n)
	}
	return d.String()
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
