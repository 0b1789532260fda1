package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBenchmarks runs every benchmark at a tiny scale on both engines, twice
// for the subtree (the second run reuses the tree), and checks the report.
func TestBenchmarks(t *testing.T) {
	want := map[string][]string{
		"accounts": {"accounts_per_s", "bulk_s", "setup_s", "total_s", "peak_rss_mb"},
		"subtree": {"build_s", "list_p50_ms", "list_p95_ms", "list_all_p50_ms", "list_all_p95_ms",
			"count_p50_ms", "count_p95_ms", "authz_p50_ms", "authz_p95_ms", "total_s", "peak_rss_mb"},
	}
	scales := map[string]int{"accounts": 1234, "subtree": 150}
	iterationDivisor = 10
	if got := Names(); strings.Join(got, ",") != "accounts,api,billing,login,orders,panel,subtree,sync,usage" {
		t.Fatalf("Names() = %v", got)
	}
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		db := storetest.Open(t, e)
		ctx := context.Background()
		for _, name := range []string{"accounts", "subtree", "subtree"} {
			var progress bytes.Buffer
			res, err := Run(ctx, name, Options{DB: db, Scale: scales[name], Progress: &progress,
				Logger: slog.New(slog.NewTextHandler(&testWriter{t}, nil))})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if progress.Len() > 0 {
				t.Errorf("%s: progress written to a non-terminal: %q", name, progress.String())
			}
			if res.Bench != name || res.Engine != string(e) || res.Scale != scales[name] {
				t.Errorf("%s: result names %s on %s at %d", name, res.Bench, res.Engine, res.Scale)
			}
			var out bytes.Buffer
			if err := res.Report(&out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			t.Logf("%s", out.String())
			var line struct {
				Bench   string             `json:"bench"`
				Engine  string             `json:"engine"`
				Scale   int                `json:"scale"`
				Figures map[string]float64 `json:"figures"`
			}
			dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&line); err != nil {
				t.Fatalf("%s: last line is not the JSON result: %v\n%s", name, err, lines[len(lines)-1])
			}
			if line.Bench != name || line.Engine != string(e) || line.Scale != scales[name] {
				t.Errorf("%s: JSON line %+v", name, line)
			}
			if len(lines) != len(line.Figures)+2 {
				t.Errorf("%s: %d lines for %d figures", name, len(lines), len(line.Figures))
			}
			for k, v := range line.Figures {
				if !HasUnit(k) {
					t.Errorf("%s: figure %s has no unit suffix", name, k)
				}
				if !(v > 0) {
					t.Errorf("%s: figure %s = %v, want > 0", name, k, v)
				}
			}
			for _, k := range want[name] {
				if _, ok := line.Figures[k]; !ok {
					t.Errorf("%s: figure %s missing", name, k)
				}
			}
		}
		// Both runs of the subtree built one tree: the second reused it.
		var n int
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE external_id = $1`,
			subtreeExt(scales["subtree"])).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d subtree resellers after two runs, want 1", n)
		}
		var accounts int
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&accounts); err != nil {
			t.Fatal(err)
		}
		// provider + 1,000 resellers + 1,234 accounts + the subtree's
		// reseller, its 150 descendants and its neighbours (300).
		if want := 1 + 1000 + 1234 + 1 + 150 + 300; accounts != want {
			t.Errorf("%d accounts, want %d", accounts, want)
		}
	})
}

func TestRunRefusesBadInput(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	if _, err := Run(ctx, "nope", Options{DB: db}); err == nil || !strings.Contains(err.Error(), "accounts, api, billing, login, orders, panel, subtree") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Run(ctx, "subtree", Options{DB: db, Scale: 3}); err == nil {
		t.Error("scale 3 for subtree accepted")
	}
	if About("subtree") == "" || About("nope") != "" {
		t.Error("About")
	}
}

func TestPercentileAndUnits(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 95); p != 95*time.Millisecond {
		t.Errorf("p95 = %v", p)
	}
	if p := percentile(d[:1], 95); p != time.Millisecond {
		t.Errorf("p95 of one = %v", p)
	}
	for name, ok := range map[string]bool{"accounts_per_s": true, "total_s": true, "peak_rss_mb": true,
		"hit_ratio": true, "list_p95_ms": true, "count": false, "_s": false, "mb": false} {
		if HasUnit(name) != ok {
			t.Errorf("HasUnit(%q) = %v", name, !ok)
		}
	}
	v, err := parseVmHWM(strings.NewReader("Name:\tx\nVmPeak:\t  1 kB\nVmHWM:\t   20480 kB\n"))
	if err != nil || v != 20 {
		t.Errorf("VmHWM = %v, %v", v, err)
	}
	if rss, err := peakRSSMB(); err != nil || rss <= 0 {
		t.Errorf("peak RSS %v, %v", rss, err)
	}
	if got := human(123456.7); got != "123,457" {
		t.Errorf("human = %q", got)
	}
}

// BenchmarkAuthorize times one authorization check of a reseller's
// administrator on a customer four levels deep, among 2,000 descendants.
func BenchmarkAuthorize(b *testing.B) {
	for _, e := range storetest.Engines {
		b.Run(string(e), func(b *testing.B) {
			st, db := benchSubtree(b, e)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if err := db.Authorize(ctx, st.actor, account.ViewAccount, st.deep[i%len(st.deep)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkListAccounts times one page of 100 descendants from a cursor.
func BenchmarkListAccounts(b *testing.B) {
	for _, e := range storetest.Engines {
		b.Run(string(e), func(b *testing.B) {
			st, db := benchSubtree(b, e)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				f := store.AccountFilter{Under: st.top.ID, Descendants: true, Limit: 100,
					After: st.paths[(i*37)%(len(st.paths)-100)]}
				if list, err := db.ListAccounts(ctx, st.actor, f); err != nil || len(list) != 100 {
					b.Fatal(len(list), err)
				}
				i++
			}
		})
	}
}

func benchSubtree(b *testing.B, e store.Engine) (*subtree, *store.DB) {
	b.Helper()
	db := storetest.Open(b, e)
	r := &runner{db: db, scale: 2000, log: slog.New(slog.DiscardHandler), res: &Result{Figures: map[string]float64{}}}
	st, err := r.buildSubtree(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return st, db
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
