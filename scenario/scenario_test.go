package scenario

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
)

// shared is where the golden scenarios live beside the repository.
const shared = "../../shared/scenarios"

// TestCopiesAreTheShared proves that testdata holds every shared scenario
// file byte for byte.
func TestCopiesAreTheShared(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(shared)
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("%s is absent here: the copies cannot be compared with the shared files", shared)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s is empty", shared)
	}
	for _, e := range entries {
		want, err := os.ReadFile(filepath.Join(shared, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			t.Errorf("testdata lacks %s: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from the shared file: copy it again with cp", e.Name())
		}
	}
}

func load(t *testing.T) []*Scenario {
	t.Helper()
	all, err := Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 17 {
		t.Fatalf("loaded %d scenarios, want at least 17", len(all))
	}
	return all
}

// Every file parses, and its plans make a valid catalog — but for the
// catalog rules the scenarios contradict, listed here.
func TestMarkets(t *testing.T) {
	t.Parallel()
	known := map[string]string{}
	for _, s := range load(t) {
		m, err := s.Market()
		if err != nil {
			t.Errorf("%s: %v", s.File, err)
			continue
		}
		err = m.Catalog().Validate()
		var e *marketplane.Error
		switch {
		case err == nil && known[s.File] == "":
		case errors.As(err, &e) && known[s.File] != "" && len(e.Fields) == 1 && e.Fields[known[s.File]] != "":
			t.Logf("%s: the catalog refuses it: %v", s.File, err)
		default:
			t.Errorf("%s: catalog: %v (known: %q)", s.File, err, known[s.File])
		}
		for tier, plans := range m.Plans {
			for key := range plans {
				if _, err := m.Chain(tier, key); err != nil {
					t.Errorf("%s: %s %s: %v", s.File, tier, key, err)
				}
			}
		}
	}
}

// How far the pure player must get in each golden file: whole files play
// every step, billing runs included; the others (payments, credit hold,
// trial conversion) are played up to their first billing run, with every
// order, change and cancellation document before it compared.
var golden = map[string]bool{ // file → played whole
	"01-monthly-setup-and-renewal.yaml":         true,
	"02-month-end-anchor.yaml":                  true,
	"03-upgrade-mid-period.yaml":                true,
	"04-downgrade-prorated-and-deferred.yaml":   true,
	"05-resource-increase.yaml":                 true,
	"06-overuse-in-arrears.yaml":                true,
	"07-payg-unit-hours.yaml":                   true,
	"08-trial-then-paid.yaml":                   false,
	"09-annual-priced-per-month.yaml":           true,
	"10-refunds.yaml":                           true,
	"11-tax.yaml":                               true,
	"12-three-tiers.yaml":                       true,
	"13-yen-no-minor-unit.yaml":                 true,
	"14-credit-hold-and-temporary-release.yaml": false,
	"15-delayed-payment-schedule.yaml":          false,
	"16-payg-delayed-suspension.yaml":           false,
	"17-minimum-units.yaml":                     true,
}

func TestGolden(t *testing.T) {
	t.Parallel()
	all := load(t)
	for _, s := range all {
		whole, listed := golden[s.File]
		if !listed {
			t.Errorf("%s: not in the table of golden files", s.File)
			continue
		}
		for i := range s.Cases {
			r, err := Play(s, i)
			if err != nil {
				t.Errorf("%s case %d: %v", s.File, i+1, err)
				continue
			}
			diffs, unchecked := Compare(s, i, r)
			for _, d := range diffs {
				t.Errorf("%s case %d: %s", s.File, i+1, d)
			}
			compared := 0
			for _, d := range r.Documents {
				if r.StopOn.IsZero() || d.On.Before(r.StopOn) {
					compared++
				}
			}
			steps := len(s.Cases[i].Steps)
			t.Logf("%s case %d: played %d of %d steps, %d documents compared, %d passed over; stopped: %s",
				s.File, i+1, r.Stop-len(r.Skipped), steps, compared, len(r.Skipped), stopText(r))
			for _, u := range unchecked {
				t.Logf("    not checked: %s", u)
			}
			if whole && (!r.Whole() || len(unchecked) > 0) {
				t.Errorf("%s case %d: must play whole; not checked: %s", s.File, i+1, strings.Join(unchecked, "; "))
			}
		}
	}
	for f := range golden {
		if !slices.ContainsFunc(all, func(s *Scenario) bool { return s.File == f }) {
			t.Errorf("golden file %s is missing from testdata", f)
		}
	}
}

func stopText(r *Result) string {
	if r.StopOn.IsZero() {
		return "no, played to the end"
	}
	return "at the bill step of " + r.StopOn.Format("2006-01-02")
}
