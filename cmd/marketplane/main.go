// Command marketplane is the one binary of Marketplane: the server, the
// database migrations, the demo loader, catalog as code, plan sync, task
// administration and the benchmarks.
//
//	marketplane serve [--demo]        run the HTTP server and task workers
//	marketplane migrate [status]      apply or show database migrations
//	marketplane demo                  load the demo marketplace (idempotent)
//	marketplane catalog export|import a seller's catalog as YAML or JSON
//	marketplane connector …           register, refresh or list connectors
//	marketplane sync PLAN --options … sync a plan's delegated copies
//	marketplane tasks …               list, retry or cancel tasks
//	marketplane openapi               print the OpenAPI document
//	marketplane api RESOURCE VERB     call a running server's API with a key
//	marketplane apikey create …       make an API key on the database (shown once)
//	marketplane user reset-password L set a user's new password on the database
//	marketplane clock show|set|advance the test clock of a sandbox (serve --test-clock)
//	marketplane bench NAME            run a benchmark and print its figures
//	marketplane version               print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/marketplane/marketplane"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 on
// success, 1 on failure, 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, rest, stdout)
	case "demo":
		err = cmdDemo(ctx, rest, stdout)
	case "catalog":
		err = cmdCatalog(ctx, rest, stdout)
	case "connector":
		err = cmdConnector(ctx, rest, stdout, stderr)
	case "tasks":
		err = cmdTasks(ctx, rest, stdout)
	case "sync":
		err = cmdSync(ctx, rest, stdout, stderr)
	case "openapi":
		err = cmdOpenAPI(ctx, rest, stdout)
	case "bench":
		err = cmdBench(ctx, rest, stdout, stderr)
	case "bill":
		err = cmdBill(ctx, rest, stdout, stderr)
	case "clock":
		err = cmdClock(ctx, rest, stdout)
	case "api":
		return cmdAPI(ctx, rest, stdout, stderr) // reports its own errors
	case "apikey":
		err = cmdAPIKey(ctx, rest, stdout, stderr)
	case "user":
		err = cmdUser(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "marketplane", buildVersion())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "marketplane: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "marketplane %s: %v\n", cmd, err)
		return 2
	}
	var me *marketplane.Error
	if errors.As(err, &me) && len(me.Fields) > 0 {
		fmt.Fprintf(stderr, "marketplane %s: %s\n", cmd, me.Message)
		for k, v := range me.Fields {
			fmt.Fprintf(stderr, "  %s: %s\n", k, v)
		}
		return 1
	}
	fmt.Fprintf(stderr, "marketplane %s: %v\n", cmd, err)
	return 1
}

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func usage(w io.Writer) {
	fmt.Fprint(w, `Marketplane: cloud-services commerce for distributors and their resellers.

Usage: marketplane COMMAND [flags]

Commands:
  serve [--demo]              run the web panels, the REST API and the task workers
  migrate [up|status]         apply the database migrations, or show their state
  demo                        load the demo marketplace and print its logins (idempotent)
  catalog export|import FILE  a seller's catalog as code (YAML or JSON; import --dry-run prints the diff)
  connector register URL|refresh NAME|list  register connectors (--secret S; --dry-run prints the diff)
  tasks list|show|retry|cancel  look after background tasks
  sync PLAN --options LIST    sync a plan's delegated copies (--dry-run: print what would change)
  openapi                     print the REST API's OpenAPI 3.1 document
  bill --date D | --from D1 --to D2 [--yes]  run the daily billing of a day, or simulate a span day by day (days after today need --yes)
  clock show|set T|advance D  the test clock of a sandbox started with serve --test-clock (advance 72h, 3d)
  api RESOURCE VERB           call a running server's REST API with an API key (accounts, orders, documents …)
  apikey create --account ID --role NAME  make an API key (printed once) [--name N] [--expires 90d]
  user reset-password LOGIN   set a user's password (asks twice; --password-stdin or --generate)
  bench NAME [--scale N]      run a benchmark (`+benchNames()+`) on a scratch database (or --db) and print its figures
  version                     print the version

Run "marketplane COMMAND -h" for the flags of a command. Every flag also has a
MARKETPLANE_* environment variable; with none set, data lives in ./data on SQLite.
`)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return v + " (" + s.Value[:12] + ")"
			}
		}
		return v
	}
	return "(devel)"
}

func init() {
	if version == "" {
		version = buildVersion()
	}
}
