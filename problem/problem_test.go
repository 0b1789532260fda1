package problem

import (
	"testing"

	"github.com/marketplane/marketplane"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		marketplane.EINVALID: 400, marketplane.EUNAUTHORIZED: 401, marketplane.EFORBIDDEN: 403,
		marketplane.ENOTFOUND: 404, marketplane.ECONFLICT: 409, marketplane.EPRECONDITION: 412,
		marketplane.ETHROTTLED: 429, marketplane.EUNAVAILABLE: 503, marketplane.EINTERNAL: 500, "made_up": 500,
	}
	for code, want := range cases {
		if got := Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
}
