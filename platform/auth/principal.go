// Package auth verifies Identity's access tokens and carries the verified
// caller through a request. It holds the mechanism only: which permission a
// method needs is declared in the proto contracts, and which permissions a
// role grants is decided by Identity when it issues the token.
package auth

import (
	"context"
	"slices"
	"strings"
)

// Principal is the verified caller of a request.
type Principal struct {
	// Subject is the token's sub: the client id for client-credentials tokens.
	Subject  string
	ClientID string
	// TenantID is empty for platform service identities.
	TenantID string
	Scopes   []string
	// Actor is the client that exchanged the token (RFC 8693 act.sub), or "".
	Actor    string
	Audience []string
	TokenID  string
	// Token is the raw bearer token; it is needed for token exchange and must
	// never be logged.
	Token string
}

// HasScope reports whether the principal's token carries scope.
func (p *Principal) HasScope(scope string) bool {
	return slices.Contains(p.Scopes, scope)
}

// Scope returns the scopes joined as in the token's scope claim.
func (p *Principal) Scope() string {
	return strings.Join(p.Scopes, " ")
}

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal stored by the auth interceptor.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
