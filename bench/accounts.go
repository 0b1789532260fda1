package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/marketplane/marketplane/account"
)

const (
	// batchSize is how many accounts one CreateAccountsBulk call gets: big
	// enough that per-transaction costs vanish, small enough that memory
	// stays flat whatever the scale.
	batchSize = 5000
	// accountsResellers is how many L1 resellers the accounts benchmark
	// spreads its accounts under.
	accountsResellers = 1000
)

// runAccounts measures bulk account creation: SCALE accounts below 1,000 L1
// resellers, one in 25 an L2 reseller that takes a third of the customers
// of its batch, the rest customers of the L1s.
func runAccounts(ctx context.Context, r *runner) error {
	setup := time.Now()
	prov, err := ensureProvider(ctx, r.db)
	if err != nil {
		return err
	}
	r.log.Info("resellers", "count", accountsResellers)
	l1, err := ensureResellers(ctx, r.db, prov.ID, "bench-r-", "Bench Reseller ", accountsResellers)
	if err != nil {
		return err
	}
	r.set("setup_s", time.Since(setup).Seconds())

	r.log.Info("bulk create", "accounts", r.scale, "batch", batchSize)
	pool := make([]account.Account, min(batchSize, r.scale))
	batch := make([]*account.Account, 0, len(pool))
	p := r.phase("creating", "accounts", r.scale)
	start := time.Now()
	for done := 0; done < r.scale; {
		k := min(batchSize, r.scale-done)
		batch = batch[:0]
		var l2 int64 // placeholder of the batch's latest L2 reseller
		for j := range k {
			n := done + j
			a := &pool[j]
			parent := l1[n%len(l1)]
			switch {
			case j%25 == 0:
				fillAccount(a, account.Reseller, parent, n, fmt.Sprintf("Bench L2 Reseller %07d", n))
				a.ID = -int64(j + 1)
				l2 = a.ID
			case j%3 == 0 && l2 != 0:
				fillAccount(a, account.Customer, l2, n, fmt.Sprintf("Bench Customer %07d", n))
			default:
				fillAccount(a, account.Customer, parent, n, fmt.Sprintf("Bench Customer %07d", n))
			}
			batch = append(batch, a)
		}
		if err := r.db.CreateAccountsBulk(ctx, batch); err != nil {
			return fmt.Errorf("batch at %d: %w", done, err)
		}
		done += k
		p.add(k)
	}
	elapsed := time.Since(start)
	p.done()
	r.log.Info("bulk create done", "accounts", r.scale, "elapsed", elapsed)
	r.set("bulk_s", elapsed.Seconds())
	r.set("accounts_per_s", float64(r.scale)/elapsed.Seconds())
	return nil
}
