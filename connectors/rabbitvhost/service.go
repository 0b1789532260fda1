// Package rabbitvhost is a Marketplane connector that sells RabbitMQ virtual
// hosts: each tenant is a real virtual host with its own user, limited in
// connections and queues (rabbitmqctl set_vhost_limits), reporting its queue
// count and the messages ready in them.
//
// It is the asynchronous connector: Create records the request in the
// connector's own SQLite state file and answers "provisioning" at once; a
// worker makes RabbitMQ match the recorded state with rabbitmqctl and sets
// "ready" (or "failed" with a message); the platform polls Get. Every step
// checks before it acts, so a worker that dies half way and starts again on
// the same state file finishes the tenant exactly once.
//
// Changes to a tenant that exists (limits, suspend, resume) are applied at
// once and answered when done; deletion is asynchronous like creation.
package rabbitvhost

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// Config configures the connector. Zero values take the documented
// defaults.
type Config struct {
	// StatePath is the SQLite state file (required). It holds the tenant
	// users' passwords: keep it private. One process owns it at a time.
	StatePath string
	// Rabbitmqctl is the path of the rabbitmqctl tool (default "rabbitmqctl").
	Rabbitmqctl string
	// Node is the RabbitMQ node rabbitmqctl talks to (default: its own default).
	Node string
	// CommandTimeout bounds each rabbitmqctl call (default 30s).
	CommandTimeout time.Duration
	// AMQPHost and AMQPPort are the broker address shown to customers
	// (default 127.0.0.1:5672).
	AMQPHost string
	AMQPPort int
	// NamePrefix starts the name of every virtual host and user the
	// connector creates (default "mp-"); the rest is the tenant id.
	NamePrefix string
	// Workers is how many tenants the worker provisions at once (default 4).
	Workers int
	// PollInterval is how often the worker looks for due retries (default 1s);
	// new work wakes it at once.
	PollInterval time.Duration
	// MaxAttempts is how many failed attempts make a creation or deletion
	// "failed" (default 5).
	MaxAttempts int
	// RetryBackoff is the wait after the first failed attempt; it doubles
	// with each attempt up to a minute (default 2s).
	RetryBackoff time.Duration
	// Clock gives the time of records and readings (default the wall clock).
	Clock marketplane.Clock
	// Logger receives the worker's reports (default slog.Default()).
	Logger *slog.Logger
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)

func (c *Config) setDefaults() error {
	if c.StatePath == "" {
		return errors.New("rabbitvhost: the state file path is required")
	}
	if c.Rabbitmqctl == "" {
		c.Rabbitmqctl = "rabbitmqctl"
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 30 * time.Second
	}
	if c.AMQPHost == "" {
		c.AMQPHost = "127.0.0.1"
	}
	if c.AMQPPort == 0 {
		c.AMQPPort = 5672
	}
	if c.NamePrefix == "" {
		c.NamePrefix = "mp-"
	}
	if !prefixRE.MatchString(c.NamePrefix) {
		return fmt.Errorf("rabbitvhost: name prefix %q must match %s", c.NamePrefix, prefixRE)
	}
	if c.Node != "" && !safeArg.MatchString(c.Node) {
		return fmt.Errorf("rabbitvhost: node name %q has unexpected characters", c.Node)
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = marketplane.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Service is the connector: a connector.Service over RabbitMQ and its state
// file, with the worker that provisions in the background.
type Service struct {
	cfg   Config
	state *state
	ctl   *rabbitmqctl
	locks tenantLocks

	// The worker.
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wake     chan struct{}
	slots    chan struct{}
	mu       sync.Mutex
	inflight map[string]bool
	started  bool

	// afterStep, when set (tests), runs after each RabbitMQ step the worker
	// completes, with the worker's context.
	afterStep func(ctx context.Context, tenantID, step string)
}

var _ connector.Service = (*Service)(nil)

// Open opens (creating if needed) the state file and returns the connector.
// Call Start to run the worker and Close when done.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	st, err := openState(ctx, cfg.StatePath)
	if err != nil {
		return nil, fmt.Errorf("rabbitvhost: %w", err)
	}
	s := &Service{
		cfg:      cfg,
		state:    st,
		ctl:      &rabbitmqctl{path: cfg.Rabbitmqctl, node: cfg.Node, timeout: cfg.CommandTimeout},
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.Workers),
		inflight: map[string]bool{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start runs the worker. It first takes up whatever the state file says is
// unfinished, so provisioning interrupted by a crash resumes here.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.wg.Add(1)
	go s.run()
}

// Close stops the worker, abandoning steps in progress (they are redone on
// the next start), and closes the state file.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.state.close()
}

// tenantIDRE is the form of the ids the connector issues. An id from a URL
// that does not match is not found without touching the store.
var tenantIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// newTenantID returns a random tenant id: 16 hex digits.
func newTenantID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// newPassword returns a random password of 32 URL-safe characters.
func newPassword() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// name is the virtual host and the user name of a tenant (the same string;
// RabbitMQ keeps the two apart). It depends on the tenant id alone.
func (s *Service) name(id string) string { return s.cfg.NamePrefix + id }

// Create records a new tenant and returns it as "provisioning"; the worker
// creates it in RabbitMQ. A repeated request id returns the tenant it
// created (and retries it if it failed). Errors: connector.Invalid for bad
// limits, parameters or request id; ECONFLICT for a request id reused for a
// different request.
func (s *Service) Create(ctx context.Context, req connector.CreateRequest) (connector.Tenant, error) {
	m := s.Manifest()
	if err := validate(m, m.ValidateCreate(req), req.Limits); err != nil {
		return connector.Tenant{}, err
	}
	id, err := newTenantID()
	if err != nil {
		return connector.Tenant{}, err
	}
	password, err := newPassword()
	if err != nil {
		return connector.Tenant{}, err
	}
	now := s.cfg.Clock.Now()
	params := cleanParams(req.Parameters)
	conns, queues := resolveLimits(req.Limits)
	r, err := s.state.create(ctx, tenantRow{
		ID: id, RequestID: req.RequestID, SubscriptionID: req.SubscriptionID, AccountID: req.AccountID,
		Status: connector.StatusProvisioning, Connections: conns, Queues: queues,
		QueueType: params[ParamQueueType], Description: params[ParamDescription], Password: password,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, errConflict) {
		return connector.Tenant{}, marketplane.Errorf(marketplane.ECONFLICT, "request id %q was already used for a different request", req.RequestID)
	}
	if err != nil {
		return connector.Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	s.signal()
	return s.tenant(r), nil
}

// Get returns the tenant, or connector.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (connector.Tenant, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(r), nil
}

func (s *Service) load(ctx context.Context, id string) (tenantRow, error) {
	if !tenantIDRE.MatchString(id) {
		return tenantRow{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	return s.state.get(ctx, id)
}

// Update changes the tenant's limits; limits left out keep their value.
// Parameters are fixed at creation: repeating them is fine, changing them
// is invalid. On a running tenant the change is applied before Update
// returns; during provisioning the worker applies it. Errors:
// connector.ErrNotFound, connector.Invalid, or EUNAVAILABLE when RabbitMQ
// failed (the change stays recorded and the worker keeps trying).
func (s *Service) Update(ctx context.Context, id string, req connector.UpdateRequest) (connector.Tenant, error) {
	m := s.Manifest()
	if err := validate(m, m.ValidateUpdate(req), req.Limits); err != nil {
		return connector.Tenant{}, err
	}
	if !tenantIDRE.MatchString(id) {
		return connector.Tenant{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	r, err := s.state.change(ctx, id, s.cfg.Clock.Now(), func(r *tenantRow) error {
		f := map[string]string{}
		fixed := map[string]string{ParamQueueType: r.QueueType, ParamDescription: r.Description}
		for k, v := range req.Parameters {
			if v != fixed[k] {
				f["parameters."+k] = "cannot be changed after creation"
			}
		}
		if len(f) > 0 {
			return connector.Invalid(f)
		}
		if r.Deleted {
			return errGone
		}
		if v, ok := req.Limits[ResourceConnections]; ok {
			r.Connections = v
		}
		if v, ok := req.Limits[ResourceQueues]; ok {
			r.Queues = v
		}
		if req.RequestID != "" {
			r.LastRequestID = req.RequestID
		}
		return nil
	})
	return s.applyNow(ctx, id, r, err)
}

// errGone stops a change to a deleted tenant; the caller gets the tenant as
// it is, whose status says why nothing happened.
var errGone = errors.New("tenant is deleted")

// Suspend takes the user's permissions away and closes its connections;
// queues and messages stay. Idempotent. Errors as Update.
func (s *Service) Suspend(ctx context.Context, id string) (connector.Tenant, error) {
	return s.setSuspended(ctx, id, true)
}

// Resume gives the user its permissions back. Idempotent. Errors as Update.
func (s *Service) Resume(ctx context.Context, id string) (connector.Tenant, error) {
	return s.setSuspended(ctx, id, false)
}

func (s *Service) setSuspended(ctx context.Context, id string, suspended bool) (connector.Tenant, error) {
	if !tenantIDRE.MatchString(id) {
		return connector.Tenant{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	r, err := s.state.change(ctx, id, s.cfg.Clock.Now(), func(r *tenantRow) error {
		if r.Deleted {
			return errGone
		}
		r.Suspended = suspended
		return nil
	})
	return s.applyNow(ctx, id, r, err)
}

// applyNow finishes Update, Suspend and Resume: a running tenant gets the
// recorded change at once; a tenant still provisioning (or failed) keeps it
// for the worker.
func (s *Service) applyNow(ctx context.Context, id string, r tenantRow, err error) (connector.Tenant, error) {
	if errors.Is(err, errGone) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return connector.Tenant{}, err
	}
	if r.Status != connector.StatusReady && r.Status != connector.StatusSuspended {
		return s.tenant(r), nil
	}
	if err := s.reconcile(ctx, id); err != nil {
		// The change is recorded and the worker retries it after its
		// backoff; the platform may retry too (503).
		s.signal()
		return connector.Tenant{}, &marketplane.Error{Code: marketplane.EUNAVAILABLE,
			Message: fmt.Sprintf("tenant %s: change recorded but not applied yet: %v", id, err)}
	}
	return s.Get(ctx, id)
}

// Delete marks the tenant for deletion and returns it as "deleting"; the
// worker deletes the virtual host (with its queues and connections) and the
// user, then the status is "deleted". Deleting again returns the same.
// Errors: connector.ErrNotFound.
func (s *Service) Delete(ctx context.Context, id string) (connector.Tenant, error) {
	if !tenantIDRE.MatchString(id) {
		return connector.Tenant{}, fmt.Errorf("tenant %q: %w", id, connector.ErrNotFound)
	}
	now := s.cfg.Clock.Now()
	r, err := s.state.change(ctx, id, now, func(r *tenantRow) error {
		if r.Status == connector.StatusDeleted || r.Status == connector.StatusDeleting {
			return nil
		}
		// A delete also ends a failed tenant: whatever part of it exists
		// is removed.
		r.Deleted, r.Status, r.Message, r.Attempts, r.NextAttemptAt = true, connector.StatusDeleting, "", 0, now
		return nil
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	s.signal()
	return s.tenant(r), nil
}

// Usage reads the tenant's queue count and messages ready from RabbitMQ, as
// current values (gauges). A tenant that is not provisioned, or deleted,
// has no readings. Errors: connector.ErrNotFound, or the RabbitMQ failure.
func (s *Service) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Applied == nil || r.Deleted {
		return nil, nil
	}
	queues, ready, err := s.ctl.queueUsage(ctx, s.name(r.ID))
	if err != nil {
		return nil, fmt.Errorf("tenant %s usage: %w", id, err)
	}
	at := s.cfg.Clock.Now()
	return []connector.UsageReading{
		{Resource: ResourceQueues, Value: connector.Units(queues), At: at},
		{Resource: ResourceMessagesReady, Value: connector.Units(ready), At: at},
	}, nil
}

// tenant is the protocol's view of a stored tenant. Its attributes are what
// a customer needs to connect.
func (s *Service) tenant(r tenantRow) connector.Tenant {
	t := connector.Tenant{
		ID:         r.ID,
		Status:     r.Status,
		Message:    r.Message,
		Limits:     map[string]int64{ResourceConnections: r.Connections, ResourceQueues: r.Queues},
		Parameters: cleanParams(map[string]string{ParamQueueType: r.QueueType, ParamDescription: r.Description}),
	}
	if r.Status == connector.StatusDeleted {
		return t
	}
	name := s.name(r.ID)
	hostPort := net.JoinHostPort(s.cfg.AMQPHost, strconv.Itoa(s.cfg.AMQPPort))
	u := url.URL{Scheme: "amqp", User: url.UserPassword(name, r.Password), Host: hostPort, Path: "/" + name}
	t.Attributes = map[string]string{
		"host":     s.cfg.AMQPHost,
		"port":     strconv.Itoa(s.cfg.AMQPPort),
		"vhost":    name,
		"username": name,
		"password": r.Password,
		"url":      u.String(),
	}
	return t
}

// tenantLocks serializes the work on one tenant between the worker and
// the requests that apply changes at once.
type tenantLocks struct {
	mu sync.Mutex
	m  map[string]*tenantLock
}

type tenantLock struct {
	mu    sync.Mutex
	users int
}

// lock locks the tenant and returns the unlock function.
func (l *tenantLocks) lock(id string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*tenantLock{}
	}
	e := l.m[id]
	if e == nil {
		e = &tenantLock{}
		l.m[id] = e
	}
	e.users++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}
