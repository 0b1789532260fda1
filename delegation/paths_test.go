package delegation_test

import (
	"slices"
	"testing"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
)

func TestFillPaths(t *testing.T) {
	t.Parallel()
	source := &catalog.Plan{Key: "basic", UpgradeTo: []string{"pro", "max"}, DowngradeTo: []string{"mini"}}
	for _, c := range []struct {
		name        string
		up, down    []string // the copy's before
		arrived     []string
		wantUp      []string
		wantDown    []string
		wantChanged bool
	}{
		{"pro arrives", nil, nil, []string{"pro"}, []string{"pro"}, nil, true},
		{"max after pro", []string{"pro"}, nil, []string{"max"}, []string{"pro", "max"}, nil, true},
		{"mini and pro together", nil, nil, []string{"mini", "pro"}, []string{"pro"}, []string{"mini"}, true},
		{"held already", []string{"pro"}, nil, []string{"pro"}, []string{"pro"}, nil, false},
		{"a plan no path names", nil, nil, []string{"other"}, nil, nil, false},
		{"the copy's own paths stay", []string{"own"}, nil, []string{"max"}, []string{"own", "max"}, nil, true},
	} {
		cp := &catalog.Plan{Key: "basic", UpgradeTo: slices.Clone(c.up), DowngradeTo: slices.Clone(c.down)}
		changed := delegation.FillPaths(source, cp, c.arrived)
		if changed != c.wantChanged || !slices.Equal(cp.UpgradeTo, c.wantUp) || !slices.Equal(cp.DowngradeTo, c.wantDown) {
			t.Errorf("%s: changed %v, up %v, down %v; want %v, %v, %v", c.name, changed, cp.UpgradeTo, cp.DowngradeTo,
				c.wantChanged, c.wantUp, c.wantDown)
		}
	}
}
