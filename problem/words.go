package problem

import (
	"regexp"
	"strings"

	"github.com/marketplane/marketplane"
)

// People read problem details and order messages: they get words, never
// the codes Marketplane uses inside (error codes such as "not_found",
// statuses and reasons such as "provisioning_failed"). Field error
// messages keep the codes they list, which are the API's values.

// codes are the error codes, which an error's text (marketplane.Error's
// Error, "not_found: …") puts before its message.
var codes = []string{
	marketplane.ECONFLICT, marketplane.EINTERNAL, marketplane.EINVALID, marketplane.ENOTFOUND, marketplane.EFORBIDDEN,
	marketplane.EUNAUTHORIZED, marketplane.ETHROTTLED, marketplane.EUNAVAILABLE, marketplane.EPRECONDITION,
}

// codePrefix finds an error code where an error's text puts one: at the
// start, or after the ": " of a wrapping context ("connector office:
// not_found: …").
var codePrefix = regexp.MustCompile(`(^|: )(?:` + strings.Join(codes, "|") + `): `)

// Reasons are the words for the statuses and reasons with more than one
// word that messages name (order, account and subscription statuses and
// their reasons), each said so that it reads after "is".
var Reasons = map[string]string{
	"not_found":              "not found",
	"waiting_approval":       "waiting for approval",
	"waiting_payment":        "waiting for payment",
	"waiting_for_approval":   "waiting for approval",
	"waiting_for_payment":    "waiting for payment",
	"provisioning_failed":    "failed at provisioning",
	"manual_action_required": "waiting for manual action",
	"cancelled_by_staff":     "cancelled by staff",
	"credit_hold":            "on credit hold",
	"admin_hold":             "on administrative hold",
	"order_cancelled":        "cancelled with its order",
	"payg_balance":           "over its pay-as-you-go balance",
	"reseller_hold":          "held with its reseller",
}

// term is a word of snake_case, a candidate code.
var term = regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`)

// Words returns message with the error codes before its parts taken out
// and the statuses and reasons of Reasons said in words: "connector
// office: not_found: connector not registered" reads "connector office:
// connector not registered", "order 7 is provisioning_failed" reads
// "order 7 is failed at provisioning".
func Words(message string) string {
	for {
		s := codePrefix.ReplaceAllString(message, "$1")
		if s == message {
			break
		}
		message = s
	}
	return term.ReplaceAllStringFunc(message, func(t string) string {
		if w, ok := Reasons[t]; ok {
			return w
		}
		return t
	})
}
