// Package domain holds Secrets' rules: which tenant and host ids it
// accepts, the SSH principal and key id a credential carries, and the
// authorized_keys line through which a Dokku host trusts the platform's
// SSH CA. It does no I/O.
package domain

import "fmt"

// InvalidError is a request value that breaks a rule. Its message is safe
// to show to the caller: it names the value and the fix.
type InvalidError struct {
	Message string
}

func (e *InvalidError) Error() string { return e.Message }

func invalid(format string, args ...any) error {
	return &InvalidError{Message: fmt.Sprintf(format, args...)}
}
