package pgdbaas

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// envPG names the PostgreSQL server the tests manage, as storetest.EnvPG:
// a superuser URL. The tests create real roles and databases there, each
// test under its own state schema and with random tenant ids, and drop all
// of them at the end.
const envPG = "MARKETPLANE_TEST_PG"

// setup returns a Service on the test server with a state schema of its own,
// and the admin connection pool for checks. Every tenant the test leaves is
// deleted, and the schema dropped, when the test ends.
func setup(t *testing.T) (*Service, *sql.DB) {
	t.Helper()
	url := os.Getenv(envPG)
	if url == "" {
		t.Skipf("%s is not set: the pgdbaas tests need a real PostgreSQL server (CI sets it)", envPG)
	}
	ctx := context.Background()
	svc, err := New(ctx, Config{
		AdminURL:   url,
		Schema:     "pgdbaas_test_" + newTenantID(),
		Extensions: []string{"citext", "pgcrypto"},
		MaxConns:   3,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rows, err := svc.db.QueryContext(ctx, `SELECT id FROM `+svc.table+` WHERE status <> 'deleted'`)
		if err == nil {
			var ids []string
			for rows.Next() {
				var id string
				rows.Scan(&id)
				ids = append(ids, id)
			}
			rows.Close()
			for _, id := range ids {
				if _, err := svc.Delete(ctx, id); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		svc.db.ExecContext(ctx, `DROP SCHEMA `+pgx.Identifier{svc.schema}.Sanitize()+` CASCADE`)
		svc.Close()
	})
	return svc, svc.db
}

var requestSeq struct {
	sync.Mutex
	n int
}

// create makes a tenant with a fresh request id and checks that it is ready.
func create(t *testing.T, svc *Service, limits map[string]int64, params map[string]string) connector.Tenant {
	t.Helper()
	requestSeq.Lock()
	requestSeq.n++
	id := fmt.Sprintf("test-%s-%d", newTenantID(), requestSeq.n)
	requestSeq.Unlock()
	tn, err := svc.Create(context.Background(), connector.CreateRequest{
		RequestID: id, SubscriptionID: 42, AccountID: 7, Limits: limits, Parameters: params,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status != connector.StatusReady {
		t.Fatalf("created tenant is %s (%s), want ready", tn.Status, tn.Message)
	}
	return tn
}

// connect opens a session as the tenant, with the connection details the
// platform shows the customer.
func connect(t *testing.T, tn connector.Tenant) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(tn.Attributes["uri"] + "?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, nil
}

func mustConnect(t *testing.T, tn connector.Tenant) *pgx.Conn {
	t.Helper()
	conn, err := connect(t, tn)
	if err != nil {
		t.Fatalf("connect as %s: %v", tn.Attributes["user"], err)
	}
	return conn
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var small = map[string]int64{ResourceStorage: 50, ResourceConnections: 3}

func TestCreate(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	tn := create(t, svc, small, map[string]string{"extensions": "citext"})

	name := "t_" + tn.ID
	want := map[string]string{"host": "127.0.0.1", "port": "5432", "database": name, "user": name}
	for k, v := range want {
		if tn.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, tn.Attributes[k], v)
		}
	}
	if len(tn.Attributes["password"]) < 20 {
		t.Errorf("password %q is too short", tn.Attributes["password"])
	}
	if tn.Limits[ResourceStorage] != 50 || tn.Limits[ResourceConnections] != 3 ||
		tn.Parameters["locale"] != "C.utf8" || tn.Parameters["extensions"] != "citext" {
		t.Errorf("tenant = %+v", tn)
	}

	// The database and the role are real, with the limits in place.
	var owner, collate string
	var dbLimit int
	err := db.QueryRow(`SELECT pg_get_userbyid(datdba), datcollate, datconnlimit FROM pg_database WHERE datname = $1`, name).
		Scan(&owner, &collate, &dbLimit)
	if err != nil {
		t.Fatal(err)
	}
	if owner != name || collate != "C.utf8" || dbLimit != 3 {
		t.Errorf("database: owner %s, collate %s, connection limit %d", owner, collate, dbLimit)
	}
	var login, super, createdb, createrole bool
	var roleLimit int
	err = db.QueryRow(`SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = $1`, name).
		Scan(&login, &super, &createdb, &createrole, &roleLimit)
	if err != nil {
		t.Fatal(err)
	}
	if !login || super || createdb || createrole || roleLimit != 3 {
		t.Errorf("role: login %v super %v createdb %v createrole %v connection limit %d", login, super, createdb, createrole, roleLimit)
	}

	// The customer connects with the details it is given, owns the
	// database, and has the extension it asked for.
	conn := mustConnect(t, tn)
	for _, q := range []string{
		`CREATE TABLE customers (email citext PRIMARY KEY)`,
		`INSERT INTO customers VALUES ('Ann@Example.com')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM customers WHERE email = 'ann@example.com'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("citext lookup: %d rows, %v", n, err)
	}

	// The server holds a SCRAM verifier of exactly that password: the
	// local server trusts every connection, so check the verifier itself.
	var stored string
	if err := db.QueryRow(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	salt, iter := parseVerifier(t, stored)
	if got := scramVerifier(tn.Attributes["password"], salt, iter); got != stored {
		t.Errorf("stored verifier %s does not match the password (%s)", stored, got)
	}

	// Another tenant cannot reach this database: PUBLIC lost CONNECT.
	other := create(t, svc, small, nil)
	other.Attributes["uri"] = strings.Replace(other.Attributes["uri"], "/t_"+other.ID, "/"+name, 1)
	if _, err := connect(t, other); sqlState(err) != "42501" {
		t.Errorf("another tenant connecting to %s: %v, want permission denied (42501)", name, err)
	}

	// Get reports the same tenant.
	got, err := svc.Get(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != connector.StatusReady || got.Attributes["password"] != tn.Attributes["password"] || got.Message != "" {
		t.Errorf("Get = %+v", got)
	}
}

// TestScramVerifier checks our verifier against PostgreSQL's own: the server
// hashes a known password, and the verifier computed from the same salt and
// iterations must be the same string.
func TestScramVerifier(t *testing.T) {
	t.Parallel()
	_, db := setup(t)
	role := "pgdbaas_scram_" + newTenantID()
	password := "Correct-Horse-42"
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`SET password_encryption = 'scram-sha-256'`,
		`CREATE ROLE ` + role + ` PASSWORD '` + password + `'`,
	} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	defer db.Exec(`DROP ROLE ` + role)
	var stored string
	if err := db.QueryRow(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	salt, iter := parseVerifier(t, stored)
	if got := scramVerifier(password, salt, iter); got != stored {
		t.Errorf("verifier = %s, PostgreSQL stores %s", got, stored)
	}
}

// parseVerifier returns the salt and iterations of a SCRAM-SHA-256 verifier.
func parseVerifier(t *testing.T, v string) ([]byte, int) {
	t.Helper()
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		t.Fatalf("%q is not a SCRAM-SHA-256 verifier", v)
	}
	params, _, _ := strings.Cut(rest, "$")
	iters, saltB64, _ := strings.Cut(params, ":")
	iter, err := strconv.Atoi(iters)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		t.Fatal(err)
	}
	return salt, iter
}

func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "sub-1-create-" + newTenantID(), SubscriptionID: 1, AccountID: 1, Limits: small}
	first, err := svc.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// A retry, even with other limits, gets the first tenant.
	retry := req
	retry.Limits = map[string]int64{ResourceStorage: 999, ResourceConnections: 9}
	again, err := svc.Create(ctx, retry)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Attributes["password"] != first.Attributes["password"] || again.Limits[ResourceStorage] != 50 {
		t.Errorf("retry = %+v, want the first tenant %+v", again, first)
	}

	// So does a connector restarted on the same state.
	restarted, err := New(ctx, Config{AdminURL: os.Getenv(envPG), Schema: svc.schema, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	after, err := restarted.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != first.ID {
		t.Errorf("after restart: tenant %s, want %s", after.ID, first.ID)
	}

	// Concurrent first calls with one request id, through two connector
	// processes, make one tenant.
	req.RequestID = "sub-2-create-" + newTenantID()
	ids := make([]string, 6)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := svc
			if i%2 == 1 {
				s = restarted
			}
			tn, err := s.Create(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = tn.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creates made tenants %v", ids)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM `+svc.table+``); n != 2 {
		t.Errorf("%d tenants recorded, want 2", n)
	}
	for _, id := range []string{first.ID, ids[0]} {
		if n := count(t, db, `SELECT count(*) FROM pg_database WHERE datname = $1`, "t_"+id); n != 1 {
			t.Errorf("%d databases t_%s, want 1", n, id)
		}
	}
}

// TestCreateFinishesInterruptedWork plays a connector that died between
// steps: the role exists but the database does not, and the tenant is still
// provisioning. The retried Create finishes it with the same name and
// password.
func TestCreateFinishesInterruptedWork(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "interrupted-" + newTenantID(), Limits: small}
	tn, err := svc.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	name := "t_" + tn.ID
	for _, q := range []string{
		`DROP DATABASE ` + name,
		`UPDATE ` + svc.table + ` SET status = 'provisioning' WHERE id = '` + tn.ID + `'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := svc.Get(ctx, tn.ID); err != nil || got.Status != connector.StatusProvisioning || got.Attributes != nil {
		t.Fatalf("Get of an unfinished tenant = %+v, %v", got, err)
	}
	again, err := svc.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != tn.ID || again.Status != connector.StatusReady || again.Attributes["password"] != tn.Attributes["password"] {
		t.Fatalf("retry = %+v", again)
	}
	if _, err := mustConnect(t, again).Exec(ctx, `CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); n != 1 {
		t.Errorf("%d databases, want 1", n)
	}
}

func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	tn := create(t, svc, map[string]int64{ResourceStorage: 50, ResourceConnections: 2}, nil)
	mustConnect(t, tn)
	mustConnect(t, tn)
	if _, err := connect(t, tn); sqlState(err) != "53300" {
		t.Fatalf("third connection: %v, want too many connections (53300)", err)
	}

	// Usage counts the open sessions.
	readings, err := svc.Usage(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := reading(t, readings, ResourceConnections); got.Value.Cmp(connector.Units(2)) != 0 || got.Additive {
		t.Errorf("connections reading = %+v, want gauge 2", got)
	}

	// A higher limit lets the third in.
	up, err := svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "up", Limits: map[string]int64{ResourceConnections: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Limits[ResourceConnections] != 3 || up.Limits[ResourceStorage] != 50 {
		t.Errorf("updated limits = %v", up.Limits)
	}
	mustConnect(t, tn)
	name := "t_" + tn.ID
	if n := count(t, db, `SELECT datconnlimit FROM pg_database WHERE datname = $1`, name); n != 3 {
		t.Errorf("database connection limit %d, want 3", n)
	}
	if n := count(t, db, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name); n != 3 {
		t.Errorf("role connection limit %d, want 3", n)
	}

	// Unlimited is PostgreSQL's -1.
	if _, err := svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "unlimited", Limits: map[string]int64{ResourceConnections: -1}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT datconnlimit FROM pg_database WHERE datname = $1`, name); n != -1 {
		t.Errorf("database connection limit %d, want -1", n)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	ctx := context.Background()
	tn := create(t, svc, small, map[string]string{"extensions": "citext"})

	// An extension added later is installed.
	up, err := svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "ext", Parameters: map[string]string{"extensions": "citext,pgcrypto"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Parameters["extensions"] != "citext,pgcrypto" {
		t.Errorf("extensions = %q", up.Parameters["extensions"])
	}
	var n int
	if err := mustConnect(t, tn).QueryRow(ctx, `SELECT length(gen_random_bytes(8))`).Scan(&n); err != nil || n != 8 {
		t.Errorf("pgcrypto: %d, %v", n, err)
	}

	// Refused changes leave no trace.
	for _, req := range []connector.UpdateRequest{
		{RequestID: "locale", Parameters: map[string]string{"locale": "C"}},
		{RequestID: "remove", Parameters: map[string]string{"extensions": "pgcrypto"}},
		{RequestID: "zero", Limits: map[string]int64{ResourceConnections: 0}},
	} {
		_, err := svc.Update(ctx, tn.ID, req)
		if marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("update %s: %v, want invalid", req.RequestID, err)
		}
	}
	got, err := svc.Get(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Message != "" || got.Parameters["locale"] != "C.utf8" || got.Limits[ResourceConnections] != 3 {
		t.Errorf("after refused updates: %+v", got)
	}
	if _, err := svc.Update(ctx, "0123456789abcdef", connector.UpdateRequest{RequestID: "x"}); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("update of an unknown tenant: %v", err)
	}
}

func TestSuspendResume(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	ctx := context.Background()
	tn := create(t, svc, small, nil)
	open := mustConnect(t, tn)

	for range 2 { // twice: suspending a suspended tenant is fine
		got, err := svc.Suspend(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != connector.StatusSuspended {
			t.Fatalf("status %s, want suspended", got.Status)
		}
	}
	if _, err := open.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("a session open before the suspension still works")
	}
	if _, err := connect(t, tn); err == nil {
		t.Fatal("a suspended tenant can connect")
	}
	if got, _ := svc.Get(ctx, tn.ID); got.Status != connector.StatusSuspended {
		t.Errorf("Get: status %s", got.Status)
	}

	for range 2 {
		got, err := svc.Resume(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != connector.StatusReady {
			t.Fatalf("status %s, want ready", got.Status)
		}
	}
	if _, err := mustConnect(t, tn).Exec(ctx, `CREATE TABLE back (id int)`); err != nil {
		t.Fatal(err)
	}
}

func TestStorageLimit(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	// An empty database takes about 7.5 MB.
	tn := create(t, svc, map[string]int64{ResourceStorage: 10, ResourceConnections: 5}, nil)
	name := "t_" + tn.ID
	conn := mustConnect(t, tn)
	for _, q := range []string{
		`CREATE TABLE filler (id int, pad text)`,
		// Incompressible random text, 4 MB and more on disk.
		`INSERT INTO filler SELECT i, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 16))
			FROM generate_series(1, 8000) i`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// Usage reports the size, rounded up to MB, and trips the guard.
	readings, err := svc.Usage(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := db.QueryRow(`SELECT pg_database_size($1)`, name).Scan(&size); err != nil {
		t.Fatal(err)
	}
	storage := reading(t, readings, ResourceStorage)
	if storage.Value.Cmp(connector.Units((size+mb-1)/mb)) != 0 || storage.Additive || storage.Value.Cmp(connector.Units(10)) <= 0 {
		t.Fatalf("storage reading = %+v for %d bytes, want a gauge of %d MB > 10", storage, size, (size+mb-1)/mb)
	}
	got, err := svc.Get(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != connector.StatusReady || !strings.Contains(got.Message, "read-only") {
		t.Errorf("over the limit: status %s, message %q", got.Status, got.Message)
	}
	if _, err := conn.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("the session open when the guard tripped survived")
	}
	if _, err := mustConnect(t, tn).Exec(ctx, `INSERT INTO filler VALUES (0, 'more')`); sqlState(err) != "25006" {
		t.Fatalf("write over the limit: %v, want read-only transaction (25006)", err)
	}

	// A higher limit lifts the guard.
	up, err := svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "more", Limits: map[string]int64{ResourceStorage: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Message != "" {
		t.Errorf("message after raising the limit: %q", up.Message)
	}
	if _, err := mustConnect(t, tn).Exec(ctx, `INSERT INTO filler VALUES (0, 'more')`); err != nil {
		t.Fatalf("write under the limit: %v", err)
	}

	// The periodic check trips it without a call from the platform.
	if _, err := db.Exec(`UPDATE `+svc.table+` SET storage_mb = 10 WHERE id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckStorage(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
		WHERE d.datname = $1 AND 'default_transaction_read_only=on' = ANY(s.setconfig)`, name); n != 1 {
		t.Errorf("after CheckStorage: %d read-only settings, want 1", n)
	}
	if _, err := mustConnect(t, tn).Exec(ctx, `INSERT INTO filler VALUES (0, 'more')`); sqlState(err) != "25006" {
		t.Fatalf("write after CheckStorage: %v, want read-only transaction (25006)", err)
	}

	// Unlimited storage never trips it.
	if _, err := svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "unlimited", Limits: map[string]int64{ResourceStorage: -1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mustConnect(t, tn).Exec(ctx, `INSERT INTO filler VALUES (0, 'more')`); err != nil {
		t.Fatalf("write with unlimited storage: %v", err)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "del-" + newTenantID(), Limits: small}
	tn, err := svc.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	name := "t_" + tn.ID
	mustConnect(t, tn) // an open session does not stop the deletion

	for range 2 { // twice: deleting a deleted tenant is fine
		got, err := svc.Delete(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != connector.StatusDeleted || got.Attributes != nil {
			t.Fatalf("Delete = %+v", got)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); n != 0 {
		t.Error("the database is still there")
	}
	if n := count(t, db, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, name); n != 0 {
		t.Error("the role is still there")
	}
	if n := count(t, db, `SELECT count(*) FROM `+svc.table+` WHERE id = $1 AND password = ''`, tn.ID); n != 1 {
		t.Error("the password was kept after the deletion")
	}

	got, err := svc.Get(ctx, tn.ID)
	if err != nil || got.Status != connector.StatusDeleted {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if readings, err := svc.Usage(ctx, tn.ID); err != nil || len(readings) != 0 {
		t.Errorf("Usage = %v, %v; want none", readings, err)
	}
	for op, call := range map[string]func(context.Context, string) (connector.Tenant, error){
		"suspend": svc.Suspend, "resume": svc.Resume,
	} {
		if _, err := call(ctx, tn.ID); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
			t.Errorf("%s of a deleted tenant: %v, want conflict", op, err)
		}
	}
	// A late retry of the original Create does not bring it back.
	again, err := svc.Create(ctx, req)
	if err != nil || again.ID != tn.ID || again.Status != connector.StatusDeleted {
		t.Errorf("Create retried after Delete = %+v, %v", again, err)
	}
	if n := count(t, db, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); n != 0 {
		t.Error("the retried Create made the database again")
	}
}

// TestDeleteFinishesInterruptedWork plays a connector that died after
// dropping the database but before dropping the role.
func TestDeleteFinishesInterruptedWork(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	tn := create(t, svc, small, nil)
	name := "t_" + tn.ID
	for _, q := range []string{
		`DROP DATABASE ` + name,
		`UPDATE ` + svc.table + ` SET status = 'deleting' WHERE id = '` + tn.ID + `'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := svc.Get(ctx, tn.ID); err != nil || got.Status != connector.StatusDeleting {
		t.Fatalf("Get = %+v, %v; want deleting", got, err)
	}
	if _, err := svc.Resume(ctx, tn.ID); marketplane.ErrorCode(err) != marketplane.ECONFLICT {
		t.Errorf("resume of a tenant being deleted: %v, want conflict", err)
	}
	got, err := svc.Delete(ctx, tn.ID)
	if err != nil || got.Status != connector.StatusDeleted {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
	if n := count(t, db, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, name); n != 0 {
		t.Error("the role is still there")
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	ctx := context.Background()
	for _, id := range []string{"0123456789abcdef", "nope", `x'; DROP TABLE x; --`, ""} {
		if _, err := svc.Get(ctx, id); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := svc.Delete(ctx, id); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("Delete(%q): %v", id, err)
		}
		if _, err := svc.Usage(ctx, id); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("Usage(%q): %v", id, err)
		}
	}
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	svc, db := setup(t)
	ctx := context.Background()
	for _, req := range []connector.CreateRequest{
		{RequestID: "", Limits: small},
		{RequestID: "a", Limits: map[string]int64{ResourceStorage: 10}},
		{RequestID: "b", Limits: small, Parameters: map[string]string{"locale": "xx_XX"}},
		{RequestID: "c", Limits: small, Parameters: map[string]string{"extensions": "plpython3u"}},
		{RequestID: "d", Limits: small, Parameters: map[string]string{"owner": "postgres"}},
	} {
		_, err := svc.Create(ctx, req)
		if marketplane.ErrorCode(err) != marketplane.EINVALID {
			t.Errorf("create %+v: %v, want invalid", req, err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM `+svc.table); n != 0 {
		t.Errorf("%d tenants recorded for invalid requests", n)
	}
}

func TestNewChecksTheServer(t *testing.T) {
	t.Parallel()
	url := os.Getenv(envPG)
	if url == "" {
		t.Skipf("%s is not set", envPG)
	}
	ctx := context.Background()
	for name, cfg := range map[string]Config{
		"no URL":            {},
		"bad schema":        {AdminURL: url, Schema: `x"; DROP`},
		"unknown locale":    {AdminURL: url, Schema: "pgdbaas_never", Locales: []string{"xx_XX.utf8"}},
		"missing extension": {AdminURL: url, Schema: "pgdbaas_never", Extensions: []string{"no_such_extension"}},
	} {
		if svc, err := New(ctx, cfg); err == nil {
			svc.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func reading(t *testing.T, readings []connector.UsageReading, resource string) connector.UsageReading {
	t.Helper()
	for _, r := range readings {
		if r.Resource == resource {
			if r.At.IsZero() {
				t.Errorf("reading %s has no time", resource)
			}
			return r
		}
	}
	t.Fatalf("no %s reading in %+v", resource, readings)
	return connector.UsageReading{}
}
