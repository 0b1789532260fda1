package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/marketplane/marketplane/account"
)

// stdin is where commands read what a person or a pipe gives them (a
// password with --password-stdin); tests replace it.
var stdin io.Reader = os.Stdin

// cmdUser looks after users from the command line, on the database:
//
//	marketplane user reset-password LOGIN [--password-stdin | --generate]
//
// Without a flag it asks twice on the terminal. The change is made through
// the store as the system actor, so the audit log records it.
func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		return usagef("say reset-password: marketplane user reset-password LOGIN [--password-stdin | --generate]")
	}
	fs := newFlagSet("user reset-password", stderr)
	var c Config
	finish := bindConfig(fs, &c, "db", "password-hash-memory")
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	generate := fs.Bool("generate", false, "generate a new password and print it")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("reset-password: give one login")
	}
	if *fromStdin && *generate {
		return usagef("--password-stdin and --generate: choose one")
	}
	login := fs.Arg(0)
	var pw string
	switch {
	case *generate:
		pw = generatePassword()
	case *fromStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	default:
		var err error
		if pw, err = promptPassword(stderr); err != nil {
			return err
		}
	}
	if err := account.ValidatePassword(pw); err != nil {
		return err
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	u, err := db.UserByLogin(ctx, login)
	if err != nil {
		return fmt.Errorf("user %q: %w", login, err)
	}
	if err := db.SetPassword(ctx, account.SystemActor(), u.ID, pw); err != nil {
		return err
	}
	if *generate {
		fmt.Fprintf(stdout, "New password of %q: %s\n", u.Login, pw)
		return nil
	}
	fmt.Fprintf(stdout, "The password of %q is set.\n", u.Login)
	return nil
}

// promptPassword asks for a password twice on the terminal, without echo.
func promptPassword(prompt io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("standard input is not a terminal: use --password-stdin or --generate")
	}
	read := func(what string) (string, error) {
		fmt.Fprint(prompt, what)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		return string(b), err
	}
	pw, err := read("New password: ")
	if err != nil {
		return "", err
	}
	again, err := read("Once more: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ; nothing changed")
	}
	return pw, nil
}
