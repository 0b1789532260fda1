// Command marketplane-pgdbaas is the connector that sells PostgreSQL
// databases as a service (package pgdbaas) over the connector protocol.
//
// Environment:
//
//	MARKETPLANE_PGDBAAS_ADMIN_URL       postgres:// URL of a superuser of the managed server (required)
//	MARKETPLANE_PGDBAAS_HOST            host customers connect to (default: the admin URL's)
//	MARKETPLANE_PGDBAAS_PORT            port customers connect to (default: the admin URL's)
//	MARKETPLANE_PGDBAAS_LOCALES         comma-separated locales offered, the default first (default C.utf8,C)
//	MARKETPLANE_PGDBAAS_EXTENSIONS      comma-separated extensions offered (default citext,hstore,pg_trgm,pgcrypto,uuid-ossp; "none" for none)
//	MARKETPLANE_PGDBAAS_SCHEMA          the connector's state schema (default marketplane_pgdbaas)
//	MARKETPLANE_PGDBAAS_CHECK_INTERVAL  how often storage limits are checked (default 1m)
//	MARKETPLANE_CONNECTOR_ADDR          listen address (default :8080), read by connector.Serve
//	MARKETPLANE_CONNECTOR_SECRET        secret shared with the platform (required), read by connector.Serve
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/pgdbaas"
)

func main() {
	cfg, interval, err := configFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "marketplane-pgdbaas:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	svc, err := pgdbaas.New(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "marketplane-pgdbaas:", err)
		os.Exit(1)
	}
	defer svc.Close()

	// The storage guard also runs on its own clock, so that a tenant over
	// its limit is caught even when the platform does not call.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := svc.CheckStorage(ctx); err != nil && ctx.Err() == nil {
					slog.Error("pgdbaas: storage check", "err", err)
				}
			}
		}
	}()
	connector.Serve(svc)
}

func configFromEnv() (pgdbaas.Config, time.Duration, error) {
	cfg := pgdbaas.Config{
		AdminURL:   os.Getenv("MARKETPLANE_PGDBAAS_ADMIN_URL"),
		Host:       os.Getenv("MARKETPLANE_PGDBAAS_HOST"),
		Schema:     os.Getenv("MARKETPLANE_PGDBAAS_SCHEMA"),
		Locales:    list(os.Getenv("MARKETPLANE_PGDBAAS_LOCALES")),
		Extensions: list(os.Getenv("MARKETPLANE_PGDBAAS_EXTENSIONS")),
	}
	if cfg.AdminURL == "" {
		return cfg, 0, fmt.Errorf("MARKETPLANE_PGDBAAS_ADMIN_URL is not set: set it to a superuser URL of the managed PostgreSQL server")
	}
	if os.Getenv("MARKETPLANE_PGDBAAS_EXTENSIONS") == "none" {
		cfg.Extensions = []string{}
	}
	if v := os.Getenv("MARKETPLANE_PGDBAAS_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return cfg, 0, fmt.Errorf("MARKETPLANE_PGDBAAS_PORT %q is not a port", v)
		}
		cfg.Port = p
	}
	interval := time.Minute
	if v := os.Getenv("MARKETPLANE_PGDBAAS_CHECK_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cfg, 0, fmt.Errorf("MARKETPLANE_PGDBAAS_CHECK_INTERVAL %q is not a positive duration (such as 30s)", v)
		}
		interval = d
	}
	return cfg, interval, nil
}

// list splits a comma-separated value; nil for an empty one, which leaves the
// package default in force.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
