package money

import (
	"testing"

	"github.com/govalues/decimal"
)

func TestParseAndString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Micros
		out  string
	}{
		{"0", 0, "0.00"},
		{"1250.5", 1_250_500_000, "1250.50"},
		{"0.000125", 125, "0.000125"},
		{"-3.10", -3_100_000, "-3.10"},
		{"9000000000000", 9_000_000_000_000_000_000, "9000000000000.00"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %d, want %d", c.in, got, c.want)
		}
		if got.String() != c.out {
			t.Errorf("String(%d) = %q, want %q", got, got.String(), c.out)
		}
	}
	for _, bad := range []string{"", "abc", "1.0000001", "10000000000000"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestRoundHalfAway(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		scale int
		want  string
	}{
		{"2.345", 2, "2.35"}, // half to even would give 2.34
		{"2.335", 2, "2.34"},
		{"-2.345", 2, "-2.35"}, // away from zero
		{"2.3449", 2, "2.34"},
		{"0.5", 0, "1"},
		{"1.5", 0, "2"},
		{"2.5", 0, "3"}, // half to even would give 2
		{"-0.5", 0, "-1"},
		{"11.4885", 2, "11.49"},
		{"7", 2, "7"},
	}
	for _, c := range cases {
		got := RoundHalfAway(decimal.MustParse(c.in), c.scale)
		if got.Cmp(decimal.MustParse(c.want)) != 0 {
			t.Errorf("RoundHalfAway(%s, %d) = %s, want %s", c.in, c.scale, got, c.want)
		}
	}
	m, err := FromDecimal(decimal.MustParse("0.0000125"))
	if err != nil || m != 13 {
		t.Errorf("FromDecimal(0.0000125) = %d, %v; want 13", m, err)
	}
}

// TestParseIsStrict: money is a plain decimal string; what the decimal
// library would also read ("1e5" as 100000) is refused.
func TestParseIsStrict(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"1e5", "1E5", "1.5e2", "+5", " 5", "5 ", "0x10", "NaN", "Inf", "-Inf", ".5", "5.", "-", "--5", "1,000.00", "١٢", "5\x00"} {
		if m, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %s, want refused", bad, m)
		}
		if d, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want refused", bad, d)
		}
	}
	for in, want := range map[string]Micros{"100000": 100_000 * MicrosPerUnit, "-0.5": -500_000, "007.10": 7_100_000} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
