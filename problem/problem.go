// Package problem maps Marketplane's error codes to HTTP statuses: the one
// table for every HTTP surface (the REST API and the connector SDK), so
// that a code means the same status wherever it crosses the wire.
package problem

import (
	"net/http"

	"github.com/marketplane/marketplane"
)

// Status is the HTTP status of an error code; unknown codes and internal
// errors are 500.
func Status(code string) int {
	switch code {
	case marketplane.EINVALID:
		return http.StatusBadRequest
	case marketplane.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case marketplane.EFORBIDDEN:
		return http.StatusForbidden
	case marketplane.ENOTFOUND:
		return http.StatusNotFound
	case marketplane.ECONFLICT:
		return http.StatusConflict
	case marketplane.EPRECONDITION:
		return http.StatusPreconditionFailed
	case marketplane.ETHROTTLED:
		return http.StatusTooManyRequests
	case marketplane.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
