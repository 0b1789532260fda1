package web

import (
	"net/http"
	"strconv"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// subscriptionsPage is how many subscriptions a page of the list holds.
const subscriptionsPage = 50

// subscriptionsData is the Subscriptions screen: one page of the
// customer's subscriptions, newest first.
type subscriptionsData struct {
	Subscriptions []subscriptionRow
	// Next is the cursor of the next page (0: this is the last); Paged
	// says this is not the first page.
	Next  int64
	Paged bool
}

// subscriptionList lists all the customer's subscriptions, a page at a
// time (?before= is the cursor: the last id of the previous page). It
// reads through the store's authorization like Home.
func (w *Web) subscriptionList(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	if acct.Kind != account.Customer || !may(actor, account.ViewSubscriptions) {
		w.renderNotFound(rw, r, u)
		return
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		var err error
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			w.renderNotFound(rw, r, u)
			return
		}
	}
	subs, err := w.cfg.DB.Subscriptions(r.Context(), actor, store.SubscriptionFilter{CustomerID: acct.ID, BeforeID: before, Limit: subscriptionsPage + 1})
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	l := localeFor(r, u)
	d := subscriptionsData{Paged: before != 0}
	if len(subs) > subscriptionsPage {
		subs = subs[:subscriptionsPage]
		d.Next = subs[len(subs)-1].ID
	}
	d.Subscriptions = w.subscriptionRows(r, actor, l, acct.ID, subs)
	w.render(rw, r, http.StatusOK, "subscriptions_list.html", page{L: l, User: u, Account: acct, Title: l.T("home.subscriptions"), Nav: "subscriptions", Data: d})
}
