package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/client"
)

// The "api" command group talks to a running server through the generated
// client (package client), with an API key, as an operations team's script
// or a reseller's integration would: unlike the other commands it never
// opens the database, so it works from any machine that reaches the API.
//
//	marketplane api [--url URL] [--api-key KEY] [--output json|table] RESOURCE VERB [flags]

// apiResponse is what every generated …WithResponse method returns.
type apiResponse interface {
	StatusCode() int
	GetBody() []byte
}

// apiRequest is what a verb's call gets: the client, the verb's positional
// ids, the page to read (lists) and where a file download goes (--out -).
type apiRequest struct {
	c      *client.ClientWithResponses
	ids    []int64
	cursor *string
	limit  *int64
	stdout io.Writer
}

// apiCall makes a verb's request; the caller prints its body or its problem.
type apiCall func(ctx context.Context, r apiRequest) (apiResponse, error)

// apiVerb is one "marketplane api RESOURCE VERB".
type apiVerb struct {
	resource, verb string
	args           []string // names of the positional ids, e.g. "ID"
	help           string
	paged          bool     // takes --limit, --cursor and --all
	columns        []string // of --output table
	// bind registers the verb's own flags and returns its call, which
	// reads them once they are parsed.
	bind func(fs *flag.FlagSet) apiCall
}

// Columns of --output table, per kind of thing shown.
var (
	accountColumns      = []string{"id", "kind", "level", "name", "status", "parent_id", "currency"}
	orderColumns        = []string{"id", "number", "type", "status", "customer_id", "plan_id", "period", "total", "currency"}
	quoteColumns        = []string{"customer_id", "plan_id", "period", "effective_on", "period_end", "total", "currency"}
	subscriptionColumns = []string{"id", "customer_id", "plan_id", "status", "period", "period_end", "auto_renew"}
	documentColumns     = []string{"id", "type", "number", "status", "account_id", "issued_on", "total", "amount_due", "currency"}
	taskColumns         = []string{"id", "kind", "status", "attempt", "max_attempts", "scheduled_at"}
	webhookColumns      = []string{"id", "account_id", "url", "active", "event_types"}
	deliveryColumns     = []string{"id", "event_id", "event_type", "status", "attempts", "response_code", "updated_at"}
	eventColumns        = []string{"id", "type", "account_id", "created_at"}
)

// apiVerbs is the command group, in the order of its usage text.
var apiVerbs = []apiVerb{
	{resource: "accounts", verb: "me", help: "the API key's own account", columns: accountColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.GetMyAccountWithResponse(ctx))
		})},
	{resource: "accounts", verb: "list", help: "the accounts below yours [--under ID]", paged: true, columns: accountColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			under := optionalID(fs, "under", "list below the account with this `ID` instead of your own")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListAccountsWithResponse(ctx, &client.ListAccountsParams{Under: *under, Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "accounts", verb: "get", args: []string{"ID"}, help: "one account", columns: accountColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.GetAccountWithResponse(ctx, r.ids[0]))
		})},

	{resource: "orders", verb: "quote", help: "price an order without placing it (flags as place)", columns: quoteColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			input := orderFlags(fs)
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				in, key, err := input()
				if err != nil {
					return nil, err
				}
				return respond(r.c.QuoteOrderWithResponse(ctx, &client.QuoteOrderParams{IdempotencyKey: key}, in))
			}
		}},
	{resource: "orders", verb: "place", help: "--customer ID --plan ID --period KEY [--resource key=N …] [--payment-source TOK] [--idempotency-key K]", columns: orderColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			input := orderFlags(fs)
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				in, key, err := input()
				if err != nil {
					return nil, err
				}
				return respond(r.c.PlaceOrderWithResponse(ctx, &client.PlaceOrderParams{IdempotencyKey: key}, in))
			}
		}},
	{resource: "orders", verb: "get", args: []string{"ID"}, help: "one order", columns: orderColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.GetOrderWithResponse(ctx, r.ids[0]))
		})},
	{resource: "orders", verb: "list", help: "orders [--customer ID]", paged: true, columns: orderColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			customer := optionalID(fs, "customer", "only the orders of the customer with this `ID`")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListOrdersWithResponse(ctx, &client.ListOrdersParams{CustomerId: *customer, Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "orders", verb: "cancel", args: []string{"ID"}, help: "cancel an order that is not finished", columns: orderColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.CancelOrderWithResponse(ctx, r.ids[0], nil))
		})},

	{resource: "subscriptions", verb: "list", help: "subscriptions [--customer ID]", paged: true, columns: subscriptionColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			customer := optionalID(fs, "customer", "only the subscriptions of the customer with this `ID`")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListSubscriptionsWithResponse(ctx, &client.ListSubscriptionsParams{CustomerId: *customer, Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "subscriptions", verb: "get", args: []string{"ID"}, help: "one subscription", columns: subscriptionColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.GetSubscriptionWithResponse(ctx, r.ids[0]))
		})},
	changeVerb("change", "change a subscription: [--plan ID] [--period KEY] [--resource key=N …] [--proration M] [--confirm-zero] (prints the change order)", orderColumns,
		func(ctx context.Context, r apiRequest, in client.ChangeInput, key *string) (apiResponse, error) {
			return respond(r.c.ChangeSubscriptionWithResponse(ctx, r.ids[0], &client.ChangeSubscriptionParams{IdempotencyKey: key}, in))
		}),
	changeVerb("quote-change", "price a change without placing it (flags as change)", quoteColumns,
		func(ctx context.Context, r apiRequest, in client.ChangeInput, key *string) (apiResponse, error) {
			return respond(r.c.QuoteSubscriptionChangeWithResponse(ctx, r.ids[0], &client.QuoteSubscriptionChangeParams{IdempotencyKey: key}, in))
		}),
	{resource: "subscriptions", verb: "suspend", args: []string{"ID"}, help: "suspend a subscription", columns: subscriptionColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.SuspendSubscriptionWithResponse(ctx, r.ids[0], nil))
		})},
	{resource: "subscriptions", verb: "resume", args: []string{"ID"}, help: "resume a suspended subscription", columns: subscriptionColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.ResumeSubscriptionWithResponse(ctx, r.ids[0], nil))
		})},
	{resource: "subscriptions", verb: "cancel", args: []string{"ID"}, help: "cancel a subscription (prints the cancellation order)", columns: orderColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.CancelSubscriptionWithResponse(ctx, r.ids[0], nil))
		})},

	{resource: "documents", verb: "list", help: "invoices and other documents [--account ID]", paged: true, columns: documentColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			acct := optionalID(fs, "account", "only the documents of the buyer with this `ID`")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListDocumentsWithResponse(ctx, &client.ListDocumentsParams{AccountId: *acct, Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "documents", verb: "get", args: []string{"ID"}, help: "one document with its lines", columns: documentColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.GetDocumentWithResponse(ctx, r.ids[0]))
		})},
	{resource: "documents", verb: "pdf", args: []string{"ID"}, help: "save a document as PDF: --out FILE (- for stdout)",
		bind: func(fs *flag.FlagSet) apiCall {
			out := fs.String("out", "", "`file` to write the PDF to; - writes it to stdout")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				if *out == "" {
					return nil, usagef("documents pdf: --out FILE is required")
				}
				res, err := r.c.GetDocumentPdfWithResponse(ctx, r.ids[0])
				if err != nil || res.StatusCode() != http.StatusOK {
					return respond(res, err)
				}
				if *out == "-" {
					_, err = r.stdout.Write(res.Body)
				} else {
					err = os.WriteFile(*out, res.Body, 0o644)
				}
				// Nothing more to print: the PDF is the output.
				return silent{res}, err
			}
		}},

	{resource: "tasks", verb: "list", help: "background tasks [--status S]", paged: true, columns: taskColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			status := optionalString(fs, "status", "only tasks with this `status`: queued, running, retrying, completed, failed, cancelled")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListTasksWithResponse(ctx, &client.ListTasksParams{Status: enum[client.ListTasksParamsStatus](*status), Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "tasks", verb: "retry", args: []string{"ID"}, help: "run a failed or cancelled task again", columns: taskColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.RetryTaskWithResponse(ctx, r.ids[0], nil))
		})},
	{resource: "tasks", verb: "cancel", args: []string{"ID"}, help: "cancel a task that has not finished", columns: taskColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.CancelTaskWithResponse(ctx, r.ids[0], nil))
		})},

	{resource: "webhooks", verb: "list", help: "an account's webhook endpoints: --account ID", paged: true, columns: webhookColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			acct := optionalID(fs, "account", "the `ID` of the account whose endpoints to list (required)")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				if *acct == nil {
					return nil, usagef("webhooks list: --account ID is required")
				}
				return respond(r.c.ListWebhooksWithResponse(ctx, **acct, &client.ListWebhooksParams{Cursor: r.cursor, Limit: r.limit}))
			}
		}},
	{resource: "webhooks", verb: "deliveries", args: []string{"ID"}, help: "an endpoint's delivery log, newest first", paged: true, columns: deliveryColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.ListWebhookDeliveriesWithResponse(ctx, r.ids[0], &client.ListWebhookDeliveriesParams{Cursor: r.cursor, Limit: r.limit}))
		})},
	{resource: "webhooks", verb: "redeliver", args: []string{"DELIVERY_ID"}, help: "send a delivery's event again", columns: deliveryColumns,
		bind: noFlags(func(ctx context.Context, r apiRequest) (apiResponse, error) {
			return respond(r.c.RedeliverWebhookWithResponse(ctx, r.ids[0], nil))
		})},

	{resource: "events", verb: "list", help: "events of your account and those below it [--account ID] [--type T]", paged: true, columns: eventColumns,
		bind: func(fs *flag.FlagSet) apiCall {
			acct := optionalID(fs, "account", "the `ID` of the account whose events, with those below it, to list")
			typ := optionalString(fs, "type", "only events of this `type`")
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				return respond(r.c.ListEventsWithResponse(ctx, &client.ListEventsParams{AccountId: *acct, Type: *typ, Cursor: r.cursor, Limit: r.limit}))
			}
		}},
}

// apiOptions are the flags of the whole group.
type apiOptions struct {
	url, key, output string
}

// bind registers the group's flags on fs with o's values as defaults, so
// that they may be given before RESOURCE VERB as well as after.
func (o *apiOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", o.url, "the server's `URL` (MARKETPLANE_URL); /api/v1 is added when missing")
	// A Func flag, so that help never prints the key as a default.
	fs.Func("api-key", "the API `key` to call with (MARKETPLANE_API_KEY)", func(s string) error {
		o.key = s
		return nil
	})
	fs.StringVar(&o.output, "output", o.output, "`format`: json (the API's JSON, indented) or table")
}

// defaultAPIURL is where `marketplane serve` listens unless told otherwise.
func defaultAPIURL() string {
	if u := os.Getenv("MARKETPLANE_URL"); u != "" {
		return u
	}
	for _, s := range settings {
		if s.flag == "addr" {
			return "http://" + s.def
		}
	}
	panic("no addr setting")
}

// cmdAPI runs "marketplane api …" and returns the exit code. It reports its
// own errors: an API problem is shown as "status title: detail" with its
// field errors rather than as a Go error.
func cmdAPI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := runAPI(ctx, args, stdout, stderr)
	var p *apiProblem
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &p):
		p.print(stderr)
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "marketplane api: %v\n", err)
		fmt.Fprintf(stderr, "Run \"marketplane api -h\" for the resources and verbs.\n")
		return 2
	default:
		fmt.Fprintf(stderr, "marketplane: %v\n", err)
		return 1
	}
}

func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := apiOptions{url: defaultAPIURL(), key: os.Getenv("MARKETPLANE_API_KEY"), output: "json"}
	fs := newFlagSet("api", stderr)
	o.bind(fs)
	fs.Usage = func() { apiUsage(fs) }
	// The group's flags stop at RESOURCE; the verb's flag set parses the rest.
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() < 2 {
		apiUsage(fs)
		return usagef("say RESOURCE VERB")
	}
	resource, verb := fs.Arg(0), fs.Arg(1)
	v := findAPIVerb(resource, verb)
	if v == nil {
		apiUsage(fs)
		return usagef("unknown resource and verb %q", resource+" "+verb)
	}

	vfs := newFlagSet("api "+resource+" "+verb, stderr)
	o.bind(vfs)
	call := v.bind(vfs)
	var limit int64
	var cursor string
	var all bool
	if v.paged {
		vfs.Int64Var(&limit, "limit", 0, "items per page (the server's default when 0)")
		vfs.StringVar(&cursor, "cursor", "", "start at this next_cursor of a previous page")
		vfs.BoolVar(&all, "all", false, "follow next_cursor to the last page (json: one array of the items)")
	}
	vfs.Usage = func() {
		fmt.Fprintf(vfs.Output(), "Usage: marketplane api %s\n  %s\n\nFlags:\n", strings.Join(append([]string{resource, verb}, v.args...), " "), v.help)
		vfs.PrintDefaults()
	}
	if err := parse(vfs, fs.Args()[2:]); err != nil {
		return err
	}
	if vfs.NArg() != len(v.args) {
		vfs.Usage()
		return usagef("%s %s takes %d argument(s) (%s), got %d", resource, verb, len(v.args), strings.Join(v.args, " "), vfs.NArg())
	}
	req := apiRequest{stdout: stdout}
	for i, a := range vfs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return usagef("%s: %q is not a number", v.args[i], a)
		}
		req.ids = append(req.ids, id)
	}
	if limit < 0 {
		return usagef("--limit: %d is not a number of items ≥ 1", limit)
	} else if limit > 0 {
		req.limit = &limit
	}
	if cursor != "" {
		req.cursor = &cursor
	}
	if o.output != "json" && o.output != "table" {
		return usagef("--output: %q is not json or table", o.output)
	}
	if o.key == "" {
		return usagef("no API key: pass --api-key KEY or set MARKETPLANE_API_KEY")
	}
	var err error
	if req.c, err = newAPIClient(o.url, o.key); err != nil {
		return usageError{err}
	}
	return apiOutput(ctx, v, call, req, o.output == "table", all)
}

func findAPIVerb(resource, verb string) *apiVerb {
	for i := range apiVerbs {
		if apiVerbs[i].resource == resource && apiVerbs[i].verb == verb {
			return &apiVerbs[i]
		}
	}
	return nil
}

func apiUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: marketplane api [--url URL] [--api-key KEY] [--output json|table] RESOURCE VERB [flags]

Calls a running server's REST API with an API key. Output is the API's JSON,
indented, or with --output table an aligned table. Lists take --limit N,
--cursor C and --all (follow the pages to the end).

`)
	for _, v := range apiVerbs {
		fmt.Fprintf(w, "  %-44s %s\n", strings.TrimSpace(v.resource+" "+v.verb+" "+strings.Join(v.args, " ")), v.help)
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

// newAPIClient is a client of the API at base (a server URL, with or
// without the /api/v1 prefix) that calls with key.
func newAPIClient(base, key string) (*client.ClientWithResponses, error) {
	base = strings.TrimRight(base, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("--url: %q is not an http:// or https:// URL", base)
	}
	if !strings.HasSuffix(base, api.Prefix) {
		base += api.Prefix
	}
	agent := func(_ context.Context, req *http.Request) error {
		req.Header.Set("User-Agent", "marketplane-cli/"+version)
		return nil
	}
	return client.New(base, key, client.WithRequestEditorFn(agent))
}

// respond turns a generated method's typed result into an apiResponse,
// keeping a nil response a nil interface.
func respond[R apiResponse](r R, err error) (apiResponse, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// silent is a successful response whose body was already dealt with.
type silent struct{ apiResponse }

func (silent) GetBody() []byte { return nil }

func noFlags(call apiCall) func(*flag.FlagSet) apiCall {
	return func(*flag.FlagSet) apiCall { return call }
}

// optionalID registers an id flag that stays nil unless given; its usage
// names the value `ID`.
func optionalID(fs *flag.FlagSet, name, usage string) **int64 {
	var p *int64
	fs.Func(name, usage, func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		p = &n
		return nil
	})
	return &p
}

// optionalString registers a string flag that stays nil unless given; a
// word of usage in `backquotes` names its value in the help.
func optionalString(fs *flag.FlagSet, name, usage string) **string {
	var p *string
	fs.Func(name, usage, func(s string) error {
		p = &s
		return nil
	})
	return &p
}

// enum converts an optional string to one of the client's enum types; the
// server says whether the value is one it knows.
func enum[T ~string](s *string) *T {
	if s == nil {
		return nil
	}
	v := T(*s)
	return &v
}

// orderFlags registers the flags of an order (quote and place) and returns
// what reads them.
func orderFlags(fs *flag.FlagSet) func() (client.OrderInput, *string, error) {
	customer := optionalID(fs, "customer", "the `ID` of the customer that buys (required)")
	plan := optionalID(fs, "plan", "the `ID` of the plan to buy (required)")
	period := fs.String("period", "", "the `key` of one of the plan's periods, e.g. 1m (required)")
	payment := optionalString(fs, "payment-source", "pay in the same call with this payment `token`, e.g. tok_visa")
	key := optionalString(fs, "idempotency-key", "a `key` of your choosing that makes a retry of the same call safe")
	resources := resourceFlag(fs)
	return func() (client.OrderInput, *string, error) {
		var missing []string
		if *customer == nil {
			missing = append(missing, "--customer")
		}
		if *plan == nil {
			missing = append(missing, "--plan")
		}
		if *period == "" {
			missing = append(missing, "--period")
		}
		if len(missing) > 0 {
			return client.OrderInput{}, nil, usagef("an order needs %s", strings.Join(missing, ", "))
		}
		in := client.OrderInput{CustomerId: **customer, PlanId: **plan, Period: *period, PaymentSource: *payment}
		if len(resources) > 0 {
			in.Resources = &resources
		}
		return in, *key, nil
	}
}

// changeVerb is a "subscriptions VERB ID" that sends a change: the flags
// of changeFlags, then call with the input they make.
func changeVerb(verb, help string, columns []string, call func(context.Context, apiRequest, client.ChangeInput, *string) (apiResponse, error)) apiVerb {
	return apiVerb{resource: "subscriptions", verb: verb, args: []string{"ID"}, help: help, columns: columns,
		bind: func(fs *flag.FlagSet) apiCall {
			input := changeFlags(fs)
			return func(ctx context.Context, r apiRequest) (apiResponse, error) {
				in, key, err := input()
				if err != nil {
					return nil, err
				}
				return call(ctx, r, in, key)
			}
		}}
}

// changeFlags registers the flags of a subscription change and returns
// the reader of its input, refusing a change that changes nothing.
func changeFlags(fs *flag.FlagSet) func() (client.ChangeInput, *string, error) {
	plan := optionalID(fs, "plan", "the `ID` of the plan to move to (an upgrade or downgrade path of the current one)")
	period := optionalString(fs, "period", "the `key` of another period of the plan, e.g. 12m (monthly to annual)")
	proration := optionalString(fs, "proration", "override the vendor's proration for this change: `prorate`, prorate_invoice or none")
	confirmZero := fs.Bool("confirm-zero", false, "yes to a change that costs nothing")
	key := optionalString(fs, "idempotency-key", "a `key` of your choosing that makes a retry of the same call safe")
	resources := resourceFlag(fs)
	return func() (client.ChangeInput, *string, error) {
		if *plan == nil && *period == nil && len(resources) == 0 {
			return client.ChangeInput{}, nil, usagef("a change needs --plan, --period or --resource")
		}
		in := client.ChangeInput{PlanId: *plan, Period: *period}
		if *proration != nil {
			p := client.ChangeInputProration(**proration)
			in.Proration = &p
		}
		if *confirmZero {
			in.ConfirmZero = confirmZero
		}
		if len(resources) > 0 {
			in.Resources = &resources
		}
		return in, *key, nil
	}
}

// resourceFlag registers the repeatable --resource key=N and returns the
// amounts it collects.
func resourceFlag(fs *flag.FlagSet) map[string]int64 {
	resources := map[string]int64{}
	fs.Func("resource", "an amount of a rate, `key=N` (repeat the flag for each)", func(s string) error {
		k, n, ok := strings.Cut(s, "=")
		q, err := strconv.ParseInt(n, 10, 64)
		if !ok || k == "" || err != nil {
			return fmt.Errorf("%q is not key=N", s)
		}
		resources[k] = q
		return nil
	})
	return resources
}

// apiProblem is an API error response (RFC 9457 problem+json).
type apiProblem struct {
	status int
	client.ErrorModel
	raw string // the body, when it is not a problem document
}

func (p *apiProblem) Error() string {
	return fmt.Sprintf("%d %s", p.status, p.title())
}

func (p *apiProblem) title() string {
	if p.Title != nil && *p.Title != "" {
		return *p.Title
	}
	return http.StatusText(p.status)
}

// print writes "marketplane: 400 Bad Request: detail" and a line per field
// error, as a person reading a terminal wants them.
func (p *apiProblem) print(w io.Writer) {
	detail := p.raw
	if p.Detail != nil {
		detail = *p.Detail
	}
	if detail != "" {
		fmt.Fprintf(w, "marketplane: %d %s: %s\n", p.status, p.title(), detail)
	} else {
		fmt.Fprintf(w, "marketplane: %d %s\n", p.status, p.title())
	}
	if p.Errors == nil {
		return
	}
	for _, e := range *p.Errors {
		loc, msg := "", ""
		if e.Location != nil {
			loc = *e.Location
		}
		if e.Message != nil {
			msg = *e.Message
		}
		if e.Value != nil {
			if b, err := json.Marshal(e.Value); err == nil {
				msg += " (" + string(b) + ")"
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", loc, msg)
	}
}

// problemOf is the error of a response with a status ≥ 300, nil otherwise.
func problemOf(r apiResponse) error {
	if r.StatusCode() < 300 {
		return nil
	}
	p := &apiProblem{status: r.StatusCode()}
	if err := json.Unmarshal(r.GetBody(), &p.ErrorModel); err != nil {
		p.ErrorModel = client.ErrorModel{}
		p.raw = strings.TrimSpace(string(r.GetBody()))
		if len(p.raw) > 200 {
			p.raw = p.raw[:200] + "…"
		}
	}
	return p
}
