package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// subscriptionData is the Subscription screen (read-only for now).
type subscriptionData struct {
	Row          subscriptionRow
	Period       string
	PeriodStart  string
	PeriodEnd    string
	TenantStatus string
	// Resources are all the subscription's resources, limited or not.
	Resources []resourceRow
	// Actions are the changes the reader may make (subscription_actions.go).
	Actions *actionsData
}

// resourceRow is a resource of a subscription with its limit.
type resourceRow struct {
	Name  string
	Limit string
}

// subscription shows one subscription. It reads through the same store
// method and authorization as the API: another customer's subscription
// answers the 404 page, as one that does not exist does.
func (w *Web) subscription(rw http.ResponseWriter, r *http.Request) {
	w.subscriptionPage(rw, r, http.StatusOK, nil)
}

// subscriptionPage shows the subscription with status, and the refused
// change at (nil for none) where it was made, with what was asked.
func (w *Web) subscriptionPage(rw http.ResponseWriter, r *http.Request, status int, at *changeAttempt) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		w.renderNotFound(rw, r, u)
		return
	}
	s, err := w.cfg.DB.Subscription(r.Context(), actor, id)
	if err != nil {
		w.fail(rw, r, u, err)
		return
	}
	l := localeFor(r, u)
	offer := w.offerOf(r, actor, s)
	d := subscriptionData{Row: w.subscriptionRow(r, actor, l, s, offer), Period: s.Period,
		PeriodStart: l.Date(s.PeriodStart), PeriodEnd: l.Date(s.PeriodEnd), TenantStatus: s.TenantStatus}
	names := map[string]string{}
	if offer != nil {
		for _, res := range offer.Resources {
			names[res.Key] = res.Name
		}
	}
	for key, limit := range s.Resources {
		name := names[key]
		if name == "" {
			name = key
		}
		lim := l.T("sub.unlimited")
		if limit >= 0 {
			lim = l.Number(limit)
		}
		d.Resources = append(d.Resources, resourceRow{Name: name, Limit: lim})
	}
	slices.SortFunc(d.Resources, func(a, b resourceRow) int { return strings.Compare(a.Name, b.Name) })
	d.Actions = w.subscriptionActions(r, actor, l, s, offer, at)
	w.render(rw, r, status, "subscription.html", page{L: l, User: u, Account: acct, Title: d.Row.Plan, Data: d})
}
