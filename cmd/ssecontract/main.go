// Command ssecontract is the test service that lets the SSE contract-test
// harness (github.com/launchdarkly/sse-contract-tests) judge this library.
//
// The harness serves event streams itself and drives this service over REST
// and JSON: it asks for client instances (each one a [sse.Dispatcher]), sends
// them commands, and reads back, through numbered callbacks, the events,
// comments and errors each instance saw. The protocol is described in the
// harness's docs/service_spec.md.
//
// Usage:
//
//	ssecontract [-addr :8000] [-log-level info]
//
// Without -addr, the PORT environment variable, if set, gives the port. The
// service exits when it receives DELETE /, or on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// shutdownTimeout bounds how long in-flight requests may take once the
// service has been told to stop.
const shutdownTimeout = 5 * time.Second

func main() {
	log := logrus.New()
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.WithError(err).Fatal("ssecontract: bad arguments")
	}
	log.SetLevel(cfg.level)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		log.WithError(err).Fatal("ssecontract: cannot listen")
	}
	log.WithField("addr", ln.Addr().String()).Info("ssecontract: listening")
	if err := serve(ctx, ln, log); err != nil {
		log.WithError(err).Fatal("ssecontract: server failed")
	}
	log.Info("ssecontract: stopped")
}

// config is what the command line and environment set.
type config struct {
	addr  string
	level logrus.Level
}

// parseFlags reads the flags in args. An explicit -addr wins over PORT,
// which wins over the default :8000.
func parseFlags(args []string, getenv func(string) string, output io.Writer) (config, error) {
	fs := flag.NewFlagSet("ssecontract", flag.ContinueOnError)
	fs.SetOutput(output)
	addr := fs.String("addr", ":8000", "listen address (default from PORT when set)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("ssecontract: unexpected arguments %q", fs.Args())
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "addr" })
	cfg := config{addr: *addr}
	if port := getenv("PORT"); port != "" && !explicit {
		cfg.addr = net.JoinHostPort("", port)
	}
	lvl, err := logrus.ParseLevel(*level)
	if err != nil {
		return config{}, fmt.Errorf("ssecontract: bad -log-level: %w", err)
	}
	cfg.level = lvl
	return cfg, nil
}

// serve runs the service on ln until DELETE / arrives, ctx is done, or the
// server fails. It then lets in-flight requests finish (so the reply to
// DELETE / goes out) and closes every client instance.
func serve(ctx context.Context, ln net.Listener, log logrus.FieldLogger) error {
	svc := newService(log)
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-svc.quit:
		log.Info("ssecontract: told to stop")
	case <-ctx.Done():
		log.Info("ssecontract: interrupted")
	case err := <-served:
		svc.Close()
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	svc.Close()
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
