package pgdbaas

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/marketplane/marketplane"
)

var testOffer = offer{Locales: []string{"C.utf8", "C"}, Extensions: []string{"citext", "hstore", "pgcrypto"}}

func TestNewSpec(t *testing.T) {
	t.Parallel()
	ok := map[string]int64{ResourceStorage: 100, ResourceConnections: 5}
	tests := []struct {
		name   string
		limits map[string]int64
		params map[string]string
		want   spec
		fields []string // the fields refused; none when the spec is valid
	}{
		{"defaults", ok, nil, spec{StorageMB: 100, Connections: 5, Locale: "C.utf8"}, nil},
		{"locale and extensions, sorted without duplicates", ok,
			map[string]string{"locale": "C", "extensions": "pgcrypto,citext,pgcrypto"},
			spec{StorageMB: 100, Connections: 5, Locale: "C", Extensions: []string{"citext", "pgcrypto"}}, nil},
		{"empty extensions", ok, map[string]string{"extensions": ""},
			spec{StorageMB: 100, Connections: 5, Locale: "C.utf8"}, nil},
		{"unlimited", map[string]int64{ResourceStorage: -1, ResourceConnections: -1}, nil,
			spec{StorageMB: -1, Connections: -1, Locale: "C.utf8"}, nil},
		{"limits missing", nil, nil, spec{}, []string{"limits.connections", "limits.storage_mb"}},
		{"limits out of range", map[string]int64{ResourceStorage: 0, ResourceConnections: -2}, nil,
			spec{}, []string{"limits.connections", "limits.storage_mb"}},
		{"too many connections", map[string]int64{ResourceStorage: 1, ResourceConnections: maxConnections + 1}, nil,
			spec{}, []string{"limits.connections"}},
		{"unknown resource", map[string]int64{ResourceStorage: 1, ResourceConnections: 1, "vcpu": 2}, nil,
			spec{}, []string{"limits.vcpu"}},
		{"unknown locale", ok, map[string]string{"locale": "en_US.utf8"}, spec{}, []string{"parameters.locale"}},
		{"extension not offered", ok, map[string]string{"extensions": "citext,plpython3u"}, spec{}, []string{"parameters.extensions"}},
		{"extensions with spaces", ok, map[string]string{"extensions": "citext, hstore"}, spec{}, []string{"parameters.extensions"}},
		{"injection attempt", ok, map[string]string{"extensions": `citext"; DROP DATABASE postgres; --`}, spec{}, []string{"parameters.extensions"}},
		{"unknown parameter", ok, map[string]string{"owner": "postgres"}, spec{}, []string{"parameters.owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testOffer.newSpec(tt.limits, tt.params)
			if fields := invalidFields(t, err); !reflect.DeepEqual(fields, tt.fields) {
				t.Fatalf("refused fields = %v, want %v (err %v)", fields, tt.fields, err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("spec = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUpdatedSpec(t *testing.T) {
	t.Parallel()
	cur := spec{StorageMB: 100, Connections: 5, Locale: "C.utf8", Extensions: []string{"citext"}}
	tests := []struct {
		name   string
		limits map[string]int64
		params map[string]string
		want   spec
		fields []string
	}{
		{"nothing named keeps everything", nil, nil, cur, nil},
		{"one limit", map[string]int64{ResourceConnections: 10}, nil,
			spec{StorageMB: 100, Connections: 10, Locale: "C.utf8", Extensions: []string{"citext"}}, nil},
		{"same locale is fine", nil, map[string]string{"locale": "C.utf8"}, cur, nil},
		{"add an extension", nil, map[string]string{"extensions": "hstore,citext"},
			spec{StorageMB: 100, Connections: 5, Locale: "C.utf8", Extensions: []string{"citext", "hstore"}}, nil},
		{"new locale", nil, map[string]string{"locale": "C"}, spec{}, []string{"parameters.locale"}},
		{"remove an extension", nil, map[string]string{"extensions": "hstore"}, spec{}, []string{"parameters.extensions"}},
		{"bad limit", map[string]int64{ResourceStorage: 0}, nil, spec{}, []string{"limits.storage_mb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testOffer.updated(cur, tt.limits, tt.params)
			if fields := invalidFields(t, err); !reflect.DeepEqual(fields, tt.fields) {
				t.Fatalf("refused fields = %v, want %v (err %v)", fields, tt.fields, err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("spec = %+v, want %+v", got, tt.want)
			}
		})
	}
	if !reflect.DeepEqual(cur.Extensions, []string{"citext"}) {
		t.Errorf("updated changed the current spec's extensions: %v", cur.Extensions)
	}
}

func TestOver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit, size int64
		want        bool
	}{
		{10, 10 * mb, false},
		{10, 10*mb + 1, true},
		{-1, 1 << 50, false},
	}
	for _, tt := range tests {
		if got := (spec{StorageMB: tt.limit}).over(tt.size); got != tt.want {
			t.Errorf("limit %d MB, size %d: over = %v, want %v", tt.limit, tt.size, got, tt.want)
		}
	}
}

func TestQuoteLiteral(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"C.utf8":  "'C.utf8'",
		"it's":    "'it''s'",
		`a\'; --`: `E'a\\''; --'`,
	}
	for in, want := range tests {
		if got := quoteLiteral(in); got != want {
			t.Errorf("quoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestManifestIsValid(t *testing.T) {
	t.Parallel()
	s := &Service{offer: offer{Locales: DefaultLocales, Extensions: DefaultExtensions}}
	m := s.Manifest()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// The SDK checks parameters by the manifest before the Service sees
	// them: the published pattern must agree with the Service's own check.
	p, _ := m.Parameter(ParamExtensions)
	for v, want := range map[string]bool{"": true, "citext": true, "citext,pg_trgm": true, "citext,": false, "a b": false} {
		if got := p.Check(v) == ""; got != want {
			t.Errorf("manifest accepts extensions %q: %v, want %v", v, got, want)
		}
		if got := extensionsPattern.MatchString(v); got != want {
			t.Errorf("service accepts extensions %q: %v, want %v", v, got, want)
		}
	}
}

// invalidFields returns the sorted fields of an Invalid error, nil for nil,
// and fails the test for any other error.
func invalidFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		t.Fatalf("err = %v, want connector.Invalid", err)
	}
	var fields []string
	for k := range e.Fields {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	return fields
}
