package app

import (
	"errors"
	"fmt"
)

// Kind classifies an Error the way callers must react to it. The RPC adapter
// maps each kind to the Connect code of the same name.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalidArgument
	KindNotFound
	KindAlreadyExists
	KindPermissionDenied
	KindFailedPrecondition
	KindResourceExhausted
	KindUnavailable
	KindDeadlineExceeded
	KindCanceled
	// KindAborted is a conflict with work in progress, such as a deploy
	// that holds the app's deploy lock.
	KindAborted
)

// Error is a failure whose Message is safe to return to the caller: it
// names the value and the fix, and never carries config values, SQL or other
// tenants' data. Err holds the detail for logs.
type Error struct {
	Kind    Kind
	Message string
	Err     error
	// DeploymentID names the running deployment an Aborted
	// CreateDeployment conflicts with.
	DeploymentID string
}

// String returns the kind's name as a Connect code, for example
// permission_denied.
func (k Kind) String() string {
	switch k {
	case KindInvalidArgument:
		return "invalid_argument"
	case KindNotFound:
		return "not_found"
	case KindAlreadyExists:
		return "already_exists"
	case KindPermissionDenied:
		return "permission_denied"
	case KindFailedPrecondition:
		return "failed_precondition"
	case KindResourceExhausted:
		return "resource_exhausted"
	case KindUnavailable:
		return "unavailable"
	case KindDeadlineExceeded:
		return "deadline_exceeded"
	case KindCanceled:
		return "canceled"
	case KindAborted:
		return "aborted"
	}
	return "internal"
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error of kind with a formatted message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err's first Error, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// HostKeyChangedError is returned by an Executor when the host presents an
// SSH host key other than the one pinned in Tenancy. Nothing is sent to such
// a host.
type HostKeyChangedError struct {
	Host string
	// Expected and Received are SHA256 fingerprints.
	Expected string
	Received string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("SSH host key of host %q changed: expected %s, received %s; if the host was reinstalled or its key rotated, re-pin the new key with RegisterHost, otherwise treat the host as compromised",
		e.Host, e.Expected, e.Received)
}
