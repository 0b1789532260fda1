package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
)

// trialDocument is testDocument with a 14-day free trial of basic that
// converts to its monthly period.
func trialDocument() *Document {
	d := testDocument()
	d.Plans[0].Periods = append(d.Plans[0].Periods, Period{Key: "14d", Duration: Duration{N: 14, Unit: Day}, Trial: true,
		ConvertsTo: "1m", Refund: Refund{After: RefundNone}, Sort: 0, RecurringPer: PerPeriod})
	return d
}

// TestTrialConversionValidate: only a trial converts, and only to a paid
// period of its own plan; each refusal names the period's converts_to.
func TestTrialConversionValidate(t *testing.T) {
	t.Parallel()
	if err := trialDocument().Validate(); err != nil {
		t.Fatalf("trial document: %v", err)
	}
	cases := []struct {
		name   string
		change func(p *Plan)
		field  string
		want   string
	}{
		{"a paid period converts", func(p *Plan) { p.Periods[1].ConvertsTo = "1m" },
			"periods[1].converts_to", "only a trial period converts"},
		{"to a period the plan lacks", func(p *Plan) { p.Periods[2].ConvertsTo = "24m" },
			"periods[2].converts_to", `no period "24m" in this plan`},
		{"to another trial", func(p *Plan) {
			p.Periods = append(p.Periods, Period{Key: "30d", Duration: Duration{N: 30, Unit: Day}, Trial: true,
				Refund: Refund{After: RefundNone}, RecurringPer: PerPeriod})
			p.Periods[2].ConvertsTo = "30d"
		}, "periods[2].converts_to", `period "30d" is a trial`},
		{"to itself", func(p *Plan) { p.Periods[2].ConvertsTo = "14d" },
			"periods[2].converts_to", `period "14d" is a trial`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := trialDocument()
			c.change(&d.Plans[0])
			err := d.Plans[0].Validate(Known{})
			var e *marketplane.Error
			if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
				t.Fatalf("Validate = %v, want EINVALID", err)
			}
			if msg, ok := e.Fields[c.field]; !ok || !strings.Contains(msg, c.want) || len(e.Fields) != 1 {
				t.Fatalf("Validate = %v\nwant only field %s with %q", err, c.field, c.want)
			}
			// The document names the plan by key.
			err = d.Validate()
			if !errors.As(err, &e) || e.Fields["plans[basic]."+c.field] == "" {
				t.Errorf("document Validate = %v, want field plans[basic].%s", err, c.field)
			}
		})
	}
	// A trial may convert to nothing: billing refuses to end it, the
	// catalog does not refuse the plan.
	d := trialDocument()
	d.Plans[0].Periods[2].ConvertsTo = ""
	if err := d.Validate(); err != nil {
		t.Errorf("a trial without converts_to: %v", err)
	}
}

// TestTrialConversionAsCode: converts_to is written, read back, compared and
// reported by the catalog as code like any other period field, and left out
// where empty.
func TestTrialConversionAsCode(t *testing.T) {
	t.Parallel()
	d := trialDocument()
	y, j := encodeYAML(t, d), encodeJSON(t, d)
	if !bytes.Contains(y, []byte("converts_to: 1m")) || !bytes.Contains(j, []byte(`"converts_to": "1m"`)) {
		t.Errorf("converts_to is not written:\n%s\n%s", y, j)
	}
	if n := bytes.Count(j, []byte("converts_to")); n != 1 {
		t.Errorf("converts_to written %d times, want once (omitted where empty):\n%s", n, j)
	}
	for _, back := range []*Document{decode(t, y, "yaml"), decode(t, j, "json")} {
		pe, ok := back.Plans[0].Period("14d")
		if !ok || pe.ConvertsTo != "1m" || !pe.Trial {
			t.Errorf("read back: %+v", back.Plans[0].Periods)
		}
		if changes := Diff(d, back); len(changes) != 0 {
			t.Errorf("Diff after a round trip: %+v", changes)
		}
	}
	checkSame(t, "YAML", encodeYAML(t, decode(t, y, "yaml")), y)
	checkSame(t, "JSON", encodeJSON(t, decode(t, j, "json")), j)

	// A change of the paid period a trial turns into is one field.
	desired := trialDocument()
	desired.Plans[0].Periods[2].ConvertsTo = "12m"
	want := []Change{{Action: Update, Kind: KindPlan, Key: "basic", Fields: []FieldChange{
		{Path: "periods[14d].converts_to", Old: `"1m"`, New: `"12m"`},
	}}}
	if got := Diff(d, desired); !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", formatChanges(t, got), formatChanges(t, want))
	}
	var out bytes.Buffer
	if err := FormatDiff(&out, Diff(d, desired)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "~ plan basic: periods[14d].converts_to 1m → 12m") {
		t.Errorf("FormatDiff:\n%s", out.String())
	}
	// Removing it is a change too.
	desired.Plans[0].Periods[2].ConvertsTo = ""
	if got := Diff(d, desired); len(got) != 1 || len(got[0].Fields) != 1 || got[0].Fields[0] != (FieldChange{Path: "periods[14d].converts_to", Old: `"1m"`}) {
		t.Errorf("Diff of a removed converts_to = %+v", got)
	}

	// Decoding is strict about it like about any field.
	bad := bytes.Replace(y, []byte("converts_to: 1m"), []byte("convert_to: 1m"), 1)
	_, err := Decode(bytes.NewReader(bad), "yaml")
	var e *marketplane.Error
	if !errors.As(err, &e) || !strings.Contains(e.Fields["plans[basic].periods[0].convert_to"], `did you mean "converts_to"`) {
		t.Errorf("a misspelt converts_to: %v", err)
	}
}
