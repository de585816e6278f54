package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/identity/internal/domain"
)

// ClientAssertionTypeJWTBearer is the client_assertion_type of
// private_key_jwt (RFC 7523 section 2.2).
const ClientAssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime caps exp - now of a client assertion, which bounds
// how long its jti must be remembered.
const MaxAssertionLifetime = 5 * time.Minute

// assertionLeeway is the clock skew tolerated on a client assertion's exp,
// nbf and iat: the client's clock is not ours.
const assertionLeeway = 30 * time.Second

// maxAssertionJTILength bounds the stored jti of an assertion.
const maxAssertionJTILength = 256

// authenticateAssertion checks a private_key_jwt client assertion (RFC 7523
// section 3): EdDSA signature with the client's registered key, iss = sub =
// client id, aud naming this server (its issuer or its token endpoint), an
// exp at most MaxAssertionLifetime ahead, and a jti the client has not used
// before. Every failure gets the same description.
func (t *Tokens) authenticateAssertion(ctx context.Context, creds ClientCredentials) (domain.Client, error) {
	const description = "client authentication failed: check the client assertion"
	// known is the client the assertion names, once it has been found.
	var known domain.Client
	reason := AuthFailureInvalidAssertion
	fail := func(err error) (domain.Client, error) {
		return domain.Client{}, &authFailure{OAuthError: oauthError(ErrCodeInvalidClient, description, err), reason: reason, client: known}
	}

	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(creds.Assertion, &unverified); err != nil {
		return fail(fmt.Errorf("client assertion is not a JWT: %w", err))
	}
	clientID := unverified.Subject
	if clientID == "" || !utf8.ValidString(clientID) || strings.ContainsRune(clientID, 0) || len(clientID) > maxClientIDLength {
		return fail(errors.New("client assertion has no valid sub"))
	}
	if creds.ClientID != "" && creds.ClientID != clientID {
		return fail(fmt.Errorf("client_id %q differs from the assertion's sub %q", creds.ClientID, clientID))
	}

	client, _, err := t.clients.ClientByID(ctx, clientID)
	switch {
	case errors.Is(err, ErrClientNotFound):
		reason = AuthFailureUnknownClient
		return fail(fmt.Errorf("client %q not found", clientID))
	case err != nil:
		return domain.Client{}, oauthError(ErrCodeServerError, "the client store is unavailable; retry later", err)
	}
	known = client
	if client.PublicKey == nil {
		reason = AuthFailureWrongMethod
		return fail(fmt.Errorf("client %q has no public key; it authenticates with its secret", clientID))
	}

	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(clientID),
		jwt.WithSubject(clientID),
		// The http adapter serves the token endpoint at /oauth2/token.
		jwt.WithAudience(t.issuer, t.issuer+"/oauth2/token"),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(assertionLeeway),
		jwt.WithTimeFunc(t.now),
	)
	if _, err := parser.ParseWithClaims(creds.Assertion, &claims, func(*jwt.Token) (any, error) {
		return client.PublicKey, nil
	}); err != nil {
		return fail(fmt.Errorf("client assertion of %q: %w", clientID, err))
	}
	if lifetime := claims.ExpiresAt.Sub(t.now()); lifetime > MaxAssertionLifetime {
		return fail(fmt.Errorf("client assertion of %q expires in %s, more than %s ahead", clientID, lifetime.Round(time.Second), MaxAssertionLifetime))
	}
	if claims.ID == "" || len(claims.ID) > maxAssertionJTILength || !utf8.ValidString(claims.ID) || strings.ContainsRune(claims.ID, 0) {
		return fail(fmt.Errorf("client assertion of %q has no valid jti", clientID))
	}

	// The jti is recorded before the disabled check, so an assertion cannot
	// be retried once the client is enabled again.
	first, err := t.clients.UseClientAssertion(ctx, clientID, claims.ID, claims.ExpiresAt.Add(assertionLeeway))
	if err != nil {
		return domain.Client{}, oauthError(ErrCodeServerError, "the client store is unavailable; retry later", err)
	}
	if !first {
		reason = AuthFailureReplayedAssertion
		return fail(fmt.Errorf("client assertion jti %q of %q was used before", claims.ID, clientID))
	}
	if client.Disabled {
		reason = AuthFailureDisabledClient
		return fail(fmt.Errorf("client %q is disabled", clientID))
	}
	return client, nil
}
