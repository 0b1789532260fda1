package web

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
)

// EnqueueFunc queues the provisioning task of order o in tx, the
// transaction that places it.
type EnqueueFunc func(ctx context.Context, tx *sql.Tx, o *store.Order) error

// The purchase wizard: /marketplace/{plan} shows one offer as a form (the
// period, an amount for every resource the buyer may choose, shown as a
// slider or a spinner as the rate's display says), a price summary that
// htmx refreshes from /marketplace/{plan}/quote whenever a choice changes,
// and places the order with a POST to the same address. The summary is
// the store's Quote, the one the API gives; placing is the store's
// PlaceOrder, the API's. An order that costs nothing (and is no trial)
// needs the buyer's explicit yes, a checkbox the summary shows only then.
// Payment is on account: the order is invoiced to the customer, as the
// installation's default gateway does.

// wizardData is the purchase wizard's screen.
type wizardData struct {
	PlanID      int64
	Name        string
	Description string
	Periods     []periodChoice
	Resources   []resourceChoice
	Summary     summaryData
	// Error is a refusal of the whole order, in words.
	Error string
}

type periodChoice struct {
	Key     string
	Label   string
	Checked bool
}

// resourceChoice is an amount the buyer chooses. Max is "" when there is
// no maximum.
type resourceChoice struct {
	Key    string
	Name   string
	Unit   string
	Slider bool
	Min    string
	Max    string
	Value  string
	// Price is the unit's fee above the included amount ("" when prices
	// are hidden).
	Price string
	Error string
}

// summaryData is the price summary: the quote's lines and total for a
// reader who may see prices, the chosen amounts for everyone.
type summaryData struct {
	Prices  bool
	Lines   []summaryLine
	Total   string
	Amounts []summaryLine
	// Confirm asks for the yes to an order that costs nothing.
	Confirm      bool
	ConfirmError string
	// Error says why the choice cannot be quoted.
	Error string
}

type summaryLine struct {
	Name  string
	Value string
}

// wizardForm is what the buyer chose, as typed (kept to show it again)
// and as an order request, with the fields that could not be read.
type wizardForm struct {
	values url.Values
	req    store.OrderRequest
	trial  bool
	errs   map[string]string
}

func (w *Web) wizard(rw http.ResponseWriter, r *http.Request) {
	w.wizardPage(rw, r, false)
}

// wizardQuote answers the price summary alone, for htmx.
func (w *Web) wizardQuote(rw http.ResponseWriter, r *http.Request) {
	w.wizardPage(rw, r, true)
}

func (w *Web) wizardPage(rw http.ResponseWriter, r *http.Request, summaryOnly bool) {
	actor, u, acct, offer, ok := w.wizardOffer(rw, r)
	if !ok {
		return
	}
	l := localeFor(r, u)
	f := readWizard(l, acct.ID, offer, r.URL.Query())
	d := w.wizardData(r, actor, l, offer, f, nil)
	p := page{L: l, User: u, Account: acct, Title: offer.Name, Nav: "marketplace", Data: d}
	if summaryOnly {
		w.render(rw, r, http.StatusOK, "wizard-summary", p)
		return
	}
	w.render(rw, r, http.StatusOK, "wizard.html", p)
}

// placeOrder places the order of the wizard's form. A refusal shows the
// form again with every choice kept and the reason by its field.
func (w *Web) placeOrder(rw http.ResponseWriter, r *http.Request) {
	actor, u, acct, offer, ok := w.wizardOffer(rw, r)
	if !ok {
		return
	}
	l := localeFor(r, u)
	if err := r.ParseForm(); err != nil {
		w.renderNotFound(rw, r, u)
		return
	}
	f := readWizard(l, acct.ID, offer, r.PostForm)
	var err error
	if len(f.errs) == 0 {
		f.req.ConfirmZero = r.PostForm.Get("confirm_zero") == "yes"
		_, err = w.cfg.DB.PlaceOrder(r.Context(), actor, f.req, w.enqueue(r.Context()))
		if err == nil {
			http.Redirect(rw, r, "/", http.StatusSeeOther)
			return
		}
		if c := marketplane.ErrorCode(err); c == marketplane.EINTERNAL || c == marketplane.ENOTFOUND || c == marketplane.EUNAUTHORIZED {
			w.fail(rw, r, u, err)
			return
		}
	}
	d := w.wizardData(r, actor, l, offer, f, err)
	w.render(rw, r, http.StatusUnprocessableEntity, "wizard.html", page{L: l, User: u, Account: acct, Title: offer.Name, Nav: "marketplace", Data: d})
}

// enqueue is the order's provisioning hook; without one configured the
// order is refused as unavailable and nothing is stored.
func (w *Web) enqueue(ctx context.Context) func(tx *sql.Tx, o *store.Order) error {
	return func(tx *sql.Tx, o *store.Order) error {
		if w.cfg.EnqueueProvision == nil {
			return marketplane.Errorf(marketplane.EUNAVAILABLE, "orders need the task manager, which this server lacks")
		}
		return w.cfg.EnqueueProvision(ctx, tx, o)
	}
}

// wizardOffer reads the offer of the request's plan for the signed-in
// customer: another vendor's plan, one not on sale or a missing one is the
// 404 page alike.
func (w *Web) wizardOffer(rw http.ResponseWriter, r *http.Request) (*account.Actor, *account.User, *account.Account, *catalog.Offer, bool) {
	actor, u, acct, ok := w.signedIn(rw, r)
	if !ok {
		return nil, nil, nil, nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("plan"), 10, 64)
	if err != nil || id <= 0 || acct.Kind != account.Customer {
		w.renderNotFound(rw, r, u)
		return nil, nil, nil, nil, false
	}
	offer, err := w.cfg.DB.Offer(r.Context(), actor, acct.ID, id)
	if err != nil {
		w.fail(rw, r, u, err)
		return nil, nil, nil, nil, false
	}
	return actor, u, acct, offer, true
}

// readWizard reads the choices of form for offer: the period (the first
// when none or an unknown one is named) and the amount of every rate the
// buyer may choose in that period (its included amount when not given).
func readWizard(l *locale, customerID int64, offer *catalog.Offer, form url.Values) wizardForm {
	f := wizardForm{values: url.Values{}, errs: map[string]string{},
		req: store.OrderRequest{CustomerID: customerID, PlanID: offer.PlanID, Resources: map[string]int64{}}}
	if len(offer.Periods) > 0 {
		f.req.Period, f.trial = offer.Periods[0].Key, offer.Periods[0].Trial
	}
	for _, p := range offer.Periods {
		if p.Key == form.Get("period") {
			f.req.Period, f.trial = p.Key, p.Trial
		}
	}
	f.values.Set("period", f.req.Period)
	for _, res := range choosable(offer, f.req.Period) {
		name := "res." + res.Key
		raw := strings.TrimSpace(form.Get(name))
		if raw == "" {
			raw = strconv.FormatInt(defaultAmount(res), 10)
		}
		f.values.Set(name, raw)
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			f.errs[name] = l.T("wizard.err.number")
			continue
		}
		f.req.Resources[res.Key] = n
	}
	return f
}

// choosable are offer's rates the buyer picks an amount of in period:
// those whose maximum exceeds their minimum and that apply to the period.
func choosable(offer *catalog.Offer, period string) []catalog.OfferResource {
	var out []catalog.OfferResource
	for _, res := range offer.Resources {
		if res.Max != catalog.Unlimited && res.Max <= res.Min {
			continue
		}
		if len(res.Periods) > 0 && !slices.Contains(res.Periods, period) {
			continue
		}
		out = append(out, res)
	}
	return out
}

func defaultAmount(res catalog.OfferResource) int64 {
	if res.Included == catalog.Unlimited {
		return res.Min
	}
	return max(res.Included, res.Min)
}

// wizardData builds the wizard's screen for the choices of f, with the
// refusal err of placing them (nil when not placed). The summary is the
// store's quote of the choices, asked with the buyer's yes so that an order
// for nothing is quoted too; whether it needs that yes is the order
// package's rule (no lines, no trial).
func (w *Web) wizardData(r *http.Request, actor *account.Actor, l *locale, offer *catalog.Offer, f wizardForm, err error) wizardData {
	prices := actor.ShowsPrices()
	d := wizardData{PlanID: offer.PlanID, Name: offer.Name, Description: offer.Description, Summary: summaryData{Prices: prices}}
	for _, p := range offer.Periods {
		label := periodName(l, p)
		if prices && !p.Trial {
			label = l.T("market.price", l.Money(p.Recurring, offer.Currency), label)
		}
		d.Periods = append(d.Periods, periodChoice{Key: p.Key, Label: label, Checked: p.Key == f.req.Period})
	}
	fieldErr := func(field string) string {
		if msg, ok := f.errs[field]; ok {
			return msg
		}
		return ""
	}
	for _, res := range choosable(offer, f.req.Period) {
		c := resourceChoice{Key: res.Key, Name: res.Name, Unit: res.Unit, Min: strconv.FormatInt(res.Min, 10),
			Value: f.values.Get("res." + res.Key)}
		if res.Max != catalog.Unlimited {
			c.Max = strconv.FormatInt(res.Max, 10)
		}
		// A slider needs both ends; without a maximum it is a spinner.
		c.Slider = res.Display == catalog.Slider && c.Max != ""
		if prices && res.Recurring != 0 {
			c.Price = l.T("wizard.unitprice", l.Money(res.Recurring, offer.Currency))
		}
		c.Error = fieldErr("res." + res.Key)
		if c.Error == "" && err != nil {
			if _, bad := fieldReason(err, "resources."+res.Key); bad {
				c.Error = l.T("wizard.err.resource", c.Min, maxText(l, c.Max))
			}
		}
		d.Resources = append(d.Resources, c)
		d.Summary.Amounts = append(d.Summary.Amounts, summaryLine{Name: res.Name, Value: c.Value})
	}
	if err != nil {
		switch {
		case isField(err, "confirm_zero"):
			d.Summary.ConfirmError = l.T("wizard.err.confirm")
		case marketplane.ErrorCode(err) == marketplane.EUNAVAILABLE:
			d.Error = l.T("wizard.err.unavailable")
		case isField(err, "period"):
			d.Error = l.T("wizard.err.period")
		case !anyResourceField(err):
			d.Error = l.T("wizard.err.refused")
		}
	}
	if len(f.errs) > 0 {
		d.Summary.Error = l.T("wizard.err.fix")
		return d
	}
	req := f.req
	req.ConfirmZero = true
	q, qerr := w.cfg.DB.Quote(r.Context(), actor, req)
	if qerr != nil {
		if anyResourceField(qerr) {
			d.Summary.Error = l.T("wizard.err.fix")
		} else {
			d.Summary.Error = l.T("wizard.err.refused")
		}
		return d
	}
	d.Summary.Confirm = q.Quote.Empty() && !f.trial
	if prices {
		for _, line := range q.Quote.Lines {
			d.Summary.Lines = append(d.Summary.Lines, summaryLine{Name: lineName(l, offer, string(line.What), line.Resource),
				Value: l.Money(line.Amount, q.Quote.Currency)})
		}
		d.Summary.Total = l.Money(q.Quote.Total, q.Quote.Currency)
	}
	return d
}

// lineName names a quote line in the reader's language: its kind, and
// the resource's name for a resource's line.
func lineName(l *locale, offer *catalog.Offer, kind, resource string) string {
	name := l.T("line." + kind)
	if resource == "" {
		return name
	}
	for _, res := range offer.Resources {
		if res.Key == resource {
			return name + " · " + res.Name
		}
	}
	return name + " · " + resource
}

func maxText(l *locale, max string) string {
	if max == "" {
		return l.T("sub.unlimited")
	}
	return max
}

// fieldReason is the order package's reason for field in err.
func fieldReason(err error, field string) (string, bool) {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		return "", false
	}
	msg, ok := e.Fields[field]
	reason, _, _ := strings.Cut(msg, ": ")
	return reason, ok
}

func isField(err error, field string) bool {
	_, ok := fieldReason(err, field)
	return ok
}

func anyResourceField(err error) bool {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		return false
	}
	for k := range e.Fields {
		if strings.HasPrefix(k, "resources.") {
			return true
		}
	}
	return false
}
