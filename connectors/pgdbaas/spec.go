package pgdbaas

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/marketplane/marketplane/connector"
)

// Bounds of the limits. CONNECTION LIMIT is a 32-bit integer in PostgreSQL;
// the storage bound keeps storage_mb·2^20 far from overflowing int64.
const (
	maxConnections = 100_000
	maxStorageMB   = 1 << 32
)

// extensionsRule is the form of the "extensions" parameter, published in the
// manifest (where a pattern matches the whole value) so that the platform
// checks it before calling.
const extensionsRule = `([a-z0-9_-]+(,[a-z0-9_-]+)*)?`

var extensionsPattern = regexp.MustCompile(`^(?:` + extensionsRule + `)$`)

// offer is what this server offers customers to choose from.
type offer struct {
	Locales    []string // the first is the default
	Extensions []string
}

// spec is what a tenant is made of: its limits and parameters, validated.
type spec struct {
	StorageMB   int64
	Connections int64
	Locale      string
	Extensions  []string // sorted, no duplicates
}

// over reports whether a database of size bytes exceeds the storage limit.
func (sp spec) over(size int64) bool {
	return sp.StorageMB != connector.Unlimited && size > sp.StorageMB*mb
}

// newSpec validates the limits and parameters of a Create. Both limits are
// required; the locale defaults to the first offered. Unknown keys are
// refused rather than ignored, so that a plan bound to the wrong connector
// fails loudly instead of selling something that is not provisioned.
func (o offer) newSpec(limits map[string]int64, params map[string]string) (spec, error) {
	sp := spec{Locale: o.Locales[0]}
	fields := map[string]string{}
	for _, k := range []string{ResourceStorage, ResourceConnections} {
		if _, ok := limits[k]; !ok {
			fields["limits."+k] = "required"
		}
	}
	o.applyLimits(&sp, limits, fields)
	if l, ok := params[ParamLocale]; ok && l != "" {
		if slices.Contains(o.Locales, l) {
			sp.Locale = l
		} else {
			fields["parameters."+ParamLocale] = fmt.Sprintf("unknown locale %q; choose one of %s", l, strings.Join(o.Locales, ", "))
		}
	}
	if v, ok := params[ParamExtensions]; ok {
		sp.Extensions = o.parseExtensions(v, fields)
	}
	unknownParams(params, fields)
	if len(fields) > 0 {
		return spec{}, connector.Invalid(fields)
	}
	return sp, nil
}

// updated validates an Update against the current spec: limits and
// parameters left out keep their values. The locale of an existing database
// cannot change, and extensions can be added but not removed: dropping one
// would drop the customer's columns and functions that use it.
func (o offer) updated(cur spec, limits map[string]int64, params map[string]string) (spec, error) {
	sp := cur
	sp.Extensions = slices.Clone(cur.Extensions)
	fields := map[string]string{}
	o.applyLimits(&sp, limits, fields)
	if l, ok := params[ParamLocale]; ok && l != "" && l != cur.Locale {
		fields["parameters."+ParamLocale] = fmt.Sprintf("the locale of a database cannot change after it is created (it is %s)", cur.Locale)
	}
	if v, ok := params[ParamExtensions]; ok {
		ext := o.parseExtensions(v, fields)
		var gone []string
		for _, e := range cur.Extensions {
			if !slices.Contains(ext, e) {
				gone = append(gone, e)
			}
		}
		if len(gone) > 0 && fields["parameters."+ParamExtensions] == "" {
			fields["parameters."+ParamExtensions] = fmt.Sprintf("installed extensions cannot be removed (%s); the customer may drop them", strings.Join(gone, ", "))
		}
		sp.Extensions = ext
	}
	unknownParams(params, fields)
	if len(fields) > 0 {
		return spec{}, connector.Invalid(fields)
	}
	return sp, nil
}

// applyLimits reads the limits into sp. Both take connector.Unlimited (-1),
// which is also what PostgreSQL's CONNECTION LIMIT means by -1; zero is
// refused, since a database nobody may connect to or write to is not a
// service anyone means to sell.
func (o offer) applyLimits(sp *spec, limits map[string]int64, fields map[string]string) {
	for k, v := range limits {
		switch k {
		case ResourceStorage:
			if v != connector.Unlimited && (v < 1 || v > maxStorageMB) {
				fields["limits."+k] = fmt.Sprintf("must be -1 (unlimited) or between 1 and %d MB", int64(maxStorageMB))
			}
			sp.StorageMB = v
		case ResourceConnections:
			if v != connector.Unlimited && (v < 1 || v > maxConnections) {
				fields["limits."+k] = fmt.Sprintf("must be -1 (unlimited) or between 1 and %d", maxConnections)
			}
			sp.Connections = v
		default:
			fields["limits."+k] = "unknown resource; this connector offers storage_mb and connections"
		}
	}
}

// parseExtensions reads "a,b,c" into a sorted list without duplicates, each
// one offered.
func (o offer) parseExtensions(v string, fields map[string]string) []string {
	const key = "parameters." + ParamExtensions
	if !extensionsPattern.MatchString(v) {
		fields[key] = "want a comma-separated list of extension names without spaces, such as citext,pgcrypto"
		return nil
	}
	var ext []string
	for _, e := range strings.Split(v, ",") {
		if e == "" {
			continue
		}
		if !slices.Contains(o.Extensions, e) {
			fields[key] = fmt.Sprintf("extension %q is not offered; choose from %s", e, strings.Join(o.Extensions, ", "))
			return nil
		}
		ext = append(ext, e)
	}
	slices.Sort(ext)
	return slices.Compact(ext)
}

func unknownParams(params map[string]string, fields map[string]string) {
	for k := range params {
		if k != ParamLocale && k != ParamExtensions {
			fields["parameters."+k] = "unknown parameter; this connector takes locale and extensions"
		}
	}
}
