// Package domain holds Tenancy's entities and the rules that keep them
// valid: tenant slugs and plans, host names, addresses, ports and pinned
// host keys. It does no I/O.
package domain

import "fmt"

// Kind classifies an Error so that adapters can map it to a transport code.
type Kind int

const (
	// KindInvalid marks a request value that breaks a rule.
	KindInvalid Kind = iota + 1
	// KindNotFound marks a tenant or host that does not exist.
	KindNotFound
	// KindAlreadyExists marks a slug or host name that is taken.
	KindAlreadyExists
	// KindFailedPrecondition marks a request that cannot succeed in the
	// current state, such as an ambiguous host selection.
	KindFailedPrecondition
	// KindResourceExhausted marks a request that would exceed a plan limit.
	KindResourceExhausted
)

// Error is a rule violation whose message is safe to show to the caller:
// it names the value and the fix.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error with a formatted message.
func Invalid(format string, args ...any) error {
	return invalid(format, args...)
}

// NotFound returns a KindNotFound error with a formatted message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// AlreadyExists returns a KindAlreadyExists error with a formatted message.
func AlreadyExists(format string, args ...any) error {
	return &Error{Kind: KindAlreadyExists, Message: fmt.Sprintf(format, args...)}
}

// FailedPrecondition returns a KindFailedPrecondition error with a formatted
// message.
func FailedPrecondition(format string, args ...any) error {
	return &Error{Kind: KindFailedPrecondition, Message: fmt.Sprintf(format, args...)}
}

// ResourceExhausted returns a KindResourceExhausted error with a formatted
// message.
func ResourceExhausted(format string, args ...any) error {
	return &Error{Kind: KindResourceExhausted, Message: fmt.Sprintf(format, args...)}
}
