package domain

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
	"strings"
)

// Ids are a one-letter kind, a dash and 10 lower-case base32 characters
// (50 random bits), for example t-k3xq7a2mzd for a tenant and h-p4w2ndr6ta
// for a host. They are short enough to read aloud and to fit in an SSH
// principal.
const idRandomLength = 10

var (
	tenantIDPattern = regexp.MustCompile(`^t-[a-z2-7]{10}$`)
	hostIDPattern   = regexp.MustCompile(`^h-[a-z2-7]{10}$`)
	// reservationIDPattern matches app reservation ids.
	reservationIDPattern = regexp.MustCompile(`^r-[a-z2-7]{10}$`)
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) string {
	raw := make([]byte, 7) // 56 bits, of which the first 50 are used
	rand.Read(raw)
	return prefix + strings.ToLower(idEncoding.EncodeToString(raw)[:idRandomLength])
}

// NewTenantID returns a fresh random tenant id.
func NewTenantID() string { return newID("t-") }

// NewHostID returns a fresh random host id.
func NewHostID() string { return newID("h-") }

// NewReservationID returns a fresh random app reservation id.
func NewReservationID() string { return newID("r-") }

// IsHostID reports whether s has the form of a host id.
func IsHostID(s string) bool { return hostIDPattern.MatchString(s) }

// ValidateTenantID checks that id has the form of a tenant id.
func ValidateTenantID(id string) error {
	if id == "" {
		return invalid("tenant_id is missing: give the tenant's id, for example t-k3xq7a2mzd")
	}
	if !tenantIDPattern.MatchString(id) {
		return invalid("tenant_id %q is invalid: tenant ids are t- followed by 10 characters a-z or 2-7, for example t-k3xq7a2mzd", id)
	}
	return nil
}
