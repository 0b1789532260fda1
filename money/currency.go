package money

// minorUnits is the ISO 4217 exponent of every currency Marketplane
// accepts: how many decimals its smallest coin has. Invoice lines and tax
// are rounded to it. It lists the circulating currencies of ISO 4217
// (list one); the codes that are not money one can be billed in are left
// out on purpose: precious metals (XAU, XAG, XPD, XPT), the SDR and other
// units of account (XDR, XSU, XUA, XBA…XBD), the testing code XTS, "no
// currency" XXX, the funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
// UYW) and withdrawn codes (HRK, SLL, ZWL …).
var minorUnits = map[string]int{
	// Two decimals: most of the world.
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2,
	"BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2,
	"CVE": 2, "CZK": 2, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2,
	"FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2,
	"HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IRR": 2, "JMD": 2, "KES": 2, "KGS": 2, "KHR": 2,
	"KPW": 2, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2,
	"MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
	"MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "PAB": 2, "PEN": 2,
	"PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "SAR": 2, "SBD": 2,
	"SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2,
	"SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2,
	"TZS": 2, "UAH": 2, "USD": 2, "UYU": 2, "UZS": 2, "VED": 2, "VES": 2, "WST": 2, "XCD": 2, "XCG": 2,
	"YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Three decimals (fils, baisa, millime, dirham).
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// ValidCurrency reports whether code is a currency Marketplane accepts: an
// upper-case ISO 4217 code of a circulating currency (USD, EUR, JPY …),
// not a metal, fund, test or "no currency" code (XAU, XTS, XXX), not an
// invented one (ZZZ, BTC). Every entry point that takes a currency asks
// it, through the domain's Validate methods.
func ValidCurrency(code string) bool {
	_, ok := minorUnits[code]
	return ok
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
