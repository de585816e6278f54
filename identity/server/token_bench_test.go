package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/identity/server"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pgtest"
)

// startBenchServer runs Identity for a benchmark the way startServer does for
// a test, with the per-client and per-address rate limits turned off so the
// benchmark measures issuance rather than the limiter.
func startBenchServer(b *testing.B) *testServer {
	b.Helper()
	key := func() []byte {
		k := make([]byte, 32)
		rand.Read(k)
		return k
	}
	srv := &testServer{
		PostgresURL: pgtest.NewDatabase(b),
		MasterKey:   key(),
		Secrets: map[string]string{
			"dokkuexec": base64.StdEncoding.EncodeToString(key()),
			"operator":  base64.StdEncoding.EncodeToString(key()),
		},
		Logs: &syncBuffer{},
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv.URL = "http://" + listener.Addr().String()

	cfg := server.RegisterFlags(config.NewFlagSet("identity"))
	cfg.Issuer = srv.URL
	cfg.PostgresURL = srv.PostgresURL
	cfg.MasterKey = base64.StdEncoding.EncodeToString(srv.MasterKey)
	cfg.TenantResources = []string{audienceDokkuExec, mcpURL}
	cfg.TokenClientRate = 0
	cfg.TokenAddressRate = 0
	var entries []string
	for name, secret := range srv.Secrets {
		entries = append(entries, name+"="+secret)
	}
	if err := cfg.ServiceClients.Set(strings.Join(entries, ",")); err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := logging.New(srv.Logs, "identity", slog.LevelInfo)
	go func() { done <- server.Run(ctx, server.Options{Config: cfg, Listener: listener, Logger: logger}) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server.Run returned %v", err)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/oauth2/jwks")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv
			}
		}
		select {
		case err := <-done:
			done <- err
			b.Fatalf("server.Run returned during start: %v\nlogs:\n%s", err, srv.Logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("server did not respond within 30s: %v", err)
		}
	}
}

// issueToken sends one client_credentials request with client_secret_basic
// and returns the access token.
func issueToken(client *http.Client, tokenURL, id, secret, resource string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	return postTokenForm(client, tokenURL, id, secret, form)
}

type tokenError struct {
	status int
	body   string
}

func (e *tokenError) Error() string {
	return "token endpoint returned " + http.StatusText(e.status) + ": " + e.body
}

// BenchmarkTokenIssuance measures client_credentials issuance over HTTP on
// 127.0.0.1 with client_secret_basic, from b.RunParallel goroutines, and
// reports tokens per second.
func BenchmarkTokenIssuance(b *testing.B) {
	srv := startBenchServer(b)
	tokenURL := srv.URL + "/oauth2/token"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	if _, err := issueToken(client, tokenURL, "dokkuexec", srv.Secrets["dokkuexec"], audienceTenancy); err != nil {
		b.Fatalf("warm-up token: %v", err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := issueToken(client, tokenURL, "dokkuexec", srv.Secrets["dokkuexec"], audienceTenancy); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
}

// BenchmarkTokenVerification measures auth.Verifier.Verify of an Identity
// token once the verifier has fetched the key set and revocation list.
func BenchmarkTokenVerification(b *testing.B) {
	srv := startBenchServer(b)
	token, err := issueToken(http.DefaultClient, srv.URL+"/oauth2/token", "dokkuexec", srv.Secrets["dokkuexec"], audienceTenancy)
	if err != nil {
		b.Fatalf("token: %v", err)
	}
	verifier := srv.verifier(audienceTenancy)
	ctx := context.Background()
	if _, err := verifier.Verify(ctx, token); err != nil {
		b.Fatalf("warm-up Verify: %v", err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := verifier.Verify(ctx, token); err != nil {
			b.Fatalf("Verify: %v", err)
		}
	}
}
