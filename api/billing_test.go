package api

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// billingSetup is the worked example of the billing routes: the sale
// chain of saleChain, C's order of L2's plan completed on 2027-01-10, so
// that every tier has its invoice, open and due on the day (net 0 days):
//
//	P   → L1a  INV-000001  setup 5.00 + month 10.00  = 15.00
//	L1a → L2   INV-000001  setup 6.00 + month 12.00  = 18.00
//	L2  → C    INV-000001  setup 6.60 + month 13.20  = 19.80
//
// It returns the API's hooks and C's subscription.
func billingSetup(t *testing.T, db *store.DB) (*fixture, *orderHooks, int64) {
	t.Helper()
	ctx := context.Background()
	f := setup(t, db)
	saleClock(db)
	hooks := withOrders(t, f)
	_, _, l2 := saleChain(t, f)
	o, err := db.PlaceOrder(ctx, account.SystemActor(), store.OrderRequest{CustomerID: f.C.ID, PlanID: l2.ID, Period: "1m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
		t.Fatal(err)
	}
	return f, hooks, o.SubscriptionID
}

// documentStrings renders documents one per string, for tables a person
// can check: "INV-000001 invoice open 19.80 due 19.80: setup 6.60 |
// recurring [2027-01-10, 2027-02-10) 13.20".
func documentStrings(ds []Document) []string {
	out := []string{}
	for _, d := range ds {
		var lines []string
		for _, l := range d.Lines {
			s := l.What
			if l.From != "" {
				s += " [" + l.From + ", " + l.To + ")"
			}
			lines = append(lines, s+" "+l.Amount)
		}
		s := d.Number + " " + d.Type + " " + d.Status + " " + d.Total
		if d.AmountDue != "" {
			s += " due " + d.AmountDue
		}
		out = append(out, s+": "+strings.Join(lines, " | "))
	}
	return out
}

func TestDocumentsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _, _ := billingSetup(t, db)
		for _, c := range []struct {
			who, query string
			want       []string
		}{
			{"C", "account_id=" + id(f.C.ID), []string{
				"INV-000001 invoice open 19.80 due 19.80: setup 6.60 | recurring [2027-01-10, 2027-02-10) 13.20"}},
			{"L2", "vendor_id=" + id(f.L2.ID), []string{
				"INV-000001 invoice open 19.80 due 19.80: setup 6.60 | recurring [2027-01-10, 2027-02-10) 13.20"}},
			{"L2", "account_id=" + id(f.L2.ID), []string{
				"INV-000001 invoice open 18.00 due 18.00: setup 6.00 | recurring [2027-01-10, 2027-02-10) 12.00"}},
			{"L1a", "account_id=" + id(f.L1a.ID) + "&type=invoice", []string{
				"INV-000001 invoice open 15.00 due 15.00: setup 5.00 | recurring [2027-01-10, 2027-02-10) 10.00"}},
			{"L1a", "type=payment", []string{}},
			// Everything in L1a's reach, newest first: completing the
			// order issued the customer's invoice, then each tier's up to
			// the provider.
			{"L1a", "", []string{
				"INV-000001 invoice open 15.00 due 15.00: setup 5.00 | recurring [2027-01-10, 2027-02-10) 10.00",
				"INV-000001 invoice open 18.00 due 18.00: setup 6.00 | recurring [2027-01-10, 2027-02-10) 12.00",
				"INV-000001 invoice open 19.80 due 19.80: setup 6.60 | recurring [2027-01-10, 2027-02-10) 13.20"}},
		} {
			page := decode[Page[Document]](t, f.must(t, 200, c.who, "GET", "/documents?"+c.query, nil))
			if got := documentStrings(page.Items); !slices.Equal(got, c.want) {
				t.Errorf("%s: /documents?%s\n  %s\nwant\n  %s", c.who, c.query, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		}
		// Pages of one.
		first := decode[Page[Document]](t, f.must(t, 200, "L1a", "GET", "/documents?limit=1", nil))
		second := decode[Page[Document]](t, f.must(t, 200, "L1a", "GET", "/documents?limit=1&cursor="+first.NextCursor, nil))
		if len(first.Items) != 1 || len(second.Items) != 1 || second.Items[0].ID >= first.Items[0].ID || second.NextCursor == "" {
			t.Errorf("pages %+v, %+v", first, second)
		}
		f.must(t, 400, "L1a", "GET", "/documents?type=bill", nil).Problem(t)
		f.must(t, 400, "L1a", "GET", "/documents?cursor=nonsense", nil).Problem(t)

		// The vendor (L2) tells its buyers how to pay, in its own selling
		// settings; its open invoices print it.
		var l2 Account
		f.must(t, 200, "L2", "GET", "/accounts/"+id(f.L2.ID), nil).JSON(t, &l2)
		l2.Selling.PaymentInstructions = "Example Bank\nIBAN: DE89 3704 0044 0532 0130 00"
		f.must(t, 200, "L2", "PATCH", "/accounts/"+id(f.L2.ID), map[string]any{"selling": l2.Selling})
		f.must(t, 400, "L2", "PATCH", "/accounts/"+id(f.L2.ID), map[string]any{"selling": map[string]any{"payment_instructions": "IBAN \u202eXX"}}).Problem(t)
		inv := decode[Page[Document]](t, f.must(t, 200, "C", "GET", "/documents?account_id="+id(f.C.ID), nil)).Items[0]
		doc := "/documents/" + id(inv.ID)
		got := decode[Document](t, f.must(t, 200, "C", "GET", doc, nil))
		if got.VendorID != f.L2.ID || got.AccountID != f.C.ID || got.IssuedOn != "2027-01-10" || got.DueOn != "" ||
			got.ChargeOn != "2027-01-10" || got.Currency != "USD" || got.OrderID == 0 || got.SubscriptionID == 0 {
			t.Errorf("C's invoice %+v", got)
		}

		// The PDF and the page, for the buyer and for the vendor.
		for _, who := range []string{"C", "L2", "L1a"} {
			r := f.must(t, 200, who, "GET", doc+"/pdf", nil)
			if ct := r.Header.Get("Content-Type"); ct != "application/pdf" {
				t.Errorf("PDF content type %q", ct)
			}
			if !bytes.HasPrefix(r.Body, []byte("%PDF-")) || !bytes.Contains(r.Body, []byte("/Count 1")) ||
				!bytes.HasSuffix(bytes.TrimSpace(r.Body), []byte("%%EOF")) {
				t.Errorf("not a one-page PDF: %.40q", r.Body)
			}
			if cd := r.Header.Get("Content-Disposition"); cd != `inline; filename="INV-000001.pdf"` {
				t.Errorf("content disposition %q", cd)
			}
			r = f.must(t, 200, who, "GET", doc+"/html", nil)
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("HTML content type %q", ct)
			}
			if csp := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("CSP %q", csp)
			}
			for _, want := range []string{"INV-000001", ">6.60<", ">13.20<", "$19.80", "Gamma Reseller L2", "Delta Customer C", ">IBAN: DE89 3704 0044 0532 0130 00<",
				"Jan 10, 2027 – Feb 9, 2027"} {
				if !bytes.Contains(r.Body, []byte(want)) {
					t.Errorf("the page lacks %q", want)
				}
			}
		}
		f.must(t, 404, "C", "GET", "/documents/987654/pdf", nil).Problem(t)
	})
}

func TestPaymentsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _, _ := billingSetup(t, db)
		cAcct := "/accounts/" + id(f.C.ID)
		inv := decode[Page[Document]](t, f.must(t, 200, "C", "GET", "/documents?account_id="+id(f.C.ID), nil)).Items[0]
		charges := func() int { return f.api.gateway.(*gatewaytest.Gateway).Charges() }
		credit := func() Credit { return decode[Credit](t, f.must(t, 200, "L2", "GET", cAcct+"/credit", nil)) }
		payments := func() int {
			return len(decode[Page[Document]](t, f.must(t, 200, "L2", "GET", "/documents?type=payment&account_id="+id(f.C.ID), nil)).Items)
		}

		c := credit()
		if c.Balance != "19.80" || c.Open != "19.80" || c.PrepaidFunds != "0.00" || c.Available != "-19.80" || c.Status != "active" ||
			c.VendorID != f.L2.ID || c.Terms.Hold != "automatic" || c.Terms.OnHold != "suspend_all" {
			t.Errorf("C's credit before paying %+v", c)
		}

		// Bad payments: the amount is checked by the API and by the store.
		for _, body := range []map[string]any{
			{"amount": "ten", "method": "bank transfer"},
			{"amount": "0", "method": "bank transfer"},
			{"amount": "19.805", "method": "bank transfer"},
			{"amount": "-1", "method": "bank transfer"},
		} {
			p := f.must(t, 400, "L2", "POST", cAcct+"/payments", body).Problem(t)
			if !slices.Equal(p.locations(), []string{"body.amount"}) {
				t.Errorf("payment %v: %+v", body, p)
			}
		}
		if p := f.must(t, 400, "L2", "POST", cAcct+"/payments", map[string]any{"amount": "1.00"}).Problem(t); !slices.Equal(p.locations(), []string{"body.method"}) {
			t.Errorf("payment without a method: %+v", p)
		}
		// A buyer does not record its own payments; a support key does not
		// record any.
		f.must(t, 403, "C", "POST", cAcct+"/payments", map[string]any{"amount": "19.80", "method": "cash"}).Problem(t)

		// L2 records C's bank transfer: the invoice is paid.
		r := f.must(t, 201, "L2", "POST", cAcct+"/payments", map[string]any{"amount": "19.80", "method": "bank transfer"})
		pay := decode[Document](t, r)
		if r.Header.Get("Location") != Prefix+"/documents/"+id(pay.ID) {
			t.Errorf("location %q", r.Header.Get("Location"))
		}
		if got := documentStrings([]Document{pay}); !slices.Equal(got, []string{"PAY-000001 payment n/a -19.80: payment -19.80"}) ||
			pay.Method != "bank transfer" || pay.Purpose != "" || pay.Applied != "19.80" {
			t.Errorf("payment %v %+v", got, pay)
		}
		paid := decode[Document](t, f.must(t, 200, "C", "GET", "/documents/"+id(inv.ID), nil))
		if paid.Status != "paid" || paid.Applied != "19.80" || paid.AmountDue != "0.00" {
			t.Errorf("invoice after the payment %+v", paid)
		}
		if c := credit(); c.Balance != "0.00" || c.Open != "0.00" || c.Available != "0.00" {
			t.Errorf("C's credit after paying %+v", c)
		}

		// Top-ups charged to a card: the card is charged once per
		// Idempotency-Key, the payment recorded once.
		topUps := cAcct + "/top-ups"
		r = f.must(t, 201, "L2", "POST", topUps, map[string]any{"amount": "50.00", "source": "tok_visa"}, "Idempotency-Key", "top-up-1")
		top := decode[Document](t, r)
		if top.Number != "PAY-000002" || top.Total != "-50.00" || top.Method != "card visa 4242" || top.Purpose != "topup" ||
			!strings.HasPrefix(top.GatewayRef, "ch_test_") {
			t.Errorf("top-up %+v", top)
		}
		again := decode[Document](t, f.must(t, 201, "L2", "POST", topUps, map[string]any{"amount": "50.00", "source": "tok_visa"},
			"Idempotency-Key", "top-up-1"))
		if again.ID != top.ID || charges() != 1 || payments() != 2 {
			t.Errorf("a retried top-up: %+v, %d charges, %d payments", again, charges(), payments())
		}
		// The same key for another amount is another request.
		f.must(t, 409, "L2", "POST", topUps, map[string]any{"amount": "60.00", "source": "tok_visa"}, "Idempotency-Key", "top-up-1").Problem(t)
		c = credit()
		if c.PrepaidFunds != "50.00" || c.Balance != "-50.00" || c.Available != "50.00" {
			t.Errorf("C's credit after the top-up %+v", c)
		}

		// Declined: nothing charged, nothing recorded.
		p := f.must(t, 409, "L2", "POST", topUps, map[string]any{"amount": "25.00", "source": "tok_declined"}).Problem(t)
		if p.Detail != "card declined" {
			t.Errorf("declined: %+v", p)
		}
		if charges() != 1 || payments() != 2 || credit().PrepaidFunds != "50.00" {
			t.Errorf("after a decline: %d charges, %d payments, %+v", charges(), payments(), credit())
		}

		// Bad top-ups are refused before any card is charged.
		for _, c := range []struct {
			who  string
			body map[string]any
			want int
			locs []string
		}{
			{"L2", map[string]any{"amount": "25.00", "source": "tok_unknown"}, 400, []string{"body.source"}},
			{"L2", map[string]any{"amount": "25.00", "source": "tok_visa", "method": "cash"}, 400, []string{"body.method"}},
			{"L2", map[string]any{"amount": "25.00"}, 400, []string{"body.method"}},
			{"L2", map[string]any{"amount": "25.001", "source": "tok_visa"}, 400, []string{"body.amount"}},
			{"L2", map[string]any{"amount": "-5", "source": "tok_visa"}, 400, []string{"body.amount"}},
			{"C", map[string]any{"amount": "25.00", "source": "tok_visa"}, 403, nil},
			{"L1a-support", map[string]any{"amount": "25.00", "source": "tok_visa"}, 403, nil},
		} {
			p := f.must(t, c.want, c.who, "POST", topUps, c.body).Problem(t)
			if !slices.Equal(p.locations(), c.locs) {
				t.Errorf("%s top-up %v: %+v", c.who, c.body, p)
			}
		}
		if charges() != 1 || payments() != 2 {
			t.Errorf("after the refusals: %d charges, %d payments", charges(), payments())
		}

		// A top-up paid otherwise.
		r = f.must(t, 201, "L2", "POST", topUps, map[string]any{"amount": "10.00", "method": "cash"})
		if d := decode[Document](t, r); d.Method != "cash" || d.Purpose != "topup" || charges() != 1 {
			t.Errorf("cash top-up %+v", d)
		}
		if c := credit(); c.PrepaidFunds != "60.00" || c.Balance != "-60.00" {
			t.Errorf("C's credit after two top-ups %+v", c)
		}
		// The provider pays nobody.
		f.must(t, 409, "P", "GET", "/accounts/"+id(f.P.ID)+"/credit", nil).Problem(t)
	})
}

func TestCreditAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, hooks, subID := billingSetup(t, db)
		cAcct := "/accounts/" + id(f.C.ID)
		sub := "/subscriptions/" + id(subID)

		// Put on hold by hand: the subscription is suspended with its task.
		c := decode[Credit](t, f.must(t, 200, "L2", "POST", cAcct+"/credit-hold", map[string]any{"reason": "cheque bounced"}))
		if c.Status != "credit_hold" || !c.HoldManual {
			t.Errorf("on hold %+v", c)
		}
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", sub, nil)); s.Status != "suspended" || s.StatusReason != "credit_hold" {
			t.Errorf("subscription on hold %+v", s)
		}
		f.must(t, 409, "L2", "POST", cAcct+"/credit-hold", map[string]any{"reason": "again"}).Problem(t)
		if p := f.must(t, 400, "L2", "POST", cAcct+"/credit-hold", map[string]any{}).Problem(t); !slices.Equal(p.locations(), []string{"body.reason"}) {
			t.Errorf("hold without a reason: %+v", p)
		}
		// Nobody holds or releases its own account.
		f.must(t, 403, "C", "POST", cAcct+"/credit-hold/release", map[string]any{"reason": "please"}).Problem(t)

		// Released for 7 days: active again, the day the hold returns shown.
		for _, body := range []map[string]any{{"days": 400, "reason": "x"}, {"days": -1, "reason": "x"}, {"days": 7}, {"days": 7, "reason": ""}} {
			p := f.must(t, 400, "L2", "POST", cAcct+"/credit-hold/release", body).Problem(t)
			if len(p.Errors) != 1 {
				t.Errorf("release %v: %+v", body, p)
			}
		}
		c = decode[Credit](t, f.must(t, 200, "L2", "POST", cAcct+"/credit-hold/release", map[string]any{"days": 7, "reason": "promised to pay"}))
		if c.Status != "active" || c.HoldManual || c.ReleasedUntil != "2027-01-17" || c.ReleaseReason != "promised to pay" {
			t.Errorf("released %+v", c)
		}
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", sub, nil)); s.Status != "active" {
			t.Errorf("subscription released %+v", s)
		}
		f.must(t, 409, "L2", "POST", cAcct+"/credit-hold/release", map[string]any{"reason": "again"}).Problem(t)
		hooks.mu.Lock()
		statuses := slices.Clone(hooks.statuses)
		hooks.mu.Unlock()
		if want := []string{id(subID) + " suspended", id(subID) + " active"}; !slices.Equal(statuses, want) {
			t.Errorf("status tasks %v, want %v", statuses, want)
		}

		// Terms: bad values name their fields, the schema's and the
		// domain's alike.
		terms := cAcct + "/terms"
		for _, c := range []struct {
			body map[string]any
			locs []string
		}{
			{map[string]any{"grace_days": -1, "on_hold": "sometimes"}, []string{"body.grace_days", "body.on_hold"}},
			{map[string]any{"hold": "never", "payg_suspension_delay_days": 400}, []string{"body.hold", "body.payg_suspension_delay_days"}},
			{map[string]any{"grace_days": "3"}, []string{"body.grace_days"}},
		} {
			if p := f.must(t, 400, "L2", "PUT", terms, c.body).Problem(t); !slices.Equal(p.locations(), c.locs) {
				t.Errorf("terms %v: %+v", c.body, p)
			}
		}
		f.must(t, 200, "L2", "PATCH", cAcct, map[string]any{"payment_terms_days": 30})
		p := f.must(t, 400, "L2", "PUT", terms, map[string]any{"charge_after_days": 31}).Problem(t)
		if !slices.Equal(p.locations(), []string{"body.charge_after_days"}) || !strings.Contains(p.Errors[0].Message, "net 30 days") {
			t.Errorf("a charge after the due date: %+v", p)
		}
		f.must(t, 403, "C", "PUT", terms, map[string]any{"grace_days": 30}).Problem(t)
		c = decode[Credit](t, f.must(t, 200, "L2", "PUT", terms, map[string]any{"grace_days": 3, "charge_after_days": 10, "on_hold": "block_orders"}))
		if want := (PaymentTerms{GraceDays: 3, ChargeAfterDays: 10, Hold: "automatic", OnHold: "block_orders"}); c.Terms != want || c.NetDays != 30 {
			t.Errorf("terms set %+v", c)
		}
		// A hold under these terms blocks orders and suspends nothing.
		c = decode[Credit](t, f.must(t, 200, "L2", "POST", cAcct+"/credit-hold", map[string]any{"reason": "review"}))
		if s := decode[Subscription](t, f.must(t, 200, "L2", "GET", sub, nil)); c.Status != "credit_hold" || s.Status != "active" {
			t.Errorf("hold blocking orders: %+v, subscription %s", c, s.Status)
		}
		// The buyer reads its own standing.
		if c := decode[Credit](t, f.must(t, 200, "C", "GET", cAcct+"/credit", nil)); c.Status != "credit_hold" || c.Terms.GraceDays != 3 {
			t.Errorf("C reads %+v", c)
		}
	})
}

func TestReportsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _, _ := billingSetup(t, db)
		clock := db.Clock.(*marketplane.TestClock)
		revenue := func(who string, vendor int64, from, to string) []RevenueRow {
			return decode[Page[RevenueRow]](t, f.must(t, 200, who, "GET",
				"/vendors/"+id(vendor)+"/reports/revenue?from="+from+"&to="+to, nil)).Items
		}
		for _, c := range []struct {
			who    string
			vendor int64
			want   []RevenueRow
		}{
			{"L2", f.L2.ID, []RevenueRow{{"2027-01", "USD", "19.80", "18.00", "1.80"}}},
			{"L1a", f.L1a.ID, []RevenueRow{{"2027-01", "USD", "18.00", "15.00", "3.00"}}},
			{"L1a", f.L2.ID, []RevenueRow{{"2027-01", "USD", "19.80", "18.00", "1.80"}}},
			{"P", f.P.ID, []RevenueRow{{"2027-01", "USD", "15.00", "0.00", "15.00"}}},
			{"P", f.L1b.ID, []RevenueRow{}},
		} {
			if got := revenue(c.who, c.vendor, "2027-01-01", "2027-02-01"); !slices.Equal(got, c.want) {
				t.Errorf("revenue of %d as %s: %+v, want %+v", c.vendor, c.who, got, c.want)
			}
		}
		if got := revenue("L2", f.L2.ID, "2027-02-01", "2027-03-01"); len(got) != 0 {
			t.Errorf("February: %+v", got)
		}
		if got := revenue("L2", f.L2.ID, "2027-01-11", "2027-03-01"); len(got) != 0 {
			t.Errorf("after the day: %+v", got)
		}

		margins := func(who string, vendor int64) []MarginRow {
			return decode[Page[MarginRow]](t, f.must(t, 200, who, "GET",
				"/vendors/"+id(vendor)+"/reports/margins?from=2027-01-01&to=2027-02-01", nil)).Items
		}
		if got, want := margins("P", f.P.ID), []MarginRow{{f.L1a.ID, "Alpha Reseller L1a", "USD", "18.00", "15.00", "3.00"}}; !slices.Equal(got, want) {
			t.Errorf("margins below P: %+v, want %+v", got, want)
		}
		if got, want := margins("L1a", f.L1a.ID), []MarginRow{{f.L2.ID, "Gamma Reseller L2", "USD", "19.80", "18.00", "1.80"}}; !slices.Equal(got, want) {
			t.Errorf("margins below L1a: %+v, want %+v", got, want)
		}

		aging := func(on string) []AgingRow {
			return decode[Page[AgingRow]](t, f.must(t, 200, "L2", "GET", "/vendors/"+id(f.L2.ID)+"/reports/aging?on="+on, nil)).Items
		}
		row := func(current, d30, d60, d90, over, total string) []AgingRow {
			return []AgingRow{{f.C.ID, "Delta Customer C", "USD", current, d30, d60, d90, over, total}}
		}
		for _, c := range []struct {
			on   string
			want []AgingRow
		}{
			{"2027-01-09", []AgingRow{}}, // before the invoice
			{"2027-01-10", row("19.80", "0.00", "0.00", "0.00", "0.00", "19.80")},
			{"2027-02-09", row("0.00", "19.80", "0.00", "0.00", "0.00", "19.80")},
			{"2027-03-01", row("0.00", "0.00", "19.80", "0.00", "0.00", "19.80")},
			{"2027-05-01", row("0.00", "0.00", "0.00", "0.00", "19.80", "19.80")},
		} {
			if got := aging(c.on); !slices.Equal(got, c.want) {
				t.Errorf("aging on %s: %+v, want %+v", c.on, got, c.want)
			}
		}
		// Without dates, a report covers the current month up to today,
		// and aging is on today, in the vendor's time zone: at 20:00 UTC
		// on January 31 it is February 1 in Tokyo.
		defaults := func() (rev []RevenueRow, ag []AgingRow) {
			rev = decode[Page[RevenueRow]](t, f.must(t, 200, "L2", "GET", "/vendors/"+id(f.L2.ID)+"/reports/revenue", nil)).Items
			ag = decode[Page[AgingRow]](t, f.must(t, 200, "L2", "GET", "/vendors/"+id(f.L2.ID)+"/reports/aging", nil)).Items
			return rev, ag
		}
		clock.Set(time.Date(2027, 1, 31, 20, 0, 0, 0, time.UTC))
		rev, ag := defaults()
		if want := revenue("L2", f.L2.ID, "2027-01-01", "2027-02-01"); len(rev) != 1 || !slices.Equal(rev, want) || !slices.Equal(ag, aging("2027-01-31")) {
			t.Errorf("defaults in UTC on 2027-01-31: revenue %+v, want %+v; aging %+v", rev, want, ag)
		}
		f.must(t, 200, "L2", "PATCH", "/accounts/"+id(f.L2.ID), map[string]any{"time_zone": "Asia/Tokyo"})
		rev, ag = defaults()
		if len(rev) != 0 || !slices.Equal(ag, aging("2027-02-01")) {
			t.Errorf("defaults in Tokyo on 2027-02-01: revenue %+v (want none), aging %+v", rev, ag)
		}

		f.must(t, 201, "L2", "POST", "/accounts/"+id(f.C.ID)+"/payments", map[string]any{"amount": "19.80", "method": "bank transfer"})
		if got := aging("2027-03-01"); len(got) != 0 {
			t.Errorf("aging after the payment: %+v", got)
		}

		// Bad days are the query's.
		reports := "/vendors/" + id(f.L2.ID) + "/reports/"
		for _, c := range []struct{ query, loc string }{
			{"revenue?from=2027-02-30&to=2027-03-01", "query.from"},
			{"revenue?from=2099-01-01", "query.to"},
			{"margins?from=2027-02-01&to=2027-02-01", "query.to"},
			{"margins?from=2027-02-01&to=2027-01-01", "query.to"},
			{"aging?on=yesterday", "query.on"},
		} {
			p := f.must(t, 400, "L2", "GET", reports+c.query, nil).Problem(t)
			if !slices.Equal(p.locations(), []string{c.loc}) {
				t.Errorf("%s: %+v", c.query, p)
			}
		}
		// A customer has no reports of its own to read, and none of its
		// vendor's.
		f.must(t, 404, "C", "GET", "/vendors/"+id(f.L2.ID)+"/reports/aging?on=2027-01-10", nil).Problem(t)
	})
}
