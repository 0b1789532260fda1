// Package demo holds the demo connectors: stand-ins for the vendors'
// systems behind the demo catalog's plans (catalog.DemoDocument), so that
// an order placed in the demo marketplace completes as a real one would.
// `marketplane serve --demo` serves them in-process under PathPrefix and
// registers them through the real registration (signed both ways).
//
// A demo connector makes nothing real: a tenant is a row of the
// demo_tenants table in the Marketplane database, with the limits and
// parameters it was given. It keeps the protocol's promises all the same —
// Create is idempotent on the request id across restarts, and suspend,
// resume, change and delete act on the row — so that the platform's side
// is exercised as with any connector. Every manifest says "Demo service"
// in its description, and each tenant's attributes say so too.
//
// The demo's managed PostgreSQL is the exception: where a PostgreSQL server
// answers, PostgreSQL wraps the real pgdbaas connector under the demo
// catalog's resource keys, and its tenants are real databases.
package demo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
)

// PathPrefix is where a server mounts the demo connectors:
// PathPrefix + name + "/" is the base URL of connector name.
const PathPrefix = "/demo/connectors/"

// Version is the demo connectors' version, reported in their manifests.
const Version = "1.0.0"

// DescriptionPrefix starts the description of every demo connector's
// manifest: it says to staff that nothing real stands behind it, and lets a
// server recognise a demo connector it registered before.
const DescriptionPrefix = "Demo service"

// IsDemo reports whether m is the manifest of a demo connector.
func IsDemo(m connector.Manifest) bool { return strings.HasPrefix(m.Description, DescriptionPrefix) }

// Manifests returns the manifests of the demo catalog's connectors, one
// per template, in the templates' order: the connector is named after the
// template's connector, and its resources are the template's resource
// types under their connector keys, with their names, units and classes,
// so that registering it maps each resource onto the type that exists.
func Manifests() ([]connector.Manifest, error) {
	doc, err := catalog.DemoDocument()
	if err != nil {
		return nil, err
	}
	types := map[string]catalog.ResourceType{}
	for _, rt := range doc.ResourceTypes {
		types[rt.Key] = rt
	}
	var out []connector.Manifest
	for _, tpl := range doc.Templates {
		m := connector.Manifest{Name: tpl.Connector, Version: Version,
			Description: fmt.Sprintf("%s: %s for the demo marketplace; it keeps its tenants in the Marketplane database and makes nothing real.",
				DescriptionPrefix, tpl.Name.Get("en"))}
		for _, r := range tpl.Resources {
			rt, ok := types[r.Resource]
			if !ok {
				return nil, fmt.Errorf("demo connectors: template %s: no resource type %s", tpl.Key, r.Resource)
			}
			m.Resources = append(m.Resources, connector.ResourceSpec{Key: rt.Connector, Name: map[string]string(rt.Name.Clone()),
				Unit: rt.Unit, Class: string(rt.Class)})
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("demo connector %s: %w", m.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Service is a demo connector: tenants as rows of demo_tenants.
type Service struct {
	manifest connector.Manifest
	write    *sql.DB
	read     *sql.DB
}

var _ connector.Service = (*Service)(nil)

// New returns the demo connector with manifest m, keeping its tenants in
// the demo_tenants table reached through write (and read, for queries;
// the same pool will do).
func New(m connector.Manifest, write, read *sql.DB) *Service {
	if read == nil {
		read = write
	}
	return &Service{manifest: m, write: write, read: read}
}

// Manifest describes the connector.
func (s *Service) Manifest() connector.Manifest { return s.manifest }

// row is a tenant as stored.
type row struct {
	id, requestID, status string
	subscriptionID        int64
	accountID             int64
	limits                map[string]int64
	parameters            map[string]string
}

func (s *Service) tenant(r row) connector.Tenant {
	attrs := map[string]string{
		"service": s.manifest.Name + " (demo)",
		"note":    "A demo tenant: nothing real was made.",
	}
	if r.status != connector.StatusDeleted {
		attrs["console"] = "https://" + s.manifest.Name + ".demo.example/tenants/" + r.id
	}
	return connector.Tenant{ID: r.id, Status: r.status, Limits: r.limits, Parameters: r.parameters, Attributes: attrs}
}

// load reads tenant id, or the tenant of a request id when byRequest.
func (s *Service) load(ctx context.Context, q *sql.DB, key string, byRequest bool) (row, error) {
	col := "id"
	if byRequest {
		col = "request_id"
	}
	var r row
	var limits, params string
	err := q.QueryRowContext(ctx, `SELECT id, request_id, status, subscription_id, account_id, limits, parameters
		FROM demo_tenants WHERE connector = $1 AND `+col+` = $2`, s.manifest.Name, key).
		Scan(&r.id, &r.requestID, &r.status, &r.subscriptionID, &r.accountID, &limits, &params)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("demo tenant %s: %w", key, connector.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("demo tenant %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(limits), &r.limits); err != nil {
		return r, fmt.Errorf("demo tenant %s: limits: %w", key, err)
	}
	if err := json.Unmarshal([]byte(params), &r.parameters); err != nil {
		return r, fmt.Errorf("demo tenant %s: parameters: %w", key, err)
	}
	return r, nil
}

// Create makes the tenant at once (201); a second call with the request
// id returns the first's tenant.
func (s *Service) Create(ctx context.Context, req connector.CreateRequest) (connector.Tenant, error) {
	if r, err := s.load(ctx, s.write, req.RequestID, true); err == nil {
		return s.tenant(r), nil
	} else if !errors.Is(err, connector.ErrNotFound) {
		return connector.Tenant{}, err
	}
	r := row{id: s.manifest.Name + "-" + strings.ToLower(rand.Text()[:12]), requestID: req.RequestID,
		status: connector.StatusReady, subscriptionID: req.SubscriptionID, accountID: req.AccountID,
		limits: req.Limits, parameters: req.Parameters}
	limits, _ := json.Marshal(orEmpty(r.limits))
	params, _ := json.Marshal(orEmpty(r.parameters))
	_, err := s.write.ExecContext(ctx, `INSERT INTO demo_tenants
		(connector, id, request_id, subscription_id, account_id, status, limits, parameters)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.manifest.Name, r.id, r.requestID, r.subscriptionID, r.accountID, r.status, string(limits), string(params))
	if err != nil {
		// Another call with the same request id won the race: its tenant
		// is the one.
		if again, lerr := s.load(ctx, s.write, req.RequestID, true); lerr == nil {
			return s.tenant(again), nil
		}
		return connector.Tenant{}, fmt.Errorf("demo tenant: %w", err)
	}
	return s.tenant(r), nil
}

func orEmpty[M ~map[string]V, V any](m M) M {
	if m == nil {
		return M{}
	}
	return m
}

// Get returns the tenant.
func (s *Service) Get(ctx context.Context, id string) (connector.Tenant, error) {
	r, err := s.load(ctx, s.read, id, false)
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(r), nil
}

// change applies fn to tenant id and stores the result.
func (s *Service) change(ctx context.Context, id string, fn func(r *row) error) (connector.Tenant, error) {
	r, err := s.load(ctx, s.write, id, false)
	if err != nil {
		return connector.Tenant{}, err
	}
	if err := fn(&r); err != nil {
		return connector.Tenant{}, err
	}
	limits, _ := json.Marshal(orEmpty(r.limits))
	params, _ := json.Marshal(orEmpty(r.parameters))
	if _, err := s.write.ExecContext(ctx, `UPDATE demo_tenants SET status = $1, limits = $2, parameters = $3
		WHERE connector = $4 AND id = $5`, r.status, string(limits), string(params), s.manifest.Name, r.id); err != nil {
		return connector.Tenant{}, fmt.Errorf("demo tenant %s: %w", id, err)
	}
	return s.tenant(r), nil
}

// gone refuses a change to a deleted tenant.
func gone(r *row) error {
	if r.status == connector.StatusDeleted {
		return fmt.Errorf("demo tenant %s is deleted: %w", r.id, connector.ErrNotFound)
	}
	return nil
}

// Update sets the limits and parameters it names.
func (s *Service) Update(ctx context.Context, id string, req connector.UpdateRequest) (connector.Tenant, error) {
	return s.change(ctx, id, func(r *row) error {
		if err := gone(r); err != nil {
			return err
		}
		r.limits, r.parameters = orEmpty(r.limits), orEmpty(r.parameters)
		for k, v := range req.Limits {
			r.limits[k] = v
		}
		for k, v := range req.Parameters {
			r.parameters[k] = v
		}
		return nil
	})
}

// Suspend marks the tenant suspended.
func (s *Service) Suspend(ctx context.Context, id string) (connector.Tenant, error) {
	return s.change(ctx, id, func(r *row) error {
		if err := gone(r); err != nil {
			return err
		}
		r.status = connector.StatusSuspended
		return nil
	})
}

// Resume marks the tenant ready.
func (s *Service) Resume(ctx context.Context, id string) (connector.Tenant, error) {
	return s.change(ctx, id, func(r *row) error {
		if err := gone(r); err != nil {
			return err
		}
		r.status = connector.StatusReady
		return nil
	})
}

// Delete marks the tenant deleted; the row stays, so that a repeated
// delete answers the same.
func (s *Service) Delete(ctx context.Context, id string) (connector.Tenant, error) {
	return s.change(ctx, id, func(r *row) error {
		r.status = connector.StatusDeleted
		return nil
	})
}

// Usage reports nothing: a demo tenant uses nothing. Usage-billed demo
// plans bill their included amounts only.
func (s *Service) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	if _, err := s.load(ctx, s.read, id, false); err != nil {
		return nil, err
	}
	return []connector.UsageReading{}, nil
}
