// Package server runs a service's HTTP listener: Connect and gRPC over
// HTTP/1.1 and cleartext HTTP/2, gRPC health, /metrics, and a graceful
// shutdown when the context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
)

// Options configures Serve.
type Options struct {
	Service string
	Handler http.Handler
	// HealthServices are the fully qualified service names health reports as
	// serving.
	HealthServices []string
	Metrics        http.Handler
	Logger         *slog.Logger
	// ShutdownTimeout bounds how long in-flight requests may finish.
	ShutdownTimeout time.Duration
}

// NewMux returns a mux with the gRPC health service and /metrics mounted,
// ready for a service to add its own handlers.
func NewMux(opts Options) *http.ServeMux {
	mux := http.NewServeMux()
	checker := grpchealth.NewStaticChecker(opts.HealthServices...)
	mux.Handle(grpchealth.NewHandler(checker))
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	return mux
}

// Serve serves handler on listener until ctx ends, then stops accepting,
// lets in-flight requests finish within the shutdown timeout and returns.
func Serve(ctx context.Context, listener net.Listener, opts Options) error {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           opts.Handler,
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listener) }()
	opts.Logger.Info("service started", "addr", listener.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", opts.Service, err)
	case <-ctx.Done():
	}

	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts.Logger.Info("service stopping", "timeout", timeout.String())
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		opts.Logger.Warn("shutdown timed out; closing remaining connections")
		err = srv.Close()
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	opts.Logger.Info("service stopped")
	return err
}

// ServeConnect serves one Connect handler, mounted at path next to health and
// /metrics, until ctx ends. It listens on addr when listener is nil.
func ServeConnect(ctx context.Context, listener net.Listener, addr string, opts Options, path string, handler http.Handler) error {
	if listener == nil {
		var err error
		listener, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
	}

	mux := NewMux(opts)
	mux.Handle(path, handler)
	opts.Handler = mux
	return Serve(ctx, listener, opts)
}
