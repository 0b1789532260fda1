package scenario

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/order"
)

// Market is a scenario's sellers and their plans as catalog values: the
// provider's originals and, down the tiers, the copies delegated from them.
type Market struct {
	// Plans holds each seller's plans by key; a reseller's are delegated
	// copies priced by its delegate rule.
	Plans map[string]map[string]*catalog.Plan
	// Parent is each tier's parent ("" for the root).
	Parent map[string]string
	// Tiered is false for a scenario without tiers: the provider sells to
	// the customer and documents name neither.
	Tiered bool
	// ResourceTypes and Templates are what the plans are made of, for a
	// store that needs them: one resource type per resource id, one
	// template per plan of the root.
	ResourceTypes []catalog.ResourceType
	Templates     []catalog.Template
}

// parseDuration reads a scenario duration: "1M", "12M", "14D", "1Y".
func parseDuration(s string) (catalog.Duration, error) {
	if len(s) < 2 {
		return catalog.Duration{}, fmt.Errorf("duration %q: write 1M, 12M, 14D or 1Y", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	unit := map[byte]catalog.Unit{'D': catalog.Day, 'M': catalog.Month, 'Y': catalog.Year}[s[len(s)-1]]
	if err != nil || n <= 0 || unit == "" {
		return catalog.Duration{}, fmt.Errorf("duration %q: write 1M, 12M, 14D or 1Y", s)
	}
	return catalog.Duration{N: n, Unit: unit}, nil
}

// PeriodKey is the catalog period key of a scenario duration: "1M" → "1m".
func PeriodKey(duration string) (string, error) {
	d, err := parseDuration(duration)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Market builds the scenario's market. Plans get ids in file order (the
// root's first), so that copies link to their sources.
func (s *Scenario) Market() (*Market, error) {
	m := &Market{Plans: map[string]map[string]*catalog.Plan{}, Parent: map[string]string{}, Tiered: len(s.Tiers) > 0}
	kinds := map[string]string{}
	var id int64
	originals := func(tier string, owner int64, plans []Plan) error {
		m.Plans[tier] = map[string]*catalog.Plan{}
		for i := range plans {
			id++
			p, err := plans[i].catalog(s.Currency, id, owner)
			if err != nil {
				return fmt.Errorf("%s: plan %q: %w", tier, plans[i].ID, err)
			}
			m.Plans[tier][p.Key] = p
			tpl := catalog.Template{Key: p.Key, Name: catalog.Text{"en": p.Key}, Resources: []catalog.TemplateResource{}}
			for _, r := range plans[i].Resources {
				tpl.Resources = append(tpl.Resources, catalog.TemplateResource{Resource: r.ID, Limit: catalog.Unlimited})
				if k, ok := kinds[r.ID]; ok && k != r.Kind {
					return fmt.Errorf("resource %q is a %s in one plan and %s in another", r.ID, k, r.Kind)
				}
				kinds[r.ID] = r.Kind
			}
			m.Templates = append(m.Templates, tpl)
		}
		return nil
	}
	if !m.Tiered {
		m.Parent[Buyer] = Provider
		m.Parent[Provider] = ""
		if err := originals(Provider, 1, s.Plans); err != nil {
			return nil, err
		}
	} else {
		names, err := tierOrder(s.Tiers)
		if err != nil {
			return nil, err
		}
		for owner, name := range names {
			t := s.Tiers[name]
			m.Parent[name] = t.Parent
			if err := originals(name, int64(owner+1), t.Plans); err != nil {
				return nil, err
			}
			keys := make([]string, 0, len(t.Delegates))
			for k := range t.Delegates {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, key := range keys {
				id++
				c, err := delegate(m.Plans[t.Parent][key], t.Delegates[key], id, int64(owner+1), s.Currency)
				if err != nil {
					return nil, fmt.Errorf("tiers.%s.delegates.%s: %w", name, key, err)
				}
				m.Plans[name][key] = c
			}
		}
	}
	ids := make([]string, 0, len(kinds))
	for k := range kinds {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	for _, k := range ids {
		class := catalog.ClassLimit
		if kinds[k] == "additive" {
			class = catalog.ClassCounter
		}
		m.ResourceTypes = append(m.ResourceTypes, catalog.ResourceType{Key: k, Name: catalog.Text{"en": k}, Unit: k, Class: class})
	}
	return m, nil
}

// Catalog is the root seller's catalog as a catalog document: resource
// types, templates and original plans.
func (m *Market) Catalog() *catalog.Document {
	d := &catalog.Document{Version: catalog.FormatVersion, ResourceTypes: m.ResourceTypes, Templates: m.Templates}
	for tier, parent := range m.Parent {
		if parent != "" {
			continue
		}
		keys := make([]string, 0, len(m.Plans[tier]))
		for k := range m.Plans[tier] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Plans = append(d.Plans, *m.Plans[tier][k])
		}
	}
	return d
}

// Chain is the plan a seller sells under key with its sources up the tree.
func (m *Market) Chain(seller, key string) (order.Chain, error) {
	var c order.Chain
	for tier := seller; tier != ""; tier = m.Parent[tier] {
		p, ok := m.Plans[tier][key]
		if !ok {
			break
		}
		c = append(c, p)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("%s sells no plan %q", seller, key)
	}
	return c, c.Check()
}

// catalog converts a scenario plan.
func (p *Plan) catalog(currency string, id, owner int64) (*catalog.Plan, error) {
	c := &catalog.Plan{ID: id, OwnerID: owner, Key: p.ID, Template: p.ID, Currency: currency,
		Name: catalog.Text{"en": strings.ToUpper(p.ID[:1]) + p.ID[1:]}, Billing: catalog.ChargeInAdvance, Published: true,
		UpgradeTo: p.UpgradesTo, DowngradeTo: p.DowngradesTo}
	switch p.Model {
	case "arrears":
		c.Billing = catalog.ChargeInArrears
	case "payg":
		c.Billing = catalog.PayAsYouGo
	}
	for i, pe := range p.Periods {
		d, err := parseDuration(pe.Duration)
		if err != nil {
			return nil, err
		}
		cp := catalog.Period{Key: d.String(), Duration: d, Trial: pe.Trial, Sort: i, RecurringPer: catalog.PerPeriod,
			Refund: catalog.Refund{FullDays: pe.FullRefundDays, After: catalog.RefundNone}}
		if pe.RecurringPricesPer == "month" {
			cp.RecurringPer = catalog.PerMonth
		}
		if pe.AfterRefund == "prorated" {
			cp.Refund.After = catalog.RefundProrated
		}
		if pe.ConvertsTo != "" {
			// A duration as the file writes it ("1M"), the period's key
			// in the catalog ("1m").
			if cp.ConvertsTo, err = PeriodKey(pe.ConvertsTo); err != nil {
				return nil, fmt.Errorf("period %s: converts_to: %w", pe.Duration, err)
			}
		}
		if cp.Setup.Amount, err = pe.Setup.Money(); err != nil {
			return nil, err
		}
		if cp.Recurring.Amount, err = pe.Recurring.Money(); err != nil {
			return nil, err
		}
		c.Periods = append(c.Periods, cp)
	}
	for i, r := range p.Resources {
		rate := catalog.Rate{Key: r.ID, Resource: r.ID, Max: catalog.Unlimited, Measurable: r.Measurable, Display: catalog.Spinner, Sort: i}
		if r.Included != nil {
			rate.Included = *r.Included
		}
		if r.Min != nil {
			rate.Min = *r.Min
		}
		if r.Max != nil {
			rate.Max = *r.Max
		}
		var err error
		if rate.Recurring.Amount, err = r.Recurring.Money(); err != nil {
			return nil, err
		}
		// The catalog has one price per unit of usage: overuse above the
		// included amount, or all usage on a pay-as-you-go plan.
		use := r.Overuse
		if r.Usage != nil {
			use = r.Usage
		}
		if rate.Overuse.Amount, err = use.Money(); err != nil {
			return nil, err
		}
		c.Rates = append(c.Rates, rate)
	}
	return c, nil
}

// delegate makes a tier's copy of its parent's plan: a markup in percent,
// or fixed recurring prices by duration (a manual price).
func delegate(src *catalog.Plan, d Delegate, id, owner int64, currency string) (*catalog.Plan, error) {
	rule := catalog.PriceRule{Kind: catalog.RuleManual}
	if d.MarkupPercent != nil {
		rule = catalog.PriceRule{Kind: catalog.RulePercent, Percent: d.MarkupPercent.Text}
	}
	c, err := delegation.Delegate(src, owner, currency, delegation.DelegateOptions{Rule: rule, Publish: true})
	if err != nil {
		return nil, err
	}
	c.ID = id
	for dur, price := range d.Fixed {
		key, err := PeriodKey(dur)
		if err != nil {
			return nil, err
		}
		pe, ok := c.Period(key)
		if !ok {
			return nil, fmt.Errorf("no period %s", dur)
		}
		if pe.Recurring.Amount, err = price.Money(); err != nil {
			return nil, err
		}
	}
	if err := delegation.CheckPrices(src, c); err != nil {
		return nil, err
	}
	return c, nil
}
