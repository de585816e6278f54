package domain

import "fmt"

// InvalidArgumentError is a value that a command cannot be built from. Its
// message names the value and the rule, so it is safe to return to callers.
type InvalidArgumentError struct {
	// Field names what the value is, for example "app name".
	Field string
	Value string
	// Rule describes a valid value.
	Rule string
	// Redact hides Value from the message, for config values.
	Redact bool
}

func (e *InvalidArgumentError) Error() string {
	if e.Redact {
		return fmt.Sprintf("invalid %s: %s", e.Field, e.Rule)
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Rule)
}
