package account

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/text"
)

// User is a person who logs in to one account.
type User struct {
	ID        int64
	AccountID int64
	// Login is kept exactly as given; it may be an e-mail address but need
	// not be. Uniqueness ignores case, so "Ann" and "ann" cannot both exist.
	Login       string
	DisplayName string
	Email       string
	Locale      string
	Disabled    bool
	RoleIDs     []int64
	LastLoginAt time.Time
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LoginKey is the form of a login used for uniqueness and lookup.
func LoginKey(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// Validate checks the fields a user can set.
func (u *User) Validate() error {
	var f marketplane.FieldErrors
	switch {
	case strings.TrimSpace(u.Login) == "":
		f.Add("login", "is required")
	case u.Login != strings.TrimSpace(u.Login):
		f.Add("login", "must not start or end with spaces")
	case utf8.RuneCountInString(u.Login) > 120:
		f.Add("login", "must be at most 120 characters")
	case strings.IndexFunc(u.Login, unicode.IsControl) >= 0:
		f.Add("login", "must not contain control characters")
	case text.LoginProblem(u.Login) != "":
		f.Add("login", text.LoginProblem(u.Login))
	}
	if utf8.RuneCountInString(u.DisplayName) > 200 {
		f.Add("display_name", "must be at most 200 characters")
	} else if p := text.NameProblem(u.DisplayName); p != "" {
		f.Add("display_name", p)
	}
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		f.Add("email", "must be an e-mail address")
	}
	if u.Locale != "" {
		if _, err := language.Parse(u.Locale); err != nil {
			f.Add("locale", "must be a language tag such as en-US")
		}
	}
	return f.Err("user")
}

// ValidatePassword checks a new password against the minimum rules.
func ValidatePassword(pw string) error {
	var f marketplane.FieldErrors
	switch n := utf8.RuneCountInString(pw); {
	case n < 10:
		f.Add("password", "must be at least 10 characters")
	case len(pw) > 256:
		f.Add("password", "must be at most 256 bytes")
	}
	return f.Err("password")
}
