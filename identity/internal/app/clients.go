package app

import (
	"context"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dokkumcp.dev/identity/internal/domain"
)

// ClientStore persists OAuth clients with the HMAC of their secret.
type ClientStore interface {
	// CreateClient inserts a new client; the id is set by the caller.
	CreateClient(ctx context.Context, client domain.Client, secretHash []byte) (domain.Client, error)
	// UpsertPlatformClient inserts or replaces a platform client, keeping
	// its create time.
	UpsertPlatformClient(ctx context.Context, client domain.Client, secretHash []byte) error
	// ClientByID returns a client and its secret hash, or ErrClientNotFound.
	ClientByID(ctx context.Context, id string) (domain.Client, []byte, error)
	// ListClients returns a tenant's clients, oldest first.
	ListClients(ctx context.Context, tenantID string) ([]domain.Client, error)
	// UseClientAssertion records the jti of a client's assertion until
	// expireTime; it returns false when the client used that jti before.
	UseClientAssertion(ctx context.Context, clientID, jti string, expireTime time.Time) (bool, error)
	// DeleteExpiredAssertions deletes assertion ids that expired before
	// before and returns how many it deleted.
	DeleteExpiredAssertions(ctx context.Context, before time.Time) (int64, error)
}

// PlatformClient is a service identity or the operator, configured at start
// with its secret.
type PlatformClient struct {
	Name   string
	Secret string
}

// MinPlatformSecretLength is the shortest secret accepted for a platform
// client, in characters; 32 base64 characters carry 192 random bits.
const MinPlatformSecretLength = 32

// Clients manages OAuth clients.
type Clients struct {
	store       ClientStore
	revocations RevocationStore
	keyring     *Keyring
	policy      *domain.Policy
	logger      *slog.Logger
	auditor     *Auditor
}

// NewClients returns the client use cases.
func NewClients(store ClientStore, revocations RevocationStore, keyring *Keyring, policy *domain.Policy, logger *slog.Logger) *Clients {
	return &Clients{store: store, revocations: revocations, keyring: keyring, policy: policy, logger: logger}
}

// ValidatePlatformClients checks the configured platform clients before any
// is stored.
func ValidatePlatformClients(clients []PlatformClient) error {
	seen := map[string]bool{}
	for _, c := range clients {
		if _, ok := domain.ServiceRole(c.Name); !ok {
			return fmt.Errorf("unknown service client %q: use one of %s", c.Name, strings.Join(domain.ServiceClientNames(), ", "))
		}
		if seen[c.Name] {
			return fmt.Errorf("service client %q is configured twice", c.Name)
		}
		seen[c.Name] = true
		if len(c.Secret) < MinPlatformSecretLength {
			return fmt.Errorf("the secret of service client %q is shorter than %d characters: generate one with `openssl rand -base64 32`", c.Name, MinPlatformSecretLength)
		}
	}
	return nil
}

// EnsurePlatformClients stores the configured platform clients: client id =
// name, role service:<name> (or operator), no tenant. A restart with a new
// secret replaces the old one.
func (c *Clients) EnsurePlatformClients(ctx context.Context, clients []PlatformClient) error {
	if err := ValidatePlatformClients(clients); err != nil {
		return err
	}
	for _, pc := range clients {
		role, _ := domain.ServiceRole(pc.Name)
		client := domain.Client{
			ID:        pc.Name,
			Name:      pc.Name,
			Role:      role,
			Resources: c.policy.ServiceClientResources(role),
		}
		if err := c.store.UpsertPlatformClient(ctx, client, c.keyring.HashSecret(pc.Secret)); err != nil {
			return fmt.Errorf("store service client %q: %w", pc.Name, err)
		}
		c.logger.InfoContext(ctx, "service client configured", "client_id", client.ID, "role", string(role))
	}
	return nil
}

// NewClientRequest are the fields of a tenant client to create.
type NewClientRequest struct {
	TenantID  string
	Name      string
	Role      domain.Role
	Resources []string
	// PublicKeyJWK and PublicKey give the client's Ed25519 public key for
	// private_key_jwt; both empty gives the client a secret instead.
	PublicKeyJWK string
	PublicKey    string
}

// CreateClient registers a tenant client and returns it with its secret,
// which is not stored and cannot be shown again. A client registered with
// a public key gets no secret: its stored hash is of a random value that is
// discarded, and authentication with a secret is rejected for it anyway.
func (c *Clients) CreateClient(ctx context.Context, req NewClientRequest) (domain.Client, string, error) {
	start := time.Now()
	client, err := domain.NewTenantClient(c.policy, req.TenantID, req.Name, req.Role, req.Resources)
	if err != nil {
		return domain.Client{}, "", invalidArgument(err)
	}
	client.PublicKey, err = domain.ParseClientPublicKey(req.PublicKeyJWK, req.PublicKey)
	if err != nil {
		return domain.Client{}, "", invalidArgument(err)
	}

	client.ID = newClientID()
	secret := NewClientSecret()
	client, err = c.store.CreateClient(ctx, client, c.keyring.HashSecret(secret))
	if err != nil {
		return domain.Client{}, "", fmt.Errorf("store client for tenant %s: %w", req.TenantID, err)
	}
	if client.PublicKey != nil {
		secret = ""
	}

	c.logger.InfoContext(ctx, "client created", "client_id", client.ID, "tenant_id", client.TenantID, "role", string(client.Role), "private_key_jwt", client.PublicKey != nil)
	err = c.auditChange(ctx, OperationCreateClient, client, start, map[string]any{
		"name": client.Name, "role": string(client.Role), "resources": client.Resources, "private_key_jwt": client.PublicKey != nil,
	})
	if err != nil {
		return domain.Client{}, "", err
	}
	return client, secret, nil
}

// ListClients returns a tenant's clients.
func (c *Clients) ListClients(ctx context.Context, tenantID string) ([]domain.Client, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, invalidArgument(err)
	}
	return c.store.ListClients(ctx, tenantID)
}

// newClientID returns "c-" and 128 random bits in lower-case base32, which
// never collides with a platform client's name.
func newClientID() string {
	encoding := base32.StdEncoding.WithPadding(base32.NoPadding)
	return "c-" + strings.ToLower(encoding.EncodeToString(randomBytes(16)))
}
