package ssh_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
)

func TestExecutorRecordsCommandSpans(t *testing.T) {
	t.Parallel()
	const secret = "span-secret-value"
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, nil)

	mustCommand := func(cmd domain.Command, err error) domain.Command {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	tests := []struct {
		cmd        domain.Command
		wantName   string
		wantApp    string
		wantStatus int64
	}{
		{domain.VersionCommand(), "dokku version", "", 0},
		{mustCommand(domain.AppsCreateCommand("web")), "dokku apps:create", "web", 0},
		{mustCommand(domain.ConfigSetCommand("web", []domain.ConfigVar{{Key: "SECRET", Value: secret}}, true)), "dokku config:set", "web", 0},
		{appsReport(t, "nope"), "dokku apps:report", "nope", int64(domain.ExitAppNotFound)},
	}
	for _, tt := range tests {
		exporter := tracetest.NewInMemoryExporter()
		provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
		ctx, parent := provider.Tracer("test").Start(t.Context(), "rpc")
		if _, err := executor.Run(ctx, host.Target(), tt.cmd); err != nil {
			t.Fatalf("Run %s: %v", tt.wantName, err)
		}
		parent.End()

		spans := exporter.GetSpans()
		if len(spans) != 2 {
			t.Fatalf("%s: got %d spans, want the command's and its parent", tt.wantName, len(spans))
		}
		span := spans[0]
		if span.Name != tt.wantName {
			t.Errorf("span name = %q, want %q", span.Name, tt.wantName)
		}
		if span.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: parent = %s, want the caller's span %s", tt.wantName, span.Parent.SpanID(), parent.SpanContext().SpanID())
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range span.Attributes {
			attrs[kv.Key] = kv.Value
			if strings.Contains(kv.Value.Emit(), secret) || strings.Contains(kv.Value.Emit(), base64.StdEncoding.EncodeToString([]byte(secret))) {
				t.Errorf("%s: attribute %s carries an argument value", tt.wantName, kv.Key)
			}
		}
		if got := attrs["dokku.command"].AsString(); "dokku "+got != tt.wantName {
			t.Errorf("%s: dokku.command = %q", tt.wantName, got)
		}
		if got := attrs["dokku.app"].AsString(); got != tt.wantApp {
			t.Errorf("%s: dokku.app = %q, want %q", tt.wantName, got, tt.wantApp)
		}
		if got := attrs["host.id"].AsString(); got != host.Target().Host.ID {
			t.Errorf("%s: host.id = %q, want %q", tt.wantName, got, host.Target().Host.ID)
		}
		if got := attrs["dokku.exit_status"].AsInt64(); got != tt.wantStatus {
			t.Errorf("%s: dokku.exit_status = %d, want %d", tt.wantName, got, tt.wantStatus)
		}
		if wantError := tt.wantStatus != 0; (span.Status.Code == codes.Error) != wantError {
			t.Errorf("%s: status = %v, want error %v", tt.wantName, span.Status.Code, wantError)
		}
	}
}

func TestExecutorRecordsNoSpanOutsideATrace(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, nil)
	// Without a span in the context there is no provider to record with;
	// the command must still run.
	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
