package catalog

import (
	"fmt"
	"regexp"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// keyPattern is the form of every stable key in the catalog: the keys are
// how copies down the tree, imports and subscriptions find the same thing.
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidKey reports whether k is a well-formed catalog key.
func ValidKey(k string) bool { return keyPattern.MatchString(k) }

// Unlimited is the value of a maximum (or included amount) without limit.
const Unlimited int64 = -1

// Class is what a resource type measures.
type Class string

// Resource classes.
const (
	// ClassLimit is a quantity the customer buys (mailboxes, GB of disk);
	// usage is read as a gauge and overuse is its highest reading above the
	// included amount.
	ClassLimit Class = "limit"
	// ClassCounter is an additive usage counter (unit-hours, requests):
	// the usage of a period is the sum of its readings.
	ClassCounter Class = "counter"
	// ClassGauge is a usage value that is not additive (current value).
	ClassGauge Class = "gauge"
	// ClassBoolean is a feature that is on or off.
	ClassBoolean Class = "boolean"
)

// ResourceType is a sellable unit of a service, owned by the provider.
type ResourceType struct {
	ID        int64  `json:"-"`
	Key       string `json:"key"`
	Name      Text   `json:"name"`
	Unit      string `json:"unit"` // "mailbox", "GB", "vCPU-hour"
	Class     Class  `json:"class"`
	Category  string `json:"category,omitempty"`  // resource category, for grouping in panels
	Connector string `json:"connector,omitempty"` // the connector's name for it (provisioning binds it)
}

// Validate checks the resource type.
func (r *ResourceType) Validate() error {
	var f marketplane.FieldErrors
	checkKey(&f, "key", r.Key)
	checkName(&f, "name", r.Name)
	if r.Unit == "" {
		f.Add("unit", "is required")
	}
	switch r.Class {
	case ClassLimit, ClassCounter, ClassGauge, ClassBoolean:
	default:
		f.Add("class", "must be limit, counter, gauge or boolean")
	}
	return f.Err("resource type")
}

// Template is the set of resource types a service is provisioned from, bound
// to one connector.
type Template struct {
	ID        int64              `json:"-"`
	Key       string             `json:"key"`
	Name      Text               `json:"name"`
	Connector string             `json:"connector,omitempty"`
	Resources []TemplateResource `json:"resources"`
}

// TemplateResource is a resource type of a template with its default limit.
type TemplateResource struct {
	Resource string `json:"resource"` // resource type key
	Limit    int64  `json:"limit"`    // Unlimited or ≥ 0
}

// Validate checks the template; known says which resource type keys exist.
func (t *Template) Validate(known func(key string) bool) error {
	var f marketplane.FieldErrors
	checkKey(&f, "key", t.Key)
	checkName(&f, "name", t.Name)
	seen := map[string]bool{}
	for i, r := range t.Resources {
		p := fmt.Sprintf("resources[%d]", i)
		if known != nil && !known(r.Resource) {
			f.Add(p+".resource", fmt.Sprintf("no resource type %q", r.Resource))
		}
		if seen[r.Resource] {
			f.Add(p+".resource", "appears twice")
		}
		seen[r.Resource] = true
		if r.Limit < Unlimited {
			f.Add(p+".limit", "must be -1 (unlimited) or at least 0")
		}
	}
	return f.Err("service template")
}

// BillingModel says when a plan charges.
type BillingModel string

// Billing models.
const (
	// ChargeInAdvance charges each period's fees at its start, with last
	// period's overuse (the common default).
	ChargeInAdvance BillingModel = "advance"
	// ChargeInArrears charges a period's fees at its end.
	ChargeInArrears BillingModel = "arrears"
	// PayAsYouGo charges usage only.
	PayAsYouGo BillingModel = "payg"
)

// Unit of a period's duration.
type Unit string

// Duration units.
const (
	Day   Unit = "day"
	Month Unit = "month"
	Year  Unit = "year"
)

// Duration is the length of a subscription period.
type Duration struct {
	N    int  `json:"n"`
	Unit Unit `json:"unit"`
}

// String is the short form used as a period's default key: "1m", "12m",
// "14d", "1y" (lower case, as every catalog key).
func (d Duration) String() string {
	u := map[Unit]string{Day: "d", Month: "m", Year: "y"}[d.Unit]
	return fmt.Sprintf("%d%s", d.N, u)
}

// AddTo returns the end of a period of d starting at t. Months keep the
// anchor day or end on the month's last day when it has none (31 January +
// 1 month = 28 February).
func (d Duration) AddTo(t time.Time) time.Time {
	switch d.Unit {
	case Day:
		return t.AddDate(0, 0, d.N)
	case Year:
		return addMonths(t, 12*d.N)
	default:
		return addMonths(t, d.N)
	}
}

func addMonths(t time.Time, n int) time.Time {
	y, m, day := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	if day > last {
		day = last
	}
	return time.Date(first.Year(), first.Month(), day, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// Months is the number of months of d (0 for day durations).
func (d Duration) Months() int {
	switch d.Unit {
	case Month:
		return d.N
	case Year:
		return 12 * d.N
	}
	return 0
}

// AfterRefund says what is refunded after the full-refund window.
type AfterRefund string

// Refund policies after the full-refund window.
const (
	RefundProrated AfterRefund = "prorated"
	RefundNone     AfterRefund = "none"
)

// Refund is a period's refund policy: everything within FullDays, then a
// prorated part of the recurring fee or nothing, less NonRefundable.
type Refund struct {
	FullDays      int          `json:"full_days"`
	After         AfterRefund  `json:"after"`
	NonRefundable money.Micros `json:"non_refundable"`
}

// Price is one price of a plan with its caps. The cap is set by the seller
// above: a copy may not charge more than MaxRetail (0 = no cap);
// SuggestedRetail is advice shown to the reseller.
type Price struct {
	Amount          money.Micros `json:"amount"`
	MaxRetail       money.Micros `json:"max_retail,omitempty"`
	SuggestedRetail money.Micros `json:"suggested_retail,omitempty"`
}

// RecurringPer says whether a recurring fee is per period or per month of
// the period (a yearly period priced per month).
type RecurringPer string

// Recurring price bases.
const (
	PerPeriod RecurringPer = "period"
	PerMonth  RecurringPer = "month"
)

// Period is a subscription period of a plan with its fees.
type Period struct {
	Key      string   `json:"key"` // stable; default Duration.String()
	Duration Duration `json:"duration"`
	Trial    bool     `json:"trial,omitempty"`
	// ConvertsTo is, on a trial period, the key of the paid period of the
	// same plan that the trial turns into when it ends: on the trial's end
	// day the subscription goes on in that period, whose periods are
	// counted from that day (see package billing). Empty on paid periods
	// and on a trial that converts to nothing (billing refuses to end such
	// a trial).
	ConvertsTo    string   `json:"converts_to,omitempty"`
	Setup         Price    `json:"setup"`
	Recurring     Price    `json:"recurring"`
	Renewal       Price    `json:"renewal"`
	Cancellation  Price    `json:"cancellation"`
	Descriptions  FeeTexts `json:"descriptions,omitempty"`
	ShowZeroPrice bool     `json:"show_zero_price,omitempty"`
	Refund        Refund   `json:"refund"`
	// AfterRefundDays is the period after a refund during which the same
	// customer gets no second full refund.
	AfterRefundDays int          `json:"after_refund_days,omitempty"`
	Sort            int          `json:"sort"`
	RecurringPer    RecurringPer `json:"recurring_per"`
	// Unpriced marks a period that reached a copy without a price of the
	// copy's owner (its pricing is restricted from sync): the copy is held
	// back from sale until the owner prices it.
	Unpriced bool `json:"unpriced,omitempty"`
}

// FeeTexts are the descriptions of a period's fees.
type FeeTexts struct {
	Setup        Text `json:"setup,omitempty"`
	Recurring    Text `json:"recurring,omitempty"`
	Renewal      Text `json:"renewal,omitempty"`
	Cancellation Text `json:"cancellation,omitempty"`
}

// Display is how a panel lets the customer choose an amount.
type Display string

// Display types.
const (
	Spinner Display = "spinner"
	Slider  Display = "slider"
)

// Part is one simple resource in a composite rate: Units of Resource per
// unit of the composite.
type Part struct {
	Resource string `json:"resource"`
	Units    int64  `json:"units"`
}

// Rate is the price and limits of one resource in a plan. A composite rate
// sells several simple resources as one item (Parts), with one price and
// limit.
type Rate struct {
	Key      string `json:"key"`                // the resource type key, or the composite's own key
	Resource string `json:"resource,omitempty"` // resource type key; empty for a composite
	Parts    []Part `json:"parts,omitempty"`
	Name     Text   `json:"name,omitempty"` // a composite's name; simple rates show the resource's
	Category string `json:"category,omitempty"`
	Included int64  `json:"included"`
	Min      int64  `json:"min"`
	Max      int64  `json:"max"` // Unlimited or ≥ Included
	// Setup and Recurring are per unit above the included amount; Overuse
	// is per unit of usage above the limit (or of usage at all on
	// pay-as-you-go plans).
	Setup      Price   `json:"setup"`
	Recurring  Price   `json:"recurring"`
	Overuse    Price   `json:"overuse"`
	Measurable bool    `json:"measurable,omitempty"`
	Display    Display `json:"display"`
	Sort       int     `json:"sort"`
	// Periods limits the rate to these period keys; empty means all.
	Periods  []string `json:"periods,omitempty"`
	Unpriced bool     `json:"unpriced,omitempty"`
}

// Composite reports whether r sells several resources as one.
func (r *Rate) Composite() bool { return len(r.Parts) > 0 }
