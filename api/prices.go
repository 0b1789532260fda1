package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/marketplane/marketplane"
)

// Prices are shown only to those who may see them (account.PrivShowPrices).
// A user or key without that privilege orders, reads its orders and
// subscriptions and manages whatever its other privileges allow, but no
// answer of the API carries an amount of money to it: prices, fees, totals,
// balances, credit limits, report figures, the amounts owed.
//
// It is decided once, here, for every operation:
//   - a member of a response type holding an amount carries the struct tag
//     price:"true"; hidePrices leaves it out of every answer to such an
//     actor, wherever the type appears (lists, nested tiers, lines);
//   - a type whose members hold amounts only sometimes (a plan change of
//     "periods[1m].recurring.amount") says which by priceMembers;
//   - a member holding free-form JSON (an audit entry's changes, an
//     event's data) carries price:"opaque": its members named like amounts
//     (moneyKeys) are left out, at any depth;
//   - an answer that is a rendered document (an invoice's PDF or HTML) is
//     nothing but its amounts, and a plan replaced whole (PUT) from a body
//     read without its prices would lose them: those operations say
//     needsPrices, and such an actor is refused (403).
//
// The OpenAPI document says so: documentPrices drops tagged members from
// their schemas' required lists and adds the rule to their descriptions.

// priced is a response type that decides itself which of its members hold
// amounts (by JSON name), from its values.
type priced interface {
	priceMembers() []string
}

// moneyKeys are the names of members that hold amounts in free-form JSON
// (audit changes, event data; the catalog's own JSON of plans holds its
// prices below setup, recurring, renewal, cancellation and overuse).
var moneyKeys = map[string]bool{
	"amount": true, "total": true, "price": true, "prices": true, "credit_limit": true, "balance": true,
	"applied": true, "amount_due": true, "setup": true, "recurring": true, "renewal": true, "cancellation": true,
	"overuse": true, "max_retail": true, "suggested_retail": true, "non_refundable": true, "fixed": true,
	"cost": true, "margin": true, "revenue": true, "prepaid_funds": true, "open": true, "overdue": true,
	"available": true, "unbilled": true, "rated_usage": true, "lines": true, "tiers": true,
}

// moneyFieldSuffixes end the field paths of plan changes that are prices.
var moneyFieldSuffixes = []string{".amount", ".max_retail", ".suggested_retail", ".non_refundable", "rule.fixed"}

// isMoneyField reports whether a plan change's field path names an amount.
func isMoneyField(field string) bool {
	for _, s := range moneyFieldSuffixes {
		if strings.HasSuffix(field, s) || field == strings.TrimPrefix(s, ".") {
			return true
		}
	}
	return false
}

// mayNotSeePrices is the refusal of a rendered document to an actor
// without the privilege.
func mayNotSeePrices() error {
	return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not see prices: this document is its amounts")
}

// hidePrices is the response transformer that leaves amounts out of the
// answers to actors who may not see prices. Problem documents pass as they
// are (they carry no amounts).
func (a *API) hidePrices(ctx huma.Context, status string, v any) (any, error) {
	if v == nil || (status != "" && status[0] >= '4') {
		return v, nil
	}
	actor := actorFrom(ctx.Context())
	if actor == nil || actor.ShowsPrices() {
		return v, nil
	}
	if _, ok := v.([]byte); ok {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	withoutPrices(reflect.ValueOf(v), tree)
	return tree, nil
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// withoutPrices removes the priced members from tree, the JSON form of v,
// walking both together.
func withoutPrices(v reflect.Value, tree any) {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		obj, ok := tree.(map[string]any)
		if !ok || v.Type().Implements(marshalerType) {
			return
		}
		if p, ok := v.Interface().(priced); ok {
			for _, k := range p.priceMembers() {
				delete(obj, k)
			}
		}
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name, ok := jsonName(sf)
			if !ok {
				continue
			}
			if name == "" { // embedded: its members are the parent's
				withoutPrices(v.Field(i), obj)
				continue
			}
			switch sf.Tag.Get("price") {
			case "true":
				delete(obj, name)
			case "opaque":
				if m, ok := obj[name]; ok {
					scrubMoney(m)
				}
			default:
				if m, ok := obj[name]; ok {
					withoutPrices(v.Field(i), m)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := tree.([]any)
		if !ok {
			return
		}
		for i := 0; i < v.Len() && i < len(arr); i++ {
			withoutPrices(v.Index(i), arr[i])
		}
	case reflect.Map:
		obj, ok := tree.(map[string]any)
		if !ok {
			return
		}
		it := v.MapRange()
		for it.Next() {
			k := it.Key()
			var key string
			switch k.Kind() {
			case reflect.String:
				key = k.String()
			case reflect.Int, reflect.Int64, reflect.Int32:
				key = strconv.FormatInt(k.Int(), 10)
			default:
				continue
			}
			if m, ok := obj[key]; ok {
				withoutPrices(it.Value(), m)
			}
		}
	}
}

// jsonName is the member name of a struct field as encoding/json writes
// it: "" for an embedded struct without a name of its own, false for a
// field it leaves out.
func jsonName(sf reflect.StructField) (string, bool) {
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if sf.Anonymous && name == "" {
		t := sf.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Struct {
			return "", true
		}
	}
	if !sf.IsExported() {
		return "", false
	}
	if name == "" {
		name = sf.Name
	}
	return name, true
}

// scrubMoney removes the members named like amounts from free-form JSON,
// at any depth.
func scrubMoney(tree any) {
	switch t := tree.(type) {
	case map[string]any:
		for k, v := range t {
			if moneyKeys[k] {
				delete(t, k)
				continue
			}
			scrubMoney(v)
		}
	case []any:
		for _, v := range t {
			scrubMoney(v)
		}
	}
}

// documentPrices tells the OpenAPI document which members hold amounts:
// they are not required (an actor without PrivShowPrices gets answers
// without them) and their descriptions say so.
func documentPrices(oapi *huma.OpenAPI) {
	reg := oapi.Components.Schemas
	const note = "Absent for users and keys without the show_prices privilege."
	const opaqueNote = "For users and keys without the show_prices privilege, members that hold amounts are left out."
	for name, s := range reg.Map() {
		t := reg.TypeFromRef("#/components/schemas/" + name)
		if t == nil {
			continue
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		for _, m := range pricedMembers(t, "opaque") {
			if p := s.Properties[m]; p != nil && !strings.Contains(p.Description, opaqueNote) {
				p.Description = strings.TrimSpace(p.Description + " " + opaqueNote)
			}
		}
		for _, m := range pricedMembers(t, "true") {
			s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == m })
			if p := s.Properties[m]; p != nil && !strings.Contains(p.Description, note) {
				p.Description = strings.TrimSpace(p.Description + " " + note)
			}
		}
		if reflect.PointerTo(t).Implements(reflect.TypeFor[priced]()) || t.Implements(reflect.TypeFor[priced]()) {
			s.Description = strings.TrimSpace(s.Description + " Members that hold amounts are absent for users and keys without the show_prices privilege.")
			for _, m := range []string{"old", "new"} {
				s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == m })
			}
		}
		if len(s.Required) == 0 {
			s.Required = nil
		}
	}
}

// pricedMembers lists the JSON names of t's members (and of its embedded
// structs') tagged price:"<tag>".
func pricedMembers(t reflect.Type, tag string) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := jsonName(sf)
		if !ok {
			continue
		}
		if name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			out = append(out, pricedMembers(et, tag)...)
			continue
		}
		if sf.Tag.Get("price") == tag {
			out = append(out, name)
		}
	}
	return out
}

// priceMembers: a plan change's old and new values are prices when its
// field is one.
func (c PlanChange) priceMembers() []string {
	if isMoneyField(c.Field) {
		return []string{"old", "new"}
	}
	return nil
}

// priceMembers: as PlanChange's.
func (c SyncChange) priceMembers() []string {
	if isMoneyField(c.Field) {
		return []string{"old", "new"}
	}
	return nil
}
