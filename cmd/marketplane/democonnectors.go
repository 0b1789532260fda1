package main

import (
	"context"
	"fmt"

	democonn "github.com/marketplane/marketplane/connectors/demo"
	"github.com/marketplane/marketplane/demo"
)

// startDemoConnectors prepares the connectors behind the demo catalog's
// plans (package connectors/demo), which the server mounts at
// democonn.PathPrefix: demo services kept in the database, and the real
// pgdbaas where a PostgreSQL server answers. It does so with --demo, or
// when the demo was loaded before (`marketplane demo`); otherwise the
// server runs no demo connector.
func (m *Main) startDemoConnectors(ctx context.Context) error {
	if !m.Config.Demo {
		loaded, err := demo.Loaded(ctx, m.DB)
		if err != nil || !loaded {
			return err
		}
	}
	set, err := democonn.Start(ctx, democonn.Config{DB: m.DB, Logger: m.Logger})
	if err != nil {
		return err
	}
	m.demoConnectors = set
	if set.Skipped != "" {
		fmt.Fprintf(m.Out, "Demo connectors: %v; the managed PostgreSQL plans cannot be provisioned: %s.\n", set.Names(), set.Skipped)
	} else {
		fmt.Fprintf(m.Out, "Demo connectors: %v (postgresql makes real databases through pgdbaas).\n", set.Names())
	}
	return nil
}

// registerDemoConnectors registers the demo connectors through the real
// registration, at this server's own address (the callbacks come here
// too), once it serves.
func (m *Main) registerDemoConnectors(ctx context.Context) error {
	if m.demoConnectors == nil {
		return nil
	}
	return m.demoConnectors.Register(ctx, m.URL())
}
