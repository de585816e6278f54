package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// RevocationStore persists revoked tokens and the disabled flag of clients.
// Every change advances the version of the revocation list.
type RevocationStore interface {
	// SetClientDisabled sets a client's disabled flag and returns the
	// client, or ErrClientNotFound.
	SetClientDisabled(ctx context.Context, clientID string, disabled bool) (domain.Client, error)
	// RevokeToken records a revoked token until its expiry. Revoking a token
	// twice keeps the first record.
	RevokeToken(ctx context.Context, jti, clientID string, expireTime time.Time) error
	// TokenRevoked reports whether the token with id jti is revoked.
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// RevocationList returns the unexpired revoked tokens, the disabled
	// clients and the list's version.
	RevocationList(ctx context.Context) (auth.RevocationList, error)
	// DeleteExpiredRevocations deletes the revoked tokens that expired
	// before before and returns how many it deleted.
	DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error)
}

// SetClientDisabled disables or enables a client. A disabled client gets no
// token, and verifiers reject the tokens it holds once they refresh the
// revocation list.
func (c *Clients) SetClientDisabled(ctx context.Context, clientID string, disabled bool) (domain.Client, error) {
	if clientID == "" {
		return domain.Client{}, invalidArgument(errors.New("missing client_id: name the client to disable or enable"))
	}
	if len(clientID) > maxClientIDLength {
		return domain.Client{}, invalidArgument(fmt.Errorf("invalid client_id: it is longer than %d bytes", maxClientIDLength))
	}

	start := time.Now()
	client, err := c.revocations.SetClientDisabled(ctx, clientID, disabled)
	if errors.Is(err, ErrClientNotFound) {
		return domain.Client{}, &NotFoundError{Err: fmt.Errorf("client %q not found; list a tenant's clients with ListClients", clientID)}
	}
	if err != nil {
		return domain.Client{}, err
	}

	c.logger.InfoContext(ctx, "client disabled flag set", "client_id", client.ID, "tenant_id", client.TenantID, "disabled", disabled)
	operation := OperationEnableClient
	if disabled {
		operation = OperationDisableClient
	}
	if err := c.auditChange(ctx, operation, client, start, nil); err != nil {
		return domain.Client{}, err
	}
	return client, nil
}

// RevocationList returns the list verifiers fetch.
func (t *Tokens) RevocationList(ctx context.Context) (auth.RevocationList, error) {
	return t.revocations.RevocationList(ctx)
}

// PruneRevocations deletes revoked tokens that no verifier accepts anymore,
// those expired longer ago than the verifiers' maximum leeway, and the ids
// of expired client assertions.
func (t *Tokens) PruneRevocations(ctx context.Context) error {
	deleted, err := t.revocations.DeleteExpiredRevocations(ctx, t.now().Add(-auth.MaxLeeway))
	if err != nil {
		return err
	}
	if deleted > 0 {
		t.logger.InfoContext(ctx, "expired revocations deleted", "count", deleted)
	}
	deleted, err = t.clients.DeleteExpiredAssertions(ctx, t.now())
	if err != nil {
		return err
	}
	if deleted > 0 {
		t.logger.InfoContext(ctx, "expired client assertion ids deleted", "count", deleted)
	}
	return nil
}
