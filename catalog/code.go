package catalog

import (
	"bytes"
	_ "embed"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
)

// FormatVersion is the version of the catalog document format that this
// Marketplane writes and reads.
const FormatVersion = 1

// Document is a seller's whole catalog as code: what `marketplane catalog
// export` writes and `marketplane catalog import` reads. It holds the catalog
// types as they are, named by their JSON tags; it never holds database ids or
// account ids, because a document must mean the same thing in another
// database. Everything refers to everything else by key, and a delegated copy
// is a plan like any other, carrying its price rule.
type Document struct {
	// Version is the format version; zero means FormatVersion when
	// encoding, and Decode requires it.
	Version int `json:"version"`
	// Owner is an optional label saying whose catalog this is (the
	// exporter writes the seller's name); it is not an id and the importer
	// does not act on it.
	Owner           string          `json:"owner,omitempty"`
	ResourceTypes   []ResourceType  `json:"resource_types,omitempty"`
	Templates       []Template      `json:"templates,omitempty"`
	PlanCategories  []PlanCategory  `json:"plan_categories,omitempty"`
	SalesCategories []SalesCategory `json:"sales_categories,omitempty"`
	Plans           []Plan          `json:"plans,omitempty"`
}

//go:embed demo.yaml
var demoYAML []byte

// DemoDocument returns the demo catalog: the provider's services (office
// suite, managed PostgreSQL, cloud servers, domains), their templates,
// categories and plans, in USD. Every call returns a fresh copy.
func DemoDocument() (*Document, error) {
	d, err := Decode(bytes.NewReader(demoYAML), "yaml")
	if err != nil {
		return nil, fmt.Errorf("demo catalog: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("demo catalog: %w", err)
	}
	return d, nil
}

// The canonical form.
//
// A document is written in one canonical form so that exporting the same
// catalog twice gives the same bytes and a file kept in version control only
// changes where the catalog did:
//
//   - every list is sorted by its key (sales categories by parent, position
//     and key; periods and rates by their sort number and key; template
//     resources and composite parts by resource; lists of keys by value),
//     and texts by language tag;
//   - fields keep their struct order and their JSON tag names, in YAML too;
//   - null values, empty lists and empty objects are left out: the catalog
//     reads them as absent anyway, and the catalog's tags would otherwise
//     write "descriptions": {} into every period (omitempty does not omit a
//     struct);
//   - amounts of money are decimal strings in currency units ("20.00",
//     "0.012"), not the integer micros of the catalog's own JSON. A person
//     editing a price list reads and writes units; a string keeps the exact
//     value through tools that read JSON numbers as floats; and a JSON
//     number is refused on input, because 20000000 would be read as twenty
//     million if someone fed the API's micros into an import (in YAML, a
//     plain 20.00 is the text a person typed and is read as such). The
//     conversion is
//     done here, on the document tree, found by the money.Micros type of the
//     fields: the catalog types keep their JSON form for the API.
//
// Encoding goes through the catalog's own JSON (so the field names and
// omitempty rules are exactly the tags), then through an ordered tree that
// applies the rules above and is written as indented JSON or, node by node,
// as YAML. Decoding reads JSON or YAML into the same ordered tree, checks it
// against the shape of Document (unknown fields, wrong types, with path and
// line), turns amounts back into micros and hands the result to
// encoding/json.

// EncodeJSON writes d as an indented JSON document in canonical form.
func EncodeJSON(w io.Writer, d *Document) error {
	v, err := documentTree(d)
	if err != nil {
		return err
	}
	var compact, out bytes.Buffer
	v.writeJSON(&compact)
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("catalog document: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// EncodeYAML writes d as a YAML document in canonical form, indented by two
// spaces. Small objects and lists of scalars are written inline ("{n: 1,
// unit: month}") so that a period or a name stays on one line.
func EncodeYAML(w io.Writer, d *Document) error {
	v, err := documentTree(d)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(v.yamlNode()); err != nil {
		return fmt.Errorf("catalog document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("catalog document: %w", err)
	}
	_, err = w.Write(out.Bytes())
	return err
}

// Decode reads a document in format "json" or "yaml"; an empty format
// detects it: a document whose first non-space character is '{' is JSON.
// Decoding is strict: an unknown field, a value of the wrong type, a
// duplicate key or a missing or unsupported version is an EINVALID error
// naming the field by its path ("plans[basic].periods[0].recurring.amount")
// with the line where the input has one. Decode does not validate the
// catalog rules; call Validate.
func Decode(r io.Reader, format string) (*Document, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("catalog document: %w", err)
	}
	// Editors on Windows may start a file with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if format == "" {
		format = "yaml"
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = "json"
		}
	}
	var root *value
	switch strings.ToLower(format) {
	case "json":
		root, err = parseJSON(data)
	case "yaml", "yml":
		root, err = parseYAML(data)
	default:
		return nil, marketplane.Errorf(marketplane.EINVALID, "unknown catalog document format %q (yaml or json)", format)
	}
	if err != nil {
		return nil, err
	}
	if err := checkVersion(root); err != nil {
		return nil, err
	}
	v, err := conform(root, documentShape(), "")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	v.writeJSON(&buf)
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		// conform has checked every field and type; this is a bug.
		return nil, fmt.Errorf("catalog document: %w", err)
	}
	return &d, nil
}

func checkVersion(root *value) error {
	if root == nil || root.kind != kindObject {
		return marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: the document must be a mapping of fields, starting with version: %d", FormatVersion)
	}
	v := root.get("version")
	if v == nil {
		return fieldError("version", root.line, fmt.Sprintf("is required: this Marketplane reads version %d", FormatVersion))
	}
	if v.kind != kindNumber {
		return fieldError("version", v.line, fmt.Sprintf("must be the number %d", FormatVersion))
	}
	if v.text != strconv.Itoa(FormatVersion) {
		return fieldError("version", v.line, fmt.Sprintf("unsupported format version %s: this Marketplane reads version %d", v.text, FormatVersion))
	}
	return nil
}

// Validate checks every object of the document with the catalog's own rules
// and the references between them: template resources, plan templates,
// categories, resources and upgrade paths exist; sales category parents
// exist, hold categories and make no cycle; plans are shelved in categories
// that hold plans and sell resources of their template; no key appears
// twice. It returns an EINVALID *marketplane.Error whose fields are paths
// such as "resource_types[mailbox].class" or
// "plans[basic].periods[0].recurring.amount" (objects by key, their parts as
// the catalog's Validate names them).
func (d *Document) Validate() error {
	var f marketplane.FieldErrors
	if d.Version != FormatVersion {
		f.Add("version", fmt.Sprintf("must be %d", FormatVersion))
	}

	classes := map[string]Class{}
	for i := range d.ResourceTypes {
		r := &d.ResourceTypes[i]
		at := itemPath("resource_types", i, r.Key)
		addErrors(&f, at, r.Validate())
		if _, dup := classes[r.Key]; dup {
			f.Add(at+".key", "appears twice")
			continue
		}
		classes[r.Key] = r.Class
	}
	resourceKnown := func(k string) bool { _, ok := classes[k]; return ok }

	templates := map[string]*Template{}
	for i := range d.Templates {
		t := &d.Templates[i]
		at := itemPath("templates", i, t.Key)
		addErrors(&f, at, t.Validate(resourceKnown))
		if _, dup := templates[t.Key]; dup {
			f.Add(at+".key", "appears twice")
			continue
		}
		templates[t.Key] = t
	}

	planCategories := map[string]bool{}
	for i := range d.PlanCategories {
		c := &d.PlanCategories[i]
		at := itemPath("plan_categories", i, c.Key)
		addErrors(&f, at, c.Validate())
		if planCategories[c.Key] {
			f.Add(at+".key", "appears twice")
		}
		planCategories[c.Key] = true
	}

	// Sales categories may name a parent listed after them.
	holds := map[string]Holds{}
	parents := map[string]string{}
	for _, c := range d.SalesCategories {
		if _, ok := holds[c.Key]; !ok {
			holds[c.Key], parents[c.Key] = c.Holds, c.Parent
		}
	}
	holdsOf := func(k string) (Holds, bool) { h, ok := holds[k]; return h, ok }
	seenSales := map[string]bool{}
	for i := range d.SalesCategories {
		c := &d.SalesCategories[i]
		at := itemPath("sales_categories", i, c.Key)
		addErrors(&f, at, c.Validate(holdsOf))
		if seenSales[c.Key] {
			f.Add(at+".key", "appears twice")
		}
		seenSales[c.Key] = true
		if inCycle(c.Key, parents) {
			f.Add(at+".parent", "makes a cycle of parents")
		}
	}

	planKeys := map[string]bool{}
	for _, p := range d.Plans {
		planKeys[p.Key] = true
	}
	known := Known{
		Resource:      func(k string) (Class, bool) { c, ok := classes[k]; return c, ok },
		Template:      func(k string) bool { _, ok := templates[k]; return ok },
		PlanCategory:  func(k string) bool { return planCategories[k] },
		SalesCategory: func(k string) bool { _, ok := holds[k]; return ok },
		Plan:          func(k string) bool { return planKeys[k] },
	}
	seenPlans := map[string]bool{}
	for i := range d.Plans {
		p := &d.Plans[i]
		at := itemPath("plans", i, p.Key)
		addErrors(&f, at, p.Validate(known))
		if seenPlans[p.Key] {
			f.Add(at+".key", "appears twice")
		}
		seenPlans[p.Key] = true
		for j, k := range p.SalesCategories {
			if holds[k] == HoldsCategories {
				f.Add(fmt.Sprintf("%s.sales_categories[%d]", at, j), fmt.Sprintf("sales category %q holds categories, not plans", k))
			}
		}
		// A plan sells the resources of its service template: that is
		// what provisioning can create for a subscription.
		t, ok := templates[p.Template]
		if !ok {
			continue
		}
		inTemplate := func(k string) bool {
			return slices.ContainsFunc(t.Resources, func(r TemplateResource) bool { return r.Resource == k })
		}
		for j, r := range p.Rates {
			if r.Resource != "" && resourceKnown(r.Resource) && !inTemplate(r.Resource) {
				f.Add(fmt.Sprintf("%s.rates[%d].resource", at, j), fmt.Sprintf("resource type %q is not in service template %q", r.Resource, t.Key))
			}
			for n, part := range r.Parts {
				if resourceKnown(part.Resource) && !inTemplate(part.Resource) {
					f.Add(fmt.Sprintf("%s.rates[%d].parts[%d].resource", at, j, n), fmt.Sprintf("resource type %q is not in service template %q", part.Resource, t.Key))
				}
			}
		}
	}
	return f.Err("catalog document")
}

// itemPath names the i-th object of a top-level list by its key, or by its
// index when the key is not a usable key.
func itemPath(list string, i int, key string) string {
	if ValidKey(key) {
		return list + "[" + key + "]"
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

// addErrors adds the field errors of err under the prefix at.
func addErrors(f *marketplane.FieldErrors, at string, err error) {
	if err == nil {
		return
	}
	var e *marketplane.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for k, msg := range e.Fields {
			f.Add(at+"."+k, msg)
		}
		return
	}
	f.Add(at, err.Error())
}

// inCycle reports whether following the parents from key comes back to key.
func inCycle(key string, parents map[string]string) bool {
	k := parents[key]
	for range len(parents) {
		if k == "" {
			return false
		}
		if k == key {
			return true
		}
		k = parents[k]
	}
	return false
}

// canonical returns a copy of d with every list in canonical order. It
// leaves d alone.
func (d *Document) canonical() *Document {
	c := &Document{Version: d.Version, Owner: d.Owner}
	if c.Version == 0 {
		c.Version = FormatVersion
	}
	c.ResourceTypes = slices.Clone(d.ResourceTypes)
	slices.SortStableFunc(c.ResourceTypes, func(a, b ResourceType) int { return strings.Compare(a.Key, b.Key) })

	c.Templates = make([]Template, len(d.Templates))
	for i, t := range d.Templates {
		t.Resources = slices.Clone(t.Resources)
		slices.SortStableFunc(t.Resources, func(a, b TemplateResource) int { return strings.Compare(a.Resource, b.Resource) })
		c.Templates[i] = t
	}
	slices.SortStableFunc(c.Templates, func(a, b Template) int { return strings.Compare(a.Key, b.Key) })

	c.PlanCategories = slices.Clone(d.PlanCategories)
	slices.SortStableFunc(c.PlanCategories, func(a, b PlanCategory) int { return strings.Compare(a.Key, b.Key) })

	c.SalesCategories = slices.Clone(d.SalesCategories)
	slices.SortStableFunc(c.SalesCategories, func(a, b SalesCategory) int {
		if n := strings.Compare(a.Parent, b.Parent); n != 0 {
			return n
		}
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return strings.Compare(a.Key, b.Key)
	})

	c.Plans = make([]Plan, len(d.Plans))
	for i := range d.Plans {
		p := d.Plans[i].Clone()
		slices.Sort(p.SalesCategories)
		slices.Sort(p.UpgradeTo)
		slices.Sort(p.DowngradeTo)
		slices.SortStableFunc(p.Periods, func(a, b Period) int {
			if a.Sort != b.Sort {
				return a.Sort - b.Sort
			}
			return strings.Compare(a.Key, b.Key)
		})
		for j := range p.Rates {
			r := &p.Rates[j]
			slices.Sort(r.Periods)
			slices.SortStableFunc(r.Parts, func(a, b Part) int { return strings.Compare(a.Resource, b.Resource) })
		}
		slices.SortStableFunc(p.Rates, func(a, b Rate) int {
			if a.Sort != b.Sort {
				return a.Sort - b.Sort
			}
			return strings.Compare(a.Key, b.Key)
		})
		c.Plans[i] = *p
	}
	slices.SortStableFunc(c.Plans, func(a, b Plan) int { return strings.Compare(a.Key, b.Key) })
	return c
}

// documentTree is d in canonical form as a presentation tree.
func documentTree(d *Document) (*value, error) {
	if d.Version != 0 && d.Version != FormatVersion {
		return nil, marketplane.Errorf(marketplane.EINVALID, "cannot write catalog document version %d (this Marketplane writes %d)", d.Version, FormatVersion)
	}
	data, err := json.Marshal(d.canonical())
	if err != nil {
		return nil, fmt.Errorf("catalog document: %w", err)
	}
	v, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("catalog document: %w", err)
	}
	return present(v, documentShape(), false), nil
}

// The shape of Document.
//
// The shape is read from the Go types by reflection, following the JSON
// tags, so that it cannot drift from the catalog types: a field added to a
// catalog struct is known to the decoder, and a money.Micros field is
// written as an amount, without a change here.

type shapeKind int

const (
	shapeObject shapeKind = iota // a struct: known fields in order
	shapeMap                     // map[string]T, e.g. Text
	shapeList
	shapeString
	shapeInt
	shapeBool
	shapeMoney // money.Micros, written as a decimal string
)

type shape struct {
	kind   shapeKind
	fields []shapeField // shapeObject
	elem   *shape       // shapeMap, shapeList
}

type shapeField struct {
	name  string
	shape *shape
}

func (s *shape) field(name string) *shape {
	for _, f := range s.fields {
		if f.name == name {
			return f.shape
		}
	}
	return nil
}

// identity is the field that identifies the objects of a list: "key", or
// "resource" for template resources and composite parts; "" if none.
func (s *shape) identity() string {
	if s.kind != shapeList || s.elem.kind != shapeObject {
		return ""
	}
	for _, name := range []string{"key", "resource"} {
		if f := s.elem.field(name); f != nil && f.kind == shapeString {
			return name
		}
	}
	return ""
}

var documentShape = sync.OnceValue(func() *shape { return shapeOf(reflect.TypeFor[Document]()) })

var (
	microsType    = reflect.TypeFor[money.Micros]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// shapeOf panics on a type it cannot follow; every test decodes a
// document, so a catalog change that needs this code to change fails
// there, not at a user's import.
func shapeOf(t reflect.Type) *shape {
	if t == microsType {
		return &shape{kind: shapeMoney}
	}
	// A type with its own JSON form (time.Time, say) would need its own
	// shape here.
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		panic(fmt.Sprintf("catalog document: type %s marshals itself and is not supported", t))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOf(t.Elem())
	case reflect.Struct:
		s := &shape{kind: shapeObject}
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if !sf.IsExported() || tag == "-" {
				continue
			}
			if sf.Anonymous {
				panic(fmt.Sprintf("catalog document: embedded field %s.%s is not supported", t.Name(), sf.Name))
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" {
				name = sf.Name
			}
			s.fields = append(s.fields, shapeField{name: name, shape: shapeOf(sf.Type)})
		}
		return s
	case reflect.Slice:
		return &shape{kind: shapeList, elem: shapeOf(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("catalog document: map key %s is not a string", t.Key()))
		}
		return &shape{kind: shapeMap, elem: shapeOf(t.Elem())}
	case reflect.String:
		return &shape{kind: shapeString}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &shape{kind: shapeInt}
	case reflect.Bool:
		return &shape{kind: shapeBool}
	}
	panic(fmt.Sprintf("catalog document: type %s is not supported", t))
}

// The ordered tree.

type valueKind int

const (
	kindNull valueKind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
)

// value is a JSON value that keeps the order of object keys and the line it
// was read from.
type value struct {
	kind valueKind
	// text is a string's content, a number's literal or "true"/"false".
	text string
	// plain marks a YAML plain scalar (a number or a boolean written
	// without quotes), which may also be read as text: literal is the
	// text as written ("015", "20.00").
	plain   bool
	literal string
	keys    []string // kindObject
	vals    []*value // kindObject
	items   []*value // kindArray
	line    int      // 0 when unknown
}

func (v *value) get(key string) *value {
	if v == nil {
		return nil
	}
	for i, k := range v.keys {
		if k == key {
			return v.vals[i]
		}
	}
	return nil
}

func (v *value) scalar() bool {
	return v.kind == kindString || v.kind == kindNumber || v.kind == kindBool || v.kind == kindNull
}

func (v *value) writeJSON(b *bytes.Buffer) {
	switch v.kind {
	case kindObject:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			v.vals[i].writeJSON(b)
		}
		b.WriteByte('}')
	case kindArray:
		b.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.writeJSON(b)
		}
		b.WriteByte(']')
	case kindString:
		writeJSONString(b, v.text)
	case kindNumber, kindBool:
		b.WriteString(v.text)
	default:
		b.WriteString("null")
	}
}

// writeJSONString writes s as a JSON string without escaping <, > and &:
// the documents are read by people, not embedded in HTML.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // a string always encodes
	}
	b.Truncate(b.Len() - 1) // Encode's newline
}

// compact returns v as compact JSON, or "" for an absent value.
func (v *value) compact() string {
	if v == nil {
		return ""
	}
	var b bytes.Buffer
	v.writeJSON(&b)
	return b.String()
}

// inlineWidth is the widest object or list of scalars written on one line
// in YAML.
const inlineWidth = 60

// inline reports whether v is written on one line in YAML: a small object or
// list of one-line scalars. The choice depends on v alone, so that it is the
// same on every export.
func (v *value) inline() bool {
	children := v.items
	if v.kind == kindObject {
		children = v.vals
	}
	if len(children) == 0 {
		return true
	}
	width := 2
	for i, c := range children {
		if !c.scalar() || strings.ContainsAny(c.text, "\r\n") {
			return false
		}
		width += len(c.text) + 2
		if v.kind == kindObject {
			width += len(v.keys[i]) + 2
		}
	}
	return width <= inlineWidth
}

func (v *value) yamlNode() *yaml.Node {
	switch v.kind {
	case kindObject:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i, k := range v.keys {
			n.Content = append(n.Content, stringNode(k), v.vals[i].yamlNode())
		}
		if v.inline() {
			n.Style = yaml.FlowStyle
		}
		return n
	case kindArray:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range v.items {
			n.Content = append(n.Content, it.yamlNode())
		}
		if v.inline() {
			n.Style = yaml.FlowStyle
		}
		return n
	case kindString:
		return stringNode(v.text)
	case kindNumber:
		tag := "!!int"
		if _, err := strconv.ParseInt(v.text, 10, 64); err != nil {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.text}
	case kindBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v.text}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// stringNode is a YAML string. The encoder quotes what YAML 1.2 would read
// as something else; words that YAML 1.1 reads as booleans are quoted too,
// so that older tools do not turn a Norwegian "no" into false. Texts of
// several lines are written as literal blocks, as a person would write
// them, unless they hold what a block cannot show (tabs, carriage returns,
// control characters, spaces at the ends of lines); those are
// double-quoted with escapes.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
		if !literalSafe(s) {
			n.Style = yaml.DoubleQuotedStyle
		}
	case slices.Contains([]string{"yes", "no", "on", "off"}, strings.ToLower(s)):
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func literalSafe(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, " ") || strings.HasSuffix(line, " ") {
			return false
		}
		for _, r := range line {
			if r == '\ufeff' || !unicode.IsPrint(r) && r != ' ' {
				return false
			}
		}
	}
	return true
}

// present turns the catalog's JSON of a value of shape s into its document
// form: amounts as decimal strings, and null, empty objects and empty lists
// left out (nil). An object in a list stays even when empty, so that the
// list keeps its length.
func present(v *value, s *shape, inList bool) *value {
	switch {
	case v == nil || v.kind == kindNull:
		return nil
	case s.kind == shapeMoney && v.kind == kindNumber:
		m, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("catalog document: amount %s: %v", v.text, err)) // encoding/json wrote an int64
		}
		return &value{kind: kindString, text: money.Micros(m).String()}
	case v.kind == kindObject:
		out := &value{kind: kindObject}
		for i, k := range v.keys {
			cs := s.elem
			if s.kind == shapeObject {
				cs = s.field(k)
			}
			if c := present(v.vals[i], cs, false); c != nil {
				out.keys, out.vals = append(out.keys, k), append(out.vals, c)
			}
		}
		if len(out.keys) == 0 && !inList {
			return nil
		}
		return out
	case v.kind == kindArray:
		out := &value{kind: kindArray}
		for _, it := range v.items {
			if c := present(it, s.elem, true); c != nil {
				out.items = append(out.items, c)
			}
		}
		if len(out.items) == 0 {
			return nil
		}
		return out
	}
	return v
}

// conform checks a value read from a document against shape s and returns
// it as the catalog's JSON: amounts in micros, nulls left out (nil). path
// names v in errors.
func conform(v *value, s *shape, path string) (*value, error) {
	if v.kind == kindNull {
		return nil, nil
	}
	switch s.kind {
	case shapeObject:
		if v.kind != kindObject {
			return nil, fieldError(path, v.line, "must be an object with fields")
		}
		out := &value{kind: kindObject, line: v.line}
		seen := map[string]bool{}
		for i, k := range v.keys {
			at := joinPath(path, k)
			if seen[k] {
				return nil, fieldError(at, v.vals[i].line, "appears twice")
			}
			seen[k] = true
			fs := s.field(k)
			if fs == nil {
				return nil, fieldError(at, v.vals[i].line, unknownField(k, s))
			}
			c, err := conformField(v.vals[i], fs, at, path == "")
			if err != nil {
				return nil, err
			}
			if c != nil {
				out.keys, out.vals = append(out.keys, k), append(out.vals, c)
			}
		}
		return out, nil
	case shapeMap:
		if v.kind != kindObject {
			return nil, fieldError(path, v.line, "must be a mapping, e.g. of language tags to texts")
		}
		out := &value{kind: kindObject, line: v.line}
		seen := map[string]bool{}
		for i, k := range v.keys {
			at := joinPath(path, k)
			if seen[k] {
				return nil, fieldError(at, v.vals[i].line, "appears twice")
			}
			seen[k] = true
			// A null here is a mistake, not an absent field: in YAML,
			// {de: a, b} reads as de: a and b: null.
			if v.vals[i].kind == kindNull {
				return nil, fieldError(at, v.vals[i].line, "has no value (quote a text that holds a comma or a colon)")
			}
			c, err := conform(v.vals[i], s.elem, at)
			if err != nil {
				return nil, err
			}
			out.keys, out.vals = append(out.keys, k), append(out.vals, c)
		}
		return out, nil
	case shapeList:
		return conformList(v, s, path, false)
	case shapeString:
		if v.kind == kindString {
			return v, nil
		}
		if v.plain && (v.kind == kindNumber || v.kind == kindBool) {
			return &value{kind: kindString, text: v.literal, line: v.line}, nil
		}
		return nil, fieldError(path, v.line, "must be a string")
	case shapeInt:
		if v.kind == kindNumber {
			if _, err := strconv.ParseInt(v.text, 10, 64); err == nil {
				return v, nil
			}
		}
		return nil, fieldError(path, v.line, "must be a whole number")
	case shapeBool:
		if v.kind == kindBool {
			return v, nil
		}
		return nil, fieldError(path, v.line, "must be true or false")
	case shapeMoney:
		// A YAML plain number is the decimal a person wrote (amount:
		// 20.00); a JSON number is refused: it is how the API writes
		// micros.
		if v.kind == kindString || (v.plain && v.kind == kindNumber) {
			text := v.text
			if v.plain {
				text = v.literal
			}
			m, err := money.Parse(text)
			if err != nil {
				return nil, fieldError(path, v.line, "must be an amount such as \"20.00\": "+err.Error())
			}
			return &value{kind: kindNumber, text: strconv.FormatInt(int64(m), 10), line: v.line}, nil
		}
		return nil, fieldError(path, v.line, "must be an amount written as a decimal string such as \"20.00\" (not micros, not a number)")
	}
	panic("catalog document: unknown shape")
}

// conformField is conform for a field; the lists of the document itself
// name their objects by key in paths, as Validate does.
func conformField(v *value, s *shape, path string, top bool) (*value, error) {
	if s.kind == shapeList && v.kind != kindNull {
		return conformList(v, s, path, top)
	}
	return conform(v, s, path)
}

func conformList(v *value, s *shape, path string, byKey bool) (*value, error) {
	if v.kind != kindArray {
		return nil, fieldError(path, v.line, "must be a list")
	}
	out := &value{kind: kindArray, line: v.line}
	for i, it := range v.items {
		at := fmt.Sprintf("%s[%d]", path, i)
		if k := it.get("key"); byKey && it.kind == kindObject && k != nil && k.kind == kindString && ValidKey(k.text) {
			at = path + "[" + k.text + "]"
		}
		c, err := conform(it, s.elem, at)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fieldError(at, it.line, "must not be null")
		}
		out.items = append(out.items, c)
	}
	return out, nil
}

// unknownField says that k is not a field of s, suggesting the field the
// writer probably meant ("fullDays" for "full_days").
func unknownField(k string, s *shape) string {
	fold := func(x string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(x))
	}
	best, bestDist := "", 3 // suggest only what is two edits away or closer
	for _, f := range s.fields {
		if d := editDistance(fold(f.name), fold(k)); d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown field; did you mean %q?", best)
	}
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = f.name
	}
	return "unknown field (known: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range len(a) {
		cur := make([]int, len(b)+1)
		cur[0] = i + 1
		for j := range len(b) {
			cost := 1
			if a[i] == b[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func fieldError(path string, line int, msg string) error {
	if line > 0 {
		msg = fmt.Sprintf("%s (line %d)", msg, line)
	}
	if path == "" {
		return marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: %s", msg)
	}
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid catalog document", Fields: map[string]string{path: msg}}
}

// Reading JSON and YAML into the tree.

// parseJSON reads one JSON value, keeping key order and lines.
func parseJSON(data []byte) (*value, error) {
	newlines := []int{}
	for i, c := range data {
		if c == '\n' {
			newlines = append(newlines, i)
		}
	}
	lineAt := func(offset int64) int { return sort.SearchInts(newlines, int(offset)) + 1 }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: JSON syntax error at line %d: %v", lineAt(se.Offset), err)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: the JSON ends too early")
		}
		return marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: %v", err)
	}
	var read func() (*value, error)
	read = func() (*value, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		line := lineAt(dec.InputOffset())
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				v := &value{kind: kindObject, line: line}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, syntax(err)
					}
					k, _ := kt.(string)
					c, err := read()
					if err != nil {
						return nil, err
					}
					v.keys, v.vals = append(v.keys, k), append(v.vals, c)
				}
				if _, err := dec.Token(); err != nil {
					return nil, syntax(err)
				}
				return v, nil
			case '[':
				v := &value{kind: kindArray, line: line}
				for dec.More() {
					c, err := read()
					if err != nil {
						return nil, err
					}
					v.items = append(v.items, c)
				}
				if _, err := dec.Token(); err != nil {
					return nil, syntax(err)
				}
				return v, nil
			}
			return nil, syntax(fmt.Errorf("unexpected %v", t))
		case string:
			return &value{kind: kindString, text: t, line: line}, nil
		case json.Number:
			return &value{kind: kindNumber, text: t.String(), line: line}, nil
		case bool:
			return &value{kind: kindBool, text: strconv.FormatBool(t), line: line}, nil
		}
		return &value{kind: kindNull, line: line}, nil
	}
	v, err := read()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: more than one JSON value")
	}
	return v, nil
}

// maxYAMLNodes bounds the nodes read from a YAML document, aliases
// expanded, so that a few lines of nested aliases cannot make it huge.
const maxYAMLNodes = 1 << 20

// parseYAML reads one YAML document, keeping key order and lines.
func parseYAML(data []byte) (*value, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: the document is empty")
		}
		return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: %v", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: a file holds one YAML document")
	}
	budget := maxYAMLNodes
	return fromYAML(&n, &budget)
}

func fromYAML(n *yaml.Node, budget *int) (*value, error) {
	*budget--
	if *budget < 0 {
		return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: too many values (aliases expanded)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &value{kind: kindNull, line: n.Line}, nil
		}
		return fromYAML(n.Content[0], budget)
	case yaml.AliasNode:
		return fromYAML(n.Alias, budget)
	case yaml.MappingNode:
		v := &value{kind: kindObject, line: n.Line}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: a key must be a plain name (line %d)", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: merge keys (<<) are not supported (line %d)", k.Line)
			}
			c, err := fromYAML(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			v.keys, v.vals = append(v.keys, k.Value), append(v.vals, c)
		}
		return v, nil
	case yaml.SequenceNode:
		v := &value{kind: kindArray, line: n.Line}
		for _, it := range n.Content {
			c, err := fromYAML(it, budget)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, c)
		}
		return v, nil
	case yaml.ScalarNode:
		plain := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
		switch n.ShortTag() {
		case "!!null":
			return &value{kind: kindNull, line: n.Line}, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return &value{kind: kindBool, text: strconv.FormatBool(b), plain: plain, literal: n.Value, line: n.Line}, nil
			}
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				return &value{kind: kindNumber, text: strconv.FormatInt(i, 10), plain: plain, literal: n.Value, line: n.Line}, nil
			}
			return &value{kind: kindNumber, text: n.Value, plain: plain, literal: n.Value, line: n.Line}, nil
		case "!!float":
			return &value{kind: kindNumber, text: n.Value, plain: plain, literal: n.Value, line: n.Line}, nil
		}
		return &value{kind: kindString, text: n.Value, line: n.Line}, nil
	}
	return nil, marketplane.Errorf(marketplane.EINVALID, "invalid catalog document: unexpected YAML node (line %d)", n.Line)
}
