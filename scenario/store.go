package scenario

// The store player: the same cases as Play, through the store's public
// order path on a real database, so that what a customer is invoiced is
// what the golden files say on SQLite and on PostgreSQL alike.

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// tier's copies with the scenario's price rules (store.InsertCopies), gives
// the customer its payment terms (store.SetTerms; net days on the
// account), and plays every step through the store's public functions:
// orders, changes and cancellations as a user of the customer
// (PlaceOrder, ChangeOrder, CancelOrder), completed as the provisioning
// orchestrator does when a service has no connector (CompleteOrder);
// usage readings (RecordUsage); the daily billing run of each bill step's
// day (BillDay); payments and top-ups (ReceivePayment); a temporary
// release of a credit hold (ReleaseCreditHold); and checks of what the
// store holds (the account's status, the subscription's status and
// period, the customer's latest invoice, its prepaid funds and available
// balance from Credit). It sets db.Clock to a test clock that it moves to
// each step's day.
//
// The documents are the ledger's, in issue order: every invoice, credit
// memo and payment any account issued, with the tiers of seller and
// buyer; a payment is reported with its amount as a positive total and no
// lines, as the golden files write it. A refused step, a failed check or a
// subscription the billing run could not bill is recorded in Errors and
// play goes on. An order step also checks that the store's Quote prices
// it as the order does. The error returned is for a case that cannot be
// set up.
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
	var stepOf []int // the step that issued each document, in id order
	for j, st := range k.Steps {
		p.clock.Set(p.at(st.On))
		if err := p.play(ctx, j, &st); err != nil {
			p.res.Errors = append(p.res.Errors, StepError{Step: j, Err: err})
		}
		n, err := p.documentCount(ctx)
		if err != nil {
			return nil, err
		}
		for len(stepOf) < n {
			stepOf = append(stepOf, j)
		}
	}
	if err := p.documents(ctx, stepOf); err != nil {
		return nil, fmt.Errorf("%s case %d: documents: %w", s.File, i+1, err)
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
			if c := p.customer; c != nil && c.Terms != nil {
				if _, err := p.db.SetTerms(ctx, p.sys, a.ID, c.Terms.account()); err != nil {
					return fmt.Errorf("terms of %s: %w", name, err)
				}
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
	case Usage:
		return p.usage(ctx, st)
	case Bill:
		res, err := p.db.BillDay(ctx, p.at(st.On))
		if err != nil {
			return err
		}
		for _, f := range res.Failures {
			return fmt.Errorf("billing: subscription %d account %d: %w", f.SubscriptionID, f.AccountID, f.Err)
		}
		return nil
	case Pay, Topup:
		amount, err := st.Amount.Money()
		if err != nil {
			return err
		}
		_, err = p.db.ReceivePayment(ctx, p.sys, store.Payment{AccountID: p.accountID(Buyer), Amount: amount,
			Method: "bank transfer", TopUp: st.Do == Topup}, nil)
		return err
	case Release:
		_, err := p.db.ReleaseCreditHold(ctx, p.sys, p.accountID(Buyer), st.Days, st.Reason, nil)
		return err
	case Check:
		return p.check(ctx, st)
	default:
		return fmt.Errorf("%s is not a step the store plays", st.Do)
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
	if stored.Total != stored.Quote.Total {
		return fmt.Errorf("order %d: total %s, its quote's %s", stored.Number, stored.Total, stored.Quote.Total)
	}
	p.res.Orders = append(p.res.Orders, stored)
	return nil
}

// usage records a reading of the subscription the last order made, at
// the step's moment; the resource's kind in the plan says whether it is a
// counter (additive) or a level.
func (p *storePlayer) usage(ctx context.Context, st *Step) error {
	if p.subID == 0 {
		return fmt.Errorf("no subscription to read usage of")
	}
	v := st.Value.Decimal
	n, frac, ok := v.Int64(6)
	if !ok || v.Scale() > 6 {
		return fmt.Errorf("usage value %s: the store keeps millionths of a unit", v)
	}
	additive := false
	for _, pl := range p.s.Plans {
		for _, r := range pl.Resources {
			if r.ID == st.Resource && r.Kind == "additive" {
				additive = true
			}
		}
	}
	for _, t := range p.s.Tiers {
		for _, pl := range t.Plans {
			for _, r := range pl.Resources {
				if r.ID == st.Resource && r.Kind == "additive" {
					additive = true
				}
			}
		}
	}
	_, err := p.db.RecordUsage(ctx, p.subID, []store.UsageReading{{Resource: st.Resource, Value: n, Fraction: frac, Additive: additive, At: p.at(st.On)}})
	return err
}

// check compares what the store holds with what a check step expects.
func (p *storePlayer) check(ctx context.Context, st *Step) error {
	var wrong []string
	want := func(what, got, want string) {
		if got != want {
			wrong = append(wrong, fmt.Sprintf("%s %s, want %s", what, got, want))
		}
	}
	cust := p.accountID(Buyer)
	if st.Account != "" {
		a, err := p.db.Account(ctx, p.sys, cust)
		if err != nil {
			return err
		}
		want("account", string(a.Status), st.Account)
	}
	if st.Subscription != "" || st.Period != nil {
		if p.subID == 0 {
			return fmt.Errorf("check: no subscription")
		}
		sub, err := p.db.Subscription(ctx, p.sys, p.subID)
		if err != nil {
			return err
		}
		if st.Subscription != "" {
			want("subscription", string(sub.Status), st.Subscription)
		}
		if st.Period != nil {
			want("period", fmt.Sprintf("[%s, %s]", date(sub.PeriodStart), date(sub.PeriodEnd)), fmt.Sprintf("[%s, %s]", st.Period[0], st.Period[1]))
		}
	}
	if st.Invoice != "" {
		docs, err := p.db.Documents(ctx, p.sys, store.DocumentFilter{AccountID: cust, Type: store.DocInvoice, Limit: 1})
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			wrong = append(wrong, "no invoice, want one "+st.Invoice)
		} else {
			want("invoice "+docs[0].Number, string(docs[0].Status), st.Invoice)
		}
	}
	if st.PrepaidFunds != nil || st.AvailableBalance != nil {
		c, err := p.db.Credit(ctx, p.sys, cust)
		if err != nil {
			return err
		}
		if st.PrepaidFunds != nil {
			want("prepaid funds", c.PrepaidFunds.Format(p.s.Currency), st.PrepaidFunds.Text)
		}
		if st.AvailableBalance != nil {
			want("available balance", c.Available.Format(p.s.Currency), st.AvailableBalance.Text)
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("check: %s", strings.Join(wrong, "; "))
	}
	return nil
}

// documentCount is how many documents the ledger holds.
func (p *storePlayer) documentCount(ctx context.Context) (int, error) {
	n := 0
	err := p.eachDocument(ctx, func(*store.Document) { n++ })
	return n, err
}

// eachDocument calls fn for every document of the ledger, newest first.
func (p *storePlayer) eachDocument(ctx context.Context, fn func(*store.Document)) error {
	var before int64
	for {
		docs, err := p.db.Documents(ctx, p.sys, store.DocumentFilter{BeforeID: before, Limit: 100})
		if err != nil {
			return err
		}
		for _, d := range docs {
			fn(d)
		}
		if len(docs) < 100 {
			return nil
		}
		before = docs[len(docs)-1].ID
	}
}

// documents reads the ledger into the result, in issue order; stepOf[n]
// is the step that issued the n-th.
func (p *storePlayer) documents(ctx context.Context, stepOf []int) error {
	var docs []*store.Document
	if err := p.eachDocument(ctx, func(d *store.Document) { docs = append(docs, d) }); err != nil {
		return err
	}
	slices.Reverse(docs)
	for n, d := range docs {
		is := Issued{On: d.IssuedOn, Type: string(d.Type), Due: d.DueOn, ReverseCharge: d.ReverseCharge, Currency: d.Currency,
			Lines: d.Lines, Total: d.Total}
		if n < len(stepOf) {
			is.Step = stepOf[n]
		}
		if d.Type == store.DocPayment {
			// The golden files write a payment as the amount received.
			is.Lines, is.Total = nil, -d.Total
		}
		if p.m.Tiered {
			is.From, is.To = p.tierOf[d.VendorID], p.tierOf[d.AccountID]
		}
		p.res.Documents = append(p.res.Documents, is)
	}
	return nil
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

// account is the store's form of the terms.
func (t *Terms) account() account.Terms {
	var out account.Terms
	if t.GraceDays != nil {
		out.GraceDays = *t.GraceDays
	}
	if t.ChargeAfterDays != nil {
		out.ChargeAfterDays = *t.ChargeAfterDays
	}
	if t.PaygSuspensionDelayDays != nil {
		out.PAYGSuspensionDelayDays = *t.PaygSuspensionDelayDays
	}
	out.Hold, out.OnHold = account.HoldMode(t.Hold), account.HoldAction(t.OnHold)
	return out
}
