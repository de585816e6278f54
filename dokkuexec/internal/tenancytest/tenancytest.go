// Package tenancytest is an in-memory Tenancy for DokkuExec's tests: tenant
// limits, app slots counted against max_apps, and an audit log.
package tenancytest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"dokkumcp.dev/dokkuexec/internal/app"
)

// Tenancy implements app.Tenancy and app.AuditLog in memory. A tenant it has
// not been told about is active on the pro plan with no app limit.
type Tenancy struct {
	mu           sync.Mutex
	limits       map[string]app.TenantLimits
	maxApps      map[string]int
	apps         map[string]bool // tenant/host/app
	reservations map[string]string
	nextID       int
	events       []app.AuditEvent
}

// New returns an empty Tenancy.
func New() *Tenancy {
	return &Tenancy{
		limits:       map[string]app.TenantLimits{},
		maxApps:      map[string]int{},
		apps:         map[string]bool{},
		reservations: map[string]string{},
	}
}

// SetLimits sets the tenant's plan, status and read-only flag.
func (t *Tenancy) SetLimits(tenantID string, limits app.TenantLimits) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limits[tenantID] = limits
}

// SetMaxApps limits the tenant to max apps.
func (t *Tenancy) SetMaxApps(tenantID string, max int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxApps[tenantID] = max
}

// Apps returns the tenant's recorded apps as host/app, sorted.
func (t *Tenancy) Apps(tenantID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var apps []string
	for key := range t.apps {
		if rest, ok := strings.CutPrefix(key, tenantID+"/"); ok {
			apps = append(apps, rest)
		}
	}
	slices.Sort(apps)
	return apps
}

// Reservations returns how many reservations are pending.
func (t *Tenancy) Reservations() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.reservations)
}

// Events returns the audit events appended so far.
func (t *Tenancy) Events() []app.AuditEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.events)
}

// GetTenantLimits implements app.Tenancy.
func (t *Tenancy) GetTenantLimits(_ context.Context, tenantID string) (app.TenantLimits, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if limits, ok := t.limits[tenantID]; ok {
		return limits, nil
	}
	return app.TenantLimits{Plan: "pro", Status: "active"}, nil
}

// ReserveApp implements app.Tenancy.
func (t *Tenancy) ReserveApp(_ context.Context, tenantID, hostID, appName string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := tenantID + "/" + hostID + "/" + appName
	if t.apps[key] || slices.Contains(slices.Collect(maps.Values(t.reservations)), key) {
		return "", app.Errorf(app.KindAlreadyExists, "app %q already exists on host %s", appName, hostID)
	}
	if max, ok := t.maxApps[tenantID]; ok && t.countLocked(tenantID) >= max {
		return "", app.Errorf(app.KindResourceExhausted, "tenant %s on plan pro may have at most %d apps; destroy an app or change plan", tenantID, max)
	}
	t.nextID++
	id := "r-" + strconv.Itoa(t.nextID)
	t.reservations[id] = key
	return id, nil
}

// CommitAppReservation implements app.Tenancy.
func (t *Tenancy) CommitAppReservation(_ context.Context, _, reservationID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	key, ok := t.reservations[reservationID]
	if !ok {
		return app.Errorf(app.KindNotFound, "reservation %s not found", reservationID)
	}
	delete(t.reservations, reservationID)
	t.apps[key] = true
	return nil
}

// ReleaseAppReservation implements app.Tenancy.
func (t *Tenancy) ReleaseAppReservation(_ context.Context, _, reservationID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.reservations[reservationID]; !ok {
		return app.Errorf(app.KindNotFound, "reservation %s not found", reservationID)
	}
	delete(t.reservations, reservationID)
	return nil
}

// RecordAppRemoved implements app.Tenancy.
func (t *Tenancy) RecordAppRemoved(_ context.Context, tenantID, hostID, appName string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.apps, tenantID+"/"+hostID+"/"+appName)
	return nil
}

// AppendAuditEvent implements app.AuditLog.
func (t *Tenancy) AppendAuditEvent(_ context.Context, event app.AuditEvent) error {
	if event.TenantID == "" || event.Operation == "" || event.Result == "" {
		return fmt.Errorf("audit event lacks tenant, operation or result: %+v", event)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, event)
	return nil
}

func (t *Tenancy) countLocked(tenantID string) int {
	n := 0
	for key := range t.apps {
		if _, ok := strings.CutPrefix(key, tenantID+"/"); ok {
			n++
		}
	}
	for _, key := range t.reservations {
		if _, ok := strings.CutPrefix(key, tenantID+"/"); ok {
			n++
		}
	}
	return n
}
