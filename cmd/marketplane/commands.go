package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/marketplane/marketplane/bench"
)

func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("marketplane "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parse parses flags that may stand before, between or after positional
// arguments ("tasks retry 42 --db …" reads as well as "tasks retry --db … 42");
// the positional ones are left in fs.Args().
func parse(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	// Parse the positional ones once more so that fs.Args() returns them.
	return fs.Parse(append([]string{"--"}, positional...))
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var c Config
	finish := bindConfig(fs, &c)
	fs.BoolVar(&c.Demo, "demo", false, "load the demo marketplace before serving (idempotent) and print its logins")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	m := &Main{Config: c, Logger: newLogger(c, os.Stderr), Out: stdout}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	base := c.BaseURL
	if base == "http://"+c.Addr {
		base = m.URL() // the port chosen when --addr ends in :0
	}
	fmt.Fprintf(stdout, "Marketplane is running at %s (API: %s/api/v1, health: %s/healthz). Stop it with Ctrl-C.\n", base, base, base)
	select {
	case <-ctx.Done():
		m.Logger.Info("shutting down", "timeout", c.ShutdownTimeout)
	case err := <-m.served:
		m.served <- err
		m.Logger.Error("server stopped", "err", err)
	}
	return m.Close()
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("migrate", stdout)
	var c Config
	finish := bindConfig(fs, &c, "db")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	action := "up"
	if fs.NArg() > 0 {
		action = fs.Arg(0)
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "up":
		if err := migrateAll(ctx, db); err != nil {
			return err
		}
		fallthrough
	case "status":
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database %s (%s): schema version %d, this binary knows %d", db.URL(), db.Engine, st.Current, st.Latest)
		if len(st.Pending) > 0 {
			fmt.Fprintf(stdout, ", pending: %v", st.Pending)
		}
		if st.Current > st.Latest {
			fmt.Fprint(stdout, " (the database is NEWER than this binary)")
		}
		fmt.Fprintln(stdout)
		return nil
	default:
		return usagef("unknown action %q: use up or status", action)
	}
}

func cmdDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("demo", stdout)
	var c Config
	finish := bindConfig(fs, &c, "db", "password-hash-memory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	return loadDemo(ctx, db, stdout)
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("name a benchmark: %s", benchNames())
	}
	name := args[0]
	fs := newFlagSet("bench "+name, stderr)
	var c Config
	finish := bindConfig(fs, &c, "db", "password-hash-memory")
	scale := fs.Int("scale", 0, "size of the benchmark (0 = its default)")
	users := fs.Int("users", 0, "bench panel: simulated users of a load run over loopback HTTP (0 = no load run)")
	duration := fs.Duration("duration", time.Minute, "bench panel: how long the load run of --users lasts")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return usageError{err}
	}
	if *scale < 0 {
		return usagef("--scale must not be negative")
	}
	if *users < 0 || *duration <= 0 {
		return usagef("--users must not be negative and --duration must be positive")
	}
	// Only a --db on the command line chooses the database: without one a
	// benchmark runs on a scratch database (bench.Database), never on the
	// one MARKETPLANE_DB or the default names, where the live data is.
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "db" })
	target, err := bench.Database(ctx, given, c.DB)
	if err != nil {
		return err
	}
	defer func() {
		if err := target.Drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(stderr, "marketplane bench: %v\n", err)
		}
	}()
	if target.Scratch {
		fmt.Fprintf(stderr, "bench %s: on a scratch database (%s), removed at the end; --db names one to keep\n", name, target.Name)
	}
	c.DB = target.URL
	db, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	return runBench(ctx, db, name, bench.Options{Scale: *scale, Users: *users, Duration: *duration}, stdout, stderr)
}
