package connector

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/marketplane/marketplane"
)

// Manifest describes a connector: what GET /manifest answers. Registering a
// connector creates resource types, a service template and a draft plan from
// it, so its keys are stable: renaming a key is a new resource.
type Manifest struct {
	Name        string         `json:"name"`    // short name of the connector ("pgdbaas")
	Version     string         `json:"version"` // the connector's version ("1.2.0")
	Description string         `json:"description,omitempty"`
	Resources   []ResourceSpec `json:"resources"`
	Parameters  []ParamSpec    `json:"parameters,omitempty"`
}

// Resource classes (ResourceSpec.Class), as in the catalog.
const (
	ClassLimit   = "limit"   // a quantity the customer buys; usage read as a gauge
	ClassCounter = "counter" // additive usage (requests, unit-hours)
	ClassGauge   = "gauge"   // current value, not additive
	ClassBoolean = "boolean" // a feature, on (1) or off (0)
)

// ResourceSpec is a resource type the connector offers.
type ResourceSpec struct {
	Key   string            `json:"key"`   // stable key, a catalog key: "storage_mb"
	Name  map[string]string `json:"name"`  // by language tag: {"en": "Storage", "de": "Speicher"}
	Unit  string            `json:"unit"`  // "MB", "connection", "vhost"
	Class string            `json:"class"` // ClassLimit, ClassCounter, ClassGauge or ClassBoolean
}

// Parameter types (ParamSpec.Type).
const (
	ParamString = "string"
	ParamInt    = "int"
	ParamBool   = "bool" // "true" or "false"
	ParamEnum   = "enum" // one of Choices
)

// ParamSpec is a service parameter the customer (or the plan) sets when
// ordering: a database name, a region. Values travel as strings.
type ParamSpec struct {
	Key      string   `json:"key"`
	Type     string   `json:"type"` // ParamString, ParamInt, ParamBool or ParamEnum
	Required bool     `json:"required,omitempty"`
	Pattern  string   `json:"pattern,omitempty"` // RE2, must match the whole value (string)
	Choices  []string `json:"choices,omitempty"` // allowed values (enum; optional for string and int)
	// Description tells the customer what to enter.
	Description string `json:"description,omitempty"`
}

// keyPattern is the catalog's key form: resource keys become catalog keys.
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

const keyRule = "must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"

// Validate checks the manifest: names and versions present, resource and
// parameter keys well formed and unique, classes and types known, patterns
// valid, enums with choices.
func (m Manifest) Validate() error {
	var f marketplane.FieldErrors
	if m.Name == "" {
		f.Add("name", "is required")
	}
	if m.Version == "" {
		f.Add("version", "is required")
	}
	seen := map[string]bool{}
	for i, r := range m.Resources {
		at := fmt.Sprintf("resources[%d]", i)
		if !keyPattern.MatchString(r.Key) {
			f.Add(at+".key", keyRule)
		} else if seen[r.Key] {
			f.Add(at+".key", fmt.Sprintf("%q appears twice", r.Key))
		}
		seen[r.Key] = true
		if len(r.Name) == 0 {
			f.Add(at+".name", `is required in at least one language ({"en": "…"})`)
		}
		for lang, v := range r.Name {
			if lang == "" || v == "" {
				f.Add(at+".name", "has an empty language or text")
			}
		}
		if r.Unit == "" {
			f.Add(at+".unit", "is required")
		}
		switch r.Class {
		case ClassLimit, ClassCounter, ClassGauge, ClassBoolean:
		default:
			f.Add(at+".class", "must be limit, counter, gauge or boolean")
		}
	}
	seen = map[string]bool{}
	for i, p := range m.Parameters {
		at := fmt.Sprintf("parameters[%d]", i)
		if !keyPattern.MatchString(p.Key) {
			f.Add(at+".key", keyRule)
		} else if seen[p.Key] {
			f.Add(at+".key", fmt.Sprintf("%q appears twice", p.Key))
		}
		seen[p.Key] = true
		switch p.Type {
		case ParamString, ParamInt, ParamBool:
		case ParamEnum:
			if len(p.Choices) == 0 {
				f.Add(at+".choices", "are required for an enum")
			}
		default:
			f.Add(at+".type", "must be string, int, bool or enum")
		}
		if p.Pattern != "" {
			if _, err := regexp.Compile(p.Pattern); err != nil {
				f.Add(at+".pattern", "is not a valid regular expression: "+err.Error())
			}
		}
		if p.Type == ParamInt {
			for _, c := range p.Choices {
				if _, err := strconv.ParseInt(c, 10, 64); err != nil {
					f.Add(at+".choices", fmt.Sprintf("%q is not an integer", c))
				}
			}
		}
	}
	return f.Err("manifest")
}

// Resource returns the resource spec with the key, if any.
func (m Manifest) Resource(key string) (ResourceSpec, bool) {
	for _, r := range m.Resources {
		if r.Key == key {
			return r, true
		}
	}
	return ResourceSpec{}, false
}

// Parameter returns the parameter spec with the key, if any.
func (m Manifest) Parameter(key string) (ParamSpec, bool) {
	for _, p := range m.Parameters {
		if p.Key == key {
			return p, true
		}
	}
	return ParamSpec{}, false
}

// Check returns what is wrong with value for the parameter, or "" when it
// is acceptable. A pattern must match the whole value.
func (p ParamSpec) Check(value string) string {
	switch p.Type {
	case ParamInt:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return "must be an integer"
		}
	case ParamBool:
		if value != "true" && value != "false" {
			return `must be "true" or "false"`
		}
	}
	if len(p.Choices) > 0 && !slices.Contains(p.Choices, value) {
		return fmt.Sprintf("must be one of %q", p.Choices)
	}
	if p.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
		if err != nil {
			return "cannot be checked: the connector's pattern is invalid"
		}
		if !re.MatchString(value) {
			return "must match " + p.Pattern
		}
	}
	return ""
}

// ValidateCreate checks a create request against the manifest: a request id,
// known resources with limits of -1 or more (0 or 1 for booleans), known
// parameters with acceptable values, and every required parameter. The
// platform may call it before it sends the request; the SDK calls it before
// Service.Create.
func (m Manifest) ValidateCreate(req CreateRequest) error {
	var f marketplane.FieldErrors
	checkRequestID(&f, req.RequestID)
	m.checkLimits(&f, req.Limits)
	m.checkParameters(&f, req.Parameters)
	for _, p := range m.Parameters {
		if v, ok := req.Parameters[p.Key]; p.Required && (!ok || v == "") {
			f.Add("parameters."+p.Key, "is required")
		}
	}
	return f.Err("create request")
}

// ValidateUpdate checks an update request against the manifest, as
// ValidateCreate but without requiring parameters (an update names only what
// changes).
func (m Manifest) ValidateUpdate(req UpdateRequest) error {
	var f marketplane.FieldErrors
	checkRequestID(&f, req.RequestID)
	m.checkLimits(&f, req.Limits)
	m.checkParameters(&f, req.Parameters)
	return f.Err("update request")
}

func checkRequestID(f *marketplane.FieldErrors, id string) {
	if err := validRequestID(id); err != "" {
		f.Add("request_id", err)
	}
}

func (m Manifest) checkLimits(f *marketplane.FieldErrors, limits map[string]int64) {
	for k, v := range limits {
		r, ok := m.Resource(k)
		switch {
		case !ok:
			f.Add("limits."+k, "is not a resource of this connector")
		case r.Class == ClassBoolean && v != 0 && v != 1:
			f.Add("limits."+k, "must be 0 (off) or 1 (on)")
		case v < Unlimited:
			f.Add("limits."+k, "must be -1 (unlimited) or at least 0")
		}
	}
}

func (m Manifest) checkParameters(f *marketplane.FieldErrors, params map[string]string) {
	for k, v := range params {
		p, ok := m.Parameter(k)
		if !ok {
			f.Add("parameters."+k, "is not a parameter of this connector")
			continue
		}
		if msg := p.Check(v); msg != "" {
			f.Add("parameters."+k, msg)
		}
	}
}
