package store_test

import (
	"context"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

func TestAccountsByIDs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tr := setup(t, db)
		got, err := db.AccountsByIDs(context.Background(), []int64{tr.C.ID, tr.A.ID, 999999})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[tr.A.ID] == nil || got[tr.C.ID] == nil || got[tr.C.ID].Kind != account.Customer {
			t.Errorf("accounts by ids: %v", got)
		}
		none, err := db.AccountsByIDs(context.Background(), nil)
		if err != nil || len(none) != 0 {
			t.Errorf("no ids: %v %v", none, err)
		}
	})
}
