package order

import (
	"fmt"
	"math/big"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

// Day returns the calendar day of t in the vendor's time zone loc, as
// midnight UTC of that day. Every date in this package is such a day, so
// that day arithmetic never meets a daylight-saving hour.
//
//	2027-03-17 23:30 UTC in Europe/Berlin → 2027-03-18
func Day(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Days is the number of calendar days from a to b, b − a: the days of
// [a, b). Each date counts by its own calendar day.
//
//	Days(2027-03-17, 2027-04-01) = 15    Days(2027-03-01, 2027-04-01) = 31
func Days(a, b time.Time) int {
	return int(civil(b).Sub(civil(a)) / (24 * time.Hour))
}

// PeriodEnd is the end of period k (k ≥ 1) of a subscription whose periods
// are d long and anchored at anchor: anchor + k×d. Months keep the anchor
// day or end on the month's last day when it has none, and every end is
// computed from the anchor, never chained from the previous end — chaining
// would lose the 31st after February for good.
//
//	anchor 2027-01-31, 1 month: k=1 → 2027-02-28, k=2 → 2027-03-31, k=3 → 2027-04-30
//	anchor 2027-01-01, 12 months: k=1 → 2028-01-01
//	anchor 2027-06-01, 14 days: k=1 → 2027-06-15
//
// PeriodEnd(anchor, d, 0) is the anchor itself.
func PeriodEnd(anchor time.Time, d catalog.Duration, k int) time.Time {
	return catalog.Duration{N: k * d.N, Unit: d.Unit}.AddTo(civil(anchor))
}

// PeriodAt returns the period that holds day: [from, to), its number k
// (1 for the first) and ok = false when day is before the anchor.
//
//	anchor 2027-01-31, 1 month, day 2027-03-15 → [2027-02-28, 2027-03-31), k=2
func PeriodAt(anchor time.Time, d catalog.Duration, day time.Time) (from, to time.Time, k int, ok bool) {
	anchor, day = civil(anchor), civil(day)
	if day.Before(anchor) || d.N <= 0 {
		return time.Time{}, time.Time{}, 0, false
	}
	// Start near the answer, then step: months are not all alike.
	if m := d.Months(); m > 0 {
		k = ((day.Year()-anchor.Year())*12 + int(day.Month()-anchor.Month())) / m
	} else {
		k = Days(anchor, day) / d.N
	}
	k = max(k, 0)
	for k > 0 && PeriodEnd(anchor, d, k).After(day) {
		k--
	}
	for !PeriodEnd(anchor, d, k+1).After(day) {
		k++
	}
	return PeriodEnd(anchor, d, k), PeriodEnd(anchor, d, k+1), k + 1, true
}

// Prorate is the part of amount for daysLeft of a period of periodDays,
// computed exactly and rounded once to the currency's minor unit, halves
// away from zero (golden rules 3 and 4):
//
//	prorated = round(amount × daysLeft / periodDays)
//
//	12.00 USD, 15 of 31 days → 180/31 = 5.806… → 5.81
//	36.00 USD, 15 of 31 days → 540/31 = 17.419… → 17.42
//	 6.00 USD, 21 of 31 days → 126/31 = 4.064… → 4.06
//	 1000 JPY, 15 of 31 days → 483.87… → 484
//	120.00 USD, 306 of 365 days → 100.602… → 100.60
func Prorate(amount money.Micros, daysLeft, periodDays int, currency string) (money.Micros, error) {
	if periodDays <= 0 || daysLeft < 0 || daysLeft > periodDays {
		return 0, fmt.Errorf("prorate %d of %d days: not a part of the period", daysLeft, periodDays)
	}
	return roundRatio(amount, big.NewInt(int64(daysLeft)), big.NewInt(int64(periodDays)), currency)
}

// roundRatio is round(m × num / den) to the currency's minor unit, halves
// away from zero, exact at any size: the one place where a fraction of
// money becomes an amount.
func roundRatio(m money.Micros, num, den *big.Int, currency string) (money.Micros, error) {
	minor, ok := money.MinorUnits(currency)
	if !ok {
		minor = money.DefaultMinorUnits
	}
	// Micros have 6 decimals; the minor unit is step micros.
	step := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(6-minor)), nil)
	n := new(big.Int).Mul(big.NewInt(int64(m)), num)
	d := new(big.Int).Mul(den, step)
	if d.Sign() < 0 {
		n.Neg(n)
		d.Neg(d)
	}
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() != 0 {
		twice := new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2))
		if twice.Cmp(d) >= 0 {
			q.Add(q, big.NewInt(int64(n.Sign())))
		}
	}
	q.Mul(q, step)
	if !q.IsInt64() {
		return 0, fmt.Errorf("amount %s × %s / %s: too large", m, num, den)
	}
	return money.Micros(q.Int64()), nil
}

// times is m × k, exact, or an error when it does not fit.
func times(m money.Micros, k int64) (money.Micros, error) {
	r := new(big.Int).Mul(big.NewInt(int64(m)), big.NewInt(k))
	if !r.IsInt64() {
		return 0, fmt.Errorf("amount %s × %d: too large", m, k)
	}
	return money.Micros(r.Int64()), nil
}

// percentOf is round(m × rate / 100) in the currency: tax on a line.
//
//	15.00 EUR at 19 % → 2.85      9.99 EUR at 7.7 % → 0.76923 → 0.77
func percentOf(m money.Micros, rate decimal.Decimal, currency string) (money.Micros, error) {
	num := new(big.Int).SetUint64(rate.Coef())
	if rate.Sign() < 0 {
		num.Neg(num)
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(rate.Scale())), nil)
	den.Mul(den, big.NewInt(100))
	return roundRatio(m, num, den, currency)
}

// periodFactor is how many times a period's recurring prices are charged
// for one period: the number of months for a period priced per month (a
// 12-month period at 10.00 per month costs 120.00), else once.
func periodFactor(pe *catalog.Period) int64 {
	if pe.RecurringPer == catalog.PerMonth && pe.Duration.Months() > 0 {
		return int64(pe.Duration.Months())
	}
	return 1
}

// periodFee is the plan's recurring fee for one whole period, unrounded.
func periodFee(pe *catalog.Period) (money.Micros, error) {
	return times(pe.Recurring.Amount, periodFactor(pe))
}
