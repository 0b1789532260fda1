package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// cmdAPIKey makes API keys from the command line, on the database: the
// way in for an operator who has no key yet.
//
//	marketplane apikey create --account ID --role NAME [--name N] [--expires DUR]
//
// The key goes to stdout alone (KEY=$(marketplane apikey create …)); what
// it is goes to stderr. It is made through the store as the system actor,
// so the audit log records it.
func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("say create: marketplane apikey create --account ID --role NAME [--name N] [--expires DUR]")
	}
	fs := newFlagSet("apikey create", stderr)
	var c Config
	finish := bindConfig(fs, &c, "db")
	acct := fs.Int64("account", 0, "the `ID` of the account the key acts for (it sees that account's subtree)")
	roleName := fs.String("role", "", "the role the key acts with: a role key (account_admin, billing_manager, support) or a role's name")
	name := fs.String("name", "", "the key's name, to recognise it in lists (default: \"command line, DATE\")")
	expires := fs.String("expires", "", "the key expires after this long (such as 720h or 90d); default: never")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("apikey create takes no arguments, only flags (got %q)", fs.Arg(0))
	}
	if *acct <= 0 {
		return usagef("--account: give the ID of the account the key acts for")
	}
	if *roleName == "" {
		return usagef("--role: give a role key (account_admin, billing_manager, support) or a role's name")
	}
	var ttl time.Duration
	if *expires != "" {
		var err error
		if ttl, err = parseTTL(*expires); err != nil {
			return usagef("--expires: %v", err)
		}
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	sys := account.SystemActor()
	a, err := db.Account(ctx, sys, *acct)
	if err != nil {
		return fmt.Errorf("account %d: %w", *acct, err)
	}
	role, err := findRole(ctx, db, a.ID, *roleName)
	if err != nil {
		return err
	}
	now := db.Clock.Now()
	if *name == "" {
		*name = "command line, " + now.Format(time.DateOnly)
	}
	var at time.Time
	if ttl > 0 {
		at = now.Add(ttl)
	}
	k, token, err := db.CreateAPIKey(ctx, sys, a.ID, role.ID, *name, at)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	until := "never expires"
	if !k.ExpiresAt.IsZero() {
		until = "expires " + k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "API key %d %q for account %d (%s) with role %q, %s. It is shown once: keep it now.\n",
		k.ID, k.Name, a.ID, a.Name, role.Name, until)
	return nil
}

// findRole is the role usable at account accountID whose key or name is
// name (case does not matter).
func findRole(ctx context.Context, db *store.DB, accountID int64, name string) (*account.Role, error) {
	roles, err := db.Roles(ctx, account.SystemActor(), accountID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range roles {
		if strings.EqualFold(r.Key, name) || strings.EqualFold(r.Name, name) {
			return r, nil
		}
		n := r.Name
		if r.Key != "" {
			n = r.Key
		}
		names = append(names, strconv.Quote(n))
	}
	return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "no such role",
		Fields: map[string]string{"role": fmt.Sprintf("no role %q at account %d; choose one of %s", name, accountID, strings.Join(names, ", "))}}
}

// parseTTL reads a duration such as 720h, or a number of days such as 90d.
func parseTTL(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 36500 {
			return 0, fmt.Errorf("%q is not a number of days such as 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 720h or 90d", s)
	}
	return d, nil
}
