package domain

import (
	"regexp"
	"time"
)

// ReservationTTL is how long a pending app reservation counts against
// max_apps: long enough for DokkuExec to create an app, short enough that
// a crashed DokkuExec frees the slot soon.
const ReservationTTL = 5 * time.Minute

// AppReservation holds one app slot of a tenant while DokkuExec creates the
// app.
type AppReservation struct {
	ID         string
	TenantID   string
	HostID     string
	App        string
	CreateTime time.Time
	ExpireTime time.Time
}

// appNamePattern is the set of app names Dokku accepts, the same rule
// DokkuExec enforces: lower-case letters, digits, dots, dashes and (for apps
// of older Dokku releases) underscores, starting with a letter or digit, at
// most 255 characters because the name is a directory on the host.
var appNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,254}$`)

// NewAppReservation validates the request values and returns a reservation
// with a fresh id that expires ReservationTTL after now.
func NewAppReservation(tenantID, hostID, app string, now time.Time) (*AppReservation, error) {
	if err := ValidateAppRef(tenantID, hostID, app); err != nil {
		return nil, err
	}
	return &AppReservation{
		ID:         NewReservationID(),
		TenantID:   tenantID,
		HostID:     hostID,
		App:        app,
		CreateTime: now.UTC(),
		ExpireTime: now.UTC().Add(ReservationTTL),
	}, nil
}

// ValidateAppRef checks the tenant id, host id and app name that name an
// app.
func ValidateAppRef(tenantID, hostID, app string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if !IsHostID(hostID) {
		return invalid("host_id %q is invalid: give the host's id, h- followed by 10 characters, as GetHost returns it", hostID)
	}
	if !appNamePattern.MatchString(app) {
		return invalid("app %q is invalid: use 1 to 255 characters a-z, 0-9, '.', '-' and '_', starting with a letter or digit", app)
	}
	return nil
}

// ValidateReservationID checks that id has the form ReserveApp returns.
func ValidateReservationID(id string) error {
	if !reservationIDPattern.MatchString(id) {
		return invalid("reservation_id %q is invalid: give the id ReserveApp returned, r- followed by 10 characters", id)
	}
	return nil
}
