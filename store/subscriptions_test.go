package store_test

import (
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
)

// TestSubscriptionSettings: auto-renewal, and suspension by staff or
// Marketplane with the provisioning task queued.
func TestSubscriptionSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := saleSetup(t, db)
		ctx := st.ctx
		o := st.buy(t, st.c, 5)
		st.complete(t, o)
		id := o.SubscriptionID

		s, err := db.SetAutoRenew(ctx, st.c, id, subscription.RenewOff, 0)
		if err != nil || s.AutoRenew != subscription.RenewOff || st.sub(t, id).AutoRenew != subscription.RenewOff {
			t.Fatalf("auto-renew off: %+v %v", s, err)
		}
		if s, err = db.SetAutoRenew(ctx, st.a1, id, subscription.RenewBeforeExpiration, 7); err != nil || s.RenewDays != 7 {
			t.Fatalf("renew 7 days before: %+v %v", s, err)
		}
		_, err = db.SetAutoRenew(ctx, st.c, id, subscription.RenewOff, 7)
		wantFields(t, err, marketplane.EINVALID, "renew_days")
		_, err = db.SetAutoRenew(ctx, st.supportC, id, subscription.RenewOff, 0)
		wantCode(t, err, marketplane.EFORBIDDEN)
		_, err = db.SetAutoRenew(ctx, st.b, id, subscription.RenewOff, 0)
		wantCode(t, err, marketplane.ENOTFOUND)

		var queued []subscription.Status
		enqueue := func(_ *sql.Tx, s *subscription.Subscription) error { queued = append(queued, s.Status); return nil }
		_, err = db.SetSubscriptionStatus(ctx, st.c, id, subscription.Suspended, "", enqueue)
		wantCode(t, err, marketplane.EFORBIDDEN) // not its own
		s, err = db.SetSubscriptionStatus(ctx, st.a1, id, subscription.Suspended, "", enqueue)
		if err != nil || s.Status != subscription.Suspended || s.StatusReason != subscription.ReasonStaff {
			t.Fatalf("suspend: %+v %v", s, err)
		}
		_, err = db.SetSubscriptionStatus(ctx, st.a1, id, subscription.Terminated, "", enqueue)
		wantCode(t, err, marketplane.ECONFLICT) // staff terminate through a cancellation order
		_, err = db.SetSubscriptionStatus(ctx, st.a1, id, subscription.Pending, "", enqueue)
		wantCode(t, err, marketplane.ECONFLICT)
		if s, err = db.SetSubscriptionStatus(ctx, st.a1, id, subscription.Active, "", enqueue); err != nil || s.StatusReason != "" {
			t.Fatalf("resume: %+v %v", s, err)
		}
		// Billing's moves: expired → graced → suspended.
		for _, to := range []subscription.Status{subscription.Graced, subscription.Suspended} {
			if _, err := db.SetSubscriptionStatus(ctx, st.sys, id, to, subscription.ReasonExpired, enqueue); err != nil {
				t.Fatalf("system %s: %v", to, err)
			}
		}
		if want := []subscription.Status{subscription.Suspended, subscription.Active, subscription.Graced, subscription.Suspended}; !slices.Equal(queued, want) {
			t.Errorf("queued %v, want %v", queued, want)
		}
		if s := st.sub(t, id); s.Status != subscription.Suspended || s.StatusReason != subscription.ReasonExpired || s.AutoRenew != subscription.RenewBeforeExpiration {
			t.Errorf("subscription: %+v", s)
		}
		// A failing enqueue changes nothing.
		_, err = db.SetSubscriptionStatus(ctx, st.a1, id, subscription.Active, "", func(*sql.Tx, *subscription.Subscription) error {
			return errors.New("queue down")
		})
		if err == nil || st.sub(t, id).Status != subscription.Suspended {
			t.Errorf("failing enqueue: %v, status %s", err, st.sub(t, id).Status)
		}
		// A pending subscription changes through its order.
		pending := st.buy(t, st.c, 5)
		_, err = db.SetSubscriptionStatus(ctx, st.sys, pending.SubscriptionID, subscription.Active, "", nil)
		wantCode(t, err, marketplane.ECONFLICT)
		_, err = db.CancelOrder(ctx, st.c, pending.SubscriptionID, time.Time{}, nil)
		wantCode(t, err, marketplane.ECONFLICT)
	})
}
