// Package demo loads a small demo marketplace into a Marketplane database:
// a provider, three L1 resellers with two to four L2 resellers each, 300
// customers with realistic settings, users of every kind with printed demo
// passwords, and the demo catalog (catalog.DemoDocument) delegated down the
// whole tree, so that a new user can log in to every panel at once and find
// plans to sell and buy.
//
// Loading is idempotent: demo accounts are found again by their external ids
// ("demo-l1-1", …), users by their logins, catalog objects by their keys and
// copies by their source, and what exists is left as it is (passwords and
// prices included), so running it twice changes nothing.
package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// ProviderName is the name of the provider the demo creates when the
// database has none yet.
const ProviderName = "Marketplane Demo Provider"

// CustomersPerReseller is how many customers each demo reseller (L1 and
// L2) sells to: 25 × 12 resellers = 300 customers.
const CustomersPerReseller = 25

// Summary is what Load found and made.
type Summary struct {
	Provider *account.Account
	// Resellers and Customers count the demo tree (found or created).
	Resellers int
	Customers int
	// AccountsCreated and UsersCreated count what this run created; a
	// second run creates nothing.
	AccountsCreated int
	UsersCreated    int
	// Logins are the demo users, in the order printed.
	Logins []Login

	// Plans counts the provider's plans of the demo catalog and Copies
	// their delegated copies in the demo tree (found or created).
	Plans  int
	Copies int
	// CatalogCreated counts the catalog objects (resource types,
	// templates, categories, plans) this run imported, CopiesCreated the
	// copies it delegated.
	CatalogCreated int
	CopiesCreated  int
	// CatalogSkipped says why the demo catalog was not loaded; "" when it
	// was.
	CatalogSkipped string
	// Try is a first order to place through the API; nil when the
	// catalog was not loaded.
	Try *Try
}

// Try is a first order a new user can place through the API: the first
// L1 reseller sells its copy of Office Basic to its first customer.
type Try struct {
	Reseller *account.Account
	Customer *account.Account
	Plan     *catalog.Plan
	Period   string
	// Resources are the amounts to order, by rate key.
	Resources map[string]int64
}

// Login is one demo user.
type Login struct {
	Login    string
	Password string // the demo password it was created with
	UserID   int64
	Account  string // the account's name
	// AccountID is the user's account.
	AccountID int64
	// Kind is "provider", "reseller L1", "reseller L2" or "customer".
	Kind    string
	Role    string // the role's name
	Created bool   // created by this run (else found and left alone)
}

// Password is the demo password of a demo login. Demo passwords are
// predictable on purpose; they are printed, and a server open to others
// must change them.
func Password(login string) string { return "demo-" + login + "-pw" }

// place is a country with its locale, currency and time zone, for
// realistic account settings.
type place struct {
	country, locale, currency, timeZone, city, postal, phone string
}

// reseller describes one demo reseller.
type reseller struct {
	ext, code, name string
	places          []place // the reseller's own place first, then its customers' others
}

var (
	usPlaces = []place{
		{"US", "en-US", "USD", "America/Chicago", "Chicago", "60601", "+1 312 555 0"},
		{"US", "en-US", "USD", "America/New_York", "Boston", "02108", "+1 617 555 0"},
		{"US", "en-US", "USD", "America/Denver", "Denver", "80202", "+1 303 555 0"},
		{"US", "en-US", "USD", "America/Los_Angeles", "Seattle", "98101", "+1 206 555 0"},
		{"US", "es-US", "USD", "America/Chicago", "Houston", "77002", "+1 713 555 0"},
	}
	dePlaces = []place{
		{"DE", "de-DE", "EUR", "Europe/Berlin", "Köln", "50667", "+49 221 5550"},
		{"DE", "de-DE", "EUR", "Europe/Berlin", "Hamburg", "20095", "+49 40 5550"},
		{"AT", "de-AT", "EUR", "Europe/Vienna", "Wien", "1010", "+43 1 5550"},
		{"DE", "de-DE", "EUR", "Europe/Berlin", "München", "80331", "+49 89 5550"},
		{"LU", "de-LU", "EUR", "Europe/Luxembourg", "Luxembourg", "1111", "+352 5550"},
	}
	frPlaces = []place{
		{"FR", "fr-FR", "EUR", "Europe/Paris", "Lyon", "69002", "+33 4 55 50"},
		{"FR", "fr-FR", "EUR", "Europe/Paris", "Paris", "75008", "+33 1 55 50"},
		{"BE", "fr-BE", "EUR", "Europe/Brussels", "Bruxelles", "1000", "+32 2 555 0"},
		{"FR", "fr-FR", "EUR", "Europe/Paris", "Bordeaux", "33000", "+33 5 55 50"},
		{"IE", "en-IE", "EUR", "Europe/Dublin", "Dublin", "D02", "+353 1 555 0"},
	}
)

// l1s are the demo's L1 resellers with their L2 resellers (2, 3 and 4).
var l1s = []struct {
	reseller
	l2 []string
}{
	{reseller{"demo-l1-1", "l1-1", "Northwind Cloud Partners", usPlaces},
		[]string{"Prairie IT Services", "Lakeshore Tech Solutions"}},
	{reseller{"demo-l1-2", "l1-2", "Rheinwerk Cloud GmbH", dePlaces},
		[]string{"Hamburger Systemhaus", "Alpen Netzwerk GmbH", "Elbe Digital"}},
	{reseller{"demo-l1-3", "l1-3", "Lumière Numérique SAS", frPlaces},
		[]string{"Atelier Informatique Bordeaux", "Nantes Cloud Conseil", "Marseille Solutions IT", "Lille Numérique"}},
}

// contactNames and trades make the demo customers' contacts.
var (
	contactNames = []string{"Alex Morgan", "Maria Schmidt", "Jean Dupont", "Priya Patel", "Tom Becker",
		"Sofia Rossi", "Liam Walsh", "Emma Laurent", "Noah Fischer", "Olivia Brown", "Lucas Martin"}
	trades = []string{"Bakery", "Law Office", "Dental Clinic", "Architects", "Logistics", "Consulting",
		"Travel Agency", "Print Shop", "Software", "Florist", "Accounting", "Fitness Studio", "Brewery"}
)

// loader carries one Load run.
type loader struct {
	db    *store.DB
	sys   *account.Actor
	sum   *Summary
	roles map[string]*account.Role
}

// Load loads the demo marketplace into db and prints a table of the demo
// logins to out (nil for none). It uses the database's provider when there
// is one, else creates ProviderName. Everything that exists already is left
// alone.
func Load(ctx context.Context, db *store.DB, out io.Writer) (*Summary, error) {
	l := &loader{db: db, sys: account.SystemActor(), sum: &Summary{}, roles: map[string]*account.Role{}}
	for _, key := range []string{account.RoleAdmin, account.RoleBilling, account.RoleSupport} {
		ro, err := db.RoleByKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		l.roles[key] = ro
	}
	if err := l.load(ctx); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if out != nil {
		if err := l.sum.Print(out); err != nil {
			return nil, err
		}
	}
	return l.sum, nil
}

func (l *loader) load(ctx context.Context) error {
	prov, err := l.provider(ctx)
	if err != nil {
		return err
	}
	l.sum.Provider = prov
	if err := l.user(ctx, "provider-admin", prov, "provider", account.RoleAdmin, "Provider administrator"); err != nil {
		return err
	}
	if err := l.user(ctx, "provider-billing", prov, "provider", account.RoleBilling, "Provider billing manager"); err != nil {
		return err
	}
	if err := l.user(ctx, "provider-support", prov, "provider", account.RoleSupport, "Provider support (read-only)"); err != nil {
		return err
	}

	type withCustomers struct {
		r    reseller
		acct *account.Account
	}
	var sellers []withCustomers
	var tree []branch
	for i, d := range l1s {
		l1, err := l.reseller(ctx, prov, d.reseller)
		if err != nil {
			return err
		}
		sellers = append(sellers, withCustomers{d.reseller, l1})
		tree = append(tree, branch{l1: l1})
		if err := l.user(ctx, d.code+"-admin", l1, "reseller L1", account.RoleAdmin, d.name+" administrator"); err != nil {
			return err
		}
		for j, name := range d.l2 {
			code := fmt.Sprintf("l2-%d-%d", i+1, j+1)
			// L2 resellers sit in their L1's region, each in another city.
			r := reseller{"demo-" + code, code, name, rotate(d.places, j+1)}
			l2, err := l.reseller(ctx, l1, r)
			if err != nil {
				return err
			}
			sellers = append(sellers, withCustomers{r, l2})
			tree[i].l2s = append(tree[i].l2s, l2)
			if err := l.user(ctx, code+"-admin", l2, "reseller L2", account.RoleAdmin, name+" administrator"); err != nil {
				return err
			}
		}
	}
	l.sum.Resellers = len(sellers)

	// The customers of all resellers go in one bulk call.
	var missing []*account.Account
	firsts := map[string]*account.Account{} // reseller code → its first customer
	for _, s := range sellers {
		have, err := l.db.ChildrenByExternalID(ctx, s.acct.ID, account.Customer)
		if err != nil {
			return err
		}
		for n := 1; n <= CustomersPerReseller; n++ {
			ext := fmt.Sprintf("demo-customer-%s-%03d", s.r.code, n)
			c, ok := have[ext]
			if !ok {
				c = customer(s.r, s.acct, n)
				c.ExternalID = ext
				missing = append(missing, c)
			}
			if n == 1 {
				firsts[s.r.code] = c
			}
		}
	}
	if err := l.db.CreateAccountsBulk(ctx, missing); err != nil {
		return fmt.Errorf("customers: %w", err)
	}
	l.sum.AccountsCreated += len(missing)
	l.sum.Customers = len(sellers) * CustomersPerReseller

	// A user for the first customer of a few resellers, at both depths.
	for i, code := range []string{"l1-1", "l2-1-1", "l1-2", "l2-3-1"} {
		c := firsts[code]
		if err := l.user(ctx, fmt.Sprintf("customer-%d", i+1), c, "customer", account.RoleAdmin, c.Contact.Name); err != nil {
			return err
		}
	}
	if err := l.catalog(ctx, prov, tree); err != nil {
		return err
	}
	if l.sum.CatalogSkipped == "" {
		r := tree[0].l1
		p, err := l.db.PlanByKey(ctx, l.sys, r.ID, tryPlan)
		if err != nil {
			return fmt.Errorf("plan %s of %s: %w", tryPlan, r.Name, err)
		}
		l.sum.Try = &Try{Reseller: r, Customer: firsts[l1s[0].code], Plan: p, Period: "1m", Resources: map[string]int64{"mailbox": 3}}
	}
	return nil
}

// tryPlan is the plan of the first order Summary.Try suggests.
const tryPlan = "office-basic"

// rotate returns ps starting at its k-th element.
func rotate(ps []place, k int) []place {
	k %= len(ps)
	return append(append([]place{}, ps[k:]...), ps[:k]...)
}

// provider returns the database's provider, creating the demo's one when
// there is none.
func (l *loader) provider(ctx context.Context) (*account.Account, error) {
	p, err := l.db.Provider(ctx)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return p, err
	}
	p = &account.Account{Name: ProviderName, ExternalID: "demo-provider",
		Contact: account.Contact{Name: "Operations", Email: "ops@provider.demo.example", Phone: "+1 415 555 0100"},
		Address: account.Address{Line1: "1 Market Street", City: "San Francisco", Region: "CA", PostalCode: "94105", Country: "US"},
		Locale:  "en-US", Currency: "USD", TimeZone: "America/Los_Angeles", PaymentTermsDays: 30}
	if err := l.db.CreateProvider(ctx, p); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	l.sum.AccountsCreated++
	return p, nil
}

// reseller finds reseller r below parent by its external id or creates it.
func (l *loader) reseller(ctx context.Context, parent *account.Account, r reseller) (*account.Account, error) {
	a, err := l.db.AccountByExternalID(ctx, l.sys, parent.ID, r.ext)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return a, err
	}
	pl := r.places[0]
	slug := strings.ReplaceAll(r.code, "-", "")
	a = &account.Account{Kind: account.Reseller, ParentID: parent.ID, Name: r.name, ExternalID: r.ext,
		Contact: account.Contact{Name: "Partner Desk", Email: "partners@" + slug + ".demo.example", Phone: pl.phone + "100"},
		Address: account.Address{Line1: "10 Commerce Way", City: pl.city, PostalCode: pl.postal, Country: pl.country},
		Locale:  pl.locale, Currency: pl.currency, TimeZone: pl.timeZone, PaymentTermsDays: 30,
		CreditLimit: 50_000_000_000} // 50,000.00 in millionths
	if err := l.db.CreateAccount(ctx, l.sys, a); err != nil {
		return nil, fmt.Errorf("reseller %s: %w", r.ext, err)
	}
	l.sum.AccountsCreated++
	return a, nil
}

// customer makes the n-th demo customer of reseller r.
func customer(r reseller, parent *account.Account, n int) *account.Account {
	pl := r.places[n%len(r.places)]
	contact := contactNames[(n*7+len(r.code))%len(contactNames)]
	trade := trades[(n*5+len(r.name))%len(trades)]
	slug := fmt.Sprintf("customer%03d-%s", n, strings.ReplaceAll(r.code, "-", ""))
	return &account.Account{Kind: account.Customer, ParentID: parent.ID,
		Name: fmt.Sprintf("Customer %03d of %s", n, r.name),
		Contact: account.Contact{Name: contact, Email: strings.ToLower(strings.ReplaceAll(contact, " ", ".")) + "@" + slug + ".demo.example",
			Phone: fmt.Sprintf("%s%03d", pl.phone, n)},
		Address: account.Address{Line1: fmt.Sprintf("%d %s Street", 10+n, trade), Line2: trade,
			City: pl.city, PostalCode: pl.postal, Country: pl.country},
		Locale: pl.locale, Currency: pl.currency, TimeZone: pl.timeZone,
		PaymentTermsDays: []int{0, 14, 30}[n%3], CreditLimit: money.Micros(1_000_000_000 * (1 + n%5))} // 1,000.00 to 5,000.00
}

// user finds the user login or creates it in acct with the role key and
// the demo password. An existing user keeps everything, its password too.
func (l *loader) user(ctx context.Context, login string, acct *account.Account, kind, roleKey, display string) error {
	role := l.roles[roleKey]
	lg := Login{Login: login, Password: Password(login), Account: acct.Name, AccountID: acct.ID, Kind: kind, Role: role.Name}
	u, err := l.db.UserByLogin(ctx, login)
	switch {
	case err == nil:
		lg.UserID = u.ID
	case marketplane.ErrorCode(err) == marketplane.ENOTFOUND:
		u = &account.User{AccountID: acct.ID, Login: login, DisplayName: display,
			Email: login + "@users.demo.example", Locale: acct.Locale, RoleIDs: []int64{role.ID}}
		if err := l.db.CreateUser(ctx, l.sys, u, lg.Password); err != nil {
			return fmt.Errorf("user %s: %w", login, err)
		}
		lg.UserID, lg.Created = u.ID, true
		l.sum.UsersCreated++
	default:
		return fmt.Errorf("user %s: %w", login, err)
	}
	l.sum.Logins = append(l.sum.Logins, lg)
	return nil
}

// Print writes what was loaded and the table of demo logins.
func (s *Summary) Print(w io.Writer) error {
	fmt.Fprintf(w, "Demo marketplace: %s with %d resellers (3 L1, %d L2) and %d customers.\n",
		s.Provider.Name, s.Resellers, s.Resellers-len(l1s), s.Customers)
	if s.CatalogSkipped != "" {
		fmt.Fprintf(w, "Catalog: not loaded: %s.\n", s.CatalogSkipped)
	} else {
		fmt.Fprintf(w, "Catalog: %d plans of the provider, delegated as %d copies to every reseller (%s%% markup at L1, %s%% more at L2).\n",
			s.Plans, s.Copies, l1Markup, l2Markup)
	}
	if s.AccountsCreated == 0 && s.UsersCreated == 0 && s.CatalogCreated == 0 && s.CopiesCreated == 0 {
		fmt.Fprintln(w, "Everything was there already; nothing changed.")
	} else {
		fmt.Fprintf(w, "Created now: %d accounts, %d users, %d catalog objects, %d plan copies.\n",
			s.AccountsCreated, s.UsersCreated, s.CatalogCreated, s.CopiesCreated)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tPASSWORD\tACCOUNT\tKIND\tROLE")
	for _, lg := range s.Logins {
		pw := lg.Password
		if !lg.Created {
			pw += " (unless changed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", lg.Login, pw, lg.Account, lg.Kind, lg.Role)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "These are demo passwords: change them before anyone else can reach this server.")
	if t := s.Try; t != nil {
		fmt.Fprintf(w, "\nA first order through the API: %s (account %d) sells %s (plan %d) to %s (account %d).\n",
			t.Reseller.Name, t.Reseller.ID, t.Plan.Name.Get("en"), t.Plan.ID, t.Customer.Name, t.Customer.ID)
		fmt.Fprintf(w, "  export MARKETPLANE_API_KEY=$(marketplane apikey create --account %d --role account_admin)\n", t.Reseller.ID)
		fmt.Fprintf(w, "  marketplane api orders place --customer %d --plan %d --period %s --resource mailbox=%d\n",
			t.Customer.ID, t.Plan.ID, t.Period, t.Resources["mailbox"])
	}
	_, err := fmt.Fprintln(w, "\nThe demo's orders are provisioned by demo connectors, which `marketplane serve` runs on a database with the demo.")
	return err
}

// The demo catalog's prices down the tree: every L1 reseller sells the
// provider's plans at l1Markup percent over its cost, every L2 reseller its
// L1's at l2Markup percent over its own.
const (
	l1Markup = "20"
	l2Markup = "10"
)

// demoRates are the exchange rates of the demo's copies for a reseller that
// sells in another currency than its parent (source/copy): fixed, as
// befits a demo.
var demoRates = map[string]string{"USD/EUR": "0.92", "EUR/USD": "1.09"}

// branch is an L1 reseller with its L2 resellers.
type branch struct {
	l1  *account.Account
	l2s []*account.Account
}

// catalog imports the demo catalog into the provider, adding what is
// missing and leaving what exists as it is, and delegates its plans to
// every reseller of the tree: the provider's to each L1, each L1's copy to
// each of its L2s, all published.
func (l *loader) catalog(ctx context.Context, prov *account.Account, tree []branch) error {
	doc, err := catalog.DemoDocument()
	if err != nil {
		return err
	}
	if want := doc.Plans[0].Currency; prov.Currency != want {
		l.sum.CatalogSkipped = fmt.Sprintf("the demo catalog is priced in %s and %s sells in %s", want, prov.Name, prov.Currency)
		return nil
	}
	have, err := l.db.ExportCatalog(ctx, l.sys, prov.ID)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	changes, err := l.db.ImportCatalog(ctx, l.sys, prov.ID, withMissing(have, doc), store.ImportOptions{})
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	l.sum.CatalogCreated = len(changes)

	originals := make([]*catalog.Plan, len(doc.Plans))
	for i, p := range doc.Plans {
		if originals[i], err = l.db.PlanByKey(ctx, l.sys, prov.ID, p.Key); err != nil {
			return fmt.Errorf("catalog: plan %s: %w", p.Key, err)
		}
	}
	l.sum.Plans = len(originals)
	var firsts []*account.Account
	below := map[int64][]*account.Account{} // L1 id → its L2s
	for _, b := range tree {
		firsts = append(firsts, b.l1)
		below[b.l1.ID] = b.l2s
	}
	atL1, err := l.delegate(ctx, originals, func(*catalog.Plan) []*account.Account { return firsts }, l1Markup)
	if err != nil {
		return err
	}
	atL2, err := l.delegate(ctx, atL1, func(src *catalog.Plan) []*account.Account { return below[src.OwnerID] }, l2Markup)
	if err != nil {
		return err
	}
	l.sum.Copies = len(atL1) + len(atL2)
	return nil
}

// delegate gives each of sources' children (by children) a published copy
// priced at markup percent over the source, unless it holds one, and
// returns every copy of sources that the children hold. The new copies go
// to the store in one batch.
func (l *loader) delegate(ctx context.Context, sources []*catalog.Plan, children func(*catalog.Plan) []*account.Account, markup string) ([]*catalog.Plan, error) {
	ids := make([]int64, len(sources))
	for i, s := range sources {
		ids[i] = s.ID
	}
	type pair struct{ owner, source int64 }
	ours := map[pair]bool{} // the copies the demo gives
	for _, src := range sources {
		for _, child := range children(src) {
			ours[pair{child.ID, src.ID}] = true
		}
	}
	// The copies held already; others' (the operator may have delegated
	// a demo plan elsewhere) are none of the demo's business.
	var copies []*catalog.Plan
	held := map[pair]bool{}
	for after := int64(0); ; {
		batch, err := l.db.CopiesOfBatch(ctx, ids, after, 500)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			break
		}
		for _, c := range batch {
			if k := (pair{c.OwnerID, c.SourceID}); ours[k] {
				copies, held[k] = append(copies, c), true
			}
		}
		after = batch[len(batch)-1].ID
	}
	// One batch per level: copies whose upgrade paths name each other
	// (office-basic ↔ office-pro) go in together.
	var made []*catalog.Plan
	for _, src := range sources {
		for _, child := range children(src) {
			if held[pair{child.ID, src.ID}] {
				continue
			}
			rule := catalog.PriceRule{Kind: catalog.RulePercent, Percent: markup}
			if src.Currency != child.Currency {
				rate, ok := demoRates[src.Currency+"/"+child.Currency]
				if !ok {
					continue // no demo rate: this reseller goes without
				}
				rule.ExchangeRate = rate
			}
			cp, err := delegation.Delegate(src, child.ID, child.Currency, delegation.DelegateOptions{Rule: rule, Publish: true})
			if err != nil {
				return nil, fmt.Errorf("delegate plan %s to %s: %w", src.Key, child.Name, err)
			}
			made = append(made, cp)
		}
	}
	if err := l.db.InsertCopies(ctx, l.sys, made, delegation.CheckPrices); err != nil {
		return nil, fmt.Errorf("delegate the demo catalog: %w", err)
	}
	l.sum.CopiesCreated += len(made)
	return append(copies, made...), nil
}

// withMissing is have with the objects of want whose keys it lacks: the
// demo adds what is missing and leaves the rest as the operator made it.
func withMissing(have, want *catalog.Document) *catalog.Document {
	out := *have
	out.ResourceTypes = addMissing(have.ResourceTypes, want.ResourceTypes, func(x catalog.ResourceType) string { return x.Key })
	out.Templates = addMissing(have.Templates, want.Templates, func(x catalog.Template) string { return x.Key })
	out.PlanCategories = addMissing(have.PlanCategories, want.PlanCategories, func(x catalog.PlanCategory) string { return x.Key })
	out.SalesCategories = addMissing(have.SalesCategories, want.SalesCategories, func(x catalog.SalesCategory) string { return x.Key })
	out.Plans = addMissing(have.Plans, want.Plans, func(x catalog.Plan) string { return x.Key })
	return &out
}

func addMissing[T any](have, want []T, key func(T) string) []T {
	out := slices.Clone(have)
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h T) bool { return key(h) == key(w) }) {
			out = append(out, w)
		}
	}
	return out
}

// Loaded reports whether the demo marketplace was loaded into db: its
// first L1 reseller exists under the provider. A server then runs the
// demo connectors behind the demo's plans even without --demo.
func Loaded(ctx context.Context, db *store.DB) (bool, error) {
	p, err := db.Provider(ctx)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = db.AccountByExternalID(ctx, account.SystemActor(), p.ID, l1s[0].ext)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}
