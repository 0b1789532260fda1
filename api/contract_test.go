package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/marketplane/marketplane/gateway/gatewaytest"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/task"
)

// The contract test holds the API to its own OpenAPI document: every
// operation the document lists is called at least once with a request it
// accepts and once with a request it refuses (beyond the missing key every
// operation refuses), and every answer must have a status the operation
// declares, a declared content type, and a body valid against the declared
// schema. A new operation without its cases fails the test.
//
// The cases live in groups, one file per part of the API
// (contract_*_test.go). A group builds what its cases need and returns
// them; the runner plays each group's cases in order, right after building
// them, so that a group may change what it built (delete it, cancel it) and
// the next group starts from a world it built itself.

// contractCase is one call of an operation and the answer the contract
// promises for it.
type contractCase struct {
	// op is the operationId the call must reach (a typo in a path is
	// caught here rather than counted for another operation).
	op string
	// name says what the case shows, for failure messages.
	name string
	// who is the name of the key that calls (see fixture.keys); "" calls
	// without one.
	who          string
	method, path string
	// body is sent as JSON; raw, when set, is sent as it is instead.
	body any
	raw  string
	// header holds extra request headers, in name, value pairs.
	header []string
	// want is the status the contract promises.
	want int
	// field, for a 400, is a location the problem's field errors must
	// name (such as "body.name").
	field string
	// check, when set, asserts more of the answer.
	check func(t *testing.T, r *response)
}

// contract is the world the groups build on: the API fixture on a real
// (insert-only) task manager with every hook the server wires, the
// connector vendor, and one of each kind of thing owned by L1a ("Alpha")
// and L2 ("Gamma").
type contract struct {
	*fixture
	tasks  *task.Manager
	vendor *vendor
	alpha  owned
	gamma  owned
}

// contractGroup builds the cases of a part of the API.
type contractGroup struct {
	name  string
	build func(t *testing.T, c *contract) []contractCase
}

// contractGroups are the parts of the API, each in its own file.
func contractGroups() []contractGroup {
	return []contractGroup{
		{"accounts", accountContract},
		{"catalog", catalogContract},
		{"commerce", commerceContract},
		{"webhooks", webhookContract},
		{"test clock", testClockContract},
	}
}

// contractTask stands for every task kind the server queues (provisioning,
// sync, suspensions): the contract calls the routes that queue them, not
// the handlers that run them.
type contractTask struct {
	What string `json:"what"`
	ID   int64  `json:"id"`
}

func (contractTask) Kind() string { return "test.contract" }

func newContract(t *testing.T, db *store.DB) *contract {
	t.Helper()
	ctx := context.Background()
	f := setup(t, db)
	saleClock(db)
	if err := task.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	m, err := task.New(db, task.Config{InsertOnly: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	task.Handle(m, func(context.Context, *task.Task[contractTask]) error { return nil }, task.KindOptions{})
	pathOf := func(ctx context.Context, tx *sql.Tx, accountID int64) (string, error) {
		var path string
		err := tx.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, accountID).Scan(&path)
		return path, err
	}
	enqueue := func(ctx context.Context, tx *sql.Tx, what string, id, accountID int64) error {
		path, err := pathOf(ctx, tx, accountID)
		if err != nil {
			return err
		}
		_, err = m.EnqueueTx(ctx, tx, contractTask{What: what, ID: id}, task.ForAccount(accountID, path))
		return err
	}
	f.api = New(Config{DB: db, Version: "test", Tasks: TaskManager(m), Logger: slog.New(slog.DiscardHandler), Gateway: gatewaytest.New(),
		EnqueueSync: func(ctx context.Context, tx *sql.Tx, job SyncTask) error {
			_, err := m.EnqueueTx(ctx, tx, contractTask{What: "sync", ID: job.RunID}, task.ForAccount(job.AccountID, job.AccountPath))
			return err
		},
		EnqueueProvision: func(ctx context.Context, tx *sql.Tx, o *store.Order) error {
			return enqueue(ctx, tx, "provision", o.ID, o.CustomerID)
		},
		EnqueueSubscriptionStatus: func(ctx context.Context, tx *sql.Tx, s *subscription.Subscription) error {
			return enqueue(ctx, tx, "status "+string(s.Status), s.ID, s.CustomerID)
		},
	})
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", f.api.Handler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	c := &contract{fixture: f, tasks: m}
	c.vendor = withConnectors(t, f)
	c.alpha = ownedBy(t, f, f.L1a, "Alpha")
	c.gamma = ownedBy(t, f, f.L2, "Gamma")
	return c
}

// TestContract plays every group's cases on both engines, each group on a
// fresh database, and checks that every operation of the document has its
// cases on each engine.
func TestContract(t *testing.T) {
	var mu sync.Mutex
	var ops []contractOp
	accepted, refused := map[string]map[string]bool{}, map[string]map[string]bool{}
	record := func(t *testing.T, d *contractDoc) {
		mu.Lock()
		defer mu.Unlock()
		engine := path.Base(t.Name())
		if accepted[engine] == nil {
			accepted[engine], refused[engine] = map[string]bool{}, map[string]bool{}
		}
		maps.Copy(accepted[engine], d.accepted)
		maps.Copy(refused[engine], d.refused)
		ops = d.ops
	}
	groups := append(contractGroups(), contractGroup{"no key", func(t *testing.T, c *contract) []contractCase {
		// Every operation refuses a call without a key, with a problem.
		var out []contractCase
		for _, op := range loadContractDoc(t, c.fixture).ops {
			out = append(out, contractCase{op: op.id, name: "no key", method: op.method,
				path: op.sample(), body: map[string]any{}, want: http.StatusUnauthorized})
		}
		return out
	}})
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				c := newContract(t, db)
				doc := loadContractDoc(t, c.fixture)
				for _, k := range g.build(t, c) {
					doc.play(t, c.fixture, k)
				}
				record(t, doc)
			})
		})
	}
	for engine := range accepted {
		for _, op := range ops {
			if !accepted[engine][op.id] {
				t.Errorf("%s: %s (%s %s) has no contract case it accepts", engine, op.id, op.method, op.path)
			}
			if !refused[engine][op.id] {
				t.Errorf("%s: %s (%s %s) has no contract case it refuses (beyond 401)", engine, op.id, op.method, op.path)
			}
		}
	}
}

// contractOp is one operation of the document.
type contractOp struct {
	id, method, path string
	match            *regexp.Regexp
	// spec is the operation's object in the document.
	spec map[string]any
}

// sample is the operation's path with every parameter set to 1.
func (o contractOp) sample() string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(o.path, "1")
}

// contractDoc is the API's own document, with its schemas compiled, and
// what the cases played so far covered.
type contractDoc struct {
	ops      []contractOp
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	accepted map[string]bool
	refused  map[string]bool
}

const contractDocURL = "mem:///openapi.json"

func loadContractDoc(t *testing.T, f *fixture) *contractDoc {
	t.Helper()
	r := f.must(t, 200, "", "GET", "/openapi.json", nil)
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	if err := comp.AddResource(contractDocURL, raw); err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &spec); err != nil {
		t.Fatal(err)
	}
	d := &contractDoc{compiler: comp, schemas: map[string]*jsonschema.Schema{}, accepted: map[string]bool{}, refused: map[string]bool{}}
	for path, ops := range spec.Paths {
		expr := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$"
		for method, body := range ops {
			if !slices.Contains([]string{"get", "put", "post", "patch", "delete"}, method) {
				continue
			}
			var op map[string]any
			if err := json.Unmarshal(body, &op); err != nil {
				t.Fatal(err)
			}
			id, _ := op["operationId"].(string)
			d.ops = append(d.ops, contractOp{id: id, method: strings.ToUpper(method), path: path,
				match: regexp.MustCompile(expr), spec: op})
		}
	}
	slices.SortFunc(d.ops, func(a, b contractOp) int { return strings.Compare(a.id, b.id) })
	return d
}

// find is the operation a request reaches: the one whose template matches
// the path, literal segments winning over parameters ("/accounts/me" over
// "/accounts/{id}").
func (d *contractDoc) find(method, path string) (contractOp, bool) {
	var best contractOp
	found := false
	for _, op := range d.ops {
		if op.method != method || !op.match.MatchString(path) {
			continue
		}
		if !found || strings.Count(op.path, "{") < strings.Count(best.path, "{") {
			best, found = op, true
		}
	}
	return best, found
}

// schema compiles (once) the schema at a JSON pointer into the document.
func (d *contractDoc) schema(t *testing.T, pointer []string) *jsonschema.Schema {
	t.Helper()
	var b strings.Builder
	for _, p := range pointer {
		b.WriteString("/")
		b.WriteString(url.PathEscape(strings.NewReplacer("~", "~0", "/", "~1").Replace(p)))
	}
	loc := contractDocURL + "#" + b.String()
	if s, ok := d.schemas[loc]; ok {
		return s
	}
	s, err := d.compiler.Compile(loc)
	if err != nil {
		t.Fatalf("compile %s: %v", loc, err)
	}
	d.schemas[loc] = s
	return s
}

// play sends the case's request and holds the answer to the contract.
func (d *contractDoc) play(t *testing.T, f *fixture, k contractCase) {
	t.Helper()
	where, _, _ := strings.Cut(k.path, "?")
	about := fmt.Sprintf("%s [%s] %s %s", k.op, k.name, k.method, k.path)
	op, ok := d.find(k.method, where)
	if !ok {
		t.Errorf("%s: no operation of the document matches", about)
		return
	}
	if op.id != k.op {
		t.Errorf("%s: reaches %s", about, op.id)
		return
	}
	r := contractSend(t, f, k)
	if r.Status != k.want {
		t.Errorf("%s: status %d, want %d: %s", about, r.Status, k.want, r.Body)
		return
	}
	switch {
	case r.Status < 300:
		d.accepted[op.id] = true
	case r.Status != http.StatusUnauthorized:
		d.refused[op.id] = true
	}
	responses, _ := op.spec["responses"].(map[string]any)
	status := fmt.Sprint(r.Status)
	declared, ok := responses[status].(map[string]any)
	if !ok {
		if declared, ok = responses["default"].(map[string]any); !ok {
			t.Errorf("%s: status %d is not declared by the operation", about, r.Status)
			return
		}
		status = "default"
	}
	content, _ := declared["content"].(map[string]any)
	if len(content) == 0 {
		if len(r.Body) != 0 {
			t.Errorf("%s: body %q where the document declares none", about, r.Body)
		}
		return
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s: content type %q: %v", about, r.Header.Get("Content-Type"), err)
		return
	}
	if _, ok := content[ct]; !ok {
		t.Errorf("%s: content type %s is not declared (%v)", about, ct, slices.Collect(maps.Keys(content)))
		return
	}
	if ct == "application/json" || strings.HasSuffix(ct, "+json") {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
		if err != nil {
			t.Errorf("%s: body is not JSON: %v: %s", about, err, r.Body)
			return
		}
		s := d.schema(t, []string{"paths", op.path, strings.ToLower(op.method), "responses", status, "content", ct, "schema"})
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s: body does not match the document: %v\n%s", about, err, r.Body)
		}
	}
	if r.Status >= 400 {
		p := r.Problem(t)
		if p.Title == "" || p.Detail == "" && r.Status != http.StatusUnauthorized {
			t.Errorf("%s: problem without a title or detail: %s", about, r.Body)
		}
		if k.field != "" && !slices.Contains(p.locations(), k.field) {
			t.Errorf("%s: field errors %v do not name %s: %s", about, p.locations(), k.field, r.Body)
		}
	}
	if k.check != nil {
		k.check(t, r)
	}
}

// contractSend sends the case's request.
func contractSend(t *testing.T, f *fixture, k contractCase) *response {
	t.Helper()
	if k.raw == "" {
		return f.call(t, k.who, k.method, k.path, k.body, k.header...)
	}
	return f.send(t, k.who, k.method, k.path, strings.NewReader(k.raw), k.header...)
}
