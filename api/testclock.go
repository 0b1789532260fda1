package api

// The test clock routes: on a sandbox started with --test-clock, the
// provider's staff read the date every action uses, set it and advance it
// (store.TestClock). Moving it queues the billing of the days it crossed,
// which the server's workers run in order. An installation on real time
// answers 409 to all three and changes nothing.

import (
	"context"
	"net/http"
	"time"

	"github.com/marketplane/marketplane/store"
)

// TestClock is the date of a sandbox.
type TestClock struct {
	Now       time.Time `json:"now" doc:"The date every action of the installation uses: orders, changes, cancellations, holds and releases, usage, the billing run."`
	UpdatedAt time.Time `json:"updated_at" doc:"When, in real time, it was last set or advanced."`
}

func testClockView(st store.TestClockState) TestClock {
	return TestClock{Now: st.Now, UpdatedAt: st.UpdatedAt}
}

type testClockOutput struct {
	Body TestClock
}

type setTestClockInput struct {
	Body struct {
		Now time.Time `json:"now" doc:"The new date (RFC 3339), not before the clock's and at most 366 days after it."`
	}
}

type advanceTestClockInput struct {
	Body struct {
		By string `json:"by" minLength:"1" maxLength:"20" example:"72h" doc:"How far to move it forward: a duration such as 90m or 72h, or whole days such as 3d; at most 366 days."`
	}
}

func (a *API) testClockRoutes() {
	const more = " Only on an installation started with --test-clock (a sandbox); otherwise 409. For the provider's staff: reading needs " +
		"the tasks privilege at view, moving it at manage."
	register(a, op{id: "get-test-clock", method: http.MethodGet, path: "/test-clock", tag: "Test clock",
		summary: "Read the test clock of a sandbox", errors: []int{http.StatusConflict}, description: more}, a.getTestClock)
	register(a, op{id: "set-test-clock", method: http.MethodPut, path: "/test-clock", tag: "Test clock",
		summary: "Set the test clock of a sandbox to a later date", errors: []int{http.StatusConflict},
		description: "The clock only moves forward. The daily billing then runs for each day it crossed, in order, " +
			"as the billing would have on those days." + more}, a.setTestClock)
	register(a, op{id: "advance-test-clock", method: http.MethodPost, path: "/test-clock/advance", tag: "Test clock",
		summary: "Move the test clock of a sandbox forward", errors: []int{http.StatusConflict},
		description: "The daily billing then runs for each day the clock crossed, in order." + more}, a.advanceTestClock)
}

func (a *API) getTestClock(ctx context.Context, _ *struct{}) (*testClockOutput, error) {
	st, err := a.db.ReadTestClock(ctx, actorFrom(ctx))
	if err != nil {
		return nil, err
	}
	return &testClockOutput{Body: testClockView(st)}, nil
}

func (a *API) setTestClock(ctx context.Context, in *setTestClockInput) (*testClockOutput, error) {
	st, err := a.db.SetTestClock(ctx, actorFrom(ctx), in.Body.Now)
	if err != nil {
		return nil, err
	}
	return &testClockOutput{Body: testClockView(st)}, nil
}

func (a *API) advanceTestClock(ctx context.Context, in *advanceTestClockInput) (*testClockOutput, error) {
	d, err := store.ParseTestClockStep(in.Body.By)
	if err != nil {
		return nil, err
	}
	st, err := a.db.AdvanceTestClock(ctx, actorFrom(ctx), d)
	if err != nil {
		return nil, err
	}
	return &testClockOutput{Body: testClockView(st)}, nil
}
