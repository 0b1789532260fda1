package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// The billing benchmark's fixture: SCALE active subscriptions, ten to each
// of SCALE/10 customers, a hundred customers to each of SCALE/1000 L1
// resellers of the provider (three tiers), every subscription on its
// reseller's copy of one of four provider plans (billKind). Next billing
// dates are spread evenly over billDays days from billFirstDay, so that
// about one subscription in 30 is due on any of them; one in ten is
// metered and has a usage reading for every day of its current period up
// to billFirstDay.
const (
	// billSubsPerCustomer and billCustomersPerReseller shape the tree;
	// smaller scales shrink it proportionally (at least one of each).
	billSubsPerCustomer      = 10
	billCustomersPerReseller = 100
	// billDays is how many days the next billing dates are spread over.
	billDays = 30
	// billGroup is how many customers are built at once: one
	// CreateAccountsBulk call, then one BulkLoad transaction with their
	// subscriptions (about 50,000) and readings, all or nothing, so that
	// an interrupted build resumes at the group where it stopped and
	// memory stays flat whatever the scale.
	billGroup = 5000
	// billFloorBatch is how many rows one transaction of the floor
	// writes: a group's subscriptions.
	billFloorBatch = billGroup * billSubsPerCustomer
	// billFloorTable is the floor's scratch table, dropped after use.
	billFloorTable = "bench_billing_floor"
	// The provider's resource types and template of the fixture's plans.
	billDisk     = "bench-bill-disk"
	billVCPU     = "bench-bill-vcpu-hours"
	billTemplate = "bench-bill"
	// billMarkup is every reseller's markup on the provider's prices, in
	// percent.
	billMarkup = "20"
	// billCreditLimit is every customer's credit limit: 1,000,000.00.
	billCreditLimit = money.Micros(1_000_000 * 1_000_000)
)

// billFirstDay is the first billing day of a fresh fixture; each run
// bills the earliest day on which a subscription of the fixture is due, so
// a database billed on this day is billed on the next by the next run.
var billFirstDay = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)

// billKind is one of the provider's plans of the fixture.
type billKind int

const (
	// billMonthly: 20.00 a month in advance; disk 50 GB included, 0.50 a
	// GB above it, overuse 0.10 a GB.
	billMonthly billKind = iota
	// billAnnual: 200.00 a year in advance.
	billAnnual
	// billPAYG: pay as you go, vCPU hours (an additive counter) at 0.015.
	billPAYG
	// billArrears: 15.00 a month in arrears, disk as billMonthly.
	billArrears
	billKinds
)

var billPlanKeys = [billKinds]string{"bench-bill-monthly", "bench-bill-annual", "bench-bill-payg", "bench-bill-arrears"}

// billPlan is the provider's plan of kind k, to be created in owner's
// catalog in currency.
func billPlan(k billKind, owner int64, currency string) *catalog.Plan {
	period := func(d catalog.Duration, fee money.Micros) []catalog.Period {
		return []catalog.Period{{Key: d.String(), Duration: d, Recurring: catalog.Price{Amount: fee},
			Refund: catalog.Refund{After: catalog.RefundProrated}, RecurringPer: catalog.PerPeriod, Sort: 1}}
	}
	month := catalog.Duration{N: 1, Unit: catalog.Month}
	disk := catalog.Rate{Key: billDisk, Resource: billDisk, Included: 50, Max: catalog.Unlimited,
		Recurring: catalog.Price{Amount: 500_000}, Overuse: catalog.Price{Amount: 100_000},
		Measurable: true, Display: catalog.Spinner, Sort: 1}
	p := &catalog.Plan{OwnerID: owner, Key: billPlanKeys[k], Template: billTemplate, Currency: currency, Published: true}
	switch k {
	case billMonthly:
		p.Name, p.Billing = catalog.Text{"en": "Bench Cloud Monthly"}, catalog.ChargeInAdvance
		p.Periods, p.Rates = period(month, 20_000_000), []catalog.Rate{disk}
	case billAnnual:
		p.Name, p.Billing = catalog.Text{"en": "Bench Cloud Annual"}, catalog.ChargeInAdvance
		p.Periods = period(catalog.Duration{N: 1, Unit: catalog.Year}, 200_000_000)
	case billPAYG:
		p.Name, p.Billing = catalog.Text{"en": "Bench Cloud Pay-as-you-go"}, catalog.PayAsYouGo
		p.Periods = period(month, 0)
		p.Rates = []catalog.Rate{{Key: billVCPU, Resource: billVCPU, Included: 0, Max: catalog.Unlimited,
			Overuse: catalog.Price{Amount: 15_000}, Measurable: true, Display: catalog.Spinner, Sort: 1}}
	case billArrears:
		p.Name, p.Billing = catalog.Text{"en": "Bench Cloud in Arrears"}, catalog.ChargeInArrears
		p.Periods, p.Rates = period(month, 15_000_000), []catalog.Rate{disk}
	}
	return p
}

// billLayout is the shape of the fixture at a scale. Customer c (from 0)
// belongs to reseller c×resellers/customers, so that every reseller's
// customers are a contiguous range; customers get subs/customers
// subscriptions each, the first subs%customers one more.
type billLayout struct{ subs, customers, resellers int }

func newBillLayout(scale int) billLayout {
	return billLayout{subs: scale, customers: max(1, scale/billSubsPerCustomer),
		resellers: max(1, scale/(billSubsPerCustomer*billCustomersPerReseller))}
}

func (l billLayout) resellerOf(c int) int { return c * l.resellers / l.customers }

// customersOf is the range [lo, hi) of the customers of reseller r.
func (l billLayout) customersOf(r int) (lo, hi int) {
	ceil := func(a, b int) int { return (a + b - 1) / b }
	return ceil(r*l.customers, l.resellers), ceil((r+1)*l.customers, l.resellers)
}

func (l billLayout) subsOf(c int) int {
	n := l.subs / l.customers
	if c < l.subs%l.customers {
		n++
	}
	return n
}

// billCursor walks the subscriptions (c, j) of customers from c on, in
// the order they are written.
type billCursor struct {
	l    billLayout
	c, j int
}

func (k *billCursor) next() (c, j int) {
	c, j = k.c, k.j
	if k.j++; k.j == k.l.subsOf(k.c) {
		k.c, k.j = k.c+1, 0
	}
	return c, j
}

// billSub is subscription j of customer c as the fixture makes it.
type billSub struct {
	kind billKind
	// metered subscriptions have a usage reading for every day of their
	// current period before billFirstDay.
	metered bool
	period  string
	// from and to are the current period [from, to); to is the next
	// billing date.
	start, anchor, from, to time.Time
	resources               string
}

// billSubOf makes subscription j of customer c. Its period ends on day
// (11c + 7j) mod 30 after billFirstDay: for every j, each run of 30
// customers covers the 30 days once, so each day has 1/30 of the
// subscriptions of every kind. The customer's rank within its day
// (c/30) picks what differs among the subscriptions due on one day: the
// metered plan, the anchor, the disk limit.
func billSubOf(c, j int) billSub {
	rank := c / billDays
	var s billSub
	switch k := j % 10; {
	case k == 0 && rank%2 == 0:
		s.kind, s.metered = billPAYG, true
	case k == 0:
		s.kind, s.metered = billMonthly, true
	case k == 1:
		s.kind = billAnnual
	case k%3 == 2:
		s.kind = billArrears
	default:
		s.kind = billMonthly
	}
	s.to = billFirstDay.AddDate(0, 0, (11*c+7*j)%billDays)
	if s.kind == billAnnual {
		s.period, s.from = "1y", s.to.AddDate(-1, 0, 0)
		s.anchor = s.from.AddDate(-(rank % 3), 0, 0)
	} else {
		// Periods end on days 1 to 30 of billFirstDay's month and start a
		// month before; anchors go back to months of 30 days or more, so
		// that every anchor's day exists and its periods land on these.
		s.period, s.from = "1m", s.to.AddDate(0, -1, 0)
		s.anchor = s.from.AddDate(0, -[]int{0, 1, 2, 4}[rank%4], 0)
	}
	s.start = s.anchor
	switch s.kind {
	case billMonthly, billArrears:
		s.resources = fmt.Sprintf(`{%q:%d}`, billDisk, 50+10*(rank%3))
	default:
		s.resources = "{}"
	}
	return s
}

// readingDays is how many days of readings a metered subscription has:
// those of its period before billFirstDay.
func (s *billSub) readingDays() int {
	end := billFirstDay
	if s.to.Before(end) {
		end = s.to
	}
	return int(end.Sub(s.from) / (24 * time.Hour))
}

// billSubColumns are the columns of a subscription row, all of them.
var billSubColumns = []string{"id", "customer_id", "vendor_id", "plan_id", "period_key", "status", "status_reason",
	"start_at", "anchor_at", "period_start", "period_end", "next_billing_at", "auto_renew", "renew_days", "frozen_prices",
	"resources", "parameters", "pending_change", "connector", "tenant_id", "tenant_status", "attributes", "version",
	"created_at", "updated_at"}

func (s *billSub) row(id, customer, vendor, plan int64, now time.Time) []any {
	return []any{id, customer, vendor, plan, s.period, "active", "",
		s.start, s.anchor, s.from, s.to, s.to, "before_expiration", 0, false,
		s.resources, "{}", nil, "", "", "", "{}", int64(1),
		now, now}
}

var billUsageColumns = []string{"subscription_id", "resource", "value", "additive", "at", "collected_at"}

// reading is the reading of day d of the period of subscription id, the
// subscription of customer c: at noon UTC, the disk in use (40 to 80 GB,
// above the 50 included on most days) or the vCPU hours of the day.
func (s *billSub) reading(id int64, c, d int) []any {
	at := s.from.AddDate(0, 0, d).Add(12 * time.Hour)
	if s.kind == billPAYG {
		return []any{id, billVCPU, int64(24 * (1 + (c/billDays)%4)), true, at, at.Add(5 * time.Minute)}
	}
	return []any{id, billDisk, int64(40 + (7*c+13*d)%41), false, at, at.Add(5 * time.Minute)}
}

// billFixture is the built fixture.
type billFixture struct {
	layout    billLayout
	provider  int64
	resellers []*account.Account
	// copies are the resellers' copies of each plan, by reseller id.
	copies [billKinds]map[int64]int64
}

// billExt is the start of the external ids of the resellers at a scale.
func billExt(scale int) string { return fmt.Sprintf("bench-bill-%d-", scale) }

func billCustomerExt(c int) string { return fmt.Sprintf("c-%07d", c) }

// runBilling measures one day of the billing run (store.DB.BillDay) over
// SCALE active subscriptions, about SCALE/30 of them due, and, in the same
// run on the same engine, the floor: bulk-inserting SCALE rows of the
// subscriptions table's shape. floor_ratio = floor_s / total_s says how far
// the run is from the cheapest way the engine can write that many rows.
//
// The fixture is built once per database and scale, in bulk, and reused:
// each run bills the earliest day on which a subscription of the fixture
// is due (the first run billFirstDay, the next the day after …). BillDay
// bills every due subscription of the database, the fixture's or not; the
// run checks that it billed all of them without failure. Figures to
// compare come from databases of their own.
func runBilling(ctx context.Context, r *runner) error {
	setup := time.Now()
	f, err := r.buildBilling(ctx)
	if err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())
	r.log.Info("billing fixture ready", "subscriptions", f.layout.subs, "customers", f.layout.customers,
		"resellers", f.layout.resellers, "elapsed", time.Since(setup))

	day, err := r.billingDay(ctx, f)
	if err != nil {
		return err
	}
	due, err := r.countDue(ctx, day, nil)
	if err != nil {
		return err
	}
	own, err := r.countDue(ctx, day, f)
	if err != nil {
		return err
	}
	r.log.Info("bill", "day", day.Format(time.DateOnly), "due", due, "due of the fixture", own,
		"about", f.layout.subs/billDays)
	if own == 0 {
		return fmt.Errorf("bill %s: no subscription of the fixture is due", day.Format(time.DateOnly))
	}
	start := time.Now()
	res, err := r.db.BillDay(ctx, day)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("bill %s: %w", day.Format(time.DateOnly), err)
	}
	if n := len(res.Failures); n > 0 {
		first := res.Failures[0]
		what := fmt.Sprintf("subscription %d", first.SubscriptionID)
		if first.SubscriptionID == 0 {
			what = fmt.Sprintf("buyer %d", first.AccountID)
		}
		return fmt.Errorf("bill %s: %d failures; the first, %s: %w", day.Format(time.DateOnly), n, what, first.Err)
	}
	if res.Subscriptions != due {
		return fmt.Errorf("bill %s: %d subscriptions billed, %d were due", day.Format(time.DateOnly), res.Subscriptions, due)
	}
	r.log.Info("billed", "subscriptions", res.Subscriptions, "invoices", res.Invoices, "totals", res.Totals,
		"stages", len(res.Stages), "elapsed", elapsed)
	r.set("total_s", elapsed.Seconds()) // the billing day only, as the issue defines it
	r.set("subscriptions_per_s", float64(res.Subscriptions)/elapsed.Seconds())
	for _, st := range res.Stages {
		r.set(stageFigure(st.Name), st.Took.Seconds())
	}

	floor, err := r.billFloor(ctx, f.layout)
	if err != nil {
		return err
	}
	r.log.Info("floor", "rows", f.layout.subs, "elapsed", floor)
	r.set("floor_s", floor.Seconds())
	r.set("floor_ratio", floor.Seconds()/elapsed.Seconds())
	return nil
}

// stageFigure is the figure of a stage of the billing run: its name in
// lower case with anything but letters and digits as "_", then "_s"; a
// name that would take a figure of the benchmark's own is prefixed with
// "stage_".
func stageFigure(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	n := strings.Trim(b.String(), "_")
	switch n {
	case "", "total", "floor", "setup":
		n = strings.TrimSuffix("stage_"+n, "_")
	}
	return n + "_s"
}

// billingDay is the earliest next billing date of the fixture's active
// subscriptions: midnight UTC of the vendor's day, the day BillDay takes.
func (r *runner) billingDay(ctx context.Context, f *billFixture) (time.Time, error) {
	var next sql.NullString
	err := r.db.Read.QueryRowContext(ctx, `SELECT MIN(s.next_billing_at) FROM subscriptions s
		JOIN accounts a ON a.id = s.vendor_id
		WHERE a.parent_id = $1 AND a.external_id LIKE $2 AND s.status = 'active'`,
		f.provider, billExt(f.layout.subs)+"%").Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("billing day: %w", err)
	}
	if !next.Valid {
		return time.Time{}, fmt.Errorf("billing day: the fixture has no active subscription")
	}
	t, err := time.Parse(time.RFC3339Nano, next.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("billing day: %w", err)
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// countDue counts the subscriptions BillDay bills on day: of the whole
// database, or of fixture f's resellers.
func (r *runner) countDue(ctx context.Context, day time.Time, f *billFixture) (int, error) {
	q := `SELECT COUNT(*) FROM subscriptions s WHERE s.status IN ('active', 'suspended', 'graced')
		AND s.next_billing_at < $1 AND s.auto_renew <> 'off'`
	// The store's text form of times, which both engines compare with
	// their own.
	args := []any{day.AddDate(0, 0, 1).Format("2006-01-02T15:04:05.000000Z")}
	if f != nil {
		q += ` AND s.vendor_id IN (SELECT id FROM accounts WHERE parent_id = $2 AND external_id LIKE $3)`
		args = append(args, f.provider, billExt(f.layout.subs)+"%")
	}
	var n int
	if err := r.db.Read.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count due subscriptions: %w", err)
	}
	return n, nil
}

// billFloor times the floor: bulk-inserting as many rows as the fixture
// has subscriptions into a scratch table made like subscriptions (CREATE
// TABLE … AS SELECT: the same columns and types, no keys, no indexes, no
// constraints), with the same values the fixture wrote, through the same
// bulk path (COPY on PostgreSQL, multi-row INSERT on SQLite), in
// transactions of billFloorBatch rows like the fixture's. Without indexes
// on purpose: the floor is what writing that many rows costs the engine at
// the least; the indexes the billing run keeps up are part of its own
// cost, as is everything else it does beyond writing rows. Only the
// inserts are timed; the table is dropped afterwards.
func (r *runner) billFloor(ctx context.Context, l billLayout) (time.Duration, error) {
	drop := `DROP TABLE IF EXISTS ` + billFloorTable
	if _, err := r.db.Write.ExecContext(ctx, drop); err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	if _, err := r.db.Write.ExecContext(ctx, `CREATE TABLE `+billFloorTable+` AS SELECT * FROM subscriptions WHERE 1 = 0`); err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	defer r.db.Write.ExecContext(context.WithoutCancel(ctx), drop)
	now := r.db.Clock.Now().UTC().Truncate(time.Microsecond)
	cur := billCursor{l: l}
	p := r.phase("floor", "rows", l.subs)
	defer p.done()
	r.log.Info("floor", "rows", l.subs, "batch", billFloorBatch)
	start := time.Now()
	for done := 0; done < l.subs; {
		n := min(billFloorBatch, l.subs-done)
		err := r.db.BulkLoad(ctx, func(ld *store.Loader) error {
			return ld.Insert(ctx, billFloorTable, billSubColumns, n, func(i int) ([]any, error) {
				c, j := cur.next()
				s := billSubOf(c, j)
				return s.row(int64(done+i+1), int64(c+1), int64(l.resellerOf(c)+1), int64(s.kind)+1, now), nil
			})
		})
		if err != nil {
			return 0, fmt.Errorf("floor: %w", err)
		}
		done += n
		p.add(n)
	}
	return time.Since(start), nil
}

// buildBilling makes the fixture, or finds what an earlier run made and
// completes it.
func (r *runner) buildBilling(ctx context.Context) (*billFixture, error) {
	db := r.db
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	plans, err := ensureBillCatalog(ctx, db, prov)
	if err != nil {
		return nil, err
	}
	l := newBillLayout(r.scale)
	r.log.Info("billing fixture", "resellers", l.resellers, "customers", l.customers, "subscriptions", l.subs)
	resellers, err := ensureBillResellers(ctx, db, prov, r.scale, l.resellers)
	if err != nil {
		return nil, err
	}
	f := &billFixture{layout: l, provider: prov.ID, resellers: resellers}
	for k, p := range plans {
		if f.copies[k], err = ensureBillCopies(ctx, db, p, f.resellers); err != nil {
			return nil, err
		}
	}
	p := r.phase("building", "subscriptions", l.subs)
	defer p.done()
	per := max(1, billGroup*l.resellers/l.customers)
	for g := 0; g < l.resellers; g += per {
		if err := r.buildBillGroup(ctx, f, g, min(g+per, l.resellers), p); err != nil {
			return nil, err
		}
	}
	// PostgreSQL plans with the statistics autovacuum gathers after bulk
	// loads and busy days; a server that runs none (test servers turn it
	// off) plans the run's queries for empty tables, several times slower.
	// ANALYZE stands in for it, at every run since the last one changed
	// the tables. SQLite has no such daemon and the store runs no ANALYZE:
	// its planner works without statistics, as it does in production.
	if db.Engine == store.Postgres {
		if _, err := db.Write.ExecContext(ctx, `ANALYZE`); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}
	return f, nil
}

// ensureBillResellers returns the n resellers of the fixture at a scale,
// creating those that are missing in bulk. Unlike ensureResellers' they
// all keep the provider's currency (their time zones and countries vary):
// the provider invoices each for its share of every renewal in the
// plan's currency, and a buyer is billed in one currency.
func ensureBillResellers(ctx context.Context, db *store.DB, prov *account.Account, scale, n int) ([]*account.Account, error) {
	have, err := db.ChildrenByExternalID(ctx, prov.ID, account.Reseller)
	if err != nil {
		return nil, err
	}
	out := make([]*account.Account, n)
	var missing []*account.Account
	for i := range n {
		ext := fmt.Sprintf("%s%04d", billExt(scale), i+1)
		if a, ok := have[ext]; ok {
			out[i] = a
			continue
		}
		a := &account.Account{}
		fillAccount(a, account.Reseller, prov.ID, i, fmt.Sprintf("Bench Billing Reseller (%d) %04d", scale, i+1))
		a.ExternalID, a.Currency = ext, prov.Currency
		out[i] = a
		missing = append(missing, a)
	}
	for start := 0; start < len(missing); start += batchSize {
		if err := db.CreateAccountsBulk(ctx, missing[start:min(start+batchSize, len(missing))]); err != nil {
			return nil, fmt.Errorf("create resellers: %w", err)
		}
	}
	return out, nil
}

// ensureBillCatalog makes the provider's resource types, template and plans
// of the fixture where missing and returns the plans.
func ensureBillCatalog(ctx context.Context, db *store.DB, prov *account.Account) ([billKinds]*catalog.Plan, error) {
	var plans [billKinds]*catalog.Plan
	sys := account.SystemActor()
	exists := func(err error) error {
		if marketplane.ErrorCode(err) == marketplane.ECONFLICT {
			return nil
		}
		return err
	}
	for _, rt := range []catalog.ResourceType{
		{Key: billDisk, Name: catalog.Text{"en": "Disk"}, Unit: "GB", Class: catalog.ClassLimit, Category: "storage"},
		{Key: billVCPU, Name: catalog.Text{"en": "vCPU hours"}, Unit: "vCPU-hour", Class: catalog.ClassCounter, Category: "compute"},
	} {
		if err := exists(db.CreateResourceType(ctx, sys, &store.ResourceType{ResourceType: rt})); err != nil {
			return plans, fmt.Errorf("resource type %s: %w", rt.Key, err)
		}
	}
	tpl := catalog.Template{Key: billTemplate, Name: catalog.Text{"en": "Bench cloud"}, Resources: []catalog.TemplateResource{
		{Resource: billDisk, Limit: 50}, {Resource: billVCPU, Limit: catalog.Unlimited}}}
	if err := exists(db.CreateTemplate(ctx, sys, &store.Template{Template: tpl})); err != nil {
		return plans, fmt.Errorf("template %s: %w", tpl.Key, err)
	}
	for k := range billKinds {
		p, err := db.PlanByKey(ctx, sys, prov.ID, billPlanKeys[k])
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			p = billPlan(k, prov.ID, prov.Currency)
			err = db.CreatePlan(ctx, sys, p)
		}
		if err != nil {
			return plans, fmt.Errorf("plan %s: %w", billPlanKeys[k], err)
		}
		plans[k] = p
	}
	return plans, nil
}

// ensureBillCopies delegates plan to the resellers that have no copy of it
// yet, in batches (InsertCopies), with the fixture's markup and the
// resellers' currencies, and returns every reseller's copy id.
func ensureBillCopies(ctx context.Context, db *store.DB, plan *catalog.Plan, resellers []*account.Account) (map[int64]int64, error) {
	have := map[int64]int64{}
	for after := int64(0); ; {
		page, err := db.CopiesBatch(ctx, plan.ID, after, syncBatch)
		if err != nil {
			return nil, err
		}
		for _, cp := range page {
			have[cp.OwnerID] = cp.ID
		}
		if len(page) < syncBatch {
			break
		}
		after = page[len(page)-1].ID
	}
	var missing []*catalog.Plan
	for _, a := range resellers {
		if _, ok := have[a.ID]; ok {
			continue
		}
		opt, err := syncDelegation(billMarkup, plan.Currency, a.Currency)
		if err != nil {
			return nil, err
		}
		cp, err := delegation.Delegate(plan, a.ID, a.Currency, opt)
		if err != nil {
			return nil, fmt.Errorf("delegate %s to %s: %w", plan.Key, a.ExternalID, err)
		}
		missing = append(missing, cp)
	}
	for start := 0; start < len(missing); start += syncBatch {
		part := missing[start:min(start+syncBatch, len(missing))]
		if err := db.InsertCopies(ctx, account.SystemActor(), part, delegation.CheckPrices); err != nil {
			return nil, fmt.Errorf("delegate %s: %w", plan.Key, err)
		}
		for _, cp := range part {
			have[cp.OwnerID] = cp.ID
		}
	}
	return have, nil
}

// buildBillGroup makes the customers of resellers [rlo, rhi) where missing,
// then their subscriptions and readings in one transaction. A group whose
// subscriptions are all there is left as it is.
func (r *runner) buildBillGroup(ctx context.Context, f *billFixture, rlo, rhi int, p *progress) error {
	db, l := r.db, f.layout
	clo, _ := l.customersOf(rlo)
	_, chi := l.customersOf(rhi - 1)
	want := 0
	for c := clo; c < chi; c++ {
		want += l.subsOf(c)
	}
	marks := make([]string, 0, rhi-rlo)
	args := make([]any, 0, rhi-rlo)
	for _, a := range f.resellers[rlo:rhi] {
		args = append(args, a.ID)
		marks = append(marks, fmt.Sprintf("$%d", len(args)))
	}
	var have int
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE vendor_id IN (`+
		strings.Join(marks, ", ")+`)`, args...).Scan(&have); err != nil {
		return fmt.Errorf("subscriptions of resellers %d to %d: %w", rlo+1, rhi, err)
	}
	switch {
	case have == want:
		p.add(want)
		return nil
	case have != 0:
		return fmt.Errorf("resellers %s to %s have %d subscriptions, want %d: the fixture was changed; use a fresh database",
			f.resellers[rlo].ExternalID, f.resellers[rhi-1].ExternalID, have, want)
	}

	customers := make([]int64, chi-clo)
	var missing []*account.Account
	var at []int
	for ri := rlo; ri < rhi; ri++ {
		res := f.resellers[ri]
		kids, err := db.ChildrenByExternalID(ctx, res.ID, account.Customer)
		if err != nil {
			return err
		}
		lo, hi := l.customersOf(ri)
		for c := lo; c < hi; c++ {
			if a, ok := kids[billCustomerExt(c)]; ok {
				customers[c-clo] = a.ID
				continue
			}
			a := &account.Account{}
			fillAccount(a, account.Customer, res.ID, c, fmt.Sprintf("Bench Billing Customer %07d", c))
			// The reseller's invoices are in its currency, and a buyer is
			// billed in one currency. The credit limit covers anyone's
			// month of usage and fees many times, so that the run rates
			// every buyer's usage without suspending its pay-as-you-go
			// services: the day of a healthy book.
			a.ExternalID, a.Currency, a.CreditLimit = billCustomerExt(c), res.Currency, billCreditLimit
			missing = append(missing, a)
			at = append(at, c-clo)
		}
	}
	if err := db.CreateAccountsBulk(ctx, missing); err != nil {
		return fmt.Errorf("customers of resellers %d to %d: %w", rlo+1, rhi, err)
	}
	for k, a := range missing {
		customers[at[k]] = a.ID
	}

	// The metered subscriptions of the group, for their readings.
	type metered struct {
		id int64
		c  int
		s  billSub
	}
	var meters []metered
	err := db.BulkLoad(ctx, func(ld *store.Loader) error {
		ids, err := ld.ReserveIDs(ctx, "subscriptions", want)
		if err != nil {
			return err
		}
		now := db.Clock.Now().UTC().Truncate(time.Microsecond)
		cur := billCursor{l: l, c: clo}
		err = ld.Insert(ctx, "subscriptions", billSubColumns, want, func(i int) ([]any, error) {
			c, j := cur.next()
			s := billSubOf(c, j)
			if s.metered {
				meters = append(meters, metered{ids[i], c, s})
			}
			vendor := f.resellers[l.resellerOf(c)].ID
			return s.row(ids[i], customers[c-clo], vendor, f.copies[s.kind][vendor], now), nil
		})
		if err != nil {
			return err
		}
		readings := 0
		for _, m := range meters {
			readings += m.s.readingDays()
		}
		k, d := 0, 0
		return ld.Insert(ctx, "usage_records", billUsageColumns, readings, func(int) ([]any, error) {
			for d >= meters[k].s.readingDays() {
				k, d = k+1, 0
			}
			m := meters[k]
			d++
			return m.s.reading(m.id, m.c, d-1), nil
		})
	})
	if err != nil {
		return fmt.Errorf("subscriptions of resellers %d to %d: %w", rlo+1, rhi, err)
	}
	p.add(want)
	return nil
}
