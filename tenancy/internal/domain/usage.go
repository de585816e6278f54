package domain

import "time"

// Usage is the count of a tenant's apps, hosts, pending app reservations
// and audit events at one moment.
type Usage struct {
	TenantID            string
	Apps                int
	Hosts               int
	PendingReservations int
	AuditEvents         int64
	// LastEventTime is the time of the newest audit event, zero when the
	// tenant has none.
	LastEventTime time.Time
}
