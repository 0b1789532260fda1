// Package connectortest holds an in-memory connector.Service for tests of
// the platform's provisioning and of the SDK: a stand-in for a vendor's
// system that can be made slow (asynchronous), failing or broken on demand.
package connectortest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/marketplane/marketplane/connector"
)

// Manifest is a small manifest for tests: limits storage_mb and connections,
// a counter requests, a boolean backups, parameters db_name (required,
// pattern) and region (enum).
func Manifest() connector.Manifest {
	return connector.Manifest{
		Name:        "memory",
		Version:     "1.0.0",
		Description: "An in-memory service for tests.",
		Resources: []connector.ResourceSpec{
			{Key: "storage_mb", Name: map[string]string{"en": "Storage"}, Unit: "MB", Class: connector.ClassLimit},
			{Key: "connections", Name: map[string]string{"en": "Connections"}, Unit: "connection", Class: connector.ClassLimit},
			{Key: "requests", Name: map[string]string{"en": "Requests"}, Unit: "request", Class: connector.ClassCounter},
			{Key: "backups", Name: map[string]string{"en": "Backups"}, Unit: "feature", Class: connector.ClassBoolean},
		},
		Parameters: []connector.ParamSpec{
			{Key: "db_name", Type: connector.ParamString, Required: true, Pattern: `[a-z][a-z0-9_]{0,30}`, Description: "Database name"},
			{Key: "region", Type: connector.ParamEnum, Choices: []string{"eu", "us"}, Description: "Region"},
		},
	}
}

// Memory is an in-memory connector.Service, idempotent on request ids like a
// real one. Set its fields before serving it. Safe for concurrent use.
type Memory struct {
	// Steps is how many Gets a tenant stays provisioning (or deleting)
	// after a Create, Update or Delete: 0 answers at once (synchronous),
	// -1 never finishes.
	Steps int
	// FailWith, when set, makes every Create end in StatusFailed with this
	// message (after Steps).
	FailWith string
	// Hook, when set, runs before every operation ("create", "get",
	// "update", "suspend", "resume", "delete", "usage"; id is the request
	// id for create); a non-nil error is returned instead of the operation.
	Hook func(op, id string) error
	// Spec is the manifest; Manifest() when nil.
	Spec *connector.Manifest

	mu        sync.Mutex
	next      int
	tenants   map[string]*tenant
	byRequest map[string]string // request id → tenant id
	calls     map[string]int
}

type tenant struct {
	connector.Tenant
	left    int    // Gets left before the pending status settles; -1 never
	settle  string // the status it settles in
	message string // its message when it settles failed
	usage   []connector.UsageReading
}

// Manifest implements connector.Service.
func (m *Memory) Manifest() connector.Manifest {
	if m.Spec != nil {
		return *m.Spec
	}
	return Manifest()
}

func (m *Memory) begin(op, id string) error {
	m.mu.Lock()
	if m.calls == nil {
		m.calls = map[string]int{}
		m.tenants = map[string]*tenant{}
		m.byRequest = map[string]string{}
	}
	m.calls[op]++
	hook := m.Hook
	m.mu.Unlock()
	if hook != nil {
		return hook(op, id)
	}
	return nil
}

// Create implements connector.Service: one tenant per request id.
func (m *Memory) Create(ctx context.Context, req connector.CreateRequest) (connector.Tenant, error) {
	if err := m.begin("create", req.RequestID); err != nil {
		return connector.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.byRequest[req.RequestID]; ok {
		return m.tenants[id].snapshot(), nil
	}
	m.next++
	t := &tenant{Tenant: connector.Tenant{
		ID:         fmt.Sprintf("t-%d", m.next),
		Limits:     maps.Clone(req.Limits),
		Parameters: maps.Clone(req.Parameters),
		Attributes: map[string]string{"host": "memory.test", "subscription": fmt.Sprint(req.SubscriptionID)},
	}}
	settle := connector.StatusReady
	if m.FailWith != "" {
		settle = connector.StatusFailed
	}
	t.start(connector.StatusProvisioning, settle, m.FailWith, m.Steps)
	m.tenants[t.ID] = t
	m.byRequest[req.RequestID] = t.ID
	return t.snapshot(), nil
}

// Get implements connector.Service; each Get moves a pending tenant one
// step on.
func (m *Memory) Get(ctx context.Context, id string) (connector.Tenant, error) {
	if err := m.begin("get", id); err != nil {
		return connector.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return connector.Tenant{}, connector.ErrNotFound
	}
	if t.left > 0 {
		t.left--
		if t.left == 0 {
			t.Status, t.Message = t.settle, t.message
		}
	}
	return t.snapshot(), nil
}

// Update implements connector.Service.
func (m *Memory) Update(ctx context.Context, id string, req connector.UpdateRequest) (connector.Tenant, error) {
	return m.change("update", id, func(t *tenant) {
		if t.Limits == nil {
			t.Limits = map[string]int64{}
		}
		if t.Parameters == nil {
			t.Parameters = map[string]string{}
		}
		maps.Copy(t.Limits, req.Limits)
		maps.Copy(t.Parameters, req.Parameters)
		t.start(connector.StatusProvisioning, connector.StatusReady, "", m.Steps)
	})
}

// Suspend implements connector.Service.
func (m *Memory) Suspend(ctx context.Context, id string) (connector.Tenant, error) {
	return m.change("suspend", id, func(t *tenant) { t.Status = connector.StatusSuspended })
}

// Resume implements connector.Service.
func (m *Memory) Resume(ctx context.Context, id string) (connector.Tenant, error) {
	return m.change("resume", id, func(t *tenant) { t.Status = connector.StatusReady })
}

// Delete implements connector.Service.
func (m *Memory) Delete(ctx context.Context, id string) (connector.Tenant, error) {
	return m.change("delete", id, func(t *tenant) {
		if t.Status != connector.StatusDeleted {
			t.start(connector.StatusDeleting, connector.StatusDeleted, "", m.Steps)
		}
	})
}

func (m *Memory) change(op, id string, f func(*tenant)) (connector.Tenant, error) {
	if err := m.begin(op, id); err != nil {
		return connector.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return connector.Tenant{}, connector.ErrNotFound
	}
	f(t)
	return t.snapshot(), nil
}

// Usage implements connector.Service: the readings set with SetUsage.
func (m *Memory) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	if err := m.begin("usage", id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return nil, connector.ErrNotFound
	}
	return slices.Clone(t.usage), nil
}

// SetUsage sets the readings Usage returns for tenant id.
func (m *Memory) SetUsage(id string, readings []connector.UsageReading) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tenants[id]; ok {
		t.usage = slices.Clone(readings)
	}
}

// Tenants returns every tenant ever created, by id.
func (m *Memory) Tenants() map[string]connector.Tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]connector.Tenant, len(m.tenants))
	for id, t := range m.tenants {
		out[id] = t.snapshot()
	}
	return out
}

// Calls returns how many times operation op ("create", "get" …) was called.
func (m *Memory) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// start puts t in a pending status that settles after steps Gets.
func (t *tenant) start(pending, settle, message string, steps int) {
	t.settle, t.message, t.left = settle, message, steps
	if steps == 0 {
		t.Status, t.Message = settle, message
		return
	}
	t.Status, t.Message = pending, ""
}

func (t *tenant) snapshot() connector.Tenant {
	c := t.Tenant
	c.Limits = maps.Clone(t.Limits)
	c.Parameters = maps.Clone(t.Parameters)
	c.Attributes = maps.Clone(t.Attributes)
	return c
}
