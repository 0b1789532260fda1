package scenario

// The store player: the same cases as Play, through the store's public
// order path on a real database, so that what a customer is invoiced is
// what the golden files say on SQLite and on PostgreSQL alike.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
)

// StoreZone is the time zone of every account the store player creates.
// Its clock stands at half past midnight there on each step's day, which
// is still the day before in UTC: a store that took calendar days in UTC
// rather than in the vendor's zone would date every document a day early.
const StoreZone = "Asia/Tokyo"

// StoreResult is what playing a case through the store produced: the
// documents as Play reports them, and what the store holds.
type StoreResult struct {
	Result
	// Accounts are the accounts made for the case, by tier name
	// ("provider" and "customer" in a scenario without tiers), as stored.
	Accounts map[string]*account.Account
	// Orders are the orders placed, in step order, as stored once
	// completed, with every tier.
	Orders []*store.Order
}

// PlayStore plays case i of s on db, which must be a fresh migrated
// database: it creates the accounts of the market (the provider selling to
// the customer, or the tiers of a tiered scenario, each a reseller below
// its parent), imports the root's plans as its catalog, delegates each
// tier's copies with the scenario's price rules (store.InsertCopies), and
// runs the order, change and cancellation steps as a user of the customer
// (PlaceOrder, ChangeOrder, CancelOrder), completing each order as the
// provisioning orchestrator does when a service has no connector
// (CompleteOrder). It sets db.Clock to a test clock that it moves to each
// step's day.
//
// The documents are read back from the stored orders: the order's quote is
// the customer's invoice or credit memo of that day, each tier's quote the
// wholesale document of its seller to its buyer, in that order, the
// customer's first; a document whose lines are all zero is not issued. An
// invoice is due after the customer account's payment terms
// (PaymentTermsDays; none when 0).
//
// Like Play it passes over usage, pay, topup, release and check steps and
// stops at the first bill step; a refused step is recorded in Errors and
// play goes on. An order step also checks that the store's Quote prices it
// as the order does and that stored totals match their lines; a
// disagreement is an error of the step. The error returned is for a case
// that cannot be set up.
func PlayStore(ctx context.Context, db *store.DB, s *Scenario, i int) (*StoreResult, error) {
	if i < 0 || i >= len(s.Cases) {
		return nil, fmt.Errorf("%s: no case %d", s.File, i)
	}
	k := &s.Cases[i]
	m, err := s.Market()
	if err != nil {
		return nil, err
	}
	zone, err := time.LoadLocation(StoreZone)
	if err != nil {
		return nil, err
	}
	p := &storePlayer{db: db, s: s, m: m, zone: zone, sys: account.SystemActor(), mode: k.Mode,
		clock:    marketplane.NewTestClock(k.Steps[0].On.Time),
		res:      &StoreResult{Result: Result{Stop: len(k.Steps)}, Accounts: map[string]*account.Account{}},
		customer: s.Customer, tierOf: map[int64]string{}, actors: map[string]*account.Actor{}}
	if k.Customer != nil {
		p.customer = k.Customer
	}
	db.Clock = p.clock
	if err := p.setup(ctx); err != nil {
		return nil, fmt.Errorf("%s case %d: set up: %w", s.File, i+1, err)
	}
	for j, st := range k.Steps {
		if st.Do == Bill {
			p.res.Stop, p.res.StopOn = j, st.On.Time
			break
		}
		if Billing(st.Do) {
			p.res.Skipped = append(p.res.Skipped, j)
			continue
		}
		p.clock.Set(p.at(st.On))
		if err := p.play(ctx, j, &st); err != nil {
			p.res.Errors = append(p.res.Errors, StepError{Step: j, Err: err})
		}
	}
	return p.res, nil
}

type storePlayer struct {
	db       *store.DB
	s        *Scenario
	m        *Market
	zone     *time.Location
	clock    *marketplane.TestClock
	sys      *account.Actor
	res      *StoreResult
	customer *Customer

	tierOf map[int64]string          // account id → tier name
	actors map[string]*account.Actor // a user of each buying tier

	subID         int64 // the subscription the last order made
	seller, buyer string
	mode          string // the case's proration mode
}

// selling is the sellers' settings of the scenario: the case's proration
// mode and the vendor's tax rates.
func (p *storePlayer) selling() account.Selling {
	var sl account.Selling
	switch p.mode {
	case "next_billing_date":
		sl.Downgrades = "next_billing_date"
	case "none":
		sl.Proration = "none"
	}
	if p.s.Vendor != nil && len(p.s.Vendor.Tax) > 0 {
		sl.TaxRates = map[string]string{}
		for c, r := range p.s.Vendor.Tax {
			sl.TaxRates[c] = r.Decimal.String()
		}
	}
	return sl
}

// at is the moment of a step on day d: half past midnight in the
// accounts' zone (see StoreZone).
func (p *storePlayer) at(d Date) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 30, 0, 0, p.zone)
}

// tiers lists the market's accounts from the root down, each after its
// parent.
func (p *storePlayer) tiers() ([]string, error) {
	if !p.m.Tiered {
		return []string{Provider, Buyer}, nil
	}
	return tierOrder(p.s.Tiers)
}

func (p *storePlayer) setup(ctx context.Context) error {
	names, err := p.tiers()
	if err != nil {
		return err
	}
	sells := map[string]bool{}
	for _, name := range names {
		if parent := p.m.Parent[name]; parent != "" {
			sells[parent] = true
		}
		if len(p.m.Plans[name]) > 0 {
			sells[name] = true
		}
	}
	sellerCountry := "US"
	if p.s.Vendor != nil {
		sellerCountry = p.s.Vendor.Country
	}
	for _, name := range names {
		a := &account.Account{Name: name, ParentID: p.accountID(p.m.Parent[name]), Locale: "en-US",
			Currency: p.s.Currency, TimeZone: StoreZone, Address: account.Address{Country: sellerCountry}, Selling: p.selling()}
		switch {
		case p.m.Parent[name] == "":
			a.Kind = account.Provider
			err = p.db.CreateProvider(ctx, a)
		case sells[name]:
			a.Kind = account.Reseller
			err = p.db.CreateAccount(ctx, p.sys, a)
		default:
			a.Kind = account.Customer
			a.Address.Country = "US"
			if c := p.customer; c != nil {
				if c.Country != "" {
					a.Address.Country = c.Country
				}
				a.VATID = c.VATID
				if c.Terms != nil && c.Terms.NetDays != nil {
					a.PaymentTermsDays = *c.Terms.NetDays
				}
			}
			err = p.db.CreateAccount(ctx, p.sys, a)
		}
		if err != nil {
			return fmt.Errorf("account %s: %w", name, err)
		}
		if p.res.Accounts[name], err = p.db.Account(ctx, p.sys, a.ID); err != nil {
			return err
		}
		p.tierOf[a.ID] = name
		if err := p.catalog(ctx, name); err != nil {
			return fmt.Errorf("catalog of %s: %w", name, err)
		}
		if a.Kind == account.Customer {
			if p.actors[name], err = p.user(ctx, a); err != nil {
				return fmt.Errorf("user of %s: %w", name, err)
			}
		}
	}
	return nil
}

func (p *storePlayer) accountID(tier string) int64 {
	if a := p.res.Accounts[tier]; a != nil {
		return a.ID
	}
	return 0
}

// catalog stores the plans tier sells: the root's with the resource types
// and templates they are made of (ImportCatalog), a reseller's own
// originals (ImportCatalog) and its copies of its parent's plans, priced by
// the scenario's rule and inserted in one batch, so that copies naming each
// other on their upgrade and downgrade paths keep them.
func (p *storePlayer) catalog(ctx context.Context, tier string) error {
	id := p.accountID(tier)
	var doc *catalog.Document
	if p.m.Parent[tier] == "" {
		doc = p.m.Catalog()
	} else {
		doc = &catalog.Document{Version: catalog.FormatVersion}
		if p.m.Tiered {
			for _, pl := range p.s.Tiers[tier].Plans {
				doc.Plans = append(doc.Plans, *p.m.Plans[tier][pl.ID])
			}
		}
	}
	for i := range doc.Plans {
		doc.Plans[i] = *doc.Plans[i].Clone()
		doc.Plans[i].ID, doc.Plans[i].OwnerID = 0, id
	}
	if len(doc.Plans) > 0 {
		if _, err := p.db.ImportCatalog(ctx, p.sys, id, doc, store.ImportOptions{}); err != nil {
			return err
		}
	}
	if !p.m.Tiered {
		return nil
	}
	t := p.s.Tiers[tier]
	var copies []*catalog.Plan
	for _, key := range sortedKeys(t.Delegates) {
		src, err := p.db.PlanByKey(ctx, p.sys, p.accountID(t.Parent), key)
		if err != nil {
			return fmt.Errorf("source %s of %s: %w", key, t.Parent, err)
		}
		c, err := delegate(src, t.Delegates[key], 0, id, p.s.Currency)
		if err != nil {
			return fmt.Errorf("delegates.%s: %w", key, err)
		}
		copies = append(copies, c)
	}
	return p.db.InsertCopies(ctx, p.sys, copies, delegation.CheckPrices)
}

// user creates an administrator of customer account a and returns its
// actor: orders are placed as the customer would place them.
func (p *storePlayer) user(ctx context.Context, a *account.Account) (*account.Actor, error) {
	role, err := p.db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		return nil, err
	}
	u := &account.User{AccountID: a.ID, Login: fmt.Sprintf("%s-%d", a.Name, a.ID), RoleIDs: []int64{role.ID}}
	if err := p.db.CreateUser(ctx, p.sys, u, "scenario-password-"+u.Login); err != nil {
		return nil, err
	}
	return p.db.ActorForUser(ctx, u.ID)
}

// planID is the id of the plan seller sells under key.
func (p *storePlayer) planID(ctx context.Context, seller, key string) (int64, error) {
	pl, err := p.db.PlanByKey(ctx, p.sys, p.accountID(seller), key)
	if err != nil {
		return 0, fmt.Errorf("%s's plan %s: %w", seller, key, err)
	}
	return pl.ID, nil
}

func (p *storePlayer) play(ctx context.Context, j int, st *Step) error {
	var o *store.Order
	switch st.Do {
	case Order:
		p.buyer = Buyer
		if st.As != "" {
			p.buyer = st.As
		}
		p.seller = p.m.Parent[p.buyer]
		planID, err := p.planID(ctx, p.seller, st.Plan)
		if err != nil {
			return err
		}
		key, err := PeriodKey(st.Duration)
		if err != nil {
			return err
		}
		actor := p.actors[p.buyer]
		req := store.OrderRequest{CustomerID: p.accountID(p.buyer), PlanID: planID, Period: key,
			Resources: st.Resources, ConfirmZero: st.ConfirmZero}
		quote, quoteErr := p.db.Quote(ctx, actor, req)
		if o, err = p.db.PlaceOrder(ctx, actor, req, nil); err != nil {
			if quoteErr == nil {
				return fmt.Errorf("the quote priced an order that PlaceOrder refuses: %w", err)
			}
			return err
		}
		if quoteErr != nil {
			return fmt.Errorf("PlaceOrder placed order %d that the quote refused: %v", o.Number, quoteErr)
		}
		if a, b := renderQuote(quote.Quote), renderQuote(o.Quote); !slices.Equal(a, b) {
			return fmt.Errorf("the quote %v and order %d %v differ", a, o.Number, b)
		}
		p.subID = o.SubscriptionID
	case Change:
		if p.subID == 0 {
			return fmt.Errorf("no subscription to change")
		}
		req := store.ChangeRequest{Resources: st.Resources}
		if st.To != "" {
			var err error
			if req.PlanID, err = p.planID(ctx, p.seller, st.To); err != nil {
				return err
			}
		}
		var err error
		if o, err = p.db.ChangeOrder(ctx, p.actors[p.buyer], p.subID, req, nil); err != nil {
			return err
		}
	case Cancel:
		if p.subID == 0 {
			return fmt.Errorf("no subscription to cancel")
		}
		var err error
		if o, err = p.db.CancelOrder(ctx, p.actors[p.buyer], p.subID, time.Time{}, nil); err != nil {
			return err
		}
		p.subID = 0
	default:
		return fmt.Errorf("%s is not an order step", st.Do)
	}
	// No template has a connector: provisioning has nothing to call, and
	// the orchestrator completes the order at once.
	if _, err := p.db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
		return fmt.Errorf("complete order %d: %w", o.Number, err)
	}
	stored, err := p.db.Order(ctx, p.sys, o.ID)
	if err != nil {
		return err
	}
	if stored.Status != order.StatusCompleted {
		return fmt.Errorf("order %d is %s after completion", stored.Number, stored.Status)
	}
	p.res.Orders = append(p.res.Orders, stored)
	return p.issue(j, stored)
}

// issue turns a stored order into its documents: the customer's, then each
// tier's from the vendor's parent up to the provider.
func (p *storePlayer) issue(j int, o *store.Order) error {
	if o.Total != o.Quote.Total {
		return fmt.Errorf("order %d: total %s, its quote's %s", o.Number, o.Total, o.Quote.Total)
	}
	on := order.Day(o.Details.On, p.zone)
	cust := p.res.Accounts[p.tierOf[o.CustomerID]]
	var due time.Time
	if cust != nil && cust.PaymentTermsDays > 0 {
		due = on.AddDate(0, 0, cust.PaymentTermsDays)
	}
	p.add(j, on, o.Quote, p.tierOf[o.VendorID], p.tierOf[o.CustomerID], due)
	tiers := slices.Clone(o.Tiers)
	slices.SortFunc(tiers, func(a, b store.OrderTier) int { return a.Tier - b.Tier })
	for _, t := range tiers {
		if t.Total != t.Quote.Total {
			return fmt.Errorf("order %d tier %d: total %s, its quote's %s", o.Number, t.Tier, t.Total, t.Quote.Total)
		}
		p.add(j, on, t.Quote, p.tierOf[t.SellerID], p.tierOf[t.BuyerID], time.Time{})
	}
	return nil
}

func (p *storePlayer) add(j int, on time.Time, q *order.Quote, from, to string, due time.Time) {
	if q.Empty() {
		return // rule 8: a document whose lines are all zero is not issued
	}
	d := Issued{On: on, Type: "invoice", ReverseCharge: q.ReverseCharge, Currency: q.Currency, Lines: q.Lines, Total: q.Total, Step: j}
	if q.Total < 0 {
		d.Type = "credit_memo"
	} else {
		d.Due = due
	}
	if p.m.Tiered {
		d.From, d.To = from, to
	}
	p.res.Documents = append(p.res.Documents, d)
}

// renderQuote writes a quote one line per string, every field of its
// lines, for comparisons that must not depend on how times and decimals
// were stored.
func renderQuote(q *order.Quote) []string {
	if q == nil {
		return nil
	}
	out := []string{fmt.Sprintf("%s total %s reverse charge %t effective %s", q.Currency, q.Total.Format(q.Currency), q.ReverseCharge, date(q.EffectiveOn))}
	for _, l := range q.Lines {
		out = append(out, renderLine(l, q.Currency))
	}
	return out
}

func renderLine(l order.Line, currency string) string {
	return fmt.Sprintf("%s %q ×%s [%s, %s) %s rate %s %q", l.What, l.Resource, numberOf(l.Quantity),
		date(l.From), date(l.To), l.Amount.Format(currency), numberOf(l.TaxRate), l.Description)
}

// Render writes a document on one line per string, every field included,
// so that the documents of two players can be compared exactly.
func (d Issued) Render() []string {
	out := []string{fmt.Sprintf("%s %s %s→%s due %s reverse charge %t %s total %s (step %d)", date(d.On), d.Type, d.From, d.To,
		date(d.Due), d.ReverseCharge, d.Currency, d.Total.Format(d.Currency), d.Step+1)}
	for _, l := range d.Lines {
		out = append(out, "    "+renderLine(l, d.Currency))
	}
	return out
}
