package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/store"
)

// cmdCatalog runs `marketplane catalog export` and `marketplane catalog
// import FILE`: a seller's catalog as code. The command line is the
// operator's, so it acts as the system actor on any account.
func cmdCatalog(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("catalog: say export or import FILE")
	}
	switch args[0] {
	case "export":
		return cmdCatalogExport(ctx, args[1:], stdout)
	case "import":
		return cmdCatalogImport(ctx, args[1:], stdout)
	}
	return usagef("catalog: unknown action %q: say export or import FILE", args[0])
}

func cmdCatalogExport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("catalog export", stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	acctID := fs.Int64("account", 0, "id of the seller whose catalog to export (default: the provider)")
	format := fs.String("format", "yaml", "yaml or json")
	out := fs.String("out", "", "write the document to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("catalog export takes no arguments, only flags (got %q)", fs.Arg(0))
	}
	encode := catalog.EncodeYAML
	switch strings.ToLower(*format) {
	case "yaml", "yml":
	case "json":
		encode = catalog.EncodeJSON
	default:
		return usagef("--format: %q is not yaml or json", *format)
	}
	if *acctID < 0 {
		return usagef("--account: %d is not an account id", *acctID)
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	seller, err := catalogAccount(ctx, db, *acctID)
	if err != nil {
		return err
	}
	doc, err := db.ExportCatalog(ctx, account.SystemActor(), seller.ID)
	if err != nil {
		return err
	}
	// Encoded in full before a file is touched, so that a failure leaves
	// an existing file as it was.
	var b bytes.Buffer
	if err := encode(&b, doc); err != nil {
		return err
	}
	if *out == "" || *out == "-" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "Exported the catalog of %s (account %d) to %s: %s.\n", seller.Name, seller.ID, *out, catalogSize(doc))
	return nil
}

func cmdCatalogImport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("catalog import", stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	acctID := fs.Int64("account", 0, "id of the seller whose catalog to import into (default: the provider)")
	dryRun := fs.Bool("dry-run", false, "print what the import would change and change nothing")
	del := fs.Bool("delete", false, "delete what the catalog holds and FILE lacks (otherwise it is kept)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("catalog import: give one FILE, YAML or JSON (- reads standard input)")
	}
	if *acctID < 0 {
		return usagef("--account: %d is not an account id", *acctID)
	}
	name := fs.Arg(0)
	doc, err := readCatalogFile(name)
	if err != nil {
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
	seller, err := catalogAccount(ctx, db, *acctID)
	if err != nil {
		return err
	}
	sys := account.SystemActor()
	// What the catalog holds beyond the file: deleted with --delete,
	// otherwise kept, and said so, since the diff leaves it out.
	kept := 0
	if !*del {
		cur, err := db.ExportCatalog(ctx, sys, seller.ID)
		if err != nil {
			return err
		}
		for _, ch := range catalog.Diff(cur, doc) {
			if ch.Action == catalog.Delete {
				kept++
			}
		}
	}
	changes, err := db.ImportCatalog(ctx, sys, seller.ID, doc, store.ImportOptions{DryRun: *dryRun, Delete: *del})
	if err != nil {
		return inFile(name, err)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "Dry run: importing %s into the catalog of %s (account %d) would make these changes; nothing was changed.\n",
			name, seller.Name, seller.ID)
	} else {
		fmt.Fprintf(stdout, "Imported %s into the catalog of %s (account %d):\n", name, seller.Name, seller.ID)
	}
	if err := catalog.FormatDiff(stdout, changes); err != nil {
		return err
	}
	if kept > 0 {
		fmt.Fprintf(stdout, "%d objects of the catalog are not in %s and are kept; --delete deletes them.\n", kept, name)
	}
	return nil
}

// readCatalogFile reads and decodes the document in file name ("-" is
// standard input). The format is told by the extension, else by the
// content.
func readCatalogFile(name string) (*catalog.Document, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: no such file", name)
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	format := ""
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		format = "json"
	case ".yaml", ".yml":
		format = "yaml"
	}
	doc, err := catalog.Decode(r, format)
	if err != nil {
		return nil, inFile(name, err)
	}
	return doc, nil
}

// catalogAccount is the seller the catalog commands act on: account id, or
// the provider when id is 0.
func catalogAccount(ctx context.Context, db *store.DB, id int64) (*account.Account, error) {
	if id != 0 {
		return db.Account(ctx, account.SystemActor(), id)
	}
	p, err := db.Provider(ctx)
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return nil, errors.New("the database has no provider yet: start `marketplane serve` once, or load the demo with `marketplane demo`")
	}
	return p, err
}

// inFile names the file in an error about its document, with the field
// errors listed in order, one per line (run prints a map's fields in
// random order).
func inFile(name string, err error) error {
	var e *marketplane.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", name, err)
	}
	msg := name + ": " + e.Message
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			msg += "\n  " + k + ": " + e.Fields[k]
		}
	}
	return &marketplane.Error{Code: e.Code, Message: msg}
}

// catalogSize says how much a document holds, for people.
func catalogSize(d *catalog.Document) string {
	copies := 0
	for _, p := range d.Plans {
		if p.Rule != nil {
			copies++
		}
	}
	s := fmt.Sprintf("%d resource types, %d templates, %d plan categories, %d sales categories, %d plans",
		len(d.ResourceTypes), len(d.Templates), len(d.PlanCategories), len(d.SalesCategories), len(d.Plans))
	if copies > 0 {
		s += fmt.Sprintf(" (%d of them delegated copies)", copies)
	}
	return s
}
