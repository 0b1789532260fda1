package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/subscription"
)

// The actions of the Subscription screen: change a limit, change plan
// along the plan's upgrade and downgrade paths, change the billing period,
// cancel, and set auto-renew. Every change is a change order (CH) placed by
// the store's ChangeOrder and priced by its QuoteChange, the API's; a
// limit's price is refreshed by htmx from /subscriptions/{id}/change/quote
// as the amount changes, and every form posts without JS too. A limit
// beyond the plan's maximum shows the composite-resource upsell: the
// vendor's offers with that resource up to the wanted amount, as a change
// of this subscription when the plan is on its paths, else as a link to
// the offer's purchase wizard. The controls show only to users whose
// privileges allow them; the store decides every post, and a refused one
// answers the 404 page like a missing subscription.

// actionsData is the actions part of the Subscription screen.
type actionsData struct {
	ID     int64
	Prices bool
	// Ordered is the number of the order just placed (0: none).
	Ordered int64
	// Error is a refusal that belongs to no single form.
	Error     string
	Limits    []limitForm
	Plans     []changeOption
	Periods   []changeOption
	CanCancel bool
	// CancelError says why a cancellation was not placed.
	CancelError string
	CanRenew    bool
	AutoRenew   string
	RenewDays   string
	RenewError  string
}

// limitForm is the form that changes the limit of one resource.
type limitForm struct {
	Key     string
	Name    string
	Unit    string
	Slider  bool
	Min     string
	Max     string
	Value   string
	Current string
	Summary changeSummary
}

// changeSummary is the price of a limit's change, with the upsell when the
// wanted amount is beyond the plan's maximum.
type changeSummary struct {
	L       *locale
	SubID   int64
	Key     string
	Prices  bool
	Total   string
	Confirm bool
	// ConfirmError and Error say why the change was not placed or cannot
	// be priced.
	ConfirmError string
	Error        string
	Upsell       []changeOption
}

// changeOption is a change offered as one button (a plan, a period, an
// upsell on the plan's paths) or, with Href, a link to a wizard.
type changeOption struct {
	L       *locale
	SubID   int64
	Form    string
	Label   string
	Price   string
	Plan    int64
	Period  string
	Href    string
	Confirm bool
	// Priced says the change could be priced: only then is it offered.
	Priced bool
	Error  string
}

// changeAttempt is a posted change that was refused: which form, what it
// asked and why, to show the screen again with nothing lost.
type changeAttempt struct {
	form   string
	values url.Values
	err    error
	// fieldErr is a value that could not be read.
	fieldErr string
}

// subscriptionActions builds the actions of subscription s for the
// reader, with a refused attempt shown where it was made.
func (w *Web) subscriptionActions(r *http.Request, actor *account.Actor, l *locale, s *subscription.Subscription, offer *catalog.Offer, at *changeAttempt) *actionsData {
	d := &actionsData{ID: s.ID, Prices: actor.ShowsPrices()}
	if n, err := strconv.ParseInt(r.URL.Query().Get("ordered"), 10, 64); err == nil && n > 0 {
		d.Ordered = n
	}
	if may(actor, account.CancelSubs) && s.Live() {
		d.CanCancel = true
	}
	if may(actor, account.ChangeAutoRenw) && s.Status != subscription.Terminated {
		d.CanRenew = true
		d.AutoRenew, d.RenewDays = string(s.AutoRenew), strconv.Itoa(s.RenewDays)
	}
	if at != nil {
		switch at.form {
		case "cancel":
			d.CancelError = l.T(attemptMessage(at.err, "act.err.cancel"))
		case "renew":
			d.AutoRenew, d.RenewDays = at.values.Get("auto_renew"), at.values.Get("renew_days")
			d.RenewError = l.T("act.err.renew")
		}
	}
	if offer == nil || s.Status != subscription.Active || !may(actor, account.ManageSubscriptions) {
		return d
	}
	ctx := r.Context()
	for _, res := range choosable(offer, s.Period) {
		cur, ok := s.Resources[res.Key]
		if !ok {
			continue
		}
		f := limitForm{Key: res.Key, Name: res.Name, Unit: res.Unit, Min: strconv.FormatInt(res.Min, 10),
			Value: strconv.FormatInt(cur, 10), Current: l.Number(cur)}
		if cur < 0 {
			f.Current = l.T("sub.unlimited")
		}
		if res.Max != catalog.Unlimited {
			f.Max = strconv.FormatInt(res.Max, 10)
		}
		f.Slider = res.Display == catalog.Slider && f.Max != ""
		f.Summary = changeSummary{L: l, SubID: s.ID, Key: res.Key, Prices: d.Prices}
		if at != nil && at.form == "res."+res.Key {
			f.Value = at.values.Get("res." + res.Key)
			if at.fieldErr != "" {
				f.Summary.Error = at.fieldErr
			} else {
				w.limitSummary(r, actor, l, s, offer, res, f.Value, &f.Summary)
				f.Summary.Error, f.Summary.ConfirmError = refusal(l, at.err, res)
			}
		}
		d.Limits = append(d.Limits, f)
	}
	if paths, err := w.cfg.DB.SubscriptionOffersOf(ctx, actor, s.ID); err == nil {
		for _, group := range [][]catalog.Offer{paths.Upgrades, paths.Downgrades} {
			for _, o := range group {
				opt := w.priceOption(r, actor, l, s, store.ChangeRequest{PlanID: o.PlanID},
					changeOption{L: l, SubID: s.ID, Form: "plan-" + strconv.FormatInt(o.PlanID, 10), Label: o.Name, Plan: o.PlanID})
				d.Plans = append(d.Plans, attempted(l, opt, at))
			}
		}
	}
	for _, p := range offer.Periods {
		if p.Trial || p.Key == s.Period {
			continue
		}
		opt := w.priceOption(r, actor, l, s, store.ChangeRequest{Period: p.Key},
			changeOption{L: l, SubID: s.ID, Form: "period-" + p.Key, Label: periodName(l, p), Period: p.Key})
		d.Periods = append(d.Periods, attempted(l, opt, at))
	}
	if at != nil && at.err != nil && !strings.HasPrefix(at.form, "res.") && !strings.HasPrefix(at.form, "plan-") &&
		!strings.HasPrefix(at.form, "period-") && at.form != "cancel" && at.form != "renew" {
		d.Error = l.T(attemptMessage(at.err, "wizard.err.refused"))
	}
	return d
}

// attempted puts the refusal of at on opt when at was made with opt's
// form.
func attempted(l *locale, opt changeOption, at *changeAttempt) changeOption {
	if at == nil || at.form != opt.Form || at.err == nil {
		return opt
	}
	if isField(at.err, "confirm_zero") {
		opt.Error = l.T("wizard.err.confirm")
	} else {
		opt.Error = l.T(attemptMessage(at.err, "act.err.change"))
	}
	return opt
}

// attemptMessage is the message key of a refusal: one for an order in
// progress, one for an unavailable server, else fallback.
func attemptMessage(err error, fallback string) string {
	switch marketplane.ErrorCode(err) {
	case marketplane.ECONFLICT:
		return "act.err.busy"
	case marketplane.EUNAVAILABLE:
		return "wizard.err.unavailable"
	}
	return fallback
}

// refusal words the refusal err of a limit's change of res: a message for
// the form and one for the confirmation box.
func refusal(l *locale, err error, res catalog.OfferResource) (msg, confirm string) {
	switch {
	case err == nil:
		return "", ""
	case isField(err, "confirm_zero"):
		return "", l.T("wizard.err.confirm")
	case anyResourceField(err):
		max := ""
		if res.Max != catalog.Unlimited {
			max = strconv.FormatInt(res.Max, 10)
		}
		return l.T("wizard.err.resource", strconv.FormatInt(res.Min, 10), maxText(l, max)), ""
	case isField(err, "resources"):
		return l.T("act.err.nochange"), ""
	}
	return l.T(attemptMessage(err, "act.err.change")), ""
}

// priceOption prices req as a change of s and puts the price on opt; a
// change that cannot be priced says so and offers no button.
func (w *Web) priceOption(r *http.Request, actor *account.Actor, l *locale, s *subscription.Subscription, req store.ChangeRequest, opt changeOption) changeOption {
	req.ConfirmZero = true
	q, err := w.cfg.DB.QuoteChange(r.Context(), actor, s.ID, req)
	if err != nil {
		opt.Error = l.T("act.err.unpriced")
		return opt
	}
	opt.Priced, opt.Confirm = true, q.Quote.Empty()
	if actor.ShowsPrices() {
		opt.Price = l.Money(q.Quote.Total, q.Quote.Currency)
	}
	return opt
}

// limitSummary prices raising (or lowering) res of s to raw, and, when raw
// is beyond the plan's maximum, lists the upsell.
func (w *Web) limitSummary(r *http.Request, actor *account.Actor, l *locale, s *subscription.Subscription, offer *catalog.Offer, res catalog.OfferResource, raw string, sum *changeSummary) {
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n < 0 {
		sum.Error = l.T("wizard.err.number")
		return
	}
	if res.Max != catalog.Unlimited && n > res.Max {
		sum.Error = l.T("act.beyond", l.Number(res.Max))
		sum.Upsell = w.upsell(r, actor, l, s, offer, res, n)
		return
	}
	q, err := w.cfg.DB.QuoteChange(r.Context(), actor, s.ID, store.ChangeRequest{Resources: map[string]int64{res.Key: n}, ConfirmZero: true})
	if err != nil {
		sum.Error, _ = refusal(l, err, res)
		return
	}
	sum.Confirm = q.Quote.Empty()
	if sum.Prices {
		sum.Total = l.Money(q.Quote.Total, q.Quote.Currency)
	}
}

// upsell lists the vendor's offers that hold resource res up to amount n:
// a priced change of s for a plan on its paths, a link to the wizard for
// any other.
func (w *Web) upsell(r *http.Request, actor *account.Actor, l *locale, s *subscription.Subscription, offer *catalog.Offer, res catalog.OfferResource, n int64) []changeOption {
	offers, err := w.cfg.DB.Offers(r.Context(), actor, s.CustomerID, store.OfferFilter{Limit: marketplaceOffers})
	if err != nil {
		return nil
	}
	// A plan off the paths is offered only where the Marketplace shows it:
	// on a displayed shelf, or anywhere when the vendor displays none.
	cats, err := w.cfg.DB.OfferCategories(r.Context(), actor, s.CustomerID)
	if err != nil {
		return nil
	}
	onPath := map[int64]bool{}
	for _, id := range append(append([]int64{}, offer.UpgradeTo...), offer.DowngradeTo...) {
		onPath[id] = true
	}
	var out []changeOption
	for _, o := range offers {
		if o.PlanID == offer.PlanID {
			continue
		}
		var holds *catalog.OfferResource
		for i, other := range o.Resources {
			if sameResource(other, res) && (other.Max == catalog.Unlimited || other.Max >= n) {
				holds = &o.Resources[i]
				break
			}
		}
		if holds == nil || !onPath[o.PlanID] && len(cats) > 0 && len(o.SalesCategories) == 0 {
			continue
		}
		opt := changeOption{L: l, SubID: s.ID, Form: "plan-" + strconv.FormatInt(o.PlanID, 10), Label: o.Name, Plan: o.PlanID}
		if onPath[o.PlanID] {
			opt = w.priceOption(r, actor, l, s, store.ChangeRequest{PlanID: o.PlanID, Resources: map[string]int64{holds.Key: n}}, opt)
		} else {
			opt.Href = "/marketplace/" + strconv.FormatInt(o.PlanID, 10) + "?res." + url.QueryEscape(holds.Key) + "=" + strconv.FormatInt(n, 10)
		}
		out = append(out, opt)
	}
	return out
}

// sameResource says whether a and b are rates of one resource type.
func sameResource(a, b catalog.OfferResource) bool {
	if a.Resource != "" || b.Resource != "" {
		return a.Resource == b.Resource
	}
	return a.Key == b.Key
}

// subscriptionChangeQuote answers the price summary of one limit's form,
// for htmx.
func (w *Web) subscriptionChangeQuote(rw http.ResponseWriter, r *http.Request) {
	actor, u, _, s, ok := w.actionSubscription(rw, r)
	if !ok {
		return
	}
	l := localeFor(r, u)
	offer := w.offerOf(r, actor, s)
	key := r.URL.Query().Get("resource")
	if offer == nil {
		w.renderNotFound(rw, r, u)
		return
	}
	for _, res := range choosable(offer, s.Period) {
		if res.Key != key {
			continue
		}
		sum := changeSummary{L: l, SubID: s.ID, Key: key, Prices: actor.ShowsPrices()}
		w.limitSummary(r, actor, l, s, offer, res, r.URL.Query().Get("res."+key), &sum)
		w.render(rw, r, http.StatusOK, "change-summary-page", page{L: l, User: u, Data: sum})
		return
	}
	w.renderNotFound(rw, r, u)
}

// changeSubscription places the change order of one of the screen's
// forms: a limit (res.KEY), a plan (plan) or a period (period).
func (w *Web) changeSubscription(rw http.ResponseWriter, r *http.Request) {
	actor, u, s, ok := w.postedSubscription(rw, r)
	if !ok {
		return
	}
	l := localeFor(r, u)
	form := r.PostForm
	at := &changeAttempt{form: form.Get("form"), values: form}
	req := store.ChangeRequest{Period: form.Get("period"), ConfirmZero: form.Get("confirm_zero") == "yes", Resources: map[string]int64{}}
	if p := form.Get("plan"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			w.renderNotFound(rw, r, u)
			return
		}
		req.PlanID = id
	}
	for k, v := range form {
		key, isRes := strings.CutPrefix(k, "res.")
		if !isRes || len(v) == 0 {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
		if err != nil || n < 0 {
			at.fieldErr = l.T("wizard.err.number")
			break
		}
		req.Resources[key] = n
	}
	if at.fieldErr == "" {
		o, err := w.cfg.DB.ChangeOrder(r.Context(), actor, s.ID, req, w.enqueue(r.Context()))
		w.ordered(rw, r, u, s, o, err, at)
		return
	}
	w.subscriptionPage(rw, r, http.StatusUnprocessableEntity, at)
}

// ordered answers a form that placed an order on subscription s: back to
// the subscription with the order's number, the 404 page for a refusal
// that means "not yours", or the form again with the store's reason.
func (w *Web) ordered(rw http.ResponseWriter, r *http.Request, u *account.User, s *subscription.Subscription, o *store.Order, err error, at *changeAttempt) {
	switch {
	case err == nil:
		http.Redirect(rw, r, "/subscriptions/"+strconv.FormatInt(s.ID, 10)+"?ordered="+strconv.FormatInt(o.Number, 10), http.StatusSeeOther)
	case refusedAsMissing(err):
		w.fail(rw, r, u, err)
	default:
		at.err = err
		w.subscriptionPage(rw, r, http.StatusUnprocessableEntity, at)
	}
}

// cancelSubscription places the cancellation order of the subscription,
// once the reader has ticked that it means it.
func (w *Web) cancelSubscription(rw http.ResponseWriter, r *http.Request) {
	actor, u, s, ok := w.postedSubscription(rw, r)
	if !ok {
		return
	}
	// The privilege first: a forged post of a user without it is the
	// 404 page whether or not it ticked the box.
	if !may(actor, account.CancelSubs) {
		w.renderNotFound(rw, r, u)
		return
	}
	at := &changeAttempt{form: "cancel", values: r.PostForm}
	if r.PostForm.Get("confirm_cancel") != "yes" {
		at.err = marketplane.Errorf(marketplane.EINVALID, "not confirmed")
		w.subscriptionPage(rw, r, http.StatusUnprocessableEntity, at)
		return
	}
	// A zero day is today, the store's clock.
	o, err := w.cfg.DB.CancelOrder(r.Context(), actor, s.ID, time.Time{}, w.enqueue(r.Context()))
	w.ordered(rw, r, u, s, o, err, at)
}

// setAutoRenew sets how the subscription renews: off, or so many days
// before it expires.
func (w *Web) setAutoRenew(rw http.ResponseWriter, r *http.Request) {
	actor, u, s, ok := w.postedSubscription(rw, r)
	if !ok {
		return
	}
	at := &changeAttempt{form: "renew", values: r.PostForm}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("renew_days")))
	if err != nil {
		at.err = marketplane.Errorf(marketplane.EINVALID, "renew_days is no number")
		if !may(actor, account.ChangeAutoRenw) {
			w.renderNotFound(rw, r, u)
			return
		}
		w.subscriptionPage(rw, r, http.StatusUnprocessableEntity, at)
		return
	}
	_, err = w.cfg.DB.SetAutoRenew(r.Context(), actor, s.ID, subscription.AutoRenew(r.PostForm.Get("auto_renew")), days)
	if err == nil {
		http.Redirect(rw, r, "/subscriptions/"+strconv.FormatInt(s.ID, 10), http.StatusSeeOther)
		return
	}
	if refusedAsMissing(err) {
		w.fail(rw, r, u, err)
		return
	}
	at.err = err
	w.subscriptionPage(rw, r, http.StatusUnprocessableEntity, at)
}

// refusedAsMissing says whether err answers the 404 page (or the sign-in,
// or the error page) rather than a message in the form: a subscription out
// of reach and a privilege the reader lacks look like no subscription.
func refusedAsMissing(err error) bool {
	switch marketplane.ErrorCode(err) {
	case marketplane.EINTERNAL, marketplane.ENOTFOUND, marketplane.EFORBIDDEN, marketplane.EUNAUTHORIZED:
		return true
	}
	return false
}

// actionSubscription reads the subscription of the request's path for the
// postedSubscription is actionSubscription for a form posted to the
// subscription: a body that cannot be read is the 404 page too.
func (w *Web) postedSubscription(rw http.ResponseWriter, r *http.Request) (*account.Actor, *account.User, *subscription.Subscription, bool) {
	actor, u, _, s, ok := w.actionSubscription(rw, r)
	if !ok {
		return nil, nil, nil, false
	}
	if err := r.ParseForm(); err != nil {
		w.renderNotFound(rw, r, u)
		return nil, nil, nil, false
	}
	return actor, u, s, true
}

// signed-in reader; one out of reach is the 404 page, as a missing one.
func (w *Web) actionSubscription(rw http.ResponseWriter, r *http.Request) (*account.Actor, *account.User, *account.Account, *subscription.Subscription, bool) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return nil, nil, nil, nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		w.renderNotFound(rw, r, u)
		return nil, nil, nil, nil, false
	}
	s, err := w.cfg.DB.Subscription(r.Context(), actor, id)
	if err != nil {
		w.fail(rw, r, u, err)
		return nil, nil, nil, nil, false
	}
	return actor, u, acct, s, true
}
