package rpc

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/app"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

var codes = map[app.Kind]connect.Code{
	app.KindInternal:           connect.CodeInternal,
	app.KindInvalidArgument:    connect.CodeInvalidArgument,
	app.KindNotFound:           connect.CodeNotFound,
	app.KindAlreadyExists:      connect.CodeAlreadyExists,
	app.KindPermissionDenied:   connect.CodePermissionDenied,
	app.KindFailedPrecondition: connect.CodeFailedPrecondition,
	app.KindResourceExhausted:  connect.CodeResourceExhausted,
	app.KindUnavailable:        connect.CodeUnavailable,
	app.KindDeadlineExceeded:   connect.CodeDeadlineExceeded,
	app.KindCanceled:           connect.CodeCanceled,
	app.KindAborted:            connect.CodeAborted,
}

// toConnect turns a use case's error into a Connect error that carries only
// the caller-safe message, and logs the detail.
func toConnect(ctx context.Context, logger *slog.Logger, procedure string, err error) error {
	var appErr *app.Error
	if !errors.As(err, &appErr) {
		logger.ErrorContext(ctx, "request failed", "procedure", procedure, "error", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error in DokkuExec; the details are in its logs"))
	}

	code, ok := codes[appErr.Kind]
	if !ok {
		code = connect.CodeInternal
	}
	if appErr.Err != nil {
		logger.InfoContext(ctx, "request failed", "procedure", procedure, "code", code.String(), "error", appErr.Err)
	}
	connectErr := connect.NewError(code, errors.New(appErr.Message))
	if appErr.DeploymentID != "" {
		if detail, err := connect.NewErrorDetail(&dokkuexecv1.DeploymentInProgress{DeploymentId: appErr.DeploymentID}); err == nil {
			connectErr.AddDetail(detail)
		}
	}
	return connectErr
}

// fromConnect turns an error from another service's Connect client into an
// app.Error. Messages of caller errors (not found, invalid, rejected) are
// kept, because those services write them for callers. Failures of the call
// itself become Unavailable or Internal with a message of DokkuExec's own.
func fromConnect(service string, err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeNotFound:
		return &app.Error{Kind: app.KindNotFound, Message: connectMessage(err), Err: err}
	case connect.CodeInvalidArgument:
		return &app.Error{Kind: app.KindInvalidArgument, Message: connectMessage(err), Err: err}
	case connect.CodeFailedPrecondition:
		return &app.Error{Kind: app.KindFailedPrecondition, Message: connectMessage(err), Err: err}
	case connect.CodeAlreadyExists:
		return &app.Error{Kind: app.KindAlreadyExists, Message: connectMessage(err), Err: err}
	case connect.CodeResourceExhausted:
		// Tenancy's message names the plan and the limit.
		return &app.Error{Kind: app.KindResourceExhausted, Message: connectMessage(err), Err: err}
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		// DokkuExec's own service identity was refused: an operator
		// must fix its client credentials or scopes.
		return &app.Error{Kind: app.KindInternal, Message: "DokkuExec is not authorized to call the " + service + " service; an operator must check its client credentials", Err: err}
	case connect.CodeCanceled:
		return &app.Error{Kind: app.KindCanceled, Message: "the request was canceled", Err: err}
	case connect.CodeDeadlineExceeded:
		return &app.Error{Kind: app.KindDeadlineExceeded, Message: "the " + service + " service timed out; retry later", Err: err}
	}
	return &app.Error{Kind: app.KindUnavailable, Message: "the " + service + " service is unavailable; retry later", Err: err}
}

func connectMessage(err error) string {
	var connectErr *connect.Error
	if errors.As(err, &connectErr) {
		return connectErr.Message()
	}
	return err.Error()
}

// validUTF8 replaces invalid UTF-8, which a protobuf string cannot carry,
// with U+FFFD.
func validUTF8(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}
