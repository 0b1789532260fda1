package rabbitvhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/marketplane/marketplane/connector"
)

// EnvRabbitMQ enables the tests that need the local RabbitMQ; CI sets it.
const EnvRabbitMQ = "MARKETPLANE_TEST_RABBITMQ"

// env is what a test gets from setup: a started connector on its own state
// file and name prefix, and the tool to look at RabbitMQ directly.
type env struct {
	svc *Service
	cfg Config
	ctl *rabbitmqctl
}

// needRabbitMQ skips the test unless EnvRabbitMQ is set, and fails it with
// what to do when RabbitMQ does not answer.
func needRabbitMQ(t *testing.T) {
	t.Helper()
	if os.Getenv(EnvRabbitMQ) == "" {
		t.Skipf("%s is not set: this test needs the local RabbitMQ (CI sets it; start one with `rabbitmq-server -detached`)", EnvRabbitMQ)
	}
	rabbitOnce.Do(func() {
		ctl := &rabbitmqctl{path: "rabbitmqctl", timeout: 30 * time.Second}
		_, rabbitErr = ctl.vhostExists(context.Background(), "/")
	})
	if rabbitErr != nil {
		t.Fatalf("%s is set but RabbitMQ does not answer (%v): start it with `rabbitmq-server -detached`, run as root (rabbitmqctl) with AMQP on 127.0.0.1:5672", EnvRabbitMQ, rabbitErr)
	}
}

var (
	rabbitOnce sync.Once
	rabbitErr  error
)

// setup returns a started connector on a fresh state file whose virtual
// hosts and users carry a prefix of their own; everything with that prefix
// is removed from RabbitMQ when the test ends, whatever happened.
func setup(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	e := setupStopped(t, tweak...)
	e.svc.Start()
	return e
}

// setupStopped is setup without starting the worker: for a test that sets
// the worker's step hook (Service.afterStep) first.
func setupStopped(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	needRabbitMQ(t)
	cfg := testConfig(t)
	for _, f := range tweak {
		f(&cfg)
	}
	e := &env{cfg: cfg, ctl: &rabbitmqctl{path: "rabbitmqctl", timeout: 30 * time.Second}}
	t.Cleanup(func() { sweep(t, e.ctl, cfg.NamePrefix) })
	e.svc = open(t, cfg)
	return e
}

// testConfig is a connector configuration with quick retries, a fresh state
// file and a random name prefix.
func testConfig(t *testing.T) Config {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	return Config{
		StatePath:    filepath.Join(t.TempDir(), "state.db"),
		NamePrefix:   "mpt" + hex.EncodeToString(b[:]) + "-",
		PollInterval: 50 * time.Millisecond,
		RetryBackoff: 100 * time.Millisecond,
		MaxAttempts:  3,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// open opens a connector (not started) closed at the end of the test.
func open(t *testing.T, cfg Config) *Service {
	t.Helper()
	svc, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { svc.Close() }) })
	return svc
}

// sweep deletes the virtual hosts and users a test created.
func sweep(t *testing.T, ctl *rabbitmqctl, prefix string) {
	ctx := context.Background()
	vhosts, err := ctl.vhostsWithPrefix(ctx, prefix)
	if err != nil {
		t.Errorf("cleanup: list vhosts: %v", err)
	}
	for _, v := range vhosts {
		if err := ctl.deleteVHost(ctx, v); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	users, err := ctl.usersWithPrefix(ctx, prefix)
	if err != nil {
		t.Errorf("cleanup: list users: %v", err)
	}
	for _, u := range users {
		if err := ctl.deleteUser(ctx, u); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// create creates a tenant and checks the immediate answer.
func (e *env) create(t *testing.T, req connector.CreateRequest) connector.Tenant {
	t.Helper()
	start := time.Now()
	tn, err := e.svc.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %s: %v", req.RequestID, err)
	}
	if tn.Status != connector.StatusProvisioning {
		t.Fatalf("create %s: status %q, want provisioning", req.RequestID, tn.Status)
	}
	// Create only records the request: no rabbitmqctl call in the request.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("create took %s; it should only record the request", d)
	}
	return tn
}

// ready creates a tenant and waits until the worker made it ready.
func (e *env) ready(t *testing.T, req connector.CreateRequest) connector.Tenant {
	t.Helper()
	tn := e.create(t, req)
	return waitStatus(t, e.svc, tn.ID, connector.StatusReady)
}

// waitStatus polls Get, as the platform does, until the tenant has status
// want; it fails on "failed" or after a minute.
func waitStatus(t *testing.T, svc *Service, id, want string) connector.Tenant {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		tn, err := svc.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if tn.Status == want {
			return tn
		}
		if tn.Status == connector.StatusFailed && want != connector.StatusFailed {
			t.Fatalf("tenant %s failed: %s", id, tn.Message)
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s: status %q (%s) after a minute, want %q", id, tn.Status, tn.Message, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vhosts lists the test's virtual hosts in RabbitMQ.
func (e *env) vhosts(t *testing.T) []string {
	t.Helper()
	v, err := e.ctl.vhostsWithPrefix(context.Background(), e.cfg.NamePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// users lists the test's users in RabbitMQ.
func (e *env) users(t *testing.T) []string {
	t.Helper()
	u, err := e.ctl.usersWithPrefix(context.Background(), e.cfg.NamePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dial connects to the tenant's virtual host as its user, with the address
// and credentials the tenant's attributes give the customer.
func dial(tn connector.Tenant) (*amqp.Connection, error) {
	return amqp.DialConfig(tn.Attributes["url"], amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
}

// mustDial dials and closes the connection at the end of the test.
func mustDial(t *testing.T, tn connector.Tenant) *amqp.Connection {
	t.Helper()
	conn, err := dial(tn)
	if err != nil {
		t.Fatalf("tenant %s: connect: %v", tn.ID, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// declare declares a durable queue on a new channel, so that a refusal
// (which closes the channel) does not spoil the next call.
func declare(conn *amqp.Connection, name string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	_, err = ch.QueueDeclare(name, true, false, false, false, nil)
	return err
}

// amqpCode is the AMQP reply code of err, or 0.
func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// eventually retries check until it returns nil or ten seconds pass:
// RabbitMQ's connection tracking and queue statistics trail by a moment.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stepLog records the worker's RabbitMQ steps for one service.
type stepLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *stepLog) add(step string) {
	l.mu.Lock()
	l.steps = append(l.steps, step)
	l.mu.Unlock()
}

func (l *stepLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.steps)
}
