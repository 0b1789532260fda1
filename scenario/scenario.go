// Package scenario reads the golden billing scenarios (testdata/*.yaml, the
// shared definition of correct money, kept byte for byte as the shared
// copies) and plays them. A scenario is a market (plans of the provider,
// or a tree of tiers delegating them), steps on dates (order, change,
// cancel, bill, usage, pay, topup, release, check) and the documents they
// must issue, to the cent.
//
// Parse reads a file strictly: an unknown field, a field a step's verb does
// not take, or a reference to a plan, period, resource or tier that does not
// exist is an error, so that nothing a scenario says is silently ignored.
// Market turns the plans into catalog plans (delegated down the tiers by the
// delegation package). Play is the pure player: it runs order, change and
// cancel steps through the order package, records usage readings, runs
// the billing package for each bill step's day (trials converting to their
// paid period included) and checks the subscription's period, and its
// state while no invoice is overdue. It keeps no ledger: in a case with
// pay, topup or release steps, or checks of accounts, invoices, funds or
// balances, it passes over them and stops at the first bill step, as it
// does at the end of a trial that converts to nothing. PlayOrders plays the orders only, up to
// the first bill step. Compare
// says, line by line and to the cent, where the documents it produced
// differ from the expected ones, within what it could play.
//
// Readings of the format that the files leave open:
//
//   - A document's type follows the sign of its total: credit_memo when
//     negative, invoice otherwise; a document whose lines are all zero is
//     not issued.
//   - Documents of tiered scenarios name their seller and buyer tier (from,
//     to); those of scenarios without tiers name neither (the provider sells
//     to the customer).
//   - A document's due date is its issue date plus the customer's net_days,
//     when the customer has payment terms.
//   - margins: a reseller's margin is the total of its invoices to its
//     children less the total of its parent's invoices to it, tax left out;
//     the expected margin must hold in every calendar month with documents.
//   - A case's mode is the vendor's setting for changes: prorate (the
//     default), next_billing_date (downgrades wait for the next billing
//     date) or none (no proration).
//   - A trial period's converts_to names, by its duration, the period the
//     trial turns into; it becomes the catalog period's converts_to (the
//     period's key, "1M" → "1m"), and billing converts the trial on its
//     end day.
//   - A check's period [start, end] is the subscription's current period
//     as billing keeps it, [PeriodStart, PeriodEnd): end is the first day
//     of the next period (08 checks [2027-06-15, 2027-07-15] for the month
//     from 15 June).
package scenario

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/govalues/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
)

// Scenario is one golden scenario file.
type Scenario struct {
	File     string          `yaml:"-"` // base name, "03-upgrade-mid-period.yaml"
	Name     string          `yaml:"name"`
	About    string          `yaml:"about"`
	Currency string          `yaml:"currency"`
	Vendor   *Vendor         `yaml:"vendor"`
	Customer *Customer       `yaml:"customer"`
	Plans    []Plan          `yaml:"plans"`
	Tiers    map[string]Tier `yaml:"tiers"`
	Steps    []Step          `yaml:"steps"`
	Expect   *Expect         `yaml:"expect"`
	// Cases are played each on a fresh market. A file with top-level steps
	// has one case made of them; Parse moves them here.
	Cases []Case `yaml:"cases"`
}

// Vendor is the selling account's tax setting.
type Vendor struct {
	Country string             `yaml:"country"`
	Tax     map[string]Decimal `yaml:"tax"` // rate in percent by customer country
}

// Customer is the buyer: where it is and its payment terms.
type Customer struct {
	Country string `yaml:"country"`
	VATID   string `yaml:"vat_id"`
	Terms   *Terms `yaml:"terms"`
}

// Terms are a customer's payment terms (played by billing).
type Terms struct {
	NetDays                 *int   `yaml:"net_days"`
	GraceDays               *int   `yaml:"grace_days"`
	ChargeAfterDays         *int   `yaml:"charge_after_days"`
	PaygSuspensionDelayDays *int   `yaml:"payg_suspension_delay_days"`
	Hold                    string `yaml:"hold"`    // automatic, manual
	OnHold                  string `yaml:"on_hold"` // block_orders, suspend_all, suspend_unpaid
}

// Plan is a plan as a scenario writes it.
type Plan struct {
	ID           string     `yaml:"id"`
	Model        string     `yaml:"model"` // advance (default), arrears, payg
	UpgradesTo   []string   `yaml:"upgrades_to"`
	DowngradesTo []string   `yaml:"downgrades_to"`
	Periods      []Period   `yaml:"periods"`
	Resources    []Resource `yaml:"resources"`
}

// Period is a subscription period: "1M", "12M", "14D", "1Y".
type Period struct {
	Duration           string   `yaml:"duration"`
	Setup              *Decimal `yaml:"setup"`
	Recurring          *Decimal `yaml:"recurring"`
	Trial              bool     `yaml:"trial"`
	ConvertsTo         string   `yaml:"converts_to"`
	RecurringPricesPer string   `yaml:"recurring_prices_per"` // month
	FullRefundDays     int      `yaml:"full_refund_days"`
	AfterRefund        string   `yaml:"after_refund"` // prorated, none
}

// Resource is a resource rate of a plan.
type Resource struct {
	ID         string   `yaml:"id"`
	Included   *int64   `yaml:"included"`
	Min        *int64   `yaml:"min"`
	Max        *int64   `yaml:"max"` // absent: unlimited
	Recurring  *Decimal `yaml:"recurring"`
	Overuse    *Decimal `yaml:"overuse"`
	Usage      *Decimal `yaml:"usage"` // price per unit on pay-as-you-go plans
	Kind       string   `yaml:"kind"`  // limit, additive
	Measurable bool     `yaml:"measurable"`
}

// Tier is one seller or buyer of a tiered scenario.
type Tier struct {
	Parent    string              `yaml:"parent"`
	Plans     []Plan              `yaml:"plans"`
	Delegates map[string]Delegate `yaml:"delegates"`
}

// Delegate says how a tier prices its copy of a parent's plan.
type Delegate struct {
	MarkupPercent *Decimal           `yaml:"markup_percent"`
	Fixed         map[string]Decimal `yaml:"fixed"` // recurring price by duration: {1M: "14.99"}
}

// Case is one play of the scenario on a fresh market.
type Case struct {
	Mode     string    `yaml:"mode"`
	Customer *Customer `yaml:"customer"`
	Steps    []Step    `yaml:"steps"`
	Expect   *Expect   `yaml:"expect"`
}

// Step is one action on a date. Which fields a step may carry depends on
// its verb (Do); see verbFields.
type Step struct {
	On          Date             `yaml:"on"`
	Do          string           `yaml:"do"`
	As          string           `yaml:"as"`
	Plan        string           `yaml:"plan"`
	Duration    string           `yaml:"duration"`
	Resources   map[string]int64 `yaml:"resources"`
	ConfirmZero bool             `yaml:"confirm_zero"`
	Pay         string           `yaml:"pay"`
	To          string           `yaml:"to"`
	Resource    string           `yaml:"resource"`
	Value       *Decimal         `yaml:"value"`
	Amount      *Decimal         `yaml:"amount"`
	Days        int              `yaml:"days"`
	Reason      string           `yaml:"reason"`
	// check
	Account          string   `yaml:"account"`
	Subscription     string   `yaml:"subscription"`
	Invoice          string   `yaml:"invoice"`
	Period           []Date   `yaml:"period"`
	PrepaidFunds     *Decimal `yaml:"prepaid_funds"`
	AvailableBalance *Decimal `yaml:"available_balance"`
}

// Expect is what a case must produce.
type Expect struct {
	// Documents in issue order; nil when the case names none (an explicit
	// empty list means no document at all).
	Documents []Document         `yaml:"documents"`
	Margins   map[string]Decimal `yaml:"margins"`
	Error     *ExpectedError     `yaml:"error"`
}

// ExpectedError is an order refused with a reason for a field.
type ExpectedError struct {
	Field  string `yaml:"field"`
	Reason string `yaml:"reason"`
}

// Document is an expected document.
type Document struct {
	On            Date     `yaml:"on"`
	Type          string   `yaml:"type"` // invoice, credit_memo, payment
	From          string   `yaml:"from"` // seller tier
	To            string   `yaml:"to"`   // buyer tier
	Due           Date     `yaml:"due"`
	ReverseCharge bool     `yaml:"reverse_charge"`
	Lines         []Line   `yaml:"lines"`
	Total         *Decimal `yaml:"total"`
}

// Line is an expected document line.
type Line struct {
	What     string   `yaml:"what"`
	Resource string   `yaml:"resource"`
	Quantity *Decimal `yaml:"quantity"`
	From     Date     `yaml:"from"`
	To       Date     `yaml:"to"`
	Amount   *Decimal `yaml:"amount"`
	Rate     *Decimal `yaml:"rate"` // tax rate in percent
}

// Date is a calendar day written 2027-01-15; the zero Date is absent.
type Date struct{ time.Time }

// UnmarshalYAML reads a date.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a date must be written 2027-01-15", n.Line)
	}
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a date written 2027-01-15", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// String is the date as written.
func (d Date) String() string {
	if d.IsZero() {
		return "-"
	}
	return d.Format(time.DateOnly)
}

// Decimal is an exact number as written: "5.00", 3, 23.5.
type Decimal struct {
	decimal.Decimal
	Text string
}

// UnmarshalYAML reads a number exactly (never through a float).
func (d *Decimal) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a number", n.Line)
	}
	v, err := decimal.Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a decimal number", n.Line, n.Value)
	}
	d.Decimal, d.Text = v, n.Value
	return nil
}

// Money is the number as an amount.
func (d *Decimal) Money() (money.Micros, error) {
	if d == nil {
		return 0, nil
	}
	return money.Parse(d.Text)
}

// Load reads every *.yaml file of dir, in name order.
func Load(dir string) ([]*Scenario, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Scenario
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		s, err := Parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		s.File = filepath.Base(name)
		out = append(out, s)
	}
	return out, nil
}

// Parse reads one scenario strictly and checks it (see the package doc).
func Parse(r io.Reader) (*Scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("a scenario file holds one YAML document")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Verbs of steps.
const (
	Order   = "order"
	Change  = "change"
	Cancel  = "cancel"
	Bill    = "bill"
	Usage   = "usage"
	Pay     = "pay"
	Topup   = "topup"
	Release = "release"
	Check   = "check"
)

// verbFields lists the fields each verb takes: required ones, then
// optional ones. "on" and "do" are always required.
var verbFields = map[string]struct{ required, optional []string }{
	Order:   {[]string{"plan", "duration"}, []string{"as", "resources", "confirm_zero", "pay"}},
	Change:  {nil, []string{"to", "resources"}},
	Cancel:  {nil, nil},
	Bill:    {nil, nil},
	Usage:   {[]string{"resource", "value"}, nil},
	Pay:     {[]string{"amount"}, nil},
	Topup:   {[]string{"amount"}, nil},
	Release: {[]string{"days"}, []string{"reason"}},
	Check:   {nil, []string{"account", "subscription", "invoice", "period", "prepaid_funds", "available_balance"}},
}

// Billing reports whether a verb belongs to the billing run rather than to
// orders.
func Billing(verb string) bool {
	return verb != Order && verb != Change && verb != Cancel
}

var (
	documentTypes = []string{"invoice", "credit_memo", "payment"}
	lineKinds     = []order.Kind{order.Setup, order.Recurring, order.ChangeCredit, order.ChangeCharge,
		order.Resource, order.Overuse, order.Usage, order.Refund, order.Tax}
	accountStates      = []string{"pending", "active", "credit_hold", "administrative_hold", "cancelled"}
	subscriptionStates = []string{"pending", "active", "suspended", "graced", "terminated"}
	invoiceStates      = []string{"open", "paid"}
	modes              = []string{"prorate", "next_billing_date", "none"}
)

type checker struct{ errs []string }

func (c *checker) add(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (s *Scenario) check() error {
	var c checker
	if s.Name == "" || s.About == "" {
		c.add("name and about are required")
	}
	if _, ok := money.MinorUnits(s.Currency); !ok {
		c.add("currency %q: not a known ISO 4217 code", s.Currency)
	}
	if (len(s.Plans) > 0) == (len(s.Tiers) > 0) {
		c.add("a scenario has either plans or tiers")
	}
	hasSteps := len(s.Steps) > 0 || s.Expect != nil
	if hasSteps == (len(s.Cases) > 0) {
		c.add("a scenario has either steps (with expect) or cases")
	}
	if hasSteps {
		s.Cases = []Case{{Steps: s.Steps, Expect: s.Expect}}
		s.Steps, s.Expect = nil, nil
	}
	s.checkCustomer(&c, "customer", s.Customer)
	if s.Vendor != nil {
		if s.Vendor.Country == "" {
			c.add("vendor.country is required")
		}
		for k, v := range s.Vendor.Tax {
			if v.Sign() < 0 || v.Cmp(decimal.MustNew(100, 0)) > 0 {
				c.add("vendor.tax.%s: %s is not a percentage", k, v.Text)
			}
		}
	}
	plans := s.sellers(&c)
	for i := range s.Cases {
		s.checkCase(&c, fmt.Sprintf("cases[%d]", i), &s.Cases[i], plans)
	}
	if len(c.errs) > 0 {
		return fmt.Errorf("%s", strings.Join(c.errs, "; "))
	}
	return nil
}

func (s *Scenario) checkCustomer(c *checker, at string, cu *Customer) {
	if cu == nil || cu.Terms == nil {
		return
	}
	t := cu.Terms
	for name, v := range map[string]*int{"net_days": t.NetDays, "grace_days": t.GraceDays,
		"charge_after_days": t.ChargeAfterDays, "payg_suspension_delay_days": t.PaygSuspensionDelayDays} {
		if v != nil && *v < 0 {
			c.add("%s.terms.%s: must not be negative", at, name)
		}
	}
	if t.Hold != "" && !slices.Contains([]string{"automatic", "manual"}, t.Hold) {
		c.add("%s.terms.hold: %q is not automatic or manual", at, t.Hold)
	}
	if t.OnHold != "" && !slices.Contains([]string{"block_orders", "suspend_all", "suspend_unpaid"}, t.OnHold) {
		c.add("%s.terms.on_hold: %q is not block_orders, suspend_all or suspend_unpaid", at, t.OnHold)
	}
}

// sellers checks the plans and tiers and returns the plans each tier sells
// (plan id → plan), keyed by tier name ("provider" without tiers).
func (s *Scenario) sellers(c *checker) map[string]map[string]*Plan {
	out := map[string]map[string]*Plan{}
	own := func(tier string, plans []Plan) {
		out[tier] = map[string]*Plan{}
		for i := range plans {
			p := &plans[i]
			checkPlan(c, tier, p)
			if out[tier][p.ID] != nil {
				c.add("%s: plan %q appears twice", tier, p.ID)
			}
			out[tier][p.ID] = p
		}
		for _, p := range plans {
			for _, k := range slices.Concat(p.UpgradesTo, p.DowngradesTo) {
				if out[tier][k] == nil || k == p.ID {
					c.add("%s: plan %q: no plan %q to change to", tier, p.ID, k)
				}
			}
		}
	}
	if len(s.Tiers) == 0 {
		own(Provider, s.Plans)
		return out
	}
	names, err := tierOrder(s.Tiers)
	if err != nil {
		c.add("tiers: %v", err)
		return out
	}
	for _, name := range names {
		t := s.Tiers[name]
		own(name, t.Plans)
		for key, d := range t.Delegates {
			src := out[t.Parent][key]
			if src == nil {
				c.add("tiers.%s.delegates.%s: %s sells no such plan", name, key, t.Parent)
				continue
			}
			if (d.MarkupPercent != nil) == (d.Fixed != nil) {
				c.add("tiers.%s.delegates.%s: give markup_percent or fixed", name, key)
			}
			for dur := range d.Fixed {
				if findPeriod(src, dur) == nil {
					c.add("tiers.%s.delegates.%s.fixed: plan has no period %s", name, key, dur)
				}
			}
			if out[name][key] != nil {
				c.add("tiers.%s: plan %q is both its own and delegated", name, key)
			}
			out[name][key] = src
		}
	}
	return out
}

// Provider is the name of the root seller of a scenario without tiers.
const Provider = "provider"

// Buyer is the name of the customer of a scenario without tiers.
const Buyer = "customer"

// tierOrder lists tiers from the root down; exactly one tier has no parent.
func tierOrder(tiers map[string]Tier) ([]string, error) {
	var out []string
	placed := map[string]bool{}
	for len(out) < len(tiers) {
		n := len(out)
		names := make([]string, 0, len(tiers))
		for name := range tiers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t := tiers[name]
			if placed[name] || (t.Parent != "" && !placed[t.Parent]) {
				continue
			}
			if t.Parent == "" && len(out) > 0 {
				return nil, fmt.Errorf("%s and %s both have no parent", out[0], name)
			}
			if t.Parent == "" && len(t.Delegates) > 0 {
				return nil, fmt.Errorf("%s delegates but has no parent", name)
			}
			out = append(out, name)
			placed[name] = true
		}
		if len(out) == n {
			return nil, fmt.Errorf("a parent is missing or the tiers form a cycle")
		}
	}
	if tiers[out[0]].Parent != "" {
		return nil, fmt.Errorf("no tier without a parent")
	}
	return out, nil
}

func checkPlan(c *checker, tier string, p *Plan) {
	at := fmt.Sprintf("%s: plan %q", tier, p.ID)
	if p.ID == "" {
		c.add("%s: a plan needs an id", tier)
	}
	if p.Model != "" && !slices.Contains([]string{"advance", "arrears", "payg"}, p.Model) {
		c.add("%s: model %q is not advance, arrears or payg", at, p.Model)
	}
	if len(p.Periods) == 0 {
		c.add("%s: no periods", at)
	}
	seen := map[string]bool{}
	for _, pe := range p.Periods {
		d, err := parseDuration(pe.Duration)
		if err != nil {
			c.add("%s: %v", at, err)
			continue
		}
		if seen[d.String()] {
			c.add("%s: period %s appears twice", at, pe.Duration)
		}
		seen[d.String()] = true
		if pe.Recurring == nil {
			c.add("%s: period %s has no recurring price", at, pe.Duration)
		}
		if pe.ConvertsTo != "" {
			if !pe.Trial {
				c.add("%s: period %s converts_to, but it is not a trial", at, pe.Duration)
			}
			if to := findPeriod(p, pe.ConvertsTo); to == nil || to.Trial {
				c.add("%s: period %s converts to %s, which is not a paid period of the plan", at, pe.Duration, pe.ConvertsTo)
			}
		}
		if pe.RecurringPricesPer != "" && pe.RecurringPricesPer != "month" {
			c.add("%s: recurring_prices_per %q is not month", at, pe.RecurringPricesPer)
		}
		if pe.AfterRefund != "" && pe.AfterRefund != "prorated" && pe.AfterRefund != "none" {
			c.add("%s: after_refund %q is not prorated or none", at, pe.AfterRefund)
		}
		if pe.FullRefundDays < 0 {
			c.add("%s: full_refund_days must not be negative", at)
		}
		for name, v := range map[string]*Decimal{"setup": pe.Setup, "recurring": pe.Recurring} {
			if _, err := v.Money(); err != nil {
				c.add("%s: period %s %s: %v", at, pe.Duration, name, err)
			}
		}
	}
	ids := map[string]bool{}
	for _, r := range p.Resources {
		if r.ID == "" || ids[r.ID] {
			c.add("%s: resource %q is unnamed or appears twice", at, r.ID)
		}
		ids[r.ID] = true
		switch r.Kind {
		case "limit":
			if r.Usage != nil {
				c.add("%s: resource %q: a limit is charged for overuse, not usage", at, r.ID)
			}
		case "additive":
			if r.Overuse != nil {
				c.add("%s: resource %q: an additive counter is charged for usage, not overuse", at, r.ID)
			}
		default:
			c.add("%s: resource %q: kind %q is not limit or additive", at, r.ID, r.Kind)
		}
		for name, v := range map[string]*Decimal{"recurring": r.Recurring, "overuse": r.Overuse, "usage": r.Usage} {
			if _, err := v.Money(); err != nil {
				c.add("%s: resource %q %s: %v", at, r.ID, name, err)
			}
		}
	}
}

// findPeriod returns the plan's period of a duration such as "1M".
func findPeriod(p *Plan, duration string) *Period {
	want, err := parseDuration(duration)
	if err != nil {
		return nil
	}
	for i := range p.Periods {
		if d, err := parseDuration(p.Periods[i].Duration); err == nil && d == want {
			return &p.Periods[i]
		}
	}
	return nil
}

func (s *Scenario) checkCase(c *checker, at string, k *Case, plans map[string]map[string]*Plan) {
	if k.Mode != "" && !slices.Contains(modes, k.Mode) {
		c.add("%s.mode: %q is not one of %v", at, k.Mode, modes)
	}
	s.checkCustomer(c, at+".customer", k.Customer)
	if len(k.Steps) == 0 {
		c.add("%s: no steps", at)
	}
	var last time.Time
	var plan *Plan  // the plan ordered or changed to last
	var sold string // the seller of the last order
	for i := range k.Steps {
		st := &k.Steps[i]
		sat := fmt.Sprintf("%s.steps[%d]", at, i)
		if st.On.IsZero() {
			c.add("%s: on is required", sat)
		} else if st.On.Before(last) {
			c.add("%s: %s comes before the step above it; steps are in date order", sat, st.On)
		}
		last = st.On.Time
		fields, ok := verbFields[st.Do]
		if !ok {
			c.add("%s: do %q is not a step verb", sat, st.Do)
			continue
		}
		set := setFields(st)
		for _, f := range fields.required {
			if !slices.Contains(set, f) {
				c.add("%s: %s needs %s", sat, st.Do, f)
			}
		}
		for _, f := range set {
			if f != "on" && f != "do" && !slices.Contains(fields.required, f) && !slices.Contains(fields.optional, f) {
				c.add("%s: %s takes no %s", sat, st.Do, f)
			}
		}
		seller := Provider
		if len(s.Tiers) > 0 && st.Do == Order {
			t, ok := s.Tiers[st.As]
			if !ok || t.Parent == "" {
				c.add("%s: as %q is not a tier with a parent", sat, st.As)
				continue
			}
			seller = t.Parent
		} else if st.As != "" && len(s.Tiers) == 0 {
			c.add("%s: as needs tiers", sat)
		}
		switch st.Do {
		case Order:
			plan, sold = plans[seller][st.Plan], seller
			if plan == nil {
				c.add("%s: %s sells no plan %q", sat, seller, st.Plan)
				continue
			}
			if findPeriod(plan, st.Duration) == nil {
				c.add("%s: plan %q has no period %s", sat, st.Plan, st.Duration)
			}
			if st.Pay != "" && st.Pay != "on_terms" {
				c.add("%s: pay %q is not on_terms", sat, st.Pay)
			}
		case Change:
			if st.To == "" && len(st.Resources) == 0 {
				c.add("%s: a change needs to or resources", sat)
			}
			// Whether the change is allowed is the order package's call
			// (a scenario may expect it refused); the plan must exist.
			if plan == nil {
				c.add("%s: no order to change", sat)
			} else if st.To != "" {
				if plan = plans[sold][st.To]; plan == nil {
					c.add("%s: %s sells no plan %q", sat, sold, st.To)
				}
			}
		case Usage:
			if plan == nil || !slices.ContainsFunc(plan.Resources, func(r Resource) bool { return r.ID == st.Resource }) {
				c.add("%s: no resource %q ordered", sat, st.Resource)
			}
		case Check:
			if len(set) == 2 {
				c.add("%s: a check needs something to check", sat)
			}
			for _, v := range []struct {
				name, value string
				allowed     []string
			}{
				{"account", st.Account, accountStates}, {"subscription", st.Subscription, subscriptionStates}, {"invoice", st.Invoice, invoiceStates}} {
				if v.value != "" && !slices.Contains(v.allowed, v.value) {
					c.add("%s: %s %q is not one of %v", sat, v.name, v.value, v.allowed)
				}
			}
			if st.Period != nil && (len(st.Period) != 2 || !st.Period[0].Before(st.Period[1].Time)) {
				c.add("%s: period must be [start, end] with start before end", sat)
			}
		}
		for name, v := range map[string]*Decimal{"amount": st.Amount, "prepaid_funds": st.PrepaidFunds, "available_balance": st.AvailableBalance} {
			if _, err := v.Money(); err != nil {
				c.add("%s: %s: %v", sat, name, err)
			}
		}
	}
	if k.Expect == nil {
		return
	}
	if k.Expect.Error != nil && (k.Expect.Error.Field == "" || k.Expect.Error.Reason == "") {
		c.add("%s.expect.error: field and reason are required", at)
	}
	for name := range k.Expect.Margins {
		if t, ok := s.Tiers[name]; !ok || t.Parent == "" {
			c.add("%s.expect.margins: %q is not a reseller tier", at, name)
		}
	}
	for i, d := range k.Expect.Documents {
		dat := fmt.Sprintf("%s.expect.documents[%d]", at, i)
		if d.On.IsZero() || !slices.Contains(documentTypes, d.Type) || d.Total == nil {
			c.add("%s: on, a type (%v) and total are required", dat, documentTypes)
		}
		if _, err := d.Total.Money(); err != nil {
			c.add("%s: total: %v", dat, err)
		}
		if len(s.Tiers) > 0 {
			if _, ok := s.Tiers[d.From]; !ok {
				c.add("%s: from %q is not a tier", dat, d.From)
			}
			if t, ok := s.Tiers[d.To]; !ok || t.Parent != d.From {
				c.add("%s: to %q is not a tier below %q", dat, d.To, d.From)
			}
		} else if d.From != "" || d.To != "" {
			c.add("%s: from and to name tiers, and there are none", dat)
		}
		if d.Type == "payment" && len(d.Lines) > 0 {
			c.add("%s: a payment has no lines", dat)
		}
		for j, l := range d.Lines {
			lat := fmt.Sprintf("%s.lines[%d]", dat, j)
			if !slices.Contains(lineKinds, order.Kind(l.What)) {
				c.add("%s: what %q is not one of %v", lat, l.What, lineKinds)
			}
			if l.Amount == nil {
				c.add("%s: amount is required", lat)
			} else if _, err := l.Amount.Money(); err != nil {
				c.add("%s: amount: %v", lat, err)
			}
			if (l.Rate != nil) != (l.What == string(order.Tax)) {
				c.add("%s: a rate goes with tax lines, and only there", lat)
			}
			if l.From.IsZero() != l.To.IsZero() || (!l.From.IsZero() && !l.From.Before(l.To.Time)) {
				c.add("%s: from and to go together, from first", lat)
			}
		}
	}
}

// setFields lists the YAML names of the fields a step sets.
func setFields(st *Step) []string {
	var out []string
	v := reflect.ValueOf(st).Elem()
	for i := range v.NumField() {
		if !v.Field(i).IsZero() {
			out = append(out, strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0])
		}
	}
	return out
}
