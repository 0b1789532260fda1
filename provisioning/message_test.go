package provisioning

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
)

// Order messages reach customers: they keep the cause but never the
// connector's address.
func TestCustomerMessageHidesAddresses(t *testing.T) {
	t.Parallel()
	cause := errors.New(`Post "http://10.1.2.3:9101/tenants": dial tcp 10.1.2.3:9101: connect: connection refused`)
	err := &UnavailableError{Op: "POST /tenants", Attempts: 3, Err: cause}
	got := customerMessage(fmt.Errorf("order 7: %w", err))
	if strings.Contains(got, "10.1.2.3") || strings.Contains(got, "9101") || !strings.Contains(got, "connection refused") {
		t.Errorf("message %q", got)
	}
	if got := customerMessage(&FailedError{TenantID: "t", Message: "quota exceeded at the vendor"}); got != "quota exceeded at the vendor" {
		t.Errorf("connector's own words: %q", got)
	}
}

// Order messages are words: the error codes inside an error's text stay
// out ("connector office: not_found: …").
func TestCustomerMessageHasNoCodes(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("connector %s: %w", "office", marketplane.Errorf(marketplane.ENOTFOUND, "connector %q is not registered", "office"))
	if got, want := customerMessage(err), `connector office: connector "office" is not registered`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
