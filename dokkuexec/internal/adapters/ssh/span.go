package ssh

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/platform/telemetry"
)

// tracerName names the tracer of the Dokku command spans.
const tracerName = "dokkumcp.dev/dokkuexec/ssh"

// appFreeCommands are the subcommands whose arguments name no app.
var appFreeCommands = map[string]bool{"version": true, "apps:list": true, "plugin:list": true}

// startSpan starts the span of one Dokku command, a child of the RPC that
// asked for it. It names the subcommand and the app, never the other
// arguments, which may carry config values.
func startSpan(ctx context.Context, target app.Target, cmd domain.Command) (context.Context, trace.Span) {
	name := cmd.Name()
	attrs := []attribute.KeyValue{attribute.String("dokku.command", name), attribute.String("host.id", target.Host.ID)}
	if appName := commandApp(cmd); appName != "" {
		attrs = append(attrs, attribute.String("dokku.app", appName))
	}
	return telemetry.TracerFrom(ctx, tracerName).Start(ctx, "dokku "+name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endSpan records the command's exit status, or its error, and ends span.
func endSpan(span trace.Span, result domain.Result, err error) {
	switch {
	case err != nil:
		// The error names the host and the subcommand, not the arguments.
		span.SetStatus(codes.Error, err.Error())
	default:
		span.SetAttributes(attribute.Int("dokku.exit_status", result.ExitStatus))
		if result.ExitStatus != 0 {
			span.SetStatus(codes.Error, "non-zero exit status")
		}
	}
	span.End()
}

// commandApp returns the app a command acts on: the first argument after
// the subcommand that is neither a flag nor a flag's value. Every command
// that takes an app names it there.
func commandApp(cmd domain.Command) string {
	name := cmd.Name()
	if appFreeCommands[name] {
		return ""
	}
	args := cmd.Args()
	seen := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case !seen:
			seen = arg == name
		case arg == "--format":
			i++ // its value follows
		case strings.HasPrefix(arg, "-"):
		default:
			return arg
		}
	}
	return ""
}
