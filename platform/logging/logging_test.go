package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"dokkumcp.dev/platform/logging"
)

// logLine logs one line with ctx through a fresh logger and returns its
// fields.
func logLine(t *testing.T, ctx context.Context, edit func(*slog.Logger) *slog.Logger) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	logger := logging.New(&buf, "tenancy", slog.LevelInfo)
	if edit != nil {
		logger = edit(logger)
	}
	logger.InfoContext(ctx, "host registered", "host_id", "h-1")

	var fields map[string]any
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatalf("log line %q is not JSON: %v", buf.String(), err)
	}
	return fields
}

func TestLoggerContextFields(t *testing.T) {
	t.Parallel()
	provider := sdktrace.NewTracerProvider()
	t.Cleanup(func() { provider.Shutdown(context.Background()) })
	spanCtx, span := provider.Tracer("test").Start(context.Background(), "op")
	t.Cleanup(func() { span.End() })
	traceID := span.SpanContext().TraceID().String()
	spanID := span.SpanContext().SpanID().String()

	full := logging.WithTenantID(logging.WithRequestID(spanCtx, "req-1"), "t-42")
	tests := []struct {
		name string
		ctx  context.Context
		edit func(*slog.Logger) *slog.Logger
		want map[string]string
	}{
		{
			name: "empty context",
			ctx:  context.Background(),
			want: map[string]string{"request_id": "", "tenant_id": "", "trace_id": "", "span_id": ""},
		},
		{
			name: "request id only",
			ctx:  logging.WithRequestID(context.Background(), "req-1"),
			want: map[string]string{"request_id": "req-1", "tenant_id": "", "trace_id": ""},
		},
		{
			name: "tenant id only",
			ctx:  logging.WithTenantID(context.Background(), "t-42"),
			want: map[string]string{"request_id": "", "tenant_id": "t-42"},
		},
		{
			name: "span only",
			ctx:  spanCtx,
			want: map[string]string{"request_id": "", "trace_id": traceID, "span_id": spanID},
		},
		{
			name: "all ids",
			ctx:  full,
			want: map[string]string{"request_id": "req-1", "tenant_id": "t-42", "trace_id": traceID, "span_id": spanID},
		},
		{
			name: "all ids through With",
			ctx:  full,
			edit: func(l *slog.Logger) *slog.Logger { return l.With("operation", "register") },
			want: map[string]string{"request_id": "req-1", "tenant_id": "t-42", "trace_id": traceID, "operation": "register"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fields := logLine(t, tt.ctx, tt.edit)

			if fields["service"] != "tenancy" {
				t.Errorf("service = %v, want tenancy", fields["service"])
			}
			if fields["msg"] != "host registered" || fields["host_id"] != "h-1" {
				t.Errorf("line %v lost the message or its fields", fields)
			}
			for key, want := range tt.want {
				got, present := fields[key]
				if want == "" {
					if present {
						t.Errorf("%s = %v, want absent", key, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %v, want %q", key, got, want)
				}
			}
		})
	}
}

func TestLoggerLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := logging.New(&buf, "tenancy", slog.LevelWarn)
	logger.Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("an info line passed a warn logger: %q", buf.String())
	}
	logger.Warn("kept")
	if buf.Len() == 0 {
		t.Error("a warn line was dropped by a warn logger")
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	if got := logging.RequestID(context.Background()); got != "" {
		t.Errorf("RequestID of an empty context = %q, want empty", got)
	}
	if got := logging.RequestID(logging.WithRequestID(context.Background(), "req-9")); got != "req-9" {
		t.Errorf("RequestID = %q, want req-9", got)
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want slog.Level
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "warning", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: "", want: slog.LevelInfo},
		{in: "verbose", want: slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := logging.ParseLevel(tt.in); got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
