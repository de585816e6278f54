package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// Call is one tool call between admission and its outcome. Finish records
// its audit event once.
type Call struct {
	record   CallRecord
	start    time.Time
	recorder *Recorder
	metrics  *CallMetrics
	once     sync.Once
	// rateLimit names the limit that rejected the call: "tenant" (the
	// plan's calls per minute) or "tool" (the tool's own limit).
	rateLimit string
}

// RateLimit names the limit that rejected the call, "tenant" or "tool", or
// is empty when no limit did.
func (c *Call) RateLimit() string { return c.rateLimit }

// Finish records the call's outcome; later calls do nothing.
func (c *Call) Finish(ctx context.Context, outcome string) {
	c.once.Do(func() {
		c.record.Outcome = outcome
		c.record.Latency = time.Since(c.start)
		c.metrics.callEnded(ctx, c.record.TenantID, c.record.Tool, outcome, c.record.Latency)
		// The ledger is per tenant; callers without a tenant have none.
		if c.recorder != nil && c.record.TenantID != "" {
			c.recorder.Record(ctx, c.record)
		}
	})
}

// Tool returns the called tool's name.
func (c *Call) Tool() string { return c.record.Tool }

type callKey struct{}

// WithCall returns ctx carrying call.
func WithCall(ctx context.Context, call *Call) context.Context {
	return context.WithValue(ctx, callKey{}, call)
}

// CallFrom returns the call in ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	call, _ := ctx.Value(callKey{}).(*Call)
	return call
}

// CallGate admits tool calls before they are dispatched: it applies the
// rate limits and starts each call's audit event.
type CallGate struct {
	Limiter  *Limiter
	Recorder *Recorder
	// Metrics, when set, counts calls by tool and outcome and rate-limit
	// rejections.
	Metrics *CallMetrics
	// Plans, when set, reports to Authorize whether the tenant's plan
	// permits a missing permission. Without it every plan permits all.
	Plans  PlanSource
	Logger *slog.Logger
}

// maxToolNameLength bounds the tool name written to the ledger; a name
// longer than any tool's is caller input, not a tool.
const maxToolNameLength = 64

var appNamePattern = regexp.MustCompile(domain.AppNamePattern)

// Admit starts a tools/call. When the call is over a rate limit it records
// the rejection and returns false with the time after which to retry.
func (g *CallGate) Admit(ctx context.Context, principal *auth.Principal, tool string, arguments []byte, traceID string) (*Call, bool, time.Duration) {
	return g.AdmitRequest(ctx, principal, Request{Operation: tool, Target: targetApp(arguments), Arguments: arguments}, traceID)
}

// Request is a tools/call, resources/read or prompts/get as the gate admits
// and audits it.
type Request struct {
	// Operation is the tool's name, or domain.ResourceOperation or
	// domain.PromptOperation of the resource or prompt. The ledger records
	// it as mcpedge.<Operation>.
	Operation string
	// Target is the app the request names, or "".
	Target string
	// Arguments is the JSON whose digest the ledger records.
	Arguments []byte
	// Permissions are the permissions the request needs. Authorize checks
	// them; nil means the request names no known tool, resource or prompt
	// and is left to the MCP server.
	Permissions []string
}

// PlanSource reads whether a tenant's plan is read-only.
type PlanSource interface {
	ReadOnlyPlan(ctx context.Context, tenantID string) (bool, error)
}

// Denial is a request whose permissions the caller's token lacks.
type Denial struct {
	// Missing are the permissions the token lacks.
	Missing []string
	// StepUp is true when the tenant's plan permits every missing
	// permission, so a token requested with them would help. It is false
	// when the plan forbids one of them: no token the tenant can get
	// carries it.
	StepUp bool
}

// Message returns the text that explains why subject, such as "tool
// config_set", was denied and what the caller can do instead.
func (d *Denial) Message(subject string) string {
	missing := strings.Join(d.Missing, " ")
	if d.StepUp {
		return fmt.Sprintf("%s needs the %s permission, which your access token does not carry; "+
			"request a new token whose scope includes %s and retry", subject, missing, missing)
	}
	return fmt.Sprintf("%s needs the %s permission, which the tenant's read-only plan does not allow, so no token of this tenant can carry it; "+
		"use the read-only tools instead, or ask the tenant owner to move to a plan that allows changes", subject, missing)
}

type denialKey struct{}

// WithDenial returns ctx carrying the denial of its request, so that the
// MCP server returns an error the model can act on.
func WithDenial(ctx context.Context, denial *Denial) context.Context {
	return context.WithValue(ctx, denialKey{}, denial)
}

// DenialFrom returns the denial in ctx, or nil.
func DenialFrom(ctx context.Context) *Denial {
	denial, _ := ctx.Value(denialKey{}).(*Denial)
	return denial
}

// Authorize returns nil when the caller's token carries every permission
// request needs, and otherwise a Denial that records whether a token with
// more scope would help. When the tenant's plan cannot be read it assumes
// the plan permits them: Identity still caps the new token by the plan.
//
// NOTE: the client's role also caps its tokens, and only Identity stores it,
// so a viewer client calling a write tool on a plan that permits writes gets
// the 403 although Identity will not grant the scope it names.
func (g *CallGate) Authorize(ctx context.Context, principal *auth.Principal, request Request) *Denial {
	missing := domain.MissingPermissions(request.Permissions, principal.Scopes)
	if len(missing) == 0 {
		return nil
	}
	readOnly := false
	if g.Plans != nil && principal.TenantID != "" {
		var err error
		if readOnly, err = g.Plans.ReadOnlyPlan(ctx, principal.TenantID); err != nil {
			g.Logger.WarnContext(ctx, "tenant plan unavailable; treating the plan as permitting the missing permissions", "error", err)
			readOnly = false
		}
	}
	denial := &Denial{Missing: missing, StepUp: true}
	for _, p := range missing {
		if !domain.PlanPermits(p, readOnly) {
			denial.StepUp = false
		}
	}
	return denial
}

// AdmitRequest starts a request that reaches a tenant's hosts or data:
// tool calls, resource reads and prompt requests share the tenant's rate
// limit and are audited alike. When the request is over a rate limit it
// records the rejection and returns false with the time after which to
// retry.
func (g *CallGate) AdmitRequest(ctx context.Context, principal *auth.Principal, request Request, traceID string) (*Call, bool, time.Duration) {
	tool := request.Operation
	if len(tool) > maxToolNameLength {
		tool = tool[:maxToolNameLength]
	}
	target := request.Target
	if len(target) > 255 || !appNamePattern.MatchString(target) {
		target = ""
	}
	call := &Call{
		start:    time.Now(),
		recorder: g.Recorder,
		metrics:  g.Metrics,
		record: CallRecord{
			TenantID: principal.TenantID, Subject: principal.Subject, ClientID: principal.ClientID, Actor: principal.Actor,
			Tool: tool, Target: target, ArgumentsSHA256: ArgumentsDigest(request.Arguments),
			Time: time.Now(), TraceID: traceID,
		},
	}
	if g.Limiter == nil {
		return call, true, 0
	}
	ok, wait, limit := g.Limiter.Take(ctx, principal.TenantID, tool)
	if !ok {
		g.Logger.InfoContext(ctx, "tool call rate limited", "tool", tool, "limit", limit, "retry_after", wait.String())
		g.Metrics.callRateLimited(ctx, principal.TenantID, tool, limit)
		call.rateLimit = limit
		call.Finish(ctx, OutcomeRateLimited)
		return call, false, wait
	}
	return call, true, 0
}

// targetApp returns the app a call's arguments name, when it is a valid
// app name.
func targetApp(arguments []byte) string {
	var args struct {
		App string `json:"app"`
	}
	if json.Unmarshal(arguments, &args) != nil || len(args.App) > 255 || !appNamePattern.MatchString(args.App) {
		return ""
	}
	return args.App
}
