package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// The subtree benchmark's tree below its top (L1) reseller: groups of one
// L2 reseller with l3PerL2 L3 resellers, and customers spread over the L2
// (one in five) and its L3s (the rest, at depth 4). There is one group per
// subtreeGroupSize descendants, so 50 groups of about 200 at scale 10,000.
const (
	l3PerL2          = 4
	subtreeGroupSize = 200
	// minSubtree is one group with at least one customer.
	minSubtree = 10
	// subtreeNeighbours is how many sibling L1 resellers hold the other
	// accounts around the measured subtree.
	subtreeNeighbours = 10
)

// How many times each operation is timed.
const (
	listIterations  = 500
	countIterations = 200
	authzIterations = 5000
)

// iterationDivisor divides the iteration counts; the package's tests raise
// it to stay quick under the race detector.
var iterationDivisor = 1

// subtree is the measured reseller and what the measurements need.
type subtree struct {
	top   *account.Account
	actor *account.Actor // an administrator of top
	// paths of every descendant of top, in path order: real cursors.
	paths []string
	// deep are the customers at depth 4 or more.
	deep []int64
}

// subtreeExt is the external id of the measured reseller at a scale: a
// database can hold subtrees of several scales side by side.
func subtreeExt(scale int) string { return fmt.Sprintf("bench-subtree-%d", scale) }

func runSubtree(ctx context.Context, r *runner) error {
	build := time.Now()
	st, err := r.buildSubtree(ctx)
	if err != nil {
		return err
	}
	r.set("build_s", time.Since(build).Seconds())

	rng := rand.New(rand.NewPCG(1, uint64(r.scale)))
	listAllIterations := max(3, min(20, 200000/r.scale))
	listIterations := listIterations / iterationDivisor
	countIterations := countIterations / iterationDivisor
	authzIterations := authzIterations / iterationDivisor
	p := r.phase("measuring", "calls", listAllIterations+listIterations+countIterations+authzIterations)
	defer p.done()

	// The whole subtree, in pages of 500, as an export would read it.
	r.log.Info("list whole subtree", "iterations", listAllIterations)
	all := make([]time.Duration, 0, listAllIterations)
	for range listAllIterations {
		t0 := time.Now()
		n, err := listAll(ctx, r.db, st.actor, st.top.ID, nil)
		if err != nil {
			return err
		}
		all = append(all, time.Since(t0))
		if n != len(st.paths) {
			return fmt.Errorf("listing the subtree gave %d accounts, want %d", n, len(st.paths))
		}
		p.add(1)
	}
	r.setPercentiles("list_all", all, 50, 95)

	// One page of 100, as a panel shows it, from a random place.
	r.log.Info("list a page of the subtree", "iterations", listIterations)
	page := func() error {
		f := store.AccountFilter{Under: st.top.ID, Descendants: true, Limit: 100}
		// A cursor from which a full page follows; -1 is the first page.
		if i := rng.IntN(max(1, len(st.paths)-100)+1) - 1; i >= 0 {
			f.After = st.paths[i]
		}
		list, err := r.db.ListAccounts(ctx, st.actor, f)
		if err == nil && len(list) == 0 {
			err = fmt.Errorf("empty page after %q", f.After)
		}
		return err
	}
	lists, err := timeIt(ctx, listIterations, page, p)
	if err != nil {
		return fmt.Errorf("list page: %w", err)
	}
	r.setPercentiles("list", lists, 50, 95)

	r.log.Info("count the subtree", "iterations", countIterations)
	count := func() error {
		n, err := r.db.CountDescendants(ctx, st.actor, st.top.ID)
		if err == nil && n != len(st.paths) {
			err = fmt.Errorf("counted %d, want %d", n, len(st.paths))
		}
		return err
	}
	counts, err := timeIt(ctx, countIterations, count, p)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	r.setPercentiles("count", counts, 50, 95)

	r.log.Info("authorize on deep accounts", "iterations", authzIterations, "deep accounts", len(st.deep))
	authz := func() error {
		return r.db.Authorize(ctx, st.actor, account.ViewAccount, st.deep[rng.IntN(len(st.deep))])
	}
	authzs, err := timeIt(ctx, authzIterations, authz, p)
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	r.setPercentiles("authz", authzs, 50, 95)
	return nil
}

// timeIt runs fn a tenth of n times to warm up, then n times, and returns
// the duration of each timed call.
func timeIt(ctx context.Context, n int, fn func() error, p *progress) ([]time.Duration, error) {
	for range max(1, n/10) {
		if err := fn(); err != nil {
			return nil, err
		}
	}
	d := make([]time.Duration, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		d = append(d, time.Since(t0))
		p.add(1)
	}
	return d, nil
}

// listAll reads every descendant of id in pages of 500 and calls each (when
// not nil) with every account; it returns how many it read.
func listAll(ctx context.Context, db *store.DB, actor *account.Actor, id int64, each func(*account.Account)) (int, error) {
	n, after := 0, ""
	for {
		page, err := db.ListAccounts(ctx, actor, store.AccountFilter{Under: id, Descendants: true, After: after, Limit: 500})
		if err != nil {
			return n, fmt.Errorf("list subtree of %d: %w", id, err)
		}
		n += len(page)
		if each != nil {
			for _, a := range page {
				each(a)
			}
		}
		if len(page) < 500 {
			return n, nil
		}
		after = page[len(page)-1].Path
	}
}

// buildSubtree makes the measured subtree, or finds the one an earlier run
// made, with its neighbours and its administrator.
func (r *runner) buildSubtree(ctx context.Context) (*subtree, error) {
	db, scale := r.db, r.scale
	prov, err := ensureProvider(ctx, db)
	if err != nil {
		return nil, err
	}
	l1s, err := db.ChildrenByExternalID(ctx, prov.ID, account.Reseller)
	if err != nil {
		return nil, err
	}
	total := scale + 2*scale // the subtree and its neighbours
	p := r.phase("building", "accounts", total)
	defer p.done()

	// Half of the neighbours come before the top reseller and half after,
	// so that its paths sit among others in the index.
	neighbour := func(k int) error {
		ext := fmt.Sprintf("%s-other-%02d", subtreeExt(scale), k)
		if _, ok := l1s[ext]; ok {
			p.add(2 * scale / subtreeNeighbours)
			return nil
		}
		return r.buildNeighbour(ctx, prov.ID, ext, k, 2*scale/subtreeNeighbours, p)
	}
	for k := range subtreeNeighbours / 2 {
		if err := neighbour(k + 1); err != nil {
			return nil, err
		}
	}
	top, ok := l1s[subtreeExt(scale)]
	if !ok {
		top = &account.Account{}
		fillAccount(top, account.Reseller, prov.ID, scale, fmt.Sprintf("Bench Subtree Reseller (%d)", scale))
		top.ExternalID = subtreeExt(scale)
		if err := db.CreateAccountsBulk(ctx, []*account.Account{top}); err != nil {
			return nil, fmt.Errorf("create the subtree's reseller: %w", err)
		}
	}
	if err := r.buildGroups(ctx, top, p); err != nil {
		return nil, err
	}
	for k := subtreeNeighbours / 2; k < subtreeNeighbours; k++ {
		if err := neighbour(k + 1); err != nil {
			return nil, err
		}
	}
	p.done()

	st := &subtree{top: top}
	if st.actor, err = subtreeAdmin(ctx, db, top, scale); err != nil {
		return nil, err
	}
	if _, err := listAll(ctx, db, st.actor, top.ID, func(a *account.Account) {
		st.paths = append(st.paths, a.Path)
		if a.Kind == account.Customer && a.Depth >= 4 {
			st.deep = append(st.deep, a.ID)
		}
	}); err != nil {
		return nil, err
	}
	if len(st.paths) != scale {
		return nil, fmt.Errorf("the reseller %s has %d descendants, not %d: its tree was changed by hand; use a fresh database",
			subtreeExt(scale), len(st.paths), scale)
	}
	if len(st.deep) == 0 {
		return nil, fmt.Errorf("the reseller %s has no customers at depth 4", subtreeExt(scale))
	}
	r.log.Info("subtree ready", "top", top.ID, "path", top.Path, "descendants", len(st.paths), "deep customers", len(st.deep))
	return st, nil
}

// buildGroups creates the missing L2 groups below top. A group is created in
// one bulk call with everything below its L2, so it exists whole or not at
// all, and an interrupted build resumes where it stopped.
func (r *runner) buildGroups(ctx context.Context, top *account.Account, p *progress) error {
	scale := r.scale
	groups := max(1, scale/subtreeGroupSize)
	customers := scale - groups*(1+l3PerL2)
	have, err := r.db.ChildrenByExternalID(ctx, top.ID, account.Reseller)
	if err != nil {
		return err
	}
	var batch []*account.Account
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.db.CreateAccountsBulk(ctx, batch); err != nil {
			return fmt.Errorf("build subtree: %w", err)
		}
		p.add(len(batch))
		batch = batch[:0]
		return nil
	}
	add := func(kind account.Kind, parent int64, n int, name string) int64 {
		a := &account.Account{}
		fillAccount(a, kind, parent, n, name)
		a.ID = -int64(len(batch) + 1)
		batch = append(batch, a)
		return a.ID
	}
	n := 0
	for g := range groups {
		size := customers / groups
		if g < customers%groups {
			size++
		}
		ext := fmt.Sprintf("l2-%05d", g+1)
		if _, ok := have[ext]; ok {
			p.add(1 + l3PerL2 + size)
			continue
		}
		l2 := add(account.Reseller, top.ID, n, fmt.Sprintf("Bench L2 Reseller %05d", g+1))
		batch[len(batch)-1].ExternalID = ext
		var l3 [l3PerL2]int64
		for k := range l3 {
			l3[k] = add(account.Reseller, l2, n, fmt.Sprintf("Bench L3 Reseller %05d-%d", g+1, k+1))
		}
		for i := range size {
			n++
			parent := l3[i%l3PerL2]
			if i%5 == 4 {
				parent = l2
			}
			add(account.Customer, parent, n, fmt.Sprintf("Bench Customer %05d-%03d", g+1, i+1))
		}
		if len(batch) >= batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// buildNeighbour creates a sibling L1 reseller with size-1 customers.
func (r *runner) buildNeighbour(ctx context.Context, parentID int64, ext string, k, size int, p *progress) error {
	l1 := &account.Account{}
	fillAccount(l1, account.Reseller, parentID, k, fmt.Sprintf("Bench Neighbour Reseller %02d", k))
	l1.ExternalID = ext
	l1.ID = -1
	batch := []*account.Account{l1}
	for i := 1; i < size; i++ {
		if len(batch) == batchSize {
			if err := r.db.CreateAccountsBulk(ctx, batch); err != nil {
				return fmt.Errorf("build neighbour %s: %w", ext, err)
			}
			p.add(len(batch))
			batch = batch[:0]
		}
		a := &account.Account{}
		fillAccount(a, account.Customer, l1.ID, i, fmt.Sprintf("Bench Neighbour Customer %02d-%06d", k, i))
		batch = append(batch, a)
	}
	if err := r.db.CreateAccountsBulk(ctx, batch); err != nil {
		return fmt.Errorf("build neighbour %s: %w", ext, err)
	}
	p.add(len(batch))
	return nil
}

// subtreeAdmin returns the actor of the subtree reseller's administrator,
// creating the user with the built-in administrator role when missing.
func subtreeAdmin(ctx context.Context, db *store.DB, top *account.Account, scale int) (*account.Actor, error) {
	login := subtreeExt(scale) + "-admin"
	u, err := db.UserByLogin(ctx, login)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		role, err := db.RoleByKey(ctx, account.RoleAdmin)
		if err != nil {
			return nil, err
		}
		u = &account.User{AccountID: top.ID, Login: login, DisplayName: "Bench subtree administrator",
			RoleIDs: []int64{role.ID}}
		if err := db.CreateUser(ctx, account.SystemActor(), u, "bench-subtree-admin-pw"); err != nil {
			return nil, fmt.Errorf("create the subtree's administrator: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	if u.AccountID != top.ID {
		return nil, fmt.Errorf("user %s belongs to account %d, not to the subtree's reseller %d", login, u.AccountID, top.ID)
	}
	return db.ActorForUser(ctx, u.ID)
}
