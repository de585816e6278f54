package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"dokkumcp.dev/platform/telemetry"
)

// Outcomes of a tool call, as recorded in the audit ledger.
const (
	OutcomeOK          = "ok"
	OutcomeIsError     = "is_error"
	OutcomeDenied      = "denied"
	OutcomeRateLimited = "rate_limited"
	OutcomeError       = "error"
)

// CallRecord is the audit event of one tool call. It holds a digest of the
// arguments, never the arguments.
type CallRecord struct {
	TenantID string
	Subject  string
	ClientID string
	Actor    string
	// Tool is the called tool's name, or resource.<name> for a resource
	// read and prompt.<name> for a prompt request.
	Tool string
	// Target is the app the call names, when it names a valid one.
	Target string
	// ArgumentsSHA256 is the hex SHA-256 of the canonical arguments JSON.
	ArgumentsSHA256 string
	Outcome         string
	Time            time.Time
	Latency         time.Duration
	TraceID         string
}

// Operation is the ledger's operation name for the call.
func (r CallRecord) Operation() string { return "mcpedge." + r.Tool }

// ArgumentsJSON is what the ledger stores as the call's arguments: the
// digest only.
func (r CallRecord) ArgumentsJSON() string {
	return `{"sha256":"` + r.ArgumentsSHA256 + `"}`
}

// ArgumentsDigest returns the hex SHA-256 of the canonical form of a tool
// call's arguments JSON: object keys sorted, no insignificant white space,
// numbers as written (Go's encoding/json re-encoding). Absent arguments
// hash as {}. Arguments that are not valid JSON hash as their raw bytes.
func ArgumentsDigest(arguments []byte) string {
	canonical := []byte("{}")
	if trimmed := bytes.TrimSpace(arguments); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		canonical = trimmed
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var value any
		if err := dec.Decode(&value); err == nil {
			if encoded, err := json.Marshal(value); err == nil {
				canonical = encoded
			}
		}
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// AuditSink appends a call's event to the tenant's ledger.
type AuditSink interface {
	AppendCall(ctx context.Context, record CallRecord) error
}

// Recorder appends tool-call events asynchronously: Record queues the
// event and returns at once, and a worker appends queued events in order.
// A tool call therefore never waits for Tenancy and does not fail when the
// ledger is unavailable; the downstream write a call causes is audited by
// DokkuExec itself. When the queue is full, or an append fails, the event
// is dropped and a warning names the tenant, tool and outcome.
type Recorder struct {
	sink    AuditSink
	logger  *slog.Logger
	metrics *telemetry.AuditMetrics
	queue   chan CallRecord

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

// NewRecorder returns a recorder with a queue of size events and starts its
// worker, which records its appends and lost events with metrics (nil
// records nothing). Call Close to drain it.
func NewRecorder(sink AuditSink, logger *slog.Logger, size int, metrics *telemetry.AuditMetrics) *Recorder {
	r := &Recorder{sink: sink, logger: logger, metrics: metrics, queue: make(chan CallRecord, size), done: make(chan struct{})}
	go r.work()
	return r
}

// Record queues a call's event.
func (r *Recorder) Record(ctx context.Context, record CallRecord) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.metrics.Dropped(ctx, telemetry.AuditDropShutdown)
		r.logger.WarnContext(ctx, "audit event dropped: mcpedge is shutting down", "tenant_id", record.TenantID, "tool", record.Tool, "outcome", record.Outcome)
		return
	}
	select {
	case r.queue <- record:
	default:
		r.metrics.Dropped(ctx, telemetry.AuditDropQueueFull)
		r.logger.WarnContext(ctx, "audit event dropped: the audit queue is full", "tenant_id", record.TenantID, "tool", record.Tool, "outcome", record.Outcome)
	}
}

func (r *Recorder) work() {
	defer close(r.done)
	for record := range r.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err := r.sink.AppendCall(ctx, record)
		r.metrics.Appended(ctx, start, err)
		if err != nil {
			r.logger.Warn("audit event dropped: append failed", "tenant_id", record.TenantID, "tool", record.Tool, "outcome", record.Outcome, "error", err)
		}
		cancel()
	}
}

// Close stops accepting events and waits until the queued ones are
// appended or ctx ends.
func (r *Recorder) Close(ctx context.Context) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		queued := len(r.queue)
		for range queued {
			r.metrics.Dropped(ctx, telemetry.AuditDropShutdown)
		}
		r.logger.Warn("audit events dropped: shutdown ended before the queue was drained", "queued", queued)
	}
}
