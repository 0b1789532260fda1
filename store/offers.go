package store

// Offers: the vendor's store as one buyer sees it. A customer buys from
// its parent, so its offers are the plans its parent has on sale
// (published, prices confirmed), shown by catalog.OfferOf: the buyer's
// prices and limits, texts in the buyer's locale, the vendor's displayed
// shelves in the vendor's order, and upgrade and downgrade paths that lead
// to plans on sale. Costs, caps from above, price rules and unpublished
// plans never reach it.
//
// Who may look: account.ViewOffers on the buyer's account. The customer
// itself (a user or key with orders:view) reads its own offers; its vendor
// and the accounts above with reach may look at what a customer is
// offered; anyone else gets ENOTFOUND, worded as for an account that does
// not exist.

import (
	"context"
	"fmt"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
)

// OfferFilter selects offers. Pages are in plan key order.
type OfferFilter struct {
	// SalesCategory selects the offers on one displayed shelf; a hidden
	// or unknown shelf holds none.
	SalesCategory string
	// After is the cursor: the key of the last plan of the previous page.
	After string
	Limit int
}

// OfferCategory is a displayed sales category of the vendor's store as
// the buyer sees it: its name in the buyer's locale.
type OfferCategory struct {
	Key      string
	Parent   string
	Name     string
	Holds    catalog.Holds
	Position int
}

// SubscriptionOffers are the offers a subscription may change to: the
// upgrade and downgrade paths of its plan that lead to plans its vendor
// has on sale. Current is the subscription's own plan as an offer, nil
// when the vendor no longer sells it.
type SubscriptionOffers struct {
	SubscriptionID int64
	Current        *catalog.Offer
	Upgrades       []catalog.Offer
	Downgrades     []catalog.Offer
}

// storefront is what a buyer's offers are made from.
type storefront struct {
	buyer, vendor *account.Account
	shelves       map[string]int
	categories    []*SalesCategory
	onSale        map[string]int64
	resources     map[string]catalog.ResourceType
}

// Offers lists the plans the buyer's vendor has on sale, as the buyer
// sees them. Errors: ENOTFOUND (no such buyer, or out of the actor's
// reach), EFORBIDDEN, EINVALID (the account is not a customer: resellers
// get their parent's plans by delegation, not in a store).
func (db *DB) Offers(ctx context.Context, actor *account.Actor, buyerID int64, f OfferFilter) ([]catalog.Offer, error) {
	sf, err := db.storefront(ctx, db.Read, actor, buyerID)
	if err != nil {
		return nil, err
	}
	out := []catalog.Offer{}
	if f.SalesCategory != "" {
		if _, ok := sf.shelves[f.SalesCategory]; !ok {
			return out, nil
		}
	}
	plans, err := db.listPlans(ctx, sf.vendor.ID, PlanFilter{OnSale: true, SalesCategory: f.SalesCategory, After: f.After, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	if err := db.loadOfferResources(ctx, db.Read, sf, plans...); err != nil {
		return nil, err
	}
	for _, p := range plans {
		out = append(out, catalog.OfferOf(p, sf.context()))
	}
	return out, nil
}

// Offer returns plan planID as the buyer sees it, if the buyer's vendor
// has it on sale; any other plan (another seller's, unpublished, waiting
// for prices, or missing) is ENOTFOUND alike.
func (db *DB) Offer(ctx context.Context, actor *account.Actor, buyerID, planID int64) (*catalog.Offer, error) {
	sf, err := db.storefront(ctx, db.Read, actor, buyerID)
	if err != nil {
		return nil, err
	}
	p, err := sf.plan(ctx, db.Read, planID)
	if err != nil {
		return nil, err
	}
	if err := db.loadOfferResources(ctx, db.Read, sf, p); err != nil {
		return nil, err
	}
	o := catalog.OfferOf(p, sf.context())
	return &o, nil
}

// OfferCategories lists the vendor's displayed sales categories in its
// tree order (a category before its sub-categories, siblings by
// position), as the buyer sees them. A hidden category hides the ones
// below it too.
func (db *DB) OfferCategories(ctx context.Context, actor *account.Actor, buyerID int64) ([]OfferCategory, error) {
	sf, err := db.storefront(ctx, db.Read, actor, buyerID)
	if err != nil {
		return nil, err
	}
	out := []OfferCategory{}
	for _, c := range sf.categories {
		if _, ok := sf.shelves[c.Key]; ok {
			out = append(out, OfferCategory{Key: c.Key, Parent: c.Parent, Name: c.Name.Get(sf.buyer.Locale), Holds: c.Holds, Position: c.Position})
		}
	}
	return out, nil
}

// SubscriptionOffersOf returns what subscription id may change to, as its
// customer sees it. The actor needs to view the customer's subscriptions
// (ENOTFOUND otherwise, worded as for a missing subscription).
func (db *DB) SubscriptionOffersOf(ctx context.Context, actor *account.Actor, id int64) (*SubscriptionOffers, error) {
	sub, cust, err := db.subscriptionFor(ctx, db.Read, actor, account.ViewSubscriptions, id, false)
	if err != nil {
		return nil, err
	}
	// The subscription's vendor is its plan's owner; the customer's
	// parent today may differ after a move, and the paths are the plan's.
	plan, err := loadPlan(ctx, db.Read, sub.PlanID)
	if err != nil {
		return nil, err
	}
	sf, err := db.storefrontOf(ctx, db.Read, cust, plan.OwnerID)
	if err != nil {
		return nil, err
	}
	out := &SubscriptionOffers{SubscriptionID: sub.ID, Upgrades: []catalog.Offer{}, Downgrades: []catalog.Offer{}}
	var ids []int64
	for _, keys := range [][]string{plan.UpgradeTo, plan.DowngradeTo} {
		for _, k := range keys {
			if id, ok := sf.onSale[k]; ok {
				ids = append(ids, id)
			}
		}
	}
	plans, err := db.PlansByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	all := []*catalog.Plan{plan.Plan}
	for _, p := range plans {
		all = append(all, p)
	}
	if err := db.loadOfferResources(ctx, db.Read, sf, all...); err != nil {
		return nil, err
	}
	c := sf.context()
	if plan.OnSale() {
		o := catalog.OfferOf(plan.Plan, c)
		out.Current = &o
	}
	// The plan's paths, in its order, to plans on sale (OfferOf keeps
	// only those).
	self := catalog.OfferOf(plan.Plan, c)
	for _, id := range self.UpgradeTo {
		if p, ok := plans[id]; ok {
			out.Upgrades = append(out.Upgrades, catalog.OfferOf(p, c))
		}
	}
	for _, id := range self.DowngradeTo {
		if p, ok := plans[id]; ok {
			out.Downgrades = append(out.Downgrades, catalog.OfferOf(p, c))
		}
	}
	return out, nil
}

// storefront authorizes the actor to see the offers of buyer buyerID and
// loads the buyer's vendor's store.
func (db *DB) storefront(ctx context.Context, q querier, actor *account.Actor, buyerID int64) (*storefront, error) {
	buyer, err := loadAccount(ctx, q, buyerID)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, account.ViewOffers, account.Target{AccountID: buyer.ID, Path: buyer.Path}); err != nil {
		return nil, hideAs(err, "account")
	}
	if buyer.Kind != account.Customer {
		return nil, marketplane.Errorf(marketplane.EINVALID,
			"account %d is a %s: only customers buy from a store (a reseller gets its parent's plans by delegation)", buyer.ID, buyer.Kind)
	}
	return db.storefrontOf(ctx, q, buyer, buyer.ParentID)
}

// storefrontOf loads the store of vendorID for buyer, who is authorized.
func (db *DB) storefrontOf(ctx context.Context, q querier, buyer *account.Account, vendorID int64) (*storefront, error) {
	vendor, err := loadAccount(ctx, q, vendorID)
	if err != nil {
		return nil, err
	}
	sf := &storefront{buyer: buyer, vendor: vendor, shelves: map[string]int{}, onSale: map[string]int64{},
		resources: map[string]catalog.ResourceType{}}
	shelves, list, err := loadShelves(ctx, q, vendor.ID)
	if err != nil {
		return nil, err
	}
	sf.categories = treeOrder(list)
	for i, c := range sf.categories {
		if shown(shelves, c) {
			sf.shelves[c.Key] = i
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT key, id FROM plans WHERE owner_id = $1 AND published = $2 AND needs_confirmation = $3`,
		vendor.ID, true, false)
	if err != nil {
		return nil, fmt.Errorf("offers: plans on sale: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("offers: plans on sale: %w", err)
		}
		sf.onSale[k] = id
	}
	return sf, rows.Err()
}

// shown reports whether c and every category above it are displayed.
func shown(shelves salesShelves, c *SalesCategory) bool {
	for depth := 0; c != nil && depth < 64; depth++ {
		if !c.Displayed {
			return false
		}
		if c.Parent == "" {
			return true
		}
		c = shelves[c.Parent]
	}
	// A parent missing or a cycle: hand-edited data shows nothing.
	return false
}

// plan loads plan id if the vendor has it on sale.
func (sf *storefront) plan(ctx context.Context, q querier, id int64) (*catalog.Plan, error) {
	r, err := loadPlan(ctx, q, id)
	if err != nil || r.OwnerID != sf.vendor.ID || !r.OnSale() {
		if err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
			return nil, err
		}
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "offer not found")
	}
	return r.Plan, nil
}

// loadOfferResources reads the provider's resource types that plans' rates
// name (their names and units) into sf.
func (db *DB) loadOfferResources(ctx context.Context, q querier, sf *storefront, plans ...*catalog.Plan) error {
	var keys []string
	for _, p := range plans {
		for _, r := range p.Rates {
			if _, ok := sf.resources[r.Resource]; r.Resource != "" && !ok {
				keys = append(keys, r.Resource)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT `+resourceTypeColumns+` FROM resource_types
		WHERE owner_id = (SELECT id FROM accounts WHERE kind = 'provider') AND `+db.anyText("key", 1), db.textsArg(uniqueStrings(keys)))
	if err != nil {
		return fmt.Errorf("offers: resource types: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		rt, err := scanResourceType(rows)
		if err != nil {
			return fmt.Errorf("offers: resource types: %w", err)
		}
		sf.resources[rt.Key] = rt.ResourceType
	}
	return rows.Err()
}

// context is what catalog.OfferOf needs.
func (sf *storefront) context() catalog.OfferContext {
	return catalog.OfferContext{Locale: sf.buyer.Locale, Resources: sf.resources, Shelves: sf.shelves,
		OnSale: func(k string) (int64, bool) { id, ok := sf.onSale[k]; return id, ok }}
}
