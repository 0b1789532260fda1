package connector_test

import (
	"encoding/json"
	"testing"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/connector"
)

// A reading's value is a decimal string on the wire; the JSON numbers of
// connectors written before still read.
func TestUsageReadingValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"resource":"gb","value":"13.4"}`, "13.4"},
		{`{"resource":"gb","value":"0.000001"}`, "0.000001"},
		{`{"resource":"gb","value":42}`, "42"},
		{`{"resource":"gb","value":"42"}`, "42"},
	} {
		var r connector.UsageReading
		if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if r.Value.String() != tc.want || connector.CheckValue(r.Value) != nil {
			t.Errorf("%s: value %s (%v), want %s", tc.body, r.Value, connector.CheckValue(r.Value), tc.want)
		}
	}
	out, err := json.Marshal(connector.UsageReading{Resource: "gb", Value: decimal.MustParse("13.4")})
	if err != nil || string(out) != `{"resource":"gb","value":"13.4","additive":false,"at":"0001-01-01T00:00:00Z"}` {
		t.Errorf("marshal: %s %v", out, err)
	}
	for _, bad := range []string{"-1", "0.0000001", "10000000000000"} {
		if err := connector.CheckValue(decimal.MustParse(bad)); err == nil {
			t.Errorf("CheckValue(%s) = nil, want an error", bad)
		}
	}
	if err := connector.CheckValue(decimal.MustParse("1.5000000")); err != nil {
		t.Errorf("CheckValue(1.5000000): %v (trailing zeros are not places)", err)
	}
}
