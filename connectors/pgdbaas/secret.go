package pgdbaas

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// newTenantID returns 16 random hex digits. Database and role names are built
// from it alone ("t_" + id), never from anything a customer typed, so they
// need no escaping beyond the quoting every statement does anyway; random
// rather than sequential so that several state schemas (connector instances,
// tests) on one server never pick the same name.
func newTenantID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newPassword returns 26 random base32 letters and digits (rand.Text: 130
// bits), safe to paste and to put in a URL.
func newPassword() string { return rand.Text() }

// scramIterations is PostgreSQL's default (scram_iterations in PostgreSQL 16).
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, in pg_authid's format. The connector sends the verifier, not the
// password, in CREATE/ALTER ROLE: DDL is what servers usually log
// (log_statement = ddl), and a verifier in a log does not let anyone log in.
// The password is ASCII letters and digits, which SASLprep leaves unchanged.
func scramVerifier(password string, salt []byte, iterations int) string {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		panic(err) // only for a key length out of range, which sha256.Size is not
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey))
}

func newScramVerifier(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	return scramVerifier(password, salt, scramIterations)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
