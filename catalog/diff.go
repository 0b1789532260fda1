package catalog

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Action is what an import does to one object.
type Action string

// Actions of an import plan.
const (
	Create Action = "create"
	Update Action = "update"
	// Delete is an object of the current catalog absent from the desired
	// one. The importer reports it and applies it only when asked to.
	Delete Action = "delete"
)

// Kind is the kind of a catalog object in a document.
type Kind string

// Kinds of catalog objects, in dependency order: an object refers only to
// objects of kinds before its own (and sales categories to their parents).
const (
	KindResourceType  Kind = "resource_type"
	KindTemplate      Kind = "template"
	KindPlanCategory  Kind = "plan_category"
	KindSalesCategory Kind = "sales_category"
	KindPlan          Kind = "plan"
)

// kinds lists the kinds in dependency order with the document field that
// holds them.
var kinds = []struct {
	kind  Kind
	field string
}{
	{KindResourceType, "resource_types"},
	{KindTemplate, "templates"},
	{KindPlanCategory, "plan_categories"},
	{KindSalesCategory, "sales_categories"},
	{KindPlan, "plans"},
}

// Change is one step of an import: an object to create, update or delete.
type Change struct {
	Action Action `json:"action"`
	Kind   Kind   `json:"kind"`
	Key    string `json:"key"`
	// Fields are the fields an update changes (nil for create and delete).
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one changed field of an update. Path names it in the
// document form, with objects in lists named by key:
// "periods[1m].recurring.amount", "name.de", "resources[mailbox].limit".
// Old and New are compact JSON values in document form (amounts as
// decimal strings); "" means absent: a field or a period added or removed.
type FieldChange struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Diff returns what importing desired into a catalog that holds current
// does: the declarative import plan. Objects are matched by kind and key and
// compared in canonical form, so that the order of lists and the way amounts
// are written do not matter, and importing a document into the catalog it
// was exported from gives no changes. A nil document is an empty catalog.
//
// The order is the order to apply: creates and updates first, by kind in
// dependency order (resource types, templates, plan categories, sales
// categories with parents before children, plans), then key; then deletes
// in the reverse order (plans first, children before parents), so that
// nothing is deleted while something still refers to it.
func Diff(current, desired *Document) []Change {
	cur, des := diffTree(current), diffTree(desired)
	docShape := documentShape()
	var upserts, deletes []Change
	for _, k := range kinds {
		s := docShape.field(k.field)
		have, want := index(cur.get(k.field)), index(des.get(k.field))
		for _, key := range orderKeys(k.kind, want) {
			old, ok := have.byKey[key]
			if !ok {
				upserts = append(upserts, Change{Action: Create, Kind: k.kind, Key: key})
				continue
			}
			var fields []FieldChange
			diffValue("", old, want.byKey[key], s.elem, &fields)
			if len(fields) > 0 {
				upserts = append(upserts, Change{Action: Update, Kind: k.kind, Key: key, Fields: fields})
			}
		}
		var gone []Change
		for _, key := range orderKeys(k.kind, have) {
			if _, ok := want.byKey[key]; !ok {
				gone = append(gone, Change{Action: Delete, Kind: k.kind, Key: key})
			}
		}
		slices.Reverse(gone)
		deletes = append(gone, deletes...)
	}
	return append(upserts, deletes...)
}

// diffTree is d as a document tree, or an empty one for nil.
func diffTree(d *Document) *value {
	if d == nil {
		d = &Document{}
	}
	v, err := documentTree(d)
	if err != nil {
		// Only an unknown version fails; compare the objects anyway.
		c := *d
		c.Version = FormatVersion
		v, _ = documentTree(&c)
	}
	return v
}

// keyed is the objects of a document list by key, in list order.
type keyed struct {
	keys  []string
	byKey map[string]*value
}

func index(list *value) keyed {
	k := keyed{byKey: map[string]*value{}}
	if list == nil {
		return k
	}
	for _, it := range list.items {
		key := ""
		if kv := it.get("key"); kv != nil {
			key = kv.text
		}
		if _, dup := k.byKey[key]; dup {
			continue // Validate refuses duplicates; the first one counts
		}
		k.keys = append(k.keys, key)
		k.byKey[key] = it
	}
	return k
}

// orderKeys returns the keys of a kind in the order to create them: by key,
// except sales categories, whose parents come before their children.
func orderKeys(kind Kind, k keyed) []string {
	keys := slices.Clone(k.keys)
	slices.Sort(keys)
	if kind != KindSalesCategory {
		return keys
	}
	depth := func(key string) int {
		d := 0
		for p := key; d <= len(keys); d++ {
			v := k.byKey[p]
			if v == nil || v.get("parent") == nil {
				break
			}
			p = v.get("parent").text
		}
		return d
	}
	slices.SortStableFunc(keys, func(a, b string) int { return depth(a) - depth(b) })
	return keys
}

// diffValue appends the differences between old and new, values of shape s
// at path, to out: per field of objects, per language of texts, per key of
// lists of keyed objects; other lists and scalars as a whole.
func diffValue(path string, old, new *value, s *shape, out *[]FieldChange) {
	switch {
	case old == nil && new == nil:
		return
	case old == nil || new == nil || old.kind != new.kind:
		*out = append(*out, FieldChange{Path: path, Old: old.compact(), New: new.compact()})
		return
	}
	switch {
	case s.kind == shapeObject:
		for _, f := range s.fields {
			diffValue(joinPath(path, f.name), old.get(f.name), new.get(f.name), f.shape, out)
		}
	case s.kind == shapeMap:
		keys := slices.Concat(old.keys, new.keys)
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			diffValue(joinPath(path, k), old.get(k), new.get(k), s.elem, out)
		}
	case s.kind == shapeList && s.identity() != "" && uniqueIDs(old, s.identity()) && uniqueIDs(new, s.identity()):
		id := s.identity()
		find := func(list *value, key string) *value {
			for _, it := range list.items {
				if it.get(id).text == key {
					return it
				}
			}
			return nil
		}
		var keys []string
		for _, it := range new.items {
			keys = append(keys, it.get(id).text)
		}
		for _, it := range old.items {
			if find(new, it.get(id).text) == nil {
				keys = append(keys, it.get(id).text)
			}
		}
		for _, k := range keys {
			diffValue(path+"["+k+"]", find(old, k), find(new, k), s.elem, out)
		}
	default:
		if o, n := old.compact(), new.compact(); o != n {
			*out = append(*out, FieldChange{Path: path, Old: o, New: n})
		}
	}
}

// uniqueIDs reports whether every object of list has a distinct, non-empty
// identity field id, so that its objects can be matched by it.
func uniqueIDs(list *value, id string) bool {
	seen := map[string]bool{}
	for _, it := range list.items {
		v := it.get(id)
		if v == nil || v.kind != kindString || v.text == "" || seen[v.text] {
			return false
		}
		seen[v.text] = true
	}
	return true
}

// FormatDiff writes changes for people, one line per object created or
// deleted and per field updated, then a count:
//
//   - plan office-pro
//     ~ plan office-basic: periods[1m].recurring.amount 4.00 → 5.00
//     ~ plan office-basic: periods[24m] added {"key":"24m",…}
//   - sales_category old
//     1 to create, 1 to update, 1 to delete
func FormatDiff(w io.Writer, changes []Change) error {
	b := bufio.NewWriter(w)
	if len(changes) == 0 {
		fmt.Fprintln(b, "No changes.")
		return b.Flush()
	}
	count := map[Action]int{}
	for _, c := range changes {
		count[c.Action]++
		switch c.Action {
		case Create:
			fmt.Fprintf(b, "+ %s %s\n", c.Kind, c.Key)
		case Delete:
			fmt.Fprintf(b, "- %s %s\n", c.Kind, c.Key)
		default:
			for _, f := range c.Fields {
				fmt.Fprintf(b, "~ %s %s: %s %s\n", c.Kind, c.Key, f.Path, describe(f))
			}
		}
	}
	fmt.Fprintf(b, "%d to create, %d to update, %d to delete\n", count[Create], count[Update], count[Delete])
	return b.Flush()
}

// describe renders a field change: "4.00 → 5.00", "(none) → 30.00", or
// "added {…}" and "removed" for an object of a list.
func describe(f FieldChange) string {
	switch {
	case f.Old == "" && strings.HasPrefix(f.New, "{"):
		return "added " + f.New
	case f.New == "" && strings.HasPrefix(f.Old, "{"):
		return "removed"
	}
	return display(f.Old) + " → " + display(f.New)
}

// display shows a compact JSON value, unquoting strings that read the same
// without quotes (amounts, keys, single words).
func display(v string) string {
	if v == "" {
		return "(none)"
	}
	s, err := strconv.Unquote(v)
	if err != nil || !strings.HasPrefix(v, `"`) || s == "" || strings.ContainsAny(s, " \t\r\n\"\\→") || s != strings.TrimSpace(s) {
		return v
	}
	return s
}
