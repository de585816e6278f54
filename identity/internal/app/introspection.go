package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// permissionPlatformAdmin lets the operator revoke any client's token.
const permissionPlatformAdmin = "platform:admin"

// Revoke revokes an access token (RFC 7009). The token must have been
// issued to the authenticated client, or exchanged by it; the operator may
// revoke any token. A token that is invalid, expired, unknown or another
// client's is left alone and the call still succeeds, as RFC 7009 section
// 2.2 has it for invalid tokens, so the endpoint reveals nothing to a
// caller about tokens it does not hold. Errors are *OAuthError.
func (t *Tokens) Revoke(ctx context.Context, creds ClientCredentials, raw string) error {
	client, err := t.authenticate(ctx, creds, OperationRevoke)
	if err != nil {
		return err
	}
	if raw == "" {
		return oauthError(ErrCodeInvalidRequest, "missing token: send the access token to revoke", nil)
	}

	claims, err := t.parseOwnToken(ctx, raw, false)
	if err != nil {
		t.logger.InfoContext(ctx, "revocation of an invalid token ignored", "client_id", client.ID, "error", err)
		return nil
	}
	if !t.now().Before(claims.ExpiresAt.Time) {
		return nil
	}
	actor := ""
	if claims.Act != nil {
		actor = claims.Act.Subject
	}
	if claims.ClientID != client.ID && actor != client.ID && !client.Role.HasPermission(permissionPlatformAdmin) {
		t.logger.WarnContext(ctx, "revocation of another client's token ignored", "client_id", client.ID, "token_client_id", claims.ClientID, "jti", claims.ID)
		return nil
	}

	if err := t.revocations.RevokeToken(ctx, claims.ID, claims.ClientID, claims.ExpiresAt.Time); err != nil {
		return oauthError(ErrCodeServerError, "the revocation store is unavailable; retry later", err)
	}
	t.logger.InfoContext(ctx, "access token revoked", "client_id", client.ID, "token_client_id", claims.ClientID, "tenant_id", claims.TenantID, "jti", claims.ID)
	return nil
}

// Introspection is the result of an introspection request (RFC 7662). Claims
// is nil when the token is not active.
type Introspection struct {
	Active bool
	Claims *auth.Claims
}

// Introspect reports to a client holding token:introspect whether a token
// is active: validly signed here, current, not revoked, and of a client and an
// actor that exist and are enabled. Errors are *OAuthError.
func (t *Tokens) Introspect(ctx context.Context, creds ClientCredentials, raw string) (Introspection, error) {
	client, err := t.authenticate(ctx, creds, OperationIntrospect)
	if err != nil {
		return Introspection{}, err
	}
	if !client.Role.HasPermission(domain.PermissionTokenIntrospect) {
		return Introspection{}, oauthError(ErrCodeUnauthorizedClient, fmt.Sprintf("client %q may not introspect tokens: it lacks the %s permission", client.ID, domain.PermissionTokenIntrospect), nil)
	}
	if raw == "" {
		return Introspection{}, oauthError(ErrCodeInvalidRequest, "missing token: send the access token to introspect", nil)
	}

	claims, err := t.parseOwnToken(ctx, raw, true)
	if err != nil {
		t.logger.DebugContext(ctx, "introspected token is not valid", "client_id", client.ID, "error", err)
		return Introspection{}, nil
	}
	revoked, err := t.revocations.TokenRevoked(ctx, claims.ID)
	if err != nil {
		return Introspection{}, oauthError(ErrCodeServerError, "the revocation store is unavailable; retry later", err)
	}
	if revoked {
		return Introspection{}, nil
	}
	if err := t.checkClientEnabled(ctx, claims.ClientID, claims.TenantID); err != nil {
		return Introspection{}, inactiveUnlessServerError(err)
	}
	if claims.Act != nil {
		if err := t.checkClientEnabled(ctx, claims.Act.Subject, ""); err != nil {
			return Introspection{}, inactiveUnlessServerError(err)
		}
	}
	return Introspection{Active: true, Claims: claims}, nil
}

func inactiveUnlessServerError(err error) error {
	var oauthErr *OAuthError
	if errors.As(err, &oauthErr) && oauthErr.Code == ErrCodeServerError {
		return err
	}
	return nil
}

// parseOwnToken checks a token's signature against this server's published
// keys, its typ and its issuer, and with validateTimes its exp, nbf and iat.
func (t *Tokens) parseOwnToken(ctx context.Context, raw string, validateTimes bool) (*auth.Claims, error) {
	parser := t.parser
	if !validateTimes {
		parser = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithoutClaimsValidation())
	}

	var claims auth.Claims
	_, err := parser.ParseWithClaims(raw, &claims, func(token *jwt.Token) (any, error) {
		if typ, _ := token.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ)
		}
		kid, _ := token.Header["kid"].(string)
		key, ok := t.keys.PublicKey(ctx, kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return nil, err
	}
	if claims.Issuer != t.issuer {
		return nil, fmt.Errorf("issuer %q is not this server", claims.Issuer)
	}
	if claims.ID == "" || claims.ClientID == "" || claims.ExpiresAt == nil {
		return nil, errors.New("jti, client_id and exp are required")
	}
	return &claims, nil
}
