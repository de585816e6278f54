package rpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/tenancy/internal/domain"
)

// Page sizes of ListAuditEvents.
const (
	defaultAuditPageSize = 100
	maxAuditPageSize     = 1000
)

// AppendAuditEvent is synchronous: it returns after the event is committed,
// so a caller that waits for it never acts on an unaudited operation.
func (h *Handler) AppendAuditEvent(ctx context.Context, req *connect.Request[tenancyv1.AppendAuditEventRequest]) (*connect.Response[tenancyv1.AppendAuditEventResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	m := req.Msg
	event := domain.AuditEvent{
		TenantID:  m.GetTenantId(),
		Subject:   m.GetSubject(),
		ClientID:  m.GetClientId(),
		Actor:     m.GetActor(),
		Operation: m.GetOperation(),
		Target:    m.GetTarget(),
		Arguments: m.GetArgumentsJson(),
		Result:    m.GetResult(),
		LatencyMS: m.GetLatencyMs(),
		TraceID:   m.GetTraceId(),
	}
	if m.GetTime() != nil {
		event.Time = m.GetTime().AsTime()
	}

	appended, err := h.service.AppendAuditEvent(ctx, event)
	if err != nil {
		return nil, h.connectError(ctx, "AppendAuditEvent", err)
	}
	return connect.NewResponse(&tenancyv1.AppendAuditEventResponse{Event: auditEventToProto(appended)}), nil
}

func (h *Handler) ListAuditEvents(ctx context.Context, req *connect.Request[tenancyv1.ListAuditEventsRequest]) (*connect.Response[tenancyv1.ListAuditEventsResponse], error) {
	tenantID, err := h.auditTenant(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	pageSize := int(req.Msg.GetPageSize())
	switch {
	case pageSize < 0:
		return nil, invalidArgument("page_size %d is invalid: use 1 to %d, or 0 for %d", pageSize, maxAuditPageSize, defaultAuditPageSize)
	case pageSize == 0:
		pageSize = defaultAuditPageSize
	case pageSize > maxAuditPageSize:
		pageSize = maxAuditPageSize
	}
	afterSeq := int64(0)
	if token := req.Msg.GetPageToken(); token != "" {
		afterSeq, err = strconv.ParseInt(token, 10, 64)
		if err != nil || afterSeq < 0 {
			return nil, invalidArgument("page_token %q is invalid: pass next_page_token from the previous response", token)
		}
	}

	// One extra event shows whether another page follows.
	events, err := h.service.ListAuditEvents(ctx, tenantID, filterFromProto(req.Msg.GetFilter()), afterSeq, pageSize+1)
	if err != nil {
		return nil, h.connectError(ctx, "ListAuditEvents", err)
	}
	resp := &tenancyv1.ListAuditEventsResponse{}
	if len(events) > pageSize {
		events = events[:pageSize]
		resp.NextPageToken = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	for i := range events {
		resp.Events = append(resp.Events, auditEventToProto(&events[i]))
	}
	return connect.NewResponse(resp), nil
}

func (h *Handler) ExportAuditEvents(ctx context.Context, req *connect.Request[tenancyv1.ExportAuditEventsRequest], stream *connect.ServerStream[tenancyv1.ExportAuditEventsResponse]) error {
	tenantID, err := h.auditTenant(ctx, req.Msg.GetTenantId())
	if err != nil {
		return err
	}
	marshal := protojson.MarshalOptions{UseProtoNames: true}
	err = h.service.ExportAuditEvents(ctx, tenantID, filterFromProto(req.Msg.GetFilter()), func(e *domain.AuditEvent) error {
		line, err := marshal.Marshal(auditEventToProto(e))
		if err != nil {
			return err
		}
		return stream.Send(&tenancyv1.ExportAuditEventsResponse{Lines: append(line, '\n')})
	})
	if err != nil {
		return h.connectError(ctx, "ExportAuditEvents", err)
	}
	return nil
}

func (h *Handler) VerifyAuditChain(ctx context.Context, req *connect.Request[tenancyv1.VerifyAuditChainRequest]) (*connect.Response[tenancyv1.VerifyAuditChainResponse], error) {
	tenantID, err := h.auditTenant(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	report, err := h.service.VerifyAuditChain(ctx, tenantID)
	if err != nil {
		return nil, h.connectError(ctx, "VerifyAuditChain", err)
	}
	return connect.NewResponse(&tenancyv1.VerifyAuditChainResponse{
		Ok:            report.BrokenSeq == 0,
		EventsChecked: report.Checked,
		BrokenSeq:     report.BrokenSeq,
		Reason:        report.Reason,
	}), nil
}

// auditTenant returns the tenant whose audit events the caller may read: a
// tenant token's own tenant while that tenant is active, or for a service
// token the requested one.
func (h *Handler) auditTenant(ctx context.Context, requested string) (string, error) {
	principal, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("no verified caller: send an Identity access token in the Authorization header"))
	}
	if principal.TenantID == "" {
		if requested == "" {
			return "", invalidArgument("tenant_id is missing: service tokens must name the tenant whose audit events to read")
		}
		return requested, nil
	}
	if requested != "" && requested != principal.TenantID {
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf(
			"the token is scoped to tenant %s and cannot read the audit events of tenant %s: leave tenant_id empty", principal.TenantID, requested))
	}
	if err := h.service.CheckTenantActive(ctx, principal.TenantID); err != nil {
		return "", h.connectError(ctx, "auditTenant", err)
	}
	return principal.TenantID, nil
}

func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func filterFromProto(f *tenancyv1.AuditFilter) domain.AuditFilter {
	var filter domain.AuditFilter
	if f.GetStartTime() != nil {
		filter.Start = f.GetStartTime().AsTime()
	}
	if f.GetEndTime() != nil {
		filter.End = f.GetEndTime().AsTime()
	}
	filter.Principal, filter.Operation, filter.Result = f.GetPrincipal(), f.GetOperation(), f.GetResult()
	return filter
}

func auditEventToProto(e *domain.AuditEvent) *tenancyv1.AuditEvent {
	return &tenancyv1.AuditEvent{
		TenantId:      e.TenantID,
		Seq:           e.Seq,
		Time:          timestamppb.New(e.Time),
		Subject:       e.Subject,
		ClientId:      e.ClientID,
		Actor:         e.Actor,
		Operation:     e.Operation,
		Target:        e.Target,
		ArgumentsJson: e.Arguments,
		Result:        e.Result,
		LatencyMs:     e.LatencyMS,
		TraceId:       e.TraceID,
		PrevHash:      e.PrevHash,
		Hash:          e.Hash,
	}
}
