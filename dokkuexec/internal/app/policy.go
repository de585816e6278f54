package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/platform/auth"
)

// DefaultLimitsTTL is how long a tenant's limits are cached, and so how long
// a plan change or a suspension may take to apply.
const DefaultLimitsTTL = 10 * time.Second

// auditTimeout bounds one append to the audit ledger. The append runs even
// when the caller has gone, because the change it records may have happened.
const auditTimeout = 10 * time.Second

// limitsCache keeps each tenant's limits for ttl.
type limitsCache struct {
	tenancy Tenancy
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]cachedLimits
}

type cachedLimits struct {
	limits    TenantLimits
	fetchTime time.Time
}

func newLimitsCache(tenancy Tenancy, ttl time.Duration, now func() time.Time) *limitsCache {
	if ttl <= 0 {
		ttl = DefaultLimitsTTL
	}
	return &limitsCache{tenancy: tenancy, ttl: ttl, now: now, entries: map[string]cachedLimits{}}
}

// get returns the tenant's limits, from Tenancy when the cached copy is
// older than ttl. A failed fetch is not cached.
func (c *limitsCache) get(ctx context.Context, tenantID string) (TenantLimits, error) {
	now := c.now()
	c.mu.Lock()
	entry, ok := c.entries[tenantID]
	c.mu.Unlock()
	if ok && now.Sub(entry.fetchTime) < c.ttl {
		return entry.limits, nil
	}

	limits, err := c.tenancy.GetTenantLimits(ctx, tenantID)
	if err != nil {
		return TenantLimits{}, err
	}
	c.mu.Lock()
	c.entries[tenantID] = cachedLimits{limits: limits, fetchTime: now}
	c.mu.Unlock()
	return limits, nil
}

// checkActive refuses every request of a tenant that is not active.
func (s *Service) checkActive(ctx context.Context, tenantID string) (TenantLimits, error) {
	limits, err := s.limits.get(ctx, tenantID)
	if err != nil {
		return TenantLimits{}, err
	}
	switch limits.Status {
	case "active":
		return limits, nil
	case "suspended":
		return TenantLimits{}, Errorf(KindFailedPrecondition, "tenant %s is suspended, so DokkuExec rejects its requests; ask an operator to resume it with ResumeTenant", tenantID)
	}
	return TenantLimits{}, Errorf(KindFailedPrecondition, "tenant %s is %s, so DokkuExec rejects its requests; ask an operator to restore it", tenantID, limits.Status)
}

// checkWritable refuses a change for a tenant that is not active or whose
// plan is read-only.
func (s *Service) checkWritable(ctx context.Context, tenantID string) error {
	limits, err := s.checkActive(ctx, tenantID)
	if err != nil {
		return err
	}
	if limits.ReadOnly {
		// NOTE: the message names the tenant by id: TenantLimits has no
		// slug, and GetTenant needs platform:admin.
		return Errorf(KindPermissionDenied, "tenant %s is on the %s plan, which is read-only; upgrade the plan to change apps", tenantID, limits.Plan)
	}
	return nil
}

// writeRequest describes one state-changing request for the policy checks
// and the audit event.
type writeRequest struct {
	// operation is the RPC's name, such as CreateApp.
	operation string
	tenantID  string
	hostRef   string
	app       string
	// arguments are the request's arguments as they may be stored in the
	// ledger: config keys but never their values.
	arguments map[string]any
}

// auditNoteKey carries the *auditNote of a write in its context.
type auditNoteKey struct{}

// auditNote collects what a write learns on its way that the audit event
// names, such as the resolved host's name.
type auditNote struct {
	mu   sync.Mutex
	host string
}

func (n *auditNote) setHost(name string) {
	n.mu.Lock()
	n.host = name
	n.mu.Unlock()
}

func (n *auditNote) hostName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// write runs change, a state-changing use case, between the plan checks and
// the audit event. Every state-changing method of Service goes through it.
//
// It refuses tenants that are suspended or on a read-only plan, then runs
// change, then appends one event to the tenant's audit ledger whatever the
// outcome, and returns only after the append. When a successful change
// cannot be audited it returns KindUnavailable: the caller must not take
// the change as done without its event, nor as not done.
func (s *Service) write(ctx context.Context, req writeRequest, change func(ctx context.Context) error) error {
	if req.tenantID == "" {
		return Errorf(KindPermissionDenied, "the access token names no tenant; use a token issued for a tenant's user")
	}
	start := s.now()
	note := &auditNote{host: req.hostRef}

	err := s.checkWritable(ctx, req.tenantID)
	if err == nil {
		err = change(context.WithValue(ctx, auditNoteKey{}, note))
	}

	result := "ok"
	if err != nil {
		result = KindOf(err).String()
	}
	event := s.auditEvent(ctx, req, note, result, start)
	auditErr := s.appendAudit(ctx, event)
	if auditErr == nil {
		return err
	}
	if err != nil {
		// Nothing was changed, or the change failed: the request's own
		// error is more useful to the caller than the audit failure.
		return err
	}
	return &Error{
		Kind: KindUnavailable,
		Message: req.operation + " on " + quote(event.Target) + " may have been applied, but the audit ledger is unavailable, " +
			"so DokkuExec does not report it as done; check the app's state before you retry",
		Err: auditErr,
	}
}

// auditEvent builds the event of a finished write.
func (s *Service) auditEvent(ctx context.Context, req writeRequest, note *auditNote, result string, start time.Time) AuditEvent {
	event := AuditEvent{
		TenantID:  req.tenantID,
		Time:      start,
		Operation: "dokkuexec." + req.operation,
		Target:    note.hostName(),
		Result:    result,
		LatencyMS: s.now().Sub(start).Milliseconds(),
	}
	if req.app != "" {
		event.Target += "/" + req.app
	}
	if principal, ok := auth.PrincipalFrom(ctx); ok {
		event.Subject, event.ClientID, event.Actor = principal.Subject, principal.ClientID, principal.Actor
	}
	if span := trace.SpanContextFromContext(ctx); span.HasTraceID() {
		event.TraceID = span.TraceID().String()
	}

	arguments := map[string]any{"host": req.hostRef}
	if req.app != "" {
		arguments["app"] = req.app
	}
	for key, value := range req.arguments {
		arguments[key] = value
	}
	encoded, err := json.Marshal(arguments)
	if err != nil {
		// Only strings, numbers, booleans and their slices and maps are
		// stored, so this does not happen.
		encoded = []byte("{}")
	}
	event.ArgumentsJSON = string(encoded)
	return event
}

// appendAudit appends event, even when ctx has ended, and logs a failure.
func (s *Service) appendAudit(ctx context.Context, event AuditEvent) error {
	auditCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	err := s.audit.AppendAuditEvent(auditCtx, event)
	if err != nil {
		s.logger.ErrorContext(ctx, "audit event not recorded", "tenant_id", event.TenantID, "operation", event.Operation,
			"target", event.Target, "result", event.Result, "error", err)
	}
	return err
}

// noteHost records the resolved host's name for the audit event of the
// write that ctx belongs to, if any.
func noteHost(ctx context.Context, name string) {
	if note, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		note.setHost(name)
	}
}

// guarded is write for a use case that returns a result.
func guarded[T any](ctx context.Context, s *Service, req writeRequest, change func(ctx context.Context) (T, error)) (T, error) {
	var out T
	err := s.write(ctx, req, func(ctx context.Context) (err error) {
		out, err = change(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
