package app

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// AuditLogArgs filters the tenant's audit events.
type AuditLogArgs struct {
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
	Principal string `json:"principal,omitempty"`
	Operation string `json:"operation,omitempty"`
	Result    string `json:"result,omitempty"`
	PageSize  int    `json:"page_size,omitempty"`
	PageToken string `json:"page_token,omitempty"`
}

// AuditEvent is one event of the tenant's audit ledger.
type AuditEvent struct {
	Seq       int64  `json:"seq"`
	Time      string `json:"time"`
	Subject   string `json:"subject"`
	ClientID  string `json:"client_id"`
	Actor     string `json:"actor,omitempty"`
	Operation string `json:"operation"`
	Target    string `json:"target,omitempty"`
	Arguments string `json:"arguments"`
	Result    string `json:"result"`
	LatencyMS int64  `json:"latency_ms"`
	TraceID   string `json:"trace_id,omitempty"`
}

// AuditLog is the result of audit_log.
type AuditLog struct {
	Events        []AuditEvent `json:"events"`
	NextPageToken string       `json:"next_page_token,omitempty"`
}

// AuditLog lists the caller's tenant's audit events. It calls Tenancy with
// the caller's exchanged token, so Tenancy limits it to the caller's tenant.
func (t *Tools) AuditLog(ctx context.Context, args AuditLogArgs) (*AuditLog, error) {
	if args.PageSize < 0 || args.PageSize > domain.MaxAuditPageSize {
		return nil, &ToolError{Message: fmt.Sprintf("page_size %d is out of range: use 1 to %d, or omit it for 100", args.PageSize, domain.MaxAuditPageSize)}
	}
	filter := &tenancyv1.AuditFilter{Principal: args.Principal, Operation: args.Operation, Result: args.Result}
	for _, bound := range []struct {
		name, value string
		into        **timestamppb.Timestamp
	}{{"start_time", args.StartTime, &filter.StartTime}, {"end_time", args.EndTime, &filter.EndTime}} {
		if bound.value == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, bound.value)
		if err != nil {
			return nil, &ToolError{Message: fmt.Sprintf("%s %q is not a time: use RFC 3339, for example 2026-01-02T15:04:05Z", bound.name, bound.value)}
		}
		*bound.into = timestamppb.New(parsed)
	}
	resp, err := t.Tenancy.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{
		Filter: filter, PageSize: int32(args.PageSize), PageToken: args.PageToken,
	}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolAuditLog, err)
	}
	events := make([]AuditEvent, 0, len(resp.Msg.GetEvents()))
	for _, e := range resp.Msg.GetEvents() {
		events = append(events, AuditEvent{
			Seq: e.GetSeq(), Time: e.GetTime().AsTime().UTC().Format(time.RFC3339Nano), Subject: e.GetSubject(),
			ClientID: e.GetClientId(), Actor: e.GetActor(), Operation: e.GetOperation(), Target: e.GetTarget(),
			Arguments: e.GetArgumentsJson(), Result: e.GetResult(), LatencyMS: e.GetLatencyMs(), TraceID: e.GetTraceId(),
		})
	}
	return &AuditLog{Events: events, NextPageToken: resp.Msg.GetNextPageToken()}, nil
}
