// Package mail sends Marketplane's email over SMTP (github.com/wneessen/go-mail)
// and tells a permanent refusal, which no retry fixes, from a passing
// fault, which a later attempt may get through.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender sends messages through one SMTP server.
type Sender struct {
	// Addr is the server's host:port.
	Addr string
	// From is the envelope and header sender address; a message shows its
	// seller's name with it.
	From string
	// User and Password log in with SMTP AUTH PLAIN when User is set.
	User, Password string
	// Timeout bounds a connection and its commands (default 30s).
	Timeout time.Duration
}

// Message is one email.
type Message struct {
	// ID is the Message-ID's unique part, the outbox id, so that a
	// message sent twice after a crash is recognizably the same.
	ID                    string
	To, FromName, ReplyTo string
	Subject, HTML, Text   string
}

// PermanentError is a refusal of the server with a 5xx code: the message
// will not go through as it is.
type PermanentError struct {
	Code int
	Err  error
}

func (e *PermanentError) Error() string { return fmt.Sprintf("refused (%d): %v", e.Code, e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports whether err is a permanent refusal.
func Permanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Send sends m. A malformed address and a 5xx answer are a
// *PermanentError; anything else (the server down, a 4xx answer) is a
// passing fault to retry.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(m.FromName, s.From); err != nil {
		return fmt.Errorf("from %q: %w", s.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return &PermanentError{Code: 553, Err: fmt.Errorf("to %q: %w", m.To, err)}
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return &PermanentError{Code: 553, Err: fmt.Errorf("reply-to %q: %w", m.ReplyTo, err)}
		}
	}
	if m.ID != "" {
		host := "marketplane.invalid"
		if i := strings.LastIndex(s.From, "@"); i >= 0 {
			host = s.From[i+1:]
		}
		msg.SetMessageIDWithValue("notification." + m.ID + "@" + host)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	host, portText, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(timeout), gomail.WithTLSPolicy(gomail.TLSOpportunistic)}
	if s.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.User), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
			return &PermanentError{Code: se.ErrorCode(), Err: err}
		}
		return err
	}
	return nil
}
