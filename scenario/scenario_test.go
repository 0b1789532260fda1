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
	"time"

	"github.com/marketplane/marketplane"
)

// shared is where the golden scenarios live: the shared directory beside
// the clone (../shared from the repository's root), seen from this
// package's directory.
const shared = "../../shared/scenarios"

// TestCopiesAreTheShared proves that testdata holds every shared scenario
// file byte for byte. Without the shared directory it fails: a test that
// compares nothing would pass over copies gone stale.
func TestCopiesAreTheShared(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(shared)
	if errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(shared)
		t.Fatalf("the shared golden scenarios are not at %s (../shared/scenarios beside the clone): "+
			"testdata cannot be compared with them; put a copy of shared/ beside the clone", abs)
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
// every step, billing runs and the checks the player can make included (08
// converts its trial and checks the subscription's period); the others
// (payments, credit hold, prepaid funds) are played up to their first
// billing run, with every order, change and cancellation document before
// it compared.
var golden = map[string]bool{ // file → played whole
	"01-monthly-setup-and-renewal.yaml":         true,
	"02-month-end-anchor.yaml":                  true,
	"03-upgrade-mid-period.yaml":                true,
	"04-downgrade-prorated-and-deferred.yaml":   true,
	"05-resource-increase.yaml":                 true,
	"06-overuse-in-arrears.yaml":                true,
	"07-payg-unit-hours.yaml":                   true,
	"08-trial-then-paid.yaml":                   true,
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
			// Marketplane's own examples beside the golden files keep to
			// what the pure player plays: they must play whole.
			whole = true
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

// trialScenario is golden scenario 08 with old replaced by new in its text.
func trialScenario(t *testing.T, old, new string) *Scenario {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "08-trial-then-paid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%q is not in 08-trial-then-paid.yaml", old)
	}
	s, err := Parse(strings.NewReader(strings.Replace(string(data), old, new, 1)))
	if err != nil {
		t.Fatal(err)
	}
	s.File = "08-trial-then-paid.yaml"
	return s
}

// TestTrialConversion: the trial's converts_to reaches the catalog, billing
// converts the trial on its end day, and the player's check of the
// subscription says so — or says where it does not hold.
func TestTrialConversion(t *testing.T) {
	t.Parallel()
	s := trialScenario(t, "", "")
	m, err := s.Market()
	if err != nil {
		t.Fatal(err)
	}
	if pe, ok := m.Plans[Provider]["crm"].Period("14d"); !ok || !pe.Trial || pe.ConvertsTo != "1m" {
		t.Fatalf("the catalog's trial period: %+v", pe)
	}
	r, err := Play(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, unchecked := Compare(s, 0, r); !r.Whole() || len(diffs)+len(unchecked) > 0 || len(r.Documents) != 1 {
		t.Errorf("08 played: whole %v, %d documents, differences %v, unchecked %v", r.Whole(), len(r.Documents), diffs, unchecked)
	}

	cases := []struct {
		about, old, new, want string
	}{
		{"a period that does not hold", "period: [2027-06-15, 2027-07-15]", "period: [2027-06-15, 2027-07-14]",
			"period [2027-06-15, 2027-07-15], want [2027-06-15, 2027-07-14]"},
		{"the trial's period after the conversion", "period: [2027-06-15, 2027-07-15]", "period: [2027-06-01, 2027-06-15]",
			"period [2027-06-15, 2027-07-15], want [2027-06-01, 2027-06-15]"},
		{"a state that does not hold", "subscription: active", "subscription: terminated", "subscription active, want terminated"},
		{"a converted month at another price", `{duration: 1M, recurring: "30.00"}`, `{duration: 1M, recurring: "31.00"}`,
			"line 1 (recurring): amount 31.00, want 30.00"},
	}
	for _, c := range cases {
		s := trialScenario(t, c.old, c.new)
		r, err := Play(s, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.about, err)
		}
		diffs, _ := Compare(s, 0, r)
		if !strings.Contains(strings.Join(diffs, "\n"), c.want) {
			t.Errorf("%s: differences\n  %s\nwant one saying %q", c.about, strings.Join(diffs, "\n  "), c.want)
		}
	}

	// What the player cannot know, it does not claim: a trial converting
	// to nothing and a check of an invoice stop it at the bill step (the
	// order compared); a ledger's check before the bill step is passed
	// over, and so is a state once an invoice is overdue: with 14 net days
	// the state is known up to the due date (an invoice without net days
	// has no due date and is never overdue).
	const check = "  - {on: 2027-06-15, do: check, subscription: active, period: [2027-06-15, 2027-07-15]}\n"
	const bill = "  - {on: 2027-06-15, do: bill}\n"
	for _, c := range []struct {
		about, old, new string
		stop            int // -1: played to the end
		skipped         []int
	}{
		{"a trial converting to nothing", ", converts_to: 1M}", "}", 1, nil},
		{"a check of an invoice", "subscription: active,", "invoice: open,", 1, nil},
		{"a ledger's check before the bill step", bill, "  - {on: 2027-06-01, do: check, invoice: open}\n" + bill, 2, []int{1}},
	} {
		s := trialScenario(t, c.old, c.new)
		r, err := Play(s, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.about, err)
		}
		stopOn := time.Time{}
		if c.stop >= 0 {
			stopOn = s.Cases[0].Steps[c.stop].On.Time
		} else {
			c.stop = len(s.Cases[0].Steps)
		}
		if r.Whole() || r.Stop != c.stop || !r.StopOn.Equal(stopOn) || !slices.Equal(r.Skipped, c.skipped) || len(r.Errors) > 0 {
			t.Errorf("%s: stop at step %d on %s, passed over %v, errors %v; want a stop at step %d, passed over %v",
				c.about, r.Stop+1, r.StopOn, r.Skipped, r.Errors, c.stop+1, c.skipped)
		}
	}
	for days, whole := range map[int]bool{14: true, 15: false} { // the invoice of 06-15 is due on 06-29
		s := trialScenario(t, "currency: USD\n", "currency: USD\ncustomer: {terms: {net_days: 14}}\n")
		st := &s.Cases[0].Steps[2]
		st.On.Time = st.On.AddDate(0, 0, days)
		if r, err := Play(s, 0); err != nil || r.Whole() != whole || len(r.Errors) > 0 {
			t.Errorf("net 14 days, the state checked on %s: whole %v, want %v; errors %v %v", st.On, r.Whole(), whole, r.Errors, err)
		}
	}
}
