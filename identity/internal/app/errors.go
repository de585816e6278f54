// Package app holds Identity's use cases: issuing, exchanging, revoking and
// introspecting access tokens, and managing clients and signing keys. The stores it needs are the
// interfaces declared beside each use case.
package app

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// OAuth error codes of RFC 6749 sections 5.2 and 4.1.2.1, RFC 8707 section 2 and RFC 8693
// section 2.2.2.
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeInvalidGrant         = "invalid_grant"
	ErrCodeUnauthorizedClient   = "unauthorized_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeInvalidScope         = "invalid_scope"
	ErrCodeInvalidTarget        = "invalid_target"
	ErrCodeServerError          = "server_error"
	// ErrCodeTemporarilyUnavailable is defined for the authorization
	// endpoint (RFC 6749 section 4.1.2.1); the token endpoint uses it, with
	// status 503, when a service it depends on is unreachable.
	ErrCodeTemporarilyUnavailable = "temporarily_unavailable"
)

// OAuthError is a token endpoint error. Description goes to the client; Err
// is the detail for the log only.
type OAuthError struct {
	Code        string
	Description string
	Err         error
	// RetryAfter, when set, marks a rate-limited request: the endpoint
	// responds 429 with a Retry-After header.
	RetryAfter time.Duration
}

func (e *OAuthError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Err)
	}
	return e.Code + ": " + e.Description
}

func (e *OAuthError) Unwrap() error { return e.Err }

func oauthError(code, description string, err error) *OAuthError {
	return &OAuthError{Code: code, Description: description, Err: err}
}

// ErrClientNotFound is returned by a ClientStore for an unknown client id.
var ErrClientNotFound = errors.New("client not found")

// InvalidArgumentError is an error caused by a request's values; its text is
// safe to return to the caller.
type InvalidArgumentError struct {
	Err error
}

func (e *InvalidArgumentError) Error() string { return e.Err.Error() }

func (e *InvalidArgumentError) Unwrap() error { return e.Err }

func invalidArgument(err error) error {
	return &InvalidArgumentError{Err: err}
}

// NotFoundError is an error for a named value that does not exist; its text
// is safe to return to the caller.
type NotFoundError struct {
	Err error
}

func (e *NotFoundError) Error() string { return e.Err.Error() }

func (e *NotFoundError) Unwrap() error { return e.Err }

// RateLimitedError returns the error for a request over its rate limit.
// RFC 6749 defines no error code for it, so it is an invalid_request.
func RateLimitedError(retryAfter time.Duration) *OAuthError {
	seconds := int(math.Ceil(retryAfter.Seconds()))
	return &OAuthError{
		Code:        ErrCodeInvalidRequest,
		Description: fmt.Sprintf("rate limit exceeded; retry after %d s", seconds),
		RetryAfter:  time.Duration(seconds) * time.Second,
	}
}

// UnavailableError is an error caused by a dependency that is down; its
// text is safe to return to the caller and says what to do.
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string { return e.Err.Error() }

func (e *UnavailableError) Unwrap() error { return e.Err }
