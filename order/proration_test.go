package order

import (
	"math/big"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func amount(s string) money.Micros {
	m, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

var (
	month  = catalog.Duration{N: 1, Unit: catalog.Month}
	year12 = catalog.Duration{N: 12, Unit: catalog.Month}
	days14 = catalog.Duration{N: 14, Unit: catalog.Day}
)

func TestDay(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal("no time zone data:", err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cases := []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{time.Date(2027, 3, 17, 23, 30, 0, 0, time.UTC), berlin, "2027-03-18"},
		{time.Date(2027, 3, 17, 22, 59, 0, 0, time.UTC), berlin, "2027-03-17"},
		{time.Date(2027, 3, 17, 15, 0, 0, 0, time.UTC), tokyo, "2027-03-18"},
		{time.Date(2027, 3, 17, 0, 0, 0, 0, time.UTC), time.UTC, "2027-03-17"},
	}
	for _, c := range cases {
		if got := Day(c.at, c.loc); !got.Equal(date(c.want)) {
			t.Errorf("Day(%s, %s) = %s, want %s", c.at, c.loc, got, c.want)
		}
	}
	// Across the spring change a period of days still counts whole days.
	if n := Days(Day(time.Date(2027, 3, 27, 12, 0, 0, 0, berlin), berlin), Day(time.Date(2027, 3, 29, 12, 0, 0, 0, berlin), berlin)); n != 2 {
		t.Errorf("days across daylight saving = %d, want 2", n)
	}
}

// Golden rule 1: periods keep the anchor day; period k ends at anchor + k×N.
func TestPeriodEnd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		anchor string
		d      catalog.Duration
		k      int
		want   string
	}{
		// Scenario 02: started 31 January, renews 28 Feb, 31 Mar, 30 Apr, 31 May.
		{"2027-01-31", month, 1, "2027-02-28"},
		{"2027-01-31", month, 2, "2027-03-31"},
		{"2027-01-31", month, 3, "2027-04-30"},
		{"2027-01-31", month, 4, "2027-05-31"},
		{"2028-01-31", month, 1, "2028-02-29"}, // leap year
		{"2027-01-15", month, 1, "2027-02-15"},
		{"2027-01-01", year12, 1, "2028-01-01"},
		{"2027-01-01", year12, 2, "2029-01-01"},
		{"2028-02-29", year12, 1, "2029-02-28"},
		{"2028-02-29", year12, 4, "2032-02-29"}, // anchored, not chained
		{"2027-06-01", days14, 1, "2027-06-15"},
		{"2027-06-01", days14, 3, "2027-07-13"},
		{"2027-03-01", month, 0, "2027-03-01"},
	}
	for _, c := range cases {
		if got := PeriodEnd(date(c.anchor), c.d, c.k); !got.Equal(date(c.want)) {
			t.Errorf("PeriodEnd(%s, %s, %d) = %s, want %s", c.anchor, c.d, c.k, got.Format(time.DateOnly), c.want)
		}
	}
}

func TestPeriodAt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		anchor, day string
		d           catalog.Duration
		from, to    string
		k           int
	}{
		{"2027-01-31", "2027-01-31", month, "2027-01-31", "2027-02-28", 1},
		{"2027-01-31", "2027-02-27", month, "2027-01-31", "2027-02-28", 1},
		{"2027-01-31", "2027-02-28", month, "2027-02-28", "2027-03-31", 2},
		{"2027-01-31", "2027-03-30", month, "2027-02-28", "2027-03-31", 2},
		{"2027-01-31", "2027-03-31", month, "2027-03-31", "2027-04-30", 3},
		{"2027-01-31", "2029-12-01", month, "2029-11-30", "2029-12-31", 35},
		{"2027-01-01", "2027-12-31", year12, "2027-01-01", "2028-01-01", 1},
		{"2027-01-01", "2028-01-01", year12, "2028-01-01", "2029-01-01", 2},
		{"2027-06-01", "2027-06-15", days14, "2027-06-15", "2027-06-29", 2},
	}
	for _, c := range cases {
		from, to, k, ok := PeriodAt(date(c.anchor), c.d, date(c.day))
		if !ok || !from.Equal(date(c.from)) || !to.Equal(date(c.to)) || k != c.k {
			t.Errorf("PeriodAt(%s, %s, %s) = [%s, %s) #%d %v, want [%s, %s) #%d", c.anchor, c.d, c.day,
				from.Format(time.DateOnly), to.Format(time.DateOnly), k, ok, c.from, c.to, c.k)
		}
	}
	if _, _, _, ok := PeriodAt(date("2027-03-01"), month, date("2027-02-28")); ok {
		t.Error("PeriodAt before the anchor found a period")
	}
}

// Golden rules 2-4: days left = end − C, period days = end − start,
// prorated = round(price × left / days), exact, half away from zero.
func TestProrate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		about       string
		amount      string
		left, days  int
		currency    string
		want        string
		changeStart string // optional: the change day and period, to check the day counts
		periodStart string
		periodEnd   string
	}{
		{"03: credit of Basic 12.00, 15 of 31 days (5.8064…)", "12.00", 15, 31, "USD", "5.81", "2027-03-17", "2027-03-01", "2027-04-01"},
		{"03: charge of Pro 36.00 (17.4193…)", "36.00", 15, 31, "USD", "17.42", "2027-03-17", "2027-03-01", "2027-04-01"},
		{"04: credit of Pro, negative (−17.4193…)", "-36.00", 15, 31, "USD", "-17.42", "", "", ""},
		{"05: 3 mailboxes × 2.00, 21 of 31 days (4.0645…)", "6.00", 21, 31, "USD", "4.06", "2027-05-11", "2027-05-01", "2027-06-01"},
		{"13: 1000 JPY, 15 of 31 days (483.87…)", "1000", 15, 31, "JPY", "484", "", "", ""},
		{"13: 3000 JPY, 15 of 31 days (1451.61…)", "3000", 15, 31, "JPY", "1452", "", "", ""},
		{"10: 120.00 a year, 306 of 365 days (100.6027…)", "120.00", 306, 365, "USD", "100.60", "2027-03-01", "2027-01-01", "2028-01-01"},
		{"an exact half rounds away from zero: 0.01 × 1/2", "0.01", 1, 2, "USD", "0.01", "", "", ""},
		{"and away from zero below it: −0.01 × 1/2", "-0.01", 1, 2, "USD", "-0.01", "", "", ""},
		{"half to even would give 0.02: 0.05 × 1/2 = 0.025", "0.05", 1, 2, "USD", "0.03", "", "", ""},
		{"just under a half: 0.049999 × 1/2 = 0.0249995", "0.049999", 1, 2, "USD", "0.02", "", "", ""},
		{"whole period", "19.99", 31, 31, "USD", "19.99", "", "", ""},
		{"the first day counts", "31.00", 1, 31, "USD", "1.00", "2027-03-31", "2027-03-01", "2027-04-01"},
		{"no days", "31.00", 0, 31, "USD", "0.00", "", "", ""},
		{"three decimals: 10.000 KWD, 1 of 3 days (3.3333…)", "10", 1, 3, "KWD", "3.333", "", "", ""},
		{"leap February, 29 days: 29.00 × 10/29", "29.00", 10, 29, "EUR", "10.00", "2028-02-20", "2028-02-01", "2028-03-01"},
	}
	for _, c := range cases {
		got, err := Prorate(amount(c.amount), c.left, c.days, c.currency)
		if err != nil {
			t.Errorf("%s: %v", c.about, err)
			continue
		}
		if got != amount(c.want) {
			t.Errorf("%s: Prorate(%s, %d/%d, %s) = %s, want %s", c.about, c.amount, c.left, c.days, c.currency, got.Format(c.currency), c.want)
		}
		if c.changeStart != "" {
			left, days := Days(date(c.changeStart), date(c.periodEnd)), Days(date(c.periodStart), date(c.periodEnd))
			if left != c.left || days != c.days {
				t.Errorf("%s: days %d of %d, want %d of %d", c.about, left, days, c.left, c.days)
			}
		}
	}
	for _, bad := range [][2]int{{32, 31}, {-1, 31}, {1, 0}} {
		if _, err := Prorate(amount("1"), bad[0], bad[1], "USD"); err == nil {
			t.Errorf("Prorate(%d of %d days) accepted", bad[0], bad[1])
		}
	}
	// Exact even where a 19-digit decimal would not be: 9 trillion × 1/3.
	got, err := roundRatio(amount("9000000000000"), big.NewInt(1), big.NewInt(3), "USD")
	if err != nil || got != amount("3000000000000") {
		t.Errorf("roundRatio(9e12 / 3) = %s, %v", got, err)
	}
	if _, err := roundRatio(amount("9000000000000"), big.NewInt(2), big.NewInt(1), "USD"); err == nil {
		t.Error("an amount beyond Micros was accepted")
	}
}

func TestPercentOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		amount, rate, currency, want string
	}{
		{"15.00", "19", "EUR", "2.85"},
		{"4.06", "19", "EUR", "0.77"},  // 0.7714
		{"9.99", "7.7", "CHF", "0.77"}, // 0.76923
		{"0.03", "19", "EUR", "0.01"},  // 0.0057
		{"-5.81", "20", "EUR", "-1.16"},
		{"1000", "10", "JPY", "100"},
		{"1005", "10", "JPY", "101"}, // 100.5, away from zero
		{"2.50", "0", "USD", "0.00"},
	}
	for _, c := range cases {
		got, err := percentOf(amount(c.amount), decimal.MustParse(c.rate), c.currency)
		if err != nil || got != amount(c.want) {
			t.Errorf("%s%% of %s %s = %s, %v; want %s", c.rate, c.amount, c.currency, got.Format(c.currency), err, c.want)
		}
	}
}

func TestRated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		price, qty, currency, want string
	}{
		{"0.10", "23.5", "USD", "2.35"},
		{"0.015", "1234", "USD", "18.51"},
		{"0.015", "1", "USD", "0.02"}, // 0.015: half away from zero
		{"0.015", "-1", "USD", "-0.02"},
		{"3", "0.5", "JPY", "2"},
	} {
		p, _ := money.Parse(c.price)
		got, err := Rated(p, decimal.MustParse(c.qty), c.currency)
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := money.Parse(c.want); got != w {
			t.Errorf("%s × %s %s = %s, want %s", c.price, c.qty, c.currency, got, c.want)
		}
	}
}
