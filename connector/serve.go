package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Environment variables read by Serve.
const (
	EnvAddr   = "MARKETPLANE_CONNECTOR_ADDR"   // listen address, default ":8080"
	EnvSecret = "MARKETPLANE_CONNECTOR_SECRET" // the shared secret, required
)

// ShutdownTimeout is how long Run lets requests in progress finish after
// its context ends.
const ShutdownTimeout = 30 * time.Second

// Serve is a connector program's main: it serves svc on the address in
// MARKETPLANE_CONNECTOR_ADDR (default ":8080") with the secret in
// MARKETPLANE_CONNECTOR_SECRET, logs to stderr, and on SIGTERM or SIGINT
// stops accepting requests, lets the running ones finish and returns. It
// exits the process with status 1 on a startup error (no secret, address in
// use, invalid manifest).
func Serve(svc Service) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := serve(svc, logger); err != nil {
		logger.Error("connector: " + err.Error())
		os.Exit(1)
	}
}

func serve(svc Service, logger *slog.Logger) (err error) {
	secret := os.Getenv(EnvSecret)
	if secret == "" {
		return fmt.Errorf("%s is not set: set it to the secret shared with the platform", EnvSecret)
	}
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = ":8080"
	}
	defer func() {
		// Handler panics on an invalid manifest: report it as an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	h := Handler(svc, Config{Secret: secret, Logger: logger})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	m := svc.Manifest()
	logger.Info("connector: serving", "name", m.Name, "version", m.Version, "addr", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Run(ctx, ln, h)
}

// Run serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting, waits up to ShutdownTimeout for requests in progress, and
// returns nil. It returns the server's error if serving fails.
func Run(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
