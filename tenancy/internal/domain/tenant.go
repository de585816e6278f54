package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Plan is a tenant's subscription plan. Its string form is what the
// database stores.
type Plan string

const (
	PlanFree       Plan = "free"
	PlanPro        Plan = "pro"
	PlanEnterprise Plan = "enterprise"
)

// TenantStatus is a tenant's lifecycle state. Its string form is what the
// database stores.
type TenantStatus string

const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantDeleted   TenantStatus = "deleted"
)

// Tenant is a customer of the platform that owns Dokku hosts.
type Tenant struct {
	ID          string
	Slug        string
	DisplayName string
	Plan        Plan
	Status      TenantStatus
	CreateTime  time.Time
}

var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

// maxDisplayNameLength bounds display names in characters.
const maxDisplayNameLength = 200

// NewTenant validates the request values and returns an active tenant with
// a fresh id. An empty display name becomes the slug; an empty plan becomes
// free, the plan with the fewest rights.
func NewTenant(slug, displayName string, plan Plan, now time.Time) (*Tenant, error) {
	if !slugPattern.MatchString(slug) {
		return nil, invalid("slug %q is invalid: use 3 to 40 characters a-z, 0-9 and -, starting with a letter and ending with a letter or digit", slug)
	}

	displayName = strings.TrimSpace(displayName)
	if displayName == "" {
		displayName = slug
	}
	if err := validateDisplayName(displayName); err != nil {
		return nil, err
	}

	if plan == "" {
		plan = PlanFree
	}
	switch plan {
	case PlanFree, PlanPro, PlanEnterprise:
	default:
		return nil, invalid("plan %q is invalid: use free, pro or enterprise", plan)
	}

	return &Tenant{
		ID:          NewTenantID(),
		Slug:        slug,
		DisplayName: displayName,
		Plan:        plan,
		Status:      TenantActive,
		CreateTime:  now.UTC(),
	}, nil
}

func validateDisplayName(name string) error {
	if !utf8.ValidString(name) {
		return invalid("display_name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > maxDisplayNameLength {
		return invalid("display_name is longer than %d characters: shorten it", maxDisplayNameLength)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return invalid("display_name %q contains control characters: remove them", name)
	}
	return nil
}

// RequireStatusChangeable checks that a tenant may be suspended or
// resumed: active and suspended tenants may, deleted tenants stay deleted.
func (t *Tenant) RequireStatusChangeable() error {
	if t.Status == TenantDeleted {
		return FailedPrecondition("tenant %s is deleted: its status can no longer change", t.ID)
	}
	return nil
}
