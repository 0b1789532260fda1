package provisioning

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// VerifyCallback checks the signature of a connector's registration
// callback to the platform (see Client.Ping) with the connector's secret,
// refusing timestamps more than maxSkew away (connector.DefaultMaxSkew when
// maxSkew ≤ 0), and returns the body. Its errors have code EUNAUTHORIZED and
// wrap connector.ErrUnsigned, ErrBadSignature or ErrStale.
func VerifyCallback(r *http.Request, secret string, maxSkew time.Duration) ([]byte, error) {
	body, err := connector.VerifyRequest(r, secret, time.Now(), maxSkew)
	if err != nil {
		if marketplane.ErrorCode(err) == marketplane.EUNAUTHORIZED {
			return nil, fmt.Errorf("connector callback: %w", err)
		}
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "connector callback: " + err.Error()}
	}
	return body, nil
}

// ReadCallback is VerifyCallback followed by decoding the body: the nonce
// sent with Ping and the connector's name and version.
func ReadCallback(r *http.Request, secret string, maxSkew time.Duration) (connector.Callback, error) {
	var cb connector.Callback
	body, err := VerifyCallback(r, secret, maxSkew)
	if err != nil {
		return cb, err
	}
	if err := json.Unmarshal(body, &cb); err != nil || cb.Nonce == "" {
		return cb, &marketplane.Error{Code: marketplane.EINVALID, Message: "connector callback: the body is not a callback with a nonce"}
	}
	return cb, nil
}
