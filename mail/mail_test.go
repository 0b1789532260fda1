package mail_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane/mail"
	"github.com/marketplane/marketplane/mail/mailtest"
)

func TestSendToMailDev(t *testing.T) {
	t.Parallel()
	md := mailtest.New(t)
	to := fmt.Sprintf("send-%d@example.com", time.Now().UnixNano())
	s := &mail.Sender{Addr: md.SMTP, From: "noreply@marketplane.example"}
	err := s.Send(t.Context(), mail.Message{ID: "42", To: to, FromName: "Reseller Ä1", ReplyTo: "support@a1.example",
		Subject: "Rechnung INV-000001 über 29,70\u00a0$", Text: "Guten Tag,\n\nTschüss\n", HTML: "<p>Guten Tag</p>"})
	if err != nil {
		t.Fatal(err)
	}
	got := md.Emails(t, to)
	if len(got) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(got))
	}
	e := got[0]
	if e.Subject != "Rechnung INV-000001 über 29,70\u00a0$" || !strings.Contains(e.Text, "Tschüss") || !strings.Contains(e.HTML, "<p>Guten Tag</p>") {
		t.Errorf("arrived: %+v", e)
	}
	if len(e.From) != 1 || e.From[0].Name != "Reseller Ä1" || e.From[0].Address != "noreply@marketplane.example" {
		t.Errorf("from %+v", e.From)
	}
	if src := md.Source(t, e); !strings.Contains(src, "\r\nReply-To: <support@a1.example>\r\n") {
		t.Errorf("no reply-to in:\n%s", src)
	}
	if id := e.Headers["message-id"]; id != "<notification.42@marketplane.example>" {
		t.Errorf("message id %v", id)
	}
}

// A server that is down is a passing fault; a malformed recipient a
// permanent one.
func TestSendFaults(t *testing.T) {
	t.Parallel()
	md := mailtest.New(t)
	down := &mail.Sender{Addr: "127.0.0.1:1", From: "noreply@marketplane.example"}
	err := down.Send(t.Context(), mail.Message{To: "x@example.com", FromName: "A", Subject: "s", Text: "t"})
	if err == nil || mail.Permanent(err) {
		t.Errorf("server down: %v (permanent %v)", err, mail.Permanent(err))
	}
	s := &mail.Sender{Addr: md.SMTP, From: "noreply@marketplane.example"}
	err = s.Send(t.Context(), mail.Message{To: "not an address", FromName: "A", Subject: "s", Text: "t"})
	if !mail.Permanent(err) {
		t.Errorf("bad recipient: %v", err)
	}
}
