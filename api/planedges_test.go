package api

import (
	"context"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// trialPlan is P's plan "trial" as `catalog import` makes it: a 14-day
// trial that converts to the paid monthly period "1m".
func trialPlan(t *testing.T, f *fixture) *catalog.Plan {
	t.Helper()
	withCatalog(t, f)
	p := &catalog.Plan{OwnerID: f.P.ID, Key: "trial", Template: "office", Currency: "USD", Name: catalog.Text{"en": "Office trial"},
		Billing: catalog.ChargeInAdvance, Published: true,
		Periods: []catalog.Period{
			{Key: "14d", Duration: catalog.Duration{N: 14, Unit: catalog.Day}, Trial: true, ConvertsTo: "1m",
				RecurringPer: catalog.PerPeriod, Refund: catalog.Refund{After: catalog.RefundNone}},
			{Key: "1m", Duration: catalog.Duration{N: 1, Unit: catalog.Month}, Recurring: catalog.Price{Amount: 10 * money.MicrosPerUnit},
				RecurringPer: catalog.PerPeriod, Refund: catalog.Refund{After: catalog.RefundNone}},
		},
		Rates: []catalog.Rate{{Key: "mailbox", Resource: "mailbox", Included: 5, Min: 1, Max: 100, Display: catalog.Spinner}}}
	if err := f.db.CreatePlan(context.Background(), account.SystemActor(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanTrialConversionAPI: a trial's converts_to shows in the plan,
// can be set through the API, and a PUT whose trial names none (a body
// written before the API showed it) keeps it: a trial that converts to
// nothing fails every billing day after it ends.
func TestPlanTrialConversionAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		p := trialPlan(t, f)
		path := "/plans/" + id(p.ID)

		got := decode[Plan](t, f.must(t, 200, "P", "GET", path, nil))
		if len(got.Periods) != 2 || got.Periods[0].ConvertsTo != "1m" {
			t.Fatalf("GET periods %+v, want the trial converting to 1m", got.Periods)
		}

		// A PUT without converts_to keeps it.
		body := map[string]any{
			"key": "trial", "template": "office", "currency": "USD", "name": map[string]string{"en": "Office trial, renamed"},
			"billing": "advance", "published": true,
			"periods": []any{
				map[string]any{"key": "14d", "duration": map[string]any{"n": 14, "unit": "day"}, "trial": true},
				map[string]any{"key": "1m", "duration": map[string]any{"n": 1, "unit": "month"}, "recurring": map[string]any{"amount": "10"}},
			},
			"rates": []any{map[string]any{"key": "mailbox", "resource": "mailbox", "included": 5, "min": 1, "max": 100}},
		}
		got = decode[Plan](t, f.must(t, 200, "P", "PUT", path, body))
		stored, err := db.Plan(context.Background(), account.SystemActor(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Periods[0].ConvertsTo != "1m" || stored.Periods[0].ConvertsTo != "1m" || stored.Name["en"] != "Office trial, renamed" {
			t.Errorf("after PUT: answered %+v, stored %+v", got.Periods[0], stored.Periods[0])
		}

		// The API sets it, and refuses a conversion to a trial.
		body["periods"] = []any{
			map[string]any{"key": "14d", "duration": map[string]any{"n": 14, "unit": "day"}, "trial": true, "converts_to": "1y"},
			map[string]any{"key": "1m", "duration": map[string]any{"n": 1, "unit": "month"}, "recurring": map[string]any{"amount": "10"}},
			map[string]any{"key": "1y", "duration": map[string]any{"n": 1, "unit": "year"}, "recurring": map[string]any{"amount": "100"}},
		}
		got = decode[Plan](t, f.must(t, 200, "P", "PUT", path, body))
		if got.Periods[0].ConvertsTo != "1y" {
			t.Errorf("after PUT with converts_to 1y: %+v", got.Periods[0])
		}
		body["periods"].([]any)[0].(map[string]any)["converts_to"] = "14d"
		p2 := f.must(t, 400, "P", "PUT", path, body).Problem(t)
		if !slices.Contains(p2.locations(), "body.periods[0].converts_to") {
			t.Errorf("conversion to a trial: %v", p2.locations())
		}
	})
}

// TestProblemDetailsInWords: a problem's detail says a status in words,
// not with the code the store's message names it by.
func TestProblemDetailsInWords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		if _, err := db.SetAccountStatus(context.Background(), account.SystemActor(), f.C.ID, account.StatusAdminHold, false); err != nil {
			t.Fatal(err)
		}
		p := f.must(t, 409, "L2", "POST", "/accounts/"+id(f.C.ID)+"/credit-hold", map[string]any{"reason": "late"}).Problem(t)
		if want := "account " + id(f.C.ID) + " is on administrative hold"; p.Detail != want {
			t.Errorf("detail %q, want %q", p.Detail, want)
		}
	})
}
