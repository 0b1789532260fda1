package money

import "testing"

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
