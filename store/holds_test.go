package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// holdHooks records the status tasks an account's hold queues, as "id
// status reason vN".
type holdHooks struct{ queued []string }

func (h *holdHooks) hook(_ *sql.Tx, s *subscription.Subscription) error {
	h.queued = append(h.queued, fmt.Sprintf("%d %s %s v%d", s.ID, s.Status, s.StatusReason, s.Version))
	return nil
}

// take returns what was queued since the last take.
func (h *holdHooks) take() []string {
	q := h.queued
	h.queued = nil
	return q
}

// TestAccountHoldSubscriptions: customer C has two active subscriptions
// and one its vendor's staff suspended. A credit hold suspends the two with
// their tasks, in the same transaction; the release resumes exactly those
// two; the staff's suspension stays. An administrative hold does the same
// with its own reason. A failing task changes nothing, and a reseller's
// hold leaves its customers' services alone.
func TestAccountHoldSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		var ids []int64
		for range 3 {
			ids = append(ids, st.complete(t, st.buy(t, st.c, 5)).SubscriptionID)
		}
		s1, s2, byStaff := ids[0], ids[1], ids[2]
		if _, err := db.SetSubscriptionStatus(ctx, st.a1, byStaff, subscription.Suspended, "", nil); err != nil {
			t.Fatal(err)
		}
		// state is each subscription as "status reason".
		state := func() []string {
			t.Helper()
			var out []string
			for _, id := range ids {
				s := st.sub(t, id)
				out = append(out, string(s.Status)+" "+s.StatusReason)
			}
			return out
		}
		wantState := func(about string, want ...string) {
			t.Helper()
			if got := state(); !slices.Equal(got, want) {
				t.Errorf("%s: subscriptions %q, want %q", about, got, want)
			}
		}
		// task is what the hook should have seen of subscription id: its
		// stored status and version.
		task := func(id int64) string {
			s := st.sub(t, id)
			return fmt.Sprintf("%d %s %s v%d", id, s.Status, s.StatusReason, s.Version)
		}
		h := &holdHooks{}

		// A reseller's hold: its customers' services go on.
		if _, err := db.SetAccountStatusWith(ctx, st.sys, st.A1.ID, account.StatusCreditHold, false, h.hook); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetAccountStatusWith(ctx, st.sys, st.A1.ID, account.StatusActive, false, h.hook); err != nil {
			t.Fatal(err)
		}
		if q := h.take(); len(q) != 0 {
			t.Errorf("a reseller's hold queued %q", q)
		}
		wantState("after the reseller's hold", "active ", "active ", "suspended staff")

		// A task that cannot be queued: neither the account nor any
		// subscription changes.
		calls := 0
		_, err := db.SetAccountStatusWith(ctx, st.a1, st.C.ID, account.StatusCreditHold, false, func(*sql.Tx, *subscription.Subscription) error {
			if calls++; calls == 2 {
				return errors.New("queue down")
			}
			return nil
		})
		if err == nil {
			t.Fatal("a failing task: no error")
		}
		if a, _ := db.Account(ctx, st.sys, st.C.ID); a.Status != account.StatusActive {
			t.Errorf("after a failing task the account is %s", a.Status)
		}
		wantState("after a failing task", "active ", "active ", "suspended staff")

		// Credit hold: the two active ones, each with its task.
		a, err := db.SetAccountStatusWith(ctx, st.a1, st.C.ID, account.StatusCreditHold, false, h.hook)
		if err != nil || a.Status != account.StatusCreditHold {
			t.Fatalf("credit hold: %+v %v", a, err)
		}
		wantState("on credit hold", "suspended credit_hold", "suspended credit_hold", "suspended staff")
		if q, want := h.take(), []string{task(s1), task(s2)}; !slices.Equal(q, want) {
			t.Errorf("credit hold queued %q, want %q", q, want)
		}
		// The release resumes exactly those two.
		if _, err := db.SetAccountStatusWith(ctx, st.a1, st.C.ID, account.StatusActive, false, h.hook); err != nil {
			t.Fatal(err)
		}
		wantState("released", "active ", "active ", "suspended staff")
		if q, want := h.take(), []string{task(s1), task(s2)}; !slices.Equal(q, want) {
			t.Errorf("release queued %q, want %q", q, want)
		}

		// Administrative hold, then credit hold on top: released at once,
		// both holds' suspensions come back.
		if _, err := db.SetAccountStatusWith(ctx, st.sys, st.C.ID, account.StatusAdminHold, false, h.hook); err != nil {
			t.Fatal(err)
		}
		wantState("on administrative hold", "suspended admin_hold", "suspended admin_hold", "suspended staff")
		if q := h.take(); len(q) != 2 {
			t.Errorf("administrative hold queued %q", q)
		}
		if _, err := db.SetAccountStatusWith(ctx, st.sys, st.C.ID, account.StatusCreditHold, false, h.hook); err != nil {
			t.Fatal(err)
		}
		if q := h.take(); len(q) != 0 {
			t.Errorf("hold to hold queued %q", q)
		}
		// A failing task on the release keeps the hold.
		_, err = db.SetAccountStatusWith(ctx, st.sys, st.C.ID, account.StatusActive, false, func(*sql.Tx, *subscription.Subscription) error {
			return errors.New("queue down")
		})
		if err == nil {
			t.Fatal("a failing task on release: no error")
		}
		wantState("after a failing release", "suspended admin_hold", "suspended admin_hold", "suspended staff")
		if _, err := db.SetAccountStatusWith(ctx, st.sys, st.C.ID, account.StatusActive, false, h.hook); err != nil {
			t.Fatal(err)
		}
		wantState("released from both", "active ", "active ", "suspended staff")
		if q, want := h.take(), []string{task(s1), task(s2)}; !slices.Equal(q, want) {
			t.Errorf("release queued %q, want %q", q, want)
		}
	})
}

// TestAccountHoldManySubscriptions: a hold over more subscriptions than one
// batch moves them all, each with its task, and the release brings back
// all of them.
func TestAccountHoldManySubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		first := st.complete(t, st.buy(t, st.c, 5)).SubscriptionID
		const copies = 1100 // two full batches of 500 and a part
		tx, err := db.Write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		const cols = `customer_id, vendor_id, plan_id, period_key, status, status_reason, start_at, anchor_at, period_start,
			period_end, next_billing_at, auto_renew, renew_days, frozen_prices, resources, parameters, pending_change, connector,
			tenant_id, tenant_status, attributes, version, created_at, updated_at`
		for range copies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (`+cols+`) SELECT `+cols+` FROM subscriptions WHERE id = $1`, first); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		count := func(status subscription.Status) int {
			t.Helper()
			var n int
			if err := db.Write.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1 AND status = $2`,
				st.C.ID, string(status)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, to := range []account.Status{account.StatusCreditHold, account.StatusActive} {
			seen := map[int64]bool{}
			_, err := db.SetAccountStatusWith(ctx, st.sys, st.C.ID, to, false, func(_ *sql.Tx, s *subscription.Subscription) error {
				seen[s.ID] = true
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", to, err)
			}
			if len(seen) != copies+1 {
				t.Errorf("%s queued %d tasks, want %d", to, len(seen), copies+1)
			}
		}
		if n := count(subscription.Active); n != copies+1 {
			t.Errorf("%d active after the release, want %d", n, copies+1)
		}
	})
}
