package app

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/identity/internal/domain"
)

// Reasons a client authentication at the token endpoint fails. They are
// the reason label of dokkumcp_identity_client_auth_failures_total and the
// reason argument of the audit event; the client only ever receives
// invalid_client.
const (
	AuthFailureMissingCredentials = "missing_credentials"
	AuthFailureUnknownClient      = "unknown_client"
	AuthFailureWrongSecret        = "wrong_secret"
	// AuthFailureWrongMethod: a secret for a client registered with a
	// public key, or an assertion for a client without one.
	AuthFailureWrongMethod       = "wrong_auth_method"
	AuthFailureDisabledClient    = "disabled_client"
	AuthFailureInvalidAssertion  = "invalid_assertion"
	AuthFailureReplayedAssertion = "replayed_assertion"
	// AuthFailureRateLimited: the client authenticated but was over its
	// rate limit.
	AuthFailureRateLimited = "rate_limited"
)

// Audit operations of failed authentications at the OAuth endpoints.
const (
	OperationToken      = "identity.token"
	OperationRevoke     = "identity.revoke"
	OperationIntrospect = "identity.introspect"
)

// authFailure is a failed client authentication: the OAuth error that
// the response carries, the reason, and the client when the request named
// a known one.
type authFailure struct {
	*OAuthError
	reason string
	client domain.Client
}

func (e *authFailure) Unwrap() error { return e.OAuthError }

// authMethodNames are the token_endpoint_auth_method names (RFC 8414).
var authMethodNames = map[ClientAuthMethod]string{
	ClientAuthNone:          "none",
	ClientAuthBasic:         "client_secret_basic",
	ClientAuthPost:          "client_secret_post",
	ClientAuthPrivateKeyJWT: "private_key_jwt",
}

// recordAuthFailure counts a failed authentication and, when the request
// named a known client of a tenant, queues an event of operation for that
// tenant's ledger. Failures of unknown clients and of platform clients have no
// ledger: they are counted here and logged by the HTTP adapter.
func (t *Tokens) recordAuthFailure(ctx context.Context, operation string, req ClientCredentials, err error) {
	failure, ok := err.(*authFailure)
	if !ok {
		return
	}
	t.metrics.authFailed(ctx, failure.reason)
	if failure.reason == AuthFailureRateLimited {
		t.CountRateLimited(ctx, "client")
	}
	if failure.client.TenantID == "" {
		return
	}
	t.auditor.Record(ctx, AuditEvent{
		TenantID:  failure.client.TenantID,
		Subject:   failure.client.ID,
		ClientID:  failure.client.ID,
		Operation: operation,
		Target:    failure.client.ID,
		Arguments: map[string]any{
			"auth_method":    authMethodNames[req.AuthMethod],
			"reason":         failure.reason,
			"source_address": req.SourceAddress,
		},
		Result: resultOf(failure.OAuthError),
	})
}

// resultOf is the audit result of a token endpoint error: rate_limited, or
// the OAuth error code.
func resultOf(err *OAuthError) string {
	if err.RetryAfter > 0 {
		return AuthFailureRateLimited
	}
	return err.Code
}

// tokenMetrics are Identity's token counters:
//   - dokkumcp_identity_tokens_issued_total (grant_type: client_credentials,
//     token_exchange or service)
//   - dokkumcp_identity_client_auth_failures_total (reason, one of the
//     AuthFailure constants)
//   - dokkumcp_identity_rate_limited_total (limit: client or address)
//
// A nil *tokenMetrics records nothing.
type tokenMetrics struct {
	issued       metric.Int64Counter
	authFailures metric.Int64Counter
	rateLimited  metric.Int64Counter
}

// Measure makes t count issued tokens and failed authentications on meter.
func (t *Tokens) Measure(meter metric.Meter) error {
	issued, err := meter.Int64Counter("dokkumcp_identity_tokens_issued",
		metric.WithDescription("Access tokens issued, by grant type (client_credentials, token_exchange, service)."))
	if err != nil {
		return err
	}
	authFailures, err := meter.Int64Counter("dokkumcp_identity_client_auth_failures",
		metric.WithDescription("Failed client authentications at the token endpoint, by reason."))
	if err != nil {
		return err
	}
	rateLimited, err := meter.Int64Counter("dokkumcp_identity_rate_limited",
		metric.WithDescription("Token, revocation and introspection requests rejected by a rate limit, by limit (client, address)."))
	if err != nil {
		return err
	}
	t.metrics = &tokenMetrics{issued: issued, authFailures: authFailures, rateLimited: rateLimited}
	return nil
}

// CountRateLimited counts a request rejected by limit, "client" or
// "address".
func (t *Tokens) CountRateLimited(ctx context.Context, limit string) {
	if t.metrics == nil {
		return
	}
	t.metrics.rateLimited.Add(ctx, 1, metric.WithAttributes(attribute.String("limit", limit)))
}

func (m *tokenMetrics) tokenIssued(ctx context.Context, grantType string) {
	if m == nil {
		return
	}
	m.issued.Add(ctx, 1, metric.WithAttributes(attribute.String("grant_type", grantType)))
}

func (m *tokenMetrics) authFailed(ctx context.Context, reason string) {
	if m == nil {
		return
	}
	m.authFailures.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
}
