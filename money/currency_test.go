package money

import "testing"

func TestMinorUnits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code string
		want int
		ok   bool
	}{
		{"USD", 2, true},
		{"EUR", 2, true},
		{"GBP", 2, true},
		{"CHF", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"KWD", 3, true},
		{"BHD", 3, true},
		{"usd", 0, false}, // codes are upper case
		{"XYZ", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		n, ok := MinorUnits(c.code)
		if n != c.want || ok != c.ok {
			t.Errorf("MinorUnits(%q) = %d, %v; want %d, %v", c.code, n, ok, c.want, c.ok)
		}
	}
	if len(minorUnits) < 30 {
		t.Errorf("the currency table has %d currencies; the common ones are missing", len(minorUnits))
	}
}

func TestRoundToCurrency(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		code string
		want string
	}{
		// 12 × 15 / 31 = 5.806451…: a cent, up.
		{"5.806451", "USD", "5.81"},
		{"12.345", "USD", "12.35"}, // half away from zero, not to even (12.34)
		{"-12.345", "USD", "-12.35"},
		{"12.3449", "USD", "12.34"},
		{"0.005", "EUR", "0.01"},
		{"-0.004999", "EUR", "0.00"},
		// 1000 × 15 / 31 = 483.870967…: JPY has no minor unit.
		{"483.870967", "JPY", "484"},
		{"483.5", "JPY", "484"},
		{"-483.5", "JPY", "-484"},
		{"482.5", "JPY", "483"}, // half to even would give 482
		{"1.2345", "KWD", "1.235"},
		{"1.2344", "BHD", "1.234"},
		{"7.125", "XYZ", "7.13"}, // unknown: two decimals
		{"9223372036854.775807", "USD", "9223372036854.77"},
	}
	for _, c := range cases {
		m, err := Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Parse(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Round(c.code); got != want {
			t.Errorf("%s.Round(%s) = %s, want %s", c.in, c.code, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		code string
		want string
	}{
		{"12", "USD", "12.00"},
		{"12.5", "EUR", "12.50"},
		{"-5.81", "USD", "-5.81"},
		{"0", "USD", "0.00"},
		{"1000", "JPY", "1000"},
		{"-484", "JPY", "-484"},
		{"1.25", "KWD", "1.250"},
		{"0.015", "USD", "0.015"}, // a unit price keeps its digits
		{"0.5", "JPY", "0.5"},
		{"3", "XYZ", "3.00"},
	}
	for _, c := range cases {
		m, err := Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Format(c.code); got != c.want {
			t.Errorf("%s.Format(%s) = %q, want %q", c.in, c.code, got, c.want)
		}
	}
}

// TestValidCurrency: circulating ISO 4217 currencies only.
func TestValidCurrency(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"USD", "EUR", "JPY", "KWD", "XAF", "XOF", "XCD", "CHF", "BRL", "NGN", "VND"} {
		if !ValidCurrency(ok) {
			t.Errorf("ValidCurrency(%q) = false", ok)
		}
	}
	for _, bad := range []string{"ZZZ", "XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "BTC", "CLF", "HRK", "usd", "US", "USDD", ""} {
		if ValidCurrency(bad) {
			t.Errorf("ValidCurrency(%q) = true", bad)
		}
	}
}
