package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestGaugesShowTheLatestReadingOfThePeriod: Home and a subscription's
// page gauge each limited resource by its latest reading in the current
// period up to now (not an earlier one, not one of the previous period,
// not one measured later), read for all subscriptions at once; a plan no
// longer on sale names its subscription by number, without gauges.
func TestGaugesShowTheLatestReadingOfThePeriod(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		s := setupShop(t, e)
		ctx := context.Background()
		c := s.addCustomer(t, "Gauge Customer", "en", true, 3, nil)
		// The current periods began 14 days ago (sessions live in real
		// time: the clock stays at now).
		start := s.clock.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -14)
		day := func(d int) time.Time { return start.AddDate(0, 0, d).Add(9 * time.Hour) }
		for i, id := range c.subs {
			plan := `plan_id`
			if i < 2 {
				plan = fmt.Sprint(s.plans["office-basic"])
			}
			if _, err := s.db.Write.Exec(`UPDATE subscriptions SET plan_id = `+plan+`, resources = $1, period_start = $2, period_end = $3
				WHERE id = $4`, `{"mailbox": 10, "office-storage": 20}`, start.Format(time.RFC3339Nano),
				start.AddDate(0, 1, 0).Format(time.RFC3339Nano), id); err != nil {
				t.Fatal(err)
			}
		}
		for sub, readings := range map[int64][]store.UsageReading{
			c.subs[0]: {
				{Resource: "mailbox", Value: 3, At: day(1)},
				{Resource: "mailbox", Value: 7, At: day(9)},
				{Resource: "mailbox", Value: 9, At: day(20)},
				{Resource: "office-storage", Value: 15, At: day(4)},
			},
			c.subs[1]: {{Resource: "mailbox", Value: 4, At: day(-5)}},
		} {
			if _, err := s.db.RecordUsage(ctx, sub, readings); err != nil {
				t.Fatal(err)
			}
		}
		s.signIn(t, c.login, customerPassword)
		_, home := s.get(t, "/")
		item := func(id int64) string {
			_, rest, _ := strings.Cut(home, fmt.Sprintf(`id="subscription-%d"`, id))
			li, _, _ := strings.Cut(rest, `<li class="sub"`)
			li, _, _ = strings.Cut(li, "</section>")
			return li
		}
		first, second, third := item(c.subs[0]), item(c.subs[1]), item(c.subs[2])
		if !strings.Contains(first, "Office Basic") || !strings.Contains(first, "7 of 10 used") || !strings.Contains(first, "15 of 20 used") {
			t.Errorf("Home, first subscription:\n%s", first)
		}
		if !strings.Contains(second, "0 of 10 used") || !strings.Contains(second, "0 of 20 used") {
			t.Errorf("Home, second subscription (its reading is of the previous period):\n%s", second)
		}
		if !strings.Contains(third, fmt.Sprintf("Subscription %d", c.subs[2])) || strings.Contains(third, "<meter") {
			t.Errorf("Home, subscription of a plan not on sale:\n%s", third)
		}
		_, page := s.get(t, fmt.Sprintf("/subscriptions/%d", c.subs[0]))
		if !strings.Contains(page, "7 of 10 used") || !strings.Contains(page, "15 of 20 used") || strings.Count(page, "<meter ") != 2 {
			t.Errorf("subscription page:\n%s", page)
		}
	})
}
