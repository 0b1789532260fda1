package api

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// testClockContract holds the test clock's routes to the document, on a
// sandbox: the contract world's database is given a test clock at its
// clock's present (2027-01-10 15:00 UTC). The provider reads it, sets it
// to the 20th, then advances it 3 days; a reseller is refused, and so are
// a date in the past and a step that is no duration.
func testClockContract(t *testing.T, c *contract) []contractCase {
	t.Helper()
	if _, err := c.db.UseTestClock(context.Background()); err != nil {
		t.Fatal(err)
	}
	at := func(want time.Time) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var tc TestClock
			r.JSON(t, &tc)
			if !tc.Now.Equal(want) {
				t.Errorf("the test clock is at %s, want %s", tc.Now, want)
			}
		}
	}
	jan20 := time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC)
	return []contractCase{
		{op: "get-test-clock", name: "the provider reads it", who: "P", method: "GET", path: "/test-clock", want: http.StatusOK,
			check: at(time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC))},
		{op: "get-test-clock", name: "a reseller may not", who: "L1a", method: "GET", path: "/test-clock", want: http.StatusForbidden},
		{op: "set-test-clock", name: "to the 20th", who: "P", method: "PUT", path: "/test-clock",
			body: map[string]any{"now": "2027-01-20T09:00:00Z"}, want: http.StatusOK, check: at(jan20)},
		{op: "set-test-clock", name: "never back", who: "P", method: "PUT", path: "/test-clock",
			body: map[string]any{"now": "2027-01-19T09:00:00Z"}, want: http.StatusBadRequest, field: "body.now"},
		{op: "advance-test-clock", name: "3 days", who: "P", method: "POST", path: "/test-clock/advance",
			body: map[string]any{"by": "3d"}, want: http.StatusOK, check: at(jan20.AddDate(0, 0, 3))},
		{op: "advance-test-clock", name: "not a duration", who: "P", method: "POST", path: "/test-clock/advance",
			body: map[string]any{"by": "soon"}, want: http.StatusBadRequest, field: "body.by"},
		{op: "advance-test-clock", name: "a reseller may not", who: "L1a", method: "POST", path: "/test-clock/advance",
			body: map[string]any{"by": "1h"}, want: http.StatusForbidden},
	}
}
