package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/marketplane/marketplane"
)

// etagOf is the strong entity tag of a resource version.
func etagOf(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// contentTag is the hex of the first n bytes of the SHA-256 of v as JSON:
// the part of the tag of a resource without a version that follows its
// content.
func contentTag(v any, n int) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:n])
}

// checkIfMatch checks an If-Match header (RFC 9110: "*" or a list of entity
// tags, compared strongly) against the current tag. An empty header passes:
// If-Match is how a client asks for protection from lost updates, not a
// requirement.
func checkIfMatch(header, current string) error {
	if header == "" {
		return nil
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == current {
			return nil
		}
	}
	return marketplane.Errorf(marketplane.EPRECONDITION,
		"the resource was changed since you read it (If-Match %s, current ETag %s); read it again", header, current)
}

// Conditional holds the If-Match header of updates; input types embed it.
type Conditional struct {
	IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the resource changed since."`
}
