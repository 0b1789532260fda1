package api

import (
	"context"
	"net/http"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// The buyer's view of its vendor's store: the plans on sale to a customer
// (offers), the vendor's displayed sales categories, and what a
// subscription may change to. A customer's key reads them for itself; the
// vendor and the accounts above it with reach may read them for one of
// their customers. They carry the buyer's prices only: no costs, caps,
// price rules or other delegation data, and no plan that is not on sale.

// OfferPrices are the fees of an offer's period, decimal amounts in the
// offer's currency.
type OfferPrices struct {
	Setup        string `json:"setup" price:"true" example:"5.00" doc:"Charged once, at the start."`
	Recurring    string `json:"recurring" price:"true" example:"10.00" doc:"Charged every period (or every month of it: see recurring_per)."`
	Renewal      string `json:"renewal" price:"true" example:"0.00" doc:"Charged at each renewal."`
	Cancellation string `json:"cancellation" price:"true" example:"0.00" doc:"Charged when the subscription is cancelled."`
}

// OfferFeeTexts are the descriptions of a period's fees in the buyer's
// language, where the catalog has them.
type OfferFeeTexts struct {
	Setup        string `json:"setup,omitempty"`
	Recurring    string `json:"recurring,omitempty"`
	Renewal      string `json:"renewal,omitempty"`
	Cancellation string `json:"cancellation,omitempty"`
}

// OfferRefund is a period's refund terms.
type OfferRefund struct {
	FullDays      int    `json:"full_days" doc:"Days after the start (or a renewal) with a full refund."`
	After         string `json:"after" enum:"prorated,none" doc:"After the full-refund days: a prorated refund of the recurring fee, or none."`
	NonRefundable string `json:"non_refundable" price:"true" example:"0.00" doc:"Never refunded."`
}

// OfferPeriod is a subscription period of an offer.
type OfferPeriod struct {
	Key             string        `json:"key" example:"1m" doc:"What an order's period names."`
	Duration        Duration      `json:"duration"`
	Trial           bool          `json:"trial" doc:"A free trial; it goes on as the period converts_to names when it ends."`
	ConvertsTo      string        `json:"converts_to,omitempty" doc:"Of a trial: the paid period it turns into."`
	Fees            OfferPrices   `json:"fees"`
	RecurringPer    string        `json:"recurring_per" enum:"period,month" doc:"Whether the recurring fee is per period or per month of it."`
	Descriptions    OfferFeeTexts `json:"descriptions"`
	ShowZeroPrice   bool          `json:"show_zero_price" doc:"Show fees of 0 rather than leaving them out."`
	Refund          OfferRefund   `json:"refund"`
	AfterRefundDays int           `json:"after_refund_days" doc:"Days after a refund during which the same buyer gets no second full refund."`
}

// OfferResource is a resource of an offer: what is included, what the
// buyer may choose, and a unit's prices.
type OfferResource struct {
	Key        string   `json:"key" doc:"What an order's resources name."`
	Resource   string   `json:"resource,omitempty" doc:"The resource type; absent for a composite."`
	Parts      []Part   `json:"parts" doc:"The simple resources of a composite, per unit of it."`
	Name       string   `json:"name" doc:"In the buyer's language where the catalog has it."`
	Unit       string   `json:"unit,omitempty" example:"GB"`
	Category   string   `json:"category,omitempty"`
	Included   int64    `json:"included" doc:"Units in the recurring fee; -1 for unlimited."`
	Min        int64    `json:"min"`
	Max        int64    `json:"max" doc:"-1 for unlimited."`
	Setup      string   `json:"setup" price:"true" example:"0.00" doc:"Per unit above the included amount, once."`
	Recurring  string   `json:"recurring" price:"true" example:"2.50" doc:"Per unit above the included amount, per period."`
	Overuse    string   `json:"overuse" price:"true" example:"0.00" doc:"Per unit of usage above the limit (of all usage on pay-as-you-go plans)."`
	Measurable bool     `json:"measurable" doc:"Usage is measured and reported."`
	Display    string   `json:"display" enum:"spinner,slider" doc:"How a panel lets the buyer choose the amount."`
	Periods    []string `json:"periods" doc:"The period keys the resource is sold with; empty: all."`
}

// Offer is a plan on sale to a buyer, as the buyer sees it.
type Offer struct {
	PlanID          int64           `json:"plan_id" doc:"What an order's plan_id names."`
	Key             string          `json:"key"`
	Name            string          `json:"name" doc:"In the buyer's language where the catalog has it."`
	Description     string          `json:"description,omitempty"`
	Terms           string          `json:"terms,omitempty" doc:"Terms and conditions."`
	Billing         string          `json:"billing" enum:"advance,arrears,payg"`
	Currency        string          `json:"currency" example:"USD"`
	PlanCategory    string          `json:"plan_category,omitempty"`
	SalesCategories []string        `json:"sales_categories" doc:"The vendor's displayed sales categories the plan stands on, in the vendor's order."`
	Periods         []OfferPeriod   `json:"periods"`
	Resources       []OfferResource `json:"resources"`
	UpgradeTo       []int64         `json:"upgrade_to" doc:"Offers (plan ids) a subscription to this plan may upgrade to."`
	DowngradeTo     []int64         `json:"downgrade_to" doc:"Offers (plan ids) a subscription to this plan may downgrade to."`
}

// OfferCategory is a displayed sales category of the vendor's store.
type OfferCategory struct {
	Key      string `json:"key"`
	Parent   string `json:"parent,omitempty" doc:"The parent category's key; absent at the top."`
	Name     string `json:"name" doc:"In the buyer's language where the catalog has it."`
	Holds    string `json:"holds" enum:"plans,categories"`
	Position int    `json:"position" doc:"Among its siblings; the list is already in the vendor's order."`
}

// SubscriptionOffers are the offers a subscription may change to.
type SubscriptionOffers struct {
	SubscriptionID int64   `json:"subscription_id"`
	Current        *Offer  `json:"current,omitempty" doc:"The subscription's plan as offered today; absent when its vendor no longer sells it."`
	Upgrades       []Offer `json:"upgrades"`
	Downgrades     []Offer `json:"downgrades"`
}

func offerView(o catalog.Offer) Offer {
	out := Offer{PlanID: o.PlanID, Key: o.Key, Name: o.Name, Description: o.Description, Terms: o.Terms,
		Billing: string(o.Billing), Currency: o.Currency, PlanCategory: o.PlanCategory,
		SalesCategories: keysOut(o.SalesCategories), Periods: make([]OfferPeriod, len(o.Periods)),
		Resources: make([]OfferResource, len(o.Resources)), UpgradeTo: idsOut(o.UpgradeTo), DowngradeTo: idsOut(o.DowngradeTo)}
	amt := func(m money.Micros) string { return m.Format(o.Currency) }
	for i, pe := range o.Periods {
		after := string(pe.Refund.After)
		if after == "" {
			after = string(catalog.RefundNone)
		}
		per := string(pe.RecurringPer)
		if per == "" {
			per = string(catalog.PerPeriod)
		}
		out.Periods[i] = OfferPeriod{Key: pe.Key, Duration: Duration{N: pe.Duration.N, Unit: string(pe.Duration.Unit)},
			Trial: pe.Trial, ConvertsTo: pe.ConvertsTo,
			Fees:            OfferPrices{Setup: amt(pe.Setup), Recurring: amt(pe.Recurring), Renewal: amt(pe.Renewal), Cancellation: amt(pe.Cancellation)},
			RecurringPer:    per,
			Descriptions:    OfferFeeTexts{Setup: pe.SetupText, Recurring: pe.RecurringText, Renewal: pe.RenewalText, Cancellation: pe.CancellationText},
			ShowZeroPrice:   pe.ShowZeroPrice,
			Refund:          OfferRefund{FullDays: pe.Refund.FullDays, After: after, NonRefundable: amt(pe.Refund.NonRefundable)},
			AfterRefundDays: pe.AfterRefundDays}
	}
	for i, r := range o.Resources {
		parts := make([]Part, len(r.Parts))
		for j, pt := range r.Parts {
			parts[j] = Part(pt)
		}
		display := string(r.Display)
		if display == "" {
			display = string(catalog.Spinner)
		}
		out.Resources[i] = OfferResource{Key: r.Key, Resource: r.Resource, Parts: parts, Name: r.Name, Unit: r.Unit,
			Category: r.Category, Included: r.Included, Min: r.Min, Max: r.Max,
			Setup: amt(r.Setup), Recurring: amt(r.Recurring), Overuse: amt(r.Overuse),
			Measurable: r.Measurable, Display: display, Periods: keysOut(r.Periods)}
	}
	return out
}

func idsOut(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func offerCategoryView(c store.OfferCategory) OfferCategory {
	return OfferCategory{Key: c.Key, Parent: c.Parent, Name: c.Name, Holds: string(c.Holds), Position: c.Position}
}

type listOffersInput struct {
	ID            int64  `path:"id" doc:"The buyer: a customer account."`
	SalesCategory string `query:"sales_category" doc:"Only the offers on this displayed sales category."`
	PageParams
}

type offerPage struct {
	Body Page[Offer]
}

type getOfferInput struct {
	ID     int64 `path:"id" doc:"The buyer: a customer account."`
	PlanID int64 `path:"plan_id" doc:"The offer's plan id."`
}

type offerOutput struct {
	Body Offer
}

type offerCategoryPage struct {
	Body Page[OfferCategory]
}

type subscriptionOffersInput struct {
	ID int64 `path:"id" doc:"Subscription id."`
}

type subscriptionOffersOutput struct {
	Body SubscriptionOffers
}

// Cursor kinds of the offer lists.
const (
	cursorOffers          = "offer"
	cursorOfferCategories = "ocat"
)

func (a *API) offerRoutes() {
	const tag = "Offers"
	register(a, op{id: "list-offers", method: http.MethodGet, path: "/accounts/{id}/offers", tag: tag,
		summary: "List what a customer's vendor offers it",
		description: "The plans the customer's vendor has on sale (published, prices confirmed), in key order, " +
			"with the customer's prices, limits and the texts in its language. A reseller account is refused (400): " +
			"its parent's plans reach it by delegation."}, a.listOffers)
	register(a, op{id: "get-offer", method: http.MethodGet, path: "/accounts/{id}/offers/{plan_id}", tag: tag,
		summary: "Get one offer", description: "404 for any plan the customer's vendor does not have on sale."}, a.getOffer)
	register(a, op{id: "list-offer-categories", method: http.MethodGet, path: "/accounts/{id}/offer-categories", tag: tag,
		summary: "List the sales categories of a customer's store",
		description: "The vendor's displayed sales categories in its order (a category before its sub-categories); " +
			"hidden ones, and those below them, are left out."}, a.listOfferCategories)
	register(a, op{id: "list-subscription-offers", method: http.MethodGet, path: "/subscriptions/{id}/offers", tag: tag,
		summary: "List what a subscription may change to",
		description: "The upgrade and downgrade paths of the subscription's plan that lead to plans its vendor has on sale, " +
			"as offers; order one with POST /subscriptions/{id}/change."}, a.listSubscriptionOffers)
}

func (a *API) listOffers(ctx context.Context, in *listOffersInput) (*offerPage, error) {
	after, err := decodeCursor(cursorOffers, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Offers(ctx, actorFrom(ctx), in.ID, store.OfferFilter{SalesCategory: in.SalesCategory, After: after, Limit: in.fetchSize()})
	if err != nil {
		return nil, err
	}
	return &offerPage{Body: paginate(in.PageParams, cursorOffers, rows, func(o catalog.Offer) string { return o.Key }, offerView)}, nil
}

func (a *API) getOffer(ctx context.Context, in *getOfferInput) (*offerOutput, error) {
	o, err := a.db.Offer(ctx, actorFrom(ctx), in.ID, in.PlanID)
	if err != nil {
		return nil, err
	}
	return &offerOutput{Body: offerView(*o)}, nil
}

func (a *API) listOfferCategories(ctx context.Context, in *accountListInput) (*offerCategoryPage, error) {
	rows, err := a.db.OfferCategories(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorOfferCategories, rows, func(c store.OfferCategory) string { return c.Key }, offerCategoryView)
	if err != nil {
		return nil, err
	}
	return &offerCategoryPage{Body: page}, nil
}

func (a *API) listSubscriptionOffers(ctx context.Context, in *subscriptionOffersInput) (*subscriptionOffersOutput, error) {
	so, err := a.db.SubscriptionOffersOf(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	out := SubscriptionOffers{SubscriptionID: so.SubscriptionID, Upgrades: make([]Offer, len(so.Upgrades)), Downgrades: make([]Offer, len(so.Downgrades))}
	if so.Current != nil {
		c := offerView(*so.Current)
		out.Current = &c
	}
	for i, o := range so.Upgrades {
		out.Upgrades[i] = offerView(o)
	}
	for i, o := range so.Downgrades {
		out.Downgrades[i] = offerView(o)
	}
	return &subscriptionOffersOutput{Body: out}, nil
}
