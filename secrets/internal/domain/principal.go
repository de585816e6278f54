package domain

import (
	"regexp"
)

// Tenancy issues tenant ids as t- and host ids as h-, each followed by 10
// characters a-z or 2-7. Secrets accepts only that form, because the ids
// end up in SSH principals, certificate key ids and a root shell command.
var (
	tenantIDPattern = regexp.MustCompile(`^t-[a-z2-7]{10}$`)
	hostIDPattern   = regexp.MustCompile(`^h-[a-z2-7]{10}$`)
)

// Target is the tenant host a credential or a trust line is for.
type Target struct {
	TenantID string
	HostID   string
}

// NewTarget validates both ids.
func NewTarget(tenantID, hostID string) (Target, error) {
	if tenantID == "" {
		return Target{}, invalid("tenant_id is missing: give the tenant's id, for example t-k3xq7a2mzd")
	}
	if !tenantIDPattern.MatchString(tenantID) {
		return Target{}, invalid("tenant_id %q is invalid: tenant ids are t- followed by 10 characters a-z or 2-7, for example t-k3xq7a2mzd", tenantID)
	}
	if hostID == "" {
		return Target{}, invalid("host_id is missing: give the host's id from Tenancy's GetHost, for example h-p4w2ndr6ta")
	}
	if !hostIDPattern.MatchString(hostID) {
		return Target{}, invalid("host_id %q is invalid: host ids are h- followed by 10 characters a-z or 2-7, for example h-p4w2ndr6ta; resolve a host name with Tenancy's GetHost", hostID)
	}
	return Target{TenantID: tenantID, HostID: hostID}, nil
}

// Principal returns the SSH principal t-<tenant>-h-<host> that certificates
// for this host carry and that the host's trust line requires. Since the
// ids already start with t- and h-, it is the two ids joined by a dash,
// for example t-k3xq7a2mzd-h-p4w2ndr6ta.
func (t Target) Principal() string {
	return t.TenantID + "-" + t.HostID
}

// KeyID returns the certificate key id, which sshd logs on every login, so
// that a login can be traced to the request that issued the certificate.
func (t Target) KeyID(requestID string) string {
	return "tenant=" + t.TenantID + " host=" + t.HostID + " request=" + requestID
}
