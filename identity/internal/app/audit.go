package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/platform/telemetry"
)

// AuditEvent is one event Identity appends to a tenant's audit ledger.
type AuditEvent struct {
	TenantID string
	Time     time.Time
	Subject  string
	ClientID string
	Actor    string
	// Operation is "identity." and the action, such as identity.token.
	Operation string
	// Target is the client acted on or authenticated.
	Target    string
	Arguments map[string]any
	// Result is "ok" or the error code.
	Result  string
	Latency time.Duration
	TraceID string
}

// ArgumentsJSON returns the arguments as the ledger stores them.
func (e AuditEvent) ArgumentsJSON() string {
	if len(e.Arguments) == 0 {
		return "{}"
	}
	data, err := json.Marshal(e.Arguments)
	if err != nil {
		return "{}"
	}
	return string(data)
}

// AuditLog appends events to Tenancy's audit ledger.
type AuditLog interface {
	AppendAuditEvent(ctx context.Context, event AuditEvent) error
}

// Audit queue settings. A failed authentication is cheap to cause, so its
// events must not make Identity wait for Tenancy, grow memory, or let one
// client fill a tenant's ledger.
const (
	// auditQueueSize bounds the events waiting for the worker.
	auditQueueSize = 1024
	// auditAppendTimeout bounds one append.
	auditAppendTimeout = 10 * time.Second
	// auditClientRate and auditClientBurst limit the failure events one
	// client can cause, per second and at once. The token endpoint's own
	// limits already bound the requests; this bounds the ledger rows.
	auditClientRate  = 1.0
	auditClientBurst = 20
)

// Auditor appends Identity's audit events. Record queues an event for one
// worker and returns at once; RecordSync appends and waits.
//
// An asynchronous event is lost when the queue is full, when the client
// that caused it is over its event limit, when the append fails, or when
// shutdown ends before the queue is drained. Each loss is counted in
// dokkumcp_audit_append_failures_total and, except over the event limit,
// logged as a warning.
type Auditor struct {
	log     AuditLog
	logger  *slog.Logger
	metrics *telemetry.AuditMetrics
	limit   *RateLimiter
	queue   chan AuditEvent

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

// NewAuditor starts an Auditor that appends to log. Call Close to drain it.
func NewAuditor(log AuditLog, logger *slog.Logger, metrics *telemetry.AuditMetrics) *Auditor {
	a := &Auditor{
		log:     log,
		logger:  logger,
		metrics: metrics,
		limit:   NewRateLimiter(auditClientRate, auditClientBurst),
		queue:   make(chan AuditEvent, auditQueueSize),
		done:    make(chan struct{}),
	}
	go a.work()
	return a
}

// Record queues event. A nil Auditor records nothing.
func (a *Auditor) Record(ctx context.Context, event AuditEvent) {
	if a == nil {
		return
	}
	fill(ctx, &event)
	if ok, _ := a.limit.Allow(event.ClientID); !ok {
		a.metrics.Dropped(ctx, telemetry.AuditDropRateLimited)
		return
	}

	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		a.drop(ctx, event, telemetry.AuditDropShutdown, "audit event dropped: identity is shutting down")
		return
	}
	select {
	case a.queue <- event:
	default:
		a.drop(ctx, event, telemetry.AuditDropQueueFull, "audit event dropped: the audit queue is full")
	}
}

// RecordSync appends event and waits for the append, even when ctx has
// been canceled, because the action it records has happened. A nil Auditor
// records nothing and returns nil.
func (a *Auditor) RecordSync(ctx context.Context, event AuditEvent) error {
	if a == nil {
		return nil
	}
	fill(ctx, &event)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditAppendTimeout)
	defer cancel()
	start := time.Now()
	err := a.log.AppendAuditEvent(ctx, event)
	a.metrics.Appended(ctx, start, err)
	return err
}

func (a *Auditor) work() {
	defer close(a.done)
	for event := range a.queue {
		ctx, cancel := context.WithTimeout(context.Background(), auditAppendTimeout)
		start := time.Now()
		err := a.log.AppendAuditEvent(ctx, event)
		a.metrics.Appended(ctx, start, err)
		if err != nil {
			a.logger.Warn("audit event dropped: append failed", "tenant_id", event.TenantID, "operation", event.Operation,
				"client_id", event.ClientID, "result", event.Result, "error", err)
		}
		cancel()
	}
}

func (a *Auditor) drop(ctx context.Context, event AuditEvent, reason, message string) {
	a.metrics.Dropped(ctx, reason)
	a.logger.WarnContext(ctx, message, "tenant_id", event.TenantID, "operation", event.Operation,
		"client_id", event.ClientID, "result", event.Result)
}

// Close stops accepting events and waits until the queued ones are
// appended or ctx ends.
func (a *Auditor) Close(ctx context.Context) {
	if a == nil {
		return
	}
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	select {
	case <-a.done:
	case <-ctx.Done():
		queued := len(a.queue)
		for range queued {
			a.metrics.Dropped(ctx, telemetry.AuditDropShutdown)
		}
		a.logger.Warn("audit events dropped: shutdown ended before the queue was drained", "queued", queued)
	}
}

// fill sets the event's time and trace id when the caller left them empty.
func fill(ctx context.Context, event *AuditEvent) {
	if event.Time.IsZero() {
		event.Time = time.Now()
	}
	if event.TraceID == "" {
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			event.TraceID = sc.TraceID().String()
		}
	}
}
