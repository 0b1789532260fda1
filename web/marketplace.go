package web

import (
	"net/http"
	"slices"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
)

// marketplaceOffers is the most offers the Marketplace reads, page by
// page; a store is a few dozen plans.
const marketplaceOffers = 1000

// marketplaceData is the Marketplace screen: the vendor's displayed sales
// categories in the vendor's tree order, each with its plans and, where
// it holds two or more, their comparison.
type marketplaceData struct {
	Shelves []shelf
}

// shelf is a displayed sales category with the plans on it.
type shelf struct {
	Key  string
	Name string
	// Level is the heading level: 2 for a top category, 3 below.
	Level   int
	Plans   []planCard
	Compare *comparison
}

// planCard is an offer as the Marketplace shows it. Price is "" for a
// reader who may not see prices.
type planCard struct {
	PlanID      int64
	Name        string
	Description string
	Price       string
	// Trial names the offer's free trial ("" for none).
	Trial string
}

// comparison sets plans side by side: what each includes of each
// resource, and the price of each.
type comparison struct {
	Plans  []string
	Rows   []compareRow
	Prices []string
}

type compareRow struct {
	Name  string
	Cells []string
}

// marketplace shows the customer's offers: the plans its vendor has on
// sale, on the vendor's displayed shelves (a hidden category and those
// below it stay hidden, with the plans only they hold).
func (w *Web) marketplace(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	if acct.Kind != account.Customer {
		// Resellers get their parent's plans by delegation, not in a
		// store.
		w.renderNotFound(rw, r, u)
		return
	}
	ctx := r.Context()
	l := localeFor(r, u)
	cats, err := w.cfg.DB.OfferCategories(ctx, actor, acct.ID)
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	var offers []catalog.Offer
	f := store.OfferFilter{Limit: 500}
	for len(offers) < marketplaceOffers {
		page, err := w.cfg.DB.Offers(ctx, actor, acct.ID, f)
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		offers = append(offers, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].Key
	}
	prices := actor.ShowsPrices()
	var d marketplaceData
	depth := map[string]int{}
	for _, c := range cats {
		lvl := 2
		if c.Parent != "" {
			lvl = min(depth[c.Parent]+1, 4)
		}
		depth[c.Key] = lvl
		s := shelf{Key: c.Key, Name: c.Name, Level: lvl}
		var on []catalog.Offer
		for _, o := range offers {
			if slices.Contains(o.SalesCategories, c.Key) {
				on = append(on, o)
				s.Plans = append(s.Plans, card(l, o, prices))
			}
		}
		if len(on) >= 2 {
			s.Compare = compare(l, on, prices)
		}
		d.Shelves = append(d.Shelves, s)
	}
	if len(cats) == 0 && len(offers) > 0 {
		// A vendor without a displayed category shows its plans on one
		// shelf.
		s := shelf{Key: "all", Name: l.T("market.all"), Level: 2}
		for _, o := range offers {
			s.Plans = append(s.Plans, card(l, o, prices))
		}
		if len(offers) >= 2 {
			s.Compare = compare(l, offers, prices)
		}
		d.Shelves = append(d.Shelves, s)
	}
	w.render(rw, r, http.StatusOK, "marketplace.html", page{L: l, User: u, Account: acct, Title: l.T("market.title"), Nav: "marketplace", Data: d})
}

// card is offer o as a card, its first period's price shown only to a
// reader who may see prices.
func card(l *locale, o catalog.Offer, prices bool) planCard {
	c := planCard{PlanID: o.PlanID, Name: o.Name, Description: o.Description}
	for _, p := range o.Periods {
		if p.Trial && c.Trial == "" {
			c.Trial = periodName(l, p)
		}
	}
	if prices {
		c.Price = fromPrice(l, o)
	}
	return c
}

// fromPrice is the fee of o's first paid period, or "free trial" when it
// has only a trial.
func fromPrice(l *locale, o catalog.Offer) string {
	for _, p := range o.Periods {
		if !p.Trial {
			return l.T("market.price", l.Money(p.Recurring, o.Currency), periodName(l, p))
		}
	}
	if len(o.Periods) > 0 {
		return l.T("period.trial")
	}
	return ""
}

// periodName names a subscription period in the reader's language.
func periodName(l *locale, p catalog.OfferPeriod) string {
	name := l.T("period."+string(p.Duration.Unit), p.Duration.N)
	if p.Duration.N == 1 {
		name = l.T("period.1."+string(p.Duration.Unit), p.Duration.N)
	}
	if p.Trial {
		return l.T("period.trial.of", name)
	}
	return name
}

// compare sets offers side by side: a row for every resource any of
// them has (by name, in the order first met), each cell the amount the
// plan includes, up to its maximum.
func compare(l *locale, offers []catalog.Offer, prices bool) *comparison {
	c := &comparison{}
	var names []string
	for _, o := range offers {
		c.Plans = append(c.Plans, o.Name)
		for _, res := range o.Resources {
			if !slices.Contains(names, res.Name) {
				names = append(names, res.Name)
			}
		}
		if prices {
			c.Prices = append(c.Prices, fromPrice(l, o))
		}
	}
	for _, n := range names {
		row := compareRow{Name: n}
		for _, o := range offers {
			cell := "—"
			for _, res := range o.Resources {
				if res.Name == n {
					cell = includedOf(l, res)
					break
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// includedOf says how much of res a plan includes and how far it goes.
func includedOf(l *locale, res catalog.OfferResource) string {
	amount := func(n int64) string {
		if n == catalog.Unlimited {
			return l.T("sub.unlimited")
		}
		return l.Number(n)
	}
	if res.Max == res.Included {
		return amount(res.Included)
	}
	return l.T("market.upto", amount(res.Included), amount(res.Max))
}
