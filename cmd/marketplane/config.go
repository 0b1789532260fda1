package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane/mail"
)

// Config is the configuration of a marketplane process. Every field has a
// flag and a MARKETPLANE_* environment variable; flags win.
type Config struct {
	DB                 string
	Addr               string
	BaseURL            string
	LogFormat          string
	LogLevel           string
	Workers            bool
	TaskRetentionDays  int
	TaskPollInterval   time.Duration
	ShutdownTimeout    time.Duration
	Demo               bool
	PasswordHashMemory int
	BillingShards      int
	RateLimit          float64
	// TaskRescueMargin is how long past its kind's timeout a task's run is
	// taken for the run of a dead process (task.Config.RescueMargin).
	TaskRescueMargin time.Duration
	// ProvisioningDeadline is how long an order's provisioning is retried
	// after its first failure (provisioning.Orchestrator.Deadline).
	ProvisioningDeadline time.Duration
	// AllowPrivateWebhooks lets webhook endpoints reach loopback, private
	// and link-local addresses, which are refused otherwise (SSRF).
	AllowPrivateWebhooks bool
	// StripeKey is the secret API key of the Stripe account that charges
	// cards; empty: no card gateway (gateway.Offline). StripeAPIBase
	// overrides Stripe's API URL (stripe-mock in tests).
	StripeKey     string
	StripeAPIBase string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names a
	// sign-in's client address (web.Config.TrustedProxies): behind one,
	// every user would otherwise share the proxy's address and its
	// per-address sign-in throttle.
	TrustedProxies []netip.Prefix
	// AccessLog writes one JSON line per HTTP request to stderr.
	AccessLog bool
	// MetricsAddr serves /metrics on a listener of its own (then not on
	// Addr); MetricsToken, when set, is the bearer token /metrics needs.
	MetricsAddr  string
	MetricsToken string
	// SMTP is the mail server that sends the notifications' email; with
	// no address, messages stay queued in the outbox.
	SMTP mail.Sender
	// TestClock runs the installation on the test clock kept in its
	// database (a sandbox: store.TestClock), which the API and `marketplane
	// clock` set and advance.
	TestClock bool
}

// setting is one row of the configuration table (README and --help).
type setting struct {
	flag, env, def, help string
}

// secretSettings are read from their flag or, when it is not given, from
// the environment after parsing: their values never show in --help as a
// flag's default.
var secretSettings = map[string]bool{"stripe-key": true, "metrics-token": true, "smtp-password": true}

// switchSettings are true or false and may be given as a bare flag
// ("--test-clock" for "--test-clock=true").
var switchSettings = map[string]bool{"test-clock": true}

// switchFlag is the flag of a switch setting: its text, as the others'.
type switchFlag struct{ p *string }

func (f switchFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}
func (f switchFlag) Set(v string) error { *f.p = v; return nil }
func (f switchFlag) IsBoolFlag() bool   { return true }

var settings = []setting{
	{"db", "MARKETPLANE_DB", "data/marketplane.db", "database: an SQLite file path, or a postgres:// URL"},
	{"addr", "MARKETPLANE_ADDR", "127.0.0.1:8080", "address to listen on"},
	{"base-url", "MARKETPLANE_BASE_URL", "", "public URL of the server (https:// makes cookies Secure); default http://ADDR"},
	{"log-format", "MARKETPLANE_LOG_FORMAT", "text", "log format: text or json"},
	{"log-level", "MARKETPLANE_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
	{"workers", "MARKETPLANE_WORKERS", "true", "run the task workers in this process"},
	{"task-retention-days", "MARKETPLANE_TASK_RETENTION_DAYS", "90", "finished tasks older than this many days are deleted by the daily cleanup"},
	{"task-poll-interval", "MARKETPLANE_TASK_POLL_INTERVAL", "1s", "how often workers look for new tasks"},
	{"task-rescue-margin", "MARKETPLANE_TASK_RESCUE_MARGIN", "1m", "a task still running this long after its kind's timeout is taken for abandoned by a process that died: it runs again, and operators may retry or cancel it"},
	{"provisioning-deadline", "MARKETPLANE_PROVISIONING_DEADLINE", "24h", "an order whose connector keeps failing is retried this long after its first failure, then failed with the cause"},
	{"shutdown-timeout", "MARKETPLANE_SHUTDOWN_TIMEOUT", "30s", "how long a graceful shutdown waits for requests and tasks"},
	{"password-hash-memory", "MARKETPLANE_PASSWORD_HASH_MEMORY", "65536", "argon2id memory cost of new password hashes, in KiB"},
	{"rate-limit", "MARKETPLANE_RATE_LIMIT", "50", "API requests per second each API key or panel user may make, per process (bursts of twice that); 0 turns limits off"},
	{"webhook-allow-private", "MARKETPLANE_WEBHOOK_ALLOW_PRIVATE", "false", "let webhook endpoints reach loopback, private, link-local and other internal addresses (local development only)"},
	{"billing-shards", "MARKETPLANE_BILLING_SHARDS", "1", "parts each day's billing is split into, run as tasks at once by the workers (PostgreSQL)"},
	{"stripe-key", "MARKETPLANE_STRIPE_KEY", "", "secret API key of the Stripe account that charges cards (top-ups and orders with a payment source); empty: no card gateway, card payments are refused"},
	{"stripe-api-base", "MARKETPLANE_STRIPE_API_BASE", "", "Stripe's API URL, for stripe-mock in tests; empty: Stripe's own"},
	{"smtp-addr", "MARKETPLANE_SMTP_ADDR", "", "host:port of the SMTP server that sends notification email; empty: messages stay queued in the outbox until a server is set"},
	{"smtp-from", "MARKETPLANE_SMTP_FROM", "noreply@localhost", "sender address of notification email; each message shows its seller's name with it and the seller's contact address as Reply-To"},
	{"smtp-user", "MARKETPLANE_SMTP_USER", "", "SMTP login (AUTH PLAIN); empty: none"},
	{"smtp-password", "MARKETPLANE_SMTP_PASSWORD", "", "SMTP password"},
	{"test-clock", "MARKETPLANE_TEST_CLOCK", "false", "sandboxes: run on a test clock that the provider's staff set and advance (API /test-clock, marketplane clock); every action uses its date"},
	{"access-log", "MARKETPLANE_ACCESS_LOG", "true", "write one JSON line per HTTP request to stderr: time, method, route pattern, status, duration, bytes, request id, principal id"},
	{"metrics-addr", "MARKETPLANE_METRICS_ADDR", "", "serve /metrics on this address instead of the main one (e.g. 127.0.0.1:9090); empty: on the main address"},
	{"metrics-token", "MARKETPLANE_METRICS_TOKEN", "", "bearer token /metrics requires (Authorization: Bearer TOKEN); empty: none"},
	{"trusted-proxies", "MARKETPLANE_TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For gives a sign-in's client address; empty: the connection's address is the client's"},
}

func settingDefault(name string) string {
	for _, s := range settings {
		if s.flag == name {
			if v, ok := os.LookupEnv(s.env); ok {
				return v
			}
			return s.def
		}
	}
	panic("unknown setting " + name)
}

// bindConfig registers the settings named in which (all when empty) on fs.
func bindConfig(fs *flag.FlagSet, c *Config, which ...string) func() error {
	want := func(n string) bool {
		if len(which) == 0 {
			return true
		}
		for _, w := range which {
			if w == n {
				return true
			}
		}
		return false
	}
	strs := map[string]*string{}
	for _, s := range settings {
		if want(s.flag) {
			def := settingDefault(s.flag)
			if secretSettings[s.flag] {
				def = "" // read from the environment after parsing, never printed
			}
			if switchSettings[s.flag] {
				p := &def
				fs.Var(switchFlag{p}, s.flag, s.help+" ("+s.env+")")
				strs[s.flag] = p
				continue
			}
			strs[s.flag] = fs.String(s.flag, def, s.help+" ("+s.env+")")
		}
	}
	// Parsing happens after fs.Parse, so that env and flags share one path.
	return func() error {
		get := func(n string) (string, bool) {
			p, ok := strs[n]
			if !ok || *p == "" && secretSettings[n] {
				return settingDefault(n), true
			}
			return *p, true
		}
		var err error
		c.DB, _ = get("db")
		c.Addr, _ = get("addr")
		c.BaseURL, _ = get("base-url")
		c.LogFormat, _ = get("log-format")
		c.LogLevel, _ = get("log-level")
		w, _ := get("workers")
		if c.Workers, err = strconv.ParseBool(w); err != nil {
			return fmt.Errorf("--workers: %q is not true or false", w)
		}
		d, _ := get("task-retention-days")
		if c.TaskRetentionDays, err = strconv.Atoi(d); err != nil || c.TaskRetentionDays < 1 {
			return fmt.Errorf("--task-retention-days: %q is not a whole number of days ≥ 1", d)
		}
		p, _ := get("task-poll-interval")
		if c.TaskPollInterval, err = time.ParseDuration(p); err != nil || c.TaskPollInterval <= 0 {
			return fmt.Errorf("--task-poll-interval: %q is not a duration such as 1s", p)
		}
		rm, _ := get("task-rescue-margin")
		if c.TaskRescueMargin, err = time.ParseDuration(rm); err != nil || c.TaskRescueMargin <= 0 {
			return fmt.Errorf("--task-rescue-margin: %q is not a duration such as 1m", rm)
		}
		pd, _ := get("provisioning-deadline")
		if c.ProvisioningDeadline, err = time.ParseDuration(pd); err != nil || c.ProvisioningDeadline < time.Minute {
			return fmt.Errorf("--provisioning-deadline: %q is not a duration of a minute or more, such as 24h", pd)
		}
		s, _ := get("shutdown-timeout")
		if c.ShutdownTimeout, err = time.ParseDuration(s); err != nil || c.ShutdownTimeout <= 0 {
			return fmt.Errorf("--shutdown-timeout: %q is not a duration such as 30s", s)
		}
		m, _ := get("password-hash-memory")
		if c.PasswordHashMemory, err = strconv.Atoi(m); err != nil || c.PasswordHashMemory < 8 {
			return fmt.Errorf("--password-hash-memory: %q is not a number of KiB ≥ 8", m)
		}
		rl, _ := get("rate-limit")
		if c.RateLimit, err = strconv.ParseFloat(rl, 64); err != nil || c.RateLimit < 0 {
			return fmt.Errorf("--rate-limit: %q is not a number of requests per second ≥ 0", rl)
		}
		wp, _ := get("webhook-allow-private")
		if c.AllowPrivateWebhooks, err = strconv.ParseBool(wp); err != nil {
			return fmt.Errorf("--webhook-allow-private: %q is not true or false", wp)
		}
		b, _ := get("billing-shards")
		if c.BillingShards, err = strconv.Atoi(b); err != nil || c.BillingShards < 1 || c.BillingShards > 64 {
			return fmt.Errorf("--billing-shards: %q is not a number between 1 and 64", b)
		}
		if c.LogFormat != "text" && c.LogFormat != "json" {
			return fmt.Errorf("--log-format: %q is not text or json", c.LogFormat)
		}
		if _, err := parseLevel(c.LogLevel); err != nil {
			return err
		}
		tc, _ := get("test-clock")
		if c.TestClock, err = strconv.ParseBool(tc); err != nil {
			return fmt.Errorf("--test-clock: %q is not true or false", tc)
		}
		tp, _ := get("trusted-proxies")
		if c.TrustedProxies, err = parsePrefixes(tp); err != nil {
			return fmt.Errorf("--trusted-proxies: %w", err)
		}
		al, _ := get("access-log")
		if c.AccessLog, err = strconv.ParseBool(al); err != nil {
			return fmt.Errorf("--access-log: %q is not true or false", al)
		}
		c.MetricsAddr, _ = get("metrics-addr")
		c.MetricsToken, _ = get("metrics-token")
		c.StripeKey, _ = get("stripe-key")
		c.StripeAPIBase, _ = get("stripe-api-base")
		c.SMTP.Addr, _ = get("smtp-addr")
		c.SMTP.From, _ = get("smtp-from")
		c.SMTP.User, _ = get("smtp-user")
		c.SMTP.Password, _ = get("smtp-password")
		if c.BaseURL == "" {
			c.BaseURL = "http://" + c.Addr
		}
		return nil
	}
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(c Config, w *os.File) *slog.Logger {
	l, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: l}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parsePrefixes reads a comma-separated list of addresses (taken as a
// prefix of their full length) and CIDR prefixes.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR prefix such as 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
