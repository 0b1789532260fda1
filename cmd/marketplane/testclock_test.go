package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/task"
)

// clockCall sends a JSON request to m's API with key and returns the
// status and body.
func clockCall(t *testing.T, m *Main, key, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.URL()+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTestClockRehearsal rehearses a month on a sandbox (serve
// --test-clock), through the API, on both engines. Two customers buy
// Basic (12.00 a month) on 2027-03-01: C1 on 30 days' terms, C2 on 1 day's
// (its invoice falls due on 03-02, overdue on 03-03; a hold only blocks
// its orders). Advancing the clock to the 7th bills 03-02 … 03-07 in order,
// and the run of 03-03 puts C2 on hold. Released on the 7th for 3 days, C2
// stays active through the 9th, and the run of the 10th puts the hold
// back. On the 11th, day 11 of 31, C1 upgrades to Pro (36.00): L = 21 days
// left of P = 31, so
//
//	change-credit −round(12.00 × 21/31) = −8.13   (8.129…)
//	change-charge  round(36.00 × 21/31) = 24.39   (24.387…)
//	total                                 16.26
func TestTestClockRehearsal(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx, sys := context.Background(), account.SystemActor()
		u := storetest.URL(t, e)
		// The sandbox's clock starts on 2027-03-01 09:00 UTC: made by a
		// first start at that time.
		march1 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		{
			db := storetest.OpenURL(t, u)
			if err := migrateAll(ctx, db); err != nil {
				t.Fatal(err)
			}
			db.Clock = marketplane.NewTestClock(march1)
			if _, err := db.UseTestClock(ctx); err != nil {
				t.Fatal(err)
			}
		}
		c := testConfig(u)
		c.TestClock = true
		m, _ := start(t, c)
		db := m.DB
		if now := db.Clock.Now(); !now.Equal(march1) {
			t.Fatalf("the server runs at %s, want its test clock's %s", now, march1)
		}
		p, err := db.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := db.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := db.CreateAPIKey(ctx, sys, p.ID, admin.ID, "operator", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		customer := func(name string, netDays int) *account.Account {
			a := &account.Account{Kind: account.Customer, ParentID: p.ID, Name: name, Address: account.Address{Country: "US"},
				Locale: "en-US", Currency: "USD", TimeZone: "UTC", PaymentTermsDays: netDays}
			if err := db.CreateAccount(ctx, sys, a); err != nil {
				t.Fatal(err)
			}
			return a
		}
		c1, c2 := customer("Customer One", 30), customer("Customer Two", 1)
		if _, err := db.SetTerms(ctx, sys, c2.ID, account.Terms{OnHold: account.BlockOrders}); err != nil {
			t.Fatal(err)
		}
		rt := &store.ResourceType{ResourceType: catalog.ResourceType{Key: "mailbox", Name: catalog.Text{"en": "Mailbox"}, Unit: "mailbox", Class: catalog.ClassLimit}}
		if err := db.CreateResourceType(ctx, sys, rt); err != nil {
			t.Fatal(err)
		}
		tpl := &store.Template{Template: catalog.Template{Key: "office", Name: catalog.Text{"en": "Office"},
			Resources: []catalog.TemplateResource{{Resource: "mailbox", Limit: 10}}}}
		if err := db.CreateTemplate(ctx, sys, tpl); err != nil {
			t.Fatal(err)
		}
		plan := func(key string, monthly int64, up ...string) *catalog.Plan {
			pl := &catalog.Plan{OwnerID: p.ID, Key: key, Template: "office", Currency: "USD", Published: true,
				Name: catalog.Text{"en": "Office " + key}, Billing: catalog.ChargeInAdvance, UpgradeTo: up,
				Periods: []catalog.Period{{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month},
					Recurring: catalog.Price{Amount: money.Micros(monthly)}, Refund: catalog.Refund{After: catalog.RefundNone}, RecurringPer: catalog.PerPeriod}}}
			if err := db.CreatePlan(ctx, sys, pl); err != nil {
				t.Fatal(err)
			}
			return pl
		}
		pro := plan("pro", 36_000_000)
		basic := plan("basic", 12_000_000, "pro")
		subOf := map[int64]int64{}
		for _, cust := range []*account.Account{c1, c2} {
			o, err := db.PlaceOrder(ctx, sys, store.OrderRequest{CustomerID: cust.ID, PlanID: basic.ID, Period: "1m"}, nil)
			if err != nil {
				t.Fatalf("place order: %v", err)
			}
			if o, err = db.CompleteOrder(ctx, o.ID, store.TenantInfo{TenantID: "t-" + cust.Name}); err != nil {
				t.Fatalf("complete order: %v", err)
			}
			subOf[cust.ID] = o.SubscriptionID
		}

		billed := func(day string) bool {
			var n int
			if err := db.Read.QueryRow(`SELECT COUNT(*) FROM billing_days WHERE day = $1 AND finished_at IS NOT NULL`,
				day+"T00:00:00.000000Z").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		}
		status := func(a *account.Account) account.Status {
			cr, err := db.Credit(ctx, sys, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return cr.Status
		}
		advance := func(by, want string) {
			t.Helper()
			code, body := clockCall(t, m, key, "POST", "/test-clock/advance", map[string]any{"by": by})
			var tc struct{ Now time.Time }
			if json.Unmarshal(body, &tc); code != 200 || tc.Now.Format(time.RFC3339) != want {
				t.Fatalf("advance %s: %d %s, want %s", by, code, body, want)
			}
			day := want[:10]
			waitFor(t, "the billing of "+day, func() bool { return billed(day) })
		}

		// The first move may come before the planner's first run: the
		// days from the sandbox's first day are billed all the same.
		advance("6d", "2027-03-07T09:00:00Z")
		if s := status(c2); s != account.StatusCreditHold {
			t.Fatalf("C2, overdue since the 3rd, is %s on the 7th", s)
		}
		if s := status(c1); s != account.StatusActive {
			t.Fatalf("C1 is %s", s)
		}
		code, body := clockCall(t, m, key, "POST", "/accounts/"+id(c2.ID)+"/credit-hold/release",
			map[string]any{"days": 3, "reason": "promised to pay by the 10th"})
		if code != 200 || !strings.Contains(string(body), `"released_until":"2027-03-10"`) {
			t.Fatalf("release for 3 days on the 7th: %d %s", code, body)
		}
		advance("2d", "2027-03-09T09:00:00Z")
		if s := status(c2); s != account.StatusActive {
			t.Fatalf("released until the 10th, C2 is %s on the 9th", s)
		}
		advance("2d", "2027-03-11T09:00:00Z")
		if s := status(c2); s != account.StatusCreditHold {
			t.Fatalf("the release ended on the 10th, but C2 is %s on the 11th", s)
		}

		// Every day from the 1st to the 11th was billed once, in order: each
		// day's run started after the one before had finished.
		infos, err := m.Tasks.List(ctx, task.Filter{Kind: "billing.day", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(infos, func(a, b task.Info) int { return int(a.ID - b.ID) })
		var days []string
		for i, in := range infos {
			var args billingDayArgs
			if err := json.Unmarshal(in.Args, &args); err != nil {
				t.Fatal(err)
			}
			days = append(days, args.Day[8:])
			if i > 0 && in.AttemptedAt.Before(infos[i-1].FinalizedAt) {
				t.Errorf("the run of %s started before the run of the day before had finished", args.Day)
			}
		}
		if want := []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"}; !slices.Equal(days, want) {
			t.Fatalf("billing days run %v, want %v", days, want)
		}

		// Day 11 of 31: C1 upgrades to Pro.
		code, body = clockCall(t, m, key, "POST", "/subscriptions/"+id(subOf[c1.ID])+"/change", map[string]any{"plan_id": pro.ID})
		var o struct {
			Type        string `json:"type"`
			EffectiveOn string `json:"effective_on"`
			Total       string `json:"total"`
			Lines       []struct{ What, From, To, Amount string }
		}
		if err := json.Unmarshal(body, &o); code != 201 || err != nil {
			t.Fatalf("upgrade on the 11th: %d %s", code, body)
		}
		var lines []string
		for _, l := range o.Lines {
			lines = append(lines, l.What+" "+l.From+" "+l.To+" "+l.Amount)
		}
		want := []string{"change-credit 2027-03-11 2027-04-01 -8.13", "change-charge 2027-03-11 2027-04-01 24.39"}
		if o.Type != "CH" || o.EffectiveOn != "2027-03-11" || o.Total != "16.26" || !slices.Equal(lines, want) {
			t.Fatalf("the upgrade on day 11 of 31: %s on %s, total %s, lines %q; want CH on 2027-03-11, total 16.26, lines %q",
				o.Type, o.EffectiveOn, o.Total, lines, want)
		}

		// The CLI reads the same clock from the database.
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"clock", "show", "--db", u}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "2027-03-11T09:00:00Z") {
			t.Fatalf("clock show: exit %d: %s %s", code, out.String(), errOut.String())
		}
		out.Reset()
		if code := run(ctx, []string{"clock", "set", "2027-03-10T09:00:00Z", "--db", u}, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "only moves forward") {
			t.Fatalf("clock set to the day before: exit %d: %s %s", code, out.String(), errOut.String())
		}
	})
}

// TestTestClockRefusedWithoutFlag: a server started without --test-clock
// runs on real time: the API's test clock answers 409, the CLI refuses
// with the way to get one, and nothing is stored.
func TestTestClockRefusedWithoutFlag(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx, sys := context.Background(), account.SystemActor()
		u := storetest.URL(t, e)
		m, _ := start(t, testConfig(u))
		p, err := m.DB.Provider(ctx)
		if err != nil {
			t.Fatal(err)
		}
		admin, _ := m.DB.RoleByKey(ctx, account.RoleAdmin)
		_, key, err := m.DB.CreateAPIKey(ctx, sys, p.ID, admin.ID, "operator", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if code, body := clockCall(t, m, key, "GET", "/test-clock", nil); code != http.StatusConflict || !strings.Contains(string(body), "--test-clock") {
			t.Errorf("GET /test-clock without the flag: %d %s", code, body)
		}
		if code, body := clockCall(t, m, key, "POST", "/test-clock/advance", map[string]any{"by": "72h"}); code != http.StatusConflict {
			t.Errorf("advance without the flag: %d %s", code, body)
		}
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"clock", "advance", "72h", "--db", u}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--test-clock") {
			t.Errorf("clock advance without the flag: exit %d: %s %s", code, out.String(), errOut.String())
		}
		var rows int
		if err := m.DB.Read.QueryRow(`SELECT COUNT(*) FROM test_clock`).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("test clock rows: %d, %v", rows, err)
		}
		if _, ok := m.DB.Clock.(marketplane.SystemClock); !ok {
			t.Fatalf("the server runs on %T, not the wall clock", m.DB.Clock)
		}
	})
}

// TestTestClockFlag: --test-clock is a switch (a bare flag means true),
// MARKETPLANE_TEST_CLOCK sets it too, and it is off by default.
func TestTestClockFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", false},
		{[]string{"--test-clock"}, "", true},
		{[]string{"--test-clock=false"}, "true", false},
		{nil, "true", true},
	} {
		t.Run(strings.Join(tc.args, " ")+" env="+tc.env, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("MARKETPLANE_TEST_CLOCK", tc.env)
			}
			fs := newFlagSet("serve", io.Discard)
			var c Config
			finish := bindConfig(fs, &c)
			if err := parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if err := finish(); err != nil {
				t.Fatal(err)
			}
			if c.TestClock != tc.want {
				t.Fatalf("TestClock = %v, want %v", c.TestClock, tc.want)
			}
		})
	}
}
