package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// Grant types and token types the token endpoint accepts.
const (
	GrantTypeClientCredentials = "client_credentials"
	GrantTypeTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken       = "urn:ietf:params:oauth:token-type:access_token"
)

// MaxTokenTTL caps the lifetime of every access token.
const MaxTokenTTL = 15 * time.Minute

// subjectTokenLeeway is the clock skew tolerated on a subject token's exp,
// nbf and iat. The token was issued here, so only the skew between replicas
// counts.
const subjectTokenLeeway = 5 * time.Second

// ClientAuthMethod is the method a client used to send its credentials (RFC
// 6749 section 2.3.1).
type ClientAuthMethod int

// Client authentication methods.
const (
	ClientAuthNone ClientAuthMethod = iota
	ClientAuthBasic
	ClientAuthPost
	// ClientAuthPrivateKeyJWT is a JWT signed with the client's key (RFC
	// 7523 section 2.2, OpenID Connect Core section 9).
	ClientAuthPrivateKeyJWT
)

// ClientCredentials are the credentials a client sent to authenticate.
type ClientCredentials struct {
	// ClientID is empty for private_key_jwt when the request named no
	// client_id; the assertion's subject names the client then.
	ClientID     string
	ClientSecret string
	// Assertion is the client_assertion of private_key_jwt.
	Assertion  string
	AuthMethod ClientAuthMethod
	// SourceAddress is the IP address the request came from; the audit
	// event of a failed authentication records it.
	SourceAddress string
}

// TokenRequest is a parsed token endpoint request.
type TokenRequest struct {
	ClientCredentials
	GrantType string
	Resource  string
	// Scope is the space-separated scope parameter. An empty scope requests
	// every scope the grant allows.
	Scope            string
	SubjectToken     string
	SubjectTokenType string
}

// TokenResponse is a successful token response (RFC 6749 section 5.1, RFC
// 8693 section 2.2.1).
type TokenResponse struct {
	AccessToken     string
	ExpiresIn       int64
	Scope           string
	IssuedTokenType string
}

// Tokens issues access tokens.
type Tokens struct {
	issuer      string
	ttl         time.Duration
	clients     ClientStore
	revocations RevocationStore
	keyring     *Keyring
	keys        *SigningKeys
	policy      *domain.Policy
	logger      *slog.Logger
	now         func() time.Time
	parser      *jwt.Parser
	// clientLimit limits the requests of each authenticated client.
	clientLimit *RateLimiter
	// plans, when set, caps the scopes of tenant tokens by the tenant's
	// plan.
	plans *TenantPlans
	// auditor, when set, records failed client authentications in the
	// ledger of the client's tenant.
	auditor *Auditor
	metrics *tokenMetrics
}

// NewTokens returns the token use cases. ttl is capped at MaxTokenTTL.
func NewTokens(issuer string, ttl time.Duration, clients ClientStore, revocations RevocationStore, keyring *Keyring, keys *SigningKeys, policy *domain.Policy, logger *slog.Logger) *Tokens {
	if ttl <= 0 || ttl > MaxTokenTTL {
		ttl = MaxTokenTTL
	}
	return &Tokens{
		issuer:      issuer,
		ttl:         ttl,
		clients:     clients,
		revocations: revocations,
		keyring:     keyring,
		keys:        keys,
		policy:      policy,
		logger:      logger,
		now:         time.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(subjectTokenLeeway),
		),
	}
}

// LimitClients limits the token, revocation and introspection requests of
// each client once it has authenticated. Charging only authenticated
// requests keeps a caller who has only a client id from using up that
// client's budget. Unauthenticated floods meet the per-address limit of the
// HTTP adapter instead.
func (t *Tokens) LimitClients(limiter *RateLimiter) {
	t.clientLimit = limiter
}

// CapByPlan makes every token of a tenant client carry only the
// permissions the tenant's plan allows, and refuses tokens to clients of
// tenants that are not active. Without it, only the role narrows scopes.
func (t *Tokens) CapByPlan(plans *TenantPlans) {
	t.plans = plans
}

// AuditTo makes t record failed client authentications with auditor.
func (t *Tokens) AuditTo(auditor *Auditor) {
	t.auditor = auditor
}

// ServiceToken mints a token for Identity's own calls to the service at
// audience, with the permissions in scope. It is signed like every other
// token and lives for ServiceTokenTTL.
func (t *Tokens) ServiceToken(ctx context.Context, audience, scope string) (string, error) {
	now := t.now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   ServiceSubject,
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(min(ServiceTokenTTL, t.ttl))),
		},
		ClientID: ServiceSubject,
		Scope:    scope,
	}
	resp, err := t.issue(ctx, &claims, now)
	if err != nil {
		return "", err
	}
	t.metrics.tokenIssued(ctx, "service")
	return resp.AccessToken, nil
}

// capByPlan returns the permissions of granted that the plan of tenantID
// allows. A client without a tenant, or a server without plans, keeps
// granted. RFC 6749 has no code for a client whose tenant is suspended or
// deleted, so such a client gets unauthorized_client naming the status.
// When the plan cannot be read, the request fails with
// temporarily_unavailable (503), so that no token escapes its plan while
// Tenancy is unreachable.
func (t *Tokens) capByPlan(ctx context.Context, tenantID string, granted []string) ([]string, *domain.TenantPlan, error) {
	if t.plans == nil || tenantID == "" {
		return granted, nil, nil
	}
	plan, err := t.plans.Plan(ctx, tenantID)
	switch {
	case errors.Is(err, ErrTenantNotFound):
		plan = domain.TenantPlan{TenantID: tenantID, Status: domain.TenantDeleted}
	case err != nil:
		return nil, nil, oauthError(ErrCodeTemporarilyUnavailable, fmt.Sprintf("the plan of tenant %s cannot be read now; retry later", tenantID), err)
	}
	if err := plan.CheckActive(); err != nil {
		return nil, nil, oauthError(ErrCodeUnauthorizedClient, err.Error(), nil)
	}
	return plan.CapPermissions(granted), &plan, nil
}

// planScopeError is the invalid_scope error for a request whose scopes the
// role or the plan do not allow.
func planScopeError(subject string, plan *domain.TenantPlan, allowed []string) error {
	description := fmt.Sprintf("none of the requested scopes is granted to %s; it may request %s", subject, strings.Join(allowed, " "))
	if plan != nil && plan.ReadOnly {
		description = fmt.Sprintf("none of the requested scopes is granted to %s: tenant %s is on the read-only %s plan; it may request %s", subject, plan.TenantID, plan.Plan, strings.Join(allowed, " "))
	}
	return oauthError(ErrCodeInvalidScope, description, nil)
}

// Token handles one token endpoint request. Every error is an *OAuthError.
func (t *Tokens) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	switch req.GrantType {
	case GrantTypeClientCredentials, GrantTypeTokenExchange:
	case "":
		return nil, oauthError(ErrCodeInvalidRequest, "missing grant_type: use client_credentials or "+GrantTypeTokenExchange, nil)
	default:
		return nil, oauthError(ErrCodeUnsupportedGrantType, fmt.Sprintf("grant_type %q is not supported: use client_credentials or %s", req.GrantType, GrantTypeTokenExchange), nil)
	}

	client, err := t.authenticate(ctx, req.ClientCredentials, OperationToken)
	if err != nil {
		return nil, err
	}

	if req.GrantType == GrantTypeTokenExchange {
		return t.exchange(ctx, client, req)
	}
	return t.clientCredentials(ctx, client, req)
}

// maxClientIDLength bounds a client id; real ids are at most 28 bytes.
const maxClientIDLength = 256

// authenticate checks the client's credentials, then charges the client's
// rate limit. Every failure is counted and, for a client of a tenant,
// recorded in that tenant's audit ledger as operation.
func (t *Tokens) authenticate(ctx context.Context, req ClientCredentials, operation string) (domain.Client, error) {
	client, err := t.authenticateCredentials(ctx, req)
	if err == nil {
		if ok, retryAfter := t.clientLimit.Allow(client.ID); !ok {
			err = &authFailure{OAuthError: RateLimitedError(retryAfter), reason: AuthFailureRateLimited, client: client}
		}
	}
	if err != nil {
		t.recordAuthFailure(ctx, operation, req, err)
		return domain.Client{}, err
	}
	return client, nil
}

// authenticateCredentials checks a client secret or assertion. Every secret
// failure gets the same description, so a caller cannot tell an unknown
// client from a wrong secret.
func (t *Tokens) authenticateCredentials(ctx context.Context, req ClientCredentials) (domain.Client, error) {
	const description = "client authentication failed: check the client id and secret"
	fail := func(client domain.Client, reason string, err error) (domain.Client, error) {
		return domain.Client{}, &authFailure{OAuthError: oauthError(ErrCodeInvalidClient, description, err), reason: reason, client: client}
	}
	if req.AuthMethod == ClientAuthPrivateKeyJWT {
		return t.authenticateAssertion(ctx, req)
	}
	if req.AuthMethod == ClientAuthNone || req.ClientID == "" {
		return domain.Client{}, &authFailure{
			OAuthError: oauthError(ErrCodeInvalidClient, "missing client credentials: send client_id and client_secret with HTTP Basic authentication or in the request body", nil),
			reason:     AuthFailureMissingCredentials,
		}
	}

	// PostgreSQL rejects NUL and invalid UTF-8 in text, which would surface as
	// a store failure; such an id cannot name a client, so it fails like an
	// unknown one.
	if !utf8.ValidString(req.ClientID) || strings.ContainsRune(req.ClientID, 0) || len(req.ClientID) > maxClientIDLength {
		t.keyring.SecretMatches(req.ClientSecret, make([]byte, 32))
		return fail(domain.Client{}, AuthFailureUnknownClient, fmt.Errorf("client id of %d bytes is not valid UTF-8 text", len(req.ClientID)))
	}

	client, hash, err := t.clients.ClientByID(ctx, req.ClientID)
	switch {
	case errors.Is(err, ErrClientNotFound):
		// Hash anyway so an unknown id costs as much time as a known one.
		t.keyring.SecretMatches(req.ClientSecret, make([]byte, 32))
		return fail(domain.Client{}, AuthFailureUnknownClient, fmt.Errorf("client %q not found", req.ClientID))
	case err != nil:
		return domain.Client{}, oauthError(ErrCodeServerError, "the client store is unavailable; retry later", err)
	}
	if !t.keyring.SecretMatches(req.ClientSecret, hash) {
		return fail(client, AuthFailureWrongSecret, fmt.Errorf("wrong secret for client %q", req.ClientID))
	}
	if client.PublicKey != nil {
		return fail(client, AuthFailureWrongMethod, fmt.Errorf("client %q has a public key and must use private_key_jwt", req.ClientID))
	}
	if client.Disabled {
		return fail(client, AuthFailureDisabledClient, fmt.Errorf("client %q is disabled", req.ClientID))
	}
	return client, nil
}

func (t *Tokens) clientCredentials(ctx context.Context, client domain.Client, req TokenRequest) (*TokenResponse, error) {
	if req.Resource == "" {
		return nil, oauthError(ErrCodeInvalidTarget, "missing resource: name the audience of the token (RFC 8707), for example urn:dokkumcp:dokkuexec", nil)
	}
	if !t.policy.MayRequest(client, req.Resource) {
		return nil, oauthError(ErrCodeInvalidTarget, fmt.Sprintf("client %q may not request tokens for resource %q", client.ID, req.Resource), nil)
	}
	allowed, plan, err := t.capByPlan(ctx, client.TenantID, client.Role.Permissions())
	if err != nil {
		return nil, err
	}
	scopes, err := domain.NarrowScopes(allowed, req.Scope)
	if err != nil || len(scopes) == 0 {
		return nil, planScopeError(fmt.Sprintf("client %q", client.ID), plan, allowed)
	}

	now := t.now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   client.ID,
			Audience:  jwt.ClaimStrings{req.Resource},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		ClientID: client.ID,
		Scope:    strings.Join(scopes, " "),
		TenantID: client.TenantID,
	}
	resp, err := t.issue(ctx, &claims, now)
	if err != nil {
		return nil, err
	}

	t.metrics.tokenIssued(ctx, "client_credentials")
	t.logger.InfoContext(ctx, "access token issued",
		"grant_type", req.GrantType, "client_id", client.ID, "tenant_id", client.TenantID,
		"audience", req.Resource, "scope", resp.Scope, "jti", claims.ID)
	return resp, nil
}

func (t *Tokens) exchange(ctx context.Context, actor domain.Client, req TokenRequest) (*TokenResponse, error) {
	if !actor.Role.HasPermission(domain.PermissionTokenExchange) {
		return nil, oauthError(ErrCodeUnauthorizedClient, fmt.Sprintf("client %q may not exchange tokens: it lacks the %s permission", actor.ID, domain.PermissionTokenExchange), nil)
	}
	if req.SubjectToken == "" {
		return nil, oauthError(ErrCodeInvalidRequest, "missing subject_token: send the access token to exchange", nil)
	}
	if req.SubjectTokenType != TokenTypeAccessToken {
		return nil, oauthError(ErrCodeInvalidRequest, fmt.Sprintf("subject_token_type %q is not supported: use %s", req.SubjectTokenType, TokenTypeAccessToken), nil)
	}
	if req.Resource == "" {
		return nil, oauthError(ErrCodeInvalidTarget, "missing resource: name the audience of the exchanged token, for example urn:dokkumcp:dokkuexec", nil)
	}
	if !t.policy.MayExchangeFor(actor, req.Resource) {
		return nil, oauthError(ErrCodeInvalidTarget, fmt.Sprintf("client %q may not exchange tokens for resource %q", actor.ID, req.Resource), nil)
	}

	// RFC 8693 section 2.2.2: a subject token that is invalid or
	// unacceptable by policy is an invalid_request.
	subject, err := t.verifySubjectToken(ctx, req.SubjectToken)
	if err != nil {
		return nil, oauthError(ErrCodeInvalidRequest, "invalid subject_token: send a current access token issued by this server", err)
	}
	if !t.policy.MayExchangeSubject(actor, subject.Audience) {
		return nil, oauthError(ErrCodeInvalidRequest, fmt.Sprintf("client %q may not exchange a subject token for audience %q", actor.ID, strings.Join(subject.Audience, " ")), nil)
	}
	if err := t.checkSubjectClient(ctx, subject); err != nil {
		return nil, err
	}
	allowed, plan, err := t.capByPlan(ctx, subject.TenantID, strings.Fields(subject.Scope))
	if err != nil {
		return nil, err
	}
	scopes, err := domain.NarrowScopes(allowed, req.Scope)
	if err != nil || len(scopes) == 0 {
		if plan != nil && plan.ReadOnly {
			return nil, planScopeError("the subject token", plan, allowed)
		}
		return nil, oauthError(ErrCodeInvalidScope, "none of the requested scopes is in the subject token; request a subset of its scope", nil)
	}

	now := t.now()
	expiry := now.Add(t.ttl)
	if subject.ExpiresAt.Before(expiry) {
		expiry = subject.ExpiresAt.Time
	}
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject.Subject,
			Audience:  jwt.ClaimStrings{req.Resource},
			ExpiresAt: jwt.NewNumericDate(expiry),
		},
		ClientID: subject.ClientID,
		Scope:    strings.Join(scopes, " "),
		TenantID: subject.TenantID,
		Act:      &auth.Actor{Subject: actor.ID},
	}
	resp, err := t.issue(ctx, &claims, now)
	if err != nil {
		return nil, err
	}
	resp.IssuedTokenType = TokenTypeAccessToken

	t.metrics.tokenIssued(ctx, "token_exchange")
	t.logger.InfoContext(ctx, "access token exchanged",
		"client_id", subject.ClientID, "actor", actor.ID, "tenant_id", subject.TenantID,
		"audience", req.Resource, "scope", resp.Scope, "jti", claims.ID, "subject_jti", subject.ID)
	return resp, nil
}

// verifySubjectToken checks a token issued here: signature with a key of
// this server, typ, issuer and times. The audience is left to the policy.
func (t *Tokens) verifySubjectToken(ctx context.Context, raw string) (*auth.Claims, error) {
	var claims auth.Claims
	_, err := t.parser.ParseWithClaims(raw, &claims, func(token *jwt.Token) (any, error) {
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
	if claims.Subject == "" || claims.ClientID == "" || claims.ID == "" {
		return nil, errors.New("sub, client_id and jti are required")
	}
	if claims.Act != nil {
		return nil, errors.New("the subject token was itself exchanged; exchange the caller's original token")
	}
	return &claims, nil
}

// checkSubjectClient rejects a subject token that has been revoked or whose
// client has since been disabled or deleted.
func (t *Tokens) checkSubjectClient(ctx context.Context, subject *auth.Claims) error {
	revoked, err := t.revocations.TokenRevoked(ctx, subject.ID)
	if err != nil {
		return oauthError(ErrCodeServerError, "the revocation store is unavailable; retry later", err)
	}
	if revoked {
		return oauthError(ErrCodeInvalidRequest, "invalid subject_token: it has been revoked", nil)
	}
	return t.checkClientEnabled(ctx, subject.ClientID, subject.TenantID)
}

// checkClientEnabled rejects a token whose client no longer exists, is
// disabled or belongs to another tenant than the token names.
func (t *Tokens) checkClientEnabled(ctx context.Context, clientID, tenantID string) error {
	client, _, err := t.clients.ClientByID(ctx, clientID)
	switch {
	case errors.Is(err, ErrClientNotFound):
		return oauthError(ErrCodeInvalidRequest, "invalid subject_token: its client no longer exists", nil)
	case err != nil:
		return oauthError(ErrCodeServerError, "the client store is unavailable; retry later", err)
	case client.Disabled:
		return oauthError(ErrCodeInvalidRequest, "invalid subject_token: its client is disabled", nil)
	case client.TenantID != tenantID:
		return oauthError(ErrCodeInvalidRequest, "invalid subject_token: its tenant does not match its client", fmt.Errorf("client %q has tenant %q, token has %q", client.ID, client.TenantID, tenantID))
	}
	return nil
}

// issue fills iss, iat, nbf and jti, then signs the token with the active
// key (RFC 9068: typ at+jwt).
func (t *Tokens) issue(ctx context.Context, claims *auth.Claims, now time.Time) (*TokenResponse, error) {
	claims.Issuer = t.issuer
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.NotBefore = jwt.NewNumericDate(now)
	claims.ID = hex.EncodeToString(randomBytes(16))

	kid, key, err := t.keys.Signer(ctx)
	if err != nil {
		return nil, oauthError(ErrCodeServerError, "no signing key is available; retry later", err)
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = kid
	signed, err := token.SignedString(key)
	if err != nil {
		return nil, oauthError(ErrCodeServerError, "signing the token failed; retry later", err)
	}

	expiresIn := int64(claims.ExpiresAt.Sub(now).Seconds())
	return &TokenResponse{AccessToken: signed, ExpiresIn: max(expiresIn, 0), Scope: claims.Scope}, nil
}
