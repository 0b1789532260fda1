package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
)

// randomToken returns n random bytes as lower-case base32 text.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics instead since Go 1.24
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
