package web

import (
	"net/http"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// homeSubscriptions is how many subscriptions Home lists; more are a link
// away.
const homeSubscriptions = 20

// homeData is the Home screen: the account, its subscriptions, the orders
// waiting for payment and, for a reseller or provider, the accounts below.
type homeData struct {
	Children      []*account.Account
	Total         int
	Subscriptions []subscriptionRow
	// More says there are more subscriptions than Home lists.
	More bool
	// Waiting are the warnings of the orders waiting for payment, every
	// one of them.
	Waiting []string
}

// subscriptionRow is a subscription as a list shows it.
type subscriptionRow struct {
	ID          int64
	Plan        string
	Status      string
	StatusClass string
	NextBilling string
	Gauges      []gauge
}

// gauge is a limited resource of a subscription: how much of it is used.
type gauge struct {
	Name    string
	Used    string
	Limit   string
	Percent int
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	l := localeFor(r, u)
	var d homeData
	var err error
	if acct.CanHaveChildren() && actor.Grants.Level(account.PrivAccounts) >= account.View {
		d.Children, err = w.cfg.DB.ListAccounts(ctx, actor, store.AccountFilter{Limit: 50})
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		d.Total, _ = w.cfg.DB.CountDescendants(ctx, actor, acct.ID)
	}
	if acct.Kind == account.Customer && may(actor, account.ViewSubscriptions) {
		subs, err := w.cfg.DB.Subscriptions(ctx, actor, store.SubscriptionFilter{CustomerID: acct.ID, Limit: homeSubscriptions + 1})
		if err != nil {
			w.fail(rw, r, u, err)
			return
		}
		if len(subs) > homeSubscriptions {
			subs, d.More = subs[:homeSubscriptions], true
		}
		d.Subscriptions = w.subscriptionRows(r, actor, l, acct.ID, subs)
	}
	if acct.Kind == account.Customer && may(actor, account.ViewOrders) {
		if d.Waiting, err = w.waitingForPayment(r, actor, l, acct.ID); err != nil {
			w.fail(rw, r, u, err)
			return
		}
	}
	w.render(rw, r, http.StatusOK, "home.html", page{L: l, User: u, Account: acct, Title: acct.Name, Nav: "home", Data: d})
}

// waitingForPayment warns of every order of the customer that waits for
// payment, page by page: a customer with several unpaid orders must see
// each. The amount is said only to a reader who may see prices.
func (w *Web) waitingForPayment(r *http.Request, actor *account.Actor, l *locale, customerID int64) ([]string, error) {
	var out []string
	f := store.OrderFilter{CustomerID: customerID, Status: order.StatusWaitingPayment, Limit: 100}
	for {
		orders, err := w.cfg.DB.Orders(r.Context(), actor, f)
		if err != nil {
			return nil, err
		}
		for _, o := range orders {
			if actor.ShowsPrices() {
				out = append(out, l.T("home.waiting.total", o.Number, l.Money(o.Total, o.Currency)))
			} else {
				out = append(out, l.T("home.waiting", o.Number))
			}
		}
		if len(orders) < f.Limit {
			return out, nil
		}
		f.BeforeID = orders[len(orders)-1].ID
	}
}

// offerOf is the plan of s as its buyer sees it; nil when the plan is no
// longer on sale (the page then names it by number).
func (w *Web) offerOf(r *http.Request, actor *account.Actor, s *subscription.Subscription) *catalog.Offer {
	o, err := w.cfg.DB.Offer(r.Context(), actor, s.CustomerID, s.PlanID)
	if err != nil {
		return nil
	}
	return o
}

// subscriptionRows are the rows of subscriptions subs of customer
// customerID, their plans and gauges read in two queries for them all (a
// query per subscription and per gauge made Home's time grow with them).
// A plan no longer on sale names its subscription by number, as offerOf's
// nil does.
func (w *Web) subscriptionRows(r *http.Request, actor *account.Actor, l *locale, customerID int64, subs []*subscription.Subscription) []subscriptionRow {
	ids := make([]int64, len(subs))
	plans := make([]int64, len(subs))
	for i, s := range subs {
		ids[i], plans[i] = s.ID, s.PlanID
	}
	offers, err := w.cfg.DB.OffersOf(r.Context(), actor, customerID, plans)
	if err != nil {
		w.cfg.Logger.Error("panel: offers", "err", err)
	}
	used := w.latestUsage(r, actor, customerID, ids)
	rows := make([]subscriptionRow, len(subs))
	for i, s := range subs {
		rows[i] = rowOf(l, s, offers[s.PlanID], used[s.ID])
	}
	return rows
}

// subscriptionRow is s as the reader sees it, with a gauge for each of its
// limited resources.
func (w *Web) subscriptionRow(r *http.Request, actor *account.Actor, l *locale, s *subscription.Subscription, offer *catalog.Offer) subscriptionRow {
	var used map[string]int64
	if offer != nil {
		used = w.latestUsage(r, actor, s.CustomerID, []int64{s.ID})[s.ID]
	}
	return rowOf(l, s, offer, used)
}

// latestUsage reads the latest reading of every resource of subscriptions
// ids in their current periods, in one query. A failed read shows the
// gauges empty rather than failing the page, and is logged.
func (w *Web) latestUsage(r *http.Request, actor *account.Actor, customerID int64, ids []int64) map[int64]map[string]int64 {
	used, err := w.cfg.DB.LatestUsage(r.Context(), actor, customerID, ids, w.cfg.DB.Clock.Now().Add(time.Second))
	if err != nil {
		w.cfg.Logger.Error("panel: usage", "err", err)
	}
	return used
}

// rowOf is s as the reader sees it, with offer its plan (nil: no longer on
// sale) and used the latest reading of each of its resources.
func rowOf(l *locale, s *subscription.Subscription, offer *catalog.Offer, used map[string]int64) subscriptionRow {
	row := subscriptionRow{ID: s.ID, Plan: l.T("sub.title", s.ID), Status: l.T("status." + string(s.Status)),
		StatusClass: string(s.Status), NextBilling: l.Date(s.NextBillingAt)}
	if offer == nil {
		return row
	}
	row.Plan = offer.Name
	for _, res := range offer.Resources {
		limit, ok := s.Resources[res.Key]
		if !ok || limit < 0 || res.Max == 1 {
			// Unlimited, not part of the subscription, or an on/off
			// feature: nothing to gauge.
			continue
		}
		key := res.Resource
		if key == "" {
			key = res.Key
		}
		row.Gauges = append(row.Gauges, gaugeOf(l, res, limit, used[key]))
	}
	return row
}

// gaugeOf is the gauge of resource res limited to limit, of which used is
// in use.
func gaugeOf(l *locale, res catalog.OfferResource, limit, used int64) gauge {
	g := gauge{Name: res.Name, Limit: l.Number(limit), Used: l.Number(used)}
	if limit > 0 {
		g.Percent = int(min(100, used*100/limit))
	} else if used > 0 {
		g.Percent = 100
	}
	return g
}

// may says whether actor's privileges allow act at all, to leave out a
// section the store would refuse. The store still decides every read.
func may(actor *account.Actor, act account.Action) bool {
	return actor.System || actor.Grants.Level(act.Privilege) >= act.Level
}
