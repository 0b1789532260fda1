// Package mailtest reaches the MailDev server (npm package maildev) that
// .ci/run starts for the tests that send real email: its SMTP address and
// its REST API, which shows what arrived.
package mailtest

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
)

// MailDev is a MailDev server.
type MailDev struct {
	SMTP string // host:port
	API  string // http://host:port
}

// New returns the MailDev server of MARKETPLANE_TEST_SMTP and
// MARKETPLANE_TEST_MAILDEV. Without them a test is skipped, except in CI
// (CI=true), where it fails: .ci/run starts MailDev.
func New(t testing.TB) *MailDev {
	t.Helper()
	smtp, api := os.Getenv("MARKETPLANE_TEST_SMTP"), os.Getenv("MARKETPLANE_TEST_MAILDEV")
	if smtp == "" || api == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MARKETPLANE_TEST_SMTP and MARKETPLANE_TEST_MAILDEV are not set: .ci/run starts MailDev")
		}
		t.Skip("no MailDev: set MARKETPLANE_TEST_SMTP and MARKETPLANE_TEST_MAILDEV (.ci/run starts one)")
	}
	return &MailDev{SMTP: smtp, API: api}
}

// Address is a mailbox of an email.
type Address struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

// Email is a message as MailDev's REST API shows it.
type Email struct {
	ID      string         `json:"id"`
	Subject string         `json:"subject"`
	Text    string         `json:"text"`
	HTML    string         `json:"html"`
	From    []Address      `json:"from"`
	To      []Address      `json:"to"`
	Headers map[string]any `json:"headers"`
}

// Emails returns the messages that arrived for address to, oldest first.
// Tests share the server, so each sends to addresses of its own.
func (m *MailDev) Emails(t testing.TB, to string) []Email {
	t.Helper()
	res, err := http.Get(m.API + "/api/email")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var all []Email
	if err := json.NewDecoder(res.Body).Decode(&all); err != nil {
		t.Fatalf("maildev: %v", err)
	}
	var out []Email
	for _, e := range all {
		for _, r := range e.To {
			if r.Address == to {
				out = append(out, e)
			}
		}
	}
	return out
}

// Source returns e as it arrived, headers and all (the JSON of an email
// leaves Reply-To out).
func (m *MailDev) Source(t testing.TB, e Email) string {
	t.Helper()
	res, err := http.Get(m.API + "/api/email/" + e.ID + "/source")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
