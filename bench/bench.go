// Package bench holds Marketplane's data generators and named benchmarks,
// run by `marketplane bench NAME`. A benchmark works on an open, migrated
// database (SQLite or PostgreSQL), builds the data it needs or reuses what
// an earlier run built, measures, and returns its figures. Every figure's
// name ends in its unit (_s, _ms, _per_s, _mb, _ratio), and every result
// carries the peak resident memory of the process (peak_rss_mb).
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
)

// Options tune Run.
type Options struct {
	// DB is the database to work on, already open and migrated.
	DB *store.DB
	// Scale is the size of the benchmark's data; 0 means its default.
	Scale int
	// Progress receives a progress line while the benchmark runs, only
	// when it is a terminal; nil means none.
	Progress io.Writer
	// Logger receives the benchmark's phases; nil means none.
	Logger *slog.Logger
	// Users, with Duration, add a load run to a benchmark that has one
	// (panel): that many simulated users for that long; 0 means none.
	Users    int
	Duration time.Duration
}

// Result is what a benchmark measured.
type Result struct {
	Bench  string `json:"bench"`
	Engine string `json:"engine"`
	Scale  int    `json:"scale"`
	// Figures are the measurements; each name ends in its unit.
	Figures map[string]float64 `json:"figures"`
}

// Units are the suffixes a figure's name may end in.
var Units = []string{"_per_s", "_s", "_ms", "_mb", "_ratio"}

// HasUnit reports whether a figure's name ends in one of Units.
func HasUnit(name string) bool {
	for _, u := range Units {
		if strings.HasSuffix(name, u) && len(name) > len(u) {
			return true
		}
	}
	return false
}

// JSON is the result as one line of JSON (without the newline):
// {"bench":…,"engine":…,"scale":…,"figures":{…}}, figures sorted by name.
func (r *Result) JSON() ([]byte, error) { return json.Marshal(r) }

// Report writes the figures for a person, one per line, followed by the
// JSON line that scripts read (always the last line).
func (r *Result) Report(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s on %s, scale %d\n", r.Bench, r.Engine, r.Scale)
	names := make([]string, 0, len(r.Figures))
	width := 0
	for k := range r.Figures {
		names = append(names, k)
		width = max(width, len(k))
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(bw, "  %-*s  %s\n", width, k, human(r.Figures[k]))
	}
	line, err := r.JSON()
	if err != nil {
		return err
	}
	bw.Write(line)
	bw.WriteByte('\n')
	return bw.Flush()
}

// human prints a figure with a precision a person can read.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	default:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// benchmark is one named benchmark.
type benchmark struct {
	about        string
	defaultScale int
	minScale     int
	run          func(ctx context.Context, r *runner) error
}

var benchmarks = map[string]benchmark{
	"api": {
		about: "place orders through the REST API over loopback HTTP for SCALE seconds: 32 clients, each a " +
			"customer with its own API key and connection, only placing (orders_per_s, p50_ms, p99_ms)",
		defaultScale: 60,
		minScale:     1,
		run:          runAPI,
	},
	"billing": {
		about: "build (or reuse) SCALE active subscriptions of SCALE/10 customers below SCALE/1000 resellers, " +
			"then time one billing day (about SCALE/30 due, usage rated) and bulk-inserting SCALE rows, the floor " +
			"(total_s, <stage>_s, floor_s, floor_ratio …)",
		defaultScale: 1000000,
		minScale:     1,
		run:          runBilling,
	},
	"accounts": {
		about: "bulk-create SCALE customers and resellers below 1,000 resellers, in batches " +
			"of 5,000 (accounts_per_s)",
		defaultScale: 100000,
		minScale:     1,
		run:          runAccounts,
	},
	"orders": {
		about: "place and provision SCALE orders, 8 at a time, against a connector served in-process, " +
			"alternating between a customer of 10 users and one of 10,000 (orders_per_s, p50_ms, p99_ms, " +
			"users_10000_vs_10_ratio …)",
		defaultScale: 10000,
		minScale:     2,
		run:          runOrders,
	},
	"subtree": {
		about: "build (or reuse) a reseller with SCALE descendants down to depth 4 among as many " +
			"other accounts, then time listing its subtree, counting it, and authorizing its " +
			"user on deep accounts (list_p95_ms, authz_p95_ms …)",
		defaultScale: 10000,
		minScale:     minSubtree,
		run:          runSubtree,
	},
	"sync": {
		about: "delegate one provider plan to SCALE L1 resellers and by each to 10 L2 resellers " +
			"(SCALE×11 copies; built or reused), then time syncing a price change and a new " +
			"resource to every copy (price_change_s, new_resource_s, copies)",
		defaultScale: 2000,
		minScale:     1,
		run:          runSync,
	},
	"usage": {
		about: "collect usage from an in-process connector over SCALE running subscriptions (built or " +
			"reused in bulk), two readings each (subscriptions_per_s, collect_s …)",
		defaultScale: 100000,
		minScale:     1,
		run:          runUsage,
	},
}

// Names lists the benchmarks, sorted.
func Names() []string {
	out := make([]string, 0, len(benchmarks))
	for n := range benchmarks {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// About describes benchmark name and its default scale, for the CLI's help;
// empty for an unknown name.
func About(name string) string {
	b, ok := benchmarks[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s (default scale %d)", b.about, b.defaultScale)
}

// Run runs benchmark name. It returns EINVALID for an unknown name or a
// scale below the benchmark's minimum.
func Run(ctx context.Context, name string, opt Options) (*Result, error) {
	b, ok := benchmarks[name]
	if !ok {
		return nil, marketplane.Errorf(marketplane.EINVALID, "unknown benchmark %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if opt.DB == nil {
		return nil, marketplane.Errorf(marketplane.EINVALID, "benchmark %s: no database", name)
	}
	scale := opt.Scale
	if scale == 0 {
		scale = b.defaultScale
	}
	if scale < b.minScale {
		return nil, marketplane.Errorf(marketplane.EINVALID, "benchmark %s: scale must be at least %d", name, b.minScale)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{
		db:       opt.DB,
		scale:    scale,
		log:      log.With("bench", name),
		progress: opt.Progress,
		users:    opt.Users,
		duration: opt.Duration,
		res: &Result{Bench: name, Engine: string(opt.DB.Engine), Scale: scale,
			Figures: map[string]float64{}},
	}
	start := time.Now()
	if err := b.run(ctx, r); err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", name, err)
	}
	// total_s is the whole run unless the benchmark names its own total
	// (bench usage: the collection, as the issue defines the figure).
	if _, ok := r.res.Figures["total_s"]; !ok {
		r.set("total_s", time.Since(start).Seconds())
	}
	rss, err := peakRSSMB()
	if err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", name, err)
	}
	r.set("peak_rss_mb", rss)
	return r.res, nil
}

// runner is what a benchmark works with.
type runner struct {
	db       *store.DB
	scale    int
	log      *slog.Logger
	progress io.Writer
	res      *Result
	// users and duration are Options.Users and Options.Duration.
	users    int
	duration time.Duration
}

// set records a figure, rounded so that the JSON line stays readable
// (four decimals: a tenth of a microsecond for _ms figures).
func (r *runner) set(name string, v float64) {
	if !HasUnit(name) {
		panic("bench: figure " + name + " has no unit suffix")
	}
	r.res.Figures[name] = math.Round(v*1e4) / 1e4
}

// setPercentiles records name_p50_ms and name_p95_ms of durations d.
func (r *runner) setPercentiles(name string, d []time.Duration, ps ...int) {
	for _, p := range ps {
		r.set(fmt.Sprintf("%s_p%d_ms", name, p), ms(percentile(d, p)))
	}
}

// percentile is the nearest-rank p-th percentile of d (sorted in place).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(float64(p)/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// peakRSSMB reads the peak resident set size of this process (VmHWM) from
// /proc/self/status, in MiB.
func peakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r io.Reader) (float64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("peak memory: cannot read %q", s.Text())
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("peak memory: %w", err)
		}
		return kb / 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	return 0, fmt.Errorf("peak memory: no VmHWM in /proc/self/status")
}
