package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
)

const tenancyService = "dokkumcp.tenancy.v1.TenancyService"

// running is a Serve call in progress on a loopback listener.
type running struct {
	url    string
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// serve starts Serve with a mux from NewMux plus extra handlers and stops it
// when the test ends.
func serve(t *testing.T, opts server.Options, extra map[string]http.Handler) *running {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Service = "test"
	opts.HealthServices = []string{tenancyService}
	opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	mux := server.NewMux(opts)
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	opts.Handler = mux

	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		url:    "http://" + listener.Addr().String(),
		addr:   listener.Addr().String(),
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { r.done <- server.Serve(ctx, listener, opts) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait returns Serve's result, failing the test if it takes longer than d.
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // keep it for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("Serve did not return within %s", d)
		return nil
	}
}

// servingJSON is how connectrpc.com/grpchealth v1.5.0 spells SERVING in
// JSON. NOTE: its proto (package connectext.grpc.health.v1) renames the
// enum values, so JSON clients read SERVING_STATUS_SERVING where the
// standard grpc.health.v1 mapping is SERVING. The binary encoding (value 1)
// that gRPC clients and probes read is the standard one.
const servingJSON = "SERVING_STATUS_SERVING"

func TestServeHealth(t *testing.T) {
	t.Parallel()
	srv := serve(t, server.Options{}, nil)

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "whole server", body: `{}`, wantStatus: http.StatusOK, wantBody: servingJSON},
		{name: "named service", body: `{"service":"` + tenancyService + `"}`, wantStatus: http.StatusOK, wantBody: servingJSON},
		{name: "unknown service", body: `{"service":"dokkumcp.nope.v1.NopeService"}`, wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Post(srv.url+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody == "" {
				return
			}
			var got struct {
				Status string `json:"status"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.wantBody {
				t.Errorf("status = %q, want %q", got.Status, tt.wantBody)
			}
		})
	}
}

func TestServeHealthOverGRPC(t *testing.T) {
	t.Parallel()
	srv := serve(t, server.Options{}, nil)
	// gRPC needs HTTP/2, which Serve offers in cleartext (h2c).
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	client := grpchealth.NewClient(httpClient, srv.url, connect.WithGRPC())

	resp, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: tenancyService})
	if err != nil {
		t.Fatalf("Check over gRPC: %v", err)
	}
	if resp.Status != grpchealth.StatusServing {
		t.Errorf("status = %v, want serving", resp.Status)
	}
}

func TestServeMetrics(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	counter, err := tel.Meter("test").Int64Counter("widgets_registered")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(context.Background(), 3)
	srv := serve(t, server.Options{Metrics: tel.MetricsHandler()}, nil)

	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "widgets_registered_total") {
		t.Errorf("/metrics does not list widgets_registered_total:\n%s", body)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	requestErr := make(chan error, 1)
	block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		// The request context outlives the cancelled server context.
		requestErr <- r.Context().Err()
		io.WriteString(w, "done")
	})
	srv := serve(t, server.Options{ShutdownTimeout: time.Minute}, map[string]http.Handler{"GET /block": block})

	type result struct {
		body string
		err  error
	}
	responses := make(chan result, 1)
	go func() {
		resp, err := http.Get(srv.url + "/block")
		if err != nil {
			responses <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		responses <- result{body: string(body), err: err}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler within 10s")
	}

	srv.cancel()
	waitUntilRefused(t, srv.addr)
	select {
	case err := <-srv.done:
		srv.done <- err
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}

	close(release)
	select {
	case r := <-responses:
		if r.err != nil {
			t.Fatalf("in-flight request failed: %v", r.err)
		}
		if r.body != "done" {
			t.Errorf("in-flight response = %q, want done", r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not finish within 10s")
	}
	if err := <-requestErr; err != nil {
		t.Errorf("request context ended during shutdown: %v", err)
	}
	if err := srv.wait(t, 10*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	srv := serve(t, server.Options{ShutdownTimeout: 100 * time.Millisecond}, map[string]http.Handler{"GET /stuck": stuck})

	requestErr := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.url + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		requestErr <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler within 10s")
	}

	srv.cancel()
	if err := srv.wait(t, 10*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil after closing the stuck connection", err)
	}
	select {
	case err := <-requestErr:
		if err == nil {
			t.Error("the stuck request got a response, want a closed connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck request was not cut off within 10s")
	}
}

func TestServeListenerError(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listener.Close()
	opts := server.Options{Service: "test", Handler: http.NotFoundHandler(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}

	err = server.Serve(context.Background(), listener, opts)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener = %v, want an error", err)
	}
}

// waitUntilRefused polls until addr refuses connections, which shows that
// the server has closed its listener and begun shutting down.
func waitUntilRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still accepted connections 10s after cancel", addr)
}
