package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
)

// envConnectorSecret passes a connector's secret to `connector register`
// without putting it on the command line, where other users of the machine
// see it (ps). It is the variable the connector itself reads.
const envConnectorSecret = "MARKETPLANE_CONNECTOR_SECRET"

// cmdConnector runs `marketplane connector register URL`, `connector
// refresh NAME` and `connector list`. The command line is the operator's,
// so it acts as the system actor.
//
// Registering checks the connection both ways: the connector calls the
// platform back. This process is not the server, so by default it listens
// for the callback itself, on a free port of 127.0.0.1 (--callback-listen
// changes the address), and gives the connector that URL: the connector
// must be able to reach it, which a connector on the same machine can.
// --callback-base names the URL the connector must call instead: the
// public URL of a running `marketplane serve` on the same database, whose
// callback endpoint records the callback where this process reads it; or,
// with --callback-listen, this process's listener as the connector sees it
// (behind NAT or from a container).
func cmdConnector(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("connector: say register URL, refresh NAME or list")
	}
	switch args[0] {
	case "register", "refresh":
		return cmdConnectorRegister(ctx, args[0], args[1:], stdout, stderr)
	case "list":
		return cmdConnectorList(ctx, args[1:], stdout)
	}
	return usagef("connector: unknown action %q: say register URL, refresh NAME or list", args[0])
}

func cmdConnectorRegister(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("connector "+action, stderr)
	var c Config
	finish := bindConfig(fs, &c, "db")
	secret := fs.String("secret", "", "the secret the connector was started with (or "+envConnectorSecret+", which keeps it out of the process list)")
	base := fs.String("callback-base", "", "the URL the connector calls back: a running `marketplane serve` on the same database, "+
		"or (with --callback-listen) this command's listener as the connector reaches it")
	listen := fs.String("callback-listen", "127.0.0.1:0", "where this command listens for the connector's callback, unless --callback-base alone is given")
	dryRun := fs.Bool("dry-run", false, "check everything and print what would change; change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	req := provisioning.RegisterRequest{DryRun: *dryRun}
	switch action {
	case "register":
		if fs.NArg() != 1 {
			return usagef("connector register: give the connector's URL (and --secret)")
		}
		req.URL, req.Secret = fs.Arg(0), *secret
		if req.Secret == "" {
			req.Secret = os.Getenv(envConnectorSecret)
		}
		if req.Secret == "" {
			return usagef("connector register: give the connector's secret with --secret or %s", envConnectorSecret)
		}
	case "refresh":
		if fs.NArg() != 1 {
			return usagef("connector refresh: give the connector's name")
		}
		if set["secret"] {
			return usagef("connector refresh uses the stored secret; to change it, register the connector again with --secret")
		}
		req.Name = fs.Arg(0)
	}

	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	if _, err := catalogAccount(ctx, db, 0); err != nil {
		return err
	}

	req.CallbackBase = *base
	if !set["callback-base"] || set["callback-listen"] {
		stop, listening, err := listenForCallback(db, *listen)
		if err != nil {
			return err
		}
		defer stop()
		if req.CallbackBase == "" {
			req.CallbackBase = listening
		}
		fmt.Fprintf(stderr, "Listening for the connector's callback at %s%s (the connector must reach it; see --callback-base).\n",
			req.CallbackBase, provisioning.CallbackPath)
	}

	var reg *provisioning.Registration
	if action == "refresh" {
		reg, err = provisioning.Refresh(ctx, db, account.SystemActor(), req)
	} else {
		reg, err = provisioning.Register(ctx, db, account.SystemActor(), req)
	}
	if err != nil {
		return err
	}
	return printRegistration(stdout, reg)
}

// listenForCallback serves the callback endpoint on addr until stop is
// called, and returns its base URL.
func listenForCallback(db *store.DB, addr string) (stop func(), base string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen for the connector's callback on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+provisioning.CallbackPath, provisioning.CallbackHandler(db))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return stop, "http://" + ln.Addr().String(), nil
}

// printRegistration tells what a registration did, or would do: the
// catalog's changes, then which resource type sells each of the
// connector's resources (kept, changed or added), what became of the
// template and of the draft plan, and what the connector no longer
// offers.
func printRegistration(w io.Writer, reg *provisioning.Registration) error {
	c := reg.Connector
	what := fmt.Sprintf("the connector %s %s at %s", c.Name, c.Manifest.Version, c.URL)
	switch {
	case reg.DryRun:
		fmt.Fprintf(w, "Dry run: the two-way check passed; registering %s would make these changes; nothing was changed.\n", what)
	case reg.New():
		fmt.Fprintf(w, "Registered %s; the two-way check passed.\n", what)
	case reg.ManifestChanged():
		fmt.Fprintf(w, "Registered %s again (it was %s); the two-way check passed.\n", what, reg.Previous.Manifest.Version)
	default:
		fmt.Fprintf(w, "Registered %s again; the two-way check passed.\n", what)
	}
	if err := catalog.FormatDiff(w, reg.Changes); err != nil {
		return err
	}
	changed := func(kind catalog.Kind, key string) catalog.Action {
		for _, ch := range reg.Changes {
			if ch.Kind == kind && ch.Key == key {
				return ch.Action
			}
		}
		return ""
	}
	if len(reg.Bindings) > 0 {
		fmt.Fprintln(w, "Resource types:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, b := range reg.Bindings {
			state := "kept"
			switch changed(catalog.KindResourceType, b.ResourceType) {
			case catalog.Create:
				state = "added"
			case catalog.Update:
				state = "changed"
			}
			fmt.Fprintf(tw, "  %s\t← %s\t%s\n", b.ResourceType, b.Resource, state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if reg.Template != "" {
		switch changed(catalog.KindTemplate, reg.Template) {
		case catalog.Create:
			fmt.Fprintf(w, "Template %s: created.\n", reg.Template)
		case catalog.Update:
			fmt.Fprintf(w, "Template %s: changed as shown above.\n", reg.Template)
		default:
			fmt.Fprintf(w, "Template %s: unchanged.\n", reg.Template)
		}
	}
	if reg.Created.Plan != "" {
		id := ""
		if reg.Created.PlanID != 0 {
			id = fmt.Sprintf(" (id %d)", reg.Created.PlanID)
		}
		fmt.Fprintf(w, "The draft plan %s%s is unpublished and priced 0: price it and publish it.\n", reg.Created.Plan, id)
	}
	if reg.PlanKept != "" {
		fmt.Fprintf(w, "A plan %s exists already; it was left as it is.\n", reg.PlanKept)
	} else if reg.New() && reg.Created.Plan == "" {
		fmt.Fprintf(w, "No draft plan: plans are made of the template %s already.\n", reg.Template)
	}
	for _, u := range reg.Unoffered {
		fmt.Fprintf(w, "The connector no longer offers %s, which plans %s price: it stays in the template %s "+
			"(orders for it reach a connector that does not know it) until they stop selling it.\n",
			u.ResourceType, strings.Join(u.Plans, ", "), reg.Template)
	}
	if len(reg.Retired) > 0 {
		fmt.Fprintf(w, "The connector no longer offers %s and no plan prices them: out of the template, kept; delete them once unused.\n",
			strings.Join(reg.Retired, ", "))
	}
	return nil
}

func cmdConnectorList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("connector list", stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("connector list takes no arguments (got %q)", fs.Arg(0))
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	list, err := db.Connectors(ctx, account.SystemActor())
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		_, err = catalogAccount(ctx, db, 0) // says how to make the provider
	}
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No connectors. Register one with `marketplane connector register URL --secret S`.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSTATUS\tRESOURCES\tLAST CHECKED\tURL")
	for _, c := range list {
		checked := "-"
		if !c.LastCheckedAt.IsZero() {
			checked = c.LastCheckedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.Name, c.Manifest.Version, c.Status, len(c.Manifest.Resources), checked, c.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range list {
		if c.StatusMessage != "" {
			fmt.Fprintf(stdout, "%s: %s\n", c.Name, c.StatusMessage)
		}
	}
	return nil
}

// callbackBase is the server's base URL for connectors' registration
// callbacks: --base-url, or the address it listens on when --base-url was
// left to its default (the port may have been chosen at start: --addr …:0).
func (m *Main) callbackBase() string {
	if (m.Config.BaseURL == "" || m.Config.BaseURL == "http://"+m.Config.Addr) && m.listener != nil {
		return m.URL()
	}
	return m.Config.BaseURL
}
