package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/subscription"
)

// yearDoc is a document that bills (an invoice or a credit memo), read
// straight from the table.
type yearDoc struct {
	id, vendor, account, sub, order int64
	typ, on, currency               string
	total                           money.Micros
	lines                           []order.Line
	// renewal marks the documents of a period the billing run renewed
	// (an RN order's; none before renewals were orders).
	renewal bool
}

// docKey is what a customer's document and its tiers' share: the same
// subscription, day, order (0 for a renewal) and type.
type docKey struct {
	sub, order int64
	on, typ    string
}

// edge is a sale from seller to buyer.
type edge struct{ seller, buyer int64 }

// checkYear checks the ledger of a simulated year (see TestYearOfBilling).
func checkYear(t *testing.T, y *year) {
	docs := yearDocs(t, y)
	checkRenewals(t, y, docs)
	checkOrderDocuments(t, y, docs)
	checkTiers(t, y, docs)
	checkRenewalPrices(t, y, docs)
	checkResellers(t, y)
	checkLedger(t, y)
}

// sqlInt is a query's one integer.
func sqlInt(t *testing.T, y *year, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := y.db.Read.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sqlPairs is a query of (id, integer) rows as a map.
func sqlPairs(t *testing.T, y *year, q string, args ...any) map[int64]int64 {
	t.Helper()
	rows, err := y.db.Read.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var k, v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func yearDocs(t *testing.T, y *year) []*yearDoc {
	t.Helper()
	// issued_on as text is only a key here (its form differs between the
	// engines, and on PostgreSQL with the session's time zone).
	rows, err := y.db.Read.QueryContext(context.Background(), `SELECT d.id, d.vendor_id, d.account_id,
		COALESCE(d.subscription_id, 0), COALESCE(d.order_id, 0), d.type, CAST(d.issued_on AS TEXT), d.currency, d.total, d.body,
		CASE WHEN o.type = 'RN' OR d.order_id IS NULL THEN 1 ELSE 0 END
		FROM documents d LEFT JOIN orders o ON o.id = d.order_id
		WHERE d.type IN ('invoice', 'credit_memo') AND d.status <> 'void' ORDER BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*yearDoc
	for rows.Next() {
		d := &yearDoc{}
		var body string
		var renewal int
		if err := rows.Scan(&d.id, &d.vendor, &d.account, &d.sub, &d.order, &d.typ, &d.on, &d.currency, &d.total, &body, &renewal); err != nil {
			t.Fatal(err)
		}
		var b struct {
			Lines []order.Line `json:"lines"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatalf("document %d: %v", d.id, err)
		}
		d.lines, d.renewal = b.Lines, renewal == 1
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRenewals: a monthly subscription ordered on day D of January
// renews on day D of February to December, 11 invoices to its customer; a
// yearly one renews in 2028. Each ends the year in its period up to day D
// of January 2028, but the one cancelled, which is terminated.
func checkRenewals(t *testing.T, y *year, docs []*yearDoc) {
	t.Helper()
	renewals := map[int64]int64{}
	for _, d := range docs {
		if d.renewal && d.typ == "invoice" && y.accounts[d.account].kind == account.Customer {
			renewals[d.sub]++
		}
	}
	monthly := 0
	for _, s := range y.subs {
		want := int64(0)
		if s.period == "1m" {
			want, monthly = 11, monthly+1
		}
		if got := renewals[s.id]; got != want {
			t.Errorf("subscription %d (%s %s from %s, customer %d): %d renewal invoices, want %d",
				s.id, s.key, s.period, s.ordered.Format(time.DateOnly), s.customer.id, got, want)
		}
		sub, err := y.db.Subscription(context.Background(), y.sys, s.id)
		if err != nil {
			t.Errorf("subscription %d: %v", s.id, err)
			continue
		}
		if s.cancelled {
			if sub.Status != subscription.Terminated {
				t.Errorf("subscription %d, cancelled in July: %s", s.id, sub.Status)
			}
			continue
		}
		end := time.Date(2028, time.January, s.ordered.Day(), 0, 0, 0, 0, time.UTC)
		if sub.Status != subscription.Active || !dayOf(sub.PeriodEnd).Equal(end) || !dayOf(sub.NextBillingAt).Equal(end) {
			t.Errorf("subscription %d (%s %s from %s): %s, period [%s, %s), next billing %s; want active to %s",
				s.id, s.key, s.period, s.ordered.Format(time.DateOnly), sub.Status, sub.PeriodStart.Format(time.DateOnly),
				sub.PeriodEnd.Format(time.DateOnly), sub.NextBillingAt.Format(time.DateOnly), end.Format(time.DateOnly))
		}
	}
	if monthly < 50 {
		t.Errorf("only %d monthly subscriptions in the sample", monthly)
	}
	kinds := map[order.Kind]int{}
	for _, d := range docs {
		if d.renewal && d.typ == "invoice" {
			for _, l := range d.lines {
				kinds[l.What]++
			}
		}
	}
	if kinds[order.Usage] == 0 || kinds[order.Overuse] == 0 {
		t.Errorf("the renewals charge no pay-as-you-go usage or no overuse: lines %v", kinds)
	}
}

// checkOrderDocuments: each completed order whose customer's quote has a
// line to issue has one document of its customer's; the cancellation's
// is a credit memo.
func checkOrderDocuments(t *testing.T, y *year, docs []*yearDoc) {
	t.Helper()
	byOrder := map[int64][]*yearDoc{}
	for _, d := range docs {
		if d.order != 0 && y.accounts[d.account].kind == account.Customer {
			byOrder[d.order] = append(byOrder[d.order], d)
		}
	}
	for id, issues := range y.orders {
		want := 0
		if issues {
			want = 1
		}
		if got := len(byOrder[id]); got != want {
			t.Errorf("order %d: %d documents of its customer's, want %d", id, got, want)
		}
	}
	memos := sqlInt(t, y, `SELECT COUNT(*) FROM documents d JOIN accounts a ON a.id = d.account_id
		JOIN orders o ON o.id = d.order_id WHERE a.kind = 'customer' AND d.type = 'credit_memo' AND o.type = 'CL'`)
	if memos != 1 {
		t.Errorf("%d credit memos to customers for orders, want 1 (the cancellation's)", memos)
	}
}

// checkTiers: every document a customer got for a subscription has one
// document of the same subscription, day, order and type on every sale up
// its vendor's chain to the provider, and no tier has a document of its
// own; sellers bill in their own currency. Within one currency each
// tier's total is at least the total of the tier above (its cost) and at
// most that total with half as much again as its markup.
func checkTiers(t *testing.T, y *year, docs []*yearDoc) {
	t.Helper()
	got := map[docKey]map[edge][]*yearDoc{}
	for _, d := range docs {
		if d.sub == 0 {
			continue
		}
		k := docKey{d.sub, d.order, d.on, d.typ}
		if got[k] == nil {
			got[k] = map[edge][]*yearDoc{}
		}
		e := edge{d.vendor, d.account}
		got[k][e] = append(got[k][e], d)
	}
	failed, customers, tiers := 0, 0, 0
	missing := map[string]int{}
	fail := func(format string, args ...any) {
		if failed++; failed <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, d := range docs {
		// Sellers price in their own currency (the demo's copies are in
		// their owner's): a reseller selling in EUR buys in USD.
		if d.currency != y.accounts[d.vendor].currency {
			fail("document %d from %d to %d is in %s; %d sells in %s", d.id, d.vendor, d.account, d.currency, d.vendor, y.accounts[d.vendor].currency)
		}
	}
	for k, sales := range got {
		var cust *yearDoc
		for e, ds := range sales {
			if y.accounts[e.buyer].kind == account.Customer {
				if len(ds) != 1 || cust != nil {
					fail("subscription %d, %s %s of order %d: %d documents to customers", k.sub, k.on, k.typ, k.order, len(ds))
				}
				cust = ds[0]
			}
		}
		if cust == nil {
			for e := range sales {
				fail("subscription %d, %s %s of order %d: %d bills %d, and the customer has no such document",
					k.sub, k.on, k.typ, k.order, e.seller, e.buyer)
			}
			continue
		}
		customers++
		want := map[edge]bool{}
		below := cust
		for buyer := y.accounts[cust.vendor]; buyer.parent != 0; buyer = y.accounts[buyer.parent] {
			e := edge{buyer.parent, buyer.id}
			want[e] = true
			ds := sales[e]
			if len(ds) != 1 {
				what := "order"
				if cust.renewal {
					what = "renewal"
				}
				missing[fmt.Sprintf("%s %s, %d from %s (%s) to %s (%s)", what, k.typ, len(ds),
					y.accounts[e.seller].tier(), y.accounts[e.seller].zone, buyer.tier(), buyer.zone)]++
				fail("subscription %d, %s %s of order %d (customer %d, %s %s): %d documents from %d to %d, want 1",
					k.sub, k.on, k.typ, k.order, cust.account, cust.currency, cust.total, len(ds), e.seller, e.buyer)
				break
			}
			above := ds[0]
			tiers++
			if above.currency == below.currency {
				// The seller of below sells at its markup over above: never
				// below it, and not beyond half as much again (the copies'
				// prices are rounded: 0.007 an hour with 10 % is 0.008),
				// which catches a tier billed at another tier's prices.
				// Not at least the markup: the demo's copies round some
				// unit prices to what their source costs (0.01 with 10 %
				// is 0.01).
				m := markup[y.accounts[below.vendor].level]
				a, b := abs(above.total), abs(below.total)
				slack := money.Micros(10_000) * money.Micros(len(below.lines)+1) // a cent a line
				if b < a || b > a*money.Micros(200+3*m)/200+slack {
					fail("subscription %d, %s %s of order %d: %d sells to %d for %s what it bought from %d for %s; its markup is %d%%%s",
						k.sub, k.on, k.typ, k.order, below.vendor, below.account, below.total, above.vendor, above.total, m, lineDiff(above, below))
				}
			}
			below = above
		}
		for e, ds := range sales {
			if !want[e] && y.accounts[e.buyer].kind != account.Customer {
				fail("subscription %d, %s %s of order %d: %d documents from %d to %d, which is not on the chain",
					k.sub, k.on, k.typ, k.order, len(ds), e.seller, e.buyer)
			}
		}
	}
	if failed > 20 {
		t.Errorf("… %d tier mismatches in all", failed)
	}
	if len(missing) > 0 {
		var lines []string
		for m, n := range missing {
			lines = append(lines, fmt.Sprintf("\n\t%4d × %s", n, m))
		}
		slices.Sort(lines)
		t.Errorf("customers' documents without their tier's, by kind, documents found and tier:%s", strings.Join(lines, ""))
	}
	t.Logf("%d documents to customers, %d tier documents matched", customers, tiers)
}

// lineDiff shows the lines of a tier's document beside the lines of the
// tier below's, for a failure.
func lineDiff(above, below *yearDoc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n\t\t%-46s | %s", fmt.Sprintf("%d bought", below.vendor), fmt.Sprintf("%d sold", below.vendor))
	for i := range max(len(above.lines), len(below.lines)) {
		var a, l order.Line
		if i < len(above.lines) {
			a = above.lines[i]
		}
		if i < len(below.lines) {
			l = below.lines[i]
		}
		fmt.Fprintf(&b, "\n\t\t%-8s %-16s %8s %10s | %-8s %-16s %8s %10s", a.What, a.Resource, a.Quantity, a.Amount,
			l.What, l.Resource, l.Quantity, l.Amount)
	}
	return b.String()
}

// checkRenewalPrices: every line of a monthly renewal's document, at
// every tier, is its quantity at the seller's own price in the plan of
// the renewal's order (the vendor's) or of its tier (the seller's): the
// period's fee, the units above the included amount at the rate's fee, the
// usage at the rate's overuse price.
func checkRenewalPrices(t *testing.T, y *year, docs []*yearDoc) {
	t.Helper()
	ctx := context.Background()
	planOf := map[int64]int64{}
	rows, err := y.db.Read.QueryContext(ctx, `SELECT d.id, COALESCE(ot.plan_id, o.plan_id) FROM documents d
		JOIN orders o ON o.id = d.order_id LEFT JOIN order_tiers ot ON ot.order_id = o.id AND ot.seller_id = d.vendor_id
		WHERE o.type = 'RN'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, plan int64
		if err := rows.Scan(&id, &plan); err != nil {
			t.Fatal(err)
		}
		planOf[id] = plan
	}
	rows.Close()
	monthly := map[int64]bool{}
	for _, s := range y.subs {
		monthly[s.id] = s.period == "1m"
	}
	plans := map[int64]*catalog.Plan{}
	failed, checked := 0, 0
	for _, d := range docs {
		if !d.renewal || !monthly[d.sub] {
			continue
		}
		id, ok := planOf[d.id]
		if !ok {
			if failed++; failed <= 10 {
				t.Errorf("renewal document %d (subscription %d) has no plan of its seller in its order", d.id, d.sub)
			}
			continue
		}
		p, ok := plans[id]
		if !ok {
			if p, err = y.db.Plan(ctx, y.sys, id); err != nil {
				t.Fatal(err)
			}
			plans[id] = p
		}
		if p.OwnerID != d.vendor {
			if failed++; failed <= 10 {
				t.Errorf("renewal document %d from %d is priced by plan %d of %d", d.id, d.vendor, p.ID, p.OwnerID)
			}
			continue
		}
		period, _ := p.Period("1m")
		for _, l := range d.lines {
			var want money.Micros
			var err error
			rate, _ := p.Rate(l.Resource)
			switch {
			case l.What == order.Recurring && period != nil:
				// One period's fee, rounded to the currency's unit as
				// every line is (a copy's price may be finer).
				want, err = order.Rated(period.Recurring.Amount, decimal.One, d.currency)
			case l.What == order.Resource && rate != nil:
				want, err = order.Rated(rate.Recurring.Amount, l.Quantity, d.currency)
			case (l.What == order.Usage || l.What == order.Overuse) && rate != nil:
				want, err = order.Rated(rate.Overuse.Amount, l.Quantity, d.currency)
			default:
				want, err = 0, fmt.Errorf("a %s line of %q, unlike a renewal's", l.What, l.Resource)
			}
			checked++
			if err != nil || l.Amount != want {
				if failed++; failed <= 10 {
					t.Errorf("renewal document %d from %d to %d (subscription %d, plan %s): %s line %q of quantity %s is %s, want %s at the plan's price (%v)",
						d.id, d.vendor, d.account, d.sub, p.Key, l.What, l.Resource, l.Quantity, l.Amount, want, err)
				}
			}
		}
	}
	if failed > 10 {
		t.Errorf("… %d renewal lines not at their plan's prices", failed)
	}
	if checked == 0 {
		t.Errorf("no renewal line to check")
	}
	t.Logf("%d lines of monthly renewals at their seller's prices", checked)
}

func abs(m money.Micros) money.Micros {
	if m < 0 {
		return -m
	}
	return m
}

// byCurrency are sums by currency.
type byCurrency map[string]money.Micros

func (b byCurrency) String() string { return fmt.Sprint(map[string]money.Micros(b)) }

func sameSums(a, b byCurrency) bool {
	for c, v := range a {
		if b[c] != v {
			return false
		}
	}
	for c, v := range b {
		if a[c] != v {
			return false
		}
	}
	return true
}

// sums is a query of (currency, sum) rows.
func sums(t *testing.T, y *year, q string, args ...any) byCurrency {
	t.Helper()
	rows, err := y.db.Read.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := byCurrency{}
	for rows.Next() {
		var c string
		var v int64
		if err := rows.Scan(&c, &v); err != nil {
			t.Fatal(err)
		}
		if v != 0 {
			out[c] = money.Micros(v)
		}
	}
	return out
}

// checkResellers: for every reseller R, its revenue (the invoices less
// the credit memos it issued) is what its children got from it, its cost
// what its parent issued to it, and the reports say the same; the
// provider's revenue is what the L1 resellers bought.
func checkResellers(t *testing.T, y *year) {
	t.Helper()
	ctx := context.Background()
	const billed = `d.type IN ('invoice', 'credit_memo') AND d.status <> 'void'`
	sold := func(id int64) byCurrency {
		return sums(t, y, `SELECT d.currency, CAST(SUM(d.total) AS BIGINT) FROM documents d
			WHERE d.vendor_id = $1 AND `+billed+` GROUP BY d.currency`, id)
	}
	bought := func(id int64) byCurrency {
		return sums(t, y, `SELECT d.currency, CAST(SUM(d.total) AS BIGINT) FROM documents d
			WHERE d.account_id = $1 AND `+billed+` GROUP BY d.currency`, id)
	}
	l1Costs := byCurrency{}
	var provider int64
	for _, r := range y.accounts {
		if r.kind == account.Provider {
			provider = r.id
		}
		if r.kind != account.Reseller {
			continue
		}
		revenue := sold(r.id)
		children := sums(t, y, `SELECT d.currency, CAST(SUM(d.total) AS BIGINT) FROM accounts c
			JOIN documents d ON d.account_id = c.id AND d.vendor_id = $1
			WHERE c.parent_id = $1 AND `+billed+` GROUP BY d.currency`, r.id)
		cost := bought(r.id)
		fromParent := sums(t, y, `SELECT d.currency, CAST(SUM(d.total) AS BIGINT) FROM documents d
			WHERE d.account_id = $1 AND d.vendor_id = $2 AND `+billed+` GROUP BY d.currency`, r.id, r.parent)
		if len(revenue) == 0 || len(cost) == 0 {
			t.Errorf("reseller %d (%s): revenue %v, cost %v: every reseller sells to customers of the sample and buys what it sells",
				r.id, r.name, revenue, cost)
		}
		if !sameSums(revenue, children) {
			t.Errorf("reseller %d (%s): issued %v, its children received %v", r.id, r.name, revenue, children)
		}
		if !sameSums(cost, fromParent) {
			t.Errorf("reseller %d (%s): received %v, %v of it from its parent %d", r.id, r.name, cost, fromParent, r.parent)
		}
		if r.level == 1 {
			for c, v := range cost {
				l1Costs[c] += v
			}
		}
		if revenue[r.currency] < cost[r.currency] {
			t.Errorf("reseller %d (%s): revenue %v below its cost %v", r.id, r.name, revenue, cost)
		}

		rows, err := y.db.Revenue(ctx, y.sys, r.id, yearStart, yearEnd)
		if err != nil {
			t.Fatal(err)
		}
		repRevenue, repCost := byCurrency{}, byCurrency{}
		for _, row := range rows {
			repRevenue[row.Currency] += row.Revenue
			repCost[row.Currency] += row.Cost
			if row.Margin != row.Revenue-row.Cost {
				t.Errorf("reseller %d, %s %s: margin %s of revenue %s and cost %s", r.id, row.Month.Format("2006-01"), row.Currency, row.Margin, row.Revenue, row.Cost)
			}
		}
		drop0(repRevenue)
		drop0(repCost)
		if !sameSums(repRevenue, revenue) || !sameSums(repCost, cost) {
			t.Errorf("reseller %d (%s): Revenue reports revenue %v and cost %v; the ledger holds %v and %v",
				r.id, r.name, repRevenue, repCost, revenue, cost)
		}

		margins, err := y.db.Margins(ctx, y.sys, r.parent, yearStart, yearEnd)
		if err != nil {
			t.Fatal(err)
		}
		mRevenue, mCost := byCurrency{}, byCurrency{}
		for _, m := range margins {
			if m.ResellerID == r.id {
				mRevenue[m.Currency] += m.Revenue
				mCost[m.Currency] += m.Cost
			}
		}
		drop0(mRevenue)
		drop0(mCost)
		if !sameSums(mRevenue, revenue) || !sameSums(mCost, cost) {
			t.Errorf("reseller %d (%s): Margins of %d report revenue %v and cost %v; the ledger holds %v and %v",
				r.id, r.name, r.parent, mRevenue, mCost, revenue, cost)
		}
	}
	if got := sold(provider); !sameSums(got, l1Costs) {
		t.Errorf("the provider issued %v; the L1 resellers received %v", got, l1Costs)
	}
}

func drop0(b byCurrency) {
	for c, v := range b {
		if v == 0 {
			delete(b, c)
		}
	}
}

// checkLedger: every document posts a buyer's entry of its total and a
// vendor's of minus it; every account's buyer entries sum to its
// documents; every vendor's entries sum to minus its buyers'.
func checkLedger(t *testing.T, y *year) {
	t.Helper()
	if n := sqlInt(t, y, `SELECT COUNT(*) FROM documents d WHERE
		(SELECT COUNT(*) FROM ledger_entries e WHERE e.document_id = d.id) <> 2
		OR (SELECT COALESCE(SUM(e.amount), 1) FROM ledger_entries e WHERE e.document_id = d.id) <> 0
		OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.document_id = d.id AND e.side = 'buyer'
			AND e.account_id = d.account_id AND e.vendor_id = d.vendor_id AND e.amount = d.total)
		OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.document_id = d.id AND e.side = 'vendor'
			AND e.account_id = d.vendor_id AND e.vendor_id = d.vendor_id AND e.amount = -d.total)`); n != 0 {
		t.Errorf("%d documents without their two balancing ledger entries", n)
	}
	if n := sqlInt(t, y, `SELECT COUNT(*) FROM (SELECT account_id, vendor_id FROM documents
		GROUP BY account_id, vendor_id HAVING COUNT(DISTINCT currency) > 1) p`); n != 0 {
		t.Errorf("%d buyers deal with their vendor in more than one currency", n)
	}
	if n := sqlInt(t, y, `SELECT COUNT(*) FROM ledger_entries e WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = e.document_id)`); n != 0 {
		t.Errorf("%d ledger entries without a document", n)
	}
	docs := sqlPairs(t, y, `SELECT account_id, CAST(SUM(total) AS BIGINT) FROM documents GROUP BY account_id`)
	buyers := sqlPairs(t, y, `SELECT account_id, CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE side = 'buyer' GROUP BY account_id`)
	vendors := sqlPairs(t, y, `SELECT account_id, CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE side = 'vendor' GROUP BY account_id`)
	children := map[int64]int64{}
	for _, a := range y.accounts {
		if buyers[a.id] != docs[a.id] {
			t.Errorf("account %d (%s): buyer entries %d, documents %d", a.id, a.name, buyers[a.id], docs[a.id])
		}
		if a.parent != 0 {
			children[a.parent] += buyers[a.id]
		}
	}
	for _, a := range y.accounts {
		if vendors[a.id] != -children[a.id] {
			t.Errorf("vendor %d (%s): vendor entries %d, its buyers' entries %d", a.id, a.name, vendors[a.id], children[a.id])
		}
	}
	// Balance reads the same entries through the store.
	for _, s := range y.subs[:min(10, len(y.subs))] {
		c := s.customer
		b, err := y.db.Balance(context.Background(), y.sys, c.id, c.parent)
		if err != nil {
			t.Fatal(err)
		}
		if int64(b) != docs[c.id] {
			t.Errorf("customer %d: Balance %s, documents %d", c.id, b, docs[c.id])
		}
	}
	if len(docs) == 0 {
		t.Errorf("no documents at all")
	}
}
