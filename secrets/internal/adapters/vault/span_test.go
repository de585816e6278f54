package vault

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/platform/vaulttest"
	"dokkumcp.dev/secrets/internal/app"
)

func TestVaultCallsRecordSpans(t *testing.T) {
	server, err := vaulttest.Start(context.Background())
	if err != nil {
		t.Skipf("Vault dev server unavailable: %v", err)
	}
	t.Cleanup(func() { server.Stop() })

	ca, err := New(Config{
		Address: server.Addr, Auth: AuthConfig{Method: AuthToken, Token: server.RootToken},
		Mount: "ssh-span", Role: "dokku", TTL: time.Hour, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if err := ca.Bootstrap(context.Background(), logger); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}

	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	ctx, parent := provider.Tracer("test").Start(context.Background(), "rpc")
	if _, err := ca.login(ctx); err != nil {
		t.Fatalf("login: %v", err)
	}
	if _, err := ca.PublicKey(ctx); err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SignUserKey(ctx, app.SignRequest{Key: key, Principal: "dokku", KeyID: "span-test", TTL: time.Minute}); err != nil {
		t.Fatalf("SignUserKey: %v", err)
	}
	parent.End()

	var names []string
	for _, span := range exporter.GetSpans() {
		if span.SpanContext.SpanID() == parent.SpanContext().SpanID() {
			continue
		}
		names = append(names, span.Name)
		if span.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q has parent %s, want the caller's span", span.Name, span.Parent.SpanID())
		}
		for _, kv := range span.Attributes {
			if strings.Contains(kv.Value.Emit(), server.RootToken) {
				t.Errorf("span %q attribute %s carries the Vault token", span.Name, kv.Key)
			}
		}
	}
	if got, want := strings.Join(names, ","), "vault login,vault read_ca,vault sign"; got != want {
		t.Errorf("spans = %s, want %s", got, want)
	}
}
