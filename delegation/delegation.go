// Package delegation copies plans down the reseller tree and keeps the
// copies in step with their sources: price rules, cost and cap checks, sync
// options, restrictions, and the preview that says what a sync would change.
// It is pure: the store loads plans and terms, calls these rules and saves
// what they return, so a preview and an apply run the same code.
package delegation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/marketplane/marketplane"
)

// Option is one kind of change a sync carries to the copies.
type Option string

// Sync options.
const (
	// OptFees: period fees and their descriptions, show-zero-price, refund
	// settings with the after-refund period, sort number, recurring-per,
	// and the period a trial converts to.
	OptFees Option = "fees"
	// OptNewResources: rates added at the source appear in the copies.
	OptNewResources Option = "new_resources"
	// OptResourcePrices: setup, recurring and overuse prices of rates.
	OptResourcePrices Option = "resource_prices"
	// OptResourceLimits: included, minimum and maximum amounts of rates.
	OptResourceLimits Option = "resource_limits"
	// OptNewPeriods: periods added at the source appear in the copies, and
	// rates gain newly added rate periods.
	OptNewPeriods Option = "new_periods"
	// OptNewPlans: plans of the source's owner that a child does not hold
	// yet are delegated to it (children holding a plan of the same service
	// template get them, with the rule of that plan).
	OptNewPlans Option = "new_plans"
	// OptNames: plan name, description and terms in all languages, and the
	// names of composite rates.
	OptNames Option = "names"
	// OptCategories: sales categories and plan category (with its unique
	// group flag).
	OptCategories Option = "categories"
	// OptPublication: publishing and withdrawing plans.
	OptPublication Option = "publication"
)

// AllOptions lists every option in a stable order.
var AllOptions = []Option{OptFees, OptNewResources, OptResourcePrices, OptResourceLimits,
	OptNewPeriods, OptNewPlans, OptNames, OptCategories, OptPublication}

// Options is a set of sync options.
type Options map[Option]bool

// ParseOptions reads a comma-separated list such as "fees,resource_prices";
// "all" means every option. Unknown options are refused.
func ParseOptions(s string) (Options, error) {
	o := Options{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part == "all" {
			for _, a := range AllOptions {
				o[a] = true
			}
			continue
		}
		if !slices.Contains(AllOptions, Option(part)) {
			return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid sync options",
				Fields: map[string]string{"options": fmt.Sprintf("unknown option %q (known: %s)", part, joinOptions(AllOptions))}}
		}
		o[Option(part)] = true
	}
	if len(o) == 0 {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid sync options",
			Fields: map[string]string{"options": "name at least one option"}}
	}
	return o, nil
}

// String lists the options in a stable order.
func (o Options) String() string {
	var list []Option
	for _, a := range AllOptions {
		if o[a] {
			list = append(list, a)
		}
	}
	return joinOptions(list)
}

func joinOptions(list []Option) string {
	s := make([]string, len(list))
	for i, o := range list {
		s[i] = string(o)
	}
	return strings.Join(s, ",")
}

// Restriction blocks a part of a child reseller's copies from every sync:
// the parent's promise that this part of the child's catalog is its own.
type Restriction string

// Restrictions.
const (
	RestrictPricing            Restriction = "pricing"
	RestrictTerms              Restriction = "terms"
	RestrictPlanCategories     Restriction = "plan_categories"
	RestrictResourceCategories Restriction = "resource_categories"
	RestrictSalesCategories    Restriction = "sales_categories"
	RestrictPublication        Restriction = "publication"
)

// AllRestrictions lists every restriction in a stable order.
var AllRestrictions = []Restriction{RestrictPricing, RestrictTerms, RestrictPlanCategories,
	RestrictResourceCategories, RestrictSalesCategories, RestrictPublication}

// Terms are what a parent has set on one child reseller for delegation.
type Terms struct {
	// Restrictions block parts of the child's copies from syncs.
	Restrictions []Restriction `json:"restrictions,omitempty"`
	// ProhibitCascade stops syncs at the child: its own copies are
	// updated, its children's copies are not.
	ProhibitCascade bool `json:"prohibit_cascade,omitempty"`
}

// Restricted reports whether r is among the terms' restrictions.
func (t Terms) Restricted(r Restriction) bool { return slices.Contains(t.Restrictions, r) }

// Validate checks the terms.
func (t Terms) Validate() error {
	var f marketplane.FieldErrors
	for i, r := range t.Restrictions {
		switch {
		case !slices.Contains(AllRestrictions, r):
			f.Add(fmt.Sprintf("restrictions[%d]", i), fmt.Sprintf("unknown restriction %q", r))
		case slices.Contains(t.Restrictions[:i], r):
			f.Add(fmt.Sprintf("restrictions[%d]", i), fmt.Sprintf("%q is listed twice", r))
		}
	}
	return f.Err("delegation terms")
}
