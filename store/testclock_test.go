package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestTestClock: an installation without --test-clock refuses the clock
// and keeps real time; with it, the provider's task managers read, set and
// advance a date that every action then uses, only forward, at most a
// year a move, and a second process on the same database sees each move.
func TestTestClock(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		ctx := tr.ctx
		_, pAdmin := tr.user(t, tr.P, "p-admin", tr.admin)
		_, pSupport := tr.user(t, tr.P, "p-support", tr.support)
		_, aAdmin := tr.user(t, tr.A, "a-admin", tr.admin)
		march1 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		db.Clock = marketplane.NewTestClock(march1)

		// Without the flag: refused, and nothing is stored.
		_, err := db.ReadTestClock(ctx, pAdmin)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.AdvanceTestClock(ctx, pAdmin, 72*time.Hour)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.LoadTestClock(ctx)
		wantCode(t, err, marketplane.ECONFLICT)
		if got := db.Clock.Now(); !got.Equal(march1) {
			t.Fatalf("a refused move moved the clock to %s", got)
		}

		c, err := db.UseTestClock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var moves [][2]time.Time
		c.OnMove = func(ctx context.Context, tx *sql.Tx, from, to time.Time) error {
			// The hook runs in the move's transaction: the new date is
			// visible there.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_clock WHERE now = $1`, to.Format("2006-01-02T15:04:05.000000Z")).Scan(&n); err != nil || n != 1 {
				t.Errorf("OnMove does not see the move in its transaction: %d, %v", n, err)
			}
			moves = append(moves, [2]time.Time{from, to})
			return nil
		}
		if db.Clock != marketplane.Clock(c) || !c.Now().Equal(march1) {
			t.Fatalf("the test clock starts at %s, want the clock's present %s", c.Now(), march1)
		}
		// A second process on the same database shares the clock.
		other := storetest.OpenURL(t, db.URL())
		oc, err := other.LoadTestClock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oc.Refresh = 0

		// Only the provider's staff who manage tasks move it.
		if _, err := db.ReadTestClock(ctx, pSupport); err != nil {
			t.Fatalf("support of the provider cannot read the clock: %v", err)
		}
		_, err = db.AdvanceTestClock(ctx, pSupport, time.Hour)
		wantCode(t, err, marketplane.EFORBIDDEN)
		_, err = db.ReadTestClock(ctx, aAdmin)
		wantCode(t, err, marketplane.EFORBIDDEN)

		march11 := time.Date(2027, 3, 11, 9, 0, 0, 0, time.UTC)
		st, err := db.SetTestClock(ctx, pAdmin, march11)
		if err != nil || !st.Now.Equal(march11) || !db.Clock.Now().Equal(march11) {
			t.Fatalf("set: %+v, %v; clock %s", st, err, db.Clock.Now())
		}
		if got := other.Clock.Now(); !got.Equal(march11) {
			t.Fatalf("the other process reads %s, want %s", got, march11)
		}
		// Never back, never more than a year at once; neither moves it.
		_, err = db.SetTestClock(ctx, pAdmin, march11.Add(-time.Second))
		wantField(t, err, "now")
		_, err = db.AdvanceTestClock(ctx, pAdmin, -time.Hour)
		wantField(t, err, "by")
		_, err = db.AdvanceTestClock(ctx, pAdmin, 367*24*time.Hour)
		wantField(t, err, "by")
		if got := other.Clock.Now(); !got.Equal(march11) {
			t.Fatalf("refused moves moved the clock to %s", got)
		}

		st, err = other.AdvanceTestClock(ctx, pAdmin, 72*time.Hour)
		march14 := march11.Add(72 * time.Hour)
		if err != nil || !st.Now.Equal(march14) {
			t.Fatalf("advance: %+v, %v", st, err)
		}
		c.Refresh = 0
		if got := db.Clock.Now(); !got.Equal(march14) {
			t.Fatalf("after the other process advanced it, the clock reads %s, want %s", got, march14)
		}
		if len(moves) != 1 || !moves[0][0].Equal(march1) || !moves[0][1].Equal(march11) {
			t.Fatalf("OnMove saw %v, want the one move of this process, 03-01 → 03-11", moves)
		}
		// Actions take their time from it: an account made now.
		acct := newAccount("customer", tr.A.ID, "Made on the 14th")
		if err := db.CreateAccount(ctx, tr.sys, acct); err != nil {
			t.Fatal(err)
		}
		if !acct.CreatedAt.Equal(march14) {
			t.Fatalf("an account made on the test clock's 03-14 is dated %s", acct.CreatedAt)
		}
		// Panel sessions keep real time: one that expires in an hour of
		// real time is live, though the test clock is months ahead.
		if err := db.Sessions().CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.Sessions().FindCtx(ctx, "tok"); !ok || err != nil {
			t.Fatalf("a live session is not found on a test clock: %v, %v", ok, err)
		}
	})
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID || e.Fields[field] == "" {
		t.Fatalf("error %v, want EINVALID on field %q", err, field)
	}
}
