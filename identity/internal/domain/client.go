package domain

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Client is an OAuth 2.0 client that authenticates with a client secret or,
// when PublicKey is set, with private_key_jwt (RFC 7523) only.
type Client struct {
	ID string
	// TenantID is empty for platform clients (service identities and the
	// operator).
	TenantID string
	Name     string
	Role     Role
	// Resources are the audiences a tenant client may request tokens for,
	// or, for a client that exchanges tokens, the audiences of the subject
	// tokens it accepts.
	Resources  []string
	Disabled   bool
	CreateTime time.Time
	// PublicKey verifies the client's assertions; nil for a client that
	// authenticates with a secret.
	PublicKey ed25519.PublicKey
}

// Limits on the free-text fields of a client.
const (
	MaxTenantIDLength   = 128
	MaxClientNameLength = 200
)

// NewTenantClient checks the fields of a tenant client to be created and
// returns it without an id.
func NewTenantClient(policy *Policy, tenantID, name string, role Role, resources []string) (Client, error) {
	if err := validateTenantID(tenantID); err != nil {
		return Client{}, err
	}
	if err := validateClientName(name); err != nil {
		return Client{}, err
	}
	if !role.IsTenantRole() {
		return Client{}, fmt.Errorf("invalid role %q: use one of viewer, deployer, maintainer, owner", role)
	}
	resources, err := policy.TenantClientResources(resources)
	if err != nil {
		return Client{}, err
	}
	return Client{TenantID: tenantID, Name: name, Role: role, Resources: resources}, nil
}

// ValidateTenantID checks a tenant id given in a request.
func ValidateTenantID(tenantID string) error {
	return validateTenantID(tenantID)
}

func validateTenantID(tenantID string) error {
	if tenantID == "" {
		return fmt.Errorf("missing tenant_id: name the tenant the client belongs to")
	}
	if len(tenantID) > MaxTenantIDLength || strings.IndexFunc(tenantID, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) >= 0 {
		return fmt.Errorf("invalid tenant_id %q: use up to %d printable characters without spaces", tenantID, MaxTenantIDLength)
	}
	return nil
}

func validateClientName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("missing name: give the client a name that identifies who uses it, for example \"ci-deploy\"")
	}
	if utf8.RuneCountInString(name) > MaxClientNameLength || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("invalid client name %q: use up to %d printable characters", name, MaxClientNameLength)
	}
	return nil
}
