package delegation

import (
	"slices"

	"github.com/marketplane/marketplane/catalog"
)

// FillPaths adds to copy, a delegated copy of source, the upgrade and
// downgrade paths of source to the plans keyed arrived, which the copy's
// owner has just received, and reports whether copy changed. A copy keeps
// only the paths to plans its owner holds (its customers could move to no
// other), so delegating A before B leaves the copy of A without A → B: the
// path stays on the source, and the copy gets it here when the copy of B
// arrives. Copies keep their source's keys, so a source's path names the
// copy's key too. The paths the copy has stay as they are, in their
// order; a new one goes after them.
func FillPaths(source, copy *catalog.Plan, arrived []string) bool {
	changed := false
	for _, l := range []struct {
		src []string
		dst *[]string
	}{{source.UpgradeTo, &copy.UpgradeTo}, {source.DowngradeTo, &copy.DowngradeTo}} {
		for _, k := range l.src {
			if k != copy.Key && slices.Contains(arrived, k) && !slices.Contains(*l.dst, k) {
				*l.dst = append(*l.dst, k)
				changed = true
			}
		}
	}
	return changed
}
