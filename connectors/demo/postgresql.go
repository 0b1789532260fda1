package demo

import (
	"context"
	"fmt"

	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/pgdbaas"
)

// PostgreSQL is the demo's managed PostgreSQL: the real pgdbaas connector
// (a database and a login role per tenant on a real server) under the demo
// catalog's "postgresql" manifest. It translates the demo's resources to
// pgdbaas's: storage_gb to storage_mb (× 1024), max_connections to
// connections. The demo's databases and backup resources have nothing
// behind them in pgdbaas (a tenant is one database, and backups are the
// server operator's): they are accepted and not passed on.
type PostgreSQL struct {
	pg       *pgdbaas.Service
	manifest connector.Manifest
}

var _ connector.Service = (*PostgreSQL)(nil)

// NewPostgreSQL wraps pg under manifest m (the demo's "postgresql"
// manifest of Manifests).
func NewPostgreSQL(pg *pgdbaas.Service, m connector.Manifest) *PostgreSQL {
	m.Description = DescriptionPrefix + ": managed PostgreSQL for the demo marketplace, made by the pgdbaas connector: " +
		"each subscription gets a real database and login role on the local PostgreSQL server."
	return &PostgreSQL{pg: pg, manifest: m}
}

// Manifest describes the connector.
func (p *PostgreSQL) Manifest() connector.Manifest { return p.manifest }

// Resource keys of the demo's "postgresql" manifest.
const (
	pgStorageGB      = "storage_gb"
	pgMaxConnections = "max_connections"
)

// toPgdbaas turns the demo's limits into pgdbaas's.
func toPgdbaas(limits map[string]int64) map[string]int64 {
	out := map[string]int64{}
	if v, ok := limits[pgStorageGB]; ok {
		if v != connector.Unlimited {
			v *= 1024
		}
		out[pgdbaas.ResourceStorage] = v
	}
	if v, ok := limits[pgMaxConnections]; ok {
		out[pgdbaas.ResourceConnections] = v
	}
	return out
}

// fromPgdbaas turns pgdbaas's tenant into the demo's terms.
func fromPgdbaas(t connector.Tenant, err error) (connector.Tenant, error) {
	if err != nil {
		return t, fmt.Errorf("pgdbaas: %w", err)
	}
	limits := map[string]int64{}
	if v, ok := t.Limits[pgdbaas.ResourceStorage]; ok {
		if v != connector.Unlimited {
			v /= 1024
		}
		limits[pgStorageGB] = v
	}
	if v, ok := t.Limits[pgdbaas.ResourceConnections]; ok {
		limits[pgMaxConnections] = v
	}
	t.Limits = limits
	return t, nil
}

// Create makes a database through pgdbaas.
func (p *PostgreSQL) Create(ctx context.Context, req connector.CreateRequest) (connector.Tenant, error) {
	req.Limits = toPgdbaas(req.Limits)
	return fromPgdbaas(p.pg.Create(ctx, req))
}

// Get reads the tenant.
func (p *PostgreSQL) Get(ctx context.Context, id string) (connector.Tenant, error) {
	return fromPgdbaas(p.pg.Get(ctx, id))
}

// Update changes the limits it names.
func (p *PostgreSQL) Update(ctx context.Context, id string, req connector.UpdateRequest) (connector.Tenant, error) {
	req.Limits = toPgdbaas(req.Limits)
	return fromPgdbaas(p.pg.Update(ctx, id, req))
}

// Suspend suspends the tenant.
func (p *PostgreSQL) Suspend(ctx context.Context, id string) (connector.Tenant, error) {
	return fromPgdbaas(p.pg.Suspend(ctx, id))
}

// Resume resumes the tenant.
func (p *PostgreSQL) Resume(ctx context.Context, id string) (connector.Tenant, error) {
	return fromPgdbaas(p.pg.Resume(ctx, id))
}

// Delete drops the tenant's database and role.
func (p *PostgreSQL) Delete(ctx context.Context, id string) (connector.Tenant, error) {
	return fromPgdbaas(p.pg.Delete(ctx, id))
}

// Usage reports pgdbaas's readings in the demo's terms: the database's
// size in GB (its MB / 1024, rounded up to the protocol's decimals) and
// its open sessions.
func (p *PostgreSQL) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	rs, err := p.pg.Usage(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("pgdbaas: %w", err)
	}
	return usageFromPgdbaas(rs)
}

// usageFromPgdbaas turns pgdbaas's readings into the demo's.
func usageFromPgdbaas(rs []connector.UsageReading) ([]connector.UsageReading, error) {
	out := []connector.UsageReading{}
	for _, r := range rs {
		switch r.Resource {
		case pgdbaas.ResourceStorage:
			gb, err := r.Value.Quo(connector.Units(1024))
			if err != nil {
				return nil, fmt.Errorf("pgdbaas: storage %s MB: %w", r.Value, err)
			}
			r.Resource, r.Value = pgStorageGB, gb.Ceil(connector.UsageDecimals).Trim(0)
		case pgdbaas.ResourceConnections:
			r.Resource = pgMaxConnections
		default:
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
